"""The inference graph's cheap post-processing and folded decode head give the outputs of the plain computation.

The plain computation (the graph as it was exported before its post-processing was made cheap) is written out here as
the oracle: the transformers decode head (concatenation + 1x1 convolution at H/4 x W/4), the logits upsampled in NCHW, a
softmax over axis 1, max and argmax. The exported graph in ONNX Runtime and the torch path must give its labels on >=
99.99 % of pixels and its confidence within 1e-5: on the committed demo bundle (synthetic night frames; this also fails
when that bundle's model.onnx was not re-exported) and on untrained bundles.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn.functional as F

from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES, read_bundle
from night_seg_ros.export import export_onnx, sample_images
from night_seg_ros.model import SegmentationModel, create_untrained_bundle, load_model
from night_seg_ros.paths import DEMO_MODEL, share_file
from night_seg_training.synthetic import render_pair

MIN_AGREEMENT = 0.9999
MAX_CONFIDENCE_DIFF = 1e-5


def plain_outputs(model: SegmentationModel, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (H, W, 3) -> labels uint8 (H, W), confidence float32 (H, W) by the plain computation (see above)."""
    with torch.inference_mode():
        normalized = model.normalize(torch.from_numpy(image[None]))  # (1, 3, H, W)
        coarse = model.network(pixel_values=normalized).logits  # (1, C, H/4, W/4)
        fine = F.interpolate(coarse, size=image.shape[:2], mode='bilinear', align_corners=False)  # (1, C, H, W)
        confidence, labels = torch.softmax(fine, dim=1).max(dim=1)
    return labels[0].to(torch.uint8).numpy(), confidence[0].numpy()


def assert_matches_plain(bundle_path: Path, images: np.ndarray) -> None:
    """ONNX Runtime on the bundle's model.onnx and the torch path agree with `plain_outputs` on every image."""
    bundle = read_bundle(bundle_path)
    model = load_model(bundle)
    session = onnxruntime.InferenceSession(str(bundle.require_onnx()), providers=['CPUExecutionProvider'])
    for image in images:
        labels, confidence = plain_outputs(model, image)
        with torch.inference_mode():
            torch_labels, torch_confidence = (t[0].numpy() for t in model(torch.from_numpy(image[None])))
        onnx_labels, onnx_confidence = (t[0] for t in session.run(list(OUTPUT_NAMES), {INPUT_NAME: image[None]}))
        for name, got_labels, got_confidence in (('onnx', onnx_labels, onnx_confidence),
                                                  ('torch', torch_labels, torch_confidence)):
            assert got_labels.dtype == np.uint8 and got_confidence.dtype == np.float32
            agreement = float((got_labels == labels).mean())
            assert agreement >= MIN_AGREEMENT, f'{name}: labels agree on {agreement:.4%}'
            difference = float(np.abs(got_confidence - confidence).max())
            assert difference <= MAX_CONFIDENCE_DIFF, f'{name}: confidence differs by {difference:.2e}'


def test_committed_demo_bundle_matches_the_plain_computation_on_night_frames() -> None:
    bundle = read_bundle(share_file(DEMO_MODEL))
    frames = np.stack([render_pair(2, 'val', index, bundle.input.height, bundle.input.width).night_image
                       for index in range(2)])
    assert_matches_plain(bundle.path, frames)


@pytest.mark.parametrize('height, width', [(64, 128), (96, 160)])
def test_untrained_bundle_matches_the_plain_computation(tmp_path: Path, height: int, width: int) -> None:
    # 96 x 160 is not a multiple of 32: the coarse stages are rounded up, their upsampling is not an integer factor
    bundle = create_untrained_bundle(tmp_path / 'bundle', height=height, width=width, seed=3)
    export_onnx(bundle)
    assert_matches_plain(bundle.path, sample_images(3, height, width, seed=4))


def test_graph_reduces_only_over_the_last_axis_and_has_no_wide_concatenation(tiny_bundle: Path) -> None:
    model = onnx.shape_inference.infer_shapes(onnx.load(str(tiny_bundle / 'model.onnx')))
    ranks = {info.name: len(info.type.tensor_type.shape.dim)
             for info in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    reductions = [node for node in model.graph.node if node.op_type in ('Softmax', 'ArgMax', 'ReduceMax')]
    assert {node.op_type for node in reductions} == {'Softmax', 'ArgMax', 'ReduceMax'}
    for node in reductions:
        axes = [value for attribute in node.attribute if attribute.name in ('axis', 'axes')
                for value in (attribute.ints or [attribute.i])]
        rank = ranks[node.input[0]]
        assert all(axis in (-1, rank - 1) for axis in axes), f'{node.op_type} {node.name} reduces axes {axes}'
    decoder_width = read_bundle(tiny_bundle).arch['config']['decoder_hidden_size']
    channels = [dim.dim_value for info in model.graph.value_info for node in model.graph.node
                if node.op_type == 'Concat' and info.name == node.output[0]
                for dim in info.type.tensor_type.shape.dim[1:2]]
    assert all(count < 4 * decoder_width for count in channels), channels
