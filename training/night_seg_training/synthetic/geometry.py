"""Geometry of the synthetic world: convex drawing primitives (boxes, planar polygons, camera-facing ellipses) built
row by row into read-only tables, and the pinhole `Camera` they are seen through.

World coordinates are metres: x right, y up, z forward along the street.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from night_seg_training.synthetic.materials import read_only

# Primitive shapes, draw layers (drawn in this order; the last two far to near) and per-pixel surface kinds.
BOX, POLY, BLOB = 0, 1, 2
YARD, BUILDINGS, GROUND, STANDING = 0, 1, 2, 3
FLAT, ASPHALT, PAVING, GRASS, FACADE = 0, 1, 2, 3, 4
ZERO3 = (0.0, 0.0, 0.0)


@dataclass(frozen=True, eq=False)
class Primitives:
    """Convex drawing primitives in world coordinates (metres), one row each (read-only arrays).

    shape uint8 (N,): BOX (points[0], points[1] = low and high corner), POLY (points = 4 corners of a planar convex
    polygon; a triangle repeats a corner) or BLOB (camera-facing ellipse: points[0] = centre, points[1, :2] =
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
        points[self.shape != BLOB] += offset
        points[self.shape == BLOB, 0] += offset
        values = {name: getattr(self, name) for name in _PRIMITIVE_FIELDS}
        values.update(points=points, anchor=self.anchor + offset, center=self.center + offset)
        return Primitives(**values)

    @staticmethod
    def concat(parts: Sequence[Primitives]) -> Primitives:
        """All rows of `parts`, in order."""
        return Primitives(*(np.concatenate([getattr(p, name) for p in parts]) for name in _PRIMITIVE_FIELDS))


_PRIMITIVE_FIELDS = tuple(f.name for f in fields(Primitives))


class Builder:
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

    def box(self, lo: Sequence[float], hi: Sequence[float], label: int, albedo: np.ndarray, *, layer: int = STANDING,
            facade: int = -1) -> None:
        """An axis-aligned box between two opposite corners (any order), metres."""
        pairs = tuple(zip(lo, hi, strict=True))
        low, high = [float(min(pair)) for pair in pairs], [float(max(pair)) for pair in pairs]
        self._add((BOX, label, 0, layer, FLAT, facade), low + high + low + high, ZERO3, albedo, ZERO3, ZERO3)

    def poly(self, corners: Sequence[Sequence[float]], label: int, albedo: np.ndarray, normal: Sequence[float], *,
             layer: int = STANDING, surface: int = FLAT, glow_day: Sequence[float] = ZERO3,
             glow_night: Sequence[float] = ZERO3, tint: int = 0) -> None:
        """A planar convex polygon of 3 or 4 corners (metres), one-sided unless `normal` is zero."""
        points = [float(v) for corner in corners for v in corner]
        self._add((POLY, label, tint, layer, surface, -1), points + points[-3:] * (4 - len(corners)), normal,
                  albedo, glow_day, glow_night)

    def blob(self, center: Sequence[float], rx: float, ry: float, label: int, albedo: np.ndarray, *,
             normal: Sequence[float] = ZERO3, glow_day: Sequence[float] = ZERO3,
             glow_night: Sequence[float] = ZERO3, layer: int = STANDING) -> None:
        """A camera-facing ellipse with horizontal and vertical radii rx, ry (metres)."""
        c = [float(v) for v in center]
        self._add((BLOB, label, 0, layer, FLAT, -1), c + [float(rx), float(ry), 0.0] + c + c, normal, albedo,
                  glow_day, glow_night)

    def ground(self, x0: float, x1: float, z0: float, z1: float, y: float, label: int, albedo: np.ndarray,
               surface: int, layer: int = GROUND) -> None:
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
        blob = shape == BLOB
        center[blob] = points[blob, 0]
        radius[blob] = points[blob, 1, :2].max(axis=1)
        table = Primitives(
            shape=shape, points=points, normal=vectors[:, 0].copy(), label=ints[:, 1].astype(np.uint8),
            albedo=vectors[:, 1].copy(), glow=vectors[:, 2:4].copy(), tint=ints[:, 2].astype(np.uint8),
            layer=ints[:, 3].astype(np.uint8), surface=ints[:, 4].astype(np.uint8), facade=ints[:, 5].copy(),
            anchor=vectors[:, 4].copy(), center=center, radius=radius)
        for name in _PRIMITIVE_FIELDS:
            read_only(getattr(table, name))
        return table


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
