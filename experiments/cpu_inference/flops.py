"""FLOPs per frame of a bundle's network (convolutions and matrix products, 2 per multiply-add), as torch counts them.

Usage: python -m experiments.cpu_inference.flops BUNDLE [BUNDLE ...]
Elementwise work (normalisation, softmax, resizes, LayerNorm, GELU) is not counted. The torch path composes the
folded decode-head weights on every call (about 0.07 GFLOP at 768x384); the exported graph has them folded.
"""
from __future__ import annotations

import sys

import torch
from torch.utils.flop_counter import FlopCounterMode

from night_seg_ros.model import load_model


def gflop_per_frame(bundle: str) -> float:
    """GFLOP of one inference of `bundle` at its input size (uint8 zeros; the count does not depend on the pixels)."""
    model = load_model(bundle)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, model.input_spec.height, model.input_spec.width, 3, dtype=torch.uint8))
    return counter.get_total_flops() / 1e9


if __name__ == '__main__':
    for path in sys.argv[1:]:
        spec = load_model(path).input_spec
        print(f'{path}: {gflop_per_frame(path):.2f} GFLOP per {spec.width}x{spec.height} frame')
