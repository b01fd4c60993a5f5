"""Precision-converted ONNX graphs for the TensorRT builder: FP16, and INT8 with explicit Q/DQ nodes.

TensorRT 11 builds strongly typed networks only: the arithmetic precision comes from the tensor types of the ONNX, not
from builder flags. So the converter makes the graph of the wanted precision first and TensorRT takes it as it is:

- fp16: every float tensor FP16 except LayerNormalization and Softmax (and what feeds only them), which stay FP32
  (FP16 overflows in their reductions); the graph's inputs and outputs keep their types (uint8 image in; uint8 labels
  and float32 confidence out).
- int8: symmetric INT8 QuantizeLinear/DequantizeLinear pairs (zero point 0, the only kind TensorRT takes) around the
  inputs and weights of Conv and MatMul, activation scales calibrated on real frames; per-channel weight scales.
  Everything else stays FP32.

Both graphs run in ONNX Runtime too, which is how they are checked on machines without a GPU.
Needs onnx, onnxruntime and onnxconverter-common (setup.py extra `tensorrt`); no torch.
"""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from night_seg_ros.bundle import INPUT_NAME
from night_seg_ros.files import atomic_write_bytes

FP32_OPS = ('LayerNormalization', 'Softmax')
"""Ops kept in FP32 in the FP16 graph: their reductions overflow FP16."""

INT8_OPS = ('Conv', 'MatMul')
"""Ops whose inputs and weights get INT8 Q/DQ nodes."""


def fold_initializer_aliases(model: Any) -> None:
    """Replace each node that only renames or widens an initializer by a float32 initializer of its output (in place).

    Two such nodes occur in exported graphs: Cast(float16 initializer -> FLOAT), written by
    `export.store_initializers_half`, and Identity(initializer), which the exporter uses for tied weights. The
    converters below need plain FP32 initializers: the FP16 converter mistypes such nodes, the INT8 quantizer would
    treat their outputs as activations.
    """
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}

    def is_alias(node: Any) -> bool:
        if len(node.input) != 1 or node.input[0] not in initializers:
            return False
        if node.op_type == 'Identity':
            return True
        source = initializers[node.input[0]].data_type
        return node.op_type == 'Cast' and source in (TensorProto.FLOAT16, TensorProto.FLOAT) and any(
            attr.name == 'to' and attr.i == TensorProto.FLOAT for attr in node.attribute)

    aliases = [node for node in graph.node if is_alias(node)]
    if not aliases:
        return
    for node in aliases:
        values = numpy_helper.to_array(initializers[node.input[0]])
        if values.dtype == np.float16:
            values = values.astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
    alias_ids = {id(node) for node in aliases}
    kept_nodes = [node for node in graph.node if id(node) not in alias_ids]
    still_used = {name for node in kept_nodes for name in node.input} | {out.name for out in graph.output}
    dropped = {node.input[0] for node in aliases} - still_used
    kept_initializers = [init for init in graph.initializer if init.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept_initializers)
    del graph.node[:]
    graph.node.extend(kept_nodes)


def load_fp32(onnx_path: Path) -> Any:
    """The ONNX model at `onnx_path` with plain FP32 initializers (see `fold_initializer_aliases`)."""
    import onnx

    model = onnx.load(str(onnx_path))
    fold_initializer_aliases(model)
    return model


def to_fp16(onnx_path: Path) -> Any:
    """FP16 version of the FP32 graph at `onnx_path`; FP32_OPS stay FP32, graph inputs and outputs keep their types."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # tiny weights clamped to FP16's range are expected, one warning each
        warnings.filterwarnings('ignore', message='the float32 number .* will be truncated')
        model = float16.convert_float_to_float16(load_fp32(onnx_path), keep_io_types=True,
                                                 op_block_list=list(FP32_OPS) + float16.DEFAULT_OP_BLOCK_LIST)
    _retarget_casts(model)
    return model


def _retarget_casts(model: Any) -> None:
    """Make each Cast to FLOAT whose output the converter typed FLOAT16 cast to FLOAT16 (in place).

    onnxconverter-common retypes the output of a Cast from a non-float input (here: the uint8 image) without changing
    its `to` attribute, which ONNX Runtime and TensorRT refuse as a type mismatch.
    """
    from onnx import TensorProto

    graph = model.graph
    types = {info.name: info.type.tensor_type.elem_type for info in graph.value_info}
    for node in graph.node:
        if node.op_type == 'Cast' and types.get(node.output[0]) == TensorProto.FLOAT16:
            for attr in node.attribute:
                if attr.name == 'to' and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16


class FrameReader(CalibrationDataReader):
    """CalibrationDataReader over uint8 (H, W, 3) RGB frames (one batch of 1 per frame)."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        """Read `frames` once; `count` says how many were handed out."""
        self._frames: Iterator[np.ndarray] = iter(frames)
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next frame as the graph's input, {'image': uint8 (1, H, W, 3)}, or None after the last."""
        frame = next(self._frames, None)
        if frame is None:
            return None
        self.count += 1
        return {INPUT_NAME: np.ascontiguousarray(frame, dtype=np.uint8)[None]}  # (1, H, W, 3)


def to_int8_qdq(onnx_path: Path, frames: Iterable[np.ndarray], out_path: Path) -> int:
    """Write to `out_path` an INT8 Q/DQ version of the graph at `onnx_path`, calibrated on `frames`.

    frames: uint8 (H, W, 3) RGB images at the model's input size (night frames of the target camera are best).
    Activation scales come from the 99.999th percentile of each tensor's magnitude; weights are per output channel.
    Returns the number of frames used; raises ValueError when there is none.
    """
    import tempfile

    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError('int8 calibration got no frames; give a folder of images or a bag with image topics')
    reader = FrameReader(itertools.chain([first], frames))
    with tempfile.TemporaryDirectory(prefix='night_seg_int8_') as work:
        fp32_path = Path(work) / 'fp32.onnx'
        onnx.save(load_fp32(onnx_path), str(fp32_path))
        quantized = Path(work) / 'int8.onnx'
        quantize_static(str(fp32_path), str(quantized), reader, quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(INT8_OPS), per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile,
                        extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True,
                                       'CalibPercentile': 99.999})
        atomic_write_bytes(out_path, quantized.read_bytes())
    return reader.count


def write_fp16(onnx_path: Path, out_path: Path) -> Path:
    """Write the FP16 graph of `onnx_path` (see `to_fp16`) to `out_path`; return `out_path`."""
    atomic_write_bytes(out_path, to_fp16(onnx_path).SerializeToString())
    return out_path
