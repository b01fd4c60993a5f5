"""torch -> ONNX export of a bundle's network, with a parity check of ONNX Runtime against torch.

The graph keeps the bundle's ONNX contract (`bundle.INPUT_NAME`, `bundle.OUTPUT_NAMES`): one input `image` (uint8,
1 x H x W x 3, RGB, the bundle's input size) and two outputs `labels` (uint8, 1 x H x W) and `confidence` (float32,
1 x H x W): normalisation, layout change, upsampling and argmax are in the graph. Opset >= 17 keeps LayerNormalization
one op (FP16 overflows when it is decomposed).

`export_at_input_size` writes a new bundle whose graph takes another input size (a camera's aspect, say): SegFormer
has no position embeddings, so the same weights run at any size whose sides are multiples of 32.
"""
from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from night_seg_ros.bundle import (
    INPUT_NAME,
    OUTPUT_NAMES,
    WEIGHTS_FILE,
    Bundle,
    bundle_metadata,
    check_safetensors,
    read_bundle,
    write_metadata,
)
from night_seg_ros.errors import NightSegError
from night_seg_ros.files import atomic_output, atomic_write_bytes

MIN_OPSET = 17
MIN_LABEL_AGREEMENT = 0.999
INPUT_STRIDE = 32
"""SegFormer's coarsest stage is 1/32 of the input: each side of an input size is a multiple of this."""
MAX_INPUT_SIDE = 4096
MAX_INPUT_PIXELS = 3840 * 2176
"""4K UHD with its height a multiple of 32: beyond it a graph is no camera's network input."""


class ExportError(NightSegError, ValueError):
    """A bundle cannot be exported as asked (an opset too old, say); the message names what is allowed."""


@dataclass(frozen=True)
class ParityReport:
    """ONNX Runtime vs torch on the same images: fraction of equal labels, largest confidence difference."""

    images: int
    label_agreement: float
    max_confidence_diff: float

    @property
    def passed(self) -> bool:
        """Whether label agreement reaches MIN_LABEL_AGREEMENT."""
        return self.label_agreement >= MIN_LABEL_AGREEMENT

    def __str__(self) -> str:
        """One line for the console."""
        verdict = 'ok' if self.passed else f'FAILED (need >= {MIN_LABEL_AGREEMENT:.1%})'
        return (f'parity on {self.images} images: label agreement {self.label_agreement:.4%}, '
                f'max confidence difference {self.max_confidence_diff:.2e} -> {verdict}')


def sample_images(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random RGB images, uint8 (count, height, width, 3): coarse noise upsampled, plus fine noise.

    Closer to camera statistics than white noise (large regions, edges), so the network's argmax is exercised the way
    real frames exercise it.
    """
    import cv2

    rng = np.random.default_rng(seed)
    images = np.empty((count, height, width, 3), np.uint8)
    for index in range(count):
        coarse = rng.uniform(0, 255, (max(2, height // 32), max(2, width // 32), 3)).astype(np.float32)
        smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        images[index] = np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)
    return images


def export_onnx(bundle: Bundle, opset: int = MIN_OPSET) -> Path:
    """Export the bundle's network to `bundle/model.onnx` (written atomically) and check it with onnx.checker.

    A bundle whose weights are stored in float16 gets float16 initializers too (see `store_initializers_half`).
    """
    import io

    import onnx
    import torch

    from night_seg_ros.model import load_model

    if opset < MIN_OPSET:
        raise ExportError(f'opset {opset} is too old; allowed: >= {MIN_OPSET} (LayerNormalization)')
    model = load_model(bundle)
    example = torch.zeros((1, bundle.input.height, bundle.input.width, 3), dtype=torch.uint8)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter('ignore', category=torch.jit.TracerWarning)
        warnings.simplefilter('ignore', category=DeprecationWarning)
        torch.onnx.export(model, (example,), buffer, input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    graph = onnx.load_from_string(buffer.getvalue())
    if any(isinstance(entry, dict) and entry.get('dtype') == 'F16'
           for entry in check_safetensors(bundle.weights_path).values()):
        store_initializers_half(graph)
    graph.doc_string = f'night_seg_ros bundle {bundle.path.name}: uint8 NHWC RGB -> labels, confidence'
    onnx.checker.check_model(graph, full_check=True)
    atomic_write_bytes(bundle.onnx_path, graph.SerializeToString())
    return bundle.onnx_path


def store_initializers_half(model: Any, min_elements: int = 16) -> None:
    """Store the float32 initializers of an ONNX model (in place) as float16, each widened by a Cast at run time.

    Only initializers that float16 holds exactly are stored so (the weights read from a float16 bundle); those
    computed from them at export (the folded decode head, `model.folded_decode`) stay float32. So the graph
    computes what the bundle's weights say, and the file is about half the size. Runtimes fold the Casts into
    constants when they load the model. Small initializers (fewer than `min_elements`, e.g. shapes and scalars)
    stay float32.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts = []
    for index, initializer in enumerate(graph.initializer):
        if initializer.data_type != TensorProto.FLOAT or np.prod(initializer.dims) < min_elements:
            continue
        name = initializer.name
        exact = numpy_helper.to_array(initializer)
        values = exact.astype(np.float16)
        if not np.array_equal(values.astype(np.float32), exact):
            continue
        graph.initializer[index].CopyFrom(numpy_helper.from_array(values, f'{name}__float16'))
        casts.append(helper.make_node('Cast', [f'{name}__float16'], [name], to=TensorProto.FLOAT,
                                      name=f'{name}__widen'))
    nodes = casts + list(graph.node)  # the Casts first keeps the node list topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)


def check_parity(bundle: Bundle, images: np.ndarray) -> ParityReport:
    """Run torch and ONNX Runtime (CPU) on `images` (uint8 N x H x W x 3 RGB) and compare their outputs."""
    import onnxruntime
    import torch

    from night_seg_ros.model import load_model

    model = load_model(bundle)
    session = onnxruntime.InferenceSession(str(bundle.require_onnx()), providers=['CPUExecutionProvider'])
    equal = total = 0
    max_diff = 0.0
    for image in images:
        batch = image[None]  # (1, H, W, 3)
        with torch.inference_mode():
            torch_labels, torch_conf = (t.numpy() for t in model(torch.from_numpy(batch)))
        onnx_labels, onnx_conf = session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
        equal += int((torch_labels == onnx_labels).sum())
        total += torch_labels.size
        max_diff = max(max_diff, float(np.abs(torch_conf - onnx_conf).max()))
    return ParityReport(images=len(images), label_agreement=equal / total, max_confidence_diff=max_diff)


def export_and_check(bundle: Bundle, samples: int = 4, opset: int = MIN_OPSET, seed: int = 0) -> ParityReport:
    """Export the bundle to ONNX, then check parity with torch on `samples` smooth random images."""
    if samples < 1:
        raise ValueError(f'samples must be >= 1; got {samples}')
    export_onnx(bundle, opset)
    return check_parity(bundle, sample_images(samples, bundle.input.height, bundle.input.width, seed))


def _in_range(height: int, width: int) -> bool:
    return (min(height, width) >= INPUT_STRIDE and max(height, width) <= MAX_INPUT_SIDE
            and height * width <= MAX_INPUT_PIXELS)


def check_input_size(height: int, width: int) -> None:
    """Raise ExportError unless SegFormer takes `height` x `width`: sides multiples of INPUT_STRIDE, within bounds.

    A size off the stride is refused with the nearest allowed sizes below and above it.
    """
    if not _in_range(height, width):
        raise ExportError(f'input size {width}x{height} is out of range; allowed: each side {INPUT_STRIDE}-'
                          f'{MAX_INPUT_SIDE} pixels and at most {MAX_INPUT_PIXELS / 1e6:.1f} megapixels (3840x2176)')
    if height % INPUT_STRIDE or width % INPUT_STRIDE:
        below = (height // INPUT_STRIDE * INPUT_STRIDE, width // INPUT_STRIDE * INPUT_STRIDE)
        above = (-(-height // INPUT_STRIDE) * INPUT_STRIDE, -(-width // INPUT_STRIDE) * INPUT_STRIDE)
        nearby = ' or '.join(f'{w}x{h}' for h, w in (below, above) if _in_range(h, w))
        raise ExportError(f'input size {width}x{height} is not allowed: SegFormer needs a width and height that are '
                          f'multiples of {INPUT_STRIDE}; try {nearby}')


def export_at_input_size(bundle: Bundle, out: str | os.PathLike, height: int, width: int, samples: int = 4,
                         opset: int = MIN_OPSET, seed: int = 0, force: bool = False) -> tuple[Bundle, ParityReport]:
    """Write a new bundle `out`: `bundle`'s weights, its model.json with input `height` x `width`, and model.onnx
    exported at that size and checked against torch; return the new bundle and its parity report.

    `bundle` stays as it is. `out` must not exist (with `force` an existing one is replaced); it appears complete or
    not at all (built aside, files.atomic_output, then renamed), and only when parity passes. Its provenance names
    the bundle and input size it came from. Engines are not copied: they are built for one input shape
    (`night-seg build-engine` builds the new one).
    """
    check_input_size(height, width)
    out = Path(out).expanduser()
    with atomic_output(out, force, 'bundle', inputs=[bundle.path]) as staged:  # staged: the bundle's final name,
        staged.mkdir()                                                         # which the graph's doc string records
        shutil.copyfile(bundle.weights_path, staged / WEIGHTS_FILE)
        provenance = {**bundle.provenance, 'input_resized_from': {
            'bundle': bundle.path.resolve().name, 'height': bundle.input.height, 'width': bundle.input.width}}
        write_metadata(staged, bundle_metadata(bundle.arch, bundle.classes, bundle.palette,
                                               replace(bundle.input, height=height, width=width),
                                               bundle.ignore_index, provenance))
        report = export_and_check(read_bundle(staged), samples, opset, seed)
        if not report.passed:
            raise ExportError(f'{out} not written: ONNX Runtime and torch disagree at {width}x{height}: {report}')
    return read_bundle(out), report
