"""Tests for night_seg_training.synthetic: the procedural day/night street generator, its datasets and files on disk."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from night_seg_training import synthetic as synth

HEIGHT, WIDTH = 128, 256
SAMPLES = 6
DYNAMIC = [CITYSCAPES_CLASSES.index(name) for name in
           ('person', 'rider', 'car', 'truck', 'bus', 'motorcycle', 'bicycle')]
REQUIRED = ('road', 'sidewalk', 'building', 'sky', 'vegetation', 'terrain', 'pole', 'traffic light', 'traffic sign',
            'car', 'person')


@pytest.fixture(scope='module')
def pairs() -> list[synth.StreetPair]:
    """A handful of validation pairs at a small size."""
    return [synth.render_pair(0, 'val', index, HEIGHT, WIDTH) for index in range(SAMPLES)]


def _luminance(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _identical(a: synth.StreetPair, b: synth.StreetPair) -> bool:
    return all(np.array_equal(getattr(a, name), getattr(b, name))
               for name in ('day_image', 'day_label', 'night_image', 'night_label'))


def test_render_pair_is_deterministic_and_places_differ(pairs: list[synth.StreetPair]) -> None:
    assert _identical(synth.render_pair(0, 'val', 1, HEIGHT, WIDTH), pairs[1])
    assert not _identical(pairs[0], pairs[1])
    assert not _identical(synth.render_pair(0, 'train', 1, HEIGHT, WIDTH), pairs[1])
    assert not _identical(synth.render_pair(1, 'val', 1, HEIGHT, WIDTH), pairs[1])
    first, again = synth.make_scene(5), synth.make_scene(5)   # make_scene itself is uncached
    assert first is not again and np.array_equal(first.primitives.points, again.primitives.points)
    assert np.array_equal(first.facades, again.facades) and not np.array_equal(first.lamps, synth.make_scene(6).lamps)


def test_shapes_dtypes_and_label_ids(pairs: list[synth.StreetPair]) -> None:
    for pair in pairs:
        for image, label in ((pair.day_image, pair.day_label), (pair.night_image, pair.night_label)):
            assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
            assert label.shape == (HEIGHT, WIDTH) and label.dtype == np.uint8
            assert label.max() < len(CITYSCAPES_CLASSES) and not np.any(label == IGNORE_INDEX)


def test_required_classes_appear(pairs: list[synth.StreetPair]) -> None:
    seen = set()
    for pair in pairs:
        seen |= set(np.unique(pair.day_label).tolist()) | set(np.unique(pair.night_label).tolist())
    missing = [name for name in REQUIRED if CITYSCAPES_CLASSES.index(name) not in seen]
    assert not missing, f'classes never drawn in {SAMPLES} pairs: {missing}'


def test_day_road_has_lane_marks(pairs: list[synth.StreetPair]) -> None:
    marked = 0
    for pair in pairs:
        road = _luminance(pair.day_image)[pair.day_label == CITYSCAPES_CLASSES.index('road')]
        marked += np.mean(road > np.median(road) + 50) > 0.005     # white paint well above the asphalt
    assert marked >= SAMPLES - 1


def test_night_is_dark_with_bright_lights(pairs: list[synth.StreetPair]) -> None:
    ratios = []
    for pair in pairs:
        night, day = _luminance(pair.night_image), _luminance(pair.day_image)
        ratios.append(night.mean() / day.mean())
        assert np.mean(night >= 240) > 1e-4, 'no lamp, head light or window near saturation'
        assert np.median(night) < 0.6 * np.median(day)
    assert max(ratios) < 0.65 and np.mean(ratios) < 0.5, ratios


def test_night_view_is_coarsely_aligned_with_other_traffic(pairs: list[synth.StreetPair]) -> None:
    agreements, overlaps = [], []
    for pair in pairs:
        static = ~np.isin(pair.day_label, DYNAMIC) & ~np.isin(pair.night_label, DYNAMIC)
        agreements.append(np.mean((pair.day_label == pair.night_label)[static]))
        day, night = np.isin(pair.day_label, DYNAMIC), np.isin(pair.night_label, DYNAMIC)
        overlaps.append((day & night).sum() / max(1, (day | night).sum()))
    assert min(agreements) > 0.7 and max(agreements) < 0.995, agreements   # same place, camera shifted a little
    assert np.mean(overlaps) < np.mean(agreements) - 0.2, (overlaps, agreements)   # traffic sampled anew


def _static_agreement(pair: synth.StreetPair) -> float:
    static = ~np.isin(pair.day_label, DYNAMIC) & ~np.isin(pair.night_label, DYNAMIC)
    return float(np.mean((pair.day_label == pair.night_label)[static]))


def test_coarse_alignment_moves_only_the_night_camera_and_further(pairs: list[synth.StreetPair]) -> None:
    coarse = [synth.render_pair(0, 'val', index, HEIGHT, WIDTH, 'coarse') for index in range(SAMPLES)]
    for aligned_pair, coarse_pair in zip(pairs, coarse, strict=True):
        assert np.array_equal(aligned_pair.day_image, coarse_pair.day_image)  # the same day camera and place
        assert not np.array_equal(aligned_pair.night_label, coarse_pair.night_label)
    aligned_agreement = [_static_agreement(pair) for pair in pairs]
    coarse_agreement = [_static_agreement(pair) for pair in coarse]
    assert np.mean(coarse_agreement) < np.mean(aligned_agreement) - 0.05, (coarse_agreement, aligned_agreement)
    assert min(coarse_agreement) > 0.4  # still the same place


def test_drive_through_a_street() -> None:
    scene = synth.make_scene(7)
    camera = synth.Camera(x=scene.lane_width / 2, height=1.4, z=20.0)
    traffic = synth.sample_dynamic(scene, np.random.default_rng(0), (0.0, 260.0), keep_clear=camera,
                                   clear_ahead=40.0)
    rng = np.random.default_rng(1)
    frames = []
    for step in range(0, 12, 4):   # 10 Hz frames 0, 4 and 8 of a drive at 12 m/s
        seconds = step / 10
        moved = synth.advance(traffic, seconds)
        camera_now = synth.Camera(camera.x, camera.height, camera.z + 12.0 * seconds)
        frames.append(synth.render(scene, moved, camera_now, 64, 128, 'night', rng))
    road = CITYSCAPES_CLASSES.index('road')
    for image, label in frames:
        assert image.shape == (64, 128, 3) and label.shape == (64, 128)
        assert {road, CITYSCAPES_CLASSES.index('building')} <= set(label.ravel().tolist())
        assert np.all(label[-8:, 56:72] == road)   # the lane kept clear ahead of the driving camera
    assert not np.array_equal(frames[0][1], frames[-1][1])
    far = synth.Camera(x=camera.x, height=1.4, z=synth.STREET_LENGTH)
    _, label = synth.render(scene, [], far, 64, 128, 'day', rng)
    assert np.mean(label == CITYSCAPES_CLASSES.index('building')) > 0.1   # the street goes on at its far end
    moved = synth.advance(traffic, 2.0)
    shift = [m.primitives.center[:, 2] - t.primitives.center[:, 2] for m, t in zip(moved, traffic, strict=True)]
    assert all(np.allclose(d, 2.0 * t.velocity[1], atol=1e-3) for d, t in zip(shift, traffic, strict=True))


def test_render_rejects_unknown_time_of_day() -> None:
    scene = synth.make_scene(0)
    with pytest.raises(ValueError, match="'dusk'.*day, night"):
        synth.render(scene, [], synth.Camera(1.5, 1.4, 10.0), 64, 128, 'dusk', np.random.default_rng(0))


def test_datasets_give_the_sample_dicts(pairs: list[synth.StreetPair]) -> None:
    streets = synth.SyntheticStreets('val', 3, HEIGHT, WIDTH, seed=0)
    assert len(streets) == 3 and len(streets.day()) == 3 and len(streets.night()) == 3
    day, night = streets.day()[1], streets.night()[1]
    assert set(day) == {'image', 'label', 'name'} and day['name'] == 'synth_val_000001'
    assert np.array_equal(day['image'], pairs[1].day_image) and np.array_equal(day['label'], pairs[1].day_label)
    assert set(night) == {'image', 'reference', 'label', 'name'} and night['name'] == 'synth_val_000001'
    assert np.array_equal(night['image'], pairs[1].night_image)
    assert np.array_equal(night['reference'], pairs[1].day_image)
    assert np.array_equal(night['label'], pairs[1].night_label)
    with pytest.raises(IndexError):
        streets[3]


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'split': 'training'}, "split 'training'; allowed: train, val, test"),
    ({'count': 0}, 'count 0; must be >= 1'),
    ({'height': 100}, 'height 100; must be a multiple of 32'),
    ({'width': 16}, 'width 16; must be a multiple of 32 pixels, at least 32'),
    ({'seed': -1}, 'seed -1; must be >= 0'),
    ({'alignment': 'gps'}, "alignment 'gps'; allowed: aligned, coarse"),
])
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synth.SyntheticStreets(**kwargs)


def test_write_dataset_layout_and_read_back(tmp_path: Path) -> None:
    root = synth.write_dataset(tmp_path / 'synth', 'val', 3, 64, 96, seed=0)
    synth.write_dataset(root, 'val', 2, 64, 96, seed=0)   # a smaller rerun leaves no stale frames
    expected = set()
    for i in range(2):
        frame = f'SYNTH_frame_{i:06d}'
        expected |= {f'rgb_anon/val/night/SYNTH/{frame}_rgb_anon.png',
                     f'rgb_anon/val_ref/day/SYNTH_ref/{frame}_ref_rgb_anon.png',
                     f'gt/val/night/SYNTH/{frame}_gt_labelTrainIds.png',
                     f'gt/val_ref/day/SYNTH_ref/{frame}_ref_gt_labelTrainIds.png'}
    written = {p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file()}
    assert written == expected | {'SYNTHETIC.md'}
    note = (root / 'SYNTHETIC.md').read_text()
    assert 'procedurally generated synthetic data' in note and f'generator version: {synth.GENERATOR_VERSION}' in note
    pair = synth.render_pair(0, 'val', 1, 64, 96)
    frame = 'SYNTH_frame_000001'
    read = {
        'night_image': cv2.imread(str(root / f'rgb_anon/val/night/SYNTH/{frame}_rgb_anon.png')),
        'day_image': cv2.imread(str(root / f'rgb_anon/val_ref/day/SYNTH_ref/{frame}_ref_rgb_anon.png')),
        'night_label': cv2.imread(str(root / f'gt/val/night/SYNTH/{frame}_gt_labelTrainIds.png'),
                                  cv2.IMREAD_UNCHANGED),
        'day_label': cv2.imread(str(root / f'gt/val_ref/day/SYNTH_ref/{frame}_ref_gt_labelTrainIds.png'),
                                cv2.IMREAD_UNCHANGED),
    }
    for name in ('night_image', 'day_image'):
        assert np.array_equal(cv2.cvtColor(read[name], cv2.COLOR_BGR2RGB), getattr(pair, name))
    for name in ('night_label', 'day_label'):
        assert read[name].ndim == 2 and np.array_equal(read[name], getattr(pair, name))
    with pytest.raises(ValueError, match='height 50'):
        synth.write_dataset(tmp_path / 'bad', 'val', 1, 50, 96, seed=0)


def test_contact_sheet(pairs: list[synth.StreetPair]) -> None:
    sheet = synth.contact_sheet(pairs[:2])
    assert sheet.shape == (2 * HEIGHT, 4 * WIDTH, 3) and sheet.dtype == np.uint8
    assert np.array_equal(sheet[HEIGHT:, 2 * WIDTH:3 * WIDTH], pairs[1].night_image)
    with pytest.raises(ValueError):
        synth.contact_sheet([])


def test_camera_yaw_turns_the_view_right() -> None:
    scene = synth.make_scene(3)
    rng = np.random.default_rng(0)
    road = CITYSCAPES_CLASSES.index('road')
    centres = []
    for yaw in (0.0, math.radians(20)):
        _, label = synth.render(scene, [], synth.Camera(x=1.5, height=1.4, z=50.0, yaw=yaw), 64, 128, 'day', rng)
        centres.append(np.nonzero(label[30:36] == road)[1].mean())   # the far road, just below the horizon
    assert abs(centres[0] - 64) < 16 and centres[1] < centres[0] - 20   # turning right moves the street left


def test_no_module_of_the_synthetic_world_reaches_into_another_ones_private_names() -> None:
    """Each module of night_seg_training.synthetic uses only the public names of the others (and of any module)."""
    import ast

    package = Path(synth.__file__).parent
    found = []
    for path in sorted(package.glob('*.py')):
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('night_seg_training'):
                found += [f'{path.name}: from {node.module} import {alias.name}' for alias in node.names
                          if alias.name.startswith('_')]
                modules |= {alias.asname or alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                modules |= {(alias.asname or alias.name).split('.')[0] for alias in node.names}
        found += [f'{path.name}: {node.value.id}.{node.attr}' for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in modules and node.attr.startswith('_') and not node.attr.startswith('__')]
    assert not found, found
