"""One error root: every exception class of night_seg_ros derives from NightSegError, keeping its built-in base."""
import importlib
import inspect
import pkgutil

import night_seg_ros
from night_seg_ros.errors import NightSegError


def runtime_exceptions() -> dict[str, type[BaseException]]:
    """'module.Class' -> every exception class defined in a night_seg_ros module."""
    found = {}
    for info in pkgutil.walk_packages(night_seg_ros.__path__, 'night_seg_ros.'):
        if info.name.endswith('__main__'):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f'{info.name}.{name}'] = value
    return found


def test_every_runtime_error_is_a_night_seg_error_and_keeps_its_builtin_base():
    errors = runtime_exceptions()
    assert {'BackendError', 'BagError', 'BundleError', 'CudaError', 'EngineBuildError', 'EngineCacheError',
            'ExportError', 'FrameSourceError', 'ImageDecodeError', 'StartupError'} <= {
        name.rsplit('.', 1)[1] for name in errors}
    outside = sorted(name for name, error in errors.items() if not issubclass(error, NightSegError))
    assert outside == []
    for name, error in errors.items():
        if error is not NightSegError:
            assert issubclass(error, (ValueError, RuntimeError)), name
