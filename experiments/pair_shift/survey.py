"""How far apart are the two views of a synthetic day/night pair? Per alignment setting, the horizontal image shift
(pixels) that best maps the day labels onto the night labels, found with the ground truth (static classes only).

  .venv/bin/python -m experiments.pair_shift.survey --pairs 24 --height 384 --width 768
"""
from __future__ import annotations

import argparse

import numpy as np

from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_training import synthetic as synth
from night_seg_training.method.class_masks import static_class_mask

STATIC = np.zeros(256, bool)
"""uint8 label id -> static class (ids past the classes, 255 = ignore, are not)."""
STATIC[:len(CITYSCAPES_CLASSES)] = static_class_mask(CITYSCAPES_CLASSES).numpy()


def best_shift(day: np.ndarray, night: np.ndarray, reach: int) -> tuple[int, float, float]:
    """(dx, agreement at dx, agreement at 0): night pixel x compared with day pixel x + dx, static pixels only."""
    width = day.shape[1]
    scores = {}
    for dx in range(-reach, reach + 1, 2):
        lo, hi = max(0, -dx), min(width, width - dx)
        d, n = day[:, lo + dx:hi + dx], night[:, lo:hi]
        both = STATIC[d] & STATIC[n]
        scores[dx] = float(np.mean(d[both] == n[both])) if both.any() else 0.0
    dx = max(scores, key=lambda key: (scores[key], -abs(key)))
    return dx, scores[dx], scores[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--pairs', type=int, default=24)
    parser.add_argument('--height', type=int, default=384)
    parser.add_argument('--width', type=int, default=768)
    parser.add_argument('--split', default='train')
    args = parser.parse_args()
    print(f'{args.pairs} {args.split} pairs at {args.width}x{args.height}; |best shift| px and static label '
          'agreement (percent) at the best shift and at 0')
    for alignment in synth.ALIGNMENTS:
        shifts, best, zero = [], [], []
        for index in range(args.pairs):
            pair = synth.render_pair(0, args.split, index, args.height, args.width, alignment)
            dx, at_best, at_zero = best_shift(pair.day_label, pair.night_label, args.width // 4)
            shifts.append(abs(dx))
            best.append(100 * at_best)
            zero.append(100 * at_zero)
        shifts = np.array(shifts)
        print(f'{alignment:<8} shift median {np.median(shifts):.0f}, p90 {np.percentile(shifts, 90):.0f}, max '
              f'{shifts.max()}; >= 50 px: {np.mean(shifts >= 50) * 100:.0f} %; agreement at best {np.mean(best):.1f}'
              f', at 0 {np.mean(zero):.1f}')


if __name__ == '__main__':
    main()
