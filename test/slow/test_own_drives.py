"""Adapting to your own nights end to end on synthetic drives: a day and a night drive of one route (the generator)
-> `night-seg-train pairs` (GPS, the image-content fallback beside it, the GPS matches refined by it) -> two
iterations of the own_drives recipe from the user's bundle -> a new bundle evaluated on the held-out night stretch."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from night_seg_ros.bundle import read_bundle
from night_seg_ros.model import create_untrained_bundle, load_model
from night_seg_training.cli import main
from night_seg_training.datasets import OwnDrives
from night_seg_training.evaluate import evaluate
from night_seg_training.synthetic.drive import DriveSpec, write_route_pair

HEIGHT, WIDTH = 64, 128


def _synthetic(name: str, split: str, count: int) -> str:
    return f'{{name: {name}, split: {split}, count: {count}, height: {HEIGHT}, width: {WIDTH}}}'


def test_route_pair_to_pairs_to_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bags = write_route_pair(tmp_path / 'drives', DriveSpec(seconds=14, rate_hz=2, height=HEIGHT, width=WIDTH),
                            storage='sqlite3', progress=False)
    user_bundle = create_untrained_bundle(tmp_path / 'current', height=HEIGHT, width=WIDTH).path
    pairs = tmp_path / 'pairs'
    assert main(['pairs', '--day', str(bags['day']), '--night', str(bags['night']), '--out', str(pairs),
                 '--image-topic', '/camera/image_raw/compressed', '--every', '6', '--val-block', '60',
                 '--match', 'refine', '--model', str(user_bundle), '--no-progress']) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((pairs / 'manifest.json').read_text())
    gps, image, refined = (manifest['quality'][method] for method in ('gps', 'image', 'refine'))
    assert gps['precision_true_within_5m'] >= 0.9 and 'precision_true_within_5m' in image
    assert refined['pairs'] == len(manifest['pairs']) and 'precision_true_within_5m' in refined
    assert 'within_5m_of_gps_match' in image and 'gps matches: pairs' in printed and 'image matches:' in printed
    counts = manifest['counts']
    assert counts['pairs']['train'] > 0 and counts['pairs']['val'] > 0
    assert counts['labelled'] == counts['pairs']             # the generator's labels travel with the night frames

    run = tmp_path / 'run'
    overrides = [f'model.init={user_bundle}', f'model.input_height={HEIGHT}', f'model.input_width={WIDTH}',
                 f'data.target.root={pairs}', f'data.val.own_night.root={pairs}',
                 f'data.source={_synthetic("synthetic_day", "train", 2)}',
                 f'data.val.day={_synthetic("synthetic_day", "val", 1)}', f'data.resize_height={HEIGHT}',
                 'data.crop_height=64', 'data.crop_width=64', 'data.workers=0', 'optim.batch_size=1',
                 'optim.iterations=2', 'optim.warmup_iterations=1', 'schedule.eval_images=2']
    assert main(['train', 'own_drives', '--run-dir', str(run), '--no-progress',
                 *(item for override in overrides for item in ('--set', override))]) == 0
    bundle = read_bundle(run / 'bundle')
    assert bundle.provenance['recipe'] == 'own_drives' and bundle.provenance['init'] == str(user_bundle)
    night = json.loads((run / 'eval' / 'own_night' / 'metrics.json').read_text())
    assert night['labelled'] == counts['pairs']['val'] and night['miou'] is not None
    assert (run / 'eval' / 'own_night' / 'gallery.png').is_file()

    shutil.rmtree(pairs / 'gt' / 'val')                      # a user's night frames without labels: a gallery
    unlabelled = evaluate(load_model(bundle), OwnDrives(pairs, 'val', with_reference=False), bundle.classes,
                          bundle.palette, tmp_path / 'gallery', gallery=2, progress=False)
    assert unlabelled['miou'] is None and unlabelled['labelled'] == 0
    assert (tmp_path / 'gallery' / 'gallery.png').is_file()
