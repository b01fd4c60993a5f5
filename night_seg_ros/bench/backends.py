"""Part (a): the bare backends' inference time per backend, device and model input size.

For each input size, every backend that can run here (torch and onnxruntime on the CPU; on CUDA too when present) is
created on the same untrained B0 bundle and timed on the same smooth random frames, the backends taking turns frame
by frame so a change in the machine's speed hits them alike. Ratios are to torch on the CPU at the same size and
thread count.
"""
from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

import numpy as np

from night_seg_ros.backends import Backend, BackendError, create_backend
from night_seg_ros.bench.models import untrained_bundle
from night_seg_ros.bench.report import Column, Table
from night_seg_ros.bundle import Bundle
from night_seg_ros.export import sample_images

COLUMNS = [Column('input', 'input WxH'), Column('backend', 'backend'), Column('device', 'device'),
           Column('threads', 'CPU threads'),
           Column('median_ms', 'median ms', '.1f'), Column('p90_ms', 'p90 ms', '.1f'), Column('fps', 'fps', '.2f'),
           Column('ratio', 'time / torch cpu', '.3f')]


def cuda_available() -> bool:
    """Whether torch or ONNX Runtime can use a CUDA device here."""
    try:
        import onnxruntime

        if 'CUDAExecutionProvider' in onnxruntime.get_available_providers():
            return True
    except ImportError:
        pass
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _torch_threads(threads: int | None) -> int | None:
    """Set torch's process-wide CPU threads to `threads` (None: leave them); return the previous count.

    None without torch.
    """
    try:
        import torch
    except ImportError:
        return None
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    return previous


def bench_backends(work_dir: Path, sizes: list[tuple[int, int]], backends: list[str], iterations: int,
                   thread_counts: list[int]) -> Table:
    """Time `iterations` inferences of each backend per (width, height) in `sizes` and CPU thread count; the table.

    A thread count of 0 is each library's default (one per core). torch's thread count is process-wide, so thread
    counts are timed one after another, not alternating.
    """
    devices = ['cpu', 'cuda'] if cuda_available() else ['cpu']
    table = Table('backends', f'(a) bare backend inference, untrained SegFormer-B0, {iterations} frames each '
                              f'after 2 warm-up, backends alternating', COLUMNS,
                  ['input', 'backend', 'device', 'threads'], ['median_ms'])
    default_threads = _torch_threads(None)
    for (width, height), threads in itertools.product(sizes, thread_counts):
        _torch_threads(threads or default_threads)
        _time_size(table, untrained_bundle(work_dir, width, height), backends, devices, iterations, threads)
    _torch_threads(default_threads)
    return table


def _time_size(table: Table, bundle: Bundle, backends: list[str], devices: list[str], iterations: int,
               threads: int) -> None:
    """Add one row per backend and device that can run here, timed on the same frames, taking turns."""
    width, height = bundle.input.width, bundle.input.height
    runners: dict[tuple[str, str], Backend] = {}
    for name in backends:
        for device in devices:
            try:
                runners[(name, device)] = create_backend(name, bundle, device, num_threads=threads)
            except BackendError as error:
                table.notes.append(f'{name} on {device} at {width}x{height} skipped: {error}')
    for backend in runners.values():
        backend.warmup()
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in runners}
    for frame in sample_images(iterations, height, width, seed=3):
        for key, backend in runners.items():
            start = time.perf_counter()
            backend.infer(frame)
            seconds[key].append(time.perf_counter() - start)
    baseline = statistics.median(seconds[('torch', 'cpu')]) if ('torch', 'cpu') in seconds else None
    for (name, device), times in seconds.items():
        median = statistics.median(times)
        table.rows.append({'input': f'{width}x{height}', 'backend': name, 'device': runners[(name, device)].device,
                           'threads': threads or 'default', 'median_ms': median * 1000,
                           'p90_ms': float(np.percentile(times, 90)) * 1000, 'fps': 1.0 / median,
                           'ratio': median / baseline if baseline else None})
    return table
