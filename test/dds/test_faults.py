"""Faults a deployment meets: each gives its documented message and loses nothing that was saved before.

Truncated weights, classes/palette mismatch and a missing ONNX are shown as seg_node's one-line start-up error (its
own process, non-zero exit) and leave every file of the bundle as it was; a stale TensorRT engine sidecar is refused
naming the field that differs; a checkpoint interrupted while being written (Ctrl-C, or the process killed) leaves the
previous checkpoint readable.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from night_seg_ros.backends import create_backend
from night_seg_ros.bundle import MODEL_JSON, ONNX_FILE, WEIGHTS_FILE, BundleError, read_bundle
from night_seg_ros.node_process import console_script


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob('*')) if path.is_file()}


def start_node(bundle: Path, backend: str = 'onnxruntime') -> str:
    """Start seg_node on `bundle`; it must exit non-zero with one 'cannot start' line; return that line."""
    args = [console_script('seg_node'), '--ros-args', '-p', f'model:={bundle}', '-p', f'backend:={backend}']
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if 'cannot start' in line]
    assert result.returncode != 0 and len(errors) == 1, output
    assert 'Traceback' not in output
    return errors[0]


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny bundle (with its ONNX) to damage."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / 'bundle'))


def truncate(path: Path, size: int) -> None:
    with path.open('r+b') as stream:
        stream.truncate(size)


def test_truncated_weights_are_a_one_line_start_up_error_that_changes_no_file(bundle_copy: Path):
    weights = bundle_copy / WEIGHTS_FILE
    truncate(weights, weights.stat().st_size - 1000)
    before = snapshot(bundle_copy)
    line = start_node(bundle_copy)
    assert f'{weights}: truncated safetensors file: tensors need' in line
    assert snapshot(bundle_copy) == before


@pytest.mark.parametrize(('size', 'message'), [
    (0, 'truncated safetensors file (0 bytes, no header)'),
    (7, 'truncated safetensors file (7 bytes, no header)'),
    (40, 'truncated safetensors file (header of'),
])
def test_weights_cut_anywhere_are_named(bundle_copy: Path, size: int, message: str):
    truncate(bundle_copy / WEIGHTS_FILE, size)
    with pytest.raises(BundleError, match=message.replace('(', r'\(').replace(')', r'\)')):
        read_bundle(bundle_copy)


def test_classes_palette_mismatch_is_a_one_line_start_up_error_that_changes_no_file(bundle_copy: Path):
    meta = json.loads((bundle_copy / MODEL_JSON).read_text())
    meta['palette'] = meta['palette'][:-1]
    (bundle_copy / MODEL_JSON).write_text(json.dumps(meta))
    before = snapshot(bundle_copy)
    line = start_node(bundle_copy)
    assert '"palette" has 18 colours but "classes" has 19 names; they must have the same length' in line
    assert snapshot(bundle_copy) == before


def test_missing_onnx_is_a_one_line_start_up_error_that_tells_how_to_export(bundle_copy: Path):
    (bundle_copy / ONNX_FILE).unlink()
    before = snapshot(bundle_copy)
    line = start_node(bundle_copy)
    assert f'bundle {bundle_copy} has no {ONNX_FILE}; make it with: night-seg export {bundle_copy}' in line
    assert snapshot(bundle_copy) == before


def test_without_onnx_backend_auto_falls_back_to_torch(bundle_copy: Path):
    pytest.importorskip('torch', reason='the torch backend is not installed here (a vehicle venv)')
    (bundle_copy / ONNX_FILE).unlink()
    auto = create_backend('auto', read_bundle(bundle_copy), 'cpu')  # torch needs no ONNX
    assert auto.name == 'torch'


def test_stale_engine_sidecar_is_refused_naming_the_field_and_nothing_is_deleted(tmp_path: Path):
    cache = pytest.importorskip('night_seg_ros.tensorrt.cache', reason='the TensorRT engine cache is not here')
    built_for = cache.EngineKey('ab' * 32, '10.3.0.30', '8.7', 'fp16', (384, 768), gpu_name='Orin')
    running = cache.EngineKey('ab' * 32, '10.7.0.23', '8.7', 'fp16', (384, 768), gpu_name='Orin')
    engine = cache.write_engine(tmp_path / 'engines', built_for, 'Orin', b'serialized engine', {})
    before = snapshot(tmp_path)
    stale = r'built for TensorRT 10\.3\.0\.30 \(needed: 10\.7\.0\.23\)'
    with pytest.raises(cache.EngineCacheError, match=f'no TensorRT engine .* {stale}'):
        cache.find_engine(engine.parent, running)
    with pytest.raises(cache.EngineCacheError, match=f'was {stale}'):  # an engine renamed to fit the running system
        cache.check_engine(engine, running)
    assert snapshot(tmp_path) == before
    truncate(engine, 10)
    with pytest.raises(cache.EngineCacheError, match='truncated or replaced'):
        cache.check_engine(engine, built_for)
    assert cache.sidecar_path(engine).is_file()


def test_checkpoint_interrupted_by_ctrl_c_keeps_the_previous_one(tmp_path: Path, monkeypatch):
    torch = pytest.importorskip('torch')
    from night_seg_training.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / 'checkpoints' / 'last.pt'
    save_checkpoint(path, {'iteration': 1, 'student': {'w': torch.ones(3)}})

    def interrupted(_fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {'iteration': 2, 'student': {'w': torch.zeros(3)}})
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state['iteration'] == 1 and torch.equal(state['student']['w'], torch.ones(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ['last.pt']


KILLED_WRITER = '''
import sys, torch
from pathlib import Path
from night_seg_training.checkpoint import save_checkpoint
path = Path(sys.argv[1])
big = torch.randn(8_000_000)  # 32 MB: each write takes long enough to be killed in the middle
for iteration in range(1, 1000):
    save_checkpoint(path, {"iteration": iteration, "student": {"w": big}})
    print(iteration, flush=True)
'''


def test_checkpoint_writer_killed_mid_write_leaves_a_readable_checkpoint(tmp_path: Path):
    pytest.importorskip('torch')
    from night_seg_training.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / 'last.pt'
    repo = Path(__file__).resolve().parents[2]
    writer = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                              cwd=repo)
    try:
        assert writer.stdout.readline().strip() == '1'  # one checkpoint is complete
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob('.last.pt.*.tmp')) and time.monotonic() < deadline:
            time.sleep(0.001)  # wait until the next one is being written
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(30)
    state = load_checkpoint(path)
    assert state['iteration'] >= 1 and state['student']['w'].numel() == 8_000_000
    save_checkpoint(path, {'iteration': state['iteration'] + 1})  # the next save clears what the kill left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last.pt']
    assert load_checkpoint(path)['iteration'] == state['iteration'] + 1
