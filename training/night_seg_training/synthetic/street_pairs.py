"""Deterministic day/night pairs of one place: `render_pair` and the map-style dataset `SyntheticStreets`.

Place i of (seed, split) stands in street i % STREETS_PER_SPLIT at a place-specific camera: the night camera is the
day camera moved a little, and the traffic of the two images differs (`_place`). How far it moves is the pair's
`alignment` (ALIGNMENTS): `aligned` (up to 0.5 m aside, 2 m along, 2 degrees of yaw: image shifts up to about 20 px
at 768 px wide) or `coarse`, like Dark Zurich's GPS-matched pairs (0.6-1.5 m aside, 1-5 m along, 3-7 degrees of
yaw: shifts of 50-100 px at 768 px wide occur).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from night_seg_training.synthetic.geometry import Camera
from night_seg_training.synthetic.rendering import TIMES_OF_DAY, SynthError, render
from night_seg_training.synthetic.street import STREET_LENGTH, Scene, make_scene
from night_seg_training.synthetic.traffic import Thing, sample_dynamic

SPLITS: tuple[str, ...] = ('train', 'val', 'test')
ALIGNMENTS: tuple[str, ...] = ('aligned', 'coarse')
"""How far the night camera of a pair stands from the day camera (module docstring)."""
_NIGHT_OFFSETS = {  # alignment -> uniform ranges of |lateral| m, |along| m, |yaw| degrees of the night camera
    'aligned': ((0.1, 0.5), (0.5, 2.0), (0.3, 2.0)),
    'coarse': ((0.6, 1.5), (1.0, 5.0), (3.0, 7.0)),
}
STREETS_PER_SPLIT = 64
"""Streets render_pair draws its places from, per (seed, split): place i stands in street i % STREETS_PER_SPLIT at a
place-specific camera position (streets are cached, so a dataset pass builds each street once per process)."""
MIN_SIZE = 32
"""Image sides of render_pair / SyntheticStreets / write_dataset: multiples of MIN_SIZE pixels, at least MIN_SIZE."""

_SPLIT_STREET_KEY = 1           # extra SeedSequence word: street seeds never equal place seeds
_TRAFFIC_AHEAD = 100.0          # metres ahead of a render_pair camera that traffic is sampled (farther is tiny)

# The streets of render_pair, each built once per process (make_scene itself is uncached).
_street = functools.lru_cache(maxsize=STREETS_PER_SPLIT)(make_scene)


@dataclass(frozen=True, eq=False)
class StreetPair:
    """One place by day and by night: camera B (night) is camera A (day) shifted slightly, traffic differs."""

    day_image: np.ndarray    # uint8 (H, W, 3) RGB, camera A, dynamic objects set 1
    day_label: np.ndarray    # uint8 (H, W) Cityscapes train ids
    night_image: np.ndarray  # uint8 (H, W, 3) RGB, camera B = A shifted slightly, dynamic objects set 2
    night_label: np.ndarray  # uint8 (H, W)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise SynthError(f'split {split!r}; allowed: {", ".join(SPLITS)}')


def _check_size(height: int, width: int) -> None:
    for name, value in (('height', height), ('width', width)):
        if value < MIN_SIZE or value % MIN_SIZE:
            raise SynthError(f'{name} {value}; must be a multiple of {MIN_SIZE} pixels, at least {MIN_SIZE} '
                             '(the segmentation network needs multiples of 32)')


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise SynthError(f'seed {seed}; must be >= 0')


def _check_alignment(alignment: str) -> None:
    if alignment not in ALIGNMENTS:
        raise SynthError(f'alignment {alignment!r}; allowed: {", ".join(ALIGNMENTS)}')


def check_pairs(split: str, count: int, height: int, width: int, seed: int, alignment: str) -> None:
    """SynthError naming the first argument of a set of pairs (SyntheticStreets, write_dataset) that is not allowed."""
    _check_split(split)
    _check_alignment(alignment)
    if count < 1:
        raise SynthError(f'count {count}; must be >= 1')
    _check_size(height, width)
    _check_seed(seed)


@dataclass(frozen=True, eq=False)
class _Place:
    """What render_pair renders for one (seed, split, index): the street, both cameras, both traffic sets, and the
    seeds of the day and night image rngs."""

    scene: Scene
    cameras: tuple[Camera, Camera]
    dynamic: tuple[list[Thing], list[Thing]]
    image_seeds: tuple[np.random.SeedSequence, np.random.SeedSequence]


def _place(seed: int, split: str, index: int, alignment: str = 'aligned') -> _Place:
    """The place of `index` in `split`: its street (one of STREETS_PER_SPLIT), cameras and traffic.

    The day camera, the street and the traffic do not depend on `alignment`; only how far the night camera moves.
    """
    _check_split(split)
    _check_alignment(alignment)
    _check_seed(seed)
    if index < 0:
        raise SynthError(f'index {index}; must be >= 0')
    code = SPLITS.index(split)
    place_seed, day_seed, night_seed = np.random.SeedSequence([seed, code, index]).spawn(3)
    street_seed = np.random.SeedSequence([seed, code, index % STREETS_PER_SPLIT, _SPLIT_STREET_KEY])
    scene = _street(int(street_seed.generate_state(1)[0]))
    rng = np.random.default_rng(place_seed)
    lane = int(rng.integers(scene.lanes))
    day = Camera(x=(lane + 0.5) * scene.lane_width + rng.uniform(-0.3, 0.3), height=rng.uniform(1.25, 1.65),
                 z=rng.uniform(0.0, STREET_LENGTH), yaw=math.radians(rng.normal(0.0, 1.5)),
                 hfov_deg=rng.uniform(64, 76))
    sign = rng.choice([-1.0, 1.0], 3)
    lateral, along, yaw = _NIGHT_OFFSETS[alignment]
    night = Camera(x=day.x + sign[0] * rng.uniform(*lateral), height=day.height + rng.uniform(-0.1, 0.1),
                   z=day.z + sign[1] * rng.uniform(*along), yaw=day.yaw + sign[2] * math.radians(rng.uniform(*yaw)),
                   hfov_deg=day.hfov_deg)
    dynamic = tuple(sample_dynamic(scene, rng, (camera.z - 15.0, camera.z + _TRAFFIC_AHEAD), keep_clear=camera)
                    for camera in (day, night))
    return _Place(scene, (day, night), dynamic, (day_seed, night_seed))


def _render_place(place: _Place, which: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Day (which = 0) or night (1) image and label of a place."""
    return render(place.scene, place.dynamic[which], place.cameras[which], height, width, TIMES_OF_DAY[which],
                  np.random.default_rng(place.image_seeds[which]))


def render_pair(seed: int, split: str, index: int, height: int = 256, width: int = 512,
                alignment: str = 'aligned') -> StreetPair:
    """The day/night pair of place `index` of `split` (deterministic in seed, split, index, alignment; splits never
    share places). height and width: multiples of 32 pixels; alignment: one of ALIGNMENTS."""
    _check_size(height, width)
    place = _place(seed, split, index, alignment)
    day_image, day_label = _render_place(place, 0, height, width)
    night_image, night_label = _render_place(place, 1, height, width)
    return StreetPair(day_image, day_label, night_image, night_label)


def _sample_name(split: str, index: int) -> str:
    return f'synth_{split}_{index:06d}'


class SyntheticStreets:
    """Map-style dataset (no torch dependency): len() and [i] over render_pair(seed, split, i)."""

    def __init__(self, split: str = 'train', count: int = 1000, height: int = 256, width: int = 512,
                 seed: int = 0, alignment: str = 'aligned') -> None:
        check_pairs(split, count, height, width, seed, alignment)
        self.split, self.count, self.height, self.width, self.seed = split, count, height, width, seed
        self.alignment = alignment

    def __len__(self) -> int:
        return self.count

    def _check_index(self, index: int) -> int:
        if not -self.count <= index < self.count:
            raise IndexError(f'index {index} out of range for {self.count} synthetic pairs')
        return index % self.count

    def __getitem__(self, index: int) -> StreetPair:
        return render_pair(self.seed, self.split, self._check_index(index), self.height, self.width, self.alignment)

    def day(self) -> SyntheticDayView:
        """The day renderings as labelled views {'image', 'label', 'name'}."""
        return SyntheticDayView(self)

    def night(self) -> SyntheticNightView:
        """The night renderings as night pairs {'image': night, 'reference': day, 'label': night label, 'name'}."""
        return SyntheticNightView(self)


class SyntheticDayView:
    """Labelled views of the day images of a SyntheticStreets (renders the day side only)."""

    def __init__(self, streets: SyntheticStreets) -> None:
        self.streets = streets

    def __len__(self) -> int:
        return len(self.streets)

    def __getitem__(self, index: int) -> dict:
        streets = self.streets
        index = streets._check_index(index)
        place = _place(streets.seed, streets.split, index)
        image, label = _render_place(place, 0, streets.height, streets.width)
        return {'image': image, 'label': label, 'name': _sample_name(streets.split, index)}


class SyntheticNightView:
    """Night pairs of a SyntheticStreets: the night image with its label and the day image of the same place."""

    def __init__(self, streets: SyntheticStreets) -> None:
        self.streets = streets

    def __len__(self) -> int:
        return len(self.streets)

    def __getitem__(self, index: int) -> dict:
        index = self.streets._check_index(index)
        pair = self.streets[index]
        return {'image': pair.night_image, 'reference': pair.day_image, 'label': pair.night_label,
                'name': _sample_name(self.streets.split, index)}
