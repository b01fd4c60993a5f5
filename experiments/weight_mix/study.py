"""Would mixing a run's weights back towards its start keep the day? A study of weight-space interpolation
(WiSE-FT, Wortsman et al. 2022): theta = (1 - a) * student + a * start, for each `--mix` a.

For each finished run of the adaptation experiment (experiments/adaptation), the student of RUN/checkpoints/last.pt is
mixed with the start bundle, the head statistics are recomputed as the run's last step does (same images, same seed),
and the result is evaluated on the **train** split of both domains (`--count` images of each; the run's own validation
entries with split=train), so that a choice made from it never looks at the reported validation split.

  .venv/bin/python -m experiments.weight_mix.study \\
      runs/adaptation/aligned_v6/{source_only,full,mean_teacher,oracle}-seed0 \\
      --start runs/adaptation/source_init/bundle --mix 0 0.2 0.4 \\
      --json experiments/weight_mix/figures/weight_mix_study.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from night_seg_ros.bundle import InputSpec
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from night_seg_ros.model import SegmentationModel
from night_seg_training.checkpoint import load_checkpoint
from night_seg_training.config import TrainConfig, load_config
from night_seg_training.datasets import build_dataset
from night_seg_training.evaluate import evaluate
from night_seg_training.head_statistics import recompute_head_statistics
from night_seg_training.segmenter import Segmenter, initial_network


def mixed_model(config: TrainConfig, student: dict[str, torch.Tensor], start: dict[str, torch.Tensor],
                mix: float) -> SegmentationModel:
    """`student` (a run's state dict) mixed with `start` (weight `mix` on the start; integer buffers kept from the
    student), head statistics recomputed over the run's own source and target images (`config`); eval mode."""
    segmenter = Segmenter(initial_network(config.model.variant, config.model.init)[0],
                          InputSpec(config.model.input_height, config.model.input_width))
    segmenter.load_state_dict({key: (1 - mix) * value + mix * start[key] if value.is_floating_point() else value
                               for key, value in student.items()})
    model = SegmentationModel(segmenter.network, segmenter.input_spec)
    torch.manual_seed(config.seed)
    recompute_head_statistics(model, [build_dataset(config.data.source), build_dataset(config.data.target)],
                              config.optim.head_statistics_images, device=torch.device('cpu'))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('runs', nargs='+', type=Path, help='finished run folders (config.yaml, checkpoints/last.pt)')
    parser.add_argument('--start', required=True, help='the bundle the runs started from')
    parser.add_argument('--mix', nargs='+', type=float, default=[0.0, 0.2, 0.4], help='weights on the start')
    parser.add_argument('--count', type=int, default=100, help='train-split images of each domain (100)')
    parser.add_argument('--json', type=Path, help='write {run: {mix: {night, day}}} here')
    args = parser.parse_args()

    results: dict[str, dict[str, dict[str, float]]] = {}
    for run in args.runs:
        config = load_config(str(run / 'config.yaml'), [])
        student = load_checkpoint(run / 'checkpoints' / 'last.pt')['student']
        start = Segmenter(initial_network(config.model.variant, args.start)[0],
                          InputSpec(config.model.input_height, config.model.input_width)).state_dict()
        for mix in args.mix:
            model = mixed_model(config, student, start, mix)
            row = {}
            for name, val in config.data.val.items():
                metrics = evaluate(model, build_dataset(dict(val, split='train', count=args.count)),
                                   CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, progress=False)
                row[name] = round(metrics['miou'], 2)
            results.setdefault(str(run), {})[str(mix)] = row
            print(run, f'mix {mix:g}:', ', '.join(f'{name} {value:.2f}' for name, value in row.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps({'start': args.start, 'count': args.count, 'results': results}, indent=1))


if __name__ == '__main__':
    main()
