"""Is the day loss of night-trained models the decode head's BatchNorm statistics? The study that chose the loop's
last step (head_statistics.py).

Every method but source_only trains on batches of day and night crops together, so the head's BatchNorm running
statistics are those of the mix. For each trained bundle this evaluates day and night mIoU (synthetic validation
split, as the experiment; `--val-seed 1` a set no table reports) with its statistics as the bundle has them (as
trained for bundles made before `optim.head_statistics_images`), then with them recomputed over full-size training
images: day only, and day + night in equal numbers. If the mixed statistics cost the day, day-only statistics give
it back.

  .venv/bin/python -m experiments.batchnorm.study runs/adaptation/aligned_v3/full-seed0/bundle \\
      runs/adaptation/aligned_v3/source_only-seed0/bundle --json runs/tune/batchnorm_study.json
  .venv/bin/python -m experiments.batchnorm.study RUN/bundle --val-seed 1 --val-count 60
  .venv/bin/python -m experiments.batchnorm.study models/synthetic_demo_b0 --height 384 --width 768
"""
from __future__ import annotations

import argparse
import json

import torch

from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from night_seg_ros.model import load_model
from night_seg_training.datasets import build_dataset
from night_seg_training.evaluate import evaluate
from night_seg_training.head_statistics import recompute_head_statistics

CACHE = 'runs/synthetic_cache'
"""The synthetic_demo recipe's image cache."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bundles', nargs='+', help='trained model bundles')
    parser.add_argument('--count', type=int, default=64, help='training images of each domain to average over (64)')
    parser.add_argument('--val-count', type=int, default=100, help='validation pairs evaluated (100)')
    parser.add_argument('--val-seed', type=int, default=0,
                        help="the validation set's dataset seed (0: the experiment's; others: sets it never reports)")
    parser.add_argument('--height', type=int, default=256, help="images' height (256: the synthetic_demo recipe's; "
                        "384 with --width 768: the demo model's)")
    parser.add_argument('--width', type=int, default=512, help="images' width (512)")
    parser.add_argument('--json', help='also write the rows here')
    args = parser.parse_args()
    size = {'height': args.height, 'width': args.width, 'seed': 0, 'cache': CACHE}
    torch.set_num_threads(1)
    train = {name: build_dataset({'name': f'synthetic_{name}', 'split': 'train', 'count': 1000, **size})
             for name in ('day', 'night')}  # the recipe's training sets (cached); the first --count of each are read
    val = {name: build_dataset({'name': f'synthetic_{name}', 'split': 'val', 'count': args.val_count,
                                **{**size, 'seed': args.val_seed}}) for name in ('day', 'night')}
    statistics = {'as in the bundle': None, 'day only': ('day',), 'day + night': ('day', 'night')}
    rows = []
    print(f'{"bundle":<55}{"statistics":>14}{"day mIoU":>10}{"night mIoU":>12}')
    for path in args.bundles:
        for label, domains in statistics.items():
            model = load_model(path)
            if domains is not None:
                recompute_head_statistics(model, [train[name] for name in domains], args.count)
            scores = {name: evaluate(model, dataset, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, progress=False)['miou']
                      for name, dataset in val.items()}
            rows.append({'bundle': path, 'statistics': label, **scores})
            print(f'{path:<55}{label:>14}{scores["day"]:>10.2f}{scores["night"]:>12.2f}', flush=True)
    if args.json:
        with open(args.json, 'w') as stream:
            json.dump({'count': args.count, 'val_count': args.val_count, 'val_seed': args.val_seed,
                       'size': [args.height, args.width], 'rows': rows},
                      stream, indent=2)


if __name__ == '__main__':
    main()
