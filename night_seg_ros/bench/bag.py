"""Part (c): a recorded drive through `drives.bag.process_bag` against the bare backend on the same frames.

Per camera size, a bag of smooth random bgr8 frames at 10 Hz is written with `bag_io`. Bare: backend.infer alone on
those frames already resized to the model's input, timed before and after the bag pass and averaged, so a change in the
machine's load during the run biases neither side. Bag: everything `process_bag` does (read, deserialise, decode,
resize, infer, render the four outputs, serialise, write the output bag), its stages overlapping. Needs the `rosbags`
package (the `bag` extra); without it the part is reported as skipped with the reason.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from night_seg_ros.backends import create_backend
from night_seg_ros.bench.report import Column, Table
from night_seg_ros.bundle import read_bundle
from night_seg_ros.export import sample_images
from night_seg_ros.pipeline import SegmentationPipeline

TOPIC = '/camera/image_raw'
FRAME_PERIOD_NS = 100_000_000
COLUMNS = [Column('camera', 'camera WxH'), Column('frames', 'frames'), Column('processed', 'processed'),
           Column('bag_fps', 'bag fps', '.2f'), Column('bare_fps', 'bare fps', '.2f'),
           Column('ratio', 'bag fps / bare fps', '.3f')]


def write_camera_bag(path: Path, frames: np.ndarray) -> Path:
    """Write `frames` (uint8 (N, H, W, 3) RGB) as bgr8 Images on TOPIC at 10 Hz into a new mcap bag at `path`."""
    from night_seg_ros.drives import bag_io

    writer = bag_io.open_writer(path)
    try:
        connection = bag_io.add_topic(writer, TOPIC, bag_io.IMAGE)
        for index, rgb in enumerate(frames):
            stamp = (index + 1) * FRAME_PERIOD_NS
            msg = bag_io.image_message(np.ascontiguousarray(rgb[:, :, ::-1]), 'bgr8',
                                       bag_io.header(stamp, 'camera_optical'))
            writer.write(connection, stamp, bag_io.serialize(msg, bag_io.IMAGE))
    finally:
        writer.close()
    return path


def _bare_fps(pipeline: SegmentationPipeline, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for rgb in frames:
        pipeline.backend.infer(rgb)
    return len(frames) / (time.perf_counter() - start)


def bench_bag(work_dir: Path, bundle_path: Path, backend: str, cameras: list[tuple[int, int]],
              frames: int) -> Table:
    """Bag throughput vs the bare backend per (width, height) in `cameras`, `frames` frames each; the table."""
    table = Table('bag', f'(c) recorded drive of {frames} bgr8 frames through process_bag (four outputs written) vs '
                         f'bare {backend} on the same frames (model {bundle_path.name})', COLUMNS,
                  ['camera'], ['ratio'])
    try:
        from night_seg_ros.drives.bag import BagOptions, process_bag
        from night_seg_ros.drives.bag_io import BagError
    except ImportError as error:
        table.notes.append(f'skipped: the bag tool cannot be imported here ({error})')
        return table
    bundle = read_bundle(bundle_path)
    runner = create_backend(backend, bundle, 'cpu')
    runner.warmup()
    pipeline = SegmentationPipeline(runner, (bundle.input.height, bundle.input.width), bundle.palette)
    for width, height in cameras:
        images = sample_images(frames, height, width, seed=4)
        folder = work_dir / f'bag_{width}x{height}_{time.monotonic_ns()}'
        try:
            source = write_camera_bag(folder / 'drive', images)
        except BagError as error:
            table.notes.append(f'skipped: {error}')
            return table
        resized = [cv2.resize(rgb, (bundle.input.width, bundle.input.height), interpolation=cv2.INTER_LINEAR)
                   for rgb in images]
        before = _bare_fps(pipeline, resized)
        report = process_bag(source, folder / 'segmented', pipeline, BagOptions(topic=TOPIC, progress=False))
        bare = (before + _bare_fps(pipeline, resized)) / 2
        table.rows.append({'camera': f'{width}x{height}', 'frames': frames, 'processed': report.processed,
                           'bag_fps': report.fps, 'bare_fps': bare, 'ratio': report.fps / bare})
    return table
