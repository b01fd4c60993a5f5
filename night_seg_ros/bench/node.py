"""Part (b): seg_node's overhead over real DDS, against the bare backend on the same model.

The bare figure is the backend's median `infer` time T on frames already at the model's input size (so it leaves out
decoding, resizing, rendering and transport) and its rate 1 / T, measured in this process just before and after each
row's stream. seg_node runs as its own process (same backend); this process publishes bgr8 camera frames at each
input rate for a fixed time, stamped when sent, and subscribes to all four image outputs. Per camera size and rate:
end-to-end latency (stamp -> the last of the four outputs received here) over T, and the processed rate (answers per
second between the first and the last answer) over the bare rate and over what is attainable (the lower of the input
rate and the bare rate). Latest frame wins in the node, so frames it cannot take are dropped, not queued.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from night_seg_ros.backends import create_backend
from night_seg_ros.bench.report import Column, Table
from night_seg_ros.bundle import read_bundle
from night_seg_ros.export import sample_images

if TYPE_CHECKING:
    from night_seg_ros.bench.probe import Probe

COLUMNS = [Column('camera', 'camera WxH'), Column('input_hz', 'input Hz'), Column('sent', 'sent'),
           Column('answered', 'answered'), Column('node_dropped', 'node dropped'),
           Column('processed_hz', 'processed Hz', '.2f'), Column('bare_infer_ms', 'bare infer ms', '.1f'),
           Column('bare_hz', 'bare Hz', '.2f'),
           Column('rate_ratio', 'processed / bare rate', '.3f'),
           Column('attainable_ratio', 'processed / attainable', '.3f'),
           Column('latency_p50_ms', 'e2e p50 ms', '.1f'), Column('latency_p95_ms', 'e2e p95 ms', '.1f'),
           Column('latency_ratio', 'e2e p50 / bare infer', '.3f')]
SETTLE_S = 2.0
"""Seconds to wait after a stream for outputs still in flight, and before the first stream for discovery."""


class BareInfer:
    """The bare backend on the node's model: times `infer` on smooth random frames at the model's input size."""

    def __init__(self, bundle_path: Path, backend: str, frames: int = 4) -> None:
        """Create and warm up `backend` on the bundle at `bundle_path`; prepare `frames` distinct frames."""
        bundle = read_bundle(bundle_path)
        self.runner = create_backend(backend, bundle, 'cpu')
        self.runner.warmup()
        self.frames = sample_images(frames, bundle.input.height, bundle.input.width, seed=2)

    def seconds(self, count: int) -> list[float]:
        """Seconds of each of `count` inferences."""
        times = []
        for index in range(count):
            start = time.perf_counter()
            self.runner.infer(self.frames[index % len(self.frames)])
            times.append(time.perf_counter() - start)
        return times


def bench_node(work_dir: Path, bundle_path: Path, backend: str, cameras: list[tuple[int, int]], rates: list[float],
               seconds: float, bare_frames: int = 4) -> Table:
    """Stream each camera size at each rate for `seconds` into a seg_node process; return the table.

    The bare time of each row is the median of `bare_frames` inferences just before and as many just after its
    stream, so a change in the machine's load during the run moves both sides of the row's ratios alike.
    """
    import rclpy

    from night_seg_ros.bench.probe import Probe, answer_rate, camera_messages
    from night_seg_ros.dds import use_large_image_profile
    from night_seg_ros.node_process import NodeProcess

    bare = BareInfer(bundle_path, backend)
    model = read_bundle(bundle_path).input
    table = Table('node', f'(b) seg_node over DDS vs bare {backend} (model {bundle_path.name}, input '
                          f'{model.width}x{model.height}), {seconds:g} s per row, bgr8 in, all four outputs '
                          'subscribed', COLUMNS,
                  ['camera', 'input_hz'], ['rate_ratio', 'attainable_ratio', 'latency_ratio'])
    use_large_image_profile()
    node = NodeProcess(work_dir, f'model:={bundle_path}', f'backend:={backend}', 'device:=cpu',
                       'diagnostics_period:=0.5', namespace='/bench_node')
    rclpy.init()
    probe = Probe('bench_probe', namespace='/bench_node', keep_messages=False)
    try:
        node.wait_ready()
        probe.wait_for_node()
        probe.spin_for(SETTLE_S)
        for width, height in cameras:
            messages = camera_messages(width, height)
            probe.stream(messages, 1.0 / SETTLE_S, 2)  # warm-up at this size, not counted
            probe.spin_for(SETTLE_S)
            for rate in rates:
                infer_times = bare.seconds(bare_frames)
                dropped_before = _node_total(probe, 'dropped')
                stamps = probe.stream(messages, rate, max(1, round(rate * seconds)))
                probe.spin_for(SETTLE_S + 2 * statistics.median(infer_times))
                latencies = probe.latencies(stamps)
                dropped = _node_total(probe, 'dropped') - dropped_before
                infer_times += bare.seconds(bare_frames)
                table.rows.append(_row(width, height, rate, stamps, latencies, answer_rate(latencies),
                                       statistics.median(infer_times), dropped))
        if node.process.poll() is not None:
            table.notes.append(f'seg_node exited during the run (code {node.process.poll()}); see {node.log_path}')
    finally:
        probe.node.destroy_node()
        rclpy.try_shutdown()
        node.interrupt()
    return table


def _node_total(probe: Probe, counter: str) -> int:
    """A counter of the node's latest diagnostics (0 before the first)."""
    return int(probe.last_diagnostics().get(counter, 0))


def _row(width: int, height: int, rate: float, stamps: list[int], latencies: dict[int, float],
         processed: float | None, bare: float, node_dropped: int) -> dict[str, object]:
    row: dict[str, object] = {'camera': f'{width}x{height}', 'input_hz': rate, 'sent': len(stamps),
                              'answered': len(latencies), 'node_dropped': node_dropped, 'processed_hz': processed,
                              'bare_infer_ms': bare * 1000, 'bare_hz': 1.0 / bare}
    if processed is not None:
        row.update(rate_ratio=processed * bare, attainable_ratio=processed / min(rate, 1.0 / bare))
    if latencies:
        p50, p95 = np.percentile(list(latencies.values()), [50, 95])
        row.update(latency_p50_ms=float(p50) * 1000, latency_p95_ms=float(p95) * 1000,
                   latency_ratio=float(p50) / bare)
    return row
