"""CUDA for the TensorRT path: device query, device buffers, one stream; through cuda-python, pycuda or torch.

Whichever is installed, in this order (`open_cuda`): cuda-python (`pip install cuda-python`; on JetPack the wheel
matching its CUDA 12), pycuda (often already on a Jetson), a torch build with CUDA (Jetson torch wheels, desktop
torch). One small provider each behind `CudaRuntime`. All work in the device's primary context, the one TensorRT and
the CUDA runtime use: cuda-python and torch through the runtime API; pycuda retains it and makes it current on the
thread that opens it (pycuda needs a current context per thread), so the TensorRT backend makes every CUDA call,
this one included, from its one CUDA thread.
"""
from __future__ import annotations

import importlib.util
import re
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from night_seg_ros.errors import NightSegError

CUDA_DEVICE = re.compile(r'^(auto|cuda)(:(\d+))?$')


class CudaError(NightSegError, RuntimeError):
    """CUDA is not usable here (no library, no GPU, a failing call); the message says which and what to do."""


def device_index(device: str) -> int:
    """GPU index of a device parameter value: 'auto' and 'cuda' -> 0, 'cuda:N' -> N; 'cpu' raises CudaError."""
    match = CUDA_DEVICE.match(device)
    if match is None:
        raise CudaError(f'TensorRT runs on a CUDA GPU; device {device!r} is not one (allowed: auto, cuda, cuda:N)')
    return int(match.group(3) or 0)


class CudaRuntime(ABC):
    """One GPU, one stream, and device buffers addressed by integer pointers (what TensorRT's set_tensor_address
    takes). Host arrays are numpy arrays; copies are queued on the stream, `synchronize` waits for them."""

    name = ''

    @abstractmethod
    def gpu(self) -> tuple[str, str]:
        """(GPU name, compute capability 'major.minor')."""

    @property
    @abstractmethod
    def stream(self) -> int:
        """The stream handle, for execute_async_v3."""

    @abstractmethod
    def alloc(self, nbytes: int) -> int:
        """A device buffer of `nbytes` bytes; returns its address."""

    @abstractmethod
    def upload(self, pointer: int, host: np.ndarray) -> None:
        """Queue a copy of C-contiguous `host` to the device buffer at `pointer`."""

    @abstractmethod
    def download(self, host: np.ndarray, pointer: int) -> None:
        """Queue a copy of the device buffer at `pointer` into C-contiguous `host`."""

    @abstractmethod
    def synchronize(self) -> None:
        """Wait until everything queued on the stream is done."""

    @abstractmethod
    def close(self) -> None:
        """Free every buffer and the stream."""


class CudaPythonRuntime(CudaRuntime):
    """cuda-python's runtime bindings (`cuda.bindings.runtime`, or `cuda.cudart` before cuda-python 12.6)."""

    name = 'cuda-python'

    def __init__(self, index: int) -> None:
        """Select GPU `index` on this thread and create a stream."""
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart
        self.cudart = cudart
        self.index = index
        count = self._call(cudart.cudaGetDeviceCount(), 'cudaGetDeviceCount')
        if index >= count:
            raise CudaError(f'GPU {index} requested but CUDA sees {count} GPU(s)')
        self._call(cudart.cudaSetDevice(index), 'cudaSetDevice')
        self._stream = self._call(cudart.cudaStreamCreate(), 'cudaStreamCreate')
        self._buffers: list[Any] = []

    def _call(self, result: Any, what: str) -> Any:
        """Check a cuda-python result tuple (error, *values) and return the values (one value unpacked)."""
        error, *values = result if isinstance(result, tuple) else (result,)
        if error != self.cudart.cudaError_t.cudaSuccess:
            raise CudaError(f'{what} failed: {error}')
        return values[0] if len(values) == 1 else values

    def gpu(self) -> tuple[str, str]:
        """(GPU name, compute capability 'major.minor')."""
        props = self._call(self.cudart.cudaGetDeviceProperties(self.index), 'cudaGetDeviceProperties')
        name = props.name.decode(errors='replace') if isinstance(props.name, bytes) else str(props.name)
        return name.rstrip('\x00'), f'{props.major}.{props.minor}'

    @property
    def stream(self) -> int:
        """The stream handle, for execute_async_v3."""
        return int(self._stream)

    def alloc(self, nbytes: int) -> int:
        """A device buffer of `nbytes` bytes; returns its address."""
        pointer = self._call(self.cudart.cudaMalloc(nbytes), 'cudaMalloc')
        self._buffers.append(pointer)
        return int(pointer)

    def upload(self, pointer: int, host: np.ndarray) -> None:
        """Queue a copy of C-contiguous `host` to the device buffer at `pointer`."""
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self.cudart.cudaMemcpyAsync(pointer, host.ctypes.data, host.nbytes, kind, self._stream),
                   'cudaMemcpyAsync (host to device)')

    def download(self, host: np.ndarray, pointer: int) -> None:
        """Queue a copy of the device buffer at `pointer` into C-contiguous `host`."""
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self.cudart.cudaMemcpyAsync(host.ctypes.data, pointer, host.nbytes, kind, self._stream),
                   'cudaMemcpyAsync (device to host)')

    def synchronize(self) -> None:
        """Wait until everything queued on the stream is done."""
        self._call(self.cudart.cudaStreamSynchronize(self._stream), 'cudaStreamSynchronize')

    def close(self) -> None:
        """Free every buffer and the stream."""
        for pointer in self._buffers:
            self.cudart.cudaFree(pointer)
        self._buffers.clear()
        self.cudart.cudaStreamDestroy(self._stream)


class TorchCudaRuntime(CudaRuntime):
    """torch CUDA tensors as device buffers and a torch CUDA stream."""

    name = 'torch'

    def __init__(self, index: int) -> None:
        """Select GPU `index` and create a stream."""
        import torch

        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise CudaError(f'GPU {index} requested but torch {torch.__version__} sees '
                            f'{torch.cuda.device_count()} CUDA GPU(s)')
        self.torch = torch
        self.device = torch.device('cuda', index)
        torch.cuda.set_device(self.device)
        self._stream = torch.cuda.Stream(self.device)
        self._tensors: dict[int, Any] = {}

    def gpu(self) -> tuple[str, str]:
        """(GPU name, compute capability 'major.minor')."""
        major, minor = self.torch.cuda.get_device_capability(self.device)
        return self.torch.cuda.get_device_name(self.device), f'{major}.{minor}'

    @property
    def stream(self) -> int:
        """The stream handle, for execute_async_v3."""
        return int(self._stream.cuda_stream)

    def alloc(self, nbytes: int) -> int:
        """A device buffer of `nbytes` bytes; returns its address."""
        tensor = self.torch.empty(nbytes, dtype=self.torch.uint8, device=self.device)
        self._tensors[tensor.data_ptr()] = tensor
        return tensor.data_ptr()

    def _bytes(self, host: np.ndarray) -> Any:
        return self.torch.from_numpy(host.reshape(-1).view(np.uint8))

    def upload(self, pointer: int, host: np.ndarray) -> None:
        """Queue a copy of C-contiguous `host` to the device buffer at `pointer`."""
        with self.torch.cuda.stream(self._stream):
            self._tensors[pointer].copy_(self._bytes(host), non_blocking=True)

    def download(self, host: np.ndarray, pointer: int) -> None:
        """Queue a copy of the device buffer at `pointer` into C-contiguous `host`."""
        with self.torch.cuda.stream(self._stream):
            self._bytes(host).copy_(self._tensors[pointer], non_blocking=True)

    def synchronize(self) -> None:
        """Wait until everything queued on the stream is done."""
        self._stream.synchronize()

    def close(self) -> None:
        """Free every buffer and the stream."""
        self._tensors.clear()


class PycudaRuntime(CudaRuntime):
    """pycuda's driver API in the device's primary context, made current on the calling thread (call every method
    from that thread; `close` makes it current there no more)."""

    name = 'pycuda'

    def __init__(self, index: int) -> None:
        """Retain GPU `index`'s primary context, make it current on this thread and create a stream."""
        import pycuda.driver as driver

        self.driver = driver
        try:
            driver.init()
            count = driver.Device.count()
            if index >= count:
                raise CudaError(f'GPU {index} requested but pycuda sees {count} GPU(s)')
            self.device = driver.Device(index)
            self.context = self.device.retain_primary_context()
            self.context.push()
        except driver.Error as error:
            raise CudaError(f'pycuda cannot open GPU {index}: {error}') from error
        try:
            self._stream = driver.Stream()
        except driver.Error as error:
            self._release_context()
            raise CudaError(f'pycuda cannot create a stream: {error}') from error
        self._allocations: dict[int, Any] = {}

    def gpu(self) -> tuple[str, str]:
        """(GPU name, compute capability 'major.minor')."""
        major, minor = self.device.compute_capability()
        return self.device.name(), f'{major}.{minor}'

    @property
    def stream(self) -> int:
        """The stream handle, for execute_async_v3."""
        return int(self._stream.handle)

    def alloc(self, nbytes: int) -> int:
        """A device buffer of `nbytes` bytes; returns its address."""
        allocation = self.driver.mem_alloc(nbytes)
        self._allocations[int(allocation)] = allocation
        return int(allocation)

    def upload(self, pointer: int, host: np.ndarray) -> None:
        """Queue a copy of C-contiguous `host` to the device buffer at `pointer`."""
        self.driver.memcpy_htod_async(pointer, host, self._stream)

    def download(self, host: np.ndarray, pointer: int) -> None:
        """Queue a copy of the device buffer at `pointer` into C-contiguous `host`."""
        self.driver.memcpy_dtoh_async(host, pointer, self._stream)

    def synchronize(self) -> None:
        """Wait until everything queued on the stream is done."""
        self._stream.synchronize()

    def close(self) -> None:
        """Free every buffer and the stream, then release the primary context from this thread."""
        for allocation in self._allocations.values():
            allocation.free()
        self._allocations.clear()
        self._stream = None
        self._release_context()

    def _release_context(self) -> None:
        self.context.pop()
        self.context.detach()


PROVIDERS: tuple[tuple[str, type[CudaRuntime]], ...] = (
    ('cuda', CudaPythonRuntime), ('pycuda', PycudaRuntime), ('torch', TorchCudaRuntime))
"""(module, provider) in the order `open_cuda` tries them."""


def open_cuda(index: int) -> CudaRuntime:
    """CUDA on GPU `index` through the first provider that is installed and works (PROVIDERS: cuda-python, pycuda,
    torch); CudaError naming why each did not when none does. Call it on the thread that will make the CUDA calls."""
    reasons = []
    for module, runtime in PROVIDERS:
        if importlib.util.find_spec(module) is None:
            reasons.append(f'{runtime.name} is not installed')
            continue
        try:
            return runtime(index)
        except (ImportError, RuntimeError) as error:  # CudaError is a RuntimeError
            reasons.append(f'{runtime.name}: {error}')
    raise CudaError('no CUDA access for TensorRT: ' + '; '.join(reasons) +
                    ' (pip install cuda-python matching your CUDA version, or pycuda, or a torch build with CUDA)')
