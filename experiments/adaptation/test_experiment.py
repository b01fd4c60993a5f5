"""experiments/adaptation/experiment.py: the comparisons of its summary, and its held-out test evaluation (real
synthetic test pairs on disk, a real bundle evaluated by `night-seg-train eval`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip('torch', reason='the experiment trains and evaluates with torch')

from experiments.adaptation import experiment  # noqa: E402
from night_seg_ros.model import create_untrained_bundle  # noqa: E402


@pytest.fixture(scope='module')
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained SegFormer-B0 bundle at a 64x128 input."""
    return create_untrained_bundle(tmp_path_factory.mktemp('tiny_bundle'), height=64, width=128).path


def _result(night: float, day: float, test_night: float, test_day: float) -> dict:
    return {'night': {'miou': night}, 'day': {'miou': day}, 'seconds': None,
            'test': {'night': {'miou': test_night}, 'day': {'miou': test_day}}}


def test_comparison_reads_the_split_it_is_given() -> None:
    results = {'source_only': [_result(5.0, 34.0, 6.0, 33.0)], 'mean_teacher': [_result(12.0, 31.0, 11.0, 32.0)],
               'full': [_result(17.0, 32.0, 16.0, 33.5)], 'oracle': [_result(20.0, 31.0, 21.0, 32.0)]}
    val = '\n'.join(experiment.comparison(results, 'val'))
    assert '| full | 17.0 | 32.0 | - |' in val
    assert 'Gap closure (full - source_only) / (oracle - source_only), per seed: 0.80' in val
    assert 'full - mean_teacher night mIoU, per seed: 5.0' in val
    assert 'full - source_only day mIoU, per seed: -2.0' in val
    test = '\n'.join(experiment.comparison(results, 'test'))
    assert '| full | 16.0 | 33.5 | - |' in test
    assert 'per seed: 0.67' in test
    assert 'full - source_only day mIoU, per seed: 0.5' in test


def test_full_mic_is_compared_with_the_baselines_and_with_full() -> None:
    results = {'source_only': [_result(4.0, 35.0, 4.0, 35.0)], 'mean_teacher': [_result(13.0, 34.0, 13.0, 34.0)],
               'full': [_result(17.0, 34.5, 17.0, 34.5)], 'full_mic': [_result(19.0, 34.0, 18.0, 34.8)],
               'oracle': [_result(21.0, 33.0, 22.0, 33.0)]}
    val = '\n'.join(experiment.comparison(results, 'val'))
    assert 'Gap closure (full_mic - source_only) / (oracle - source_only), per seed: 0.88' in val
    assert 'full_mic - mean_teacher night mIoU, per seed: 6.0' in val
    assert 'full_mic - full night mIoU, per seed: 2.0' in val
    assert 'full_mic - source_only day mIoU, per seed: -1.0' in val
    assert 'full - full_mic' not in val
    test = '\n'.join(experiment.comparison(results, 'test'))
    assert 'Gap closure (full_mic - source_only) / (oracle - source_only), per seed: 0.78' in test
    assert 'full_mic - source_only day mIoU, per seed: -0.2' in test


def test_seed_mean_averages_each_class_over_the_seeds_that_have_it() -> None:
    seeds = [{'test': {'day': {'miou': 30.0, 'iou': {'road': 90.0, 'bus': 40.0, 'train': None}}}},
             {'test': {'day': {'miou': 32.0, 'iou': {'road': 80.0, 'bus': None, 'train': None}}}}]
    mean = experiment.seed_mean(seeds, 'day', 'test')
    assert mean == {'miou': 31.0, 'iou': {'road': 85.0, 'bus': 40.0, 'train': None}}


def test_a_bundle_is_evaluated_once_on_the_test_pairs(tmp_path: Path, tiny_bundle: Path) -> None:
    root = experiment.test_pairs(tmp_path, 2)
    assert root == tmp_path / 'test_pairs_2'
    assert len(list((root / 'rgb_anon' / 'test' / 'night' / 'SYNTH').glob('*.png'))) == 2
    assert experiment.test_pairs(tmp_path, 2) == root  # written once: a second call finds it done
    run_dir = tmp_path / 'full-seed0'
    run_dir.mkdir()
    (run_dir / 'bundle').symlink_to(tiny_bundle)
    results = experiment.test_metrics(run_dir, root)
    assert {domain: results[domain]['images'] for domain in ('night', 'day')} == {'night': 2, 'day': 2}
    saved = json.loads((run_dir / 'test_test_pairs_2' / 'night' / 'metrics.json').read_text())
    assert saved['miou'] == results['night']['miou']
    assert experiment.test_metrics(run_dir, root) == results  # a second call reads what the first wrote
