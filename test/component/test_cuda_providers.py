"""The TensorRT backend's CUDA providers (night_seg_ros.tensorrt.cuda): cuda-python, pycuda or torch, whichever is
installed, behind one interface.

No GPU here, and neither cuda-python nor pycuda: both are stand-ins in these tests (`FakeCudaPython`, `FakePycuda`,
modules that keep "device" memory in host buffers and record the calls), checking that each provider calls its
library as documented (device query, buffers, copies on its stream, pycuda's context made current on the opening
thread and released on close) and that `open_cuda` picks the first that works. torch is the real (CPU) build: it is
checked to refuse, naming the missing GPU.
"""
from __future__ import annotations

import ctypes
import importlib.machinery
import sys
import types

import numpy as np
import pytest

from night_seg_ros.tensorrt import cuda
from night_seg_ros.tensorrt.cuda import CudaError, CudaPythonRuntime, PycudaRuntime, open_cuda


class DeviceMemory:
    """'Device' buffers of the stand-ins: host buffers with real addresses, copied with ctypes.memmove."""

    def __init__(self) -> None:
        self.buffers: dict[int, ctypes.Array] = {}

    def alloc(self, nbytes: int) -> int:
        buffer = ctypes.create_string_buffer(nbytes)
        self.buffers[ctypes.addressof(buffer)] = buffer
        return ctypes.addressof(buffer)

    def free(self, pointer: int) -> None:
        del self.buffers[pointer]


def stand_in_module(name: str, **attributes) -> types.ModuleType:
    """A module object importlib can find (it has a spec) with `attributes`."""
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attributes)
    return module


def fake_cuda_python(memory: DeviceMemory, calls: list[str]) -> types.ModuleType:
    """Stand-in for cuda-python's `cuda.bindings.runtime` (results are (error, value...) tuples)."""
    success = types.SimpleNamespace(cudaSuccess=0)
    kinds = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)

    def record(name, *values):
        calls.append(name)
        return (0, *values)

    def memcpy(destination, source, nbytes, kind, stream):
        ctypes.memmove(destination, source, nbytes)
        return record(f'cudaMemcpyAsync {kind}')

    return stand_in_module(
        'cuda.bindings.runtime', cudaError_t=success, cudaMemcpyKind=kinds,
        cudaGetDeviceCount=lambda: record('cudaGetDeviceCount', 1),
        cudaSetDevice=lambda index: record('cudaSetDevice'),
        cudaStreamCreate=lambda: record('cudaStreamCreate', 77),
        cudaGetDeviceProperties=lambda index: record(
            'cudaGetDeviceProperties', types.SimpleNamespace(name=b'Orin\x00\x00', major=8, minor=7)),
        cudaMalloc=lambda nbytes: record('cudaMalloc', memory.alloc(nbytes)),
        cudaMemcpyAsync=memcpy,
        cudaStreamSynchronize=lambda stream: record('cudaStreamSynchronize'),
        cudaFree=lambda pointer: (memory.free(pointer), record('cudaFree'))[1],
        cudaStreamDestroy=lambda stream: record('cudaStreamDestroy'))


def fake_pycuda(memory: DeviceMemory, calls: list[str], gpus: int = 1) -> types.ModuleType:
    """Stand-in for `pycuda.driver` (the driver API: contexts current per thread)."""

    class Error(Exception):
        pass

    class Context:
        def push(self):
            calls.append('push')

        def pop(self):
            calls.append('pop')

        def detach(self):
            calls.append('detach')

    class Device:
        def __init__(self, index):
            self.index = index

        @staticmethod
        def count():
            return gpus

        def name(self):
            return 'Orin'

        def compute_capability(self):
            return (8, 7)

        def retain_primary_context(self):
            calls.append('retain_primary_context')
            return Context()

    class Stream:
        handle = 88

        def synchronize(self):
            calls.append('synchronize')

    class Allocation:
        def __init__(self, nbytes):
            self.pointer = memory.alloc(nbytes)

        def __int__(self):
            return self.pointer

        def free(self):
            memory.free(self.pointer)
            calls.append('free')

    def htod(destination, source, stream):
        assert isinstance(stream, Stream)
        ctypes.memmove(int(destination), source.ctypes.data, source.nbytes)
        calls.append('memcpy_htod_async')

    def dtoh(destination, source, stream):
        assert isinstance(stream, Stream)
        ctypes.memmove(destination.ctypes.data, int(source), destination.nbytes)
        calls.append('memcpy_dtoh_async')

    return stand_in_module('pycuda.driver', Error=Error, init=lambda: calls.append('init'), Device=Device,
                           Stream=Stream, mem_alloc=Allocation, memcpy_htod_async=htod, memcpy_dtoh_async=dtoh)


@pytest.fixture
def stand_ins(monkeypatch):
    """Install the stand-ins as the modules `import cuda.bindings.runtime` and `import pycuda.driver` find; torch is
    hidden unless a test asks for it. Returns (memory, calls)."""
    memory, calls = DeviceMemory(), []

    def install(cuda_python: bool = True, pycuda: bool = True, gpus: int = 1):
        if cuda_python:
            runtime = fake_cuda_python(memory, calls)
            bindings = stand_in_module('cuda.bindings', runtime=runtime)
            monkeypatch.setitem(sys.modules, 'cuda', stand_in_module('cuda', bindings=bindings))
            monkeypatch.setitem(sys.modules, 'cuda.bindings', bindings)
            monkeypatch.setitem(sys.modules, 'cuda.bindings.runtime', runtime)
        else:
            monkeypatch.setitem(sys.modules, 'cuda', None)  # not installed
        if pycuda:
            driver = fake_pycuda(memory, calls, gpus)
            monkeypatch.setitem(sys.modules, 'pycuda', stand_in_module('pycuda', driver=driver))
            monkeypatch.setitem(sys.modules, 'pycuda.driver', driver)
        else:
            monkeypatch.setitem(sys.modules, 'pycuda', None)
        monkeypatch.setitem(sys.modules, 'torch', None)
        return memory, calls

    return install


def round_trip(runtime) -> np.ndarray:
    """Upload an array to a new device buffer, download it into another, as the backend does each frame."""
    sent = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    received = np.zeros_like(sent)
    pointer = runtime.alloc(sent.nbytes)
    runtime.upload(pointer, sent)
    runtime.download(received, pointer)
    runtime.synchronize()
    np.testing.assert_array_equal(received, sent)
    return received


def test_cuda_python_provider(stand_ins):
    memory, calls = stand_ins()
    runtime = open_cuda(0)
    assert isinstance(runtime, CudaPythonRuntime)
    assert runtime.gpu() == ('Orin', '8.7') and runtime.stream == 77
    round_trip(runtime)
    runtime.close()
    assert memory.buffers == {} and calls[-1] == 'cudaStreamDestroy'


def test_pycuda_provider_when_cuda_python_is_absent(stand_ins):
    memory, calls = stand_ins(cuda_python=False)
    runtime = open_cuda(0)
    assert isinstance(runtime, PycudaRuntime)
    assert calls[:3] == ['init', 'retain_primary_context', 'push']  # current on the thread that opened it
    assert runtime.gpu() == ('Orin', '8.7') and runtime.stream == 88
    round_trip(runtime)
    assert 'memcpy_htod_async' in calls and 'synchronize' in calls
    runtime.close()
    assert memory.buffers == {} and calls[-3:] == ['free', 'pop', 'detach']


def test_pycuda_refuses_a_gpu_it_does_not_see(stand_ins):
    stand_ins(cuda_python=False, gpus=1)
    with pytest.raises(CudaError, match=r'GPU 1 requested but pycuda sees 1 GPU\(s\)'):
        PycudaRuntime(1)


def test_none_installed_names_all_three(stand_ins):
    stand_ins(cuda_python=False, pycuda=False)
    with pytest.raises(CudaError, match='cuda-python is not installed; pycuda is not installed; torch is not '
                                        'installed .*or pycuda, or a torch build with CUDA'):
        open_cuda(0)


def test_torch_without_a_gpu_says_so():
    pytest.importorskip('torch')
    with pytest.raises(CudaError, match=r'torch .* sees 0 CUDA GPU\(s\)'):
        cuda.TorchCudaRuntime(0)


def test_the_providers_are_tried_in_the_documented_order():
    assert [runtime.name for _module, runtime in cuda.PROVIDERS] == ['cuda-python', 'pycuda', 'torch']
