"""One camera frame through the model: resize -> backend.infer -> threshold -> outputs at the output size.

Shared by the node and the offline tools so both produce the same pixels: `load_pipeline` turns a model setting (the
node's model parameters, the bag tool's options) into a `SegmentationPipeline` the same way for both. Work is done at
the model's resolution and only the requested outputs are upsampled (render.FrameRenderer). `infer` and `render` are
separate steps, so a caller can infer one frame while it renders and publishes the one before; each output is
rendered on its own, optionally straight into a caller's buffer (a message's data).
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
from night_seg_ros.codec import CameraImage
from night_seg_ros.hub import MODEL_CACHE_DIR, resolve_model
from night_seg_ros.paths import DEMO_MODEL, bundled_model, bundled_models, share_file
from night_seg_ros.render import FrameRenderer, RenderSettings
from night_seg_ros.tensorrt.cache import EnginePolicy
from night_seg_ros.vocabulary import CONFIDENCE_ENCODINGS, OUTPUT_RESOLUTIONS, OUTPUTS


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


@dataclass(frozen=True, eq=False)
class Inference:
    """A frame and the model's answer on it, with the settings it is rendered with.

    camera: the frame as decoded, (H, W). network: the frame resized to the model's input (h, w), same channel order.
    labels: uint8 (h, w) class ids, IGNORE_INDEX where confidence < settings.confidence_threshold.
    confidence: float32 (h, w) 0-1. settings: the threshold and alpha when the frame was inferred.
    seconds: wall time of backend.infer alone.
    """

    camera: CameraImage
    network: CameraImage
    labels: np.ndarray
    confidence: np.ndarray
    settings: RenderSettings
    seconds: float


@dataclass
class FrameOutputs:
    """A frame's outputs at the output size (the camera's H x W, or the network's); None where not requested.

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
                 confidence_encoding: str = 'mono8', output_resolution: str = 'camera') -> None:
        """Set up for a model taking `input_size` = (height, width) RGB images.

        confidence_threshold: 0-1; pixels below it are labelled IGNORE_INDEX. overlay_alpha: 0-1 palette weight.
        output_resolution: 'camera' (outputs at the frame's size) or 'network' (at `input_size`).
        """
        if confidence_encoding not in CONFIDENCE_ENCODINGS:
            raise ValueError(f'confidence_encoding {confidence_encoding!r}; allowed: {", ".join(CONFIDENCE_ENCODINGS)}')
        if output_resolution not in OUTPUT_RESOLUTIONS:
            raise ValueError(f'output_resolution {output_resolution!r}; allowed: {", ".join(OUTPUT_RESOLUTIONS)}')
        self.backend = backend
        self.input_height, self.input_width = input_size
        self.renderer = FrameRenderer(palette, confidence_encoding)
        self.settings = RenderSettings(confidence_threshold, overlay_alpha)
        self.confidence_encoding = confidence_encoding
        self.output_resolution = output_resolution

    def output_encoding(self, name: str) -> str:
        """The sensor_msgs/Image encoding of output `name`."""
        return {'labels': 'mono8', 'color': 'rgb8', 'overlay': 'bgr8', 'confidence': self.confidence_encoding}[name]

    def output_size(self, camera_size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the outputs of a camera frame of `camera_size` = (height, width)."""
        return camera_size if self.output_resolution == 'camera' else (self.input_height, self.input_width)

    def infer(self, image: np.ndarray | CameraImage) -> Inference:
        """A camera frame (uint8 (H, W, 3) RGB, or a CameraImage) -> the model's answer at its input size.

        The threshold and alpha are taken now (`settings`), so a live change never splits one frame.
        """
        settings = self.settings
        camera = image if isinstance(image, CameraImage) else CameraImage(image, 'rgb')
        pixels = camera.pixels
        if pixels.shape[:2] != (self.input_height, self.input_width):
            pixels = cv2.resize(pixels, (self.input_width, self.input_height), interpolation=cv2.INTER_LINEAR)
        network = CameraImage(pixels, camera.order)
        rgb = pixels if camera.order == 'rgb' else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        labels, confidence = self.backend.infer(rgb)
        seconds = time.perf_counter() - start
        if settings.confidence_threshold > 0.0:
            labels = np.where(confidence < settings.confidence_threshold, np.uint8(IGNORE_INDEX), labels)
        return Inference(camera, network, labels, confidence, settings, seconds)

    def render(self, name: str, inference: Inference, dst: np.ndarray | None = None) -> np.ndarray:
        """Output `name` (one of OUTPUTS) of an inferred frame at the output size (`output_size`).

        `dst`, when given, is the array to write (shape and dtype of the output, e.g. a message buffer from
        `codec.image_buffer`); it is returned. See FrameOutputs for each output's shape and dtype.
        """
        size = self.output_size(inference.camera.pixels.shape[:2])
        renderer = self.renderer
        if name == 'labels':
            return renderer.labels(inference, inference.labels, size, dst)
        if name == 'color':
            return renderer.color(inference, inference.labels, size, dst)
        if name == 'overlay':
            camera = inference.camera if self.output_resolution == 'camera' else inference.network
            return renderer.overlay(inference, renderer.camera_bgr(camera.pixels, camera.order), inference.labels,
                                    inference.settings.overlay_alpha, inference.settings.confidence_threshold > 0.0,
                                    dst)
        if name == 'confidence':
            return renderer.confidence(inference.confidence, size, dst)
        raise ValueError(f'unknown output {name!r}; allowed: {", ".join(OUTPUTS)}')

    def process(self, image: np.ndarray | CameraImage, request: OutputRequest = OutputRequest()) -> FrameOutputs:
        """A camera frame (uint8 (H, W, 3) RGB, or a CameraImage) -> the requested FrameOutputs."""
        out = FrameOutputs()
        if not request.any():
            return out
        inference = self.infer(image)
        out.infer_seconds = inference.seconds
        for name in request.names():
            setattr(out, name, self.render(name, inference))
        return out


def load_pipeline(setting: ModelSetting, confidence_threshold: float = 0.0, overlay_alpha: float = 0.5,
                  confidence_encoding: str = 'mono8', log: Log | None = None, model_option: str = 'model',
                  output_resolution: str = 'camera') -> tuple[SegmentationPipeline, Bundle]:
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
                                        confidence_threshold, overlay_alpha, confidence_encoding, output_resolution)
    except BaseException:
        backend.close()  # a TensorRT backend holds a CUDA thread and buffers
        raise
    return pipeline, bundle
