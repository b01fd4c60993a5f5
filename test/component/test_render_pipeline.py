"""Tests for night_seg_ros.render and the SegmentationPipeline, with the real ONNX Runtime backend."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import pytest

from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from night_seg_ros.bundle import read_bundle
from night_seg_ros.classes import CITYSCAPES_PALETTE, IGNORE_INDEX
from night_seg_ros.export import sample_images
from night_seg_ros.pipeline import FrameOutputs, OutputRequest, SegmentationPipeline
from night_seg_ros.render import blend, colorize, palette_lut

MODEL_SIZE = (64, 128)
CAMERA_HEIGHT, CAMERA_WIDTH = 90, 160
PALETTE = [(10, 20, 30), (40, 50, 60), (70, 80, 90)]
UNKNOWN = (1, 2, 3)
OUTPUT_NAMES = tuple(field.name for field in fields(OutputRequest))


@pytest.fixture(scope='module')
def backend(tiny_bundle: Path) -> OnnxRuntimeBackend:
    """The ONNX Runtime backend on the shared tiny bundle (64x128 input)."""
    return OnnxRuntimeBackend(read_bundle(tiny_bundle), 'cpu')


@pytest.fixture(scope='module')
def camera() -> np.ndarray:
    """A smooth RGB camera frame, larger than the model input and of another aspect ratio."""
    return sample_images(1, CAMERA_HEIGHT, CAMERA_WIDTH, seed=7)[0]


def _model_outputs(backend: OnnxRuntimeBackend, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The backend's labels and confidence on `rgb` resized to the model size as the pipeline resizes it."""
    return backend.infer(cv2.resize(rgb, MODEL_SIZE[::-1], interpolation=cv2.INTER_LINEAR))


def _upsampled(array: np.ndarray, interpolation: int) -> np.ndarray:
    return cv2.resize(array, (CAMERA_WIDTH, CAMERA_HEIGHT), interpolation=interpolation)


def test_palette_lut_maps_ids_and_unknown() -> None:
    lut = palette_lut(PALETTE, UNKNOWN)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    np.testing.assert_array_equal(lut[:3], PALETTE)
    np.testing.assert_array_equal(lut[3:], np.broadcast_to(UNKNOWN, (253, 3)))
    assert tuple(lut[IGNORE_INDEX]) == UNKNOWN
    assert tuple(palette_lut(PALETTE)[IGNORE_INDEX]) == (0, 0, 0)


def test_palette_lut_refuses_more_colours_than_labels() -> None:
    with pytest.raises(ValueError, match='palette has 256 colours; at most 255'):
        palette_lut([(0, 0, 0)] * 256)


def test_colorize() -> None:
    labels = np.array([[0, 1, 2], [IGNORE_INDEX, 7, 1]], np.uint8)
    color = colorize(labels, palette_lut(PALETTE, UNKNOWN))
    assert color.shape == (2, 3, 3) and color.dtype == np.uint8
    np.testing.assert_array_equal(color, [[PALETTE[0], PALETTE[1], PALETTE[2]], [UNKNOWN, UNKNOWN, PALETTE[1]]])


@pytest.mark.parametrize('alpha', [0.0, 0.3, 0.5, 1.0])
def test_blend_mixes_camera_and_color(alpha: float) -> None:
    rng = np.random.default_rng(3)
    camera, color = rng.integers(0, 256, (2, 12, 16, 3), dtype=np.uint8)
    out = blend(camera, color, alpha)
    assert out.dtype == np.uint8 and out.shape == camera.shape
    expected = (1.0 - alpha) * camera + alpha * color
    assert np.abs(out - expected).max() <= 0.51
    assert not np.shares_memory(out, camera)


def test_blend_keeps_camera_where_labels_are_ignored() -> None:
    rng = np.random.default_rng(4)
    camera, color = rng.integers(0, 256, (2, 12, 16, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, (12, 16), dtype=np.uint8)
    labels[:, :5] = IGNORE_INDEX
    out = blend(camera, color, 0.75, labels)
    np.testing.assert_array_equal(out[:, :5], camera[:, :5])
    np.testing.assert_array_equal(out[:, 5:], blend(camera, color, 0.75)[:, 5:])
    assert np.any(out[:, 5:] != camera[:, 5:])


def test_blend_refuses_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r'camera \(4, 4, 3\) and color \(4, 5, 3\) must have the same shape'):
        blend(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), 0.5)


def test_pipeline_outputs_at_camera_size(backend: OnnxRuntimeBackend, camera: np.ndarray) -> None:
    alpha = 0.25
    pipeline = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE, overlay_alpha=alpha)
    out = pipeline.process(camera)
    model_labels, model_confidence = _model_outputs(backend, camera)
    assert len(np.unique(model_labels)) > 1

    assert out.labels.dtype == np.uint8 and out.labels.shape == (CAMERA_HEIGHT, CAMERA_WIDTH)
    np.testing.assert_array_equal(out.labels, _upsampled(model_labels, cv2.INTER_NEAREST_EXACT))

    palette = np.asarray(CITYSCAPES_PALETTE, np.uint8)
    assert out.color.dtype == np.uint8 and out.color.shape == (CAMERA_HEIGHT, CAMERA_WIDTH, 3)
    np.testing.assert_array_equal(out.color, palette[out.labels])

    assert out.overlay.dtype == np.uint8 and out.overlay.shape == (CAMERA_HEIGHT, CAMERA_WIDTH, 3)
    expected_overlay = ((1.0 - alpha) * camera + alpha * palette[out.labels])[..., ::-1]  # BGR
    assert np.abs(out.overlay - expected_overlay).max() <= 0.51
    row, col = CAMERA_HEIGHT // 2, CAMERA_WIDTH // 3
    red, green, blue = (1.0 - alpha) * camera[row, col] + alpha * palette[out.labels[row, col]]
    np.testing.assert_allclose(out.overlay[row, col], [blue, green, red], atol=0.51)

    assert out.confidence.dtype == np.uint8 and out.confidence.shape == (CAMERA_HEIGHT, CAMERA_WIDTH)
    expected_confidence = _upsampled(model_confidence, cv2.INTER_LINEAR) * 255.0
    assert np.abs(out.confidence - expected_confidence).max() <= 1.0
    assert out.infer_seconds > 0.0


def test_pipeline_at_model_size_returns_backend_labels(backend: OnnxRuntimeBackend) -> None:
    rgb = sample_images(1, *MODEL_SIZE, seed=8)[0]
    out = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE).process(rgb)
    labels, confidence = backend.infer(rgb)
    np.testing.assert_array_equal(out.labels, labels)
    np.testing.assert_array_equal(out.confidence, np.rint(confidence * 255.0).astype(np.uint8))


def test_pipeline_confidence_32fc1(backend: OnnxRuntimeBackend, camera: np.ndarray) -> None:
    pipeline = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE, confidence_encoding='32FC1')
    out = pipeline.process(camera, OutputRequest(labels=False, color=False, overlay=False, confidence=True))
    assert out.confidence.dtype == np.float32 and out.confidence.shape == (CAMERA_HEIGHT, CAMERA_WIDTH)
    assert out.confidence.min() >= 0.0 and out.confidence.max() <= 1.0
    _, model_confidence = _model_outputs(backend, camera)
    np.testing.assert_allclose(out.confidence, _upsampled(model_confidence, cv2.INTER_LINEAR), atol=1e-6)


@pytest.mark.parametrize('wanted', [('labels',), ('color',), ('confidence',), ('color', 'confidence')])
def test_pipeline_computes_only_requested_outputs(backend: OnnxRuntimeBackend, camera: np.ndarray,
                                                  wanted: tuple[str, ...]) -> None:
    request = OutputRequest(**{name: name in wanted for name in OUTPUT_NAMES})
    out = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE).process(camera, request)
    assert {name for name in OUTPUT_NAMES if getattr(out, name) is not None} == set(wanted)


def test_pipeline_with_nothing_requested_does_not_infer(backend: OnnxRuntimeBackend, camera: np.ndarray) -> None:
    request = OutputRequest(labels=False, color=False, overlay=False, confidence=False)
    out = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE).process(camera, request)
    assert out == FrameOutputs()
    assert out.infer_seconds == 0.0


def test_confidence_threshold_marks_pixels_unknown(backend: OnnxRuntimeBackend, camera: np.ndarray) -> None:
    pipeline = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE, confidence_threshold=1.0)
    out = pipeline.process(camera)
    assert np.all(out.labels == IGNORE_INDEX)
    assert np.all(out.color == 0)
    np.testing.assert_array_equal(out.overlay, camera[..., ::-1])


def test_confidence_threshold_only_affects_low_confidence_pixels(backend: OnnxRuntimeBackend) -> None:
    rgb = sample_images(1, *MODEL_SIZE, seed=9)[0]
    labels, confidence = backend.infer(rgb)
    threshold = float(np.median(confidence))
    out = SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE, confidence_threshold=threshold).process(rgb)
    low = confidence < threshold
    assert low.any() and (~low).any()
    assert np.all(out.labels[low] == IGNORE_INDEX)
    np.testing.assert_array_equal(out.labels[~low], labels[~low])
    np.testing.assert_array_equal(out.overlay[low], rgb[low][:, ::-1])


def test_bad_confidence_encoding_is_refused(backend: OnnxRuntimeBackend) -> None:
    with pytest.raises(ValueError, match=r"confidence_encoding 'mono16'; allowed: mono8, 32FC1"):
        SegmentationPipeline(backend, MODEL_SIZE, CITYSCAPES_PALETTE, confidence_encoding='mono16')


@pytest.mark.parametrize('threshold', [0.0, 0.06])
def test_render_into_message_buffers_equals_process(backend: OnnxRuntimeBackend, camera: np.ndarray,
                                                    threshold: float) -> None:
    from night_seg_ros.codec import image_buffer

    pipeline = SegmentationPipeline(backend, (backend.height, backend.width), CITYSCAPES_PALETTE,
                                    confidence_threshold=threshold)
    expected = pipeline.process(camera)
    inference = pipeline.infer(camera)
    for name in ('labels', 'color', 'overlay', 'confidence'):
        msg, view = image_buffer(camera.shape[0], camera.shape[1], pipeline.output_encoding(name))
        returned = pipeline.render(name, inference, dst=view)
        assert np.shares_memory(returned, view)
        stored = np.frombuffer(msg.data, view.dtype).reshape(view.shape)
        np.testing.assert_array_equal(stored, getattr(expected, name))
        assert msg.step * msg.height == len(msg.data) and msg.encoding == pipeline.output_encoding(name)


def test_render_refuses_unknown_output(backend: OnnxRuntimeBackend, camera: np.ndarray) -> None:
    pipeline = SegmentationPipeline(backend, (backend.height, backend.width), CITYSCAPES_PALETTE)
    with pytest.raises(ValueError, match="unknown output 'depth'; allowed: labels, color, overlay, confidence"):
        pipeline.render('depth', pipeline.infer(camera))


def test_a_bundled_model_is_found_by_its_name():
    from night_seg_ros.paths import DEMO_MODEL, share_file
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    pipeline, bundle = load_pipeline(ModelSetting('synthetic_demo_b0', backend='onnxruntime'))
    pipeline.backend.close()
    assert bundle.path == share_file(DEMO_MODEL)


def test_an_unknown_model_name_says_what_is_accepted():
    from night_seg_ros.bundle import BundleError
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    with pytest.raises(BundleError, match=r"'no_such_model' does not exist: .* bundled model \(synthetic_demo_b0\)"):
        load_pipeline(ModelSetting('no_such_model', backend='onnxruntime'))


def test_without_onnx_the_outputs_are_drawn_on_the_cpu_saying_so(tiny_bundle: Path, monkeypatch) -> None:
    """onnxruntime-gpu from rosdep's key brings no onnx (no rosdep key for it): the render graph cannot be composed."""
    import importlib.util

    from night_seg_ros import pipeline
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(pipeline.importlib.util, 'find_spec', lambda name, *args: None if name == 'onnx'
                        else find_spec(name, *args))
    said = []

    class Log:
        def info(self, message: str) -> None:
            said.append(message)

        def warning(self, message: str) -> None:
            said.append(message)

    loaded, _bundle = load_pipeline(ModelSetting(str(tiny_bundle), backend='onnxruntime', device='cpu'), log=Log(),
                                    render_on='backend')
    try:
        assert loaded.render_graph_of is None
        assert 'rendering on the CPU: render_on backend on cpu needs the onnx package (pip install onnx)' in said
    finally:
        loaded.backend.close()
