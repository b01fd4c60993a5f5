"""Part (a): the bare backends' inference time per backend, device and model input size, or per ONNX graph.

For each input size, every backend that can run here (torch and onnxruntime on the CPU; on CUDA too when present) is
created on the same untrained B0 bundle and timed on the same smooth random frames, the backends taking turns frame
by frame so a change in the machine's speed hits them alike. Ratios are to torch on the CPU at the same size and
thread count.

With graphs (`night-seg bench --parts backends --model BUNDLE --graphs A.onnx B.onnx`), the backends run on that
bundle at its input size instead, and each graph runs in ONNX Runtime beside them in the same turns (the model.onnx
of an earlier export against today's, say); each row's `time / first graph` is its time over the first graph's.
"""
from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence
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
GRAPH_COLUMNS = [*COLUMNS[:2], Column('graph', 'graph'), *COLUMNS[2:],
                 Column('graph_ratio', 'time / first graph', '.3f')]
"""COLUMNS with the graph each row ran and its time over the first graph's (a run with graphs)."""


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
                   thread_counts: list[int], model: Bundle | None = None, graphs: Sequence[Path] = ()) -> Table:
    """Time `iterations` inferences of each backend per (width, height) in `sizes` and CPU thread count; the table.

    A thread count of 0 is each library's default (one per core). torch's thread count is process-wide, so thread
    counts are timed one after another, not alternating. With `graphs` (ONNX files keeping `model`'s contract), the
    backends run on `model` at its input size (`sizes` unused) and each graph runs in ONNX Runtime on the CPU among
    them.
    """
    devices = ['cpu', 'cuda'] if cuda_available() else ['cpu']
    subject = f'{model.path.name} and {len(graphs)} graphs of it' if graphs else 'untrained SegFormer-B0'
    table = Table('backends', f'(a) bare backend inference, {subject}, {iterations} frames each after 2 warm-up, '
                              f'backends alternating', GRAPH_COLUMNS if graphs else COLUMNS,
                  ['input', 'backend', 'graph', 'device', 'threads'] if graphs else ['input', 'backend', 'device',
                                                                                      'threads'], ['median_ms'])
    default_threads = _torch_threads(None)
    for size, threads in itertools.product([None] if graphs else sizes, thread_counts):
        _torch_threads(threads or default_threads)
        bundle = model if graphs else untrained_bundle(work_dir, *size)
        _time_runners(table, bundle, _runners(table, bundle, backends, devices, threads, graphs), iterations,
                      threads)
    _torch_threads(default_threads)
    return table


Runners = dict[tuple[str, str, str], Backend]
"""(backend name, device asked for, graph file or '') -> the backend."""


def _runners(table: Table, bundle: Bundle, backends: list[str], devices: list[str], threads: int,
             graphs: Sequence[Path]) -> Runners:
    """Each backend and device that can run here on `bundle`, then each graph in ONNX Runtime on the CPU."""
    from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

    runners: Runners = {}
    for name, device in itertools.product(backends, devices):
        try:
            runners[(name, device, '')] = create_backend(name, bundle, device, num_threads=threads)
        except BackendError as error:
            table.notes.append(f'{name} on {device} at {bundle.input.width}x{bundle.input.height} skipped: {error}')
    for graph in graphs:
        runners[('onnxruntime', 'cpu', str(graph))] = OnnxRuntimeBackend(bundle, 'cpu', threads, graph)
    return runners


def _time_runners(table: Table, bundle: Bundle, runners: Runners, iterations: int, threads: int) -> None:
    """Add one row per runner, all timed on the same frames, taking turns frame by frame."""
    width, height = bundle.input.width, bundle.input.height
    for backend in runners.values():
        backend.warmup()
    seconds: dict[tuple[str, str, str], list[float]] = {key: [] for key in runners}
    for frame in sample_images(iterations, height, width, seed=3):
        for key, backend in runners.items():
            start = time.perf_counter()
            backend.infer(frame)
            seconds[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(times) for key, times in seconds.items()}
    baseline = medians.get(('torch', 'cpu', ''))
    first_graph = next((median for (_, _, graph), median in medians.items() if graph), None)
    for (name, device, graph), times in seconds.items():
        median = medians[(name, device, graph)]
        table.rows.append({'input': f'{width}x{height}', 'backend': name, 'graph': graph or _own_graph(name),
                           'device': runners[(name, device, graph)].device, 'threads': threads or 'default',
                           'median_ms': median * 1000, 'p90_ms': float(np.percentile(times, 90)) * 1000,
                           'fps': 1.0 / median, 'ratio': median / baseline if baseline else None,
                           'graph_ratio': median / first_graph if first_graph else None})


def _own_graph(backend: str) -> str:
    """The graph column of a backend on the bundle itself: its model.onnx for onnxruntime, none for torch."""
    return 'model.onnx' if backend == 'onnxruntime' else '-'
