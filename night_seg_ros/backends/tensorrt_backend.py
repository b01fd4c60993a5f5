"""TensorRT backend: the bundle's engine for this GPU from the engine cache (built there when allowed), run with the
named-tensor API (set_tensor_address, execute_async_v3).

Every CUDA and TensorRT call runs on one thread the backend owns ('tensorrt-cuda'): opening the engine, warm-up and
each inference, whichever thread calls `infer` (the node's worker, verify-engine's main thread). Device buffers come
from cuda-python, pycuda or torch, whichever is installed (tensorrt/cuda.py; pycuda's context is made current on that
thread). Needs tensorrt (>= 10) and one of those.

`open_graph` runs a render graph (render_graph.py) from its own engine, built ahead of time for the camera's size
(night-seg build-engine BUNDLE --camera-size WxH), on the same thread, stream and GPU.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from night_seg_ros.backends.base import Backend, BackendError, GraphRunner, GraphUnavailable, TensorSpec, graph_io
from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES, Bundle
from night_seg_ros.tensorrt.builder import (
    TENSORRT_MISSING,
    BuildOptions,
    EngineBuildError,
    build_engine,
    engine_key,
    graph_engine_key,
    system_info,
)
from night_seg_ros.tensorrt.cache import EngineCacheError, EnginePolicy, build_command, resolve_engine
from night_seg_ros.tensorrt.cuda import CudaError, CudaRuntime, device_index, open_cuda

if TYPE_CHECKING:
    import onnx

UNAVAILABLE = 'tensorrt backend is not available here'
ALTERNATIVES = 'use backend:=onnxruntime (onnxruntime-gpu runs on CUDA) or backend:=torch'
Result = TypeVar('Result')


def expected_io(height: int, width: int) -> dict[str, TensorSpec]:
    """Name -> (shape, dtype) of the engine's input and outputs for a height x width model input."""
    return {INPUT_NAME: ((1, height, width, 3), np.dtype(np.uint8)),
            OUTPUT_NAMES[0]: ((1, height, width), np.dtype(np.uint8)),
            OUTPUT_NAMES[1]: ((1, height, width), np.dtype(np.float32))}


class TensorRTGraphRunner(GraphRunner):
    """A graph's engine run on its backend's CUDA thread and stream: every input uploaded, the engine run (all its
    outputs: on the GPU they cost little), the requested outputs downloaded."""

    def __init__(self, graph: onnx.ModelProto, backend: TensorRTBackend, engine_path: Path, engine: Any,
                 context: Any) -> None:
        """Allocate a device buffer per tensor of `graph` and bind it to `context` (on the CUDA thread)."""
        super().__init__(graph)
        self.engine_path = engine_path
        self._backend = backend
        self._engine, self._context = engine, context
        self._device = {}
        for name, (shape, dtype) in {**self.inputs, **self.outputs}.items():
            self._device[name] = backend._cuda.alloc(int(np.prod(shape)) * dtype.itemsize)
            context.set_tensor_address(name, self._device[name])

    def _run(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        return self._backend._on_cuda_thread(self._execute, feeds, outputs)

    def _execute(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        cuda = self._backend._cuda
        for name, array in feeds.items():
            cuda.upload(self._device[name], array)
        if not self._context.execute_async_v3(cuda.stream):
            raise RuntimeError('TensorRT execute_async_v3 failed (see the TensorRT log)')
        results = {name: np.empty(*self.outputs[name]) for name in outputs}
        for name, array in results.items():
            cuda.download(array, self._device[name])
        cuda.synchronize()
        return results

    def release(self) -> None:
        """Drop the engine and its context (on the CUDA thread, before the buffers go)."""
        self._context = self._engine = None


class TensorRTBackend(Backend):
    """The engine of `bundle` for `precision` on GPU `device` ('auto', 'cuda' or 'cuda:N'), found through `policy`."""

    name = 'tensorrt'

    def __init__(self, bundle: Bundle, device: str = 'auto', precision: str = 'fp16',
                 policy: EnginePolicy | None = None) -> None:
        """Find (or build) the engine, deserialize it and allocate its buffers, all on the backend's CUDA thread.

        Raises BackendError naming what is missing (TensorRT, CUDA, a GPU) or why no cached engine fits.
        """
        super().__init__(bundle.input.height, bundle.input.width)
        policy = policy or EnginePolicy()
        try:
            index = device_index(device)
        except CudaError as error:
            raise BackendError(str(error)) from error
        self.device = f'cuda:{index}' if policy.dla_core is None else f'cuda:{index} dla:{policy.dla_core}'
        self.engine_path: Path | None = None
        self._bundle, self._precision, self._policy = bundle, precision, policy
        self._closed = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix='tensorrt-cuda')
        self._cuda: CudaRuntime | None = None
        self._runtime = self._engine = self._context = self._system = None
        self._runners: list[TensorRTGraphRunner] = []
        try:
            self._on_cuda_thread(self._open, bundle, index, precision, policy)
        except BaseException:
            self.close()
            raise

    def _on_cuda_thread(self, function: Callable[..., Result], *args: Any) -> Result:
        return self._thread.submit(function, *args).result()

    def _open(self, bundle: Bundle, index: int, precision: str, policy: EnginePolicy) -> None:
        try:
            import tensorrt as trt
        except ImportError as error:
            raise BackendError(f'{UNAVAILABLE}: {TENSORRT_MISSING}; {ALTERNATIVES}') from error
        try:
            self._cuda = open_cuda(index)
        except CudaError as error:
            raise BackendError(f'{UNAVAILABLE}: {error}; {ALTERNATIVES}') from error
        self._system = system = system_info(trt, self._cuda)
        key = engine_key(bundle, system, precision, policy.dla_core)
        cache_dir = policy.folder(bundle.engines_dir)
        command = build_command(bundle.path, key, cache_dir, bundle.engines_dir)
        log = policy.log or print

        def build(folder: Path) -> Path:
            if precision == 'int8':
                raise EngineBuildError(f'no int8 engine for this system and the node cannot calibrate; build it '
                                       f'with: {command}')
            return build_engine(bundle, folder, BuildOptions(precision, dla_core=policy.dla_core, device=index),
                                system, log=log, cancelled=policy.cancelled, lock=False)

        try:
            self.engine_path = resolve_engine(cache_dir, key, build if policy.build else None, command,
                                              policy.fallback(bundle.engines_dir), log, policy.cancelled)
        except (EngineCacheError, EngineBuildError, OSError) as error:
            raise BackendError(str(error)) from error
        logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(logger)
        if policy.dla_core is not None:
            self._runtime.DLA_core = policy.dla_core
        expected = expected_io(self.height, self.width)
        self._engine, self._context = self._deserialize(trt, self.engine_path, expected)
        self._host = {name: np.empty(shape, dtype) for name, (shape, dtype) in expected.items()}
        self._device = {name: self._cuda.alloc(array.nbytes) for name, array in self._host.items()}
        for name, pointer in self._device.items():
            self._context.set_tensor_address(name, pointer)

    def _deserialize(self, trt: Any, engine_path: Path, expected: dict[str, TensorSpec]) -> tuple[Any, Any]:
        """(engine, execution context) of `engine_path`, whose tensors must be `expected`; else BackendError."""
        engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            raise BackendError(f'TensorRT could not deserialize {engine_path} although its sidecar matches this '
                               'system; delete it and its .json to rebuild')
        found = {}
        for position in range(engine.num_io_tensors):
            name = engine.get_tensor_name(position)
            found[name] = (tuple(engine.get_tensor_shape(name)), np.dtype(trt.nptype(engine.get_tensor_dtype(name))))
        if found != expected:
            raise BackendError(f'engine {engine_path} has tensors {found}; expected {expected}. Rebuild it: '
                               'night-seg build-engine')
        return engine, engine.create_execution_context()

    def _run(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cuda = self._cuda
        self._host[INPUT_NAME][0] = rgb
        cuda.upload(self._device[INPUT_NAME], self._host[INPUT_NAME])
        if not self._context.execute_async_v3(cuda.stream):
            raise RuntimeError('TensorRT execute_async_v3 failed (see the TensorRT log)')
        for name in OUTPUT_NAMES:
            cuda.download(self._host[name], self._device[name])
        cuda.synchronize()
        labels, confidence = (self._host[name][0].copy() for name in OUTPUT_NAMES)
        return labels, confidence

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) RGB -> labels uint8 (H, W), confidence float32 (H, W)."""
        return self._on_cuda_thread(self._run, self.check_input(rgb))

    def open_graph(self, graph: onnx.ModelProto) -> TensorRTGraphRunner:
        """A runner of `graph` (a render graph composed from the bundle's model.onnx) from its engine in the cache.

        Building an engine takes minutes, so none is built here: GraphUnavailable names the missing engine and the
        command that builds it.
        """
        return self._on_cuda_thread(self._open_graph, graph)

    def _open_graph(self, graph: onnx.ModelProto) -> TensorRTGraphRunner:
        import tensorrt as trt

        from night_seg_ros.render_graph import RenderTarget

        policy = self._policy
        key = graph_engine_key(graph, self._system, self._precision, policy.dla_core)
        cache_dir = policy.folder(self._bundle.engines_dir)
        command = build_command(self._bundle.path, key, cache_dir, self._bundle.engines_dir, RenderTarget.of(graph))
        try:
            path = resolve_engine(cache_dir, key, None, command, policy.fallback(self._bundle.engines_dir))
        except EngineCacheError as error:
            raise GraphUnavailable(str(error)) from error
        inputs, outputs = graph_io(graph)
        engine, context = self._deserialize(trt, path, {**inputs, **outputs})
        runner = TensorRTGraphRunner(graph, self, path, engine, context)
        self._runners.append(runner)
        return runner

    def _release(self) -> None:
        for runner in self._runners:  # TensorRT objects go before the buffers they use
            runner.release()
        self._context = self._engine = self._runtime = None
        if self._cuda is not None:
            self._cuda.close()
            self._cuda = None

    def close(self) -> None:
        """Release the engine and the CUDA buffers (on the CUDA thread), then stop that thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._on_cuda_thread(self._release)
        self._thread.shutdown(wait=True)
