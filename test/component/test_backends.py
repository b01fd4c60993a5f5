"""Tests for the inference backends and their registry, with real torch and ONNX Runtime sessions."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from night_seg_ros.backends import BackendError, create_backend
from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from night_seg_ros.backends.torch_backend import TorchBackend
from night_seg_ros.bundle import MODEL_JSON, ONNX_FILE, read_bundle
from night_seg_ros.export import MIN_LABEL_AGREEMENT, sample_images
from night_seg_ros.vocabulary import BACKEND_NAMES, PRECISIONS

HEIGHT, WIDTH = 64, 128
NO_CUDA = not torch.cuda.is_available() and 'CUDAExecutionProvider' not in onnxruntime.get_available_providers()


@pytest.fixture(scope='module')
def backends(tiny_bundle: Path) -> dict:
    """Both CPU backends on the shared tiny bundle, by name."""
    bundle = read_bundle(tiny_bundle)
    return {'torch': TorchBackend(bundle, 'cpu', 'fp32'), 'onnxruntime': OnnxRuntimeBackend(bundle, 'cpu')}


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the shared tiny bundle (with model.onnx) that a test may change."""
    return shutil.copytree(tiny_bundle, tmp_path / 'bundle')


def test_torch_and_onnxruntime_agree(backends: dict) -> None:
    images = sample_images(4, HEIGHT, WIDTH, seed=11)
    equal = 0
    for image in images:
        torch_labels, torch_confidence = backends['torch'].infer(image)
        onnx_labels, onnx_confidence = backends['onnxruntime'].infer(image)
        equal += int((torch_labels == onnx_labels).sum())
        np.testing.assert_allclose(onnx_confidence, torch_confidence, atol=1e-3, rtol=0)
    assert equal / (len(images) * HEIGHT * WIDTH) >= MIN_LABEL_AGREEMENT


@pytest.mark.parametrize('name', ['torch', 'onnxruntime'])
def test_output_types_and_shapes(backends: dict, name: str) -> None:
    labels, confidence = backends[name].infer(sample_images(1, HEIGHT, WIDTH)[0])
    assert labels.dtype == np.uint8 and labels.shape == (HEIGHT, WIDTH)
    assert confidence.dtype == np.float32 and confidence.shape == (HEIGHT, WIDTH)
    assert labels.max() < 19
    assert np.all(confidence > 1 / 19 - 1e-6) and np.all(confidence <= 1.0)


@pytest.mark.parametrize('name', ['torch', 'onnxruntime'])
def test_non_contiguous_input_is_accepted(backends: dict, name: str) -> None:
    image = sample_images(1, HEIGHT, WIDTH)[0]
    flipped = image[:, ::-1]
    labels, _ = backends[name].infer(flipped)
    np.testing.assert_array_equal(labels, backends[name].infer(np.ascontiguousarray(flipped))[0])


@pytest.mark.parametrize('name', ['torch', 'onnxruntime'])
@pytest.mark.parametrize('image', [
    np.zeros((HEIGHT, WIDTH), np.uint8),
    np.zeros((HEIGHT, WIDTH, 4), np.uint8),
    np.zeros((HEIGHT // 2, WIDTH, 3), np.uint8),
    np.zeros((WIDTH, HEIGHT, 3), np.uint8),
    np.zeros((1, HEIGHT, WIDTH, 3), np.uint8),
    np.zeros((HEIGHT, WIDTH, 3), np.float32),
], ids=['gray', 'rgba', 'half-height', 'transposed', 'batched', 'float32'])
def test_wrong_input_is_refused_naming_the_expected_shape(backends: dict, name: str, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match=rf'{name} backend expects uint8 \({HEIGHT}, {WIDTH}, 3\) RGB; '
                                         rf'got {image.dtype} \({", ".join(map(str, image.shape))}'):
        backends[name].infer(image)


@pytest.mark.parametrize('name', ['torch', 'onnxruntime'])
def test_warmup_runs(backends: dict, name: str) -> None:
    backends[name].warmup(iterations=1)
    assert backends[name].describe() == f'{name} on cpu'


def test_auto_picks_onnxruntime_when_the_bundle_has_onnx(tiny_bundle: Path) -> None:
    backend = create_backend('auto', read_bundle(tiny_bundle), device='cpu')
    assert isinstance(backend, OnnxRuntimeBackend)
    assert backend.describe() == 'onnxruntime on cpu'


def test_auto_picks_torch_without_onnx(bundle_copy: Path) -> None:
    (bundle_copy / ONNX_FILE).unlink()
    backend = create_backend('auto', read_bundle(bundle_copy), device='cpu', precision='fp32')
    assert isinstance(backend, TorchBackend)
    assert backend.describe() == 'torch on cpu'


@pytest.mark.parametrize('name', ['onnxruntime', 'torch'])
def test_create_backend_by_name_with_default_precision(tiny_bundle: Path, name: str) -> None:
    backend = create_backend(name, read_bundle(tiny_bundle), device='cpu')
    assert backend.name == name
    labels, _ = backend.infer(sample_images(1, HEIGHT, WIDTH)[0])
    assert labels.shape == (HEIGHT, WIDTH)


def test_onnxruntime_num_threads_reaches_the_session(tiny_bundle: Path) -> None:
    backend = OnnxRuntimeBackend(read_bundle(tiny_bundle), 'cpu', num_threads=1)
    assert backend.session.get_session_options().intra_op_num_threads == 1


def test_tensorrt_is_not_available_and_alternatives_are_named(tiny_bundle: Path) -> None:
    with pytest.raises(BackendError, match=r'tensorrt backend is not available.*backend:=onnxruntime.*backend:=torch'):
        create_backend('tensorrt', read_bundle(tiny_bundle))


@pytest.mark.parametrize('kwargs, match', [
    ({'name': 'openvino'}, rf"unknown backend 'openvino'; allowed: {', '.join(BACKEND_NAMES)}"),
    ({'name': 'torch', 'precision': 'fp64'}, rf"unknown precision 'fp64'; allowed: {', '.join(PRECISIONS)}"),
    ({'name': 'onnxruntime', 'precision': 'int8'}, 'precision int8 needs backend tensorrt'),
    ({'name': 'torch', 'precision': 'int8'}, 'precision int8 needs backend tensorrt'),
    ({'name': 'onnxruntime', 'device': 'gpu'}, "unknown device 'gpu'; allowed: auto, cpu, cuda, cuda:N"),
    ({'name': 'torch', 'device': 'cuda:x'}, "unknown device 'cuda:x'; allowed: auto, cpu, cuda, cuda:N"),
])
def test_bad_backend_precision_or_device_is_refused(tiny_bundle: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(BackendError, match=match):
        create_backend(bundle=read_bundle(tiny_bundle), **{'device': 'cpu', **kwargs})


@pytest.mark.skipif(not NO_CUDA, reason='needs a machine without CUDA')
@pytest.mark.parametrize('name, match', [
    ('onnxruntime', r"device 'cuda' needs onnxruntime-gpu \(CUDAExecutionProvider\).*Use device:=cpu"),
    ('torch', r"device 'cuda' requested but this torch has no CUDA device.*use device:=cpu"),
])
def test_cuda_without_cuda_is_a_clear_error(tiny_bundle: Path, name: str, match: str) -> None:
    with pytest.raises(BackendError, match=match):
        create_backend(name, read_bundle(tiny_bundle), device='cuda', precision='fp32')


@pytest.mark.skipif(not NO_CUDA, reason='needs a machine without CUDA')
def test_auto_names_why_each_backend_was_skipped(tiny_bundle: Path) -> None:
    with pytest.raises(BackendError, match=r'no backend can run here: tensorrt: .*; onnxruntime: .*; torch: '):
        create_backend('auto', read_bundle(tiny_bundle), device='cuda')


def test_onnx_that_does_not_match_model_json_is_refused(bundle_copy: Path) -> None:
    meta = json.loads((bundle_copy / MODEL_JSON).read_text())
    meta['input']['height'] = HEIGHT // 2
    (bundle_copy / MODEL_JSON).write_text(json.dumps(meta))
    with pytest.raises(BackendError, match=rf'model\.onnx does not match model\.json: expected input \'image\' uint8 '
                                           rf'\[1, {HEIGHT // 2}, {WIDTH}, 3\].*\[1, {HEIGHT}, {WIDTH}, 3\].*'
                                           rf'Re-export with: night-seg export {bundle_copy}'):
        create_backend('onnxruntime', read_bundle(bundle_copy), device='cpu', precision='fp32')


def test_a_backend_library_that_fails_to_import_is_named_not_blamed_on_the_model(
        tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from night_seg_ros.backends import onnxruntime_backend
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ImportError('libonnxruntime.so.1: cannot open shared object file')

    monkeypatch.setattr(onnxruntime_backend.OnnxRuntimeBackend, '__init__', broken)
    match = r'^backend onnxruntime cannot import its library here: libonnxruntime\.so\.1: cannot open shared object'
    with pytest.raises(BackendError, match=match):
        create_backend('onnxruntime', read_bundle(tiny_bundle), device='cpu')
    with pytest.raises(BackendError, match=match):
        load_pipeline(ModelSetting(str(tiny_bundle), backend='onnxruntime', device='cpu'))


@pytest.mark.parametrize('environment, expected', [({}, 'PASSIVE'), ({'OMP_WAIT_POLICY': 'ACTIVE'}, 'ACTIVE')])
def test_torch_backend_lets_idle_openmp_threads_sleep_unless_told_otherwise(tiny_bundle: Path, environment: dict,
                                                                            expected: str) -> None:
    import os
    import subprocess
    import sys

    script = ('import os, sys\n'
              'from night_seg_ros.backends import create_backend\n'
              'from night_seg_ros.bundle import read_bundle\n'
              'assert "torch" not in sys.modules\n'
              f'create_backend("torch", read_bundle({str(tiny_bundle)!r}), "cpu")\n'
              'print(os.environ["OMP_WAIT_POLICY"])\n')
    env = {key: value for key, value in os.environ.items() if key != 'OMP_WAIT_POLICY'} | environment
    result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected]


def test_onnxruntime_backend_runs_another_graph_of_the_bundle_and_refuses_one_of_another_size(
        tiny_bundle: Path, tmp_path: Path) -> None:
    from night_seg_ros.export import export_onnx
    from night_seg_ros.model import create_untrained_bundle

    bundle = read_bundle(tiny_bundle)
    copy = tmp_path / 'copy.onnx'
    shutil.copyfile(tiny_bundle / ONNX_FILE, copy)
    frame = sample_images(1, HEIGHT, WIDTH)[0]
    labels, _ = OnnxRuntimeBackend(bundle, 'cpu', graph=copy).infer(frame)
    assert np.array_equal(labels, OnnxRuntimeBackend(bundle, 'cpu').infer(frame)[0])
    other = create_untrained_bundle(tmp_path / 'other', height=32, width=64)
    with pytest.raises(BackendError, match=f'{other.path / ONNX_FILE} does not match model.json'):
        OnnxRuntimeBackend(bundle, 'cpu', graph=export_onnx(other))
