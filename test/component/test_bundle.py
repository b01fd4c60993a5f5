"""Tests for night_seg_ros.bundle: reading, validating and writing bundles, with real files on disk."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from night_seg_ros.bundle import (
    MODEL_JSON,
    ONNX_FILE,
    WEIGHTS_FILE,
    BundleError,
    InputSpec,
    parse_metadata,
    read_bundle,
    write_metadata,
)
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX
from night_seg_ros.model import load_model


@pytest.fixture
def bundle_dir(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the shared tiny bundle (without model.onnx) that a test may damage."""
    target = tmp_path / 'bundle'
    shutil.copytree(tiny_bundle, target, ignore=shutil.ignore_patterns(ONNX_FILE))
    return target


def _edit_meta(bundle_dir: Path, edit) -> None:
    """Apply `edit` to the parsed model.json of `bundle_dir` and write it back (bypassing validation)."""
    meta = json.loads((bundle_dir / MODEL_JSON).read_text())
    edit(meta)
    (bundle_dir / MODEL_JSON).write_text(json.dumps(meta))


def test_valid_bundle_reads_back(tiny_bundle: Path) -> None:
    bundle = read_bundle(str(tiny_bundle))
    assert bundle.path == tiny_bundle
    assert bundle.classes == CITYSCAPES_CLASSES
    assert bundle.palette == CITYSCAPES_PALETTE
    assert bundle.num_classes == 19
    assert bundle.input == InputSpec(height=64, width=128)
    assert bundle.ignore_index == IGNORE_INDEX
    assert bundle.arch['name'] == 'segformer' and bundle.arch['variant'] == 'b0'
    assert bundle.provenance['recipe'] == 'untrained'
    assert bundle.provenance['iterations'] == 0
    assert bundle.require_onnx() == tiny_bundle / ONNX_FILE
    assert parse_metadata(bundle.metadata(), bundle.path) == bundle


@pytest.mark.parametrize('damage, match', [
    (shutil.rmtree, 'does not exist or is not a directory'),
    (lambda path: (path / MODEL_JSON).unlink(), f'has no {MODEL_JSON}'),
    (lambda path: (path / MODEL_JSON).write_text('{"format": '), 'not valid JSON'),
    (lambda path: (path / MODEL_JSON).write_text('[1, 2, 3]'), 'must hold a JSON object'),
    (lambda path: (path / WEIGHTS_FILE).unlink(), f'has no {WEIGHTS_FILE}'),
    (lambda path: (path / WEIGHTS_FILE).write_bytes((path / WEIGHTS_FILE).read_bytes()[:4]), 'no header'),
], ids=['missing-directory', 'missing-model-json', 'invalid-json', 'json-not-object', 'missing-weights',
        'weights-without-header'])
def test_missing_or_unreadable_files_are_named(bundle_dir: Path, damage, match: str) -> None:
    damage(bundle_dir)
    with pytest.raises(BundleError, match=match):
        read_bundle(bundle_dir)


def test_truncated_weights_are_named(bundle_dir: Path) -> None:
    weights = bundle_dir / WEIGHTS_FILE
    data = weights.read_bytes()
    weights.write_bytes(data[:len(data) // 2])
    with pytest.raises(BundleError, match=rf'truncated safetensors file: tensors need {len(data)} bytes, '
                                          rf'file has {len(data) // 2}'):
        read_bundle(bundle_dir)


def _set_input(key: str, value):
    return lambda meta: meta['input'].__setitem__(key, value)


@pytest.mark.parametrize('edit, match', [
    (lambda meta: meta.__setitem__('format', 'night-seg-bundle/0'),
     r'"format" must be \'night-seg-bundle/1\'; got \'night-seg-bundle/0\''),
    (lambda meta: meta.__setitem__('arch', {'name': 'segformer'}), r'"arch" must be an object with "name"'),
    (lambda meta: meta.__setitem__('classes', []), r'"classes" must be a non-empty list'),
    (lambda meta: meta.__setitem__('palette', meta['palette'][:-1]),
     r'"palette" has 18 colours but "classes" has 19 names'),
    (lambda meta: meta['palette'].__setitem__(3, [0, 256, 0]), r'"palette" must be a list of \[R, G, B\] integer'),
    (lambda meta: meta['palette'].__setitem__(3, [0, -1, 0]), r'"palette" must be a list of \[R, G, B\] integer'),
    (_set_input('height', 0), r'input\.height must be a positive integer; got 0'),
    (_set_input('height', 64.5), r'input\.height must be a positive integer; got 64\.5'),
    (_set_input('width', None), r'input\.width must be a positive integer; got None'),
    (_set_input('std', [58.0, 0.0, 57.0]), r'input\.std must be positive'),
    (_set_input('std', [58.0, -1.0, 57.0]), r'input\.std must be positive'),
    (_set_input('mean', [1.0, 2.0]), r'input\.mean must be a list of 3 numbers'),
    (_set_input('channel_order', 'BGR'), r'input\.channel_order must be one of'),
    (lambda meta: meta.__setitem__('input', [64, 128]), r'"input" must be an object'),
    (lambda meta: meta.__setitem__('ignore_index', 256), r'"ignore_index" must be an integer in 0-255; got 256'),
    (lambda meta: meta.__setitem__('provenance', 'untrained'), r'"provenance" must be an object'),
], ids=['format', 'arch', 'classes-empty', 'palette-length', 'palette-over-255', 'palette-negative', 'height-zero',
        'height-float', 'width-missing', 'std-zero', 'std-negative', 'mean-length', 'channel-order', 'input-type',
        'ignore-index', 'provenance'])
def test_metadata_defect_is_named(bundle_dir: Path, edit, match: str) -> None:
    _edit_meta(bundle_dir, edit)
    with pytest.raises(BundleError, match=match):
        read_bundle(bundle_dir)


def test_all_defects_are_named_in_one_message(bundle_dir: Path) -> None:
    def edit(meta: dict) -> None:
        meta['format'] = 'other'
        meta['palette'] = meta['palette'][:5]
        meta['input']['std'] = [1.0, 0.0, 1.0]
        meta['ignore_index'] = -1

    _edit_meta(bundle_dir, edit)
    with pytest.raises(BundleError) as raised:
        read_bundle(bundle_dir)
    message = str(raised.value)
    assert '\n' not in message
    for part in ('"format" must be', '"palette" has 5 colours', 'input.std must be positive', '"ignore_index"'):
        assert part in message


@pytest.mark.parametrize('key, value, match', [
    ('decoder_hidden_size', 128, r'shape mismatch: decode_head\.'),
    ('hidden_sizes', [32, 64, 160, 320], r'shape mismatch: '),
    ('depths', [3, 2, 2, 2], r'missing tensors: segformer\.'),
    ('depths', [1, 2, 2, 2], r'unexpected tensors: segformer\.'),
    ('num_labels', 18, r'arch\.config\.num_labels is 18 but "classes" has 19 names'),
], ids=['decoder-hidden-size', 'hidden-sizes', 'deeper', 'shallower', 'num-labels'])
def test_weights_that_do_not_fit_the_arch_are_refused(bundle_dir: Path, key: str, value, match: str) -> None:
    _edit_meta(bundle_dir, lambda meta: meta['arch']['config'].__setitem__(key, value))
    bundle = read_bundle(bundle_dir)  # metadata and file are fine on their own
    with pytest.raises(BundleError, match=match):
        load_model(bundle)


def test_require_onnx_tells_how_to_export(bundle_dir: Path) -> None:
    bundle = read_bundle(bundle_dir)
    with pytest.raises(BundleError, match=rf'has no {ONNX_FILE}; make it with: night-seg export {bundle_dir}'):
        bundle.require_onnx()


def test_write_metadata_refuses_invalid_metadata(tiny_bundle: Path, tmp_path: Path) -> None:
    meta = read_bundle(tiny_bundle).metadata()
    meta['palette'] = meta['palette'][:-1]
    target = tmp_path / 'new'
    with pytest.raises(BundleError, match='"palette" has 18 colours'):
        write_metadata(target, meta)
    assert not target.exists()


def test_write_metadata_is_atomic_and_leaves_no_temp_files(tiny_bundle: Path, tmp_path: Path) -> None:
    meta = read_bundle(tiny_bundle).metadata()
    assert write_metadata(tmp_path, meta) == tmp_path / MODEL_JSON
    meta['provenance'] = {'recipe': 'second write'}
    write_metadata(tmp_path, meta)
    assert [path.name for path in tmp_path.iterdir()] == [MODEL_JSON]
    assert json.loads((tmp_path / MODEL_JSON).read_text()) == meta


def test_safetensors_header_with_bad_offsets_is_named(bundle_dir: Path) -> None:
    header = json.dumps({'weight': {'dtype': 'F32', 'shape': [1], 'data_offsets': 5}}).encode()
    (bundle_dir / WEIGHTS_FILE).write_bytes(len(header).to_bytes(8, 'little') + header + b'\0' * 4)
    with pytest.raises(BundleError, match="tensor 'weight' has no valid data_offsets"):
        read_bundle(bundle_dir)


def test_save_bundle_with_bad_metadata_changes_nothing_on_disk(bundle_dir: Path) -> None:
    from night_seg_ros.model import save_bundle

    before = {path.name: path.read_bytes() for path in bundle_dir.iterdir() if path.is_file()}
    model = load_model(bundle_dir)
    bundle = read_bundle(bundle_dir)
    with pytest.raises(BundleError, match='"palette" has 2 colours'):
        save_bundle(model, bundle_dir, bundle.arch, bundle.classes, bundle.palette[:2], bundle.provenance)
    assert {path.name: path.read_bytes() for path in bundle_dir.iterdir() if path.is_file()} == before
