"""`night-seg-train`: train, evaluate, generate synthetic data, and measure the cost of a training iteration.

  night-seg-train train RECIPE [--set KEY=VALUE ...] [--run-dir DIR]   a run folder ending with a bundle
  night-seg-train train --resume RUN_DIR [--set KEY=VALUE ...]         continue an interrupted run
  night-seg-train eval BUNDLE --dataset NAME [--root DIR] [--split S] [--flip]  mIoU, confusion matrix, gallery
  night-seg-train predict BUNDLE --dataset dark_zurich --split test --root DIR --out DIR   a submission zip
  night-seg-train predict BUNDLE --images DIR --out DIR                labels, colours, confidence of any images
  night-seg-train synth OUT [--split S] [--count N] [--alignment A]    synthetic day/night streets on disk
  night-seg-train drive OUT [--seconds S] [--rate HZ] [--route-pair]   the synthetic night drive as a rosbag2
  night-seg-train pairs --day BAG... --night BAG... --out DIR          day/night pairs of your own drives
  night-seg-train bench [--methods M ...] [--device D]                 the cost of one training iteration per method

Multi-GPU or multi-node: `torchrun --nproc_per_node=N $(which night-seg-train) train RECIPE` (the same code path; the
recipe's optim.batch_size is divided among the N processes unless optim.batch_scaling=per_process).
RECIPE is a YAML file or the name of a shipped recipe in night_seg_training/configs (e.g. synthetic_demo); a RECIPE
with a '/' in it is a file, which must exist. Every argument is checked before any work; an output that exists is
refused (--force replaces it once the new one is complete), and outputs appear complete or not at all.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from night_seg_ros.argtypes import (
    existing_file,
    existing_folder,
    fraction,
    non_negative_float,
    non_negative_int,
    number,
    positive_float,
    positive_int,
    ros_topic,
    seed,
)
from night_seg_ros.cli.arguments import add_force
from night_seg_ros.cli.registry import command_parser, run
from night_seg_ros.vocabulary import SEGFORMER_SIZES

if TYPE_CHECKING:
    from night_seg_training.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (night_seg_ros/cli/registry.py, the shape `night-seg` shares)."""
    return command_parser('night-seg-train', 'day-night training for night_seg_ros', COMMANDS, epilog=__doc__)


def _register_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser('train', help='train a model from a recipe; the run ends with a bundle')
    train.add_argument('recipe', nargs='?', help='recipe YAML or shipped recipe name (omit with --resume)')
    train.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE', type=_override,
                       help='override a config value, e.g. --set method.name=source_only --set optim.iterations=100')
    train.add_argument('--run-dir', type=Path, help='run folder (default runs/<name>-<method>-<time>)')
    train.add_argument('--resume', type=existing_folder, metavar='RUN_DIR',
                       help='continue the run in RUN_DIR from its checkpoint')
    train.add_argument('--device', type=_device, help=f'{DEVICES} (default: cuda when present)')
    train.add_argument('--no-progress', action='store_true', help='no progress bars')
    train.set_defaults(handler=_train)


def _input_size(text: str) -> tuple[int, int]:
    """argparse type: 'HxW' (e.g. 540x960) -> (height, width), each side 1 .. 8192."""
    try:
        height, width = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not HEIGHTxWIDTH, e.g. 540x960') from None
    if not (1 <= height <= 8192 and 1 <= width <= 8192):
        raise argparse.ArgumentTypeError(f'{text!r}: height and width must be 1 .. 8192')
    return height, width


def _register_eval(commands: argparse._SubParsersAction) -> None:
    from night_seg_training.datasets import DATASET_NAMES

    evaluate = commands.add_parser('eval', help='evaluate a bundle on a labelled dataset')
    evaluate.add_argument('bundle', type=existing_folder, help='bundle directory')
    evaluate.add_argument('--dataset', required=True, choices=DATASET_NAMES, help='dataset reader')
    evaluate.add_argument('--root', type=existing_folder,
                          help='dataset root folder (synthetic_*: omit to generate on the fly)')
    evaluate.add_argument('--split', help='split (val; nighttime_driving: test)')
    evaluate.add_argument('--count', type=positive_int, default=100, help='synthetic images to generate (100)')
    evaluate.add_argument('--seed', type=seed, default=0, help='synthetic seed (0)')
    evaluate.add_argument('--input-size', type=_input_size, metavar='HxW',
                          help="the network's input (default: the dataset's evaluation size, 540x960 for Dark "
                               "Zurich, ACDC and Nighttime Driving, 512x1024 for Cityscapes; else the bundle's)")
    evaluate.add_argument('--flip', action='store_true', help='average with the mirror image (off)')
    evaluate.add_argument('--out', type=Path, help='new folder for metrics.json, confusion.png, gallery.png')
    evaluate.add_argument('--gallery', type=number(int, 0, 1000), default=4, help='gallery rows, 0 .. 1000 (4)')
    evaluate.add_argument('--device', type=_device, default='cpu', help=f'{DEVICES} (cpu)')
    add_force(evaluate, 'results folder --out')
    evaluate.set_defaults(handler=_eval)


def _register_predict(commands: argparse._SubParsersAction) -> None:
    from night_seg_training.datasets import DATASET_NAMES

    predict = commands.add_parser(
        'predict', help="write a benchmark submission (Dark Zurich test) or the labels of a folder of images",
        description='With --dataset: the Dark Zurich benchmark submission of a split (labelTrainIds/, confidence/, '
                    'labelTrainIds_invalid/ and submission.zip in OUT), checked after writing. With --images: '
                    'labels/, color/ and confidence/ PNGs of every image under a folder. With --check ZIP only: '
                    "check an existing submission zip's format. OUT appears when complete; an existing OUT is "
                    'refused (--force replaces it then).')
    predict.add_argument('bundle', type=existing_folder, nargs='?', help='bundle directory (not with --check alone)')
    predict.add_argument('--dataset', choices=DATASET_NAMES, help='dataset reader (dark_zurich for the submission)')
    predict.add_argument('--root', type=existing_folder, help='dataset root folder (with --dataset)')
    predict.add_argument('--split', default='test', help='split (test)')
    predict.add_argument('--images', type=existing_folder, help='a folder of .png/.jpg images, sub-folders included')
    predict.add_argument('--out', type=Path, help='output folder (a new one)')
    predict.add_argument('--input-size', type=_input_size, metavar='HxW',
                         help="the network's input (default: the dataset's evaluation size, 540x960 for Dark "
                              "Zurich; the bundle's input for --images)")
    predict.add_argument('--flip', action='store_true', help='average with the mirror image (off)')
    predict.add_argument('--invalid-below', type=fraction, default=0.5,
                         help='labelTrainIds_invalid is 255 where the confidence is below this (0.5)')
    predict.add_argument('--check', type=existing_file, metavar='ZIP', help="check a submission zip's format")
    predict.add_argument('--device', type=_device, default='cpu', help=f'{DEVICES} (cpu)')
    predict.add_argument('--no-progress', action='store_true', help='no progress bars')
    add_force(predict, 'output folder --out')
    predict.set_defaults(handler=_predict)


def _register_synth(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser('synth', help='write synthetic day/night street pairs in a Dark Zurich-like layout')
    synth.add_argument('out', type=Path, help='dataset root to write (a new folder)')
    synth.add_argument('--split', default='train', choices=('train', 'val', 'test'), help='split (train)')
    synth.add_argument('--count', type=positive_int, default=100, help='day/night pairs (100)')
    synth.add_argument('--height', type=positive_int, default=256, help='image height in pixels (256)')
    synth.add_argument('--width', type=positive_int, default=512, help='image width in pixels (512)')
    synth.add_argument('--seed', type=seed, default=0, help='generator seed (0)')
    synth.add_argument('--alignment', default='aligned', choices=('aligned', 'coarse'),
                       help='how far the night camera stands from the day one: aligned, or coarse as in GPS-matched '
                            'pairs (aligned)')
    synth.add_argument('--real-layouts', action='store_true',
                       help="instead: COUNT images per split of Cityscapes, Dark Zurich (train pairs, val, test), ACDC "
                            "night and Nighttime Driving in their published layouts, each in OUT/<dataset>, for a "
                            'dress rehearsal of a real run (--split and --alignment do not apply)')
    add_force(synth, 'dataset')
    synth.set_defaults(handler=_synth)


def _register_drive(commands: argparse._SubParsersAction) -> None:
    from night_seg_ros.drives.bag_io import STORAGES
    from night_seg_training.synthetic import drive as drive_module

    defaults = drive_module.DriveSpec()
    drive = commands.add_parser('drive', help="write the synthetic night drive as a rosbag2 (the demo's input)",
                                description=drive_module.__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    drive.add_argument('out', type=Path, help='bag folder to write (must not exist; --force replaces it)')
    drive.add_argument('--seconds', type=positive_float, default=defaults.seconds,
                       help=f'duration ({defaults.seconds})')
    drive.add_argument('--rate', type=positive_float, default=defaults.rate_hz,
                       help=f'frames per second ({defaults.rate_hz})')
    drive.add_argument('--height', type=number(int, 8, 4096), default=defaults.height,
                       help=f'pixels, 8 .. 4096 ({defaults.height})')
    drive.add_argument('--width', type=number(int, 8, 4096), default=defaults.width,
                       help=f'pixels, 8 .. 4096 ({defaults.width})')
    drive.add_argument('--seed', type=seed, default=defaults.seed, help=f'street, traffic, light ({defaults.seed})')
    drive.add_argument('--storage', default='mcap', choices=STORAGES, help='bag storage (mcap)')
    drive.add_argument('--time-of-day', default=defaults.time_of_day, choices=('day', 'night'),
                       help=f'lighting ({defaults.time_of_day})')
    drive.add_argument('--pass', dest='pass_index', type=non_negative_int, default=defaults.pass_index,
                       help='pass along the same street: traffic, lighting, noise, path jitter (0: the demo drive)')
    drive.add_argument('--speed', type=positive_float, default=defaults.speed,
                       help=f'metres per second ({defaults.speed})')
    drive.add_argument('--gps-sigma', type=non_negative_float, default=defaults.gps_sigma,
                       help=f'GPS error, metres per axis, Gauss-Markov ({defaults.gps_sigma})')
    drive.add_argument('--gps-tau', type=positive_float, default=defaults.gps_tau,
                       help=f'GPS error time constant, seconds ({defaults.gps_tau})')
    drive.add_argument('--route-pair', action='store_true',
                       help='write OUT/day and OUT/night: a day and a night drive of the same route (for pairs)')
    drive.add_argument('--day-speed', type=positive_float, default=8.0,
                       help='--route-pair: speed of the day drive (8.0)')
    add_force(drive, 'bag folder')
    drive.set_defaults(handler=_drive)


def _register_pairs(commands: argparse._SubParsersAction) -> None:
    from night_seg_training.drive_pairs import pairing

    defaults = pairing.PairsOptions()
    pairs = commands.add_parser('pairs', help='pair night frames with day frames of your own drives (a target set)',
                                description='Pair night frames of your own drives with the day frames of the same '
                                            'places (by GPS / odometry, or by image content) into a Dark Zurich-like '
                                            'dataset that the own_drives recipe trains on; see docs/OWN_DRIVES.md.')
    pairs.add_argument('--day', nargs='+', required=True, type=existing_folder, metavar='BAG',
                       help='day drives (bag folders)')
    pairs.add_argument('--night', nargs='+', required=True, type=existing_folder, metavar='BAG',
                       help='night drives (bag folders)')
    pairs.add_argument('--out', required=True, type=Path, help='dataset folder to write (must not exist; --force '
                       'replaces it)')
    pairs.add_argument('--image-topic', type=ros_topic,
                       help='camera topic, Image or CompressedImage (default: the only one)')
    pairs.add_argument('--position-topic', type=ros_topic, help='NavSatFix or Odometry topic (default: the only one)')
    pairs.add_argument('--every', type=positive_float, default=defaults.every,
                       help=f'metres travelled between night samples ({defaults.every:g})')
    pairs.add_argument('--max-distance', type=positive_float, default=defaults.max_distance,
                       help=f'leave out night frames with no day frame this close, metres ({defaults.max_distance:g})')
    pairs.add_argument('--max-heading', type=number(float, 0.0, 180.0, low_inclusive=False),
                       default=defaults.max_heading_deg,
                       help=f'heading agreement, degrees, > 0 and <= 180 ({defaults.max_heading_deg:g})')
    pairs.add_argument('--match', default=defaults.match, choices=pairing.MATCH_METHODS,
                       help='gps: by position and heading; image: by image content (no GPS needed; --model); '
                            'both: GPS pairs, image matches reported next to them; refine: GPS matches moved along '
                            'the day track by the offset the image matches agree on (gps)')
    pairs.add_argument('--model', type=existing_folder,
                       help='bundle directory whose encoder describes images (--match image|both|refine)')
    pairs.add_argument('--every-seconds', type=positive_float, default=defaults.every_seconds,
                       help=f'night sampling of bags without positions, seconds ({defaults.every_seconds:g})')
    pairs.add_argument('--val-fraction', type=fraction, default=defaults.val_fraction,
                       help=f'held-out share of every --val-block metres of road, 0 <= share < 1 '
                            f'({defaults.val_fraction:g})')
    pairs.add_argument('--val-block', type=positive_float, default=defaults.val_block,
                       help=f'metres of road per train/val block ({defaults.val_block:g})')
    pairs.add_argument('--device', type=_device, default='cpu', help=f'{DEVICES}, for --model (cpu)')
    pairs.add_argument('--no-progress', action='store_true', help='no progress bars')
    add_force(pairs, 'dataset --out')
    pairs.set_defaults(handler=_pairs)


def _register_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        'bench', help='the cost of one training iteration per method, measured in one run',
        description='Cost of one training iteration per method, same batch and crop, measured in one run; prints the '
                    "ratios to the first method. Each timed iteration is the loop's own optimisation_step on batches "
                    'prepared beforehand (data loading is not counted); methods are timed in alternation so drift in '
                    "the machine's speed hits them alike.")
    bench.add_argument('--methods', nargs='+', default=['source_only', 'mean_teacher', 'full'],
                       help='methods to time; the first is the baseline (source_only mean_teacher full)')
    bench.add_argument('--batch', type=number(int, 1, 256), default=4,
                       help='day and night crops per iteration, 1 .. 256 (4)')
    bench.add_argument('--crop', type=number(int, 32, 2048), default=192,
                       help='square crop side in pixels, a multiple of 32 (192)')
    bench.add_argument('--iterations', type=positive_int, default=10, help='timed iterations per method (10)')
    bench.add_argument('--warmup', type=non_negative_int, default=2, help='untimed iterations per method first (2)')
    bench.add_argument('--variant', default='b0', choices=SEGFORMER_SIZES, help='SegFormer variant (b0)')
    bench.add_argument('--device', type=_device, default='cpu', help=f'{DEVICES} (cpu)')
    bench.add_argument('--json', type=Path, help='also write the results to this JSON file (a new file)')
    add_force(bench, '--json file')
    bench.add_argument('--malloc-defaults', action='store_true',
                       help="leave glibc malloc's defaults (training keeps freed memory: "
                            'night_seg_training.allocator); for measuring what that setting saves')
    bench.set_defaults(handler=_bench)


DEVICES = 'cpu, cuda, cuda:N'
"""The devices the training commands take (cuda only where torch sees a CUDA device)."""
_DEVICE = re.compile(r'cpu|cuda(:\d+)?')


def _device(text: str) -> str:
    """argparse type: cpu, cuda or cuda:N; whether this machine has it is checked by `_check_device`."""
    if not _DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f'{text!r} is not a device; allowed: {DEVICES}')
    return text


def _check_device(device: str | None, parser: argparse.ArgumentParser) -> None:
    """Exit with one line unless torch has `device` (None: chosen by the run, always fine)."""
    if device is None or not device.startswith('cuda'):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device.partition(':')[2] or 0)
    if index >= count:
        have = f'{count} CUDA device(s): cuda:0 .. cuda:{count - 1}' if count else 'no CUDA device'
        parser.error(f'--device {device}: this machine\'s torch {torch.__version__} has {have}; allowed here: cpu'
                     + (', cuda' if count else ''))


def _override(text: str) -> str:
    """argparse type: KEY=VALUE whose value parses (as YAML); the key is checked by load_config."""
    import yaml

    from night_seg_ros.files import yaml_problem
    from night_seg_training.config import ConfigError, parse_override

    try:
        parse_override(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    except yaml.YAMLError as error:
        raise argparse.ArgumentTypeError(f'the value of {text!r} is not valid YAML: {yaml_problem(error)}') from None
    return text


def _recipe(text: str) -> Path:
    """The recipe file RECIPE names, checked to hold a YAML mapping: with a '/' in it, a file that must exist;
    else a file here or the name of a shipped recipe (night_seg_training/configs)."""
    from night_seg_ros.files import read_yaml_mapping
    from night_seg_training.config import ConfigError, resolve_recipe

    path = Path(text).expanduser()
    if os.sep in text and not path.is_file():
        raise ConfigError(f'recipe {text} {"is not a file" if path.exists() else "does not exist"}; give a recipe '
                          'file, or the name of a shipped recipe (e.g. synthetic_demo)')
    path = resolve_recipe(path if path.is_file() else text)
    read_yaml_mapping(path, 'recipe')
    return path


def _check_config(config: TrainConfig) -> None:
    """ConfigError or DatasetError for what load_config leaves to the run: the model variant, the dataset entries."""
    from night_seg_training.config import ConfigError
    from night_seg_training.datasets import check_spec

    if config.model.variant not in SEGFORMER_SIZES:
        raise ConfigError(f'model.variant is {config.model.variant!r}; allowed: {", ".join(SEGFORMER_SIZES)}')
    entries = {'data.source': config.data.source, 'data.target': config.data.target,
               **{f'data.val.{name}': spec for name, spec in config.data.val.items()}}
    for where, spec in entries.items():
        check_spec(spec, where)


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.files import output_path, read_yaml_mapping
    from night_seg_training.allocator import keep_freed_memory
    from night_seg_training.config import load_config

    if args.resume is not None:
        if args.recipe:
            parser.error('give a recipe or --resume RUN_DIR, not both')
        if args.run_dir is not None:
            parser.error('--resume RUN_DIR continues in RUN_DIR; --run-dir goes with a recipe')
        saved = args.resume / 'config.yaml'
        if not saved.is_file():
            parser.error(f'--resume {args.resume}: no config.yaml there; is it a run folder?')
        config = load_config(None, args.overrides, base=read_yaml_mapping(saved, 'run config'))
        run_dir = args.resume
    else:
        if not args.recipe:
            parser.error('train needs a recipe (e.g. synthetic_demo) or --resume RUN_DIR')
        config = load_config(_recipe(args.recipe), args.overrides)
        run_dir = args.run_dir or Path('runs') / f'{config.name}-{config.method.name}-{time.strftime("%Y%m%d-%H%M%S")}'
        if (run_dir / 'checkpoints').is_dir():
            parser.error(f'{run_dir} already holds a run; continue it with --resume {run_dir} or choose another '
                         '--run-dir')
        if run_dir.exists() and not run_dir.is_dir():
            parser.error(f'--run-dir {run_dir} is a file; give a folder')
        if not run_dir.exists():
            output_path(run_dir, what='run folder')
    _check_config(config)
    _check_device(args.device, parser)
    if importlib.util.find_spec('tensorboard') is None:
        parser.error('training logs to TensorBoard, and the tensorboard package is not installed: pip install '
                     'tensorboard (or pip install -e training)')
    from night_seg_training.distributed import start_distributed, stop_distributed
    from night_seg_training.loop import TrainingInterrupted, train

    keep_freed_memory()
    dist_info = start_distributed(args.device)
    try:
        bundle = train(config, run_dir, dist_info, resume=args.resume is not None, progress=not args.no_progress)
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        return 130
    finally:
        stop_distributed()
    if dist_info.is_main:
        print(f'run folder: {run_dir}\nbundle: {bundle}\nTensorBoard: tensorboard --logdir {run_dir / "tb"}')
    return 0


def _eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.bundle import read_bundle
    from night_seg_ros.files import atomic_output, output_path
    from night_seg_training.datasets import EVALUATION_SIZES, build_dataset, evaluation_entry

    if args.out is not None:
        output_path(args.out, args.force, 'results folder --out', inputs=[args.bundle])
    if not args.root and not args.dataset.startswith('synthetic'):
        parser.error(f'--root is required for {args.dataset} (the dataset\'s folder)')
    bundle = read_bundle(args.bundle)
    if args.root:
        spec = evaluation_entry(args.dataset, args.root, args.split)
    else:
        spec = {'name': args.dataset, 'split': args.split or 'val', 'count': args.count, 'seed': args.seed,
                'height': bundle.input.height, 'width': bundle.input.width}
    _check_device(args.device, parser)
    dataset = build_dataset(spec)
    from night_seg_ros.model import load_model
    from night_seg_training.evaluate import evaluate, format_table

    model = load_model(bundle, args.device)
    writing = (nullcontext() if args.out is None
               else atomic_output(args.out, args.force, 'results folder --out', inputs=[args.bundle]))
    with writing as staged:  # the folder appears when its files are complete
        result = evaluate(model, dataset, bundle.classes, bundle.palette, staged, gallery=args.gallery,
                          device=args.device, input_size=args.input_size or EVALUATION_SIZES.get(args.dataset),
                          flip=args.flip)
    print(format_table({args.dataset: result}, bundle.classes))
    print(json.dumps({'miou': result['miou'], 'pixel_accuracy': result['pixel_accuracy'],
                      'images': result['images']}))
    if args.out:
        print(f'wrote {args.out}/metrics.json, confusion.png, gallery.png')
    return 0


def _predict(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.bundle import read_bundle
    from night_seg_ros.files import atomic_output, output_path
    from night_seg_training.datasets import EVALUATION_SIZES, ImageFolder, build_dataset, evaluation_entry
    from night_seg_training.submission import (
        SUBMISSION_ZIP,
        PredictOptions,
        check_submission,
        write_folder_predictions,
        write_submission,
    )

    if args.bundle is None:
        if args.check is None:
            parser.error('predict needs a BUNDLE (or --check ZIP alone)')
        print(f'{args.check}: a valid submission of {check_submission(args.check)} images')
        return 0
    if (args.dataset is None) == (args.images is None):
        parser.error('predict needs --dataset NAME --root DIR or --images DIR (one of them)')
    if args.out is None or (args.dataset is not None and args.root is None):
        parser.error('predict needs --out DIR' + ('' if args.images else ' and --root DIR with --dataset'))
    inputs = [args.bundle, args.images or args.root]
    output_path(args.out, args.force, 'output folder --out', inputs=inputs)
    _check_device(args.device, parser)
    bundle = read_bundle(args.bundle)
    dataset = (ImageFolder(args.images) if args.images is not None
               else build_dataset(evaluation_entry(args.dataset, args.root, args.split)))
    from night_seg_ros.model import load_model

    model = load_model(bundle, args.device)
    options = PredictOptions(args.input_size or EVALUATION_SIZES.get(args.dataset), args.flip, args.invalid_below,
                             device=args.device, progress=not args.no_progress)
    with atomic_output(args.out, args.force, 'output folder --out', inputs=inputs) as staged:
        if args.images is not None:
            count = write_folder_predictions(model, dataset, staged, options, bundle.palette)
        else:
            write_submission(model, dataset, staged, options, len(bundle.classes))
    if args.images is not None:
        print(f'wrote labels/, color/ and confidence/ of {count} images to {args.out}')
    else:
        print(f'wrote {args.out / SUBMISSION_ZIP}: {len(dataset)} images in labelTrainIds/, confidence/ and '
              'labelTrainIds_invalid/ (format checked)')
    return 0


def _synth(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.files import atomic_output
    from night_seg_training.synthetic import write_dataset
    from night_seg_training.synthetic.real_layouts import write_real_layouts

    with atomic_output(args.out, args.force, 'dataset') as staged:
        if args.real_layouts:
            roots = write_real_layouts(staged, args.count, args.height, args.width, args.seed)
        else:
            write_dataset(staged, args.split, args.count, args.height, args.width, args.seed, args.alignment)
    if args.real_layouts:
        print(f'wrote synthetic {", ".join(roots)} in their published layouts ({args.count} images per split, '
              f'{args.width}x{args.height}) to {args.out}')
        return 0
    print(f'wrote {args.count} synthetic day/night pairs ({args.split}, {args.width}x{args.height}, '
          f'{args.alignment}) to {args.out}')
    return 0


def _drive(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_training.synthetic.drive import DriveSpec, write_drive_bag, write_route_pair

    spec = DriveSpec(seed=args.seed, seconds=args.seconds, rate_hz=args.rate, height=args.height, width=args.width,
                     speed=args.speed, time_of_day=args.time_of_day, pass_index=args.pass_index,
                     gps_sigma=args.gps_sigma, gps_tau=args.gps_tau)
    bags = write_route_pair(args.out, spec, args.storage, args.day_speed, force=args.force) if args.route_pair else {
        spec.time_of_day: write_drive_bag(args.out, spec, args.storage, force=args.force)}
    for out in bags.values():
        print(f'wrote {out}: {spec.frames} frames of {spec.width}x{spec.height} at {spec.rate_hz:g} Hz (synthetic)')
    return 0


def _pairs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.drives import bag_io
    from night_seg_ros.files import atomic_output, output_path
    from night_seg_training.drive_pairs.pairing import PairsOptions, write_pairs

    options = PairsOptions(image_topic=args.image_topic, position_topic=args.position_topic, every=args.every,
                           max_distance=args.max_distance, max_heading_deg=args.max_heading, match=args.match,
                           model=str(args.model) if args.model else None, every_seconds=args.every_seconds,
                           val_fraction=args.val_fraction, val_block=args.val_block, device=args.device,
                           progress=not args.no_progress)
    options.check()
    bags = [*args.day, *args.night]
    output_path(args.out, args.force, 'dataset --out', inputs=bags)
    for bag in bags:  # readable, before any is read through
        with bag_io.open_reader(bag):
            pass
    _check_device(args.device, parser)
    with atomic_output(args.out, args.force, 'dataset --out', inputs=bags) as staged:
        report = write_pairs(args.day, args.night, staged, options)
    report.out = args.out
    print(report.summary())
    return 0


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.files import output_path
    from night_seg_training.allocator import keep_freed_memory
    from night_seg_training.config import load_config

    for method in args.methods:  # the names and sizes the timed runs will use, refused before any is built
        load_config('synthetic_demo', [f'method.name={method}', f'optim.batch_size={args.batch}',
                                       f'data.crop_height={args.crop}', f'data.crop_width={args.crop}'])
    if args.json is not None:
        output_path(args.json, args.force, '--json file')
    _check_device(args.device, parser)
    from night_seg_training.bench import bench_iterations

    kept = not args.malloc_defaults and keep_freed_memory()
    bench_iterations(args.methods, args.batch, args.crop, args.iterations, args.warmup, args.variant, args.device,
                     str(args.json) if args.json else None, 'keeps freed memory' if kept else 'defaults')
    return 0


COMMANDS = (_register_train, _register_eval, _register_predict, _register_synth, _register_drive, _register_pairs,
            _register_bench)
"""Each adds its subcommand, in the order `night-seg-train --help` lists them."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of `night-seg-train`; returns the exit code (0 ok, 1 error or usage error, 130 interrupted).

    A NightSegError (bad config, dataset, bundle, checkpoint, generator argument, ...) is printed as one line; any
    other exception is a bug and keeps its traceback.
    """
    return run(build_parser(), argv)


if __name__ == '__main__':
    sys.exit(main())
