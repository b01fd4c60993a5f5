"""Part (e): seg_node's CPU a frame over DDS against a zero-work node with the same topics, in the same run.

seg_node runs as its own process on a model so small that inference is about a millisecond (an untrained B0 at
128x64), and so does `zero_work_node`, which publishes prepared outputs of the same encodings and sizes and does
nothing else. This process publishes 1920x1080 bgr8 frames (the shipped 64 MB shared-memory Fast DDS profile, as a
well-configured camera driver) at each rate for a fixed time to one node, then the other, subscribing to each output
set's topics. A node's CPU a frame is its process's user + system time over the stream (from /proc) divided by the
frames it answered; seg_node's minus the zero-work node's is the node's own work, the rest is what DDS and rclpy
cost to move the bytes. On a machine with few cores the sender, the receivers and the transport share them, so the
answered ratio between the two nodes is the figure to read, not an absolute rate.
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from night_seg_ros.backends import Backend, create_backend
from night_seg_ros.bench.models import untrained_bundle
from night_seg_ros.bench.output_sets import OUTPUT_SETS, OutputSet
from night_seg_ros.bench.report import Column, Table
from night_seg_ros.node_process import NodeProcess

if TYPE_CHECKING:
    from night_seg_ros.bench.probe import Probe

COLUMNS = [Column('outputs', 'outputs'), Column('input_hz', 'input Hz'), Column('sent', 'sent'),
           Column('seg_answered', 'seg_node answered'), Column('zero_answered', 'zero-work answered'),
           Column('answered_ratio', 'answered ratio', '.3f'),
           Column('seg_cpu_ms', 'seg_node CPU ms/frame', '.1f'), Column('zero_cpu_ms', 'zero-work CPU ms/frame', '.1f'),
           Column('own_ms', 'node\'s own ms/frame', '.1f'), Column('model_cpu_ms', 'of it the model, CPU ms', '.1f'),
           Column('own_without_model_ms', 'own without the model, ms', '.1f')]
SETTLE_S = 2.0
"""Seconds after a stream for outputs still in flight, and after a start for discovery."""


@dataclass
class _Measured:
    answered: int
    cpu_ms: float | None


def bench_node_cpu(work_dir: Path, rates: list[float], seconds: float,
                   output_sets: tuple[OutputSet, ...] = OUTPUT_SETS, camera: tuple[int, int] = (1920, 1080)) -> Table:
    """For each output set and rate, stream to seg_node and to the zero-work node in turn; return the table."""
    import rclpy

    from night_seg_ros.bench.probe import Probe, camera_messages
    from night_seg_ros.dds import use_large_image_profile

    model_width, model_height = 128, 64
    bundle = untrained_bundle(work_dir, model_width, model_height)
    backend = create_backend('onnxruntime', bundle, 'cpu', 'fp32', 1)
    width, height = camera
    table = Table('node_cpu', f'(e) seg_node\'s CPU a frame against a zero-work node with the same topics, over DDS, '
                              f'{width}x{height} bgr8 in, model untrained B0 {model_width}x{model_height} on '
                              f'onnxruntime (1 thread), {seconds:g} s per row and node', COLUMNS,
                  ['outputs', 'input_hz'], ['seg_cpu_ms', 'zero_cpu_ms'])
    use_large_image_profile()
    rclpy.init()
    messages = camera_messages(width, height)
    try:
        for output_set in output_sets:
            network = output_set.output_resolution == 'network'
            seg = NodeProcess(work_dir, f'model:={bundle.path}', 'backend:=onnxruntime', 'device:=cpu',
                              'num_threads:=1', f'confidence_threshold:={output_set.confidence_threshold}',
                              f'output_resolution:={output_set.output_resolution}', namespace='/cpu_seg')
            zero_command = [sys.executable, '-m', 'night_seg_ros.bench.zero_work_node']
            if network:
                zero_command += ['--size', f'{model_width}x{model_height}']
            zero = NodeProcess(work_dir, namespace='/cpu_zero', command=zero_command, name='zero_work_node')
            probes = {'seg': Probe('cpu_probe_seg', namespace='/cpu_seg', outputs=output_set.outputs,
                                   keep_messages=False),
                      'zero': Probe('cpu_probe_zero', namespace='/cpu_zero', outputs=output_set.outputs,
                                    keep_messages=False)}
            processes = {'seg': seg, 'zero': zero}
            try:
                seg.wait_ready()
                zero.wait_ready()
                for probe in probes.values():
                    probe.wait_for_node()
                    probe.stream(messages, 1.0 / SETTLE_S, 2)  # warm-up, not counted
                    probe.spin_for(SETTLE_S)
                for rate in rates:
                    model_cpu_ms = _model_cpu_ms(backend)
                    count = max(1, round(rate * seconds))
                    measured = {name: _stream(probes[name], processes[name], messages, rate, count,
                                              output_set.outputs) for name in ('seg', 'zero')}
                    row = _row(output_set, rate, count, measured['seg'], measured['zero'])
                    row['model_cpu_ms'] = model_cpu_ms
                    if 'own_ms' in row:
                        row['own_without_model_ms'] = row['own_ms'] - model_cpu_ms
                    table.rows.append(row)
            finally:
                for probe in probes.values():
                    probe.node.destroy_node()
                seg.interrupt()
                zero.interrupt()
    finally:
        rclpy.try_shutdown()
    table.notes.append('CPU a frame: the process\'s user + system seconds over the stream and the settling after it, '
                       'divided by the frames it answered on every subscribed output')
    return table


def _model_cpu_ms(backend: Backend, frames: int = 30) -> float:
    """CPU milliseconds of one `infer` of `backend` on a blank frame (this process's time, median of `frames`)."""
    blank = np.zeros((backend.height, backend.width, 3), np.uint8)
    backend.infer(blank)
    times = []
    for _ in range(frames):
        start = time.process_time()
        backend.infer(blank)
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def _stream(probe: Probe, node: NodeProcess, messages: list, rate: float, count: int,
            outputs: tuple[str, ...]) -> _Measured:
    before = node.cpu_seconds()
    stamps = probe.stream(messages, rate, count)
    probe.spin_for(SETTLE_S)
    cpu = node.cpu_seconds() - before
    answered = len(probe.latencies(stamps, outputs))
    return _Measured(answered, cpu / answered * 1000 if answered else None)


def _row(output_set: OutputSet, rate: float, sent: int, seg: _Measured, zero: _Measured) -> dict[str, object]:
    row: dict[str, object] = {'outputs': output_set.name, 'input_hz': rate, 'sent': sent,
                              'seg_answered': seg.answered, 'zero_answered': zero.answered,
                              'seg_cpu_ms': seg.cpu_ms, 'zero_cpu_ms': zero.cpu_ms}
    if zero.answered:
        row['answered_ratio'] = seg.answered / zero.answered
    if seg.cpu_ms is not None and zero.cpu_ms is not None:
        row['own_ms'] = seg.cpu_ms - zero.cpu_ms
    return row
