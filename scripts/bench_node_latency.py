#!/usr/bin/env python3
"""Node overhead over real DDS: end-to-end latency of seg_node vs the bare backend's inference on the same frames.

Runs the bare onnxruntime backend on N camera frames (resized to the model's input as the node does) for its median
infer time T, then starts seg_node (its own process, onnxruntime backend) and publishes the same frames from this
process at a period of 1.5 x T (so no frame waits), once with only `labels` subscribed and once with all four image
outputs. Prints, per run: median latency stamp -> labels received, and to the last of the four outputs; its ratio to
T and the overhead (latency - T) in ms; and the overhead against the node's own median infer time in that run (from
its diagnostics), which removes the run-to-run spread of CPU inference from the figure. Example:

    .venv/bin/python scripts/bench_node_latency.py --camera 1920x1080 --frames 20
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test'))
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

from night_seg_ros.backends import create_backend  # noqa: E402
from night_seg_ros.bundle import read_bundle  # noqa: E402
from night_seg_ros.codec import numpy_to_image  # noqa: E402
from night_seg_ros.dds import use_large_image_profile  # noqa: E402
from night_seg_ros.export import sample_images  # noqa: E402


def size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' -> (width, height)."""
    width, height = (int(v) for v in text.lower().split('x'))
    return width, height


def bare_infer_times(bundle_path: Path, frames: list[np.ndarray]) -> list[float]:
    """Seconds per backend.infer on each frame after the node's resize (warm-up first)."""
    bundle = read_bundle(bundle_path)
    backend = create_backend('onnxruntime', bundle)
    backend.warmup()
    times = []
    for frame in frames:
        rgb = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (bundle.input.width, bundle.input.height))
        start = time.perf_counter()
        backend.infer(rgb)
        times.append(time.perf_counter() - start)
    return times


def node_latencies(bundle_path: Path, frames: list[np.ndarray], period: float, outputs: tuple[str, ...],
                   log_dir: Path) -> dict[str, list[float]]:
    """Publish `frames` to a seg_node process every `period` s; latency (s) to labels and to the last output."""
    import rclpy
    from ros_probe import NodeProcess, Probe, stamp_ns

    node = NodeProcess(log_dir, f'model:={bundle_path}', 'backend:=onnxruntime')
    rclpy.init()
    probe = Probe('bench_probe', outputs=outputs)
    arrival = probe.arrival
    result: dict[str, list[float]] = {'labels': [], 'all': [], 'node_infer_ms': [], 'node_processing_ms': [],
                                      'node_latency_ms': []}
    try:
        node.wait_ready()
        probe.wait_for_node()
        probe.spin_until(lambda: False, 2.0)  # let every output subscription match
        for index, frame in enumerate([frames[0]] * 2 + frames):  # two warm-up frames, not counted
            msg = numpy_to_image(frame, 'bgr8', probe.header())
            msg.header.stamp = probe.node.get_clock().now().to_msg()  # stamped when sent, as a driver would
            stamp = stamp_ns(msg.header)
            probe.image_pub.publish(msg)
            sent = time.monotonic()
            answered = probe.spin_until(lambda stamp=stamp: all((t, stamp) in arrival for t in outputs), 10 * period)
            if answered and index >= 2:
                result['labels'].append(arrival[('labels', stamp)] - stamp / 1e9)
                result['all'].append(max(arrival[(t, stamp)] for t in outputs) - stamp / 1e9)
            probe.spin_until(lambda: False, max(0.0, period - (time.monotonic() - sent)))
        probe.received['diagnostics'].clear()
        probe.spin_until(lambda: 'infer_p50_ms' in probe.last_diagnostics(), 5.0)
        result['node_infer_ms'] = [float(probe.last_diagnostics()['infer_p50_ms'])]
        result['node_processing_ms'] = [float(probe.last_diagnostics()['processing_p50_ms'])]
        result['node_latency_ms'] = [float(probe.last_diagnostics()['latency_p50_ms'])]
    finally:
        probe.node.destroy_node()
        rclpy.try_shutdown()
        node.interrupt()
    return result


def main() -> int:
    """Run the benchmark and print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--bundle', type=Path, help='bundle with model.onnx (default: an untrained B0 at 512x1024)')
    parser.add_argument('--camera', type=size, default=(1920, 1080), help='camera WIDTHxHEIGHT (1920x1080)')
    parser.add_argument('--frames', type=int, default=20, help='frames per run (20)')
    parser.add_argument('--json', type=Path, help='also write the figures here')
    args = parser.parse_args()
    use_large_image_profile()
    work = Path(tempfile.mkdtemp(prefix='bench_node_'))
    bundle_path = args.bundle
    if bundle_path is None:
        from night_seg_ros.export import export_onnx
        from night_seg_ros.model import create_untrained_bundle

        bundle_path = work / 'b0_512x1024'
        export_onnx(create_untrained_bundle(bundle_path, 'b0', 512, 1024))
    width, height = args.camera
    frames = [cv2.cvtColor(image, cv2.COLOR_RGB2BGR) for image in sample_images(args.frames, height, width, seed=1)]
    infer = statistics.median(bare_infer_times(bundle_path, frames))
    period = 1.5 * infer
    print(f'camera {width}x{height} bgr8, model {bundle_path.name}, {args.frames} frames, '
          f'bare onnxruntime infer median {infer * 1000:.1f} ms, publish period {period * 1000:.0f} ms')
    figures = {'camera': f'{width}x{height}', 'frames': args.frames, 'bare_infer_ms': infer * 1000, 'runs': {}}
    print(f'{"subscribed":<10} {"to":<7} {"median ms":>9} {"/ bare":>7} {"- bare ms":>10} '
          f'{"node infer":>10} {"- node ms":>10} {"received":>9} {"node proc":>10} {"node stamp":>10}')
    for label, outputs in (('labels', ('labels',)), ('all four', ('labels', 'color', 'overlay', 'confidence'))):
        latencies = node_latencies(bundle_path, frames, period, outputs, work)
        node_infer = latencies['node_infer_ms'][0] / 1000
        for target in ('labels', 'all'):
            if target == 'all' and len(outputs) == 1 or not latencies[target]:
                continue
            median = statistics.median(latencies[target])
            row = {'median_ms': median * 1000, 'ratio_to_bare': median / infer,
                   'overhead_vs_bare_ms': (median - infer) * 1000, 'node_infer_p50_ms': node_infer * 1000,
                   'overhead_vs_node_infer_ms': (median - node_infer) * 1000, 'received': len(latencies[target]),
                   'node_processing_p50_ms': latencies['node_processing_ms'][0],
                   'node_stamp_to_published_p50_ms': latencies['node_latency_ms'][0]}
            figures['runs'][f'{label} -> {target}'] = row
            print(f'{label:<10} {target:<7} {row["median_ms"]:>9.1f} {row["ratio_to_bare"]:>7.3f} '
                  f'{row["overhead_vs_bare_ms"]:>10.1f} {row["node_infer_p50_ms"]:>10.1f} '
                  f'{row["overhead_vs_node_infer_ms"]:>10.1f} {row["received"]:>6}/{args.frames} '
                  f'{row["node_processing_p50_ms"]:>10.1f} {row["node_stamp_to_published_p50_ms"]:>10.1f}')
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
