"""A dress rehearsal of the real run on the CPU: synthetic streets in the exact Cityscapes, Dark Zurich, ACDC night
and Nighttime Driving layouts; the shipped cityscapes_darkzurich_b0 recipe trains a few iterations at a tiny size
(random init: tests never download); the bundle is evaluated on Dark Zurich val, ACDC night val and Nighttime
Driving through the command line at the datasets' evaluation sizes; the Dark Zurich test submission is written and
its zip checked."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from night_seg_training.cli import main
from night_seg_training.datasets import build_dataset, evaluation_entry
from night_seg_training.submission import SUBMISSION_FOLDERS, check_submission

pytest.importorskip('night_seg_training.synthetic', reason='the synthetic generator writes the rehearsal data')

HEIGHT, WIDTH = 288, 512  # Dark Zurich's 9:16


@pytest.fixture(scope='module')
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('real_layouts') / 'data'  # a new folder: synth refuses an existing one
    assert main(['synth', str(root), '--real-layouts', '--count', '2', '--height', str(HEIGHT),
                 '--width', str(WIDTH)]) == 0
    return root


def test_every_reader_reads_the_rehearsal_sets(data: Path) -> None:
    for name, split, keys in (('cityscapes', 'train', {'image', 'label', 'name'}),
                              ('dark_zurich', 'val', {'image', 'label', 'name'}),
                              ('dark_zurich', 'test', {'image', 'name'}),
                              ('acdc_night', 'val', {'image', 'label', 'name'}),
                              ('nighttime_driving', 'test', {'image', 'label', 'name'})):
        dataset = build_dataset(evaluation_entry(name, data / name, split))
        assert len(dataset) == 2 and dataset[0].keys() == keys, (name, split)
        assert dataset[0]['image'].shape == (HEIGHT, WIDTH, 3)
    train = build_dataset({'name': 'dark_zurich', 'root': str(data / 'dark_zurich'), 'split': 'train'})
    assert train[0].keys() == {'image', 'reference', 'name'}  # paired through the pair CSV


def test_the_real_recipe_trains_evaluates_and_submits(data: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / 'run'
    dark_zurich = data / 'dark_zurich'
    overrides = [f'data.source.root={data / "cityscapes"}', f'data.target.root={dark_zurich}',
                 f'data.val.dark_zurich_val.root={dark_zurich}', 'model.init=null', 'model.input_height=64',
                 'model.input_width=128', 'data.resize_height=64', 'data.crop_height=64', 'data.crop_width=64',
                 'data.workers=0', 'data.eval_sizes.dark_zurich_val=[64, 128]', 'optim.iterations=3',
                 'optim.warmup_iterations=1', 'optim.head_statistics_images=2', 'schedule.log_every=1',
                 'schedule.checkpoint_every=3']
    assert main(['train', 'cityscapes_darkzurich_b0', '--run-dir', str(run), '--no-progress',
                 *[argument for override in overrides for argument in ('--set', override)]]) == 0
    bundle = run / 'bundle'
    provenance = json.loads((bundle / 'model.json').read_text())['provenance']
    assert provenance['metrics']['dark_zurich_val']['input_size'] == [64, 128]
    assert 'rare-class sampling of 2 day images, T 0.01' in (run / 'train.log').read_text()

    for name, split in (('dark_zurich', 'val'), ('acdc_night', 'val'), ('nighttime_driving', 'test')):
        out = tmp_path / 'eval' / name
        assert main(['eval', str(bundle), '--dataset', name, '--root', str(data / name), '--split', split,
                     '--out', str(out)]) == 0
        metrics = json.loads((out / 'metrics.json').read_text())
        assert metrics['labelled'] == 2 and metrics['miou'] is not None, name

    submission = tmp_path / 'submission'
    assert main(['predict', str(bundle), '--dataset', 'dark_zurich', '--split', 'test', '--root', str(dark_zurich),
                 '--out', str(submission), '--no-progress']) == 0
    archive = submission / 'submission.zip'
    names = {f'GOPR0364_frame_{frame:06d}_rgb_anon.png': (HEIGHT, WIDTH) for frame in range(2)}
    assert check_submission(archive, 19, names) == 2
    with zipfile.ZipFile(archive) as opened:
        assert {member.split('/')[0] for member in opened.namelist()} == set(SUBMISSION_FOLDERS)
    assert main(['predict', '--check', str(archive)]) == 0
    assert 'format checked' in capsys.readouterr().out
