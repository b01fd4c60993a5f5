#!/usr/bin/env python3
"""Soak seg_node: 10,000 frames of 1280x720 at 30 Hz over real DDS; prints a verdict and the figures.

Checks (see night_seg_ros/bench/soak.py): no crash, resident memory growth < 10 % after warm-up, latency p95 bounded (no
backlog); drops are reported. Exit code 0 on PASS, 1 on FAIL.

  .venv/bin/python scripts/soak.py                                   # the full run, the bundled demo model
  .venv/bin/python scripts/soak.py --frames 3000 --json soak.json    # shorter, figures also as JSON
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

from night_seg_ros.bench.models import parse_size  # noqa: E402
from night_seg_ros.bench.soak import run_soak  # noqa: E402
from night_seg_ros.paths import DEMO_MODEL, share_file  # noqa: E402


def main() -> int:
    """Run the soak and print its report; exit code 0 when every check held."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', type=Path, help='bundle with model.onnx (the bundled demo model)')
    parser.add_argument('--backend', default='onnxruntime', choices=('onnxruntime', 'torch'), help='(onnxruntime)')
    parser.add_argument('--frames', type=int, default=10_000, help='frames to send (10000)')
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second (30)')
    parser.add_argument('--camera', type=parse_size, default=(1280, 720), help='WIDTHxHEIGHT (1280x720)')
    parser.add_argument('--warmup', type=int, help='frames before the checks start (10 %% of --frames)')
    parser.add_argument('--json', type=Path, help='also write the figures here')
    args = parser.parse_args()
    model = args.model or share_file(DEMO_MODEL)
    print(f'soak: {args.frames} frames of {args.camera[0]}x{args.camera[1]} at {args.rate:g} Hz into seg_node '
          f'({args.backend}, model {model}); load average {" ".join(f"{v:.2f}" for v in os.getloadavg())}',
          flush=True)
    with tempfile.TemporaryDirectory(prefix='soak_') as work:
        result = run_soak(model, Path(work), args.frames, args.rate, args.camera, args.warmup, args.backend,
                          progress=lambda line: print(line, flush=True))
    print(result.report())
    print(f'load average at the end: {" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2) + '\n')
    return 0 if result.passed else 1


if __name__ == '__main__':
    sys.exit(main())
