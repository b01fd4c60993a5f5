#!/usr/bin/env python3
"""Cost of one training iteration per method, same batch and crop, measured in one run; prints the ratios to
source_only.

Each timed iteration is the loop's own `optimisation_step` (teacher forward, cross attention, ClassMix, strong
augmentation, student forward and backward, AdamW step, EMA update) on batches prepared beforehand, so data loading
(which overlaps training in background workers) is not counted. Methods are timed in alternation so drift in the
machine's speed hits them alike.

  .venv/bin/python scripts/bench_train_iteration.py                       # B0, batch 4, 192x192 crops, CPU
  .venv/bin/python scripts/bench_train_iteration.py --device cuda --crop 512 --batch 2
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import platform
import time

import numpy as np
import torch

from night_seg_ros.bundle import InputSpec
from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_training.batches import IterationBatches
from night_seg_training.config import load_config
from night_seg_training.datasets import build_dataset
from night_seg_training.loop import build_optimizer, optimisation_step
from night_seg_training.method import AdaptationMethod
from night_seg_training.segmenter import Segmenter, initial_network
from night_seg_training.teacher import EmaTeacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--methods', nargs='+', default=['source_only', 'mean_teacher', 'full'])
    parser.add_argument('--batch', type=int, default=4, help='day and night crops per iteration (4)')
    parser.add_argument('--crop', type=int, default=192, help='square crop side in pixels (192)')
    parser.add_argument('--iterations', type=int, default=10, help='timed iterations per method (10)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per method first (2)')
    parser.add_argument('--variant', default='b0', help='SegFormer variant (b0)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda (cpu)')
    parser.add_argument('--json', help='also write the results to this JSON file')
    args = parser.parse_args()

    device = torch.device(args.device)
    config = load_config('synthetic_demo', [f'optim.batch_size={args.batch}', f'data.crop_height={args.crop}',
                                            f'data.crop_width={args.crop}'])
    spec = {'split': 'train', 'count': 64, 'height': 256, 'width': 512, 'seed': 0}
    source = build_dataset({'name': 'synthetic_day', **spec})
    target = build_dataset({'name': 'synthetic_night', **spec})
    autocast = (torch.autocast('cuda', dtype=torch.bfloat16) if device.type == 'cuda' else contextlib.nullcontext())
    runs = {}
    for name in args.methods:
        method = AdaptationMethod(dataclasses.replace(config.method, name=name), CITYSCAPES_CLASSES)
        torch.manual_seed(0)
        network, _ = initial_network(args.variant, None)
        student = Segmenter(network, InputSpec(config.model.input_height, config.model.input_width)).to(device)
        teacher = EmaTeacher(student, config.method.ema_alpha) if method.uses_teacher else None
        batches = IterationBatches(source, target if method.uses_target else None, args.batch, 0, 0,
                                   config.data.resize_height, (config.data.scale_min, config.data.scale_max),
                                   (args.crop, args.crop), method.uses_reference, method.uses_target_labels)
        prepared = [{part: {key: tensor.to(device) for key, tensor in items.items()}
                     for part, items in batches[i].items()} for i in range(args.warmup + args.iterations)]
        runs[name] = {'method': method, 'student': student, 'teacher': teacher, 'batches': prepared,
                      'optimizer': build_optimizer(student, config), 'seconds': []}

    for index in range(args.warmup + args.iterations):
        for run in runs.values():
            if device.type == 'cuda':
                torch.cuda.synchronize()
            began = time.perf_counter()
            optimisation_step(run['method'], run['student'], run['teacher'], run['optimizer'], run['batches'][index],
                              torch.Generator().manual_seed(index), autocast, index)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            if index >= args.warmup:
                run['seconds'].append(time.perf_counter() - began)

    baseline = float(np.median(runs[args.methods[0]]['seconds']))
    machine = (torch.cuda.get_device_name(device) if device.type == 'cuda'
               else f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads')
    print(f'SegFormer-{args.variant.upper()}, batch {args.batch}, crop {args.crop}x{args.crop}, {args.iterations} '
          f'timed iterations each, {machine}')
    print(f'{"method":<14}{"median s/iter":>15}{"p90 s/iter":>12}{"ratio":>8}')
    results = {}
    for name, run in runs.items():
        median = float(np.median(run['seconds']))
        results[name] = {'median_s': median, 'p90_s': float(np.percentile(run['seconds'], 90)),
                         'ratio_to_first': median / baseline}
        print(f'{name:<14}{median:>15.3f}{results[name]["p90_s"]:>12.3f}{median / baseline:>8.2f}')
    if args.json:
        with open(args.json, 'w') as stream:
            json.dump({'config': vars(args), 'machine': machine, 'results': results}, stream, indent=2)


if __name__ == '__main__':
    main()
