"""The matcher on the synthetic route without rendering: how precise GPS pairing is at a given receiver noise.

`simulate_route` drives a day pass and a night pass of the drive generator's route (route.PassPath, the lane offsets
and jitter of `drive.pass_path`, different speeds), measures both with route.gps_errors, and pairs them exactly as
`night-seg-train pairs` does (track -> distance sampling -> match_by_position); it returns the counts and the match
precision against the true positions. Averaged over many seeds it is the GPS pairing figure of docs/RESULTS.md:

  .venv/bin/python -m experiments.gps_pairing.simulation --sigma 2 --seeds 200
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np

from night_seg_training.drive_pairs.matching import (
    MAX_DISTANCE,
    frame_spacing,
    match_by_position,
    precision,
    refine_along_track,
)
from night_seg_training.drive_pairs.track import make_track, sample_by_distance
from night_seg_training.synthetic import route


@dataclass(frozen=True)
class SimulatedMatches:
    """One simulated day/night pair of drives: night samples, matched ones, and their precision (0-1 or None)."""

    samples: int
    matched: int
    precision: float | None
    true_distance: np.ndarray   # float64 (matched,) metres between each night frame and its day frame
    refined_distance: np.ndarray | None = None   # the same after refine_along_track with simulated image matches


def simulate_route(seed: int, sigma: float, tau: float = 30.0, seconds: float = 25.0, rate_hz: float = 10.0,
                   every: float = 5.0, max_distance: float = MAX_DISTANCE,
                   image_accuracy: float | None = None) -> SimulatedMatches:
    """Pair a simulated night pass (9 m/s) with a day pass (8 m/s) of the route, GPS noise `sigma` metres per axis
    (Gauss-Markov, `tau` seconds) at `rate_hz` fixes and camera frames; night frames every `every` metres.

    image_accuracy: also refine the GPS matches (`refine_along_track`) with simulated image matches that are the
    truly nearest day frame for this share of night frames and a random day frame for the rest."""
    rng = np.random.default_rng(seed)
    lane_x = 0.5 * rng.uniform(3.0, 3.6)
    passes = {
        'night': route.PassPath(lane_x=lane_x, start=40.0, speed=9.0),
        'day': route.PassPath(lane_x=lane_x, start=40.0, speed=8.0, lateral=rng.uniform(-0.3, 0.3),
                              sway_phase=rng.uniform(0, 2 * math.pi), yaw_offset=math.radians(rng.uniform(-1, 1)),
                              yaw_phase=rng.uniform(0, 2 * math.pi)),
    }
    count = int(round(seconds * rate_hz)) + 1
    stamps = np.round(np.arange(count) / rate_hz * 1e9).astype(np.int64)
    truth, measured = {}, {}
    for name, path in passes.items():
        x, z, _ = path.pose(stamps / 1e9)
        truth[name] = route.world_to_enu(x, z)
        track = make_track(stamps, truth[name] + route.gps_errors(count, rate_hz, sigma, tau, rng))
        measured[name] = track.at(stamps)
    night_xy, night_heading, night_distance, _ = measured['night']
    keep = sample_by_distance(night_distance, every)
    day_xy, day_heading, _, _ = measured['day']
    index, _ = match_by_position(night_xy[keep], night_heading[keep], day_xy, day_heading, max_distance,
                                 day_spacing=frame_spacing(day_xy, np.zeros(count)))
    found = index >= 0
    true_night, true_day = truth['night'][keep][found], truth['day'][index[found]]
    refined_distance = None
    if image_accuracy is not None:
        nearest = np.argmin(np.linalg.norm(truth['night'][keep][:, None] - truth['day'][None], axis=-1), axis=1)
        image = np.where(rng.random(len(keep)) < image_accuracy, nearest, rng.integers(count, size=len(keep)))
        _, _, day_distance, _ = measured['day']
        refined = refine_along_track(index, image, day_distance, np.zeros(count, np.int64), stamps[keep] / 1e9,
                                     np.zeros(len(keep), np.int64))
        refined_distance = np.linalg.norm(truth['night'][keep][refined >= 0] - truth['day'][refined[refined >= 0]],
                                          axis=-1)
    return SimulatedMatches(len(keep), int(found.sum()), precision(true_night, true_day),
                            np.linalg.norm(true_night - true_day, axis=-1), refined_distance)


def main(argv: list[str] | None = None) -> int:
    """Print the pooled match precision of `--seeds` simulated route pairs at `--sigma` metres per axis."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sigma', type=float, nargs='+', default=[2.0], help='GPS noise, metres per axis (2)')
    parser.add_argument('--tau', type=float, default=30.0, help='GPS error time constant, seconds (30)')
    parser.add_argument('--seeds', type=int, default=200, help='simulated route pairs per sigma (200)')
    parser.add_argument('--every', type=float, default=5.0, help='night frame spacing, metres (5)')
    parser.add_argument('--max-distance', type=float, default=MAX_DISTANCE, help='match radius, metres (10)')
    parser.add_argument('--image-accuracy', type=float,
                        help='also refine by simulated image matches right this often (e.g. 0.8)')
    args = parser.parse_args(argv)
    refined = args.image_accuracy is not None
    print('| GPS sigma per axis (m) | night samples | matched | precision (true distance <= 5 m) | '
          'true distance p50 / p95 (m) |' + (' refined: pairs | precision |' if refined else '') +
          '\n|---:|---:|---:|---:|---:|' + ('---:|---:|' if refined else ''))
    for sigma in args.sigma:
        runs = [simulate_route(seed, sigma, args.tau, every=args.every, max_distance=args.max_distance,
                               image_accuracy=args.image_accuracy) for seed in range(args.seeds)]
        gaps = np.concatenate([run.true_distance for run in runs])
        samples, matched = sum(run.samples for run in runs), sum(run.matched for run in runs)
        line = (f'| {sigma:g} | {samples} | {matched} | {100 * np.mean(gaps <= 5.0):.1f} % | '
                f'{np.percentile(gaps, 50):.2f} / {np.percentile(gaps, 95):.2f} |')
        if refined:
            moved = np.concatenate([run.refined_distance for run in runs])
            line += f' {len(moved)} | {100 * np.mean(moved <= 5.0):.1f} % |'
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
