"""The moving objects of a street, kept apart from its static layout: `sample_dynamic` draws cars, trucks, buses,
persons, cyclists and motorcyclists, so one place can be rendered with different traffic, and `advance` moves them
along their velocities for a drive.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from night_seg_training.synthetic.geometry import ZERO3, Builder, Camera, Primitives
from night_seg_training.synthetic.materials import (
    BICYCLE,
    BUS,
    BUS_COLOURS,
    CAR,
    CAR_COLOURS,
    CARGO_COLOURS,
    CLOTH_COLOURS,
    DISPLAY,
    GLASS,
    HEADLAMP,
    HEADLIGHT,
    MOTORCYCLE,
    PERSON,
    RIDER,
    SKIN_COLOURS,
    TAIL_GLOW,
    TAIL_LAMP,
    TRUCK,
    TYRE,
    pick,
    read_only,
)
from night_seg_training.synthetic.street import Scene


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


def _vehicle(b: Builder, rng: np.random.Generator, kind: int, x: float, z: float, heading: float,
             lights_on: bool) -> tuple[float, list]:
    """A car, truck or bus centred at (x, z) facing `heading` (+-1 along z); returns its length and beams."""
    if kind == CAR:
        length, width = 3.9 + rng.random(), 1.7 + 0.2 * rng.random()
    else:
        length, width = (6.5 + 2.5 * rng.random(), 2.45) if kind == TRUCK else (11.0 + 1.5 * rng.random(), 2.55)
    paint = pick(rng, BUS_COLOURS if kind == BUS else CAR_COLOURS)
    tyre, glass = TYRE, GLASS * np.float32(rng.uniform(0.8, 1.3))
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
              pick(rng, CARGO_COLOURS))
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
               DISPLAY, (0.0, 0.0, heading), glow_night=(2.0, 0.9, 0.1) if lights_on else ZERO3)
        light_y = 0.7
    for sx in (-1.0, 1.0):
        wx = x + sx * (hw + 0.01)
        axles = (rear + heading * 0.8, front - heading * 0.8) if kind == CAR else (
            rear + heading * 1.6, front - heading * 1.3)
        for wz in axles:
            b.poly(((wx, 0.0, wz - wheel_r), (wx, 0.0, wz + wheel_r), (wx, 2 * wheel_r, wz + wheel_r),
                    (wx, 2 * wheel_r, wz - wheel_r)), kind, tyre, (sx, 0.0, 0.0))
    head = (HEADLIGHT * (30 + 20 * rng.random())).tolist() if lights_on else ZERO3
    tail = (np.array(TAIL_GLOW, np.float32) * (0.7 + 0.6 * rng.random())).tolist() if lights_on else ZERO3
    for lx in (x - hw + 0.28, x + hw - 0.28):
        zf, zr = front + heading * 0.02, rear - heading * 0.02
        b.poly(((lx - 0.16, light_y - 0.07, zf), (lx + 0.16, light_y - 0.07, zf), (lx + 0.16, light_y + 0.07, zf),
                (lx - 0.16, light_y + 0.07, zf)), kind, HEADLAMP, (0.0, 0.0, heading),
               glow_night=head)
        b.poly(((lx - 0.14, light_y - 0.06, zr), (lx + 0.14, light_y - 0.06, zr), (lx + 0.14, light_y + 0.08, zr),
                (lx - 0.14, light_y + 0.08, zr)), kind, TAIL_LAMP, (0.0, 0.0, -heading),
               glow_night=tail)
    beams = [(x, 0.65, front, 0.0, 0.0, heading, rng.uniform(25, 45))] if lights_on else []
    return length, beams


def _person(b: Builder, rng: np.random.Generator, x: float, z: float, base: float, along_z: bool,
            label: int = PERSON, seat: float | None = None) -> None:
    """A person standing (or, with `seat` = hip height, riding) at (x, z), facing along z or along x."""
    height = rng.normal(1.72, 0.08) if label == PERSON else rng.normal(1.75, 0.05)
    skin, top, legs = pick(rng, SKIN_COLOURS), pick(rng, CLOTH_COLOURS), pick(rng, CLOTH_COLOURS[:6])

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
           skin if label == PERSON else pick(rng, CLOTH_COLOURS))


def _two_wheeler(b: Builder, rng: np.random.Generator, kind: int, x: float, z: float, heading: float,
                 lights_on: bool) -> None:
    """A bicycle or motorcycle at (x, z) heading +-1 along z, with its rider."""
    tyre = TYRE
    frame = pick(rng, CAR_COLOURS)
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
           TAIL_LAMP, (0.0, 0.0, -heading), glow_night=(3.0, 0.12, 0.05) if lights_on else ZERO3)
    _person(b, rng, x, z - heading * 0.1, 0.0, True, RIDER, seat=0.95 if kind == BICYCLE else 0.9)


_NO_BEAMS = read_only(np.zeros((0, 7), np.float32))


def sample_dynamic(scene: Scene, rng: np.random.Generator, z_range: tuple[float, float], *,
                   keep_clear: Camera | None = None, clear_ahead: float = 10.0) -> list[Thing]:
    """Traffic and pedestrians along z_range = (z_min, z_max) metres of `scene`, drawn from `rng`.

    Moving cars, trucks and buses in both directions (head and tail lights on), parked cars along the kerbs (lights
    off), pedestrians on the sidewalks and on zebra crossings, cyclists and motorcyclists. `keep_clear`: no object is
    placed where it would hit that camera's vehicle: a box 2.4 m wide from 6 m behind to `clear_ahead` metres ahead
    of it (for a drive: the distance driven plus a margin, so the ego lane stays free along the way).
    """
    z_min, z_max = z_range
    b = Builder()
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
