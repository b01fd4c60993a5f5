"""The engine cache: cache keys, JSON sidecars, and finding the engine that fits the running system.

A TensorRT engine only runs on the TensorRT version and GPU it was built for, so every engine in a cache folder is
named by its key and has a sidecar (`<engine>.json`) recording how it was made:

    fp16_384x768_sm87_trt10.3.0.30_1a2b3c4d5e6f.engine
    fp16_384x768_sm87_trt10.3.0.30_1a2b3c4d5e6f.json

key = (sha256 of the bundle's model.onnx, TensorRT version, GPU compute capability, precision, input shape, DLA
core). A render engine (the rendering composed around the model for one camera, render_graph.py) is keyed the same
way by its composed graph and the camera's size. `find_engine` returns the engine for a key only when its sidecar
matches that key and the engine file is the one the sidecar describes (its sha256); anything else raises
`EngineCacheError` naming the mismatching fields, so a stale or foreign engine is refused before TensorRT would fail
to deserialize it. Pure Python: no TensorRT, no CUDA.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from night_seg_ros import __version__
from night_seg_ros.errors import NightSegError
from night_seg_ros.files import atomic_write_bytes

if TYPE_CHECKING:
    from night_seg_ros.render_graph import RenderTarget

__all__ = ['EngineCacheError', 'EngineKey', 'EnginePolicy', 'Sidecar', 'SystemInfo',
           'find_engine', 'resolve_engine', 'write_engine']

SIDECAR_FORMAT = 'night-seg-engine/1'
ENGINE_SUFFIX = '.engine'
SIDECAR_SUFFIX = '.json'


class EngineCacheError(NightSegError, RuntimeError):
    """No usable engine for a key; the message names what is missing or which fields do not match."""


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
    the GPU.
    """

    onnx_sha256: str
    tensorrt_version: str
    compute_capability: str
    precision: str
    input_shape: tuple[int, int]
    dla_core: int | None = None

    @property
    def file_stem(self) -> str:
        """File name of the engine and its sidecar, without suffix."""
        height, width = self.input_shape
        stem = (f'{self.precision}_{height}x{width}_sm{self.compute_capability.replace(".", "")}_'
                f'trt{self.tensorrt_version}_{self.onnx_sha256[:12]}')
        return stem if self.dla_core is None else f'{stem}_dla{self.dla_core}'

    def mismatches(self, built_for: EngineKey) -> list[str]:
        """One phrase per field where `built_for` (an engine's key) differs from this (the wanted) key."""
        labels = {'onnx_sha256': 'ONNX sha256', 'tensorrt_version': 'TensorRT', 'compute_capability':
                  'compute capability', 'precision': 'precision', 'input_shape': 'input shape', 'dla_core': 'DLA core'}
        phrases = []
        for item in fields(self):
            wanted, built = getattr(self, item.name), getattr(built_for, item.name)
            if wanted != built:
                if item.name == 'onnx_sha256':
                    wanted, built = wanted[:12], built[:12]
                phrases.append(f'{labels[item.name]} {_show(built)} (needed: {_show(wanted)})')
        return phrases


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
                        strings['precision'], (shape[0], shape[1]), dla)
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
        if built.onnx_sha256 == key.onnx_sha256 or built.input_shape == key.input_shape:
            others.append(f'{side.with_suffix(ENGINE_SUFFIX).name} was built for {", ".join(key.mismatches(built))}')
    found = ('; '.join(others)) if others else 'none for this model'
    raise EngineCacheError(f'no TensorRT engine {engine_path.name} in {cache_dir} (engines there: {found})')


@dataclass(frozen=True)
class EnginePolicy:
    """Where a runtime looks for its engine and what it does when none fits.

    cache_dir: engine folder ('' = the bundle's engines/). build: build a missing or stale engine (takes minutes)
    instead of failing. dla_core: run on this DLA core, None for the GPU.
    """

    cache_dir: str = ''
    build: bool = False
    dla_core: int | None = None

    def folder(self, bundle_engines_dir: Path) -> Path:
        """The engine folder, given the bundle's own engines/ folder."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else bundle_engines_dir


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


def resolve_engine(cache_dir: Path, key: EngineKey, build: Callable[[], Path] | None, command: str) -> Path:
    """The engine for `key` in `cache_dir`; when there is none that fits, `build()` it, or raise EngineCacheError.

    build: None forbids building; the error then names the mismatch and the `command` that builds the engine.
    A built engine is checked like a cached one.
    """
    try:
        return find_engine(cache_dir, key)
    except EngineCacheError as error:
        if build is None:
            raise EngineCacheError(f'{error}. Build it with: {command}') from error
    build()
    return find_engine(cache_dir, key)
