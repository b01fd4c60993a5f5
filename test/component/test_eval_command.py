"""`night-seg-train eval` through the command line on every reader docs/TRAINING.md names, each on a tiny dataset in
its published layout, with the split the docs give and with the default split."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from dataset_fixtures import (
    make_acdc_night,
    make_cityscapes,
    make_dark_zurich_val_style,
    make_nighttime_driving,
)

from night_seg_training.cli import main
from night_seg_training.synthetic import write_dataset


def _synthetic_val(root: Path) -> None:
    write_dataset(root, 'val', 2, 32, 64, 0, 'aligned')


# (dataset name, writer of its files, split written, --split arguments: the documented one and the default)
READERS: list[tuple[str, Callable[[Path], object], list[str]]] = [
    ('cityscapes', lambda root: make_cityscapes(root, 'val'), ['--split', 'val']),
    ('dark_zurich', make_dark_zurich_val_style, ['--split', 'val']),
    ('acdc_night', lambda root: make_acdc_night(root, 'val'), ['--split', 'val']),
    ('nighttime_driving', make_nighttime_driving, ['--split', 'test']),
    ('own_drives', make_dark_zurich_val_style, ['--split', 'val']),
    ('synthetic_night', _synthetic_val, ['--split', 'val']),
]


@pytest.mark.parametrize('default_split', [False, True], ids=['documented-split', 'default-split'])
@pytest.mark.parametrize(('name', 'write', 'split'), READERS, ids=[reader[0] for reader in READERS])
def test_eval_reads_each_dataset_from_its_root(tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture,
                                               name: str, write: Callable[[Path], object], split: list[str],
                                               default_split: bool) -> None:
    root = tmp_path / 'data'
    write(root)
    out = tmp_path / 'eval'
    code = main(['eval', str(tiny_bundle), '--dataset', name, '--root', str(root), '--out', str(out),
                 *([] if default_split else split)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    summary = json.loads(printed.out.strip().splitlines()[-2])
    assert summary['images'] == 2
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['labelled'] == 2 and metrics['miou'] is not None
    assert (out / 'confusion.png').is_file() and (out / 'gallery.png').is_file()


def test_eval_generates_synthetic_night_without_root(tiny_bundle: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(['eval', str(tiny_bundle), '--dataset', 'synthetic_night', '--count', '2']) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])['images'] == 2


def test_eval_of_a_split_the_dataset_lacks_is_one_line(tmp_path: Path, tiny_bundle: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    make_nighttime_driving(tmp_path)
    assert main(['eval', str(tiny_bundle), '--dataset', 'nighttime_driving', '--root', str(tmp_path),
                 '--split', 'val']) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown split 'val'; allowed: test" in err
