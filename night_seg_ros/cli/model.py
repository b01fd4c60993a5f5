"""`night-seg export` and `night-seg init`: bundles from torch, from a Hugging Face SegFormer, or untrained.

  night-seg export BUNDLE [--opset 17] [--samples 4]
  night-seg export BUNDLE --input-size WxH --out DIR [--opset 17] [--samples 4] [--force]
  night-seg export --hf SOURCE --out DIR [--height 512] [--width 1024] [--force]
  night-seg init DIR [--variant b0] [--seed 0] [--onnx] [--force]

A new bundle is built aside and appears complete or not at all (files.atomic_output); an existing one is refused, or
replaced with --force once the new one is complete.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from night_seg_ros.argtypes import number, positive_int, seed
from night_seg_ros.bundle import ONNX_FILE, read_bundle
from night_seg_ros.cli.arguments import add_force
from night_seg_ros.vocabulary import SEGFORMER_SIZES

DEFAULT_HEIGHT, DEFAULT_WIDTH = 512, 1024
"""The input size of a new bundle (`init`, `export --hf`) unless --height / --width say otherwise."""


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--height', type=positive_int, default=DEFAULT_HEIGHT,
                        help=f'model input height in pixels, a multiple of 32 ({DEFAULT_HEIGHT})')
    parser.add_argument('--width', type=positive_int, default=DEFAULT_WIDTH,
                        help=f'model input width in pixels, a multiple of 32 ({DEFAULT_WIDTH})')


def _input_size(text: str) -> tuple[int, int]:
    """argparse type: 'WxH' (e.g. 1024x576) -> (height, width)."""
    match = re.fullmatch(r'(\d+)[xX](\d+)', text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f'{text!r} is not WIDTHxHEIGHT in pixels (e.g. 1024x576)')
    return int(match[2]), int(match[1])


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `export` and `init` to `night-seg`'s subcommands."""
    export = subcommands.add_parser('export', help='export a bundle to ONNX and check it against torch',
                                    description='Export BUNDLE to BUNDLE/model.onnx (or make a bundle from a Hugging '
                                                'Face SegFormer with --hf), then compare ONNX Runtime with torch. '
                                                'With --input-size WxH --out DIR, write a new bundle DIR whose graph '
                                                'takes W x H images (e.g. the camera\'s aspect; each side a multiple '
                                                'of 32): the same weights, model.json\'s input updated, no engines; '
                                                'BUNDLE stays as it is.')
    export.add_argument('bundle', nargs='?', help='bundle directory to export')
    export.add_argument('--hf', metavar='SOURCE', help='Hugging Face SegFormer: hub id or save_pretrained directory')
    export.add_argument('--input-size', metavar='WxH', type=_input_size,
                        help='re-export BUNDLE at this input size into the new bundle --out (e.g. 1024x576)')
    export.add_argument('--out', metavar='DIR', help='new bundle directory to write (with --hf or --input-size)')
    export.add_argument('--opset', type=number(int, 17, 30), default=17, help='ONNX opset, 17 .. 30 (17)')
    export.add_argument('--samples', type=number(int, 1, 1000), default=4,
                        help='random images for the parity check, 1 .. 1000 (4)')
    add_force(export, 'bundle --out')
    _add_size_arguments(export)
    export.set_defaults(height=None, width=None)  # given with a BUNDLE they would not resize it: refused there
    export.set_defaults(handler=_export)

    init = subcommands.add_parser('init', help='write an untrained bundle (random weights) to test plumbing',
                                  description='Write a bundle of a randomly initialised SegFormer for the 19 '
                                              'Cityscapes classes. Its labels mean nothing; provenance says '
                                              '"untrained".')
    init.add_argument('out', help='bundle directory to write (a new one; --force replaces an existing one)')
    init.add_argument('--variant', default='b0', choices=SEGFORMER_SIZES,
                      help='SegFormer size (b0)')
    init.add_argument('--seed', type=seed, default=0, help='random seed (0)')
    init.add_argument('--onnx', action='store_true', help='also export model.onnx')
    add_force(init, 'bundle')
    _add_size_arguments(init)
    init.set_defaults(handler=_init)


def _export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.export import ExportError, check_input_size, export_and_check
    from night_seg_ros.files import atomic_output

    if args.hf:
        if args.bundle or not args.out or args.input_size:
            parser.error('export --hf SOURCE needs --out DIR, no BUNDLE argument and no --input-size '
                         '(--height and --width set its size)')
        height, width = args.height or DEFAULT_HEIGHT, args.width or DEFAULT_WIDTH
        check_input_size(height, width)
        with atomic_output(args.out, args.force, 'bundle') as staged:
            from night_seg_ros.hub import bundle_from_hf

            bundle = bundle_from_hf(args.hf, staged, height, width)
            report = export_and_check(bundle, samples=args.samples, opset=args.opset)
            if not report.passed:
                raise ExportError(f'{args.out} not written: ONNX Runtime and torch disagree: {report}')
        print(f'wrote {Path(args.out) / ONNX_FILE}')
        print(report)
        return 0
    if not args.bundle:
        parser.error('export needs a BUNDLE directory, or --hf SOURCE --out DIR')
    if args.height or args.width:
        parser.error('--height and --width size a bundle made with --hf; re-export BUNDLE at another size with '
                     '--input-size WxH --out DIR')
    if args.input_size:
        if not args.out:
            parser.error('export BUNDLE --input-size WxH needs --out DIR, a new bundle folder (BUNDLE stays as it is)')
        return _export_resized(args)
    if args.out:
        parser.error('export BUNDLE writes BUNDLE/model.onnx; --out DIR goes with --hf or --input-size')
    bundle = read_bundle(args.bundle)
    report = export_and_check(bundle, samples=args.samples, opset=args.opset)
    print(f'wrote {bundle.onnx_path}')
    print(report)
    return 0 if report.passed else 1


def _export_resized(args: argparse.Namespace) -> int:
    from night_seg_ros.export import export_at_input_size

    height, width = args.input_size
    source = read_bundle(args.bundle)
    _bundle, report = export_at_input_size(source, args.out, height, width, samples=args.samples, opset=args.opset,
                                          force=args.force)
    print(f'wrote bundle {args.out} ({width}x{height} input; {source.path} is {source.input.width}x'
          f'{source.input.height}; no engines: build them for the new size)')
    print(report)
    return 0


def _init(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.export import check_input_size, export_onnx
    from night_seg_ros.files import atomic_output

    check_input_size(args.height, args.width)
    with atomic_output(args.out, args.force, 'bundle') as staged:
        from night_seg_ros.model import create_untrained_bundle

        bundle = create_untrained_bundle(staged, args.variant, args.height, args.width, args.seed)
        if args.onnx:
            export_onnx(bundle)
    print(f'wrote untrained {args.variant} bundle {args.out} ({args.width}x{args.height} input)')
    if args.onnx:
        print(f'wrote {Path(args.out) / ONNX_FILE}')
    return 0
