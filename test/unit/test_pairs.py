"""Pairing's numeric parts: the local frame, the smoothed track, distance sampling, heading-aware matching and the
refinement along the track (no rendering, no bags)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from night_seg_training.drive_pairs.matching import angle_difference, match_by_position, precision, refine_along_track
from night_seg_training.drive_pairs.track import make_track, sample_by_distance, smooth
from night_seg_training.geodesy import EARTH_RADIUS_M, LocalFrame
from night_seg_training.synthetic import route

ZURICH = LocalFrame(47.3769, 8.5417)


def _stamps(count: int, rate_hz: float = 10.0) -> np.ndarray:
    return np.round(np.arange(count) / rate_hz * 1e9).astype(np.int64)


def test_the_local_frame_is_metric_and_round_trips() -> None:
    east_north = ZURICH.to_local(np.array([47.3769 + 0.001, 47.3769]), np.array([8.5417, 8.5417 + 0.001]))
    assert east_north[0] == pytest.approx([0.0, math.radians(0.001) * EARTH_RADIUS_M])      # 111.2 m north
    assert east_north[1, 0] == pytest.approx(111.195 * math.cos(math.radians(47.3769)), rel=1e-4)
    points = np.array([[1500.0, -800.0], [-3.0, 4.0]])
    assert ZURICH.to_local(*ZURICH.to_geodetic(points)) == pytest.approx(points, abs=1e-6)


def test_smoothing_removes_white_jitter_and_keeps_a_straight_line() -> None:
    rng = np.random.default_rng(0)
    stamps = _stamps(300)
    line = np.stack([np.arange(300) * 0.9, np.zeros(300)], axis=-1)            # 9 m/s east
    smoothed = smooth(stamps, line + rng.normal(0, 0.3, line.shape), 1.0)
    inner = slice(30, -30)
    assert np.std(smoothed[inner, 1]) < 0.1 < np.std(line[inner, 1] + rng.normal(0, 0.3, 240))
    assert smooth(stamps, line, 1.0)[inner] == pytest.approx(line[inner])


@pytest.mark.parametrize('samples', [2, 3, 5, 11, 29])
def test_smoothing_a_track_shorter_than_the_kernel(samples: int) -> None:
    """Fewer samples than the kernel reaches (3 sigma = 3 s at 10 Hz is 30 samples): every sample is fitted to all
    the others, a straight line stays exact."""
    line = np.stack([np.arange(samples) * 0.9, np.zeros(samples)], axis=-1)
    assert smooth(_stamps(samples), line, 1.0) == pytest.approx(line)


def test_the_track_heading_follows_travel_and_standing_adds_no_distance() -> None:
    rng = np.random.default_rng(1)
    # 10 s north-east at 8 m/s, 10 s standing still, 10 s on
    speed = np.concatenate([np.full(100, 8.0), np.zeros(100), np.full(100, 8.0)])
    along = np.concatenate([[0.0], np.cumsum(speed[:-1] * 0.1)])
    points = np.stack([along, along], axis=-1) / math.sqrt(2) + rng.normal(0, 0.25, (300, 2))
    track = make_track(_stamps(300), points)
    assert angle_difference(track.heading, math.radians(45)).max() < math.radians(10)
    assert track.distance[-1] == pytest.approx(along[-1], rel=0.05)
    assert track.distance[190] - track.distance[110] < 1.0                   # the stop: fixes wander, no distance
    samples = sample_by_distance(track.distance, 10.0)
    assert not np.any((samples > 110) & (samples < 190))
    assert len(samples) == pytest.approx(along[-1] / 10, abs=2)


def test_the_track_gives_no_position_outside_its_span_or_across_a_gap() -> None:
    stamps = np.concatenate([_stamps(50), _stamps(50)[-1] + 5_000_000_000 + _stamps(50)])   # a 5 s outage
    track = make_track(stamps, np.stack([np.arange(100.0), np.zeros(100)], axis=-1))
    _, _, _, valid = track.at(np.array([-1, stamps[10], stamps[49] + 2_000_000_000, stamps[60], stamps[-1] + 1]))
    assert valid.tolist() == [False, True, False, True, False]


def test_sampling_by_distance_takes_the_first_frame_past_each_step() -> None:
    distance = np.array([0.0, 2.0, 4.9, 5.0, 5.0, 5.0, 7.0, 12.0, 14.0, 16.0])
    assert sample_by_distance(distance, 5.0).tolist() == [0, 3, 7, 9]
    assert sample_by_distance(np.zeros(20), 5.0).tolist() == [0]            # standing still: the first frame only
    with pytest.raises(ValueError, match='must be > 0'):
        sample_by_distance(distance, 0.0)


def test_matching_takes_the_nearest_day_frame_with_an_agreeing_heading() -> None:
    # An out-and-back day route along one street: eastwards in the right lane, back in the opposite lane 3.5 m north.
    east = np.arange(0.0, 100.0, 1.0)
    day = np.concatenate([np.stack([east, np.zeros(100)], -1), np.stack([east[::-1], np.full(100, 3.5)], -1)])
    day_heading = np.concatenate([np.zeros(100), np.full(100, math.pi)])
    night = np.array([[20.2, 2.0], [50.0, 1.5], [130.0, 0.0]])             # nearer the return lane's line
    index, distance = match_by_position(night, np.zeros(3), day, day_heading, max_distance=10.0)
    assert index.tolist() == [20, 50, -1]                                  # eastbound frames; none 30 m past the end
    assert distance[:2] == pytest.approx([math.hypot(0.2, 2.0), 1.5]) and distance[2] == math.inf
    back, _ = match_by_position(night[:2], np.full(2, math.pi), day, day_heading)
    assert back.tolist() == [179, 149]                                      # the westbound frames at 20 m and 50 m


def test_precision_counts_pairs_within_five_metres() -> None:
    assert precision(np.zeros((4, 2)), np.array([[0, 0], [3, 4], [5.1, 0], [0, 9]])) == 0.5
    assert precision(np.zeros((0, 2)), np.zeros((0, 2))) is None


def test_gps_noise_is_correlated_in_time_with_the_asked_sigma() -> None:
    errors = route.gps_errors(20000, 10.0, 2.0, 30.0, np.random.default_rng(2))
    assert np.std(errors, axis=0) == pytest.approx([math.hypot(2.0, route.WHITE_SIGMA_M)] * 2, rel=0.25)
    one_second = np.corrcoef(errors[:-10, 0], errors[10:, 0])[0, 1]
    assert one_second > 0.9                                                  # white noise would give about 0


def test_the_monotonic_alignment_follows_the_route_where_single_frames_would_jump() -> None:
    from night_seg_training.drive_pairs.features import align_monotonic, match_by_content

    # 6 night frames along 30 day frames at 5 frames per night frame, with one distractor day frame far back
    similarity = np.full((6, 30), 0.1)
    similarity[np.arange(6), 2 + 5 * np.arange(6)] = 0.8
    similarity[4, 1] = 0.9                                                  # would pull night frame 4 back
    path, score = align_monotonic(similarity)
    assert path.tolist() == [2, 7, 12, 17, 22, 27] and score == pytest.approx(0.8)
    rng = np.random.default_rng(3)
    places = rng.normal(size=(30, 16))
    day = places + 0.3 * rng.normal(size=(30, 16)) + 5.0                   # + a shared daylight component
    night = places[2::5] + 0.3 * rng.normal(size=(6, 16)) - 5.0
    index, similarity, margin = match_by_content(night, day, np.zeros(6, int), np.zeros(30, int), separation=3)
    assert index.tolist() == [2, 7, 12, 17, 22, 27]
    assert np.all(similarity > 0.5) and np.all(margin > 0)


def test_refinement_moves_gps_matches_by_the_offset_most_image_matches_agree_on() -> None:
    day_distance = np.arange(100.0)                          # one day drive, a frame every metre
    night_seconds = np.arange(20.0)
    truth = 10 + 4 * np.arange(20)                           # the right day frame of each night frame
    gps = truth - 6                                          # both drives' GPS errors differ by 6 m along the road
    image = truth.copy()
    image[[3, 9, 15]] = [90, 2, 60]                          # three wrong image matches
    refined = refine_along_track(gps, image, day_distance, np.zeros(100, int), night_seconds, np.zeros(20, int))
    assert refined.tolist() == truth.tolist()
    gps[0] = -1                                              # no GPS match stays none; none past the day drive
    far = refine_along_track(gps, image + 0, day_distance, np.zeros(100, int), night_seconds, np.zeros(20, int))
    assert far[0] == -1 and far[1] == truth[1]
    shifted = refine_along_track(gps, np.minimum(image + 20, 99), day_distance, np.zeros(100, int), night_seconds,
                                 np.zeros(20, int))
    assert shifted[-1] == -1                                 # moved past the end of the day drive (99 m + 5 m)
