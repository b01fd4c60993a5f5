"""Procedural synthetic day/night street scenes with exact Cityscapes train-id labels (numpy + OpenCV, no torch).

World coordinates are metres: x right, y up, z forward along one straight street centred on x = 0, right-hand
traffic (lanes with x > 0 drive towards +z). `make_scene` builds the static street of a seed (road with lane marks
and zebra crossings, kerbs, sidewalks, grass verges, buildings with window grids, trees, hedges, walls, fences,
street lamps, traffic lights, signs) from z = -40 to beyond STREET_LENGTH + VIEW_DISTANCE; `sample_dynamic` draws
the moving objects (cars, trucks, buses, persons, cyclists, motorcyclists) separately, so one place can be rendered
with different traffic (`advance` moves it along for a drive). `render` projects everything through a pinhole
`Camera` with the painter's algorithm (far to near): each convex polygon or ellipse is filled into one buffer of
drawable ids, from which both the image colours and the label map are looked up, so labels are exact.

Shading is in linear RGB (1 = a white surface in full sun). Day: sun with cast shadows, sky light, haze, sky
gradient with clouds, world-anchored textures. Night: the same geometry under dim blue ambient light, street lamps
(sodium or LED, per image) lighting pools, lit windows, head lights (with beams) and tail lights, the ego car's
low beam, light-pollution glow, wet-road reflections, bloom and glare, vignetting, blur and shot + read noise.
`render_pair` and `SyntheticStreets` give deterministic day/night pairs of one place (coarsely aligned cameras,
different traffic), `write_dataset` writes them in a Dark Zurich val-like layout.
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from night_seg_ros.render import colorize, palette_lut

GENERATOR_VERSION: int = 1
SPLITS: tuple[str, ...] = ('train', 'val', 'test')
TIMES_OF_DAY: tuple[str, ...] = ('day', 'night')
STREET_LENGTH = 300.0
"""Cameras may stand anywhere in z = [0, STREET_LENGTH] metres; the street is built VIEW_DISTANCE further."""
VIEW_DISTANCE = 200.0
"""Metres ahead of the camera beyond which objects are not drawn (the road itself runs on to the horizon)."""
STREETS_PER_SPLIT = 64
"""Streets render_pair draws its places from, per (seed, split): place i stands in street i % STREETS_PER_SPLIT at a
place-specific camera position (streets are cached, so a dataset pass builds each street once per process)."""
MIN_SIZE = 32
"""Image sides of render_pair / SyntheticStreets / write_dataset: multiples of MIN_SIZE pixels, at least MIN_SIZE."""

_ID = {name: index for index, name in enumerate(CITYSCAPES_CLASSES)}
ROAD, SIDEWALK, BUILDING, WALL, FENCE = (_ID[name] for name in ('road', 'sidewalk', 'building', 'wall', 'fence'))
POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN = _ID['pole'], _ID['traffic light'], _ID['traffic sign']
VEGETATION, TERRAIN, SKY, PERSON, RIDER = (_ID[name] for name in ('vegetation', 'terrain', 'sky', 'person', 'rider'))
CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE = (_ID[name] for name in ('car', 'truck', 'bus', 'motorcycle', 'bicycle'))

_STREET_START = -40.0
_STREET_END = STREET_LENGTH + VIEW_DISTANCE + 40.0
_SKYLINE_STEP = 0.5             # metres between samples of Scene.skyline
_NEAR = 0.3                     # metres: polygons are clipped to camera depth >= _NEAR
_LAMP_REACH = (-25.0, 110.0)    # street lamps lighting the scene: camera z + this range, metres
_BEAM_REACH = (-15.0, 70.0)     # vehicles whose head lights light the scene: camera z + this range, metres
_SPLIT_STREET_KEY = 1           # extra SeedSequence word: street seeds never equal place seeds
_TRAFFIC_AHEAD = 100.0          # metres ahead of a render_pair camera that traffic is sampled (farther is tiny)

# Primitive shapes, draw layers (drawn in this order; the last two far to near) and per-pixel surface kinds.
_BOX, _POLY, _BLOB = 0, 1, 2
_YARD, _BUILDINGS, _GROUND, _STANDING = 0, 1, 2, 3
_FLAT, _ASPHALT, _PAVING, _GRASS, _FACADE = 0, 1, 2, 3, 4

# Columns of Scene.facades: the street face of a building and its window grid (metres, fractions, flags).
(_F_X, _F_Z0, _F_Z1, _F_TOP, _F_BASE, _F_GROUND, _F_FLOOR, _F_SPACING, _F_WIN, _F_SILL, _F_WIN_H, _F_PHASE, _F_LIT,
 _F_SHOP, _F_SEED) = range(15)
_FACADE_COLUMNS = 15

# Box corners (bit 0: x, bit 1: y, bit 2: z high) and faces: corner indices in cyclic order, outward normal.
_CORNER_BITS = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], np.float32)
_FACE_CORNERS = np.array([[0, 2, 6, 4], [1, 3, 7, 5], [0, 1, 5, 4], [2, 3, 7, 6], [0, 1, 3, 2], [4, 5, 7, 6]])
_FACE_NORMALS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]], np.float32)
_ZERO3 = (0.0, 0.0, 0.0)


def _lin(rgb: Sequence[float]) -> np.ndarray:
    """sRGB 0..255 -> linear RGB float32 (3,) (gamma 2.2)."""
    return (np.asarray(rgb, np.float32) / 255.0) ** 2.2


# Day albedo palettes and colours, linear RGB from sRGB 0..255 (never the Cityscapes palette).
_FACADE_COLOURS = _lin(((196, 178, 150), (172, 98, 74), (150, 150, 146), (222, 214, 196), (214, 190, 140),
                        (120, 86, 70), (182, 172, 160), (200, 160, 118), (140, 150, 160), (230, 226, 214),
                        (160, 120, 96)))
_PAVING_COLOURS = _lin(((150, 146, 138), (160, 140, 126), (128, 128, 126), (170, 164, 150)))
_GRASS_COLOURS = _lin(((74, 104, 42), (92, 112, 46), (62, 92, 46), (110, 116, 62)))
_BARK_COLOURS = _lin(((70, 54, 38), (58, 50, 42), (84, 62, 44)))
_LEAF_COLOURS = _lin(((46, 82, 32), (62, 96, 36), (38, 68, 32), (78, 102, 42), (56, 76, 30)))
_POLE_COLOURS = _lin(((112, 114, 112), (52, 58, 52), (44, 44, 46), (92, 96, 104)))
_WALL_COLOURS = _lin(((160, 156, 146), (150, 92, 72), (128, 124, 118), (190, 180, 160)))
_FENCE_COLOURS = _lin(((60, 70, 60), (120, 92, 62), (140, 142, 144), (40, 40, 40)))
_CAR_COLOURS = _lin(((232, 232, 232), (172, 174, 178), (110, 112, 116), (26, 26, 30), (32, 46, 92), (150, 26, 26),
                     (44, 84, 150), (190, 176, 140), (34, 62, 42), (90, 60, 40)))
_BUS_COLOURS = _lin(((226, 190, 40), (230, 230, 226), (180, 40, 36), (40, 90, 160), (60, 140, 80)))
_CARGO_COLOURS = _lin(((230, 230, 226), (190, 192, 196), (70, 90, 130)))
_CLOTH_COLOURS = _lin(((30, 30, 34), (50, 52, 70), (120, 30, 30), (200, 200, 196), (60, 80, 110), (140, 110, 80),
                       (80, 90, 60), (170, 150, 120), (40, 40, 40), (190, 80, 40)))
_SKIN_COLOURS = _lin(((235, 200, 170), (200, 150, 110), (150, 100, 70), (100, 70, 50)))
_TYRE, _GLASS, _PAINT, _KERB = _lin((20, 20, 22)), _lin((22, 26, 32)), _lin((226, 226, 220)), _lin((172, 170, 162))
_LAMP_HEAD, _LIGHT_OFF, _SIGN_BACK = _lin((200, 200, 190)), _lin((60, 60, 56)), _lin((130, 132, 134))
_RED, _WHITE, _BLUE, _YELLOW = _lin((190, 30, 30)), _lin((235, 235, 230)), _lin((30, 70, 160)), _lin((240, 190, 30))
_HOUSINGS = _lin(((36, 38, 36), (190, 160, 40)))
_HEADLAMP, _TAIL_LAMP, _DISPLAY = _lin((205, 205, 200)), _lin((150, 24, 22)), _lin((40, 30, 20))
_CURTAIN = _lin((170, 160, 140))

# Night light colours (linear RGB, unit peak): street-lamp options with their probabilities, windows, head lights.
_LAMP_COLOURS = (((1.0, 0.52, 0.16), 0.45), ((0.74, 0.87, 1.0), 0.35), ((1.0, 0.80, 0.55), 0.20))
_WINDOW_WARM = np.array((1.0, 0.6, 0.25), np.float32)
_WINDOW_COLD = np.array((0.62, 0.75, 1.0), np.float32)
_HEADLIGHT = np.array((1.0, 0.96, 0.88), np.float32)
_TAIL_GLOW = (5.0, 0.22, 0.08)


def _read_only(array: np.ndarray) -> np.ndarray:
    """`array`, made read-only (cached tables are shared between images)."""
    array.setflags(write=False)
    return array


def _pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 0.1) -> np.ndarray:
    """A random row of a linear RGB palette float32 (K, 3), scaled by a random 1 +- jitter."""
    return palette[int(rng.random() * len(palette))] * np.float32(1 + jitter * (2 * rng.random() - 1))


# ----------------------------------------------------------------------------------------------------- primitives


@dataclass(frozen=True, eq=False)
class Primitives:
    """Convex drawing primitives in world coordinates (metres), one row each (read-only arrays).

    shape uint8 (N,): _BOX (points[0], points[1] = low and high corner), _POLY (points = 4 corners of a planar convex
    polygon; a triangle repeats a corner) or _BLOB (camera-facing ellipse: points[0] = centre, points[1, :2] =
    horizontal and vertical radius). normal float32 (N, 3): facing direction of a one-sided polygon or blob, zero =
    seen from both sides. albedo float32 (N, 3): linear RGB reflectance. glow float32 (N, 2, 3): linear RGB emitted
    radiance by day and by night. tint uint8 (N,): 1 = the night glow takes the image's street-lamp colour. layer,
    surface uint8 (N,): draw layer and per-pixel surface kind. facade int32 (N,): row of Scene.facades of a building
    box, else -1. anchor float32 (N, 3): the object's reference point; the parts of one object share it, are sorted by
    its distance and drawn in row order. center float32 (N, 3), radius float32 (N,): bounding spheres for culling.
    """

    shape: np.ndarray
    points: np.ndarray
    normal: np.ndarray
    label: np.ndarray
    albedo: np.ndarray
    glow: np.ndarray
    tint: np.ndarray
    layer: np.ndarray
    surface: np.ndarray
    facade: np.ndarray
    anchor: np.ndarray
    center: np.ndarray
    radius: np.ndarray

    def __len__(self) -> int:
        """Number of primitives."""
        return len(self.shape)

    def rows(self, index: np.ndarray | slice) -> Primitives:
        """The primitives selected by `index` (a slice gives views)."""
        return Primitives(*(getattr(self, name)[index] for name in _PRIMITIVE_FIELDS))

    def shifted(self, dx: float, dz: float) -> Primitives:
        """A copy moved by (dx, 0, dz) metres (a blob's radii stay)."""
        offset = np.array((dx, 0.0, dz), np.float32)
        points = self.points.copy()
        points[self.shape != _BLOB] += offset
        points[self.shape == _BLOB, 0] += offset
        values = {name: getattr(self, name) for name in _PRIMITIVE_FIELDS}
        values.update(points=points, anchor=self.anchor + offset, center=self.center + offset)
        return Primitives(**values)

    @staticmethod
    def concat(parts: Sequence[Primitives]) -> Primitives:
        """All rows of `parts`, in order."""
        return Primitives(*(np.concatenate([getattr(p, name) for p in parts]) for name in _PRIMITIVE_FIELDS))


_PRIMITIVE_FIELDS = tuple(f.name for f in fields(Primitives))


class _Builder:
    """Collects primitives row by row as flat lists of numbers; `build` packs them into a read-only `Primitives`."""

    def __init__(self) -> None:
        self._ints: list[tuple[int, int, int, int, int, int]] = []   # shape, label, tint, layer, surface, facade
        self._points: list[float] = []                                # 12 per row
        self._vectors: list[float] = []                               # normal, albedo, day glow, night glow, anchor
        self._anchor: list[float] = [0.0, 0.0, 0.0]

    def __len__(self) -> int:
        return len(self._ints)

    def anchor(self, point: Sequence[float]) -> None:
        """Start an object: the following primitives are sorted together by the distance of `point` (metres)."""
        self._anchor = [float(v) for v in point]

    def _add(self, ints: tuple, points: list[float], normal: Sequence[float], albedo: np.ndarray,
             glow_day: Sequence[float], glow_night: Sequence[float]) -> None:
        self._ints.append(ints)
        self._points += points
        self._vectors += [*normal, *albedo.tolist(), *glow_day, *glow_night, *self._anchor]

    def box(self, lo: Sequence[float], hi: Sequence[float], label: int, albedo: np.ndarray, *, layer: int = _STANDING,
            facade: int = -1) -> None:
        """An axis-aligned box between two opposite corners (any order), metres."""
        pairs = tuple(zip(lo, hi, strict=True))
        low, high = [float(min(pair)) for pair in pairs], [float(max(pair)) for pair in pairs]
        self._add((_BOX, label, 0, layer, _FLAT, facade), low + high + low + high, _ZERO3, albedo, _ZERO3, _ZERO3)

    def poly(self, corners: Sequence[Sequence[float]], label: int, albedo: np.ndarray, normal: Sequence[float], *,
             layer: int = _STANDING, surface: int = _FLAT, glow_day: Sequence[float] = _ZERO3,
             glow_night: Sequence[float] = _ZERO3, tint: int = 0) -> None:
        """A planar convex polygon of 3 or 4 corners (metres), one-sided unless `normal` is zero."""
        points = [float(v) for corner in corners for v in corner]
        self._add((_POLY, label, tint, layer, surface, -1), points + points[-3:] * (4 - len(corners)), normal,
                  albedo, glow_day, glow_night)

    def blob(self, center: Sequence[float], rx: float, ry: float, label: int, albedo: np.ndarray, *,
             normal: Sequence[float] = _ZERO3, glow_day: Sequence[float] = _ZERO3,
             glow_night: Sequence[float] = _ZERO3, layer: int = _STANDING) -> None:
        """A camera-facing ellipse with horizontal and vertical radii rx, ry (metres)."""
        c = [float(v) for v in center]
        self._add((_BLOB, label, 0, layer, _FLAT, -1), c + [float(rx), float(ry), 0.0] + c + c, normal, albedo,
                  glow_day, glow_night)

    def ground(self, x0: float, x1: float, z0: float, z1: float, y: float, label: int, albedo: np.ndarray,
               surface: int, layer: int = _GROUND) -> None:
        """A horizontal rectangle at height y between x0..x1 and z0..z1 (metres), facing up."""
        self.poly(((x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)), label, albedo, (0.0, 1.0, 0.0), layer=layer,
                  surface=surface)

    def build(self) -> Primitives:
        """The rows so far as a read-only table with bounding spheres."""
        ints = np.array(self._ints, np.int32).reshape(-1, 6)
        shape = ints[:, 0].astype(np.uint8)
        points = np.array(self._points, np.float32).reshape(-1, 4, 3)
        vectors = np.array(self._vectors, np.float32).reshape(-1, 5, 3)
        center = points.mean(axis=1)
        radius = np.linalg.norm(points - center[:, None], axis=2).max(axis=1)
        blob = shape == _BLOB
        center[blob] = points[blob, 0]
        radius[blob] = points[blob, 1, :2].max(axis=1)
        table = Primitives(
            shape=shape, points=points, normal=vectors[:, 0].copy(), label=ints[:, 1].astype(np.uint8),
            albedo=vectors[:, 1].copy(), glow=vectors[:, 2:4].copy(), tint=ints[:, 2].astype(np.uint8),
            layer=ints[:, 3].astype(np.uint8), surface=ints[:, 4].astype(np.uint8), facade=ints[:, 5].copy(),
            anchor=vectors[:, 4].copy(), center=center, radius=radius)
        for name in _PRIMITIVE_FIELDS:
            _read_only(getattr(table, name))
        return table


# ---------------------------------------------------------------------------------------------------------- scene


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: x (metres right of the street centre), height (metres above the road), z (metres along the
    street), yaw (radians, positive turns the view towards +x), hfov_deg (horizontal field of view, degrees).

    No roll or pitch; the principal point is the image centre horizontally and 45 % of the height from the top
    (the horizon), like a dash camera that sees more road than sky.
    """

    x: float
    height: float
    z: float
    yaw: float = 0.0
    hfov_deg: float = 70.0


@dataclass(frozen=True, eq=False)
class Scene:
    """The static layout of one straight street (make_scene): metres, read-only arrays.

    walkways float32 (2, 2): |x| from-to of the left and right sidewalk. building_line float32 (2,): signed x of the
    left and right front-row facades. crossings float32 (C,): z where each zebra crossing starts (it is
    crossing_length long, with traffic lights). facades float32 (F, 15): street face and window grid of every
    building (see the _F_* columns). lamps float32 (L, 3): light-source position of each street lamp. skyline float32
    (2, Z): front-row building height above the road per side every 0.5 m of z from z = -40 (0 in gaps).
    """

    seed: int
    lanes: int
    lane_width: float
    parking_width: float
    road_half_width: float
    kerb_height: float
    crossing_length: float
    walkways: np.ndarray
    building_line: np.ndarray
    crossings: np.ndarray
    primitives: Primitives
    facades: np.ndarray
    lamps: np.ndarray
    skyline: np.ndarray


@dataclass(frozen=True, eq=False)
class Thing:
    """One dynamic object: its primitives and head-light beams in world coordinates, and its velocity.

    label: the object's main class id (car, truck, bus, person, bicycle, motorcycle; a cyclist's rider parts are
    labelled rider). beams float32 (K, 7): per head-light beam position (3, metres), axis (3), power (K may be 0;
    only moving vehicles light the road at night). velocity: (vx, vz) metres per second.
    """

    label: int
    primitives: Primitives
    beams: np.ndarray
    velocity: tuple[float, float]


def _intervals_outside(starts: np.ndarray, length: float, margin: float) -> list[tuple[float, float]]:
    """The z intervals of the street (metres) outside [start - margin, start + length + margin] of each start."""
    intervals, z = [], _STREET_START
    for start in starts:
        intervals.append((z, start - margin))
        z = start + length + margin
    intervals.append((z, _STREET_END))
    return [(a, b) for a, b in intervals if b > a]


class _Occupancy:
    """z positions (metres) taken along one side of the street, to keep furniture apart."""

    def __init__(self, blocked: Sequence[tuple[float, float]]) -> None:
        self._spans = list(blocked)

    def take(self, z: float, radius: float) -> bool:
        """Claim [z - radius, z + radius] if it is free; whether it was."""
        if any(a < z + radius and z - radius < b for a, b in self._spans):
            return False
        self._spans.append((z - radius, z + radius))
        return True


def _road(b: _Builder, rng: np.random.Generator, half: float, lanes: int, lane: float, parking: float,
          crossings: np.ndarray, length: float) -> None:
    """Road surface (|x| < half), lane marks (centre line, lane lines between `lanes` lanes of width `lane` per
    direction, edge lines before the parking strips), zebra crossings `length` long at `crossings`, stop lines."""
    grey = rng.uniform(66, 100)
    asphalt = _lin((grey, grey, grey + rng.uniform(0, 6)))
    b.ground(-half, half, _STREET_START, _STREET_END, 0.0, ROAD, asphalt, _ASPHALT)
    paint = _PAINT * np.float32(rng.uniform(0.55, 0.95))
    zones = _intervals_outside(crossings, length, 2.5)

    def line(x: float, width: float, dash: float = 0.0, period: float = 0.0) -> None:
        for z0, z1 in zones:
            if not dash:
                b.ground(x - width / 2, x + width / 2, z0, z1, 0.0, ROAD, paint, _ASPHALT)
                continue
            z = z0 + rng.uniform(0, period - dash)
            while z + dash < z1:
                b.ground(x - width / 2, x + width / 2, z, z + dash, 0.0, ROAD, paint, _ASPHALT)
                z += period

    dash, period = rng.uniform(2.5, 4.0), rng.uniform(7.0, 12.0)
    if lanes == 1 and rng.random() < 0.8:
        line(0.0, 0.12, dash, period)
    elif lanes == 1:
        line(0.0, 0.12)
    else:
        line(-0.12, 0.12)
        line(0.12, 0.12)
        line(-lane, 0.12, dash, period)
        line(lane, 0.12, dash, period)
    edge = lanes * lane if parking else half - 0.3
    if rng.random() < 0.7:
        line(-edge, 0.14)
        line(edge, 0.14)
    for z in crossings:
        for x in np.arange(-half + 0.4, half - 0.6, 1.0):
            b.ground(x, x + 0.5, z, z + length, 0.0, ROAD, paint, _ASPHALT)
        b.ground(0.0, lanes * lane, z - 2.3, z - 1.9, 0.0, ROAD, paint, _ASPHALT)
        b.ground(-lanes * lane, 0.0, z + length + 1.9, z + length + 2.3, 0.0, ROAD, paint, _ASPHALT)


def _tree(b: _Builder, rng: np.random.Generator, x: float, z: float, base: float, layer: int = _STANDING) -> None:
    """A tree at (x, z) on ground at height `base`: trunk box and a crown of overlapping ellipses."""
    trunk_h, trunk_w = rng.uniform(1.8, 3.4), rng.uniform(0.22, 0.4)
    crown = rng.uniform(1.4, 2.8)
    centre_y = base + trunk_h + 0.75 * crown
    b.anchor((x, base + 1.0, z))
    b.box((x - trunk_w / 2, base, z - trunk_w / 2), (x + trunk_w / 2, centre_y, z + trunk_w / 2), VEGETATION,
          _pick(rng, _BARK_COLOURS, 0.15), layer=layer)
    leaf = _pick(rng, _LEAF_COLOURS, 0.15)
    b.blob((x, centre_y, z), crown, 0.9 * crown, VEGETATION, leaf * 0.8, layer=layer)
    for _ in range(3 + int(4 * rng.random())):
        dx, dy, dz = (rng.random(3) - 0.5) * (1.1 * crown)
        b.blob((x + dx, centre_y + 0.6 * dy, z + dz), crown * (0.45 + 0.25 * rng.random()),
               crown * (0.4 + 0.2 * rng.random()), VEGETATION, leaf * np.float32(0.7 + 0.55 * rng.random()),
               layer=layer)


def _lamp(b: _Builder, x_post: float, x_head: float, z: float, base: float, height: float,
          colour: np.ndarray, lamps: list) -> None:
    """A street lamp: post, arm and head (pole) with a glowing underside; its light source goes into `lamps`."""
    b.anchor((x_post, height / 2, z))
    b.box((x_post - 0.08, base, z - 0.08), (x_post + 0.08, height, z + 0.08), POLE, colour)
    b.box((x_head, height - 0.12, z - 0.05), (x_post, height, z + 0.05), POLE, colour)
    b.box((x_head - 0.35, height - 0.3, z - 0.16), (x_head + 0.35, height - 0.08, z + 0.16), POLE, colour)
    y = height - 0.31
    b.poly(((x_head - 0.3, y, z - 0.12), (x_head + 0.3, y, z - 0.12), (x_head + 0.3, y, z + 0.12),
            (x_head - 0.3, y, z + 0.12)), POLE, _LAMP_HEAD, (0.0, -1.0, 0.0), glow_night=(30.0,) * 3,
           tint=1)
    lamps.append((x_head, height - 0.45, z))


def _traffic_light(b: _Builder, rng: np.random.Generator, x: float, z: float, base: float, facing: float,
                   state: int, housing: np.ndarray, pole: np.ndarray, overhead_to: float | None) -> None:
    """A traffic-light pole at (x, z) whose signal faces `facing` (+-1 along z), optionally with a mast arm reaching
    over the road to x = overhead_to with a second signal head; state 0 red, 1 amber, 2 green."""
    height = rng.uniform(2.9, 3.4)
    b.anchor((x, 2.0, z))
    top = base + height + 1.0
    b.box((x - 0.07, base, z - 0.07), (x + 0.07, top if overhead_to is None else base + 5.8, z + 0.07), POLE, pole)
    heads = [(x, base + height + 0.5)]
    if overhead_to is not None:
        b.box((x, base + 5.6, z - 0.06), (overhead_to, base + 5.75, z + 0.06), POLE, pole)
        heads.append((overhead_to, base + 5.05))
    colours = ((1.0, 0.04, 0.02), (1.0, 0.45, 0.02), (0.1, 1.0, 0.55))
    for hx, hy in heads:
        b.box((hx - 0.16, hy - 0.48, z - 0.12), (hx + 0.16, hy + 0.48, z + 0.12), TRAFFIC_LIGHT, housing)
        for slot, colour in enumerate(colours):
            lit = slot == state
            centre = (hx, hy + 0.3 - 0.3 * slot, z + facing * 0.13)
            glow = np.array(colour, np.float32)
            b.blob(centre, 0.1, 0.1, TRAFFIC_LIGHT, _LIGHT_OFF if not lit else glow * 0.3,
                   normal=(0.0, 0.0, facing), glow_day=glow * 1.2 if lit else _ZERO3,
                   glow_night=glow * 12.0 if lit else _ZERO3)


def _sign(b: _Builder, rng: np.random.Generator, x: float, z: float, base: float, facing: float,
          pole: np.ndarray) -> None:
    """A traffic sign on its pole at (x, z): a plate (grey back) with a coloured face towards `facing` (+-1 in z)."""
    kind = int(rng.integers(5))
    top = base + rng.uniform(2.2, 2.8)
    size = rng.uniform(0.3, 0.38)
    cy = top + size
    b.anchor((x, 1.5, z))
    b.box((x - 0.04, base, z - 0.04), (x + 0.04, cy, z + 0.04), POLE, pole)
    back, red, white, blue, yellow = _SIGN_BACK, _RED, _WHITE, _BLUE, _YELLOW
    normal = (0.0, 0.0, facing)
    zf, zi = z + facing * 0.02, z + facing * 0.025
    if kind <= 1:  # round: prohibitory (red rim, white) or mandatory (blue)
        b.blob((x, cy, z), size, size, TRAFFIC_SIGN, back)
        b.blob((x, cy, zf), size, size, TRAFFIC_SIGN, red if kind == 0 else blue, normal=normal)
        if kind == 0:
            b.blob((x, cy, zi), 0.75 * size, 0.75 * size, TRAFFIC_SIGN, white, normal=normal)
        return
    if kind == 2:  # warning triangle
        def triangle(s: float, zz: float) -> list:
            return [(x - s * 1.15, cy - s * 0.8, zz), (x + s * 1.15, cy - s * 0.8, zz), (x, cy + s * 1.2, zz)]
        b.poly(triangle(size, z), TRAFFIC_SIGN, back, _ZERO3)
        b.poly(triangle(size, zf), TRAFFIC_SIGN, red, normal)
        b.poly(triangle(0.72 * size, zi), TRAFFIC_SIGN, white, normal)
        return
    if kind == 3:  # information rectangle
        def rect(w: float, h: float, zz: float) -> list:
            return [(x - w, cy - h, zz), (x + w, cy - h, zz), (x + w, cy + h, zz), (x - w, cy + h, zz)]
        b.poly(rect(size, 1.2 * size, z), TRAFFIC_SIGN, back, _ZERO3)
        b.poly(rect(size, 1.2 * size, zf), TRAFFIC_SIGN, blue, normal)
        b.poly(rect(0.5 * size, 0.5 * size, zi), TRAFFIC_SIGN, white, normal)
        return

    def diamond(s: float, zz: float) -> list:  # priority road
        return [(x, cy - s, zz), (x + s, cy, zz), (x, cy + s, zz), (x - s, cy, zz)]
    b.poly(diamond(1.2 * size, z), TRAFFIC_SIGN, back, _ZERO3)
    b.poly(diamond(1.2 * size, zf), TRAFFIC_SIGN, white, normal)
    b.poly(diamond(0.85 * size, zi), TRAFFIC_SIGN, yellow, normal)


def _barrier(b: _Builder, rng: np.random.Generator, x: float, z0: float, z1: float, base: float, kind: str) -> None:
    """A hedge, wall or fence along x from z0 to z1 (metres) on ground at height `base`."""
    if kind == 'hedge':
        colour = _pick(rng, _LEAF_COLOURS, 0.1) * 0.8
        height, z = rng.uniform(0.9, 1.6), z0
        while z < z1:
            step = min(rng.uniform(3.0, 5.0), z1 - z)
            b.anchor((x, 0.8, z + step / 2))
            b.box((x - 0.4, base, z), (x + 0.4, base + height + rng.uniform(-0.1, 0.1), z + step), VEGETATION,
                  colour * np.float32(rng.uniform(0.85, 1.15)))
            z += step
        return
    label = WALL if kind == 'wall' else FENCE
    colour = _pick(rng, _WALL_COLOURS if kind == 'wall' else _FENCE_COLOURS)
    height = rng.uniform(0.7, 2.2) if kind == 'wall' else rng.uniform(1.1, 1.8)
    thick = 0.12 if kind == 'wall' else 0.03
    z = z0
    while z < z1:
        step = min(5.0, z1 - z)
        b.anchor((x, 0.8, z + step / 2))
        b.box((x - thick, base, z), (x + thick, base + height, z + step), label, colour)
        if kind == 'fence':
            b.box((x - 0.05, base, z - 0.05), (x + 0.05, base + height + 0.08, z + 0.05), FENCE, colour * 0.7)
        z += step


def _buildings(b: _Builder, rng: np.random.Generator, s: float, line: float, base: float, facades: list,
               skyline: np.ndarray) -> None:
    """Front-row buildings (with gaps holding walls, fences and trees) and a taller back row along one side."""
    z = _STREET_START - rng.uniform(0, 10)
    palette_offset = int(rng.integers(len(_FACADE_COLOURS)))
    while z < _STREET_END:
        if rng.random() < 0.22:
            gap = rng.uniform(3.0, 9.0)
            filler = rng.random()
            if filler < 0.7:
                _barrier(b, rng, s * (line - 0.15), z, z + gap, base, 'wall' if filler < 0.35 else 'fence')
            if rng.random() < 0.6:
                _tree(b, rng, s * (line + rng.uniform(2.0, 4.0)), z + gap / 2, base, layer=_BUILDINGS)
            z += gap
            continue
        length = rng.uniform(8.0, 28.0)
        front = line + (0.0 if rng.random() < 0.7 else rng.uniform(0.3, 1.5))
        top = _building(b, rng, s, front, rng.uniform(10, 16), z, z + length, base, facades,
                        _FACADE_COLOURS[(palette_offset + int(rng.integers(4))) % len(_FACADE_COLOURS)], 2, 7)
        i0, i1 = (int((edge - _STREET_START) / _SKYLINE_STEP) for edge in (z, z + length))
        skyline[max(i0, 0):max(i1, 0)] = top - base
        z += length
    z = _STREET_START - rng.uniform(0, 10)
    back = line + rng.uniform(18.0, 24.0)
    while z < _STREET_END:
        length = rng.uniform(12.0, 40.0)
        _building(b, rng, s, back + rng.uniform(0, 3), 14.0, z, z + length, base, facades,
                  _FACADE_COLOURS[int(rng.integers(len(_FACADE_COLOURS)))], 3, 10)
        z += length


def _building(b: _Builder, rng: np.random.Generator, s: float, front: float, depth: float, z0: float, z1: float,
              base: float, facades: list, colour: np.ndarray, min_floors: int, max_floors: int) -> float:
    """One building box whose street face is at |x| = front on side s, with a window grid; returns its top y."""
    floors = int(rng.integers(min_floors, max_floors + 1))
    floor_h, ground_h = rng.uniform(2.9, 3.5), rng.uniform(3.4, 4.6)
    top = base + ground_h + floors * floor_h + rng.uniform(0.3, 1.2)
    spacing = rng.uniform(2.4, 3.8)
    window = 0.9 + (min(1.7, spacing - 0.7) - 0.9) * rng.random()
    facades.append((s * front, z0, z1, top, base, ground_h, floor_h, spacing, window, 0.22 + 0.12 * rng.random(),
                    0.4 + 0.15 * rng.random(), spacing * rng.random(), 0.12 + 0.38 * rng.random(),
                    float(rng.random() < 0.5), float(int(rng.random() * (1 << 20)))))
    b.anchor((s * (front + depth / 2), top / 2, (z0 + z1) / 2))
    b.box((s * front, base, z0), (s * (front + depth), top, z1), BUILDING,
          colour * np.float32(rng.uniform(0.85, 1.1)), layer=_BUILDINGS, facade=len(facades) - 1)
    return top


def make_scene(seed: int) -> Scene:
    """The static street of `seed` (deterministic): layout, furniture, buildings, street lamps, skyline."""
    rng = np.random.default_rng(seed)
    b = _Builder()
    lanes = int(rng.choice((1, 1, 2)))
    lane_width = float(rng.uniform(3.0, 3.6))
    parking = float(rng.uniform(2.0, 2.5)) if rng.random() < 0.6 else 0.0
    half = lanes * lane_width + parking
    kerb = float(rng.uniform(0.1, 0.16))
    crossing_length = float(rng.uniform(3.0, 4.0))
    crossings = [_STREET_START + rng.uniform(25, 60)]
    while crossings[-1] < _STREET_END - 90:
        crossings.append(crossings[-1] + rng.uniform(50, 90))
    crossings = np.array(crossings, np.float32)
    _road(b, rng, half, lanes, lane_width, parking, crossings, crossing_length)

    facades: list[tuple[float, ...]] = []  # Scene.facades rows, in _F_* column order
    lamps: list[tuple[float, float, float]] = []
    skyline = np.zeros((2, int((_STREET_END - _STREET_START) / _SKYLINE_STEP) + 1), np.float32)
    walkways = np.zeros((2, 2), np.float32)
    building_line = np.zeros(2, np.float32)
    pole_colour = _pick(rng, _POLE_COLOURS, 0.05)
    housing = _HOUSINGS[int(rng.random() < 0.3)]
    lamp_mode = rng.choice(['right', 'left', 'both', 'staggered'], p=[0.3, 0.1, 0.3, 0.3])
    lamp_spacing, lamp_height = rng.uniform(24, 36), rng.uniform(6.5, 9.0)
    lamp_arm = rng.uniform(1.0, 2.2)
    lamp_z = np.arange(_STREET_START + rng.uniform(0, lamp_spacing), _STREET_END, lamp_spacing)
    crossing_spans = [(z - 3.0, z + crossing_length + 3.0) for z in crossings]
    light_states = rng.choice(3, size=len(crossings), p=[0.5, 0.1, 0.4])
    kerb_colour = _KERB * np.float32(rng.uniform(0.85, 1.05))
    for side_index, s in enumerate((-1.0, 1.0)):
        strip = rng.uniform(1.2, 2.2) if rng.random() < 0.5 else 0.0
        walk = rng.uniform(2.0, 4.5)
        yard = rng.uniform(2.0, 4.5) if rng.random() < 0.35 else 0.0
        inner, outer = half + strip, half + strip + walk
        line = outer + yard
        walkways[side_index] = (inner, outer)
        building_line[side_index] = s * line
        paving, grass = _pick(rng, _PAVING_COLOURS), _pick(rng, _GRASS_COLOURS, 0.15)
        b.poly(((s * half, 0.0, _STREET_START), (s * half, kerb, _STREET_START), (s * half, kerb, _STREET_END),
                (s * half, 0.0, _STREET_END)), SIDEWALK, kerb_colour, (-s, 0.0, 0.0), layer=_GROUND)
        if strip:
            for z0, z1 in _intervals_outside(crossings, crossing_length, 1.0):
                b.ground(s * half, s * inner, z0, z1, kerb, TERRAIN, grass, _GRASS)
            for z in crossings:
                b.ground(s * half, s * inner, z - 1.0, z + crossing_length + 1.0, kerb, SIDEWALK, paving, _PAVING)
        b.ground(s * inner, s * outer, _STREET_START, _STREET_END, kerb, SIDEWALK, paving, _PAVING)
        b.ground(s * outer, s * (line + 45.0), _STREET_START, _STREET_END, kerb, TERRAIN,
                 _pick(rng, _GRASS_COLOURS, 0.15), _GRASS, layer=_YARD)
        occupancy = _Occupancy(crossing_spans)
        _buildings(b, rng, s, line, kerb, facades, skyline[side_index])
        if yard:
            kind = str(rng.choice(['hedge', 'wall', 'fence', 'none'], p=[0.45, 0.25, 0.2, 0.1]))
            if kind != 'none':
                for z0, z1 in _intervals_outside(crossings, crossing_length, 1.0):
                    _barrier(b, rng, s * (outer + 0.5), z0, z1, kerb, kind)
        post = half + 0.45
        for index, z in enumerate(lamp_z):
            on_side = (lamp_mode == 'both' or (lamp_mode == 'right' and s > 0) or (lamp_mode == 'left' and s < 0)
                       or (lamp_mode == 'staggered' and (index % 2 == 0) == (s > 0)))
            if on_side and occupancy.take(float(z), 1.0):
                _lamp(b, s * post, s * (post - lamp_arm), float(z), kerb, lamp_height, pole_colour, lamps)
        for index, z in enumerate(crossings):
            _traffic_light(b, rng, s * (half + 0.4), float(z - 1.2 if s > 0 else z + crossing_length + 1.2), kerb,
                           -s, int(light_states[index]), housing, pole_colour,
                           lanes * lane_width * 0.5 if s > 0 and rng.random() < 0.6 else None)
        z = _STREET_START + rng.uniform(5, 40)
        while z < _STREET_END:
            if occupancy.take(z, 1.0):
                _sign(b, rng, s * (half + 0.35), z, kerb, 1.0 if s < 0 and rng.random() < 0.6 else -1.0,
                      pole_colour)
            z += rng.uniform(25, 60)
        if strip or rng.random() < 0.45:
            x, spacing = (s * (half + strip / 2), rng.uniform(7, 12)) if strip else (s * (half + 0.9),
                                                                                   rng.uniform(9, 16))
            for z in np.arange(_STREET_START + rng.uniform(0, spacing), _STREET_END, spacing):
                z = float(z + rng.uniform(-1.0, 1.0))
                if occupancy.take(z, 1.6) and rng.random() < 0.9:
                    _tree(b, rng, x, z, kerb)
        if yard > 2.0 and rng.random() < 0.6:
            for z in np.arange(_STREET_START + rng.uniform(0, 10), _STREET_END, rng.uniform(8, 16)):
                if rng.random() < 0.6:
                    _tree(b, rng, s * (outer + yard * 0.6), float(z), kerb)
    for array in (crossings, walkways, building_line, skyline):
        _read_only(array)
    return Scene(seed=seed, lanes=lanes, lane_width=lane_width, parking_width=parking, road_half_width=half,
                 kerb_height=kerb, crossing_length=crossing_length, walkways=walkways, building_line=building_line,
                 crossings=crossings, primitives=b.build(),
                 facades=_read_only(np.array(facades, np.float32).reshape(-1, _FACADE_COLUMNS)),
                 lamps=_read_only(np.array(lamps, np.float32).reshape(-1, 3)), skyline=skyline)


_street = functools.lru_cache(maxsize=STREETS_PER_SPLIT)(make_scene)


# ------------------------------------------------------------------------------------------------ dynamic objects


def _vehicle(b: _Builder, rng: np.random.Generator, kind: int, x: float, z: float, heading: float,
             lights_on: bool) -> tuple[float, list]:
    """A car, truck or bus centred at (x, z) facing `heading` (+-1 along z); returns its length and beams."""
    if kind == CAR:
        length, width = 3.9 + rng.random(), 1.7 + 0.2 * rng.random()
    else:
        length, width = (6.5 + 2.5 * rng.random(), 2.45) if kind == TRUCK else (11.0 + 1.5 * rng.random(), 2.55)
    paint = _pick(rng, _BUS_COLOURS if kind == BUS else _CAR_COLOURS)
    tyre, glass = _TYRE, _GLASS * np.float32(rng.uniform(0.8, 1.3))
    front, rear = z + heading * length / 2, z - heading * length / 2
    hw = width / 2
    b.anchor((x, 0.8, z))
    b.box((x - hw + 0.12, 0.0, z - length / 2 + 0.4), (x + hw - 0.12, 0.32, z + length / 2 - 0.4), kind, tyre)
    wheel_r = 0.31 if kind == CAR else 0.5
    if kind == CAR:
        body_top = 0.28 + rng.uniform(0.6, 0.8)
        b.box((x - hw, 0.28, rear), (x + hw, body_top, front), kind, paint)
        cabin_top = body_top + rng.uniform(0.45, 0.6)
        c_rear, c_front = rear + heading * rng.uniform(0.6, 1.0), front - heading * rng.uniform(1.2, 1.6)
        b.box((x - hw + 0.1, body_top, c_rear), (x + hw - 0.1, cabin_top, c_front), kind, glass)
        b.box((x - hw + 0.14, cabin_top, c_rear - heading * 0.1), (x + hw - 0.14, cabin_top + 0.05,
                                                                   c_front + heading * 0.1), kind, paint)
        light_y = body_top - 0.18
    elif kind == TRUCK:
        cab_back = front - heading * 2.3
        b.box((x - hw, 0.4, cab_back), (x + hw, 2.9, front), kind, paint)
        b.box((x - hw, 0.5, rear), (x + hw, 3.7, cab_back - heading * 0.2), kind,
              _pick(rng, _CARGO_COLOURS))
        b.poly(((x - hw + 0.1, 1.7, front + heading * 0.01), (x + hw - 0.1, 1.7, front + heading * 0.01),
                (x + hw - 0.1, 2.6, front + heading * 0.01), (x - hw + 0.1, 2.6, front + heading * 0.01)), kind,
               glass, (0.0, 0.0, heading))
        light_y = 0.75
    else:
        b.box((x - hw, 0.35, rear), (x + hw, 3.1, front), kind, paint)
        for sx in (-1.0, 1.0):
            b.poly(((x + sx * (hw + 0.01), 1.25, rear + heading * 0.8), (x + sx * (hw + 0.01), 1.25,
                                                                          front - heading * 1.2),
                    (x + sx * (hw + 0.01), 2.6, front - heading * 1.2), (x + sx * (hw + 0.01), 2.6,
                                                                        rear + heading * 0.8)),
                   kind, glass, (sx, 0.0, 0.0))
        fz = front + heading * 0.01
        b.poly(((x - hw + 0.1, 1.0, fz), (x + hw - 0.1, 1.0, fz), (x + hw - 0.1, 2.55, fz), (x - hw + 0.1, 2.55, fz)),
               kind, glass, (0.0, 0.0, heading))
        b.poly(((x - 0.8, 2.62, fz), (x + 0.8, 2.62, fz), (x + 0.8, 2.9, fz), (x - 0.8, 2.9, fz)), kind,
               _DISPLAY, (0.0, 0.0, heading), glow_night=(2.0, 0.9, 0.1) if lights_on else _ZERO3)
        light_y = 0.7
    for sx in (-1.0, 1.0):
        wx = x + sx * (hw + 0.01)
        axles = (rear + heading * 0.8, front - heading * 0.8) if kind == CAR else (
            rear + heading * 1.6, front - heading * 1.3)
        for wz in axles:
            b.poly(((wx, 0.0, wz - wheel_r), (wx, 0.0, wz + wheel_r), (wx, 2 * wheel_r, wz + wheel_r),
                    (wx, 2 * wheel_r, wz - wheel_r)), kind, tyre, (sx, 0.0, 0.0))
    head = (_HEADLIGHT * (30 + 20 * rng.random())).tolist() if lights_on else _ZERO3
    tail = (np.array(_TAIL_GLOW, np.float32) * (0.7 + 0.6 * rng.random())).tolist() if lights_on else _ZERO3
    for lx in (x - hw + 0.28, x + hw - 0.28):
        zf, zr = front + heading * 0.02, rear - heading * 0.02
        b.poly(((lx - 0.16, light_y - 0.07, zf), (lx + 0.16, light_y - 0.07, zf), (lx + 0.16, light_y + 0.07, zf),
                (lx - 0.16, light_y + 0.07, zf)), kind, _HEADLAMP, (0.0, 0.0, heading),
               glow_night=head)
        b.poly(((lx - 0.14, light_y - 0.06, zr), (lx + 0.14, light_y - 0.06, zr), (lx + 0.14, light_y + 0.08, zr),
                (lx - 0.14, light_y + 0.08, zr)), kind, _TAIL_LAMP, (0.0, 0.0, -heading),
               glow_night=tail)
    beams = [(x, 0.65, front, 0.0, 0.0, heading, rng.uniform(25, 45))] if lights_on else []
    return length, beams


def _person(b: _Builder, rng: np.random.Generator, x: float, z: float, base: float, along_z: bool,
            label: int = PERSON, seat: float | None = None) -> None:
    """A person standing (or, with `seat` = hip height, riding) at (x, z), facing along z or along x."""
    height = rng.normal(1.72, 0.08) if label == PERSON else rng.normal(1.75, 0.05)
    skin, top, legs = _pick(rng, _SKIN_COLOURS), _pick(rng, _CLOTH_COLOURS), _pick(rng, _CLOTH_COLOURS[:6])

    def part(lateral: float, forward: float, half_lat: float, half_fwd: float, y0: float, y1: float,
             colour: np.ndarray) -> None:
        cx, cz = (x + lateral, z + forward) if along_z else (x + forward, z + lateral)
        hx, hz = (half_lat, half_fwd) if along_z else (half_fwd, half_lat)
        b.box((cx - hx, base + y0, cz - hz), (cx + hx, base + y1, cz + hz), label, colour)

    b.anchor((x, base + 0.9, z))
    hip = 0.47 * height if seat is None else seat
    stride = rng.uniform(-0.15, 0.15) if seat is None else 0.25
    for side in (-1.0, 1.0):
        part(side * 0.1, side * stride, 0.07, 0.08, max(0.0, hip - 0.47 * height) if seat is None else seat - 0.55,
             hip + 0.02, legs)
    shoulder = hip + 0.35 * height
    part(0.0, 0.0, 0.2, 0.12, hip, shoulder, top)
    for side in (-1.0, 1.0):
        part(side * 0.25, -side * stride * 0.7, 0.05, 0.06, hip + 0.04, shoulder - 0.02, top * 0.9)
    b.blob((x, shoulder + 0.12 * height * 0.85, z), 0.1, 0.125, label,
           skin if label == PERSON else _pick(rng, _CLOTH_COLOURS))


def _two_wheeler(b: _Builder, rng: np.random.Generator, kind: int, x: float, z: float, heading: float,
                 lights_on: bool) -> None:
    """A bicycle or motorcycle at (x, z) heading +-1 along z, with its rider."""
    tyre = _TYRE
    frame = _pick(rng, _CAR_COLOURS)
    half = 0.85 if kind == BICYCLE else 1.05
    b.anchor((x, 0.6, z))
    wheel = 0.34 if kind == BICYCLE else 0.32
    for wz in (z - half * 0.62, z + half * 0.62):
        b.box((x - 0.03, 0.0, wz - wheel), (x + 0.03, 2 * wheel, wz + wheel), kind, tyre)
    if kind == BICYCLE:
        b.box((x - 0.025, 0.45, z - 0.45), (x + 0.025, 0.85, z + 0.45), kind, frame)
        b.box((x - 0.28, 0.98, z + heading * 0.5 - 0.02), (x + 0.28, 1.02, z + heading * 0.5 + 0.02), kind, tyre)
    else:
        b.box((x - 0.2, 0.35, z - 0.75), (x + 0.2, 0.95, z + 0.75), kind, frame)
        b.box((x - 0.4, 1.0, z + heading * 0.6 - 0.03), (x + 0.4, 1.05, z + heading * 0.6 + 0.03), kind, tyre)
    rz = z - heading * half
    b.poly(((x - 0.05, 0.75, rz), (x + 0.05, 0.75, rz), (x + 0.05, 0.85, rz), (x - 0.05, 0.85, rz)), kind,
           _TAIL_LAMP, (0.0, 0.0, -heading), glow_night=(3.0, 0.12, 0.05) if lights_on else _ZERO3)
    _person(b, rng, x, z - heading * 0.1, 0.0, True, RIDER, seat=0.95 if kind == BICYCLE else 0.9)


_NO_BEAMS = _read_only(np.zeros((0, 7), np.float32))


def sample_dynamic(scene: Scene, rng: np.random.Generator, z_range: tuple[float, float], *,
                   keep_clear: Camera | None = None, clear_ahead: float = 10.0) -> list[Thing]:
    """Traffic and pedestrians along z_range = (z_min, z_max) metres of `scene`, drawn from `rng`.

    Moving cars, trucks and buses in both directions (head and tail lights on), parked cars along the kerbs (lights
    off), pedestrians on the sidewalks and on zebra crossings, cyclists and motorcyclists. `keep_clear`: no object is
    placed where it would hit that camera's vehicle: a box 2.4 m wide from 6 m behind to `clear_ahead` metres ahead
    of it (for a drive: the distance driven plus a margin, so the ego lane stays free along the way).
    """
    z_min, z_max = z_range
    b = _Builder()
    things: list[tuple[int, int, int, list, tuple[float, float]]] = []

    def clear(x: float, z: float, half_width: float, half_length: float) -> bool:
        if keep_clear is None:
            return True
        return (abs(x - keep_clear.x) > half_width + 1.2 or z + half_length < keep_clear.z - 6.0
                or z - half_length > keep_clear.z + clear_ahead)

    def add(label: int, start: int, beams: list, velocity: tuple[float, float]) -> None:
        things.append((label, start, len(b), beams, velocity))

    lane = scene.lane_width
    for heading in (1.0, -1.0):
        for k in range(scene.lanes):
            x = heading * (k + 0.5) * lane
            z = z_min + rng.uniform(0, 25)
            while z < z_max:
                draw = rng.random()
                kind = CAR if draw < 0.84 else TRUCK if draw < 0.92 else BUS
                start = len(b)
                x_here = x + rng.uniform(-0.3, 0.3)
                if clear(x_here, z, 1.3, 6.5):
                    length, beams = _vehicle(b, rng, kind, x_here, z, heading, True)
                    add(kind, start, beams, (0.0, heading * rng.uniform(6, 14)))
                else:
                    length = 5.0
                z += length + 6.0 + rng.exponential(28.0)
            if k == scene.lanes - 1 and heading > 0 and rng.random() < 0.5:
                kind = BICYCLE if rng.random() < 0.65 else MOTORCYCLE
                z = rng.uniform(z_min, min(z_max, z_min + 80))
                x_bike = (scene.lanes * lane - 0.7) if kind == BICYCLE else x
                if clear(x_bike, z, 0.4, 1.0):
                    start = len(b)
                    _two_wheeler(b, rng, kind, x_bike, z, heading, True)
                    add(kind, start, [], (0.0, 5.0 if kind == BICYCLE else 11.0))
    if scene.parking_width:
        crossings = scene.crossings.tolist()
        for s in (-1.0, 1.0):
            x = s * (scene.road_half_width - scene.parking_width / 2)
            z = z_min + rng.uniform(0, 8)
            while z < z_max:
                near_crossing = any(c - 9.0 < z < c + 12.0 for c in crossings)
                if not near_crossing and rng.random() < 0.5 and clear(x, z, 1.0, 2.5):
                    start = len(b)
                    length, _ = _vehicle(b, rng, CAR, x + s * rng.uniform(-0.15, 0.15), z, s, False)
                    add(CAR, start, [], (0.0, 0.0))
                    z += length + rng.uniform(0.8, 3.0)
                else:
                    z += rng.uniform(3.0, 8.0)
    for side, s in enumerate((-1.0, 1.0)):
        inner, outer = (float(v) for v in scene.walkways[side])
        for _ in range(int(rng.poisson(5.0 * (z_max - z_min) / 100.0))):
            x, z = s * rng.uniform(inner + 0.4, outer - 0.4), rng.uniform(z_min, z_max)
            if clear(x, z, 0.4, 0.4):
                start = len(b)
                walking = rng.random() < 0.8
                _person(b, rng, x, z, scene.kerb_height, walking or rng.random() < 0.5)
                speed = rng.uniform(1.0, 1.6) * (1.0 if rng.random() < 0.5 else -1.0) if walking else 0.0
                add(PERSON, start, [], (0.0, speed))
    for z0 in scene.crossings[(scene.crossings > z_min) & (scene.crossings < z_max)]:
        for _ in range(int(rng.integers(0, 4))):
            x = rng.uniform(-scene.road_half_width, scene.road_half_width)
            z = float(z0) + rng.uniform(0.5, scene.crossing_length - 0.5)
            if clear(x, z, 0.4, 0.4):
                start = len(b)
                _person(b, rng, x, z, 0.0, False)
                add(PERSON, start, [], (rng.uniform(1.0, 1.5) * (1.0 if rng.random() < 0.5 else -1.0), 0.0))
    if not things:
        return []
    table = b.build()
    return [Thing(label, table.rows(slice(start, stop)), np.array(beams, np.float32) if beams else _NO_BEAMS, velocity)
            for label, start, stop, beams, velocity in things]


def advance(things: Sequence[Thing], seconds: float) -> list[Thing]:
    """The objects moved along their velocities for `seconds` (traffic in a drive between frames)."""
    moved = []
    for thing in things:
        dx, dz = thing.velocity[0] * seconds, thing.velocity[1] * seconds
        beams = thing.beams.copy()
        beams[:, 0] += dx
        beams[:, 2] += dz
        moved.append(Thing(thing.label, thing.primitives.shifted(dx, dz), beams, thing.velocity))
    return moved


# ------------------------------------------------------------------------------------------------------ rendering


@dataclass(frozen=True, eq=False)
class _View:
    """A camera at one image size: focal length and principal point (pixels), yaw, per-column / per-row rays.

    rx, rz float32 (W,): world x and z of the ray through each column per metre of camera depth; ry float32 (H,):
    world y per metre of depth (up > 0) through each row.
    """

    camera: Camera
    height: int
    width: int
    focal: float
    u0: float
    v0: float
    cos: float
    sin: float
    rx: np.ndarray
    rz: np.ndarray
    ry: np.ndarray

    @staticmethod
    def of(camera: Camera, height: int, width: int) -> _View:
        focal = (width / 2) / math.tan(math.radians(camera.hfov_deg) / 2)
        u0, v0 = (width - 1) / 2, 0.45 * height
        cos, sin = math.cos(camera.yaw), math.sin(camera.yaw)
        a = (np.arange(width, dtype=np.float32) - u0) / focal
        return _View(camera, height, width, focal, u0, v0, cos, sin, (cos * a + sin).astype(np.float32),
                     (cos - sin * a).astype(np.float32), ((v0 - np.arange(height, dtype=np.float32)) / focal))

    @property
    def position(self) -> np.ndarray:
        """World position of the camera, float32 (3,) metres."""
        return np.array((self.camera.x, self.camera.height, self.camera.z), np.float32)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points float (..., 3) -> camera coordinates (X right, Y up, Z depth), metres."""
        dx, dz = points[..., 0] - self.camera.x, points[..., 2] - self.camera.z
        return np.stack((self.cos * dx - self.sin * dz, points[..., 1] - self.camera.height,
                         self.sin * dx + self.cos * dz), axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera points float (..., 3) with depth >= _NEAR -> pixel coordinates float (..., 2)."""
        depth = points[..., 2]
        return np.stack((self.u0 + self.focal * points[..., 0] / depth,
                         self.v0 - self.focal * points[..., 1] / depth), axis=-1)


@dataclass(frozen=True, eq=False)
class _Light:
    """Lighting of one image, linear RGB: sky, ambient, sun (day) or light sources (night), camera response.

    beams: (pos (L, 3), axis (L, 3) zero for street lamps, power (L, 3), is_spot (L,)). sun: unit vector towards the
    sun (day). haze: metres of visibility (day, 0 = none). noise: (shot, read) variance coefficients.
    """

    night: bool
    scene: Scene
    sky_horizon: np.ndarray
    sky_zenith: np.ndarray
    glow: np.ndarray
    ambient: np.ndarray
    sun: np.ndarray
    sun_rgb: np.ndarray
    lamp_rgb: np.ndarray
    beams: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    haze: float
    exposure: np.ndarray
    vignette: float
    blur: float
    noise: tuple[float, float]
    bloom: float
    wet: float
    windows: float


def _day_light(scene: Scene, rng: np.random.Generator) -> _Light:
    """Sun and sky of one day image: elevation, side, strength (overcast sometimes), haze, exposure."""
    elevation = math.radians(rng.uniform(18, 60))
    azimuth = math.radians(rng.uniform(25, 155)) * rng.choice([-1.0, 1.0])
    sun = np.array((math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                    math.cos(elevation) * math.cos(azimuth)), np.float32)
    overcast = rng.random() < 0.25
    strength = rng.uniform(0.12, 0.3) if overcast else rng.uniform(0.75, 1.05)
    ambient = rng.uniform(0.5, 0.65) if overcast else rng.uniform(0.26, 0.4)
    horizon = _lin((rng.uniform(180, 215), rng.uniform(195, 222), rng.uniform(215, 235)))
    zenith = _lin((196, 198, 204)) if overcast else _lin((rng.uniform(60, 110), rng.uniform(120, 160),
                                                          rng.uniform(200, 240)))
    return _Light(
        night=False, scene=scene, sky_horizon=horizon, sky_zenith=zenith, glow=np.zeros(3, np.float32),
        ambient=ambient * np.array((0.86, 0.93, 1.08), np.float32), sun=sun,
        sun_rgb=strength * np.array((1.0, 0.96, 0.88), np.float32), lamp_rgb=np.zeros(3, np.float32),
        beams=(np.zeros((0, 3), np.float32),) * 3 + (np.zeros(0, bool),), haze=rng.uniform(300, 900),
        exposure=np.full(3, rng.uniform(0.9, 1.15), np.float32) * rng.uniform(0.96, 1.04, 3).astype(np.float32),
        vignette=rng.uniform(0.05, 0.2), blur=rng.uniform(0.3, 0.5), noise=(2e-4, 4e-7), bloom=0.0, wet=0.0,
        windows=0.0)


@functools.lru_cache(maxsize=4)
def _lamp_gains(scene: Scene) -> np.ndarray:
    """float32 (L, 1) brightness factor 0.8..1.2 of each street lamp of `scene`, fixed per lamp (read-only)."""
    rng = np.random.default_rng([scene.seed, len(scene.lamps)])
    return _read_only(rng.uniform(0.8, 1.2, (len(scene.lamps), 1)).astype(np.float32))


def _night_light(scene: Scene, dynamic: Sequence[Thing], camera: Camera, rng: np.random.Generator,
                 steady: bool = False) -> _Light:
    """Night lighting of one image: lamp colour cast, lamp beams near the camera, head lights, camera response.

    steady: each lamp keeps its own brightness (`_lamp_gains`) instead of one drawn per image, so the same `rng`
    state gives the same lighting wherever the camera stands (a drive).
    """
    options = [np.array(colour, np.float32) for colour, _ in _LAMP_COLOURS]
    lamp_rgb = options[int(rng.choice(len(options), p=[p for _, p in _LAMP_COLOURS]))]
    near = (scene.lamps[:, 2] > camera.z + _LAMP_REACH[0]) & (scene.lamps[:, 2] < camera.z + _LAMP_REACH[1])
    lamps = scene.lamps[near]
    power = rng.uniform(16, 32)
    gains = _lamp_gains(scene)[near] if steady else rng.uniform(0.8, 1.2, (len(lamps), 1))
    beams = [np.concatenate([lamps, np.zeros_like(lamps), power * gains * lamp_rgb], axis=1)]
    heads = [thing.beams for thing in dynamic if len(thing.beams)]
    if heads:
        head = np.concatenate(heads)
        ahead = (head[:, 2] > camera.z + _BEAM_REACH[0]) & (head[:, 2] < camera.z + _BEAM_REACH[1])
        beams.append(np.concatenate([head[ahead, :6], head[ahead, 6:7] * _HEADLIGHT], axis=1))
    forward = (math.sin(camera.yaw), 0.0, math.cos(camera.yaw))
    ego = (camera.x + 1.6 * forward[0], 0.65, camera.z + 1.6 * forward[2])
    beams.append(np.array([[*ego, *forward, *(rng.uniform(12, 25) * _HEADLIGHT)]], np.float32))
    table = np.concatenate(beams).astype(np.float32)
    spot = np.any(table[:, 3:6] != 0, axis=1)
    glow_strength = rng.uniform(0.02, 0.06)
    lamp_share = rng.uniform(0.3, 0.8)
    wb = lamp_rgb ** -rng.uniform(0.0, 0.3)
    return _Light(
        night=True, scene=scene, sky_horizon=np.array((0.0009, 0.0012, 0.0018), np.float32),
        sky_zenith=np.array((0.0006, 0.0009, 0.0022), np.float32),
        glow=glow_strength * (lamp_share * lamp_rgb + (1 - lamp_share) * np.array((0.5, 0.55, 0.7), np.float32)),
        ambient=rng.uniform(0.002, 0.007) * np.array((0.55, 0.7, 1.0), np.float32), sun=np.zeros(3, np.float32),
        sun_rgb=np.zeros(3, np.float32), lamp_rgb=lamp_rgb,
        beams=tuple(np.ascontiguousarray(table[:, k:k + 3]) for k in (0, 3, 6)) + (spot,), haze=0.0,
        exposure=(rng.uniform(0.8, 1.35) * wb / wb.mean()).astype(np.float32), vignette=rng.uniform(0.25, 0.5),
        blur=rng.uniform(0.5, 0.9), noise=(rng.uniform(1.5e-3, 3.5e-3), rng.uniform(1.5e-3, 3e-3) ** 2),
        bloom=rng.uniform(0.7, 1.3), wet=rng.uniform(0.3, 0.9) if rng.random() < 0.45 else 0.0,
        windows=rng.uniform(0.6, 1.4))


def _building_shadow(light: _Light, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Whether world points (metres, float arrays of one shape) lie in the shadow of the front-row buildings on the
    sun's side of the street (their skyline, seen along the sun direction)."""
    sun = light.sun
    side = 1 if sun[0] > 0 else 0
    wall = light.scene.building_line[side]
    t = (wall - x) / (sun[0] if abs(sun[0]) > 1e-3 else 1e-3)
    height = y + t * sun[1]
    index = ((z + t * sun[2] - _STREET_START) / _SKYLINE_STEP).astype(np.int32)
    skyline = light.scene.skyline[side]
    return (t > 0) & (height < skyline[np.clip(index, 0, len(skyline) - 1)] + light.scene.kerb_height)


def _irradiance(light: _Light, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Linear RGB irradiance float32 (N, 3) at world points (N, 3) with unit normals (N, 3) (zero = any direction).

    Day: sky light plus sun (with building shadows). Night: ambient plus every beam: street lamps shine downward
    (cut-off luminaires), head lights are low-beam spots (sharp upper cut-off), both falling off with distance^2.
    """
    omni = ~np.any(normals != 0, axis=1)
    up = np.where(omni, 0.5, normals[:, 1])
    if not light.night:
        cos_sun = np.where(omni, 0.55, np.maximum(normals @ light.sun, 0.0))
        lit = ~_building_shadow(light, points[:, 0], points[:, 1], points[:, 2])
        return (light.ambient * (0.8 + 0.2 * up)[:, None] + (cos_sun * lit)[:, None] * light.sun_rgb).astype(
            np.float32)
    total = light.ambient * (0.85 + 0.15 * up)[:, None]
    pos, axis, power, spot = light.beams
    if not len(pos):
        return total.astype(np.float32)
    dx, dy, dz = (pos[None, :, k] - points[:, k, None] for k in range(3))   # (N, L) point -> light
    dist2 = dx * dx + dy * dy + dz * dz + 0.3
    inv = 1.0 / np.sqrt(dist2)
    dx, dy, dz = dx * inv, dy * inv, dz * inv
    cos_n = normals[:, 0, None] * dx + normals[:, 1, None] * dy + normals[:, 2, None] * dz
    cos_n = np.where(omni[:, None], np.float32(0.6), np.maximum(cos_n, 0.0))
    down = np.maximum(dy, 0.0)
    along = -(axis[None, :, 0] * dx + axis[None, :, 2] * dz)
    lateral = axis[None, :, 2] * dx - axis[None, :, 0] * dz
    safe = 1.0 / np.maximum(along, 0.05)
    cone = (along > 0.05) * np.exp(-(lateral * safe * 2.2) ** 2) * np.clip((0.02 + dy * safe) * 25.0, 0.0, 1.0)
    pattern = np.where(spot[None], cone, down * (0.9 * np.sqrt(down) + 0.1))
    return (total + (cos_n * pattern * inv * inv) @ power).astype(np.float32)


def _visible(prims: Primitives, view: _View, night: bool) -> np.ndarray:
    """Indices of primitives whose bounding sphere meets the view frustum (depth < VIEW_DISTANCE) and spans at least
    a pixel (0.15 pixel for what glows at night)."""
    c = view.to_camera(prims.center)
    r = prims.radius
    half_tan = (view.width / 2) / view.focal
    smallest = np.where(prims.glow[:, 1 if night else 0].max(axis=1) > 0, 0.15, 1.0)
    return np.flatnonzero((c[:, 2] + r > _NEAR) & (c[:, 2] - r < VIEW_DISTANCE)
                          & (np.abs(c[:, 0]) - r < (np.maximum(c[:, 2], 0) + r) * half_tan * 1.05 + 1.0)
                          & (r * view.focal > smallest * np.maximum(c[:, 2], _NEAR)))


def _clip_near(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sutherland-Hodgman clip of convex quads, camera coordinates float (K, 4, 3), to depth >= _NEAR.

    Returns candidate vertices float (K, 8, 3) (each corner followed by its edge's crossing of the near plane) and
    which of them belong to the clipped polygon, bool (K, 8), in order.
    """
    nxt = np.roll(points, -1, axis=1)
    inside, nxt_inside = points[..., 2] >= _NEAR, nxt[..., 2] >= _NEAR
    step = nxt[..., 2] - points[..., 2]
    t = (_NEAR - points[..., 2]) / np.where(step != 0, step, 1.0)
    crossing = points + t[..., None] * (nxt - points)
    candidates = np.stack((points, crossing), axis=2).reshape(-1, 8, 3)
    return candidates, np.stack((inside, inside != nxt_inside), axis=2).reshape(-1, 8)


@dataclass(frozen=True, eq=False)
class _Drawing:
    """The painter's pass of one image: ids int32 (H, W), the drawable filled last at each pixel (0 = sky), and per
    drawable (row 0 = sky) colour float32 (D + 1, 3) linear RGB (shaded for flat surfaces, albedo for per-pixel
    ones), label uint8 (D + 1,) and surface kind uint16 (D + 1,) (_FACADE + i: the building front facade_rows[i]);
    emitters: world position float32 (E, 3) and radiance float32 (E, 3) of what glows brightly at night."""

    ids: np.ndarray
    colour: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    facade_rows: np.ndarray
    emitters: tuple[np.ndarray, np.ndarray]


def _draw(prims: Primitives, view: _View, light: _Light) -> _Drawing:
    """Painter's algorithm: fill every visible box face, polygon and ellipse of `prims` into one id buffer in layer
    order, far to near within the sorted layers, so the last drawable at a pixel is the one seen there; colour,
    label and surface kind come from per-drawable tables, so image and labels agree exactly."""
    camera = view.position
    dist = np.linalg.norm(prims.anchor - camera, axis=1)
    sorted_layer = (prims.layer == _BUILDINGS) | (prims.layer == _STANDING)
    order = np.lexsort((np.arange(len(prims)), np.where(sorted_layer, -dist, 0.0), prims.layer))
    rank = np.empty(len(prims), np.int64)
    rank[order] = np.arange(len(prims))

    # Visible box faces: the camera is outside the face's slab on the normal's side.
    boxes = np.flatnonzero(prims.shape == _BOX)
    lo, hi = prims.points[boxes, 0], prims.points[boxes, 1]
    facing = np.stack((camera[0] < lo[:, 0], camera[0] > hi[:, 0], camera[1] < lo[:, 1], camera[1] > hi[:, 1],
                       camera[2] < lo[:, 2], camera[2] > hi[:, 2]), axis=1)
    which, face = np.nonzero(facing)
    corners = lo[:, None] + (hi - lo)[:, None] * _CORNER_BITS            # (B, 8, 3)
    face_points = corners[which[:, None], _FACE_CORNERS[face]]          # (F, 4, 3)
    face_prim = boxes[which]
    face_normal = _FACE_NORMALS[face]
    facade = prims.facade[face_prim]
    street_face = (facade >= 0) & (face_normal[:, 0] == -np.sign(prims.center[face_prim, 0]))

    # One-sided polygons and blobs facing the camera.
    normal = prims.normal
    seen = ~np.any(normal != 0, axis=1) | (np.sum(normal * (camera - prims.center), axis=1) > 0)
    polys = np.flatnonzero((prims.shape == _POLY) & seen)
    blobs = np.flatnonzero((prims.shape == _BLOB) & seen)

    # Shade every drawable at once: faces, polygons, blobs.
    prim_of = np.concatenate((face_prim, polys, blobs)).astype(np.int64)
    centers = np.concatenate((face_points.mean(axis=1), prims.center[polys], prims.center[blobs]))
    normals = np.concatenate((face_normal, normal[polys], normal[blobs]))
    surface = prims.surface[prim_of]
    glow = prims.glow[prim_of, 1 if light.night else 0]
    glow = np.where(prims.tint[prim_of, None] == 1, glow * light.lamp_rgb, glow)
    albedo = prims.albedo[prim_of]
    is_front = np.concatenate((street_face, np.zeros(len(polys) + len(blobs), bool)))
    rows, local = np.unique(facade[street_face], return_inverse=True)
    flat = (surface == _FLAT) & ~is_front
    colour = albedo.copy()
    if np.any(flat):
        shaded = albedo[flat] * _irradiance(light, centers[flat], normals[flat]) + glow[flat]
        if light.haze:
            fade = 1.0 - np.exp(-np.linalg.norm(centers[flat] - camera, axis=1) / light.haze)
            shaded = shaded * (1 - fade[:, None]) + light.sky_horizon * fade[:, None]
        colour[flat] = shaded
    kind = np.where(flat, _FLAT, surface).astype(np.uint16)
    kind[is_front] = _FACADE + local

    # Project polygons (faces and polys; those crossing the near plane clipped) and blobs.
    poly_points = view.to_camera(np.concatenate((face_points, prims.points[polys])))
    ok = np.all(poly_points[..., 2] >= _NEAR, axis=1)
    pixels = np.round(view.project(np.where(ok[:, None, None], poly_points, 1.0)) * 16).astype(np.int32)
    shapes: list = list(pixels)
    cut = np.flatnonzero(~ok)
    candidates, keep = _clip_near(poly_points[cut])
    candidates = np.where(keep[..., None], candidates, 1.0)
    candidates[..., 2] = np.maximum(candidates[..., 2], _NEAR)           # crossings lie on the near plane
    candidates = np.round(view.project(candidates) * 16).astype(np.int32)
    for i, vertices, kept in zip(cut.tolist(), candidates, keep, strict=True):
        shapes[i] = vertices[kept] if kept.sum() >= 3 else None
    blob_center = view.to_camera(prims.points[blobs, 0])
    blob_ok = blob_center[:, 2] >= _NEAR
    blob_pixel = np.round(view.project(np.where(blob_ok[:, None], blob_center, 1.0)) * 16).astype(np.int64)
    limit = 64 * max(view.height, view.width)
    blob_axes = np.minimum(prims.points[blobs, 1, :2] * view.focal / np.maximum(blob_center[:, 2:], _NEAR), limit)
    blob_axes = np.round(blob_axes * 16).astype(np.int64)
    shapes += [(tuple(c), tuple(a)) if shown else None
               for c, a, shown in zip(blob_pixel.tolist(), blob_axes.tolist(), blob_ok.tolist(), strict=True)]

    ids = np.zeros((view.height, view.width), np.int32)
    fill, ellipse, line = cv2.fillConvexPoly, cv2.ellipse, cv2.LINE_8
    for shape, value in [(shapes[i], i + 1) for i in np.argsort(rank[prim_of], kind='stable').tolist()
                         if shapes[i] is not None]:
        if type(shape) is tuple:
            ellipse(ids, shape[0], shape[1], 0, 0, 360, value, -1, line, 4)
        else:
            fill(ids, shape, value, line, 4)
    bright = glow.max(axis=1) > 1.5 if light.night else np.zeros(len(glow), bool)
    return _Drawing(ids, np.concatenate((np.zeros((1, 3), np.float32), colour)),
                    np.concatenate(([SKY], prims.label[prim_of])).astype(np.uint8),
                    np.concatenate(([_FLAT], kind)).astype(np.uint16), rows, (centers[bright], glow[bright]))


def _object_shadows(prims: Primitives, view: _View, light: _Light, shade: np.ndarray) -> None:
    """Fill the ground shadows of the standing boxes and blobs within 80 m into `shade` (uint8 (H, W), 1 = shadow)."""
    standing = np.flatnonzero((prims.layer == _STANDING) & (prims.shape != _POLY)
                              & (np.linalg.norm(prims.center - view.position, axis=1) < 80.0))
    if not len(standing):
        return
    points = prims.points[standing]
    blob = prims.shape[standing] == _BLOB
    reach = points[:, 1, [0, 1, 0]]
    lo = np.where(blob[:, None], points[:, 0] - reach, points[:, 0])
    hi = np.where(blob[:, None], points[:, 0] + reach, points[:, 1])
    corners = lo[:, None] + (hi - lo)[:, None] * _CORNER_BITS                     # (S, 8, 3)
    base = light.scene.kerb_height * (np.abs(corners[..., 0:1]) > light.scene.road_half_width)
    ground = corners - (corners[..., 1:2] - base) / light.sun[1] * light.sun        # along the sun ray to the ground
    cam = view.to_camera(ground)
    ok = np.all(cam[..., 2] > _NEAR, axis=1)
    pixels = np.round(view.project(np.where(ok[:, None, None], cam, 1.0)) * 16).astype(np.int32)
    for i in np.flatnonzero(ok):
        cv2.fillConvexPoly(shade, cv2.convexHull(pixels[i]), 1, cv2.LINE_8, 4)


@functools.lru_cache(maxsize=1)
def _textures() -> np.ndarray:
    """Tileable multiplicative textures float32 (4, 512, 512), mean ~1, read-only: asphalt, paving, grass, plaster
    (built once per process, about 50 ms)."""
    rng = np.random.default_rng(20240601)
    size = 512
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    f2 = fx ** 2 + fy ** 2

    def noise(scales: Sequence[tuple[float, float]]) -> np.ndarray:
        total = np.zeros((size, size))
        for sigma, amplitude in scales:
            spectrum = np.fft.rfft2(rng.standard_normal((size, size))) * np.exp(-2 * np.pi ** 2 * sigma ** 2 * f2)
            field = np.fft.irfft2(spectrum, s=(size, size))
            total += amplitude * field / field.std()
        return total

    asphalt = 1 + noise([(0.6, 0.12), (3.0, 0.05), (25.0, 0.08)])
    asphalt *= 1 - 0.25 * (noise([(1.5, 1.0)]) > 2.6)                    # dark speckles and tar spots
    tile = np.arange(size) % 16
    joints = (tile[:, None] < 1) | (tile[None, :] < 1)
    stones = np.kron(rng.uniform(0.88, 1.12, (size // 16, size // 16)), np.ones((16, 16)))
    paving = stones * (1 + noise([(0.7, 0.06), (20.0, 0.06)])) * np.where(joints, 0.7, 1.0)
    grass = 1 + noise([(0.6, 0.22), (4.0, 0.12), (30.0, 0.15)])
    plaster = 1 + noise([(0.7, 0.04), (6.0, 0.04), (40.0, 0.07)])
    return _read_only(np.clip(np.stack((asphalt, paving, grass, plaster)), 0.3, 1.8).astype(np.float32))


def _hash2(a: np.ndarray, b: np.ndarray, seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent uniform [0, 1) float32 values per (a, b, seed) integer triple (arrays of one shape)."""
    h = (a.astype(np.int32).view(np.uint32) * np.uint32(73856093)) ^ (
        b.astype(np.int32).view(np.uint32) * np.uint32(19349663)) ^ seed
    for _ in range(2):
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x45D9F3B)
    h ^= h >> np.uint32(16)
    return ((h & np.uint32(0xFFFF)).astype(np.float32) * np.float32(1 / 65536),
            (h >> np.uint32(16)).astype(np.float32) * np.float32(1 / 65536))


def _lowres(view: _View, columns: int = 64) -> tuple[int, int]:
    """Size (h, w) of a coarse grid over the image with about `columns` columns (for smooth light effects)."""
    step = max(1, round(view.width / columns))
    return -(-view.height // step), -(-view.width // step)


def _night_maps(view: _View, light: _Light, size: tuple[int, int]) -> np.ndarray:
    """Night irradiance float32 (6, h, w) for `size` = (h, w) over the image: RGB of the road plane, then of the
    nearer building-line plane, through each point (computed on a coarse grid and interpolated: lamp light is
    smooth)."""
    h, w = _lowres(view)
    rows = (np.arange(h) + 0.5) * view.height / h - 0.5
    cols = (np.arange(w) + 0.5) * view.width / w - 0.5
    a = (cols - view.u0) / view.focal
    rx, rz = view.cos * a + view.sin, view.cos - view.sin * a
    ry = (view.v0 - rows) / view.focal
    cam = view.camera
    t = np.clip(cam.height / np.maximum(-ry, 1e-3), 0, 2000)[:, None]                     # (h, 1)
    ground = np.stack(np.broadcast_arrays(cam.x + t * rx, 0.0, cam.z + t * rz), axis=-1).reshape(-1, 3)
    side = np.where(rx > 0, 1, 0)
    wall = light.scene.building_line[side]
    tf = np.clip((wall - cam.x) / np.where(np.abs(rx) > 1e-3, rx, 1e-3), 0, 2000)[None, :]  # (1, w)
    facade = np.stack(np.broadcast_arrays(wall, cam.height + tf * ry[:, None], cam.z + tf * rz), axis=-1)
    facade_normal = np.zeros((h, w, 3), np.float32)
    facade_normal[..., 0] = -np.sign(wall)
    up = np.zeros_like(ground, dtype=np.float32)
    up[:, 1] = 1.0
    points = np.concatenate((ground, facade.reshape(-1, 3))).astype(np.float32)
    small = _irradiance(light, points, np.concatenate((up, facade_normal.reshape(-1, 3)))).reshape(2, h, w, 3)
    maps = cv2.resize(np.concatenate(small, axis=2), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(maps.transpose(2, 0, 1))


def _surfaces(hdr: np.ndarray, kind: np.ndarray, view: _View, light: _Light, facades: np.ndarray,
              shade: np.ndarray | None) -> None:
    """Per-pixel shading, in place, of the pixels drawn as albedo: ground (world-anchored textures, shadows, lamp
    pools) and building fronts (plaster, cornices, window grids: glass by day, some windows lit by night).

    hdr float32 (H, W, 3) linear RGB (albedo already times the exposure); kind uint16 (H, W) surface kinds; facades
    float32 (M, 15) the Scene.facades rows of kinds _FACADE + 0..M-1; shade uint8 (H, W) object shadows (day) or
    None. The light is computed per 2 x 2 block (as a gain and an addition per channel, on planes (3, h, w): the fast
    layout for numpy) for the surface found in the block, then applied to the full-resolution surface pixels.
    """
    cam = view.camera
    block = cv2.dilate(kind, np.ones((2, 2), np.uint8), anchor=(0, 0))[::2, ::2]   # a surface kind of each block
    h, w = block.shape
    ry = (view.v0 - 2 * np.arange(h, dtype=np.float32) - 0.5) / view.focal      # rays through the block centres
    a = (2 * np.arange(w, dtype=np.float32) + 0.5 - view.u0) / view.focal
    rx, rz = (view.cos * a + view.sin).astype(np.float32), (view.cos - view.sin * a).astype(np.float32)
    textures = _textures().reshape(-1)
    exposure = light.exposure[:, None, None]
    horizon = light.sky_horizon[:, None, None] * exposure
    maps = _night_maps(view, light, (h, w)) if light.night else None
    gain = np.ones((3, h, w), np.float32)
    extra = np.zeros((3, h, w), np.float32)

    ground = (block >= _ASPHALT) & (block < _FACADE)
    if ground.any():
        y = np.where(block == _ASPHALT, np.float32(0.0), np.float32(light.scene.kerb_height))
        t = (y - np.float32(cam.height)) / np.minimum(ry, np.float32(-1e-4))[:, None]
        x, z = cam.x + t * rx, cam.z + t * rz
        layer = np.clip(block.astype(np.int32) - _ASPHALT, 0, 2)
        texel = ((layer << 18) | (((z * 32 + 65536).astype(np.int32) & 511) << 9)
                 | ((x * 32 + 65536).astype(np.int32) & 511))
        texture = np.take(textures, texel)
        if light.night:
            lit = maps[:3] * texture
        else:
            dark = _building_shadow(light, x, y, z) | (shade[::2, ::2] > 0)
            lit = (light.ambient[:, None, None] + light.sun_rgb[:, None, None] * (light.sun[1] * ~dark)) * texture
        add = np.zeros((3, h, w), np.float32)
        if light.haze:
            fade = 1.0 - np.exp(-t / np.float32(light.haze))
            lit, add = lit * (1 - fade), horizon * fade
        gain, extra = np.where(ground, lit, gain), np.where(ground, add, extra)

    front = block >= _FACADE
    if front.any():
        local = np.where(front, block.astype(np.int32) - _FACADE, 0)
        p = [np.take(column, local) for column in np.ascontiguousarray(facades.T)]
        t = (p[_F_X] - cam.x) / np.where(np.abs(rx) > 1e-4, rx, np.float32(1e-4))
        y, z = cam.height + t * ry[:, None], cam.z + t * rz
        spacing, above = p[_F_SPACING], y - p[_F_BASE]
        bay = (z - p[_F_Z0] - p[_F_PHASE]) / spacing
        column = np.floor(bay)
        across = np.abs(bay - column - 0.5) * spacing
        upper = above >= p[_F_GROUND]
        storey = (above - p[_F_GROUND]) / p[_F_FLOOR]
        level = np.floor(storey)
        in_row = (storey - level > p[_F_SILL]) & (storey - level < p[_F_SILL] + p[_F_WIN_H])
        inside = (z > p[_F_Z0] + 0.7) & (z < p[_F_Z1] - 0.7) & (y < p[_F_TOP] - 0.7)
        shop = p[_F_SHOP] > 0.5
        ground_window = ~upper & (above > 0.6) & (above < p[_F_GROUND] - 0.6) & np.where(
            shop, across < spacing / 2 - 0.25, (across < p[_F_WIN] / 2) & (above > 1.0))
        window = inside & ((upper & in_row & (across < p[_F_WIN] / 2)) | ground_window)
        pick, tone = _hash2(column, np.where(upper, level, np.float32(-1)), p[_F_SEED].astype(np.uint32))
        texel = ((3 << 18) | (((y * 16 + 65536).astype(np.int32) & 511) << 9)
                 | ((z * 16 + 65536).astype(np.int32) & 511))
        wall = np.take(textures, texel) * np.where(
            (np.abs(above - p[_F_GROUND]) < 0.15) | (y > p[_F_TOP] - 0.35), np.float32(0.7), np.float32(1.0))
        if light.night:
            lit = window & (pick < np.where(~upper & shop, np.float32(0.6), p[_F_LIT] * np.float32(light.windows)))
            warm = np.where(tone > 0.92, _WINDOW_COLD[:, None, None], _WINDOW_WARM[:, None, None]) * exposure
            light_in = maps[3:]
            on = light_in * np.where(window, np.float32(0), wall)
            add = light_in * (np.float32(0.015) * exposure * window) + warm * (lit * (0.05 + 0.3 * tone * tone))
        else:
            glass = (_GLASS[:, None, None] + light.sky_horizon[:, None, None] * (0.08 + 0.3 * tone)) * exposure
            pane = np.where(pick > 0.85, _CURTAIN[:, None, None] * exposure, glass)
            sunny = np.maximum(-np.sign(p[_F_X]) * light.sun[0], 0.0) * ~_building_shadow(light, p[_F_X], y, z)
            irradiance = 0.8 * light.ambient[:, None, None] + light.sun_rgb[:, None, None] * sunny
            fade = 1.0 - np.exp(-np.abs(t) / np.float32(light.haze))
            on = irradiance * np.where(window, np.float32(0), wall) * (1 - fade)
            add = irradiance * (pane * window) * (1 - fade) + horizon * fade
        gain, extra = np.where(front, on, gain), np.where(front, add, extra)

    height, width = kind.shape
    up = [cv2.resize(cv2.merge(list(plane)), (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST)[:height, :width]
          for plane in (gain, extra)]
    cv2.copyTo(hdr * up[0] + up[1], (kind >= _ASPHALT).astype(np.uint8), hdr)


def _sky(view: _View, light: _Light, rng: np.random.Generator) -> np.ndarray:
    """The sky, float32 (H, W, 3) linear RGB times the exposure: gradient from horizon to zenith, clouds by day,
    light-pollution glow over the horizon by night (smooth: computed on a coarse grid and interpolated)."""
    h, w = _lowres(view, 128)
    up = (view.v0 - (np.arange(h, dtype=np.float32) + 0.5) * view.height / h + 0.5) / view.focal
    mix = np.clip(up / 0.7, 0.0, 1.0) ** 0.6
    rows = light.sky_horizon * (1 - mix)[:, None] + light.sky_zenith * mix[:, None]
    rows = (rows + light.glow * np.exp(-np.maximum(up, 0) / 0.12)[:, None]) * light.exposure
    sky = np.repeat(rows[:, None, :].astype(np.float32), w, axis=1)
    if not light.night:
        field = cv2.resize(rng.random((4, 10), np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        cover = np.clip((field - rng.uniform(0.45, 0.85)) * 3.0, 0, 1) * np.clip(up / 0.15, 0, 1)[:, None]
        sky += cover[..., None] * (light.sky_horizon * light.exposure * 1.15 - sky)
    return cv2.resize(sky, (view.width, view.height), interpolation=cv2.INTER_LINEAR)


def _reflections(emitters: tuple[np.ndarray, np.ndarray], view: _View, light: _Light,
                 road: np.ndarray) -> np.ndarray:
    """Wet-road reflections float32 (H, W, 3), exposed: a vertical streak below the mirror image (in the road
    plane) of each bright emitter (positions, radiances float32 (E, 3)), on `road` (bool (H, W)) pixels only."""
    h, w = _lowres(view, 192)
    scale = w / view.width
    streaks = np.zeros((h, w, 3), np.float32)
    positions, radiances = emitters
    mirrors = view.to_camera(positions * np.array((1.0, -1.0, 1.0), np.float32))
    for mirror, radiance in zip(mirrors, radiances * light.exposure * (0.01 * light.wet), strict=True):
        if mirror[2] < 2.0:
            continue
        u, v = view.project(mirror) * scale
        length = float(np.clip(0.4 * (v - view.v0 * scale), 1.0, 0.1 * h))
        cv2.ellipse(streaks, (int(u * 16), int(v * 16)), (int(max(0.6, 0.08 * length) * 16), int(length * 16)), 0,
                    0, 360, radiance.tolist(), -1, cv2.LINE_AA, 4)
    streaks = cv2.resize(cv2.GaussianBlur(streaks, (0, 0), 0.7), (view.width, view.height),
                         interpolation=cv2.INTER_LINEAR)
    mask = road.astype(np.float32)
    return streaks * cv2.merge((mask, mask, mask))


def _bloom(hdr: np.ndarray, view: _View, strength: float) -> np.ndarray:
    """Glare float32 (H, W, 3) around radiance above white: a tight halo, a wide veil and a horizontal streak."""
    h, w = _lowres(view)
    bright = np.maximum(cv2.resize(hdr, (w, h), interpolation=cv2.INTER_AREA) - 0.9, 0.0)
    bright /= 1.0 + bright / 8.0
    halo = (0.35 * cv2.GaussianBlur(bright, (0, 0), 0.8) + 0.12 * cv2.GaussianBlur(bright, (0, 0), 3.0)
            + 0.05 * cv2.GaussianBlur(bright, (0, 0), 10.0) + 0.04 * cv2.blur(bright, (max(3, w // 6) | 1, 1)))
    return cv2.resize(halo * strength, (view.width, view.height), interpolation=cv2.INTER_LINEAR)


@functools.lru_cache(maxsize=1)
def _tone_lut() -> np.ndarray:
    """uint8 (4096,) display value of linear radiance x = (i / 2048)^2: soft highlight shoulder, then gamma 2.2."""
    x = (np.arange(4096) / 2048.0) ** 2
    shoulder = np.where(x < 0.75, x, 0.75 + 0.25 * (1 - np.exp(-(x - 0.75) / 0.25)))
    return _read_only(np.round(255 * shoulder ** (1 / 2.2)).astype(np.uint8))


@functools.lru_cache(maxsize=8)
def _radius2(height: int, width: int) -> np.ndarray:
    """Squared distance from the image centre float32 (H, W), 1 at the corners (read-only)."""
    y = (np.arange(height, dtype=np.float32) - (height - 1) / 2) / (height / 2)
    x = (np.arange(width, dtype=np.float32) - (width - 1) / 2) / (width / 2)
    return _read_only((y[:, None] ** 2 + x[None, :] ** 2) / 2)


@functools.lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """2^22 standard normal samples, float32 (read-only): sensor noise is a random window of it (sampling normals
    anew per pixel would cost several milliseconds per image)."""
    return _read_only(np.random.default_rng(7).standard_normal(1 << 22, np.float32))


def _unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise float32 of `shape`: a window at a random offset of the noise bank (fresh samples when
    the image is larger than the bank)."""
    bank, size = _noise_bank(), int(np.prod(shape))
    if size >= len(bank):
        return rng.standard_normal(shape, np.float32)
    start = int(rng.integers(len(bank) - size))
    return bank[start:start + size].reshape(shape)


# Amplitude per label of the multiplicative screen-space grain that keeps flat-shaded surfaces from looking flat
# (leafy for vegetation and grass, none on the sky).
_GRAIN = np.full(256, 0.06, np.float32)
_GRAIN[[VEGETATION, TERRAIN]] = 0.5
_GRAIN[SKY] = 0.0
_read_only(_GRAIN)


def render(scene: Scene, dynamic: Sequence[Thing], camera: Camera, height: int, width: int, time_of_day: str,
           rng: np.random.Generator, *, lighting: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render `scene` with the `dynamic` objects from `camera` at `time_of_day` ('day' or 'night').

    Returns (image uint8 (height, width, 3) RGB, label uint8 (height, width) Cityscapes train ids 0..18). Any image
    size (>= 8 pixels) and camera pose work; the street is built for cameras in z = [0, STREET_LENGTH]. The label
    depends on the geometry only; `rng` draws the lighting, camera response and noise of this image.
    `lighting`, when given, draws the lighting, sky and surface grain instead (each street lamp then keeps its own
    brightness) and `rng` only the sensor noise: a drive passes a generator seeded the same for every frame, so the
    light stays steady while the camera moves and the noise changes from frame to frame.
    """
    if time_of_day not in TIMES_OF_DAY:
        raise ValueError(f'time_of_day {time_of_day!r}; allowed: {", ".join(TIMES_OF_DAY)}')
    if height < 8 or width < 8:
        raise ValueError(f'image size {height}x{width} (height x width); both must be >= 8 pixels')
    view = _View.of(camera, height, width)
    night = time_of_day == 'night'
    look = rng if lighting is None else lighting
    light = _night_light(scene, dynamic, camera, look, lighting is not None) if night else _day_light(scene, look)
    parts = [scene.primitives.rows(_visible(scene.primitives, view, night))]
    parts += [thing.primitives for thing in dynamic]
    prims = Primitives.concat(parts)
    if len(dynamic):
        prims = prims.rows(_visible(prims, view, night))
    drawing = _draw(prims, view, light)
    label = np.take(drawing.label, drawing.ids)
    kind = np.take(drawing.kind, drawing.ids)
    hdr = np.take(drawing.colour * light.exposure, drawing.ids, axis=0)    # (H, W, 3) linear, exposed
    cv2.copyTo(_sky(view, light, look), (drawing.ids == 0).view(np.uint8), hdr)
    shade = None
    if not night:
        shade = np.zeros((height, width), np.uint8)
        _object_shadows(prims, view, light, shade)
    _surfaces(hdr, kind, view, light, scene.facades[drawing.facade_rows].reshape(-1, _FACADE_COLUMNS), shade)

    grain = cv2.resize(look.random((max(2, height // 3), max(2, width // 3)), np.float32), (width, height),
                       interpolation=cv2.INTER_LINEAR)
    gain = (1.0 + np.take(_GRAIN, label) * (grain - 0.5)) * (1.0 - light.vignette * _radius2(height, width))
    hdr *= cv2.merge((gain, gain, gain))
    if night and light.wet:
        hdr += _reflections(drawing.emitters, view, light, kind == _ASPHALT)
    if night:
        hdr += _bloom(hdr, view, light.bloom)
    hdr = cv2.GaussianBlur(hdr, (0, 0), light.blur * math.sqrt(width / 512))
    shot, read = light.noise
    hdr += cv2.sqrt(np.maximum(hdr, 0.0) * np.float32(shot) + np.float32(read)) * _unit_noise(rng, hdr.shape)
    index = (cv2.sqrt(np.clip(hdr, 0.0, 3.99)) * 2048).astype(np.intp)
    return np.take(_tone_lut(), index), label


# ---------------------------------------------------------------------------------------------------- day / night


@dataclass(frozen=True, eq=False)
class StreetPair:
    """One place by day and by night: camera B (night) is camera A (day) shifted slightly, traffic differs."""

    day_image: np.ndarray    # uint8 (H, W, 3) RGB, camera A, dynamic objects set 1
    day_label: np.ndarray    # uint8 (H, W) Cityscapes train ids
    night_image: np.ndarray  # uint8 (H, W, 3) RGB, camera B = A shifted slightly, dynamic objects set 2
    night_label: np.ndarray  # uint8 (H, W)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f'split {split!r}; allowed: {", ".join(SPLITS)}')


def _check_size(height: int, width: int) -> None:
    for name, value in (('height', height), ('width', width)):
        if value < MIN_SIZE or value % MIN_SIZE:
            raise ValueError(f'{name} {value}; must be a multiple of {MIN_SIZE} pixels, at least {MIN_SIZE} '
                             '(the segmentation network needs multiples of 32)')


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise ValueError(f'seed {seed}; must be >= 0')


@dataclass(frozen=True, eq=False)
class _Place:
    """What render_pair renders for one (seed, split, index): the street, both cameras, both traffic sets, and the
    seeds of the day and night image rngs."""

    scene: Scene
    cameras: tuple[Camera, Camera]
    dynamic: tuple[list[Thing], list[Thing]]
    image_seeds: tuple[np.random.SeedSequence, np.random.SeedSequence]


def _place(seed: int, split: str, index: int) -> _Place:
    """The place of `index` in `split`: its street (one of STREETS_PER_SPLIT), cameras and traffic."""
    _check_split(split)
    _check_seed(seed)
    if index < 0:
        raise ValueError(f'index {index}; must be >= 0')
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
    night = Camera(x=day.x + sign[0] * rng.uniform(0.1, 0.5), height=day.height + rng.uniform(-0.1, 0.1),
                   z=day.z + sign[1] * rng.uniform(0.5, 2.0), yaw=day.yaw + sign[2] * math.radians(rng.uniform(0.3, 2)),
                   hfov_deg=day.hfov_deg)
    dynamic = tuple(sample_dynamic(scene, rng, (camera.z - 15.0, camera.z + _TRAFFIC_AHEAD), keep_clear=camera)
                    for camera in (day, night))
    return _Place(scene, (day, night), dynamic, (day_seed, night_seed))


def _render_place(place: _Place, which: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Day (which = 0) or night (1) image and label of a place."""
    return render(place.scene, place.dynamic[which], place.cameras[which], height, width, TIMES_OF_DAY[which],
                  np.random.default_rng(place.image_seeds[which]))


def render_pair(seed: int, split: str, index: int, height: int = 256, width: int = 512) -> StreetPair:
    """The day/night pair of place `index` of `split` (deterministic in seed, split, index; splits never share
    places). height and width: multiples of 32 pixels."""
    _check_size(height, width)
    place = _place(seed, split, index)
    day_image, day_label = _render_place(place, 0, height, width)
    night_image, night_label = _render_place(place, 1, height, width)
    return StreetPair(day_image, day_label, night_image, night_label)


def _sample_name(split: str, index: int) -> str:
    return f'synth_{split}_{index:06d}'


class SyntheticStreets:
    """Map-style dataset (no torch dependency): len() and [i] over render_pair(seed, split, i)."""

    def __init__(self, split: str = 'train', count: int = 1000, height: int = 256, width: int = 512,
                 seed: int = 0) -> None:
        _check_split(split)
        if count < 1:
            raise ValueError(f'count {count}; must be >= 1')
        _check_size(height, width)
        _check_seed(seed)
        self.split, self.count, self.height, self.width, self.seed = split, count, height, width, seed

    def __len__(self) -> int:
        return self.count

    def _check_index(self, index: int) -> int:
        if not -self.count <= index < self.count:
            raise IndexError(f'index {index} out of range for {self.count} synthetic pairs')
        return index % self.count

    def __getitem__(self, index: int) -> StreetPair:
        return render_pair(self.seed, self.split, self._check_index(index), self.height, self.width)

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


# ---------------------------------------------------------------------------------------------------------- files


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write an RGB (H, W, 3) or single-channel uint8 image as PNG; OSError when OpenCV cannot."""
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if not cv2.imwrite(str(path), data):
        raise OSError(f'could not write {path}')


def write_dataset(root: str | os.PathLike, split: str, count: int, height: int, width: int, seed: int) -> Path:
    """Write `count` pairs of `split` as PNGs in a Dark Zurich val-like layout under root; returns root.

    rgb_anon/{split}/night/SYNTH/SYNTH_frame_{i:06d}_rgb_anon.png, rgb_anon/{split}_ref/day/SYNTH_ref/
    SYNTH_frame_{i:06d}_ref_rgb_anon.png, gt/{split}/night/SYNTH/SYNTH_frame_{i:06d}_gt_labelTrainIds.png,
    gt/{split}_ref/day/SYNTH_ref/SYNTH_frame_{i:06d}_ref_gt_labelTrainIds.png and SYNTHETIC.md. A rerun overwrites;
    SYNTH_frame_* files of an earlier, larger run are removed.
    """
    _check_split(split)
    if count < 1:
        raise ValueError(f'count {count}; must be >= 1')
    _check_size(height, width)
    _check_seed(seed)
    root = Path(root)
    folders = {
        'night': (root / 'rgb_anon' / split / 'night' / 'SYNTH', '_rgb_anon.png'),
        'day': (root / 'rgb_anon' / f'{split}_ref' / 'day' / 'SYNTH_ref', '_ref_rgb_anon.png'),
        'night_label': (root / 'gt' / split / 'night' / 'SYNTH', '_gt_labelTrainIds.png'),
        'day_label': (root / 'gt' / f'{split}_ref' / 'day' / 'SYNTH_ref', '_ref_gt_labelTrainIds.png'),
    }
    for folder, _ in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob('SYNTH_frame_*.png'):
            old.unlink()
    for index in range(count):
        pair = render_pair(seed, split, index, height, width)
        for key, image in (('night', pair.night_image), ('day', pair.day_image), ('night_label', pair.night_label),
                           ('day_label', pair.day_label)):
            folder, suffix = folders[key]
            _write_png(folder / f'SYNTH_frame_{index:06d}{suffix}', image)
    (root / 'SYNTHETIC.md').write_text(
        '# Synthetic data\n\n'
        'Every image and label here is procedurally generated synthetic data (night_seg_training.synth): simple '
        '3-D street scenes rendered by day and by night, not photographs of real places.\n\n'
        f'- generator version: {GENERATOR_VERSION}\n- seed: {seed}\n- split: {split}\n- pairs: {count}\n'
        f'- size: {width}x{height} (width x height)\n'
        '- labels: Cityscapes train ids 0..18 (exact: drawn with the geometry)\n'
        '- layout: Dark Zurich val-like; night images with labels, day references with labels\n')
    return root


def contact_sheet(pairs: Sequence[StreetPair]) -> np.ndarray:
    """uint8 (N * H, 4 * W, 3) RGB: one row per pair, day | day label | night | night label (Cityscapes colours)."""
    if not pairs:
        raise ValueError('contact_sheet needs at least one StreetPair')
    lut = palette_lut(CITYSCAPES_PALETTE)
    return np.vstack([np.hstack((p.day_image, colorize(p.day_label, lut), p.night_image, colorize(p.night_label, lut)))
                      for p in pairs])
