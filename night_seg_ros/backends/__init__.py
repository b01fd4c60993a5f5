"""Inference backends behind one interface, and the registry that picks one by name.

A backend's library is imported only when that backend is created: a vehicle running onnxruntime needs no torch.
`auto` tries tensorrt, then onnxruntime (CUDA, then CPU), then torch, and names why each skipped one was skipped
when none works.
"""
from __future__ import annotations

import importlib.util
import re

from night_seg_ros.backends.base import Backend, BackendError
from night_seg_ros.bundle import Bundle

BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime', 'torch')
PRECISIONS = ('fp32', 'fp16', 'int8')
DEVICE_PATTERN = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')
DEVICES = 'auto, cpu, cuda, cuda:N'
TENSORRT_MISSING = ('the tensorrt backend is not available in this version of night_seg_ros (the engine builder and '
                    'TensorRT runtime are still to come); use backend:=onnxruntime (onnxruntime-gpu runs on CUDA) or '
                    'backend:=torch')

__all__ = ['BACKEND_NAMES', 'DEVICES', 'DEVICE_PATTERN', 'PRECISIONS', 'Backend', 'BackendError', 'create_backend']


def _create(name: str, bundle: Bundle, device: str, precision: str, num_threads: int) -> Backend:
    if name == 'onnxruntime':
        if importlib.util.find_spec('onnxruntime') is None:
            raise BackendError('backend onnxruntime needs the onnxruntime package (pip install onnxruntime, or '
                               'onnxruntime-gpu for CUDA)')
        from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(bundle, device, num_threads)
    if name == 'torch':
        if importlib.util.find_spec('torch') is None or importlib.util.find_spec('transformers') is None:
            raise BackendError('backend torch needs the torch and transformers packages')
        from night_seg_ros.backends.torch_backend import TorchBackend

        return TorchBackend(bundle, device, precision, num_threads)
    raise BackendError(TENSORRT_MISSING)


def create_backend(name: str, bundle: Bundle, device: str = 'auto', precision: str = 'fp16',
                   num_threads: int = 0) -> Backend:
    """Create backend `name` ('auto', 'tensorrt', 'onnxruntime' or 'torch') for `bundle`.

    device: 'auto', 'cpu', 'cuda' or 'cuda:N'. precision: 'fp32', 'fp16' (used on CUDA) or 'int8' (TensorRT only).
    num_threads: CPU threads for inference, 0 for the library's default. Raises BackendError saying why not.
    """
    if name not in BACKEND_NAMES:
        raise BackendError(f'unknown backend {name!r}; allowed: {", ".join(BACKEND_NAMES)}')
    if not DEVICE_PATTERN.match(device):
        raise BackendError(f'unknown device {device!r}; allowed: {DEVICES}')
    if precision not in PRECISIONS:
        raise BackendError(f'unknown precision {precision!r}; allowed: {", ".join(PRECISIONS)}')
    if precision == 'int8' and name != 'tensorrt':
        raise BackendError(f'precision int8 needs backend tensorrt; backend {name} runs fp32 or fp16')
    if name != 'auto':
        return _create(name, bundle, device, precision, num_threads)
    reasons = []
    for candidate in BACKEND_NAMES[1:]:
        if candidate == 'onnxruntime' and not bundle.onnx_path.is_file():
            reasons.append(f'onnxruntime: bundle has no model.onnx (night-seg export {bundle.path})')
            continue
        try:
            return _create(candidate, bundle, device, precision, num_threads)
        except BackendError as error:
            reasons.append(f'{candidate}: {error}')
    raise BackendError('no backend can run here: ' + '; '.join(reasons))
