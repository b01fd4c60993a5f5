"""`night-seg bag` throughput / bare backend throughput on the same frames, measured in one run (target >= 0.9).

Bare: backend.infer alone on the frames already decoded and resized to the model input. Bag: everything
`process_bag` does (read, deserialise, decode, resize, infer, render four outputs, serialise, write the output bag),
with decoding and encoding overlapping inference. The bare pass runs before and after the bag pass and is averaged,
so a machine whose load changes during the run biases neither side.

  .venv/bin/python scripts/bench_bag.py [--frames 12] [--model BUNDLE] [--backend onnxruntime]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2

from night_seg_ros import bag_io
from night_seg_ros.bag import BagOptions, process_bag
from night_seg_ros.bag_commands import add_model_arguments, build_pipeline
from training import drive


def bare_fps(pipeline, frames: list) -> float:
    """Frames per second of backend.infer alone on `frames` (uint8 RGB at the model input size)."""
    start = time.perf_counter()
    for rgb in frames:
        pipeline.backend.infer(rgb)
    return len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=12, help='drive frames at 1280x720 (12)')
    add_model_arguments(parser)
    args = parser.parse_args()
    pipeline = build_pipeline(args)
    with tempfile.TemporaryDirectory() as tmp:
        spec = drive.DriveSpec(seconds=(args.frames - 1) / drive.DriveSpec().rate_hz)
        source = drive.write_drive_bag(Path(tmp) / 'drive', spec, progress=False)
        with bag_io.open_reader(source) as reader:
            camera = bag_io.find_connection(reader, drive.IMAGE_TOPIC, bag_io.IMAGE_TYPES)
            frames = [cv2.resize(bag_io.decode_rgb(bag_io.deserialize(data, camera.msgtype), camera.msgtype),
                                 (pipeline.input_width, pipeline.input_height), interpolation=cv2.INTER_LINEAR)
                      for _, _, data in reader.messages(connections=[camera])]
        before = bare_fps(pipeline, frames)
        report = process_bag(source, Path(tmp) / 'out', pipeline,
                             BagOptions(topic=drive.IMAGE_TOPIC, gt_topic=drive.GROUND_TRUTH_TOPIC, progress=False))
        after = bare_fps(pipeline, frames)
    bare = (before + after) / 2
    print(f'{len(frames)} frames of {spec.width}x{spec.height}, model input {pipeline.input_width}x'
          f'{pipeline.input_height}, backend {pipeline.backend.describe()}')
    print(f'bare backend.infer: {bare:.2f} frames/s (before {before:.2f}, after {after:.2f})')
    print(f'night-seg bag:      {report.fps:.2f} frames/s (read, decode, infer, render 4 outputs, write)')
    print(f'ratio bag / bare:   {report.fps / bare:.3f}  (target >= 0.9)')


if __name__ == '__main__':
    main()
