"""FP16 and INT8 Q/DQ graphs of a bundle vs its FP32 graph in ONNX Runtime (CPU), on synthetic day and night frames.

These are the graphs `night-seg build-engine` hands to TensorRT, so this measures the precision loss before TensorRT.
Usage: python scripts/precision_agreement.py [BUNDLE] [--frames 8] [--calibration-frames 8]
(2 CPU cores, demo model: about 2 minutes, most of it INT8 calibration.)
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from night_seg_ros.bundle import read_bundle
from night_seg_ros.tensorrt.precision import to_int8_qdq, write_fp16
from night_seg_ros.tensorrt.verify import AGREEMENT_FLOORS, compare, onnx_runner
from night_seg_training.synthetic import render_pair

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Print one agreement line per precision and frame kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('bundle', nargs='?', default=str(ROOT / 'models' / 'synthetic_demo_b0'))
    parser.add_argument('--frames', type=int, default=8, help='evaluation pairs (synthetic val split, seed 2)')
    parser.add_argument('--calibration-frames', type=int, default=8, help='night frames (train split, seed 1)')
    args = parser.parse_args()
    bundle = read_bundle(args.bundle)
    height, width = bundle.input.height, bundle.input.width
    pairs = [render_pair(2, 'val', index, height, width) for index in range(args.frames)]
    calibration = [render_pair(1, 'train', index, height, width).night_image
                   for index in range(args.calibration_frames)]
    reference = onnx_runner(bundle.require_onnx())
    with tempfile.TemporaryDirectory() as work:
        graphs = {'fp16': write_fp16(bundle.onnx_path, Path(work) / 'fp16.onnx')}
        to_int8_qdq(bundle.onnx_path, calibration, Path(work) / 'int8.onnx')
        graphs['int8'] = Path(work) / 'int8.onnx'
        for precision, path in graphs.items():
            candidate = onnx_runner(path)
            for kind in ('day_image', 'night_image'):
                frames = [getattr(pair, kind) for pair in pairs]
                report = compare(reference, candidate, frames, AGREEMENT_FLOORS[precision])
                print(f'{bundle.path.name} {precision} vs fp32, {kind.split("_")[0]}: {report}', flush=True)


if __name__ == '__main__':
    main()
