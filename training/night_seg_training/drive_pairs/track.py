"""A drive's path in a local metric frame: smoothed positions, heading from the track, and distance travelled.

Raw fixes carry white jitter (tenths of a metre) on top of a slowly wandering error; the track smooths the jitter
with a local linear fit in time under a Gaussian kernel (`smoothing_s`), takes the heading from the smoothed track's
direction of travel (NavSatFix has none; an Odometry heading is used as given) and counts distance only while moving
faster than `min_speed`, so a car waiting at a light adds no distance and no samples however its fixes wander. The
wandering part cannot be smoothed away (it is correlated over tens of seconds); matching copes with it (`matching`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMOOTHING_S = 1.0
"""Standard deviation (seconds) of the Gaussian kernel of the local linear fit that smooths the fixes."""
MIN_SPEED = 1.0
"""Speed (m/s) below which the vehicle counts as standing: no distance, the last heading is kept."""
MAX_GAP_S = 2.0
"""Longest gap (seconds) between two usable fixes across which a camera frame still gets a position."""


def smooth(stamps: np.ndarray, values: np.ndarray, sigma_s: float) -> np.ndarray:
    """Local linear smoothing in time of float (P, C) `values` at int64 (P,) ns `stamps` (sorted); float64 (P, C).

    Each sample becomes the value at its time of a straight line fitted to its neighbours with Gaussian weights of
    `sigma_s` seconds (cut at 3 sigma). Unlike a plain kernel average this keeps steady motion unbiased at the ends
    of a drive and at the edges of gaps. Works on irregular sampling; samples farther than 3 sigma apart do not mix.
    """
    values = np.asarray(values, np.float64)
    if sigma_s <= 0 or len(stamps) < 2:
        return values.copy()
    seconds = (stamps - stamps[0]) / 1e9
    step = max(float(np.median(np.diff(seconds))), 1e-3)
    reach = min(int(np.ceil(3 * sigma_s / step)), len(values) - 1)  # no sample has a neighbour farther away
    sums = np.zeros((3, len(values)))                       # sum of w, w dt, w dt^2 per sample
    moments = np.zeros((2, *values.shape))                  # sum of w v, w dt v
    for offset in range(-reach, reach + 1):
        lo, hi = max(0, -offset), min(len(values), len(values) - offset)   # i in [lo, hi) has a neighbour i + offset
        gap = seconds[lo + offset:hi + offset] - seconds[lo:hi]
        weight = np.exp(-0.5 * (gap / sigma_s) ** 2) * (np.abs(gap) <= 3 * sigma_s * (1 + 1e-9))
        neighbour = values[lo + offset:hi + offset]
        sums[:, lo:hi] += weight * np.stack([np.ones_like(gap), gap, gap * gap])
        moments[0, lo:hi] += weight[:, None] * neighbour
        moments[1, lo:hi] += (weight * gap)[:, None] * neighbour
    s0, s1, s2 = sums
    determinant = s0 * s2 - s1 * s1
    fitted = (s2[:, None] * moments[0] - s1[:, None] * moments[1]) / np.where(determinant > 1e-12, determinant,
                                                                              1.0)[:, None]
    return np.where((determinant > 1e-12)[:, None], fitted, moments[0] / s0[:, None])


@dataclass(frozen=True, eq=False)
class Track:
    """A smoothed track: stamps int64 (P,) ns, east_north float64 (P, 2) metres, heading float64 (P,) radians
    counter-clockwise from east, distance float64 (P,) metres travelled while moving since the first sample."""

    stamps: np.ndarray
    east_north: np.ndarray
    heading: np.ndarray
    distance: np.ndarray

    def at(self, stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The track at int64 (N,) ns `stamps`: east_north float64 (N, 2), heading (N,), distance (N,) and valid
        bool (N,): False outside the track's time span or inside a gap of more than MAX_GAP_S between samples."""
        stamps = np.asarray(stamps, np.int64)
        t = (stamps - self.stamps[0]) / 1e9
        known = (self.stamps - self.stamps[0]) / 1e9
        after = np.clip(np.searchsorted(known, t, side='right'), 1, len(known) - 1)
        gap = known[after] - known[after - 1] if len(known) > 1 else np.zeros(len(t))
        valid = (t >= known[0]) & (t <= known[-1]) & (gap <= MAX_GAP_S)
        east_north = np.stack([np.interp(t, known, self.east_north[:, axis]) for axis in range(2)], axis=-1)
        heading = np.arctan2(np.interp(t, known, np.sin(self.heading)), np.interp(t, known, np.cos(self.heading)))
        return east_north, heading, np.interp(t, known, self.distance), valid


def make_track(stamps: np.ndarray, east_north: np.ndarray, heading: np.ndarray | None = None,
               smoothing_s: float = SMOOTHING_S, min_speed: float = MIN_SPEED) -> Track:
    """The Track of int64 (P,) ns `stamps` (sorted) and float (P, 2) east/north metres; `heading` float (P,) radians
    where the source gives one (Odometry), else from the smoothed track (kept through stops, back-filled at the
    start)."""
    points = smooth(stamps, east_north, smoothing_s)
    seconds = (stamps - stamps[0]) / 1e9
    steps = np.diff(points, axis=0)                                     # (P - 1, 2) metres
    lengths = np.hypot(steps[:, 0], steps[:, 1])
    moving = lengths > min_speed * np.maximum(np.diff(seconds), 1e-9)  # (P - 1,) faster than min_speed
    distance = np.concatenate([[0.0], np.cumsum(np.where(moving, lengths, 0.0))])
    if heading is None:
        direction = np.full(len(stamps), np.nan)
        direction[1:][moving] = np.arctan2(steps[moving, 1], steps[moving, 0])
        heading = _fill(direction)
    return Track(np.asarray(stamps, np.int64), points, np.asarray(heading, np.float64), distance)


def _fill(values: np.ndarray) -> np.ndarray:
    """NaNs replaced by the last finite value before them (the first finite one at the start; 0 if none)."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros_like(values)
    index = np.where(finite, np.arange(len(values)), 0)
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    filled[:np.argmax(finite)] = values[np.argmax(finite)]
    return filled


def sample_by_distance(distance: np.ndarray, every: float) -> np.ndarray:
    """Indices (int64) of the frames to keep from float (N,) non-decreasing `distance` metres: the first frame, then
    the first frame at or past each further `every` metres. Frames while standing add no distance, so none of them
    is picked after the first."""
    if every <= 0:
        raise ValueError(f'sampling distance {every} m; must be > 0')
    if len(distance) == 0:
        return np.zeros(0, np.int64)
    slot = np.floor((distance - distance[0]) / every)
    return np.flatnonzero(np.concatenate([[True], slot[1:] > np.maximum.accumulate(slot)[:-1]]))
