"""The converter: a bundle's model.onnx -> a TensorRT engine for the GPU it runs on, written into the engine cache.

Steps (`build_engine`): key the build (cache.EngineKey), check the options, make the ONNX of the wanted precision
(precision.py), for a render engine compose the rendering around it (render_graph.py), let TensorRT compile it
(`compile_engine`, the only part that needs TensorRT and a GPU), write the engine, its sidecar and the timing cache.

A build reports through `log` (the node's logger, or print for the commands): its steps, TensorRT's own warnings and
errors, and the top-level phases of TensorRT's progress; `cancelled` (Ctrl-C) is asked at every build step and stops
the build, writing nothing. It checks first that the cache folder is writable, and holds the engine key's lock
(cache.engine_lock) while it builds, so two processes never build one engine at once.

Typing: TensorRT 11 builds strongly typed networks only, and TensorRT 10 offers them (NetworkDefinitionCreationFlag
.STRONGLY_TYPED), so both take the precision from the ONNX: FP32 graph, FP16 graph, or INT8 Q/DQ graph. The one
exception is a DLA build on TensorRT 10, whose DLA compiler wants the weakly typed network: there the FP32 graph is
built with BuilderFlag.FP16 and GPU fallback (fp16 only; INT8 on the DLA would need TensorRT's implicit calibration,
which this converter does not do).
"""
from __future__ import annotations

import contextlib
import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from night_seg_ros.bundle import Bundle
from night_seg_ros.errors import NightSegError
from night_seg_ros.files import atomic_write_bytes
from night_seg_ros.tensorrt.cache import (
    BuildCancelled,
    EngineKey,
    SystemInfo,
    engine_lock,
    sha256_file,
    writable,
    write_engine,
)
from night_seg_ros.tensorrt.cuda import CudaRuntime
from night_seg_ros.vocabulary import PRECISIONS

if TYPE_CHECKING:
    import onnx

    from night_seg_ros.render_graph import RenderTarget

DEFAULT_WORKSPACE_MIB = 1024  # Jetson builds get OOM-killed with TensorRT's default (all of the shared memory)
TENSORRT_MISSING = ('the tensorrt Python package is not installed (JetPack: sudo apt install python3-libnvinfer; '
                    'desktop: pip install tensorrt-cu12, or NVIDIA\'s TensorRT packages)')


class EngineBuildError(NightSegError, RuntimeError):
    """The engine cannot be built with these options or on this system; the message says why and what to do."""


@dataclass(frozen=True)
class BuildOptions:
    """How to build. workspace_mib: TensorRT's scratch-memory limit in MiB. timing_cache: file reused and updated
    across builds (None: `default_timing_cache`). dla_core: DLA core index, None for the GPU. calibration: uint8
    (H, W, 3) RGB frames at the model's input size (int8 only); calibration_source names them in the sidecar."""

    precision: str = 'fp16'
    workspace_mib: int = DEFAULT_WORKSPACE_MIB
    timing_cache: Path | None = None
    dla_core: int | None = None
    device: int = 0
    calibration: Sequence[np.ndarray] = ()
    calibration_source: str = ''


def import_tensorrt() -> Any:
    """The tensorrt module, or EngineBuildError(TENSORRT_MISSING)."""
    try:
        import tensorrt
    except ImportError as error:
        raise EngineBuildError(f'{TENSORRT_MISSING} ({error})') from error
    return tensorrt


def system_info(trt: Any, cuda: CudaRuntime) -> SystemInfo:
    """The running TensorRT version and the GPU of `cuda`."""
    return SystemInfo(trt.__version__, *cuda.gpu())


def engine_key(bundle: Bundle, system: SystemInfo, precision: str, dla_core: int | None,
               render: RenderTarget | None = None) -> EngineKey:
    """The cache key of `bundle`'s engine on `system`: of model.onnx (hashed), or of its render graph for `render`."""
    if render is None:
        return EngineKey(sha256_file(bundle.require_onnx()), system.tensorrt_version, system.compute_capability,
                         precision, (bundle.input.height, bundle.input.width), dla_core, system.gpu_name)
    import onnx

    graph = render.compose(onnx.load(str(bundle.require_onnx())), bundle.palette)
    return graph_engine_key(graph, system, precision, dla_core)


def graph_engine_key(graph: onnx.ModelProto, system: SystemInfo, precision: str, dla_core: int | None) -> EngineKey:
    """The cache key of an engine of `graph` (a render graph, as the node composes it from the FP32 model.onnx):
    the sha256 of its serialized bytes and the (height, width) of its uint8 (1, H, W, 3) input."""
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    return EngineKey(hashlib.sha256(graph.SerializeToString()).hexdigest(), system.tensorrt_version,
                     system.compute_capability, precision, (dims[1].dim_value, dims[2].dim_value), dla_core,
                     system.gpu_name)


def network_typing(tensorrt_version: str, dla_core: int | None) -> str:
    """'strong' (precision from the ONNX) or 'weak' (FP32 ONNX + FP16 flag: DLA on TensorRT 10 only)."""
    major = int(tensorrt_version.split('.')[0])
    if major < 10:
        raise EngineBuildError(f'TensorRT {tensorrt_version} is too old; allowed: 10.x (JetPack 6) or 11.x')
    return 'weak' if dla_core is not None and major == 10 else 'strong'


def check_options(options: BuildOptions, typing: str) -> None:
    """Refuse option combinations that cannot build, naming what is allowed."""
    if options.precision not in PRECISIONS:
        raise EngineBuildError(f'unknown precision {options.precision!r}; allowed: {", ".join(PRECISIONS)}')
    if options.workspace_mib < 1:
        raise EngineBuildError(f'workspace must be >= 1 MiB; got {options.workspace_mib}')
    if options.precision == 'int8' and not options.calibration:
        raise EngineBuildError('precision int8 needs calibration frames: night-seg build-engine BUNDLE --precision '
                               'int8 --calibration FOLDER_OR_BAG (night frames of your camera are best)')
    if options.dla_core is not None:
        if options.dla_core < 0:
            raise EngineBuildError(f'DLA core must be >= 0; got {options.dla_core}')
        if options.precision == 'fp32':
            raise EngineBuildError('the DLA runs fp16 or int8 only; use --precision fp16 with --dla-core')
        if options.precision == 'int8' and typing == 'weak':
            raise EngineBuildError('int8 on the DLA with TensorRT 10 needs implicit calibration, which this converter '
                                   'does not do; use --precision fp16 on the DLA, or int8 on the GPU')


def prepare_onnx(onnx_path: Path, options: BuildOptions, typing: str, work_dir: Path) -> Path:
    """The ONNX TensorRT should parse: the FP32 graph, or its FP16 / INT8 Q/DQ version written into `work_dir`."""
    if options.precision == 'fp32' or typing == 'weak':
        return onnx_path
    from night_seg_ros.tensorrt.precision import to_int8_qdq, write_fp16

    if options.precision == 'fp16':
        return write_fp16(onnx_path, work_dir / 'model_fp16.onnx')
    out = work_dir / 'model_int8_qdq.onnx'
    to_int8_qdq(onnx_path, options.calibration, out)
    return out


def write_render_graph(model_path: Path, bundle: Bundle, render: RenderTarget, out_path: Path) -> Path:
    """Write to `out_path` the render graph of `render` around the graph at `model_path` (the bundle's model in the
    build's precision, see `prepare_onnx`); return `out_path`."""
    import onnx

    atomic_write_bytes(out_path, render.compose(onnx.load(str(model_path)), bundle.palette).SerializeToString())
    return out_path


def default_timing_cache(cache_dir: Path, system: SystemInfo) -> Path:
    """The timing cache file for `system` in `cache_dir` (one per TensorRT version and GPU architecture)."""
    return cache_dir / f'timing_trt{system.tensorrt_version}_sm{system.compute_capability.replace(".", "")}.cache'


def tensorrt_logger(trt: Any, log: Callable[[str], None]) -> Any:
    """A trt.ILogger that passes TensorRT's warnings and errors to `log` (TensorRT's default logger prints them)."""

    class Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, message: str) -> None:
            if int(severity) <= int(trt.ILogger.Severity.WARNING):
                log(f'TensorRT {getattr(severity, "name", str(severity)).lower()}: {message}')

    return Logger()


def progress_monitor(trt: Any, log: Callable[[str], None], cancelled: Callable[[], bool] | None) -> Any:
    """A trt.IProgressMonitor that logs TensorRT's top-level build phases and stops the build when `cancelled()`
    (TensorRT then returns no engine)."""

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if parent_phase is None:
                log(f'TensorRT build: {phase_name} ({num_steps} steps)')

        def step_complete(self, phase_name: str, step: int) -> bool:
            return cancelled is None or not cancelled()

        def phase_finish(self, phase_name: str) -> None:
            pass

    return Monitor()


def compile_engine(trt: Any, onnx_path: Path, typing: str, options: BuildOptions, timing_cache: bytes,
                   log: Callable[[str], None], cancelled: Callable[[], bool] | None = None) -> tuple[bytes, bytes]:
    """TensorRT: parse `onnx_path`, build, return (serialized engine, serialized timing cache). Needs a GPU.

    TensorRT's messages go to `log`; `cancelled()` True between build steps stops the build (BuildCancelled).
    """
    logger = tensorrt_logger(trt, log)
    builder = trt.Builder(logger)
    flags = 0
    if typing == 'strong' and int(trt.__version__.split('.')[0]) == 10:  # always strongly typed from 11 on
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = '; '.join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise EngineBuildError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    if typing == 'weak':
        config.set_flag(trt.BuilderFlag.FP16)
    if options.dla_core is not None:
        if options.dla_core >= builder.num_DLA_cores:
            raise EngineBuildError(f'DLA core {options.dla_core} requested; this device has {builder.num_DLA_cores} '
                                   'DLA cores (Orin AGX and NX: 2; Orin Nano and desktop GPUs: 0)')
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = options.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    cache = config.create_timing_cache(timing_cache)
    if not config.set_timing_cache(cache, False):
        log('timing cache is from another TensorRT version or GPU; starting an empty one')
        cache = config.create_timing_cache(b'')
        config.set_timing_cache(cache, False)
    config.progress_monitor = progress_monitor(trt, log, cancelled)
    if cancelled is not None and cancelled():
        raise BuildCancelled('engine build stopped before it started')
    serialized = builder.build_serialized_network(network, config)
    if cancelled is not None and cancelled():
        raise BuildCancelled('engine build stopped; nothing was written')
    if serialized is None:
        raise EngineBuildError('TensorRT could not build the engine (see its messages above). Out of memory on a '
                               'Jetson: lower --workspace-mib, add swap, stop other GPU processes; see '
                               'docs/TROUBLESHOOTING.md')
    return bytes(serialized), bytes(cache.serialize())


def build_engine(bundle: Bundle, cache_dir: Path, options: BuildOptions, system: SystemInfo,
                 log: Callable[[str], None] = print, render: RenderTarget | None = None,
                 cancelled: Callable[[], bool] | None = None, lock: bool = True) -> Path:
    """Build `bundle`'s engine for `system` (see `system_info`) with `options` into `cache_dir`; return its path.

    render: build the engine of the render graph for this camera instead (render_graph.py: camera bytes in, every
    output out); the model part gets `options.precision`, the rendering around it is composed after.
    log: what the build says, TensorRT's warnings included. cancelled: asked at every build step; True stops the
    build (BuildCancelled), writing nothing. lock: hold the key's build lock in `cache_dir` (False for a caller that
    holds it, cache.resolve_engine). Refuses a `cache_dir` it cannot write before any minutes are spent.
    """
    typing = network_typing(system.tensorrt_version, options.dla_core)
    check_options(options, typing)
    key = engine_key(bundle, system, options.precision, options.dla_core, render)
    trt = import_tensorrt()
    if not writable(cache_dir):
        raise EngineBuildError(f'cannot write the engine into {cache_dir} (read-only or not creatable here); choose '
                               'a writable folder (--cache-dir, or the node parameter engine_cache_dir)')
    with engine_lock(cache_dir, key, log, cancelled) if lock else contextlib.nullcontext():
        return _build(trt, bundle, cache_dir, options, system, key, typing, log, render, cancelled)


def _build(trt: Any, bundle: Bundle, cache_dir: Path, options: BuildOptions, system: SystemInfo, key: EngineKey,
           typing: str, log: Callable[[str], None], render: RenderTarget | None,
           cancelled: Callable[[], bool] | None) -> Path:
    timing_path = options.timing_cache or default_timing_cache(cache_dir, system)
    timing = timing_path.read_bytes() if timing_path.is_file() else b''
    what = 'engine' if render is None else (f'render engine (camera {render.camera_size[1]}x{render.camera_size[0]} '
                                            f'{render.camera_order}, {render.output_resolution} resolution)')
    log(f'building {options.precision} {what} for {system.gpu_name} (sm {system.compute_capability}, TensorRT '
        f'{system.tensorrt_version}, {typing}ly typed, workspace {options.workspace_mib} MiB'
        f'{"" if options.dla_core is None else f", DLA core {options.dla_core}"}); this takes minutes')
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='night_seg_engine_') as work:
        onnx_path = prepare_onnx(bundle.require_onnx(), options, typing, Path(work))
        if render is not None:
            onnx_path = write_render_graph(onnx_path, bundle, render, Path(work) / 'render.onnx')
        serialized, timing = compile_engine(trt, onnx_path, typing, options, timing, log, cancelled)
    build = {'typing': typing, 'workspace_mib': options.workspace_mib, 'timing_cache': str(timing_path),
             'seconds': round(time.monotonic() - start, 1), 'bundle': str(bundle.path)}
    if options.precision == 'int8':
        build['calibration'] = {'source': options.calibration_source, 'frames': len(options.calibration)}
    if render is not None:
        build['render'] = asdict(render)
    try:
        atomic_write_bytes(timing_path, timing)
        return write_engine(cache_dir, key, system.gpu_name, serialized, build)
    except OSError as error:
        raise EngineBuildError(f'cannot write the engine into {cache_dir}: {error}') from error
