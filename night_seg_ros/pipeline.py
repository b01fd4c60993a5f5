"""One camera frame through the model: resize -> backend.infer -> threshold -> outputs at the camera's resolution.

Shared by the node and the offline tools so both produce the same pixels: `load_pipeline` turns a model setting (the
node's model parameters, the bag tool's options) into a `SegmentationPipeline` the same way for both. Work is done at
the model's resolution and only the requested outputs are upsampled (nearest-neighbour for ids and colours, bilinear
for confidence). Each output is rendered on its own (`render`), optionally straight into a caller's buffer (a
message's data), so a caller can publish one output while the next is still to be drawn.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from night_seg_ros.backends import Backend, create_backend
from night_seg_ros.bundle import Bundle, BundleError, read_bundle
from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.hub import MODEL_CACHE_DIR, resolve_model
from night_seg_ros.paths import DEMO_MODEL, bundled_model, bundled_models, share_file
from night_seg_ros.render import blend, colorize, palette_lut
from night_seg_ros.tensorrt.cache import EnginePolicy
from night_seg_ros.vocabulary import CONFIDENCE_ENCODINGS, OUTPUTS


class Log(Protocol):
    """Where `load_pipeline` tells what the user should know: an rclpy or `logging` logger."""

    def info(self, message: str) -> None:
        """A fact worth a line (which backends auto skipped)."""

    def warning(self, message: str) -> None:
        """Something the user should change (running the demo model)."""


@dataclass(frozen=True)
class ModelSetting:
    """Which model runs where: the node's model parameters, the bag tool's model options.

    model: bundle directory or Hugging Face hub id; '' = the bundled demo model. model_cache_dir: where hub ids are
    converted into bundles. backend, device, precision, num_threads: as `backends.create_backend`. engine: where the
    tensorrt backend finds its engine and whether it may build one (None: the bundle's engines/, no building).
    """

    model: str = ''
    model_cache_dir: str = MODEL_CACHE_DIR
    backend: str = 'auto'
    device: str = 'auto'
    precision: str = 'fp16'
    num_threads: int = 0
    engine: EnginePolicy | None = None


@dataclass(frozen=True)
class OutputRequest:
    """Which outputs to compute for a frame (an output no one subscribes to is not computed)."""

    labels: bool = True
    color: bool = True
    overlay: bool = True
    confidence: bool = True

    def any(self) -> bool:
        """Whether any output is wanted at all."""
        return self.labels or self.color or self.overlay or self.confidence

    def names(self) -> list[str]:
        """The requested output names, in OUTPUTS order."""
        return [name for name in OUTPUTS if getattr(self, name)]


@dataclass(frozen=True)
class Inference:
    """The model's answer at its own input size (h, w).

    labels: uint8 (h, w) class ids, IGNORE_INDEX where confidence < threshold. confidence: float32 (h, w) 0-1.
    seconds: wall time of backend.infer alone.
    """

    labels: np.ndarray
    confidence: np.ndarray
    seconds: float


@dataclass
class FrameOutputs:
    """A frame's outputs at the camera's H x W; None where not requested.

    labels: uint8 (H, W) class ids, IGNORE_INDEX where confidence < threshold.
    color: uint8 (H, W, 3) RGB palette image.  overlay: uint8 (H, W, 3) BGR camera blended with the palette.
    confidence: uint8 (H, W) 0-255 for 'mono8', float32 (H, W) 0-1 for '32FC1'.
    infer_seconds: wall time of backend.infer alone.
    """

    labels: np.ndarray | None = None
    color: np.ndarray | None = None
    overlay: np.ndarray | None = None
    confidence: np.ndarray | None = None
    infer_seconds: float = 0.0


class SegmentationPipeline:
    """Runs a backend on camera frames and renders the requested outputs."""

    def __init__(self, backend: Backend, input_size: tuple[int, int], palette: Sequence[Sequence[int]],
                 confidence_threshold: float = 0.0, overlay_alpha: float = 0.5,
                 confidence_encoding: str = 'mono8') -> None:
        """Set up for a model taking `input_size` = (height, width) RGB images.

        confidence_threshold: 0-1; pixels below it are labelled IGNORE_INDEX. overlay_alpha: 0-1 palette weight.
        """
        if confidence_encoding not in CONFIDENCE_ENCODINGS:
            raise ValueError(f'confidence_encoding {confidence_encoding!r}; allowed: {", ".join(CONFIDENCE_ENCODINGS)}')
        self.backend = backend
        self.input_height, self.input_width = input_size
        self.lut_rgb = palette_lut(palette)
        self.lut_bgr = np.ascontiguousarray(self.lut_rgb[:, ::-1])
        self.confidence_threshold = confidence_threshold
        self.overlay_alpha = overlay_alpha
        self.confidence_encoding = confidence_encoding

    def output_encoding(self, name: str) -> str:
        """The sensor_msgs/Image encoding of output `name`."""
        return {'labels': 'mono8', 'color': 'rgb8', 'overlay': 'bgr8', 'confidence': self.confidence_encoding}[name]

    def infer(self, rgb: np.ndarray) -> Inference:
        """uint8 (H, W, 3) RGB camera frame -> the model's labels and confidence at its input size."""
        if rgb.shape[:2] != (self.input_height, self.input_width):
            rgb = cv2.resize(rgb, (self.input_width, self.input_height), interpolation=cv2.INTER_LINEAR)
        start = time.perf_counter()
        labels, confidence = self.backend.infer(rgb)
        seconds = time.perf_counter() - start
        if self.confidence_threshold > 0.0:
            labels = np.where(confidence < self.confidence_threshold, np.uint8(IGNORE_INDEX), labels)
        return Inference(labels, confidence, seconds)

    def render(self, name: str, rgb: np.ndarray, inference: Inference, dst: np.ndarray | None = None) -> np.ndarray:
        """Output `name` (one of OUTPUTS) of camera frame `rgb` (uint8 (H, W, 3) RGB) at H x W.

        `dst`, when given, is the array to write (shape and dtype of the output, e.g. a message buffer from
        `codec.image_buffer`); it is returned. See FrameOutputs for each output's shape and dtype.
        """
        height, width = rgb.shape[:2]
        size = (width, height)
        if name == 'labels':
            return cv2.resize(inference.labels, size, dst=dst, interpolation=cv2.INTER_NEAREST_EXACT)
        if name == 'color':
            small = colorize(inference.labels, self.lut_rgb)
            return cv2.resize(small, size, dst=dst, interpolation=cv2.INTER_NEAREST_EXACT)
        if name == 'overlay':
            color = cv2.resize(colorize(inference.labels, self.lut_bgr), size, interpolation=cv2.INTER_NEAREST_EXACT)
            camera = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            unknown = None
            if self.confidence_threshold > 0.0:
                unknown = cv2.resize(inference.labels, size, interpolation=cv2.INTER_NEAREST_EXACT)
            return blend(camera, color, self.overlay_alpha, unknown, dst=dst)
        if name == 'confidence':
            confidence = inference.confidence
            if self.confidence_encoding == 'mono8':
                confidence = np.rint(confidence * 255.0).astype(np.uint8)
            return cv2.resize(confidence, size, dst=dst, interpolation=cv2.INTER_LINEAR)
        raise ValueError(f'unknown output {name!r}; allowed: {", ".join(OUTPUTS)}')

    def process(self, rgb: np.ndarray, request: OutputRequest = OutputRequest()) -> FrameOutputs:
        """uint8 (H, W, 3) RGB camera frame -> the requested FrameOutputs at the same H x W."""
        out = FrameOutputs()
        if not request.any():
            return out
        inference = self.infer(rgb)
        out.infer_seconds = inference.seconds
        for name in request.names():
            setattr(out, name, self.render(name, rgb, inference))
        return out


def load_pipeline(setting: ModelSetting, confidence_threshold: float = 0.0, overlay_alpha: float = 0.5,
                  confidence_encoding: str = 'mono8', log: Log | None = None,
                  model_option: str = 'model') -> tuple[SegmentationPipeline, Bundle]:
    """The pipeline of `setting` (its backend created and warmed up) and the bundle it runs.

    The model resolves to a bundle (a bundled model's name to its folder; a hub id is converted once into the
    cache), the backend is created on it, then the pipeline renders with `confidence_threshold`, `overlay_alpha`
    (0-1) and `confidence_encoding`. `log` hears that the demo model is used and why backend auto skipped a backend;
    `model_option` names the model setting in messages ('parameter model', '--model'). Raises BundleError (a missing
    or broken model, a hub id that cannot be converted here) or BackendError (no usable backend), both NightSegError.
    """
    model = setting.model
    if not model:
        try:
            model = str(share_file(DEMO_MODEL))
        except FileNotFoundError as error:
            raise BundleError(f'{model_option} is empty and the bundled demo model is missing ({error}); set '
                              f'{model_option} to a bundle directory or a Hugging Face hub id') from error
        if log is not None:
            log.warning(f'{model_option} is empty: using the bundled demo model {model}. It was trained on synthetic '
                        'streets only and is not meant for real cameras; train a real one with night-seg-train '
                        '(README).')
    bundled = bundled_model(model)
    path = bundled if bundled is not None else resolve_model(model, setting.model_cache_dir)
    if not path.is_dir():
        raise BundleError(f'{model_option} {model!r} does not exist: it takes a bundle directory, a Hugging Face hub '
                          f'id or the name of a bundled model ({", ".join(bundled_models()) or "none installed"})')
    bundle = read_bundle(path)
    backend = create_backend(setting.backend, bundle, setting.device, setting.precision, setting.num_threads,
                             setting.engine)
    if log is not None:
        for reason in backend.skipped:
            log.info(f'backend auto skipped {reason}')
    try:
        backend.warmup()
        pipeline = SegmentationPipeline(backend, (bundle.input.height, bundle.input.width), bundle.palette,
                                        confidence_threshold, overlay_alpha, confidence_encoding)
    except BaseException:
        backend.close()  # a TensorRT backend holds a CUDA thread and buffers
        raise
    return pipeline, bundle
