"""night-seg build-engine / verify-engine arguments and errors, and the tensorrt backend where TensorRT is absent.

Building and running an engine needs TensorRT and a GPU: that test skips with a reason where they are missing.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from night_seg_ros.backends import BackendError, create_backend
from night_seg_ros.bundle import read_bundle
from night_seg_ros.cli import main
from night_seg_ros.cli.engine import camera_size

HAS_TENSORRT = importlib.util.find_spec('tensorrt') is not None
no_tensorrt = pytest.mark.skipif(HAS_TENSORRT, reason='checks the message given where TensorRT is not installed')


@pytest.mark.parametrize(('args', 'message'), [
    (['--precision', 'int8'], '--precision int8 needs --calibration FOLDER_OR_BAG'),
    (['--calibration', 'frames/'], '--calibration is for --precision int8 only'),
    (['--precision', 'fp32', '--dla-core', '0'], 'the DLA runs fp16 or int8 only'),
    (['--dla-core', '-1'], '--dla-core: -1 must be >= 0 (a DLA core index'),
    (['--precision', 'fp64'], "invalid choice: 'fp64'"),
    (['--workspace-mib', '0'], '0 must be >= 1'),
])
def test_build_engine_argument_errors_exit_1_in_one_line(tiny_bundle: Path, capsys: pytest.CaptureFixture,
                                                         args: list[str], message: str) -> None:
    assert main(['build-engine', str(tiny_bundle), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1


@pytest.mark.parametrize(('args', 'message'), [
    (['--camera-size', '1280'], "'1280' is not WIDTHxHEIGHT in pixels, e.g. 1280x720"),
    (['--camera-size', '0x720'], "'0x720' is not WIDTHxHEIGHT"),
    (['--output-resolution', 'network'], '--output-resolution and --camera-order are for a render engine: add '
                                         '--camera-size WxH'),
    (['--camera-size', '1280x720', '--camera-order', 'rgba'], "camera order 'rgba'; allowed: rgb, bgr"),
    (['--camera-size', '1280x720', '--output-resolution', 'full'], "output resolution 'full'; allowed: camera, "
                                                                   'network'),
])
@pytest.mark.parametrize('command', ['build-engine', 'verify-engine'])
def test_render_engine_argument_errors_exit_1_in_one_line(tiny_bundle: Path, capsys: pytest.CaptureFixture,
                                                          command: str, args: list[str], message: str) -> None:
    assert main([command, str(tiny_bundle), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1


def test_camera_size_is_width_by_height() -> None:
    assert camera_size('1280x720') == (720, 1280)


def test_verify_engine_argument_errors_exit_1_in_one_line(tiny_bundle: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(['verify-engine', str(tiny_bundle), '--min-agreement', '1.5']) == 1
    err = capsys.readouterr().err
    assert '1.5 must be >= 0 and <= 1' in err and err.count('\n') == 1


def test_build_engine_needs_the_onnx(tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bundle = tmp_path / 'no_onnx'
    shutil.copytree(tiny_bundle, bundle, ignore=shutil.ignore_patterns('*.onnx'))
    assert main(['build-engine', str(bundle)]) == 1
    assert f'has no model.onnx; make it with: night-seg export {bundle}' in capsys.readouterr().err


def test_build_engine_refuses_a_cpu_device(tiny_bundle: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(['build-engine', str(tiny_bundle), '--device', 'cpu']) == 1
    assert "TensorRT runs on a CUDA GPU; device 'cpu' is not one" in capsys.readouterr().err


@no_tensorrt
@pytest.mark.parametrize('render', [[], ['--camera-size', '1280x720', '--output-resolution', 'network']])
@pytest.mark.parametrize('command', ['build-engine', 'verify-engine'])
def test_engine_commands_without_tensorrt_say_so(tiny_bundle: Path, capsys: pytest.CaptureFixture,
                                                 command: str, render: list[str]) -> None:
    assert main([command, str(tiny_bundle), *render]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'night-seg {command}: error: ') and 'tensorrt Python package is not installed' in err
    assert len(err.strip().splitlines()) == 1


@no_tensorrt
def test_tensorrt_backend_without_tensorrt_names_the_alternatives(tiny_bundle: Path) -> None:
    with pytest.raises(BackendError, match=r'^tensorrt backend is not available here: the tensorrt Python package is '
                                           r'not installed .*; use backend:=onnxruntime .* or backend:=torch$'):
        create_backend('tensorrt', read_bundle(tiny_bundle))


def test_auto_names_why_it_skipped_tensorrt(tiny_bundle: Path) -> None:
    backend = create_backend('auto', read_bundle(tiny_bundle), device='cpu')
    assert backend.name == 'onnxruntime' and backend.skipped == ('tensorrt: device is cpu',)
    if not HAS_TENSORRT:
        backend = create_backend('auto', read_bundle(tiny_bundle))
        assert backend.skipped[0].startswith('tensorrt: tensorrt backend is not available here')


def test_tensorrt_backend_refuses_a_cpu_device(tiny_bundle: Path) -> None:
    with pytest.raises(BackendError, match="device 'cpu' is not one"):
        create_backend('tensorrt', read_bundle(tiny_bundle), device='cpu')


def test_build_and_verify_an_engine_on_this_gpu(tiny_bundle: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip('tensorrt', reason='building an engine needs TensorRT and a CUDA GPU')
    cache = str(tmp_path / 'engines')
    assert main(['build-engine', str(tiny_bundle), '--precision', 'fp16', '--cache-dir', cache]) == 0
    assert main(['build-engine', str(tiny_bundle), '--precision', 'fp16', '--cache-dir', cache]) == 0
    assert 'is up to date' in capsys.readouterr().out
    assert main(['verify-engine', str(tiny_bundle), '--precision', 'fp16', '--cache-dir', cache,
                 '--min-agreement', '0.99']) == 0
    assert 'label agreement' in capsys.readouterr().out


def test_build_and_verify_a_render_engine_on_this_gpu(tiny_bundle: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip('tensorrt', reason='building an engine needs TensorRT and a CUDA GPU')
    import onnx

    from night_seg_ros.backends.base import GraphUnavailable
    from night_seg_ros.render_graph import RenderTarget
    from night_seg_ros.tensorrt.cache import EnginePolicy

    cache = str(tmp_path / 'engines')
    render = ['--camera-size', '160x90', '--camera-order', 'rgb']
    assert main(['build-engine', str(tiny_bundle), '--cache-dir', cache]) == 0
    assert main(['build-engine', str(tiny_bundle), '--cache-dir', cache, *render]) == 0
    assert main(['verify-engine', str(tiny_bundle), '--cache-dir', cache, '--min-agreement', '0.99', *render]) == 0
    assert 'label agreement' in capsys.readouterr().out
    bundle = read_bundle(tiny_bundle)
    backend = create_backend('tensorrt', bundle, engine=EnginePolicy(cache))
    try:
        model = onnx.load(str(bundle.onnx_path))
        runner = backend.open_graph(RenderTarget((90, 160), 'camera', 'rgb').compose(model, bundle.palette))
        outputs = runner.run({'camera': np.zeros((1, 90, 160, 3), np.uint8), 'threshold': np.array(1.0, np.float32),
                              'alpha': np.array(0.5, np.float32)}, ['labels', 'overlay'])
        assert np.all(outputs['labels'] == 255) and np.all(outputs['overlay'] == 0)
        with pytest.raises(GraphUnavailable, match='--camera-size 160x90 --output-resolution network --camera-order'):
            backend.open_graph(RenderTarget((90, 160), 'network', 'rgb').compose(model, bundle.palette))
    finally:
        backend.close()
