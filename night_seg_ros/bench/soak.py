"""Soak run: a long camera stream into seg_node over real DDS, checked for crashes, memory growth and backlog.

seg_node runs as its own process; this process publishes bgr8 frames at a fixed rate (each stamped when sent),
subscribes to all four image outputs and samples the node's resident memory once a second. After a warm-up (the first
`warmup_frames`) it checks:

- no crash: the node is alive at the end, answers a frame sent after the stream, and counted no worker errors;
- memory: the largest resident size after warm-up is less than `max_rss_growth` (10 %) above the size at warm-up's end;
- no backlog: the 95th percentile of end-to-end latency (stamp -> last output received) after warm-up is within a
  bound, by default max(4 x the warm-up median, the warm-up median + 1 s). Latest frame wins in the node, so a healthy
  node keeps latency near one processing time however fast frames come; a backlog would grow it without limit;
- drops are reported, not judged: frames not delivered (sent - received by the node; with depth-1 QoS a newer frame
  replaces an undelivered one), dropped by latest-frame-wins in the node, and answered.

`scripts/soak.py` runs the full 10,000 frames; the tests run 500 frames through the same `run_soak`.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sensor_msgs.msg import Image

    from night_seg_ros.bench.probe import Probe
    from night_seg_ros.node_process import NodeProcess

SETTLE_S = 3.0
"""Seconds to wait for outputs still in flight after the stream, and for the diagnostics that follow."""


@dataclass
class SoakResult:
    """Figures of one soak run. Times in seconds, memory in bytes, rates in frames per second."""

    frames_sent: int
    warmup_frames: int
    rate_hz: float
    camera: str
    duration_s: float = 0.0
    node_received: int = 0
    node_dropped: int = 0
    node_processed: int = 0
    node_errors: int = 0
    node_bad_input: int = 0
    answered: int = 0
    processed_hz: float = 0.0
    rss_warmup: int = 0
    rss_max_after_warmup: int = 0
    rss_end: int = 0
    latency_warmup_p50_s: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    latency_max_s: float | None = None
    latency_bound_s: float | None = None
    alive_at_end: bool = False
    answered_after_stream: bool = False
    failures: list[str] = field(default_factory=list)

    @property
    def rss_growth(self) -> float:
        """(largest RSS after warm-up - RSS at warm-up's end) / RSS at warm-up's end; 0 when not measured."""
        return (self.rss_max_after_warmup - self.rss_warmup) / self.rss_warmup if self.rss_warmup else 0.0

    @property
    def passed(self) -> bool:
        """Whether every check held."""
        return not self.failures

    def as_dict(self) -> dict[str, object]:
        """Every figure plus rss_growth and the verdict, for JSON."""
        return {**asdict(self), 'rss_growth': self.rss_growth, 'verdict': 'PASS' if self.passed else 'FAIL'}

    def report(self) -> str:
        """The verdict and the figures as text lines."""
        def ms(value: float | None) -> str:
            return '-' if value is None else f'{value * 1000:.1f} ms'

        lines = [f'soak {"PASS" if self.passed else "FAIL"}: {self.frames_sent} frames of {self.camera} bgr8 at '
                 f'{self.rate_hz:g} Hz in {self.duration_s:.1f} s (warm-up {self.warmup_frames} frames)',
                 f'  node: received {self.node_received} (not delivered {self.frames_sent - self.node_received}: '
                 'a newer frame replaced it in the depth-1 DDS queue), '
                 f'dropped by latest-frame-wins {self.node_dropped}, processed {self.node_processed} '
                 f'({self.processed_hz:.2f} Hz), errors {self.node_errors}, bad input {self.node_bad_input}; '
                 f'answered here {self.answered}',
                 f'  latency after warm-up: p50 {ms(self.latency_p50_s)}, p95 {ms(self.latency_p95_s)}, max '
                 f'{ms(self.latency_max_s)}; bound on p95 {ms(self.latency_bound_s)} (warm-up p50 '
                 f'{ms(self.latency_warmup_p50_s)})',
                 f'  resident memory: {self.rss_warmup / 2**20:.1f} MiB at warm-up end, max after '
                 f'{self.rss_max_after_warmup / 2**20:.1f} MiB, end {self.rss_end / 2**20:.1f} MiB, growth '
                 f'{self.rss_growth:+.2%}',
                 f'  alive at end {self.alive_at_end}, answered a frame after the stream {self.answered_after_stream}']
        lines += [f'  FAILED: {failure}' for failure in self.failures]
        return '\n'.join(lines)


def latency_bound(warmup_p50: float) -> float:
    """Default bound on the p95 latency after warm-up (s): max(4 x warm-up median, warm-up median + 1 s)."""
    return max(4.0 * warmup_p50, warmup_p50 + 1.0)


def run_soak(bundle_path: Path, work_dir: Path, frames: int = 10_000, rate_hz: float = 30.0,
             camera: tuple[int, int] = (1280, 720), warmup_frames: int | None = None, backend: str = 'onnxruntime',
             max_rss_growth: float = 0.10, bound_s: float | None = None,
             progress: Callable[[str], None] | None = None) -> SoakResult:
    """Stream `frames` camera frames (width, height = `camera`) at `rate_hz` into a seg_node process; check it.

    warmup_frames: frames before the checks start (default 10 % of `frames`). bound_s: bound on the p95 latency after
    warm-up in seconds (default `latency_bound`). `progress` receives a line every 1000 frames.
    Needs rclpy; initialises and shuts down its own context.
    """
    import rclpy

    from night_seg_ros.bench.probe import Probe, camera_messages
    from night_seg_ros.dds import use_large_image_profile
    from night_seg_ros.node_process import NodeProcess
    from night_seg_ros.vocabulary import OUTPUTS

    warmup = frames // 10 if warmup_frames is None else warmup_frames
    width, height = camera
    result = SoakResult(frames, warmup, rate_hz, f'{width}x{height}')
    messages = camera_messages(width, height)
    use_large_image_profile()
    node = NodeProcess(work_dir, f'model:={bundle_path}', f'backend:={backend}', 'diagnostics_period:=1.0',
                       namespace='/soak')
    rclpy.init()
    probe = Probe('soak_probe', namespace='/soak', keep_messages=False)
    rss: list[tuple[int, int]] = []  # (frame index, bytes)
    sample_every = max(1, round(rate_hz))

    def on_frame(index: int) -> None:
        if index % sample_every == 0 or index == warmup:
            rss.append((index, node.rss_bytes()))
        if progress is not None and index and index % 1000 == 0:
            answered = sum(1 for topic, _ in probe.arrival if topic == OUTPUTS[-1])
            progress(f'{index} frames sent, about {answered} answered, node RSS {rss[-1][1] / 2**20:.1f} MiB')

    try:
        node.wait_ready()
        probe.wait_for_node()
        probe.spin_for(1.0)
        started = probe.node.get_clock().now().nanoseconds
        sent = probe.stream(messages, rate_hz, frames, on_frame)
        result.duration_s = (probe.node.get_clock().now().nanoseconds - started) / 1e9
        probe.spin_for(SETTLE_S)
        _check_latency(result, probe.latencies(sent), sent, bound_s)
        _check_memory(result, rss, node.rss_bytes(), max_rss_growth)
        _check_alive(result, probe, node, messages)
    finally:
        probe.node.destroy_node()
        rclpy.try_shutdown()
        node.interrupt()
    return result


def _check_latency(result: SoakResult, latencies: dict[int, float], sent: list[int], bound_s: float | None) -> None:
    from night_seg_ros.bench.probe import answer_rate

    warm = [latencies[stamp] for stamp in sent[:result.warmup_frames] if stamp in latencies]
    after = [latencies[stamp] for stamp in sent[result.warmup_frames:] if stamp in latencies]
    result.answered = len(latencies)
    result.processed_hz = answer_rate(latencies) or 0.0
    if warm:
        result.latency_warmup_p50_s = statistics.median(warm)
    result.latency_bound_s = bound_s if bound_s is not None else (
        latency_bound(result.latency_warmup_p50_s) if warm else None)
    if not after:
        result.failures.append('no frame after warm-up was answered')
        return
    result.latency_p50_s, result.latency_p95_s = (float(v) for v in np.percentile(after, [50, 95]))
    result.latency_max_s = max(after)
    if result.latency_bound_s is None:
        result.failures.append('no frame during warm-up was answered, so the latency bound is unknown')
    elif result.latency_p95_s > result.latency_bound_s:
        result.failures.append(f'latency p95 after warm-up {result.latency_p95_s * 1000:.1f} ms exceeds the bound '
                               f'{result.latency_bound_s * 1000:.1f} ms (a backlog?)')


def _check_memory(result: SoakResult, rss: list[tuple[int, int]], end: int, max_growth: float) -> None:
    warm = [value for index, value in rss if index >= result.warmup_frames and value]
    result.rss_end = end
    if not warm:
        result.failures.append('the node\'s resident memory could not be read after warm-up')
        return
    result.rss_warmup, result.rss_max_after_warmup = warm[0], max(warm + [end])
    if result.rss_growth >= max_growth:
        result.failures.append(f'resident memory grew {result.rss_growth:.1%} after warm-up (limit {max_growth:.0%})')


def _check_alive(result: SoakResult, probe: Probe, node: NodeProcess, messages: list[Image]) -> None:
    stamps = probe.stream(messages[:1], 1.0, 1)
    result.answered_after_stream = probe.spin_until(lambda: bool(probe.latencies(stamps)), 30.0)
    probe.received['diagnostics'].clear()
    probe.spin_until(lambda: bool(probe.last_diagnostics()), 2 * SETTLE_S)
    totals = probe.last_diagnostics()
    for key in ('received', 'dropped', 'processed', 'errors', 'bad_input'):
        setattr(result, f'node_{key}', int(totals.get(key, 0)))
    if result.answered_after_stream:  # leave out the frame sent after the stream
        result.node_received -= 1
        result.node_processed -= 1
    result.alive_at_end = node.process.poll() is None
    if not result.alive_at_end:
        result.failures.append(f'seg_node exited with code {node.process.poll()}; see {node.log_path}')
    if not result.answered_after_stream:
        result.failures.append('seg_node did not answer a frame sent after the stream')
    if not totals:
        result.failures.append('no diagnostics from seg_node after the stream')
    if result.node_errors:
        result.failures.append(f'seg_node counted {result.node_errors} worker errors')
