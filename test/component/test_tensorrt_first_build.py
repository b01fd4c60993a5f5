"""TensorRT's first run made safe, in the parts that run without TensorRT and a GPU: one build per engine key across
processes (the second waits, then loads that engine), a read-only bundle folder falling back to the per-user cache,
the GPU name in the key, and a build that reports through the caller's log and stops when asked.

TensorRT itself is a stand-in here (`FakeTensorRT`, recording what the builder asks of it): these tests check the
builder's use of its logger, progress monitor and results, not TensorRT. The build itself has not run here.
"""
from __future__ import annotations

import enum
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from night_seg_ros.bundle import read_bundle
from night_seg_ros.tensorrt import builder
from night_seg_ros.tensorrt.builder import BuildOptions, EngineBuildError, build_engine, compile_engine
from night_seg_ros.tensorrt.cache import (
    BuildCancelled,
    EngineCacheError,
    EngineKey,
    EnginePolicy,
    SystemInfo,
    engine_lock,
    find_engine,
    gpu_slug,
    resolve_engine,
    user_engine_cache,
    write_engine,
)

KEY = EngineKey('ab' * 32, '10.3.0.30', '8.7', 'fp16', (64, 128), gpu_name='Orin')
ENGINE_BYTES = b'serialized engine bytes'
READ_ONLY = Path('/proc/self/night_seg_engines')  # no process may create it, root included
ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_name_is_in_the_key_and_the_file_name(tmp_path: Path) -> None:
    assert gpu_slug('NVIDIA GeForce RTX 4090') == 'geforce-rtx-4090' and gpu_slug('Orin') == 'orin'
    rtx_4080 = replace(KEY, compute_capability='8.9', gpu_name='NVIDIA GeForce RTX 4080')
    rtx_4090 = replace(rtx_4080, gpu_name='NVIDIA GeForce RTX 4090')
    assert rtx_4080.file_stem != rtx_4090.file_stem and '_sm89_geforce-rtx-4090_' in rtx_4090.file_stem
    write_engine(tmp_path, rtx_4080, rtx_4080.gpu_name, ENGINE_BYTES, {})
    with pytest.raises(EngineCacheError, match=r'built for GPU NVIDIA GeForce RTX 4080 \(needed: NVIDIA GeForce RTX '
                                               r'4090\)'):
        find_engine(tmp_path, rtx_4090)


def test_an_engine_under_an_older_file_name_is_found_by_its_sidecar(tmp_path: Path) -> None:
    path = write_engine(tmp_path, KEY, 'Orin', ENGINE_BYTES, {})
    older = tmp_path / 'fp16_64x128_sm87_trt10.3.0.30_abababababab'  # before the GPU name was in the file name
    path.rename(older.with_suffix('.engine'))
    path.with_suffix('.json').rename(older.with_suffix('.json'))
    assert find_engine(tmp_path, KEY) == older.with_suffix('.engine')


HOLDER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from night_seg_ros.tensorrt.cache import EngineKey, engine_lock, write_engine
    key = EngineKey('ab' * 32, '10.3.0.30', '8.7', 'fp16', (64, 128), gpu_name='Orin')
    with engine_lock(Path(sys.argv[1]), key):
        print('building', flush=True)
        time.sleep(float(sys.argv[2]))
        write_engine(Path(sys.argv[1]), key, 'Orin', b'serialized engine bytes', {'by': 'the first process'})
''')


def holding_the_lock(folder: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes the build lock of KEY in `folder`, 'builds' for `seconds`, writes the engine."""
    process = subprocess.Popen([sys.executable, '-c', HOLDER, str(folder), str(seconds)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == 'building'
    return process


def test_a_second_process_waits_for_the_build_then_loads_that_engine(tmp_path: Path) -> None:
    first = holding_the_lock(tmp_path, 1.5)
    built, said = [], []
    try:
        path = resolve_engine(tmp_path, KEY, built.append, 'cmd', log=said.append)
    finally:
        first.wait(30)
    assert built == [] and find_engine(tmp_path, KEY) == path  # nothing built twice
    assert any('another process is building the engine' in line and 'waiting' in line for line in said)


def test_waiting_for_another_build_stops_when_asked(tmp_path: Path) -> None:
    first = holding_the_lock(tmp_path, 60)
    asked_at = time.monotonic() + 1.0
    try:
        start = time.monotonic()
        with pytest.raises(BuildCancelled, match='stopped while waiting for another process'):
            resolve_engine(tmp_path, KEY, lambda folder: pytest.fail('built'), 'cmd', log=lambda line: None,
                           cancelled=lambda: time.monotonic() > asked_at)
        assert time.monotonic() - start < 10
    finally:
        first.kill()
        first.wait(10)


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    first = holding_the_lock(tmp_path, 60)
    first.kill()
    first.wait(10)
    start = time.monotonic()
    with engine_lock(tmp_path, KEY):
        assert time.monotonic() - start < 5


def test_a_read_only_bundle_folder_falls_back_to_the_per_user_cache(tmp_path: Path) -> None:
    said, built = [], []

    def build(folder: Path) -> Path:
        built.append(folder)
        return write_engine(folder, KEY, 'Orin', ENGINE_BYTES, {})

    fallback = tmp_path / 'user_cache'
    path = resolve_engine(READ_ONLY, KEY, build, 'cmd', fallback, said.append)
    assert built == [fallback] and path.parent == fallback
    assert said == [f'{READ_ONLY} is read-only here: building the engine into the per-user cache {fallback} '
                    'instead']
    assert resolve_engine(READ_ONLY, KEY, None, 'cmd', fallback) == path  # the next start (or auto) finds it there


def test_a_read_only_folder_without_fallback_is_refused_before_building(tmp_path: Path) -> None:
    with pytest.raises(EngineCacheError, match=f'{READ_ONLY} is not writable here, so the engine cannot be built'):
        resolve_engine(READ_ONLY, KEY, lambda folder: pytest.fail('built'), 'cmd')


def test_only_the_bundles_own_folder_falls_back(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert user_engine_cache() == tmp_path / 'night_seg_ros' / 'engines'
    assert EnginePolicy().fallback(Path('/opt/ros/jazzy/share/night_seg_ros/models/b0/engines')) == user_engine_cache()
    assert EnginePolicy('/data/engines').fallback(Path('/opt/x/engines')) is None  # a folder the user chose


class FakeTensorRT:
    """Stand-in for the tensorrt module (not TensorRT): what compile_engine calls, recording it. Its build makes
    `steps` progress steps, each asking the progress monitor whether to go on, and returns fake engine bytes."""

    __version__ = '10.3.0.30'

    class ILogger:
        class Severity(enum.IntEnum):
            INTERNAL_ERROR = 0
            ERROR = 1
            WARNING = 2
            INFO = 3
            VERBOSE = 4

        def __init__(self) -> None:
            pass

    class IProgressMonitor:
        def __init__(self) -> None:
            pass

    class NetworkDefinitionCreationFlag(enum.IntEnum):
        STRONGLY_TYPED = 5

    class MemoryPoolType(enum.Enum):
        WORKSPACE = 0

    class BuilderFlag(enum.Enum):
        FP16 = 0
        GPU_FALLBACK = 1

    steps = 5

    def __init__(self) -> None:
        self.completed_steps = 0
        fake = self

        class Config:
            progress_monitor = None

            def set_memory_pool_limit(self, pool, size): pass

            def set_flag(self, flag): pass

            def create_timing_cache(self, data):
                return type('Cache', (), {'serialize': lambda _self: b'timing'})()

            def set_timing_cache(self, cache, ignore_mismatch):
                return True

        class Builder:
            num_DLA_cores = 0

            def __init__(self, logger):
                self.logger = logger

            def create_network(self, flags):
                return object()

            def create_builder_config(self):
                self.config = Config()
                return self.config

            def build_serialized_network(self, network, config):
                self.logger.log(FakeTensorRT.ILogger.Severity.WARNING, 'a layer runs in FP32')
                self.logger.log(FakeTensorRT.ILogger.Severity.INFO, 'chatty detail')
                monitor = config.progress_monitor
                monitor.phase_start('Building engine', None, fake.steps)
                for step in range(fake.steps):
                    if not monitor.step_complete('Building engine', step):
                        return None
                    fake.completed_steps += 1
                monitor.phase_finish('Building engine')
                return b'serialized engine bytes'

        class OnnxParser:
            num_errors = 0

            def __init__(self, network, logger): pass

            def parse_from_file(self, path):
                return True

        self.Builder, self.OnnxParser = Builder, OnnxParser


def test_a_build_reports_through_the_callers_log(tiny_bundle: Path, tmp_path: Path, monkeypatch) -> None:
    fake = FakeTensorRT()
    monkeypatch.setattr(builder, 'import_tensorrt', lambda: fake)
    said = []
    path = build_engine(read_bundle(tiny_bundle), tmp_path, BuildOptions('fp32'),
                        SystemInfo('10.3.0.30', 'Orin', '8.7'), log=said.append)
    assert path.is_file() and fake.completed_steps == FakeTensorRT.steps
    assert said[0].startswith('building fp32 engine for Orin')
    assert 'TensorRT warning: a layer runs in FP32' in said and not any('chatty' in line for line in said)
    assert 'TensorRT build: Building engine (5 steps)' in said


def test_ctrl_c_stops_a_build_and_writes_nothing(tiny_bundle: Path, tmp_path: Path, monkeypatch) -> None:
    fake = FakeTensorRT()
    monkeypatch.setattr(builder, 'import_tensorrt', lambda: fake)
    with pytest.raises(BuildCancelled, match='engine build stopped; nothing was written'):
        build_engine(read_bundle(tiny_bundle), tmp_path, BuildOptions('fp32'), SystemInfo('10.3.0.30', 'Orin', '8.7'),
                     log=lambda line: None, cancelled=lambda: fake.completed_steps >= 2)
    assert fake.completed_steps == 2
    assert not list(tmp_path.glob('*.engine')) and not list(tmp_path.glob('*.json'))


def test_compile_engine_stops_before_it_starts_when_asked(tmp_path: Path) -> None:
    with pytest.raises(BuildCancelled, match='before it started'):
        compile_engine(FakeTensorRT(), tmp_path / 'model.onnx', 'strong', BuildOptions('fp32'), b'', print,
                       cancelled=lambda: True)


def test_a_build_into_a_read_only_folder_is_refused_before_it_starts(tiny_bundle: Path, monkeypatch) -> None:
    fake = FakeTensorRT()
    monkeypatch.setattr(builder, 'import_tensorrt', lambda: fake)
    with pytest.raises(EngineBuildError, match=f'cannot write the engine into {READ_ONLY}'):
        build_engine(read_bundle(tiny_bundle), READ_ONLY, BuildOptions('fp32'), SystemInfo('10.3.0.30', 'Orin', '8.7'))
    assert fake.completed_steps == 0


@pytest.mark.skipif(os.environ.get('NIGHT_SEG_TENSORRT_ON_GPU') != '1',
                    reason='a real first build needs TensorRT and a GPU (none here); set NIGHT_SEG_TENSORRT_ON_GPU=1 '
                           'on a machine with both to run it')
def test_two_nodes_build_one_engine_on_a_gpu(tiny_bundle: Path, tmp_path: Path) -> None:
    """On a GPU machine: two processes open the tensorrt backend on one bundle at once; one engine is built."""
    script = ('import sys; from night_seg_ros.backends import create_backend; from night_seg_ros.bundle import '
              'read_bundle; from night_seg_ros.tensorrt.cache import EnginePolicy; '
              'create_backend("tensorrt", read_bundle(sys.argv[1]), engine=EnginePolicy(sys.argv[2], build=True))'
              '.close()')
    processes = [subprocess.Popen([sys.executable, '-c', script, str(tiny_bundle), str(tmp_path)]) for _ in range(2)]
    assert [process.wait(1800) for process in processes] == [0, 0]
    assert len(list(tmp_path.glob('*.engine'))) == 1
