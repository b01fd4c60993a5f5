"""Engine cache without TensorRT: keys, sidecars, refusing stale or foreign engines, and the build decision; the
render engine's key and the ONNX its build hands TensorRT."""
from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import onnx
import pytest

from night_seg_ros.backends.base import graph_io
from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from night_seg_ros.bundle import read_bundle
from night_seg_ros.export import sample_images
from night_seg_ros.render_graph import RenderTarget
from night_seg_ros.tensorrt.builder import (
    BuildOptions,
    EngineBuildError,
    build_engine,
    check_options,
    engine_key,
    graph_engine_key,
    network_typing,
    prepare_onnx,
    write_render_graph,
)
from night_seg_ros.tensorrt.cache import (
    EngineCacheError,
    EngineKey,
    EnginePolicy,
    SystemInfo,
    build_command,
    find_engine,
    resolve_engine,
    sha256_file,
    sidecar_path,
    write_engine,
)
from night_seg_ros.tensorrt.verify import AGREEMENT_FLOORS, compare, render_runner

ORIN = SystemInfo('10.3.0.30', 'Orin', '8.7')
KEY = EngineKey('ab' * 32, '10.3.0.30', '8.7', 'fp16', (64, 128), gpu_name='Orin')
ENGINE_BYTES = b'serialized engine bytes'
HAS_TENSORRT = importlib.util.find_spec('tensorrt') is not None


def test_the_key_names_the_engine_file() -> None:
    assert KEY.file_stem == 'fp16_64x128_sm87_orin_trt10.3.0.30_abababababab'
    assert replace(KEY, dla_core=1).file_stem.endswith('_dla1')


def test_the_key_hashes_the_bundles_onnx(tiny_bundle: Path) -> None:
    bundle = read_bundle(tiny_bundle)
    key = engine_key(bundle, ORIN, 'int8', None)
    assert key == EngineKey(sha256_file(bundle.onnx_path), '10.3.0.30', '8.7', 'int8', (64, 128), None, 'Orin')


def test_a_written_engine_is_found_with_its_sidecar(tmp_path: Path) -> None:
    path = write_engine(tmp_path, KEY, 'Orin', ENGINE_BYTES, {'workspace_mib': 512})
    assert find_engine(tmp_path, KEY) == path and path.read_bytes() == ENGINE_BYTES
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar['format'] == 'night-seg-engine/1' and sidecar['tensorrt_version'] == '10.3.0.30'
    assert sidecar['compute_capability'] == '8.7' and sidecar['input_shape'] == [64, 128]
    assert sidecar['gpu_name'] == 'Orin' and sidecar['build'] == {'workspace_mib': 512}


def test_an_engine_for_another_tensorrt_is_refused_naming_the_version(tmp_path: Path) -> None:
    write_engine(tmp_path, KEY, 'Orin', ENGINE_BYTES, {})
    newer = replace(KEY, tensorrt_version='10.7.0.23')
    with pytest.raises(EngineCacheError, match=r'no TensorRT engine .* was built for TensorRT 10\.3\.0\.30 '
                                               r'\(needed: 10\.7\.0\.23\)'):
        find_engine(tmp_path, newer)


def test_an_engine_from_another_onnx_and_gpu_is_refused_naming_both(tmp_path: Path) -> None:
    write_engine(tmp_path, KEY, 'Orin', ENGINE_BYTES, {})
    other = replace(KEY, onnx_sha256='cd' * 32, compute_capability='8.9')
    with pytest.raises(EngineCacheError, match=r'ONNX sha256 abababababab \(needed: cdcdcdcdcdcd\), compute '
                                               r'capability 8\.7 \(needed: 8\.9\)'):
        find_engine(tmp_path, other)


def test_a_renamed_engine_is_refused_by_its_sidecar(tmp_path: Path) -> None:
    path = write_engine(tmp_path, KEY, 'Orin', ENGINE_BYTES, {})
    fp32 = replace(KEY, precision='fp32')
    path.rename(tmp_path / (fp32.file_stem + '.engine'))
    sidecar_path(path).rename(tmp_path / (fp32.file_stem + '.json'))
    with pytest.raises(EngineCacheError, match=r'was built for precision fp16 \(needed: fp32\)'):
        find_engine(tmp_path, fp32)


def test_an_engine_without_sidecar_is_refused(tmp_path: Path) -> None:
    (tmp_path / (KEY.file_stem + '.engine')).write_bytes(ENGINE_BYTES)
    with pytest.raises(EngineCacheError, match='has no sidecar .*unknown origin'):
        find_engine(tmp_path, KEY)


def test_a_truncated_engine_is_refused(tmp_path: Path) -> None:
    path = write_engine(tmp_path, KEY, 'Orin', ENGINE_BYTES, {})
    path.write_bytes(ENGINE_BYTES[:5])
    with pytest.raises(EngineCacheError, match='not the file its sidecar describes .*truncated or replaced'):
        find_engine(tmp_path, KEY)


@pytest.mark.parametrize(('text', 'match'), [
    ('{not json', 'not readable JSON'),
    ('{"format": "other/1"}', '"format" must be'),
    ('{"format": "night-seg-engine/1", "input_shape": [64, 128]}', 'is incomplete'),
])
def test_a_broken_sidecar_is_refused(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / (KEY.file_stem + '.engine')).write_bytes(ENGINE_BYTES)
    (tmp_path / (KEY.file_stem + '.json')).write_text(text)
    with pytest.raises(EngineCacheError, match=match):
        find_engine(tmp_path, KEY)


def test_missing_engine_without_building_names_the_command(tmp_path: Path) -> None:
    command = build_command(Path('/models/b0'), replace(KEY, dla_core=0), tmp_path / 'engines', tmp_path / 'x')
    assert command == f'night-seg build-engine /models/b0 --precision fp16 --dla-core 0 --cache-dir {tmp_path}/engines'
    with pytest.raises(EngineCacheError, match=r'none for this model\)\. Build it with: night-seg build-engine'):
        resolve_engine(tmp_path, KEY, None, command)


def test_missing_engine_is_built_when_allowed_and_checked_like_a_cached_one(tmp_path: Path) -> None:
    calls = []

    def build(folder: Path) -> Path:
        calls.append(folder)
        return write_engine(folder, KEY, 'Orin', ENGINE_BYTES, {})

    assert resolve_engine(tmp_path, KEY, build, 'cmd') == tmp_path / (KEY.file_stem + '.engine')
    assert resolve_engine(tmp_path, KEY, build, 'cmd').is_file() and calls == [tmp_path]  # the second run finds it

    def wrong_build(folder: Path) -> Path:
        return write_engine(folder, replace(KEY, precision='fp32'), 'Orin', ENGINE_BYTES, {})

    with pytest.raises(EngineCacheError):
        resolve_engine(tmp_path, replace(KEY, precision='int8'), wrong_build, 'cmd')


def test_policy_folder_defaults_to_the_bundles_engines(tmp_path: Path) -> None:
    assert EnginePolicy().folder(tmp_path / 'engines') == tmp_path / 'engines'
    assert EnginePolicy('~/engines').folder(tmp_path) == Path('~/engines').expanduser()


def test_typing_is_strong_except_dla_on_tensorrt_10() -> None:
    assert network_typing('10.3.0.30', None) == 'strong'
    assert network_typing('10.3.0.30', 0) == 'weak'
    assert network_typing('11.0.0.1', 0) == 'strong'
    with pytest.raises(EngineBuildError, match='TensorRT 8.6.1 is too old'):
        network_typing('8.6.1', None)


@pytest.mark.parametrize(('options', 'typing', 'match'), [
    (BuildOptions('fp64'), 'strong', "unknown precision 'fp64'; allowed: fp32, fp16, int8"),
    (BuildOptions('int8'), 'strong', 'int8 needs calibration frames'),
    (BuildOptions('fp32', dla_core=0), 'strong', 'the DLA runs fp16 or int8 only'),
    (BuildOptions('int8', dla_core=0, calibration=[b'frame']), 'weak', 'int8 on the DLA with TensorRT 10'),
    (BuildOptions('fp16', workspace_mib=0), 'strong', 'workspace must be >= 1 MiB'),
])
def test_impossible_builds_are_refused_before_tensorrt(options: BuildOptions, typing: str, match: str) -> None:
    with pytest.raises(EngineBuildError, match=match):
        check_options(options, typing)


@pytest.mark.skipif(HAS_TENSORRT, reason='checks the message given where TensorRT is not installed')
def test_building_without_tensorrt_is_a_clear_error(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError, match=r'tensorrt Python package is not installed \(JetPack: sudo apt '):
        build_engine(read_bundle(tiny_bundle), tmp_path, BuildOptions('fp16'), ORIN)
    assert list(tmp_path.iterdir()) == []


def test_a_render_engine_is_keyed_by_its_graph_and_the_camera_size(tiny_bundle: Path) -> None:
    bundle = read_bundle(tiny_bundle)
    target = RenderTarget((720, 1280), 'network', 'bgr')
    key = engine_key(bundle, ORIN, 'fp16', None, target)
    graph = target.compose(onnx.load(str(bundle.onnx_path)), bundle.palette)  # as the node composes it
    assert key == graph_engine_key(graph, ORIN, 'fp16', None)
    assert key == EngineKey(hashlib.sha256(graph.SerializeToString()).hexdigest(), '10.3.0.30', '8.7', 'fp16',
                            (720, 1280), None, 'Orin')
    assert key.file_stem.startswith('fp16_720x1280_sm87_orin_trt10.3.0.30_')
    others = {engine_key(bundle, ORIN, 'fp16', None, other).onnx_sha256 for other in (
        RenderTarget((720, 1280), 'camera', 'bgr'), RenderTarget((720, 1280), 'network', 'rgb'),
        RenderTarget((480, 640), 'network', 'bgr'))}
    others.add(engine_key(bundle, ORIN, 'fp16', None).onnx_sha256)
    assert len(others) == 4 and key.onnx_sha256 not in others


def test_a_missing_render_engine_names_the_command_for_its_camera(tmp_path: Path) -> None:
    key = replace(KEY, input_shape=(720, 1280))
    command = build_command(Path('/models/b0'), key, tmp_path, tmp_path, RenderTarget((720, 1280), 'network', 'rgb'))
    assert command == ('night-seg build-engine /models/b0 --precision fp16 --camera-size 1280x720 '
                       '--output-resolution network --camera-order rgb')


def test_a_render_engines_fp16_onnx_runs_and_agrees_with_fp32(tiny_bundle: Path, tmp_path: Path) -> None:
    """What build_engine gives TensorRT for --camera-size at fp16: the FP16 model, the rendering around it."""
    bundle = read_bundle(tiny_bundle)
    target = RenderTarget((90, 160), 'camera', 'rgb')
    fp16_model = prepare_onnx(bundle.onnx_path, BuildOptions('fp16'), 'strong', tmp_path)
    candidate = write_render_graph(fp16_model, bundle, target, tmp_path / 'render.onnx')
    backend = OnnxRuntimeBackend(bundle, 'cpu')
    graph = target.compose(onnx.load(str(bundle.onnx_path)), bundle.palette)
    fp16 = backend.open_graph(onnx.load(str(candidate)))
    assert (fp16.inputs, fp16.outputs) == graph_io(graph)
    report = compare(render_runner(backend.open_graph(graph).run), render_runner(fp16.run),
                     sample_images(3, 90, 160, seed=4), AGREEMENT_FLOORS['fp16'])
    assert report.passed and report.max_confidence_error < 1e-2, report


@pytest.mark.skipif(HAS_TENSORRT, reason='checks the message given where TensorRT is not installed')
def test_building_a_render_engine_without_tensorrt_is_a_clear_error(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError, match=r'tensorrt Python package is not installed'):
        build_engine(read_bundle(tiny_bundle), tmp_path, BuildOptions('fp16'), ORIN,
                     render=RenderTarget((720, 1280), 'camera', 'bgr'))
    assert list(tmp_path.iterdir()) == []
