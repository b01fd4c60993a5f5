"""`night-seg export` and `night-seg init`: bundles from torch, from a Hugging Face SegFormer, or untrained.

  night-seg export BUNDLE [--opset 17] [--samples 4]
  night-seg export --hf SOURCE --out DIR [--height 512] [--width 1024]
  night-seg init DIR [--variant b0] [--seed 0] [--onnx]
"""
from __future__ import annotations

import argparse

from night_seg_ros.argtypes import positive_int
from night_seg_ros.bundle import read_bundle


def _add_size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--height', type=positive_int, default=512, help='model input height in pixels (512)')
    parser.add_argument('--width', type=positive_int, default=1024, help='model input width in pixels (1024)')


def register(subcommands: argparse._SubParsersAction) -> None:
    """Add `export` and `init` to `night-seg`'s subcommands."""
    export = subcommands.add_parser('export', help='export a bundle to ONNX and check it against torch',
                                    description='Export BUNDLE to BUNDLE/model.onnx (or make a bundle from a Hugging '
                                                'Face SegFormer with --hf), then compare ONNX Runtime with torch.')
    export.add_argument('bundle', nargs='?', help='bundle directory to export')
    export.add_argument('--hf', metavar='SOURCE', help='Hugging Face SegFormer: hub id or save_pretrained directory')
    export.add_argument('--out', metavar='DIR', help='bundle directory to write (with --hf)')
    export.add_argument('--opset', type=positive_int, default=17, help='ONNX opset, >= 17 (17)')
    export.add_argument('--samples', type=positive_int, default=4, help='random images for the parity check (4)')
    _add_size_arguments(export)
    export.set_defaults(handler=_export)

    init = subcommands.add_parser('init', help='write an untrained bundle (random weights) to test plumbing',
                                  description='Write a bundle of a randomly initialised SegFormer for the 19 '
                                              'Cityscapes classes. Its labels mean nothing; provenance says '
                                              '"untrained".')
    init.add_argument('out', help='bundle directory to write')
    init.add_argument('--variant', default='b0', choices=('b0', 'b1', 'b2', 'b3', 'b4', 'b5'),
                      help='SegFormer size (b0)')
    init.add_argument('--seed', type=int, default=0, help='random seed (0)')
    init.add_argument('--onnx', action='store_true', help='also export model.onnx')
    _add_size_arguments(init)
    init.set_defaults(handler=_init)


def _export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.export import export_and_check

    if args.hf:
        if args.bundle or not args.out:
            parser.error('export --hf SOURCE needs --out DIR and no BUNDLE argument')
        from night_seg_ros.hub import bundle_from_hf

        bundle = bundle_from_hf(args.hf, args.out, args.height, args.width)
    elif args.bundle:
        bundle = read_bundle(args.bundle)
    else:
        parser.error('export needs a BUNDLE directory, or --hf SOURCE --out DIR')
    report = export_and_check(bundle, samples=args.samples, opset=args.opset)
    print(f'wrote {bundle.onnx_path}')
    print(report)
    return 0 if report.passed else 1


def _init(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    from night_seg_ros.model import create_untrained_bundle

    bundle = create_untrained_bundle(args.out, args.variant, args.height, args.width, args.seed)
    print(f'wrote untrained {args.variant} bundle {bundle.path} ({args.width}x{args.height} input)')
    if args.onnx:
        from night_seg_ros.export import export_onnx

        print(f'wrote {export_onnx(bundle)}')
    return 0

