"""Tests for `night-seg export BUNDLE --input-size WxH --out DIR`: a new bundle whose graph takes another input size."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from night_seg_ros import export
from night_seg_ros.bundle import ENGINES_DIR, MODEL_JSON, ONNX_FILE, WEIGHTS_FILE, read_bundle
from night_seg_ros.cli import main
from night_seg_ros.export import (
    ExportError,
    ParityReport,
    check_input_size,
    check_parity,
    export_at_input_size,
    sample_images,
)
from night_seg_ros.model import load_model

NEW_HEIGHT, NEW_WIDTH = 64, 96
"""3:2, against the tiny bundle's 2:1 (64x128)."""


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob('*')) if path.is_file()}


@pytest.fixture(scope='module')
def source(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny bundle (64x128, with model.onnx) copied, plus an engine built for its input size."""
    folder = shutil.copytree(tiny_bundle, tmp_path_factory.mktemp('source') / 'tiny')
    (folder / ENGINES_DIR).mkdir(exist_ok=True)
    (folder / ENGINES_DIR / 'model_64x128.engine').write_bytes(b'an engine for 64x128')
    return folder


@pytest.fixture(scope='module')
def resized(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, bytes], Path]:
    """`night-seg export SOURCE --input-size 96x64 --out OUT`: (exit code, stdout, SOURCE's files before, OUT)."""
    before = _tree(source)
    out = tmp_path_factory.mktemp('resized') / 'tiny_96x64'
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(['export', str(source), '--input-size', f'{NEW_WIDTH}x{NEW_HEIGHT}', '--out', str(out),
                     '--samples', '2'])
    return code, stdout.getvalue(), before, out


def test_new_bundle_has_the_new_input_size_and_the_same_weights(source: Path, resized) -> None:
    code, out_text, _, out = resized
    assert code == 0
    assert f'wrote bundle {out} ({NEW_WIDTH}x{NEW_HEIGHT} input' in out_text and '-> ok' in out_text
    old, new = json.loads((source / MODEL_JSON).read_text()), json.loads((out / MODEL_JSON).read_text())
    assert (new['input']['height'], new['input']['width']) == (NEW_HEIGHT, NEW_WIDTH)
    assert new['input']['mean'] == old['input']['mean'] and new['input']['std'] == old['input']['std']
    assert {key: new[key] for key in new if key not in ('input', 'provenance')} == \
           {key: old[key] for key in old if key not in ('input', 'provenance')}
    assert new['provenance']['input_resized_from'] == {'bundle': 'tiny', 'height': 64, 'width': 128}
    assert new['provenance']['recipe'] == old['provenance']['recipe']
    assert (out / WEIGHTS_FILE).read_bytes() == (source / WEIGHTS_FILE).read_bytes()


def test_onnx_takes_the_new_size(resized) -> None:
    out = resized[3]
    graph = onnx.load(out / ONNX_FILE)
    shapes = {value.name: [dim.dim_value for dim in value.type.tensor_type.shape.dim]
              for value in (*graph.graph.input, *graph.graph.output)}
    assert shapes == {'image': [1, NEW_HEIGHT, NEW_WIDTH, 3], 'labels': [1, NEW_HEIGHT, NEW_WIDTH],
                      'confidence': [1, NEW_HEIGHT, NEW_WIDTH]}
    assert 'tiny_96x64' in graph.doc_string  # the bundle's final name, not its staging folder's


def test_new_graph_agrees_with_torch_at_the_new_size(source: Path, resized) -> None:
    out = resized[3]
    report = check_parity(read_bundle(out), sample_images(2, NEW_HEIGHT, NEW_WIDTH, seed=7))
    assert report.passed and report.max_confidence_diff < 1e-4
    # the source's network itself (its bundle, its weights) run by torch on a 64x96 image gives the new graph's output
    image = sample_images(1, NEW_HEIGHT, NEW_WIDTH, seed=8)
    session = onnxruntime.InferenceSession(str(out / ONNX_FILE), providers=['CPUExecutionProvider'])
    onnx_labels, onnx_confidence = session.run(None, {'image': image})
    with torch.inference_mode():
        torch_labels, torch_confidence = load_model(read_bundle(source))(torch.from_numpy(image))
    assert onnx_labels.shape == (1, NEW_HEIGHT, NEW_WIDTH)
    assert np.mean(onnx_labels == torch_labels.numpy()) >= export.MIN_LABEL_AGREEMENT
    assert np.abs(onnx_confidence - torch_confidence.numpy()).max() < 1e-4


def test_source_untouched_and_no_engines_or_leftovers(source: Path, resized) -> None:
    _, _, before, out = resized
    assert _tree(source) == before
    assert sorted(path.name for path in out.iterdir()) == [MODEL_JSON, ONNX_FILE, WEIGHTS_FILE]
    assert [path.name for path in out.parent.iterdir()] == [out.name]  # no staging folder left beside it


@pytest.mark.parametrize('height, width, match', [
    (720, 1280, 'input size 1280x720 is not allowed: SegFormer needs a width and height that are multiples of 32; '
                'try 1280x704 or 1280x736'),
    (70, 100, 'try 96x64 or 128x96'),
    (16, 64, 'input size 64x16 is out of range; allowed: each side 32-4096 pixels and at most 8.4 megapixels'),
    (64, 8192, 'out of range'),
    (4096, 4096, 'out of range'),
])
def test_check_input_size_refuses(height: int, width: int, match: str) -> None:
    with pytest.raises(ExportError, match=match):
        check_input_size(height, width)


@pytest.mark.parametrize('height, width', [(32, 32), (576, 1024), (2176, 3840), (32, 4096)])
def test_check_input_size_accepts(height: int, width: int) -> None:
    check_input_size(height, width)


@pytest.mark.parametrize('size, match', [
    ('100x70', 'input size 100x70 is not allowed: SegFormer needs a width and height that are multiples of 32; '
               'try 96x64 or 128x96'),
    ('8192x8192', 'out of range'),
    ('{existing}', 'already exists (folder); choose another path, or replace it with --force'),
], ids=['not-multiple-of-32', 'absurd', 'existing-out'])
def test_cli_refusals_are_one_line_and_write_nothing(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     size: str, match: str) -> None:
    existing = tmp_path / 'existing'
    existing.mkdir()
    (existing / 'keep.txt').write_text('mine')
    out = existing if size == '{existing}' else tmp_path / 'new'
    before = _tree(source)
    assert main(['export', str(source), '--input-size', '96x64' if out == existing else size, '--out', str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ''
    assert captured.err.count('\n') == 1 and captured.err.startswith('night-seg export: error: ')
    assert match in captured.err
    assert _tree(source) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ['existing']
    assert _tree(existing) == {'keep.txt': b'mine'}


def test_failed_parity_writes_nothing(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, 'check_parity',
                        lambda bundle, images: ParityReport(len(images), label_agreement=0.5, max_confidence_diff=0.3))
    out = tmp_path / 'resized'
    with pytest.raises(ExportError, match=r'resized not written: ONNX Runtime and torch disagree at 96x64: '
                                          r'.*FAILED'):
        export_at_input_size(read_bundle(source), out, NEW_HEIGHT, NEW_WIDTH, samples=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('args, match', [
    (['export', '{source}', '--input-size', '96x64'], 'needs --out DIR, a new bundle folder'),
    (['export', '{source}', '--input-size', '96by64', '--out', '{out}'], "'96by64' is not WIDTHxHEIGHT"),
    (['export', '{source}', '--input-size', '96x', '--out', '{out}'], "'96x' is not WIDTHxHEIGHT"),
    (['export', '--hf', 'checkpoint', '--input-size', '96x64', '--out', '{out}'], 'no --input-size'),
    (['export', '{source}', '--out', '{out}'], '--out DIR goes with --hf or --input-size'),
    (['export', '{source}', '--height', '64', '--width', '96'], 'with --input-size WxH --out DIR'),
], ids=['no-out', 'not-WxH', 'no-height', 'with-hf', 'out-without-size', 'height-width-with-bundle'])
def test_cli_usage_errors_exit_1_in_one_line(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             args: list[str], match: str) -> None:
    before = _tree(source)
    assert main([arg.format(source=source, out=tmp_path / 'out') for arg in args]) == 1
    err = capsys.readouterr().err
    assert err.startswith('night-seg export: error: ') and err.count('\n') == 1 and match in err
    assert _tree(source) == before
    assert list(tmp_path.iterdir()) == []
