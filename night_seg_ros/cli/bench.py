"""`night-seg bench`: measured speed of the backends, the node over DDS and bag processing.

  night-seg bench                                   every part at the default sizes
  night-seg bench --parts backends --input-sizes 512x256 --iterations 5      a quick run of part (a)
  night-seg bench --parts backends --model BUNDLE --graphs OLD.onnx BUNDLE/model.onnx   two graphs, alternating
  night-seg bench --parts frame node_cpu --markdown docs/BENCHMARKS.md --force   the node's own cost a frame

Parts: (a) `backends`, (b) `node`, (c) `bag` (needs the `bag` extra), (d) `frame` (seg_node's own work per frame,
before against now, zero-time backend), (e) `node_cpu` (seg_node's CPU a frame over DDS against a zero-work node with
the same topics). The cost of a training iteration is the training distribution's own benchmark, `night-seg-train
bench`.
Prints one table per part and writes bench.json and bench.png into --out (and a Markdown page with --markdown, e.g.
docs/BENCHMARKS.md). Every ratio is measured within one run; absolute times depend on the machine and on whatever else
loads it (the load average is recorded).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from night_seg_ros.argtypes import existing_file, existing_folder, positive_float, positive_int
from night_seg_ros.backends.torch_backend import let_idle_threads_sleep
from night_seg_ros.bench.models import parse_size
from night_seg_ros.bench.output_sets import OUTPUT_SETS_BY_KEY, OutputSet
from night_seg_ros.bench.report import Table, finish, machine_description
from night_seg_ros.bundle import read_bundle
from night_seg_ros.cli.arguments import add_force, threads
from night_seg_ros.paths import DEMO_MODEL, share_file

PARTS = ('backends', 'node', 'bag', 'frame', 'node_cpu')
DEFAULT_INPUT_SIZES = ('512x256', '768x384', '1024x512')
DEFAULT_CAMERAS = ('640x480', '1280x720', '1920x1080')
DEFAULT_RATES = (10.0, 30.0)
DEFAULT_FRAME_INPUTS = ('128x64', '768x384')


MAX_SIDE = 8192
"""The largest camera or model side (pixels) the bench takes."""


def _size(text: str) -> tuple[int, int]:
    """argparse type: 'WxH' -> (width, height), each side 1 .. MAX_SIDE."""
    try:
        width, height = parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if max(width, height) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f'{text!r}: width and height must be <= {MAX_SIDE}')
    return width, height


def _model_size(text: str) -> tuple[int, int]:
    """argparse type: a model input 'WxH' -> (width, height), each side a multiple of 32 (export.check_input_size)."""
    from night_seg_ros.export import ExportError, check_input_size

    width, height = _size(text)
    try:
        check_input_size(height, width)
    except ExportError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return width, height


def _rate(text: str) -> float | int:
    """argparse type: an input rate in Hz (> 0), kept as an int when whole so tables print 10, not 10.0."""
    value = positive_float(text)
    return int(value) if value.is_integer() else value


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `bench` to `night-seg`'s subcommands."""
    bench = subcommands.add_parser('bench', help='measure backends, the node over DDS and bag processing',
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS), help='parts to run (all)')
    bench.add_argument('--out', type=Path, default=Path('bench_results'),
                       help='new folder for bench.json and bench.png (./bench_results)')
    bench.add_argument('--markdown', type=Path, help='also write the tables, command and machine here')
    add_force(bench, '--out folder and --markdown file')
    bench.add_argument('--work-dir', type=Path,
                       help='folder for the generated bundles, reused between runs (a temporary folder)')
    group = bench.add_argument_group('(a) backends')
    group.add_argument('--input-sizes', nargs='+', type=_model_size,
                       default=[parse_size(s) for s in DEFAULT_INPUT_SIZES],
                       metavar='WxH', help=f'model input sizes ({" ".join(DEFAULT_INPUT_SIZES)})')
    group.add_argument('--backends', nargs='+', choices=('torch', 'onnxruntime'), default=['torch', 'onnxruntime'],
                       help='backends to time (torch onnxruntime)')
    group.add_argument('--iterations', type=positive_int, default=10, help='timed frames per backend and size (10)')
    group.add_argument('--threads', nargs='+', type=threads, default=[0], metavar='N',
                       help='CPU thread counts to time, 0 .. 256, 0 = the library default (0)')
    group.add_argument('--graphs', nargs='+', type=existing_file, default=[], metavar='ONNX',
                       help='ONNX graphs of --model\'s bundle to time in ONNX Runtime (CPU) beside the backends, '
                            'taking turns, at the bundle\'s input size instead of --input-sizes')
    group = bench.add_argument_group('(b) node over DDS and (c) bag')
    group.add_argument('--model', type=existing_folder,
                       help='bundle (with model.onnx) for parts b and c and for --graphs (the bundled demo model, '
                            'B0 at 768x384)')
    group.add_argument('--node-backend', choices=('onnxruntime', 'torch'), default='onnxruntime',
                       help='backend of the node and of its bare reference (onnxruntime)')
    group.add_argument('--cameras', nargs='+', type=_size, default=[parse_size(s) for s in DEFAULT_CAMERAS],
                       metavar='WxH', help=f'camera sizes ({" ".join(DEFAULT_CAMERAS)})')
    group.add_argument('--rates', nargs='+', type=_rate, default=[int(r) for r in DEFAULT_RATES], metavar='HZ',
                       help='input rates in frames per second (10 30)')
    group.add_argument('--seconds', type=positive_float, default=10.0, help='streaming time per camera and rate (10)')
    group.add_argument('--bag-frames', type=positive_int, default=20, help='frames in each recorded drive (20)')
    group = bench.add_argument_group('(d) frame and (e) node_cpu')
    group.add_argument('--frame-inputs', nargs='+', type=_size, default=[parse_size(s) for s in DEFAULT_FRAME_INPUTS],
                       metavar='WxH',
                       help=f'model input sizes of the zero-time backend ({" ".join(DEFAULT_FRAME_INPUTS)})')
    group.add_argument('--output-sets', nargs='+', choices=tuple(OUTPUT_SETS_BY_KEY), default=list(OUTPUT_SETS_BY_KEY),
                       metavar='SET', help='the rows of parts d and e: labels (labels only), all (every output), '
                                       'threshold (every output, confidence threshold 0.5), network (every output '
                                       'at the network\'s resolution); all four by default')
    group.add_argument('--frame-count', type=positive_int, default=30, help='timed frames per row of part d (30)')
    group.add_argument('--cpu-rates', nargs='+', type=_rate, default=[10, 30], metavar='HZ',
                       help='input rates of part e (10 30)')
    group.add_argument('--cpu-seconds', type=positive_float, default=10.0,
                       help='streaming time per rate and node of part e (10)')
    bench.set_defaults(handler=run_bench)


def _output_sets(args: argparse.Namespace) -> tuple[OutputSet, ...]:
    """The output sets --output-sets names, in the order given, each once."""
    return tuple(OUTPUT_SETS_BY_KEY[key] for key in dict.fromkeys(args.output_sets))


def _node_model(args: argparse.Namespace) -> Path:
    if args.model is not None:
        return args.model
    return share_file(DEMO_MODEL)


def _check_outputs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Path]:
    """What -> path of the outputs, checked before any part runs (so no measurement is lost to a bad path)."""
    from night_seg_ros.files import distinct_outputs, output_path

    outputs = {'--out': args.out, '--markdown': args.markdown}
    outputs = {what: path for what, path in outputs.items() if path is not None}
    distinct_outputs(outputs)
    for what, path in outputs.items():
        output_path(path, args.force, what)
    if args.work_dir is not None:
        if args.work_dir.exists() and not args.work_dir.is_dir():
            parser.error(f'--work-dir {args.work_dir} is a file; give a folder (made if missing, reused between runs)')
        if not args.work_dir.exists():
            output_path(args.work_dir, what='--work-dir')
    return outputs


def run_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the chosen parts, print their tables, write the JSON, plot and Markdown; exit code 0."""
    from night_seg_ros.files import atomic_output

    outputs = _check_outputs(args, parser)
    let_idle_threads_sleep()  # before machine_description imports torch, so torch is timed as the node runs it
    machine = machine_description()
    temporary = None
    if args.work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix='night_seg_bench_')
        args.work_dir = Path(temporary.name)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    tables: list[Table] = []
    try:
        for part in PARTS:
            if part in args.parts:
                print(f'running part {part} ...', file=sys.stderr, flush=True)
                tables.append(_run_part(part, args))
    finally:
        if temporary is not None:
            temporary.cleanup()
    with ExitStack() as staging:  # each output appears complete, or not at all
        staged = {what: staging.enter_context(atomic_output(path, args.force, what)) for what, path in outputs.items()}
        written = finish([Path(sys.argv[0]).name, *sys.argv[1:]], machine, tables, staged['--out'],
                         staged.get('--markdown'))
    for path in written:
        print(f'wrote {args.markdown if path == staged.get("--markdown") else args.out / path.name}')
    return 0


def _run_part(part: str, args: argparse.Namespace) -> Table:
    if part == 'backends':
        from night_seg_ros.bench.backends import bench_backends

        model = read_bundle(_node_model(args)) if args.graphs else None
        return bench_backends(args.work_dir, args.input_sizes, args.backends, args.iterations, args.threads, model,
                              args.graphs)
    if part == 'node':
        from night_seg_ros.bench.node import bench_node

        return bench_node(args.work_dir, _node_model(args), args.node_backend, args.cameras, args.rates, args.seconds)
    if part == 'frame':
        from night_seg_ros.bench.frame_work import bench_frame_work

        return bench_frame_work(args.cameras, args.frame_inputs, args.frame_count, _output_sets(args))
    if part == 'node_cpu':
        from night_seg_ros.bench.node_cpu import bench_node_cpu

        return bench_node_cpu(args.work_dir, args.cpu_rates, args.cpu_seconds, _output_sets(args))
    from night_seg_ros.bench.bag import bench_bag

    return bench_bag(args.work_dir, _node_model(args), args.node_backend, args.cameras, args.bag_frames)
