"""Matching night frames to day frames of the same place, and measuring how often a match is right.

By position (`match_by_position`): each night frame takes the day frame nearest to it among those whose heading
agrees within `max_heading_deg` (the other carriageway, or the same street driven the other way, sees another
scene), and none when that day frame is farther than `max_distance`. Both tracks are smoothed (`track`); the slowly
wandering GPS error of each drive is what is left, so a match is off by about the difference of the two drives'
errors at that place.

`refine_along_track` corrects the GPS matches by image content: the offset along the day track on which the image
matches of a stretch of road agree (their median) is the difference of the two drives' GPS errors there.

`precision` measures matches against true positions (the synthetic drives' /ground_truth/pose): the fraction of
pairs whose true distance is at most `within` metres (Dark Zurich's pairs are "coarsely aligned" within a few metres).
"""
from __future__ import annotations

import numpy as np

MAX_DISTANCE = 10.0
"""Metres: a night frame with no day frame this close (in the measured positions) is left out."""
MAX_HEADING_DEG = 45.0
"""Degrees: day frames heading more than this away from a night frame are not candidates."""
PRECISION_WITHIN = 5.0
"""Metres: a pair whose true distance is at most this counts as correct in `precision`."""


def angle_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference (radians, 0..pi) of angles `a` and `b` (radians, broadcast)."""
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b)))))


def frame_spacing(points: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """float64 (D,) metres from each of float (D, 2) `points` to the farther of its neighbours in the same
    `sequence` (int (D,), e.g. the bag; points in travel order); inf for a sequence of one point."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    same = np.diff(sequence) == 0
    before = np.concatenate([[np.nan], np.where(same, steps, np.nan)])
    after = np.concatenate([np.where(same, steps, np.nan), [np.nan]])
    spacing = np.fmax(before, after)
    return np.where(np.isnan(spacing), np.inf, spacing)


def match_by_position(night: np.ndarray, night_heading: np.ndarray, day: np.ndarray, day_heading: np.ndarray,
                      max_distance: float = MAX_DISTANCE, max_heading_deg: float = MAX_HEADING_DEG,
                      day_spacing: np.ndarray | None = None, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The day frame of each night frame: int64 (N,) index into `day` (-1: none within max_distance with a heading
    within max_heading_deg) and float64 (N,) measured distance in metres (inf where none).

    night float (N, 2), day float (D, 2): east/north metres; headings float (N,), (D,) radians. With `day_spacing`
    (float (D,) metres, `frame_spacing`), a night frame more than one spacing (+ 0.5 m) ahead of or behind its
    nearest day frame along that frame's heading is beyond the end of the day drive there, and gets none."""
    night, day = np.asarray(night, np.float64), np.asarray(day, np.float64)
    index = np.full(len(night), -1, np.int64)
    distance = np.full(len(night), np.inf)
    if len(day) == 0:
        return index, distance
    limit = np.radians(max_heading_deg)
    for start in range(0, len(night), chunk):
        rows = slice(start, start + chunk)
        gaps = np.linalg.norm(night[rows, None, :] - day[None, :, :], axis=-1)          # (n, D) metres
        gaps[angle_difference(night_heading[rows, None], day_heading[None, :]) > limit] = np.inf
        best = np.argmin(gaps, axis=1)
        nearest = gaps[np.arange(len(best)), best]
        found = nearest <= max_distance
        if day_spacing is not None:
            offset = night[rows] - day[best]                                            # (n, 2) metres
            along = offset[:, 0] * np.cos(day_heading[best]) + offset[:, 1] * np.sin(day_heading[best])
            found &= np.abs(along) <= day_spacing[best] + 0.5
        index[rows] = np.where(found, best, -1)
        distance[rows] = np.where(found, nearest, np.inf)
    return index, distance


def precision(true_night: np.ndarray, true_day: np.ndarray, within: float = PRECISION_WITHIN) -> float | None:
    """Fraction (0-1) of pairs whose true positions (float (N, 2) metres each, row i = pair i) are at most `within`
    metres apart; None for no pairs."""
    if len(true_night) == 0:
        return None
    gaps = np.linalg.norm(np.asarray(true_night, np.float64) - np.asarray(true_day, np.float64), axis=-1)
    return float(np.mean(gaps <= within))


def refine_along_track(gps: np.ndarray, image: np.ndarray, day_distance: np.ndarray, day_drive: np.ndarray,
                       night_seconds: np.ndarray, night_drive: np.ndarray, window_s: float = 30.0,
                       max_offset: float = 3 * MAX_DISTANCE) -> np.ndarray:
    """GPS matches moved along the day track by the offset the image matches agree on: int64 (N,) day indices.

    gps, image int (N,): each night frame's day index by position and by image content (-1: none). The GPS error of
    a drive wanders slowly (tens of seconds), so the along-track offset between where GPS and where the image put a
    night frame on the day track (day_distance float (D,), metres travelled along its drive day_drive int (D,)) is
    nearly constant over a window: its median over the night frames within `window_s` seconds (night_seconds float
    (N,), of the same night_drive int (N,)) is robust to a share of wrong image matches. Offsets over `max_offset`
    metres, or between different day drives, do not vote; a night frame without votes keeps its GPS match, one whose
    moved place lies beyond the day drive gets none (-1)."""
    refined = np.asarray(gps, np.int64).copy()
    valid = (gps >= 0) & (image >= 0)
    offset = np.full(len(gps), np.nan)
    same = valid.copy()
    same[valid] = day_drive[gps[valid]] == day_drive[image[valid]]
    offset[same] = day_distance[image[same]] - day_distance[gps[same]]
    votes = same & (np.abs(np.nan_to_num(offset)) <= max_offset)
    for row in np.flatnonzero(gps >= 0):
        near = votes & (night_drive == night_drive[row]) & (np.abs(night_seconds - night_seconds[row]) <= window_s)
        if not near.any():
            continue
        target = day_distance[gps[row]] + np.median(offset[near])
        candidates = np.flatnonzero(day_drive == day_drive[gps[row]])
        best = candidates[np.argmin(np.abs(day_distance[candidates] - target))]
        refined[row] = best if abs(day_distance[best] - target) <= PRECISION_WITHIN else -1   # past the day drive
    return refined
