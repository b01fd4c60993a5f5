"""`night-seg bag`, `night-seg replay` and `night-seg record`: recorded drives without the ROS 2 CLI.

  night-seg bag IN OUT [--topic T] [--model M] [--backend B] [--mp4 PATH] [--contact-sheet PATH] [--gt-topic T]
  night-seg replay BAG [--rate F] [--loop] [--topics T ...]
  night-seg record OUT --topics T ... [--duration S]

Argument parsing lives here; the work is done by `drives.bag`, `drives.replay` and `drives.recorder`, imported when
a command runs. The bag tool loads its model with `pipeline.load_pipeline`, as seg_node does.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from night_seg_ros.argtypes import (
    device,
    existing_folder,
    fraction,
    non_negative_float,
    number,
    positive_float,
    ros_topic,
)
from night_seg_ros.cli.arguments import add_force, threads
from night_seg_ros.vocabulary import BACKEND_NAMES, DEVICES, PRECISIONS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --backend, --device, --precision, --threads, --confidence-threshold, --alpha (as the node's)."""
    parser.add_argument('--model', default='', help='bundle directory or Hugging Face hub id (the bundled demo model)')
    parser.add_argument('--backend', default='auto', choices=BACKEND_NAMES, help='inference backend (auto)')
    parser.add_argument('--device', type=device, default='auto', help=f'{DEVICES} (auto)')
    parser.add_argument('--precision', default='fp16', choices=PRECISIONS, help='precision on CUDA (fp16)')
    parser.add_argument('--threads', type=threads, default=0,
                        help='CPU inference threads, 0 .. 256 as the node\'s num_threads, 0 = library default (0)')
    parser.add_argument('--confidence-threshold', type=fraction, default=0.0,
                        help='pixels below this confidence are labelled 255 (0.0)')
    parser.add_argument('--alpha', type=fraction, default=0.5, help='palette weight in the overlay (0.5)')


MAX_FPS = 1000.0
"""The highest MP4 frame rate `night-seg bag --fps` takes."""


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `bag`, `replay` and `record` to `night-seg`'s subcommands."""
    from night_seg_ros.drives.bag import DEFAULT_GT_TOPIC, DEFAULT_OUTPUT_PREFIX

    bag = subcommands.add_parser(
        'bag', help='segment a camera topic of a rosbag2 into a new bag (+ MP4, contact sheet, mIoU)',
        description='Run the node\'s pipeline on every frame of a camera topic (sensor_msgs/Image or '
                    'CompressedImage) of a rosbag2 (sqlite3 or mcap) and write the labels, color, overlay and '
                    'confidence images, with the input headers, to a new bag. Malformed messages are skipped and '
                    'reported. With a ground-truth topic the mIoU is reported.')
    bag.add_argument('input', type=existing_folder, help='input bag folder (with metadata.yaml)')
    bag.add_argument('output', type=Path, help='output bag folder to create')
    bag.add_argument('--topic', type=ros_topic,
                     help='camera topic (default: the bag\'s only Image or CompressedImage topic)')
    bag.add_argument('--gt-topic', type=_optional_topic, default=DEFAULT_GT_TOPIC,
                     help=f'mono8 ground-truth labels topic, used when present; \'\' for none ({DEFAULT_GT_TOPIC})')
    bag.add_argument('--output-prefix', type=_output_prefix, default=DEFAULT_OUTPUT_PREFIX,
                     help=f'output topics are PREFIX/labels, /color, /overlay, /confidence ({DEFAULT_OUTPUT_PREFIX})')
    bag.add_argument('--storage', default='mcap', choices=('mcap', 'sqlite3'), help='output bag storage (mcap)')
    bag.add_argument('--mp4', type=_mp4_path, help='also write the overlay as an MP4 video (a .mp4 file)')
    bag.add_argument('--fps', type=number(float, 0.0, MAX_FPS, low_inclusive=False), default=10.0,
                     help=f'MP4 frame rate, > 0 and <= {MAX_FPS:g} (10)')
    bag.add_argument('--contact-sheet', type=Path, help='also write a PNG of sampled frames')
    bag.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_force(bag, 'outputs (the bag, video and sheet)')
    add_model_arguments(bag)
    bag.set_defaults(handler=_bag)

    replay = subcommands.add_parser(
        'replay', help='publish a bag\'s topics with their original timing (for machines without ros2 bag play)',
        description='Publish the messages of a rosbag2 through rclpy at their recorded times (scaled by --rate), '
                    'using the large-image Fast DDS profile. Ctrl-C stops.')
    replay.add_argument('bag', type=existing_folder, help='bag folder (with metadata.yaml)')
    replay.add_argument('--rate', type=positive_float, default=1.0, help='speed factor (1.0)')
    replay.add_argument('--loop', action='store_true', help='start again at the end')
    replay.add_argument('--topics', nargs='+', type=ros_topic, metavar='TOPIC', help='only these topics (default: all)')
    replay.add_argument('--wait', type=non_negative_float, default=0.0, metavar='SECONDS',
                        help='wait up to SECONDS for a subscriber on a replayed topic before starting (0)')
    replay.set_defaults(handler=_replay)

    record = subcommands.add_parser(
        'record', help='record topics into a new bag (for machines without ros2 bag record)',
        description='Subscribe to topics (their types found on the graph) and write every message to a new '
                    'rosbag2 until Ctrl-C or --duration.')
    record.add_argument('output', type=Path, help='bag folder to create (written aside, moved into place at the end)')
    record.add_argument('--topics', nargs='+', type=ros_topic, required=True, metavar='TOPIC', help='topics to record')
    record.add_argument('--duration', type=positive_float, help='stop after this many seconds')
    record.add_argument('--storage', default='mcap', choices=('mcap', 'sqlite3'), help='bag storage (mcap)')
    add_force(record, 'bag')
    record.set_defaults(handler=_record)


def _optional_topic(text: str) -> str:
    """argparse type: a ROS topic name, or '' for none."""
    return ros_topic(text) if text else text


def _output_prefix(text: str) -> str:
    """argparse type: the prefix of the output topics; PREFIX/labels must be a valid ROS topic name."""
    ros_topic(f'{text.rstrip("/")}/labels')
    return text


def _mp4_path(text: str) -> Path:
    """argparse type: the path of an MP4 video (OpenCV picks the container from the suffix)."""
    path = Path(text)
    if path.suffix.lower() != '.mp4':
        raise argparse.ArgumentTypeError(f'{text} does not end in .mp4; the video is MP4 (e.g. overlay.mp4)')
    return path


def _bag(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.drives.bag import BagOptions, check_job, process_bag
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    options = BagOptions(topic=args.topic, gt_topic=args.gt_topic, output_prefix=args.output_prefix,
                         storage=args.storage, mp4=args.mp4, mp4_fps=args.fps, sheet=args.contact_sheet,
                         progress=not args.no_progress, force=args.force)
    check_job(args.input, args.output, options)  # before the model loads
    setting = ModelSetting(args.model, backend=args.backend, device=args.device, precision=args.precision,
                           num_threads=args.threads)
    pipeline, _bundle = load_pipeline(setting, args.confidence_threshold, args.alpha, model_option='--model')
    print(f'model input {pipeline.input_width}x{pipeline.input_height}, backend {pipeline.backend.describe()}')
    report = process_bag(args.input, args.output, pipeline, options)
    print(report.summary())
    return 0


def _replay(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.drives.replay import run_replay

    return run_replay(args.bag, rate=args.rate, loop=args.loop, topics=args.topics, wait=args.wait)


def _record(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.drives.recorder import run_recorder
    from night_seg_ros.files import output_path

    output_path(args.output, args.force, 'output bag')  # before waiting for the topics
    return run_recorder(args.output, args.topics, duration=args.duration, storage=args.storage, force=args.force)
