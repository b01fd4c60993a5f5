"""The FP16 and INT8 Q/DQ graphs the TensorRT builder parses, run in ONNX Runtime (CPU) against the FP32 graph.

Floors: the tiny bundle is untrained (classes nearly tied everywhere), so its labels flip more easily than a trained
model's: FP16 >= 99 % and INT8 >= 90 % of pixels agree there; the trained demo model in FP16 >= 99.5 %.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from night_seg_ros.export import sample_images
from night_seg_ros.tensorrt.precision import FP32_OPS, FrameReader, fold_initializer_aliases, to_int8_qdq, write_fp16
from night_seg_ros.tensorrt.verify import compare, onnx_runner

ROOT = Path(__file__).resolve().parents[2]
DEMO_ONNX = ROOT / 'models' / 'synthetic_demo_b0' / 'model.onnx'


def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every named tensor of `model` (after shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    types = {info.name: info.type.tensor_type.elem_type for info in infos}
    types.update({init.name: init.data_type for init in inferred.graph.initializer})
    return types


@pytest.fixture(scope='module')
def frames() -> list[np.ndarray]:
    return list(sample_images(6, 64, 128, seed=7))


def test_fp16_graph_keeps_io_types_and_layernorm_softmax_in_fp32(tiny_bundle: Path, tmp_path: Path,
                                                                   frames: list[np.ndarray]) -> None:
    path = write_fp16(tiny_bundle / 'model.onnx', tmp_path / 'fp16.onnx')
    model = onnx.load(str(path))
    types = tensor_types(model)
    assert [types[i.name] for i in model.graph.input] == [TensorProto.UINT8]
    assert [types[o.name] for o in model.graph.output] == [TensorProto.UINT8, TensorProto.FLOAT]
    kept = [node for node in model.graph.node if node.op_type in FP32_OPS]
    assert {node.op_type for node in kept} == set(FP32_OPS)
    assert all(types[node.input[0]] == TensorProto.FLOAT for node in kept)
    assert sum(node.op_type == 'MatMul' and types[node.input[0]] == TensorProto.FLOAT16 for node in model.graph.node)
    report = compare(onnx_runner(tiny_bundle / 'model.onnx', 1), onnx_runner(path, 1), frames, 0.99)
    print(f'fp16 ONNX vs fp32 ONNX (tiny untrained bundle): {report}')
    assert report.passed, report


def test_int8_graph_is_symmetric_qdq_calibrated_on_frames(tiny_bundle: Path, tmp_path: Path,
                                                          frames: list[np.ndarray]) -> None:
    used = to_int8_qdq(tiny_bundle / 'model.onnx', sample_images(4, 64, 128, seed=1), tmp_path / 'int8.onnx')
    assert used == 4
    model = onnx.load(str(tmp_path / 'int8.onnx'))
    initializers = {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}
    quantize = [node for node in model.graph.node if node.op_type == 'QuantizeLinear']
    assert len(quantize) > 20 and any(node.op_type == 'DequantizeLinear' for node in model.graph.node)
    for node in quantize:  # TensorRT takes INT8 with zero point 0 only
        zero_point = initializers[node.input[2]]
        assert zero_point.dtype == np.int8 and not zero_point.any()
    report = compare(onnx_runner(tiny_bundle / 'model.onnx', 1), onnx_runner(tmp_path / 'int8.onnx', 1), frames, 0.90)
    print(f'int8 Q/DQ ONNX vs fp32 ONNX (tiny untrained bundle): {report}')
    assert report.passed, report


def test_int8_without_frames_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='int8 calibration got no frames'):
        to_int8_qdq(tiny_bundle / 'model.onnx', [], tmp_path / 'int8.onnx')
    assert not (tmp_path / 'int8.onnx').exists()


def test_frame_reader_feeds_one_batch_per_frame(frames: list[np.ndarray]) -> None:
    reader = FrameReader(frames[:2])
    batches = [reader.get_next(), reader.get_next(), reader.get_next()]
    assert batches[2] is None and reader.count == 2
    assert batches[0]['image'].shape == (1, 64, 128, 3) and batches[0]['image'].dtype == np.uint8
    assert np.array_equal(batches[1]['image'][0], frames[1])


def test_half_stored_weights_are_folded_to_fp32_without_changing_outputs(tmp_path: Path) -> None:
    model = onnx.load(str(DEMO_ONNX))
    assert any(init.data_type == TensorProto.FLOAT16 for init in model.graph.initializer)
    fold_initializer_aliases(model)
    assert not any(init.data_type == TensorProto.FLOAT16 for init in model.graph.initializer)
    assert not any(node.op_type == 'Identity' for node in model.graph.node)
    onnx.save(model, str(tmp_path / 'fp32.onnx'))
    image = sample_images(1, 384, 768)
    report = compare(onnx_runner(DEMO_ONNX, 2), onnx_runner(tmp_path / 'fp32.onnx', 2), image, 1.0)
    assert report.label_agreement == 1.0 and report.max_confidence_error < 1e-5


def test_demo_model_fp16_agrees_with_fp32_on_synthetic_night_frames(tmp_path: Path) -> None:
    synth = pytest.importorskip('night_seg_training.synthetic', reason='the synthetic generator draws the frames')
    night = [synth.render_pair(3, 'val', index, 384, 768).night_image for index in range(2)]
    path = write_fp16(DEMO_ONNX, tmp_path / 'fp16.onnx')
    report = compare(onnx_runner(DEMO_ONNX, 2), onnx_runner(path, 2), night, 0.995)
    print(f'fp16 ONNX vs fp32 ONNX (demo model, synthetic night): {report}')
    assert report.passed, report
