"""Part (d): the node's own CPU work per frame, in-process, with a zero-time backend: before against now.

A frame is what seg_node does between taking a message and publishing: decode, resize to the network, inference,
threshold, then each requested output rendered into its reusable message buffer. The backend is `ZeroTimeBackend`
(it hands back fixed labels and confidence), so the figure is the node's own work, the part no GPU can take away
when rendering stays on the CPU. `previous_frame` is the per-frame code as it was before the renderer reused
buffers and upsampled once (kept here as the reference the figures and the output-equality test compare with);
`current_frame` is the pipeline's. Both run in turns on the same bgr8 messages, on one core (the process is pinned
and OpenCV runs one thread), at each camera size and output set.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial

import cv2
import numpy as np

from night_seg_ros import codec
from night_seg_ros.backends.base import Backend
from night_seg_ros.bench.output_sets import OUTPUT_SETS, OutputSet
from night_seg_ros.bench.report import Column, Table
from night_seg_ros.classes import CITYSCAPES_PALETTE, IGNORE_INDEX
from night_seg_ros.pipeline import SegmentationPipeline
from night_seg_ros.render import colorize, palette_lut

COLUMNS = [Column('model', 'model WxH'), Column('camera', 'camera WxH'), Column('outputs', 'outputs'),
           Column('previous_ms', 'before ms', '.2f'), Column('current_ms', 'now ms', '.2f'),
           Column('speedup', 'before / now', '.1f')]


class ZeroTimeBackend(Backend):
    """A backend that takes no time: fixed uint8 (h, w) labels (smooth regions of 19 classes) and float32 (h, w)
    confidence 0.3-1, returned as they are (a test double for the model, for measuring everything around it)."""

    name = 'zero-time'
    device = 'cpu'

    def __init__(self, height: int, width: int, seed: int = 0) -> None:
        """Prepare the answer for a height x width model input."""
        super().__init__(height, width)
        rng = np.random.default_rng(seed)
        coarse = rng.integers(0, 19, (max(height // 16, 1), max(width // 16, 1)), dtype=np.uint8)
        self.labels = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_NEAREST)
        smooth = rng.random((max(height // 8, 1), max(width // 8, 1)), dtype=np.float32)
        self.confidence = cv2.resize(0.3 + 0.7 * smooth, (width, height), interpolation=cv2.INTER_LINEAR)

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (h, w, 3) -> the prepared labels and confidence."""
        return self.labels, self.confidence


def previous_frame(msg: object, backend: Backend, palette: Sequence[Sequence[int]], threshold: float, alpha: float,
                   confidence_encoding: str, outputs: Sequence[str],
                   buffers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-frame work before buffer reuse: the reference for the figures and the output-equality test.

    Decodes `msg` to RGB, resizes it to the backend's input, infers, thresholds, and renders each of `outputs` at the
    camera's size into `buffers[name]` (allocated on first use) as the node did; returns the filled buffers.
    """
    rgb = codec.image_to_rgb(msg)
    small = cv2.resize(rgb, (backend.width, backend.height), interpolation=cv2.INTER_LINEAR)
    labels, confidence = backend.infer(small)
    if threshold > 0.0:
        labels = np.where(confidence < threshold, np.uint8(IGNORE_INDEX), labels)
    lut_rgb = palette_lut(palette)
    lut_bgr = np.ascontiguousarray(lut_rgb[:, ::-1])
    size = (rgb.shape[1], rgb.shape[0])
    for name in outputs:
        dst = buffers.get(name)
        if name == 'labels':
            buffers[name] = cv2.resize(labels, size, dst=dst, interpolation=cv2.INTER_NEAREST_EXACT)
        elif name == 'color':
            buffers[name] = cv2.resize(colorize(labels, lut_rgb), size, dst=dst,
                                       interpolation=cv2.INTER_NEAREST_EXACT)
        elif name == 'overlay':
            color = cv2.resize(colorize(labels, lut_bgr), size, interpolation=cv2.INTER_NEAREST_EXACT)
            camera = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            out = cv2.addWeighted(camera, 1.0 - alpha, color, alpha, 0.0, dst=dst)
            if threshold > 0.0:
                unknown = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST_EXACT)
                np.copyto(out, camera, where=(unknown == IGNORE_INDEX)[..., None])
            buffers[name] = out
        else:
            scaled = np.rint(confidence * 255.0).astype(np.uint8) if confidence_encoding == 'mono8' else confidence
            buffers[name] = cv2.resize(scaled, size, dst=dst, interpolation=cv2.INTER_LINEAR)
    return buffers


class CurrentFrame:
    """The per-frame work now: `codec.image_to_camera`, `SegmentationPipeline.infer`, then `render` of each output
    into its reusable message buffer (`codec.image_buffer`), as seg_node's two stages do."""

    def __init__(self, backend: Backend, palette: Sequence[Sequence[int]], output_set: OutputSet,
                 confidence_encoding: str = 'mono8', alpha: float = 0.5) -> None:
        """A pipeline on `backend` rendering `output_set`."""
        self.pipeline = SegmentationPipeline(backend, (backend.height, backend.width), palette,
                                             output_set.confidence_threshold, alpha, confidence_encoding,
                                             output_set.output_resolution)
        self.outputs = output_set.outputs
        self.buffers: dict[str, tuple[object, np.ndarray]] = {}

    def __call__(self, msg: object) -> dict[str, np.ndarray]:
        """Process one Image message; returns the output views (valid until the next call)."""
        inference = self.pipeline.infer(codec.image_to_camera(msg))
        height, width = self.pipeline.output_size(inference.camera.pixels.shape[:2])
        views = {}
        for name in self.outputs:
            cached = self.buffers.get(name)
            if cached is None or cached[1].shape[:2] != (height, width):
                cached = self.buffers[name] = codec.image_buffer(height, width, self.pipeline.output_encoding(name))
            views[name] = self.pipeline.render(name, inference, dst=cached[1])
        return views


def _time(work: Callable[[], object], times: list[float]) -> None:
    start = time.perf_counter()
    work()
    times.append(time.perf_counter() - start)


def bench_frame_work(cameras: list[tuple[int, int]], input_sizes: list[tuple[int, int]], frames: int,
                     output_sets: Sequence[OutputSet] = OUTPUT_SETS) -> Table:
    """Time the per-frame work before and now for each model input size, camera and output set; return the table.

    cameras and input_sizes are (width, height). Each row alternates the two `frames` times on a bgr8 message after
    a warm-up; the figures are medians in milliseconds.
    """
    table = Table('frame', '(d) seg_node\'s own work per frame, in-process, zero-time backend, bgr8 camera, one core, '
                           f'{frames} frames per row (medians)', COLUMNS, ['model', 'camera', 'outputs'],
                  ['previous_ms', 'current_ms'])
    previous_affinity = os.sched_getaffinity(0)
    previous_threads = cv2.getNumThreads()
    os.sched_setaffinity(0, {min(previous_affinity)})
    cv2.setNumThreads(1)
    try:
        for width_in, height_in in input_sizes:
            backend = ZeroTimeBackend(height_in, width_in)
            for width, height in cameras:
                coarse = np.random.default_rng(width).integers(0, 256, (9, 16, 3), dtype=np.uint8)
                msg = codec.numpy_to_image(cv2.resize(coarse, (width, height)), 'bgr8', None)
                for output_set in output_sets:
                    row = _time_row(backend, msg, output_set, frames)
                    table.rows.append({'model': f'{width_in}x{height_in}', 'camera': f'{width}x{height}', **row})
    finally:
        os.sched_setaffinity(0, previous_affinity)
        cv2.setNumThreads(previous_threads)
    table.notes.append('before: the per-frame code before buffer reuse (bench/frame_work.previous_frame); network '
                       'resolution did not exist then')
    return table


def _time_row(backend: Backend, msg: object, output_set: OutputSet, frames: int) -> dict[str, object]:
    """Median ms of the work before and now on `msg`, taking turns, after two turns of warm-up."""
    current = partial(CurrentFrame(backend, CITYSCAPES_PALETTE, output_set), msg)
    previous = None
    if output_set.output_resolution == 'camera':
        previous = partial(previous_frame, msg, backend, CITYSCAPES_PALETTE, output_set.confidence_threshold, 0.5,
                           'mono8', output_set.outputs, {})
    before: list[float] = []
    now: list[float] = []
    for index in range(frames + 2):
        if previous is not None:
            _time(previous, before)
        _time(current, now)
        if index < 2:  # warm-up: buffers allocated, caches filled
            before.clear()
            now.clear()
    row: dict[str, object] = {'outputs': output_set.name, 'current_ms': statistics.median(now) * 1000}
    if before:
        row['previous_ms'] = statistics.median(before) * 1000
        row['speedup'] = row['previous_ms'] / row['current_ms']
    return row
