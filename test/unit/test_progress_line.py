"""train.log's progress line (night_seg_training.loop.progress_line): what a headless run says at each checkpoint."""
from __future__ import annotations

from night_seg_training.loop import progress_line


def test_a_progress_line_names_the_losses_the_night_weight_and_the_time_left() -> None:
    scalars = {'loss': 0.61, 'loss/source': 0.4, 'loss/night_consistency': 0.42, 'pseudo/weight': 0.08,
               'pseudo/confident_fraction': 0.07, 'lr': 5.9e-5, 'seconds_per_iteration': 0.45, 'refine/gate': 0.3}
    line = progress_line(1000, 40000, scalars)
    assert line == ('iteration 1000/40000: loss 0.610, day loss 0.400, night loss 0.420, night pseudo-label weight '
                    '0.08, confident 0.07, lr 5.90e-05; 0.45 s per iteration, 4h52m left')  # 39000 x 0.45 s = 17550 s


def test_a_supervised_run_shows_only_what_it_logs() -> None:
    line = progress_line(2, 2, {'loss': 0.5, 'loss/source': 0.5, 'seconds_per_iteration': 3.0})
    assert line == 'iteration 2/2: loss 0.500, day loss 0.500; 3.00 s per iteration, 0h00m left'
