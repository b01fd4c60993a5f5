"""`night-seg-train bench`: the cost of one training iteration per method, same batch and crop, measured in one run;
prints the ratios to the first method (source_only by default).

Each method's run is built as the loop builds it (`run.build_run` on the synthetic_demo recipe) and each timed
iteration is its `optimisation_step` (teacher forward, cross attention, ClassMix, strong augmentation, student forward
and backward, AdamW step, EMA update) on batches prepared beforehand, so data loading (which overlaps training in
background workers) is not counted, nor are the pseudo-label diagnostics (measurement only). Methods are timed in
alternation so drift in the machine's speed hits them alike.

  night-seg-train bench                                       # B0, batch 4, 192x192 crops, CPU
  night-seg-train bench --device cuda --crop 512 --batch 2
"""
from __future__ import annotations

import contextlib
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from night_seg_ros.files import atomic_write_bytes
from night_seg_training.config import load_config
from night_seg_training.datasets import build_dataset
from night_seg_training.run import Datasets, build_run


def bench_iterations(methods: Sequence[str], batch: int, crop: int, iterations: int, warmup: int, variant: str,
                     device_name: str, json_path: str | None, malloc: str = 'defaults') -> dict[str, dict[str, float]]:
    """Time `iterations` optimisation steps per method (after `warmup` untimed ones), the methods in alternation, on
    `batch` day (and night) crops of crop x crop pixels of SegFormer-`variant` on `device_name` ('cpu' or 'cuda').
    `malloc` says how the caller set up the allocator (night_seg_training.allocator); it is printed and saved.

    Prints the table; with `json_path`, also writes {'config', 'machine', 'results'} there. Returns the results: per
    method median_s and p90_s (seconds per iteration) and ratio_to_first (median / the first method's median).
    """
    device = torch.device(device_name)
    spec = {'split': 'train', 'count': 64, 'height': 256, 'width': 512, 'seed': 0}
    datasets = Datasets(build_dataset({'name': 'synthetic_day', **spec}),
                        build_dataset({'name': 'synthetic_night', **spec}), {})
    autocast = (torch.autocast('cuda', dtype=torch.bfloat16) if device.type == 'cuda' else contextlib.nullcontext())
    runs = {}
    for name in methods:
        config = load_config('synthetic_demo', [f'method.name={name}', f'model.variant={variant}', 'model.init=null',
                                                'seed=0', f'optim.batch_size={batch}', f'data.crop_height={crop}',
                                                f'data.crop_width={crop}', 'schedule.pseudo_label_diagnostics=false'])
        run = build_run(config, device, datasets=datasets)
        prepared = [{part: {key: tensor.to(device) for key, tensor in items.items()}
                     for part, items in run.batches[i].items()} for i in range(warmup + iterations)]
        runs[name] = {'run': run, 'batches': prepared, 'seconds': []}

    for index in range(warmup + iterations):
        for run in runs.values():
            if device.type == 'cuda':
                torch.cuda.synchronize()
            began = time.perf_counter()
            run['run'].optimisation_step(run['batches'][index], torch.Generator().manual_seed(index), autocast, index)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            if index >= warmup:
                run['seconds'].append(time.perf_counter() - began)

    baseline = float(np.median(runs[methods[0]]['seconds']))
    machine = (torch.cuda.get_device_name(device) if device.type == 'cuda'
               else f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, '
                    f'malloc {malloc}')
    print(f'SegFormer-{variant.upper()}, batch {batch}, crop {crop}x{crop}, {iterations} '
          f'timed iterations each, {machine}')
    print(f'{"method":<14}{"median s/iter":>15}{"p90 s/iter":>12}{"ratio":>8}')
    results = {}
    for name, run in runs.items():
        median = float(np.median(run['seconds']))
        results[name] = {'median_s': median, 'p90_s': float(np.percentile(run['seconds'], 90)),
                         'ratio_to_first': median / baseline}
        print(f'{name:<14}{median:>15.3f}{results[name]["p90_s"]:>12.3f}{median / baseline:>8.2f}')
    if json_path:
        settings = {'methods': list(methods), 'batch': batch, 'crop': crop, 'iterations': iterations,
                    'warmup': warmup, 'variant': variant, 'device': device_name, 'json': json_path}
        atomic_write_bytes(Path(json_path), json.dumps({'config': settings, 'machine': machine, 'results': results},
                                                       indent=2).encode())
    return results
