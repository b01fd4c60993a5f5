"""Inference backends behind one interface, and the registry that picks one by name.

A backend's library is imported only when that backend is created: a vehicle running onnxruntime needs no torch.
`auto` tries tensorrt (only with an engine already built for this system: auto never builds one), then onnxruntime
(CUDA, then CPU), then torch; the chosen backend's `skipped` names why each earlier one was skipped, and the error
names them all when none works.
"""
from __future__ import annotations

import importlib.util
from dataclasses import replace

from night_seg_ros.backends.base import Backend, BackendError
from night_seg_ros.bundle import Bundle
from night_seg_ros.tensorrt.cache import EnginePolicy
from night_seg_ros.vocabulary import BACKEND_NAMES, DEVICE_PATTERN, DEVICES, PRECISIONS

__all__ = ['Backend', 'BackendError', 'create_backend']


def _create(name: str, bundle: Bundle, device: str, precision: str, num_threads: int,
            engine: EnginePolicy | None) -> Backend:
    """Backend `name` (not auto); BackendError when its library is missing or fails to import here."""
    try:
        return _construct(name, bundle, device, precision, num_threads, engine)
    except ImportError as error:  # a library that is installed but broken (a missing shared object, say)
        raise BackendError(f'backend {name} cannot import its library here: {error}') from error


def _construct(name: str, bundle: Bundle, device: str, precision: str, num_threads: int,
               engine: EnginePolicy | None) -> Backend:
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
    from night_seg_ros.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(bundle, device, precision, engine)


def create_backend(name: str, bundle: Bundle, device: str = 'auto', precision: str = 'fp16',
                   num_threads: int = 0, engine: EnginePolicy | None = None) -> Backend:
    """Create backend `name` ('auto', 'tensorrt', 'onnxruntime' or 'torch') for `bundle`.

    device: 'auto', 'cpu', 'cuda' or 'cuda:N'. precision: 'fp32', 'fp16' (used on CUDA) or 'int8' (TensorRT only).
    num_threads: CPU threads for inference, 0 for the library's default. engine: where the tensorrt backend finds its
    engine and whether it may build one (None: the bundle's engines/, no building). Raises BackendError saying why not.
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
        return _create(name, bundle, device, precision, num_threads, engine)
    reasons = []
    for candidate in BACKEND_NAMES[1:]:
        if candidate in ('onnxruntime', 'tensorrt') and not bundle.onnx_path.is_file():
            reasons.append(f'{candidate}: bundle has no model.onnx (night-seg export {bundle.path})')
            continue
        if candidate == 'tensorrt' and device == 'cpu':
            reasons.append('tensorrt: device is cpu')
            continue
        try:
            backend = _create(candidate, bundle, device, precision, num_threads, _without_building(engine))
        except BackendError as error:
            reasons.append(f'{candidate}: {error}')
            continue
        backend.skipped = tuple(reasons)
        return backend
    raise BackendError('no backend can run here: ' + '; '.join(reasons))


def _without_building(engine: EnginePolicy | None) -> EnginePolicy:
    """`engine` with building switched off: auto uses an engine only when one is already built for this system."""
    return replace(engine or EnginePolicy(), build=False)
