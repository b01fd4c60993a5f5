"""One camera frame through the model: resize -> backend.infer -> threshold -> outputs at the output size.

Shared by the node and the offline tools so both produce the same pixels: `load_pipeline` turns a model setting (the
node's model parameters, the bag tool's options) into a `SegmentationPipeline` the same way for both. Work is done at
the model's resolution and only the requested outputs are upsampled (render.FrameRenderer). `infer` and `render` are
separate steps, so a caller can infer one frame while it renders and publishes the one before; each output is
rendered on its own, optionally straight into a caller's buffer (a message's data).
"""
from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from night_seg_ros.backends import Backend, create_backend
from night_seg_ros.backends.base import GraphRunner, GraphUnavailable
from night_seg_ros.bundle import Bundle, BundleError, read_bundle
from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.codec import CameraImage
from night_seg_ros.hub import MODEL_CACHE_DIR, resolve_model
from night_seg_ros.paths import DEMO_MODEL, bundled_model, bundled_models, share_file
from night_seg_ros.render import FrameRenderer, RenderSettings
from night_seg_ros.tensorrt.cache import EnginePolicy
from night_seg_ros.vocabulary import CONFIDENCE_ENCODINGS, IMAGE_ENCODINGS, OUTPUT_RESOLUTIONS, OUTPUTS

if TYPE_CHECKING:
    from night_seg_ros.render_graph import RenderTarget


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
    seconds: wall time of backend.infer alone. rendered: on the backend's render graph, the requested outputs at the
    output size, as the graph computed them on the backend's device (network, labels and confidence are then None).
    """

    camera: CameraImage
    network: CameraImage | None
    labels: np.ndarray | None
    confidence: np.ndarray | None
    settings: RenderSettings
    seconds: float
    rendered: dict[str, np.ndarray] | None = None


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
                 confidence_encoding: str = 'mono8', output_resolution: str = 'camera',
                 render_graph_of: Path | None = None, log: Log | None = None) -> None:
        """Set up for a model taking `input_size` = (height, width) RGB images.

        confidence_threshold: 0-1; pixels below it are labelled IGNORE_INDEX. overlay_alpha: 0-1 palette weight.
        output_resolution: 'camera' (outputs at the frame's size) or 'network' (at `input_size`).
        render_graph_of: the bundle's model.onnx, to render on the backend's device: the resize, the model and the
        rendering run as one graph (render_graph) through `backend.open_graph`, composed at the first frame of each
        camera size and channel order; where the backend cannot run it, that frame size renders on the CPU and `log`
        hears why. None: render on the CPU (render.FrameRenderer).
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
        self.palette = palette
        self.render_graph_of = render_graph_of
        self.log = log
        self._graphs: dict[RenderTarget, GraphRunner | None] = {}

    def output_encoding(self, name: str) -> str:
        """The sensor_msgs/Image encoding of output `name`."""
        return self.confidence_encoding if name == 'confidence' else IMAGE_ENCODINGS[name]

    def output_size(self, camera_size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) of the outputs of a camera frame of `camera_size` = (height, width)."""
        return camera_size if self.output_resolution == 'camera' else (self.input_height, self.input_width)

    def infer(self, image: np.ndarray | CameraImage, request: OutputRequest = OutputRequest()) -> Inference:
        """A camera frame (uint8 (H, W, 3) RGB, or a CameraImage) -> the model's answer at its input size.

        The threshold and alpha are taken now (`settings`), so a live change never splits one frame. On the render
        graph the `request`ed outputs are rendered here too, on the backend's device.
        """
        settings = self.settings
        camera = image if isinstance(image, CameraImage) else CameraImage(image, 'rgb')
        graph = self._graph(camera) if self.render_graph_of is not None else None
        if graph is not None:
            return self._infer_on_graph(graph, camera, settings, request)
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

    def _graph(self, camera: CameraImage) -> GraphRunner | None:
        """The render graph's runner for this frame's size and channel order (opened once), or None: the CPU."""
        from night_seg_ros.render_graph import RenderTarget  # onnx, needed only here

        target = RenderTarget(camera.pixels.shape[:2], self.output_resolution, camera.order)
        if target not in self._graphs:
            import onnx

            try:
                graph = target.compose(onnx.load(str(self.render_graph_of)), self.palette)
                self._graphs[target] = self.backend.open_graph(graph)
            except GraphUnavailable as reason:
                self._graphs[target] = None
                if self.log is not None:
                    self.log.warning(f'rendering {target.camera_size[1]}x{target.camera_size[0]} {target.camera_order} '
                                     f'frames on the CPU: {reason}')
        return self._graphs[target]

    def _infer_on_graph(self, graph: GraphRunner, camera: CameraImage, settings: RenderSettings,
                        request: OutputRequest) -> Inference:
        """The whole frame on the backend's device: camera bytes in, the requested outputs out."""
        names = {name: ('confidence_mono8' if name == 'confidence' and self.confidence_encoding == 'mono8' else name)
                 for name in request.names()}
        feeds = {'camera': np.ascontiguousarray(camera.pixels)[None],
                 'threshold': np.float32(settings.confidence_threshold), 'alpha': np.float32(settings.overlay_alpha)}
        start = time.perf_counter()
        outputs = graph.run(feeds, list(names.values()))
        seconds = time.perf_counter() - start
        rendered = {name: outputs[graph_name][0] for name, graph_name in names.items()}
        return Inference(camera, None, None, None, settings, seconds, rendered)

    def render(self, name: str, inference: Inference, dst: np.ndarray | None = None) -> np.ndarray:
        """Output `name` (one of OUTPUTS) of an inferred frame at the output size (`output_size`).

        `dst`, when given, is the array to write (shape and dtype of the output, e.g. a message buffer from
        `codec.image_buffer`); it is returned. See FrameOutputs for each output's shape and dtype.
        """
        if name not in OUTPUTS:
            raise ValueError(f'unknown output {name!r}; allowed: {", ".join(OUTPUTS)}')
        if inference.rendered is not None:
            return FrameRenderer.into(dst, inference.rendered[name])
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
        return renderer.confidence(inference.confidence, size, dst)

    def process(self, image: np.ndarray | CameraImage, request: OutputRequest = OutputRequest()) -> FrameOutputs:
        """A camera frame (uint8 (H, W, 3) RGB, or a CameraImage) -> the requested FrameOutputs."""
        out = FrameOutputs()
        if not request.any():
            return out
        inference = self.infer(image, request)
        out.infer_seconds = inference.seconds
        for name in request.names():
            setattr(out, name, self.render(name, inference))
        return out


def load_pipeline(setting: ModelSetting, confidence_threshold: float = 0.0, overlay_alpha: float = 0.5,
                  confidence_encoding: str = 'mono8', log: Log | None = None, model_option: str = 'model',
                  output_resolution: str = 'camera', render_on: str = 'auto') -> tuple[SegmentationPipeline, Bundle]:
    """The pipeline of `setting` (its backend created and warmed up) and the bundle it runs.

    The model resolves to a bundle (a bundled model's name to its folder; a hub id is converted once into the
    cache), the backend is created on it, then the pipeline renders with `confidence_threshold`, `overlay_alpha`
    (0-1), `confidence_encoding` and `output_resolution`, on the device `render_on` says (one of RENDER_PLACES:
    auto renders on the backend's device when that is a GPU, with the model in one graph). `log` hears that the demo
    model is used, why backend auto skipped a backend and why a frame size renders on the CPU; `model_option` names
    the model setting in messages ('parameter model', '--model'). Raises BundleError (a missing
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
        problem = 'is a file, not a folder' if path.exists() else 'does not exist'
        raise BundleError(f'{model_option} {model!r} {problem}: it takes a bundle directory, a Hugging Face hub '
                          f'id or the name of a bundled model ({", ".join(bundled_models()) or "none installed"})')
    bundle = read_bundle(path)
    backend = create_backend(setting.backend, bundle, setting.device, setting.precision, setting.num_threads,
                             setting.engine)
    if log is not None:
        for reason in backend.skipped:
            log.info(f'backend auto skipped {reason}')
    try:
        backend.warmup()
        on_backend = render_on == 'backend' or (render_on == 'auto' and backend.device.startswith('cuda'))
        if on_backend and importlib.util.find_spec('onnx') is None:  # the render graph is built with onnx
            on_backend = False
            if log is not None:
                log.warning(f'rendering on the CPU: render_on {render_on} on {backend.device} needs the onnx package '
                            '(pip install onnx)')
        pipeline = SegmentationPipeline(backend, (bundle.input.height, bundle.input.width), bundle.palette,
                                        confidence_threshold, overlay_alpha, confidence_encoding, output_resolution,
                                        bundle.onnx_path if on_backend and bundle.onnx_path.is_file() else None, log)
    except BaseException:
        backend.close()  # a TensorRT backend holds a CUDA thread and buffers
        raise
    return pipeline, bundle
