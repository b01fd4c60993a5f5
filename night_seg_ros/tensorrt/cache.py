"""The engine cache: cache keys, JSON sidecars, finding the engine that fits the running system, and building one
safely when none does.

A TensorRT engine only runs on the TensorRT version and GPU it was built for, so every engine in a cache folder is
named by its key and has a sidecar (`<engine>.json`) recording how it was made:

    fp16_384x768_sm87_orin_trt10.3.0.30_1a2b3c4d5e6f.engine
    fp16_384x768_sm87_orin_trt10.3.0.30_1a2b3c4d5e6f.json

key = (sha256 of the bundle's model.onnx, TensorRT version, GPU compute capability, precision, input shape, DLA
core, GPU name). A render engine (the rendering composed around the model for one camera, render_graph.py) is keyed
the same way by its composed graph and the camera's size. `find_engine` returns the engine for a key only when its
sidecar matches that key and the engine file is the one the sidecar describes (its sha256); anything else raises
`EngineCacheError` naming the mismatching fields, so a stale or foreign engine is refused before TensorRT would fail
to deserialize it.

`resolve_engine` builds a missing engine where allowed, safely for a first start on a vehicle: into a folder checked
to be writable first (the bundle's engines/ in a read-only install falls back to the per-user cache, saying so),
one process at a time per engine key (`engine_lock`: N cameras starting together build once, the others wait and load
that engine), stoppable while it waits (`cancelled`, e.g. Ctrl-C). Pure Python: no TensorRT, no CUDA.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from night_seg_ros import __version__
from night_seg_ros.errors import NightSegError
from night_seg_ros.files import atomic_write_bytes

if TYPE_CHECKING:
    from night_seg_ros.render_graph import RenderTarget

__all__ = ['BuildCancelled', 'EngineCacheError', 'EngineKey', 'EnginePolicy', 'Sidecar', 'SystemInfo',
           'engine_lock', 'find_engine', 'resolve_engine', 'user_engine_cache', 'write_engine']

SIDECAR_FORMAT = 'night-seg-engine/1'
ENGINE_SUFFIX = '.engine'
SIDECAR_SUFFIX = '.json'
LOCK_SUFFIX = '.lock'
LOCK_POLL_S = 0.5
"""How often a process waiting for another's build checks whether it may go on, or was asked to stop."""


class EngineCacheError(NightSegError, RuntimeError):
    """No usable engine for a key; the message names what is missing or which fields do not match."""


class BuildCancelled(EngineCacheError):
    """The build, or the wait for another process's build, was stopped (Ctrl-C); nothing was written."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of the file at `path`, read in `chunk`-byte pieces."""
    digest = hashlib.sha256()
    with path.open('rb') as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SystemInfo:
    """What an engine is tied to on the machine that runs it: TensorRT version and the GPU."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # 'major.minor', e.g. '8.7' (Jetson Orin), '8.9' (RTX 40xx)


@dataclass(frozen=True)
class EngineKey:
    """The cache key: an engine is valid only for exactly these values.

    input_shape: (height, width) of the model input in pixels. dla_core: the DLA core the engine runs on, None for
    the GPU. gpu_name: the GPU's name as CUDA reports it (two GPUs of one compute capability, an RTX 4080 and a 4090,
    get engines of their own: TensorRT tunes an engine to the exact GPU).
    """

    onnx_sha256: str
    tensorrt_version: str
    compute_capability: str
    precision: str
    input_shape: tuple[int, int]
    dla_core: int | None = None
    gpu_name: str = ''

    @property
    def file_stem(self) -> str:
        """File name of the engine and its sidecar, without suffix."""
        height, width = self.input_shape
        gpu = gpu_slug(self.gpu_name)
        stem = (f'{self.precision}_{height}x{width}_sm{self.compute_capability.replace(".", "")}_'
                f'{gpu + "_" if gpu else ""}trt{self.tensorrt_version}_{self.onnx_sha256[:12]}')
        return stem if self.dla_core is None else f'{stem}_dla{self.dla_core}'

    def mismatches(self, built_for: EngineKey) -> list[str]:
        """One phrase per field where `built_for` (an engine's key) differs from this (the wanted) key."""
        labels = {'onnx_sha256': 'ONNX sha256', 'tensorrt_version': 'TensorRT', 'compute_capability':
                  'compute capability', 'precision': 'precision', 'input_shape': 'input shape', 'dla_core': 'DLA core',
                  'gpu_name': 'GPU'}
        phrases = []
        for item in fields(self):
            wanted, built = getattr(self, item.name), getattr(built_for, item.name)
            if wanted != built:
                if item.name == 'onnx_sha256':
                    wanted, built = wanted[:12], built[:12]
                phrases.append(f'{labels[item.name]} {_show(built)} (needed: {_show(wanted)})')
        return phrases


def gpu_slug(name: str, limit: int = 24) -> str:
    """The GPU name as a file-name part: 'NVIDIA GeForce RTX 4090' -> 'geforce-rtx-4090', 'Orin' -> 'orin'."""
    words = re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-').split('-')
    return '-'.join(word for word in words if word and word != 'nvidia')[:limit].strip('-')


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return 'x'.join(str(v) for v in value)
    return 'GPU' if value is None else str(value)


@dataclass(frozen=True)
class Sidecar:
    """The JSON written next to an engine: its key, the GPU and how it was built."""

    key: EngineKey
    gpu_name: str
    engine_sha256: str
    build: dict[str, Any] = field(default_factory=dict)  # workspace, typing, timing cache, calibration, seconds
    created: str = ''
    code_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        """The sidecar as a JSON-ready dictionary (format, key fields flat, then the rest)."""
        key = asdict(self.key)
        key['input_shape'] = list(self.key.input_shape)
        return {'format': SIDECAR_FORMAT, **key, 'gpu_name': self.gpu_name, 'engine_sha256': self.engine_sha256,
                'build': self.build, 'created': self.created, 'code_version': self.code_version}


def sidecar_path(engine_path: Path) -> Path:
    """The sidecar file of `engine_path`."""
    return engine_path.with_suffix(SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> Sidecar:
    """Read and validate a sidecar file; raise EngineCacheError naming the defect."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EngineCacheError(f'engine sidecar {path} is not readable JSON ({error})') from error
    if not isinstance(data, dict) or data.get('format') != SIDECAR_FORMAT:
        raise EngineCacheError(f'engine sidecar {path}: "format" must be {SIDECAR_FORMAT!r}')
    try:
        shape = data['input_shape']
        dla = data.get('dla_core')
        if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) for v in shape)):
            raise TypeError(f'input_shape must be [height, width]; got {shape!r}')
        if dla is not None and not isinstance(dla, int):
            raise TypeError(f'dla_core must be an integer or null; got {dla!r}')
        strings = {name: data[name] for name in ('onnx_sha256', 'tensorrt_version', 'compute_capability',
                                                 'precision', 'gpu_name', 'engine_sha256')}
        bad = [name for name, value in strings.items() if not isinstance(value, str)]
        if bad:
            raise TypeError(f'{", ".join(bad)} must be strings')
        key = EngineKey(strings['onnx_sha256'], strings['tensorrt_version'], strings['compute_capability'],
                        strings['precision'], (shape[0], shape[1]), dla, strings['gpu_name'])
        build = data.get('build', {})
        return Sidecar(key, strings['gpu_name'], strings['engine_sha256'],
                       build if isinstance(build, dict) else {}, str(data.get('created', '')),
                       str(data.get('code_version', '')))
    except (KeyError, TypeError) as error:
        raise EngineCacheError(f'engine sidecar {path} is incomplete: {error}') from error


def write_engine(cache_dir: Path, key: EngineKey, gpu_name: str, serialized: bytes,
                 build: dict[str, Any]) -> Path:
    """Write a serialized engine and its sidecar into `cache_dir` (each atomically, engine first); return its path."""
    engine_path = cache_dir / (key.file_stem + ENGINE_SUFFIX)
    atomic_write_bytes(engine_path, serialized)
    sidecar = Sidecar(key, gpu_name, hashlib.sha256(serialized).hexdigest(), build,
                      time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    atomic_write_bytes(sidecar_path(engine_path), (json.dumps(sidecar.to_json(), indent=2) + '\n').encode())
    return engine_path


def check_engine(engine_path: Path, key: EngineKey) -> Sidecar:
    """Check that `engine_path` was built for `key` and is intact; return its sidecar or raise EngineCacheError."""
    side = sidecar_path(engine_path)
    if not engine_path.is_file():
        raise EngineCacheError(f'engine {engine_path} does not exist')
    if not side.is_file():
        raise EngineCacheError(f'engine {engine_path} has no sidecar {side.name}; refusing an engine of unknown '
                               'origin (rebuild it with night-seg build-engine)')
    sidecar = read_sidecar(side)
    problems = key.mismatches(sidecar.key)
    if problems:
        raise EngineCacheError(f'engine {engine_path} was built for ' + ', '.join(problems))
    actual = sha256_file(engine_path)
    if actual != sidecar.engine_sha256:
        raise EngineCacheError(f'engine {engine_path} is not the file its sidecar describes (sha256 {actual[:12]}, '
                               f'sidecar says {sidecar.engine_sha256[:12]}): truncated or replaced')
    return sidecar


def find_engine(cache_dir: Path, key: EngineKey) -> Path:
    """The engine in `cache_dir` for `key`, checked against its sidecar.

    Raises EngineCacheError when there is none: the message names the folder and, for each other engine of the same
    model there (same ONNX or same input shape), the fields in which it differs from `key`.
    """
    engine_path = cache_dir / (key.file_stem + ENGINE_SUFFIX)
    if engine_path.is_file():
        check_engine(engine_path, key)
        return engine_path
    others = []
    for side in sorted(cache_dir.glob('*' + SIDECAR_SUFFIX)) if cache_dir.is_dir() else []:
        try:
            built = read_sidecar(side).key
        except EngineCacheError:
            continue
        if built == key:  # the engine for this key under another name (an older naming scheme)
            check_engine(side.with_suffix(ENGINE_SUFFIX), key)
            return side.with_suffix(ENGINE_SUFFIX)
        if built.onnx_sha256 == key.onnx_sha256 or built.input_shape == key.input_shape:
            others.append(f'{side.with_suffix(ENGINE_SUFFIX).name} was built for {", ".join(key.mismatches(built))}')
    found = ('; '.join(others)) if others else 'none for this model'
    raise EngineCacheError(f'no TensorRT engine {engine_path.name} in {cache_dir} (engines there: {found})')


def user_engine_cache(environ: dict[str, str] | None = None) -> Path:
    """The per-user engine folder: $XDG_CACHE_HOME/night_seg_ros/engines (~/.cache/night_seg_ros/engines)."""
    environ = os.environ if environ is None else environ
    base = environ.get('XDG_CACHE_HOME') or str(Path('~/.cache').expanduser())
    return Path(base) / 'night_seg_ros' / 'engines'


@dataclass(frozen=True)
class EnginePolicy:
    """Where a runtime looks for its engine, what it does when none fits, and how a build reports and stops.

    cache_dir: engine folder ('' = the bundle's engines/, and the per-user cache where that is read-only). build:
    build a missing or stale engine (takes minutes) instead of failing. dla_core: run on this DLA core, None for the
    GPU. log: where a build says what it does (the node's logger; None: print). cancelled: asked between build steps
    and while waiting for another process's build; True stops it (BuildCancelled).
    """

    cache_dir: str = ''
    build: bool = False
    dla_core: int | None = None
    log: Callable[[str], None] | None = field(default=None, compare=False)
    cancelled: Callable[[], bool] | None = field(default=None, compare=False)

    def folder(self, bundle_engines_dir: Path) -> Path:
        """The engine folder, given the bundle's own engines/ folder."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else bundle_engines_dir

    def fallback(self, bundle_engines_dir: Path) -> Path | None:
        """The per-user folder used where the bundle's engines/ is read-only (None when cache_dir is set: a folder
        the user chose is not replaced behind their back)."""
        return None if self.cache_dir else user_engine_cache()


def writable(folder: Path) -> bool:
    """Whether this process can create files in `folder` (made first where missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix='.write_check_'):
            pass
    except OSError:
        return False
    return True


@contextmanager
def engine_lock(folder: Path, key: EngineKey, log: Callable[[str], None] = print,
                cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
    """Hold the build lock of `key` in `folder` (an advisory lock file beside the engine, across processes).

    A second process waits, saying so, until the first ends its build (or dies: the kernel releases its lock), checking
    `cancelled` every LOCK_POLL_S seconds (BuildCancelled when it is True).
    """
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / (key.file_stem + LOCK_SUFFIX)).open('a') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f'another process is building the engine {key.file_stem} in {folder}; waiting for it to finish '
                '(one build per engine at a time)')
            while True:
                if cancelled is not None and cancelled():
                    raise BuildCancelled(f'stopped while waiting for another process to build {key.file_stem}') \
                        from None
                time.sleep(LOCK_POLL_S)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    continue
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_command(bundle_path: Path, key: EngineKey, cache_dir: Path, default_cache_dir: Path,
                  render: RenderTarget | None = None) -> str:
    """The `night-seg build-engine` command line that builds the engine of `key` (the render engine of `render`)."""
    parts = ['night-seg build-engine', str(bundle_path), '--precision', key.precision]
    if render is not None:
        height, width = render.camera_size
        parts += ['--camera-size', f'{width}x{height}', '--output-resolution', render.output_resolution,
                  '--camera-order', render.camera_order]
    if key.dla_core is not None:
        parts += ['--dla-core', str(key.dla_core)]
    if cache_dir != default_cache_dir:
        parts += ['--cache-dir', str(cache_dir)]
    if key.precision == 'int8':
        parts += ['--calibration', 'FOLDER_OR_BAG']
    return ' '.join(parts)


def resolve_engine(cache_dir: Path, key: EngineKey, build: Callable[[Path], Path] | None, command: str,
                   fallback_dir: Path | None = None, log: Callable[[str], None] = print,
                   cancelled: Callable[[], bool] | None = None) -> Path:
    """The engine for `key` in `cache_dir` (or in `fallback_dir`); when none fits, `build(folder)` it, or raise.

    build: None forbids building; the EngineCacheError then names the mismatch and the `command` that builds the
    engine. Building goes into `cache_dir` when it is writable, else into `fallback_dir` (the per-user cache, with a
    line to `log`), else EngineCacheError naming the folder, all before any minutes are spent; under `engine_lock`, so
    a process that waited for another's build finds that engine and builds nothing. A built engine is checked like a
    cached one.
    """
    folders = [cache_dir] + ([fallback_dir] if fallback_dir is not None and fallback_dir != cache_dir else [])
    reason: EngineCacheError | None = None
    for folder in folders:
        try:
            return find_engine(folder, key)
        except EngineCacheError as error:
            reason = reason or error  # the wanted folder's reason
    if build is None:
        raise EngineCacheError(f'{reason}. Build it with: {command}')
    target = next((folder for folder in folders if writable(folder)), None)
    if target is None:
        raise EngineCacheError(f'{reason}; and {cache_dir} is not writable here, so the engine cannot be built there '
                               '(set engine_cache_dir to a writable folder, or build it with: '
                               f'{command} --cache-dir FOLDER)')
    if target != cache_dir:
        log(f'{cache_dir} is read-only here: building the engine into the per-user cache {target} instead')
    with engine_lock(target, key, log, cancelled):
        try:
            return find_engine(target, key)  # another process built it while this one waited
        except EngineCacheError:
            pass
        build(target)
        return find_engine(target, key)
