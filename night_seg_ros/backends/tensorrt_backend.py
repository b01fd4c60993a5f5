"""TensorRT backend: the bundle's engine for this GPU from the engine cache (built there when allowed), run with the
named-tensor API (set_tensor_address, execute_async_v3).

Every CUDA and TensorRT call runs on one thread the backend owns ('tensorrt-cuda'): opening the engine, warm-up and
each inference, whichever thread calls `infer` (the node's worker, verify-engine's main thread). Device buffers come
from cuda-python or torch (tensorrt/cuda.py). Needs tensorrt (>= 10) and one of those; no pycuda.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from night_seg_ros.backends.base import Backend, BackendError
from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES, Bundle
from night_seg_ros.tensorrt.builder import (
    TENSORRT_MISSING,
    BuildOptions,
    EngineBuildError,
    build_engine,
    engine_key,
    system_info,
)
from night_seg_ros.tensorrt.cache import EngineCacheError, EnginePolicy, build_command, resolve_engine
from night_seg_ros.tensorrt.cuda import CudaError, CudaRuntime, device_index, open_cuda

UNAVAILABLE = 'tensorrt backend is not available here'
ALTERNATIVES = 'use backend:=onnxruntime (onnxruntime-gpu runs on CUDA) or backend:=torch'
Result = TypeVar('Result')


def expected_io(height: int, width: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Name -> (shape, dtype) of the engine's input and outputs for a height x width model input."""
    return {INPUT_NAME: ((1, height, width, 3), np.dtype(np.uint8)),
            OUTPUT_NAMES[0]: ((1, height, width), np.dtype(np.uint8)),
            OUTPUT_NAMES[1]: ((1, height, width), np.dtype(np.float32))}


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
        self._closed = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix='tensorrt-cuda')
        self._cuda: CudaRuntime | None = None
        self._runtime = self._engine = self._context = None
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
        system = system_info(trt, self._cuda)
        key = engine_key(bundle, system, precision, policy.dla_core)
        cache_dir = policy.folder(bundle.engines_dir)
        command = build_command(bundle.path, key, cache_dir, bundle.engines_dir)

        def build() -> Path:
            if precision == 'int8':
                raise EngineBuildError(f'no int8 engine for this system and the node cannot calibrate; build it '
                                       f'with: {command}')
            return build_engine(bundle, cache_dir, BuildOptions(precision, dla_core=policy.dla_core, device=index),
                                system)

        try:
            self.engine_path = resolve_engine(cache_dir, key, build if policy.build else None, command)
        except (EngineCacheError, EngineBuildError, OSError) as error:
            raise BackendError(str(error)) from error
        self._load(trt, self.engine_path, policy.dla_core)

    def _load(self, trt: Any, engine_path: Path, dla_core: int | None) -> None:
        logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(logger)
        if dla_core is not None:
            self._runtime.DLA_core = dla_core
        self._engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self._engine is None:
            raise BackendError(f'TensorRT could not deserialize {engine_path} although its sidecar matches this '
                               'system; delete it and its .json to rebuild')
        self._context = self._engine.create_execution_context()
        expected = expected_io(self.height, self.width)
        found = {}
        for position in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(position)
            found[name] = (tuple(self._engine.get_tensor_shape(name)),
                           np.dtype(trt.nptype(self._engine.get_tensor_dtype(name))))
        if found != expected:
            raise BackendError(f'engine {engine_path} has tensors {found}; expected {expected}. Rebuild it: '
                               'night-seg build-engine')
        self._host = {name: np.empty(shape, dtype) for name, (shape, dtype) in expected.items()}
        self._device = {name: self._cuda.alloc(array.nbytes) for name, array in self._host.items()}
        for name, pointer in self._device.items():
            self._context.set_tensor_address(name, pointer)

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

    def _release(self) -> None:
        self._context = self._engine = self._runtime = None  # TensorRT objects go before the buffers they use
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
