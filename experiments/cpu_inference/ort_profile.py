"""ONNX Runtime (CPU) profile of one or more model.onnx graphs: share of kernel time per op type.

Usage: python -m experiments.cpu_inference.ort_profile GRAPH.onnx [GRAPH2.onnx ...] [--frames 5] [--threads 0]
       [--top 12]
Each graph runs `--frames` smooth random frames at its input size after 2 warm-up runs, with ONNX Runtime's
profiler on; the table sums the profiler's kernel ("Node") events per op type over the timed frames and divides by
the frame count (ms per frame). Kernel time excludes the session's own overhead; `wall ms` is the median of
session.run per frame measured beside it (the profiler's own cost included).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import onnxruntime

from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES
from night_seg_ros.export import sample_images

WARMUP = 2


def profile(graph: Path, frames: int, threads: int) -> tuple[dict[str, float], float]:
    """Op type -> kernel ms per frame, and the median wall ms per frame, of `graph` on the CPU."""
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    if threads:
        options.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory(prefix='ort_profile_') as work:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(work, 'profile')
        session = onnxruntime.InferenceSession(str(graph), options, providers=['CPUExecutionProvider'])
        _, height, width, _ = session.get_inputs()[0].shape
        images = sample_images(WARMUP + frames, height, width, seed=5)
        walls = []
        for index, image in enumerate(images):
            start = time.perf_counter()
            session.run(list(OUTPUT_NAMES), {INPUT_NAME: image[None]})
            if index >= WARMUP:
                walls.append(time.perf_counter() - start)
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [event for event in events if event.get('name') == 'model_run']
    timed_from = runs[WARMUP]['ts'] if len(runs) > WARMUP else 0
    per_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get('cat') == 'Node' and event.get('name', '').endswith('_kernel_time') and event['ts'] >= timed_from:
            per_op[event['args']['op_name']] += event['dur'] / 1000.0 / frames  # us -> ms per frame
    return dict(per_op), statistics.median(walls) * 1000.0


def main() -> None:
    """Print one table per graph: op type, ms per frame, share of kernel time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('graphs', nargs='+', type=Path)
    parser.add_argument('--frames', type=int, default=5, help='profiled frames per graph (5)')
    parser.add_argument('--threads', type=int, default=0, help='intra-op threads, 0 = ONNX Runtime default (0)')
    parser.add_argument('--top', type=int, default=12, help='op types shown per graph (12)')
    args = parser.parse_args()
    print(f'load average {" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    for graph in args.graphs:
        per_op, wall = profile(graph, args.frames, args.threads)
        total = sum(per_op.values())
        print(f'\n{graph}: kernel {total:.1f} ms/frame, wall {wall:.1f} ms/frame (median of {args.frames})')
        print(f'{"op":<24}{"ms/frame":>10}{"share":>8}')
        for op, ms in sorted(per_op.items(), key=lambda item: -item[1])[:args.top]:
            print(f'{op:<24}{ms:>10.1f}{ms / total:>8.1%}')


if __name__ == '__main__':
    main()
