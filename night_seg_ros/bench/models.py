"""The models benchmarks run: untrained SegFormer-B0 bundles at chosen input sizes, or a given bundle.

An untrained network does the same arithmetic as a trained one of its size, so its times are the trained model's.
Bundles are written once into a work folder and reused by later runs.
"""
from __future__ import annotations

from pathlib import Path

from night_seg_ros.bundle import Bundle, BundleError, read_bundle


def untrained_bundle(work_dir: Path, width: int, height: int) -> Bundle:
    """An untrained B0 bundle with its ONNX at `width` x `height` (pixels) in `work_dir`, made on first use."""
    path = work_dir / f'b0_{width}x{height}'
    try:
        bundle = read_bundle(path)
        if bundle.onnx_path.is_file():
            return bundle
    except BundleError:
        pass
    from night_seg_ros.export import export_onnx
    from night_seg_ros.model import create_untrained_bundle

    bundle = create_untrained_bundle(path, 'b0', height, width)
    export_onnx(bundle)
    return bundle


def parse_size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' -> (width, height), both >= 1; ValueError naming the text otherwise."""
    parts = text.lower().split('x')
    try:
        width, height = (int(part) for part in parts)
    except ValueError:
        raise ValueError(f'{text!r} is not WIDTHxHEIGHT (e.g. 1280x720)') from None
    if width < 1 or height < 1:
        raise ValueError(f'{text!r}: width and height must be >= 1')
    return width, height
