"""`night-seg build-engine` and `night-seg verify-engine` (also `ros2 run night_seg_ros build_engine|verify_engine`).

  night-seg build-engine BUNDLE [--precision fp16] [--calibration FOLDER_OR_BAG] [--dla-core N] [--workspace-mib 1024]
  night-seg verify-engine BUNDLE [--precision fp16] [--images FOLDER_OR_BAG] [--frames 16]

Either takes --camera-size WxH [--output-resolution camera|network] [--camera-order rgb|bgr] for the render engine of
one camera (render_graph.py: the rendering composed around the model), which the node runs beside the model's engine.

Argument errors, a missing TensorRT, GPU or engine, and a failed build exit 1 with one line.
The converter itself is night_seg_ros/tensorrt/.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from night_seg_ros.argtypes import fraction, number, positive_int, ros_topic
from night_seg_ros.bundle import read_bundle
from night_seg_ros.tensorrt.builder import (
    DEFAULT_WORKSPACE_MIB,
    BuildOptions,
    build_engine,
    engine_key,
    import_tensorrt,
    system_info,
)
from night_seg_ros.tensorrt.cache import EngineCacheError, EnginePolicy, find_engine
from night_seg_ros.tensorrt.cuda import device_index, open_cuda
from night_seg_ros.vocabulary import PRECISIONS

if TYPE_CHECKING:
    from night_seg_ros.render_graph import RenderTarget

_dla_core = number(int, 0, hint=' (a DLA core index; Orin AGX and NX have cores 0 and 1)')


def camera_size(text: str) -> tuple[int, int]:
    """argparse type: 'WIDTHxHEIGHT' in pixels, each >= 1 -> (height, width)."""
    width, _, height = text.partition('x')
    if not (width.isdigit() and height.isdigit() and int(width) >= 1 and int(height) >= 1):
        raise argparse.ArgumentTypeError(f'{text!r} is not WIDTHxHEIGHT in pixels, e.g. 1280x720')
    return int(height), int(width)


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that select an engine: bundle, precision, cache folder, GPU, DLA core."""
    parser.add_argument('bundle', help='bundle directory (with model.onnx: night-seg export BUNDLE)')
    parser.add_argument('--precision', default='fp16', choices=PRECISIONS, help='engine precision (fp16)')
    parser.add_argument('--cache-dir', metavar='DIR', help="engine folder (default: the bundle's engines/)")
    parser.add_argument('--device', default='cuda', help='GPU: cuda or cuda:N (cuda)')
    parser.add_argument('--dla-core', type=_dla_core, metavar='N', help='run on DLA core N (Jetson Orin AGX/NX)')
    render = parser.add_argument_group(
        'render engine', "with --camera-size: the engine of the render graph for one camera (resize to the model, "
        "threshold, palette, overlay and confidence around it), which the node runs beside the model's engine")
    render.add_argument('--camera-size', type=camera_size, metavar='WxH', help='camera image size, e.g. 1280x720')
    render.add_argument('--output-resolution', metavar='RESOLUTION',
                        help="outputs at the camera's size (camera, the default) or the model's input size (network)")
    render.add_argument('--camera-order', metavar='ORDER',
                        help='channel order of the camera images: rgb (rgb8) or bgr (bgr8 and compressed, the default)')


def _render_target(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RenderTarget | None:
    """The render target the arguments name (None without --camera-size); exit 1 on an impossible one."""
    if args.camera_size is None:
        if args.output_resolution or args.camera_order:
            parser.error('--output-resolution and --camera-order are for a render engine: add --camera-size WxH')
        return None
    from night_seg_ros.render_graph import RenderTarget

    try:
        return RenderTarget(args.camera_size, args.output_resolution or 'camera', args.camera_order or 'bgr')
    except ValueError as error:
        parser.error(str(error))


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `build-engine` and `verify-engine` to `night-seg`'s subcommands."""
    build = subcommands.add_parser(
        'build-engine', help='build the TensorRT engine of a bundle for this GPU',
        description='Build BUNDLE/model.onnx into a TensorRT engine for the GPU and TensorRT of this machine, with '
                    'a JSON sidecar, into the engine cache. fp16 and int8 convert the ONNX first (LayerNorm and '
                    'Softmax stay fp32; int8 is calibrated on --calibration frames).')
    _add_engine_arguments(build)
    build.add_argument('--workspace-mib', type=positive_int, default=DEFAULT_WORKSPACE_MIB,
                       help=f'TensorRT scratch-memory limit, MiB ({DEFAULT_WORKSPACE_MIB}; lower it on small Jetsons)')
    build.add_argument('--timing-cache', metavar='FILE', help='timing cache to reuse and update (default: in the '
                       'engine folder, one per TensorRT version and GPU)')
    build.add_argument('--calibration', metavar='FOLDER_OR_BAG', help='int8: a folder of images or a rosbag2 bag')
    build.add_argument('--calibration-topic', type=ros_topic, metavar='TOPIC',
                       help='int8: image topic of the bag (if it has several)')
    build.add_argument('--calibration-frames', type=positive_int, default=64, help='int8: frames to calibrate on (64)')
    build.add_argument('--force', action='store_true', help='rebuild even when a matching engine exists')
    build.set_defaults(handler=_build)

    verify = subcommands.add_parser(
        'verify-engine', help='compare a TensorRT engine with ONNX Runtime',
        description='Run the engine of BUNDLE and ONNX Runtime (FP32, CPU) on the same frames; report label '
                    'agreement and confidence error. Exit 1 below the floor.')
    _add_engine_arguments(verify)
    verify.add_argument('--images', metavar='FOLDER_OR_BAG', help='frames to compare on: a folder of images or a '
                        'rosbag2 bag (default: smooth random images)')
    verify.add_argument('--topic', type=ros_topic, metavar='TOPIC',
                        help='image topic of the --images bag (if it has several)')
    verify.add_argument('--frames', type=positive_int, default=16, help='number of frames (16)')
    verify.add_argument('--min-agreement', type=fraction, help='label-agreement floor, 0-1 (fp32 0.999, fp16 '
                        '0.995, int8 0.95)')
    verify.set_defaults(handler=_verify)


def _frames(source: str, size: tuple[int, int], limit: int, topic: str | None, option: str) -> list[np.ndarray]:
    """Up to `limit` frames of a folder or bag at `size` (height, width), uint8 (H, W, 3) RGB; `option` is the
    command-line option naming the bag's topic (for the message when it is ambiguous)."""
    from night_seg_ros.drives.frames import load_frames

    return load_frames(source, *size, limit, topic, option)


def _build(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.precision == 'int8' and not args.calibration:
        parser.error('--precision int8 needs --calibration FOLDER_OR_BAG (night frames of your camera are best)')
    if args.precision != 'int8' and args.calibration:
        parser.error('--calibration is for --precision int8 only')
    if args.dla_core is not None and args.precision == 'fp32':
        parser.error('the DLA runs fp16 or int8 only; use --precision fp16 with --dla-core')
    render = _render_target(args, parser)
    index = device_index(args.device)
    bundle = read_bundle(args.bundle)
    bundle.require_onnx()
    trt = import_tensorrt()
    cuda = open_cuda(index)
    try:
        system = system_info(trt, cuda)
    finally:
        cuda.close()
    cache_dir = EnginePolicy(args.cache_dir or '').folder(bundle.engines_dir)
    frames = _frames(args.calibration, (bundle.input.height, bundle.input.width), args.calibration_frames,
                     args.calibration_topic, '--calibration-topic') if args.calibration else []
    options = BuildOptions(args.precision, args.workspace_mib, Path(args.timing_cache) if args.timing_cache else None,
                           args.dla_core, index, frames, args.calibration or '')
    if not args.force:
        try:
            path = find_engine(cache_dir, engine_key(bundle, system, args.precision, args.dla_core, render))
        except EngineCacheError:
            path = None
        if path is not None:
            print(f'{path} is up to date (use --force to rebuild)')
            return 0
    path = build_engine(bundle, cache_dir, options, system, render=render)
    print(f'wrote {path} and {path.with_suffix(".json").name}')
    return 0


def _verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    from night_seg_ros.backends.tensorrt_backend import TensorRTBackend
    from night_seg_ros.export import sample_images
    from night_seg_ros.tensorrt.verify import AGREEMENT_FLOORS, compare, render_runner

    render = _render_target(args, parser)
    bundle = read_bundle(args.bundle)
    reference = OnnxRuntimeBackend(bundle, 'cpu')
    size = (bundle.input.height, bundle.input.width) if render is None else render.camera_size
    if args.images:
        frames = _frames(args.images, size, args.frames, args.topic, '--topic')
    else:
        frames = list(sample_images(args.frames, *size))
    engine = TensorRTBackend(bundle, args.device, args.precision,
                             EnginePolicy(args.cache_dir or '', build=False, dla_core=args.dla_core))
    try:
        floor = AGREEMENT_FLOORS[args.precision] if args.min_agreement is None else args.min_agreement
        if render is None:
            path, report = engine.engine_path, compare(reference.infer, engine.infer, frames, floor)
        else:  # the same render graph on both: ONNX Runtime (fp32, cpu) and its engine
            import onnx

            graph = render.compose(onnx.load(str(bundle.require_onnx())), bundle.palette)
            runner = engine.open_graph(graph)
            path = runner.engine_path
            report = compare(render_runner(reference.open_graph(graph).run), render_runner(runner.run), frames, floor)
    finally:
        engine.close()
    print(f'{path} vs ONNX Runtime (fp32, cpu): {report}')
    return 0 if report.passed else 1
