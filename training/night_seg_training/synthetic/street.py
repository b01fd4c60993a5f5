"""The static street of a seed (`make_scene`): one straight street centred on x = 0 with right-hand traffic.

`make_scene` builds the road with lane marks and zebra crossings, kerbs, sidewalks, grass verges, buildings with
window grids, trees, hedges, walls, fences, street lamps, traffic lights and signs from z = -40 to beyond
STREET_LENGTH + VIEW_DISTANCE (metres).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from night_seg_training.synthetic.geometry import (
    ASPHALT,
    BUILDINGS,
    GRASS,
    GROUND,
    PAVING,
    STANDING,
    YARD,
    ZERO3,
    Builder,
    Primitives,
)
from night_seg_training.synthetic.materials import (
    BARK_COLOURS,
    BLUE,
    BUILDING,
    FACADE_COLOURS,
    FENCE,
    FENCE_COLOURS,
    GRASS_COLOURS,
    HOUSINGS,
    KERB,
    LAMP_HEAD,
    LEAF_COLOURS,
    LIGHT_OFF,
    PAINT,
    PAVING_COLOURS,
    POLE,
    POLE_COLOURS,
    RED,
    ROAD,
    SIDEWALK,
    SIGN_BACK,
    TERRAIN,
    TRAFFIC_LIGHT,
    TRAFFIC_SIGN,
    VEGETATION,
    WALL,
    WALL_COLOURS,
    WHITE,
    YELLOW,
    linear,
    pick,
    read_only,
)

STREET_LENGTH = 300.0
"""Cameras may stand anywhere in z = [0, STREET_LENGTH] metres; the street is built VIEW_DISTANCE further."""
VIEW_DISTANCE = 200.0
"""Metres ahead of the camera beyond which objects are not drawn (the road itself runs on to the horizon)."""

STREET_START = -40.0
_STREET_END = STREET_LENGTH + VIEW_DISTANCE + 40.0
SKYLINE_STEP = 0.5             # metres between samples of Scene.skyline

# Columns of Scene.facades: the street face of a building and its window grid (metres, fractions, flags).
(F_X, F_Z0, F_Z1, F_TOP, F_BASE, F_GROUND, F_FLOOR, F_SPACING, F_WIN, F_SILL, F_WIN_H, F_PHASE, F_LIT,
 F_SHOP, F_SEED) = range(15)
FACADE_COLUMNS = 15


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


def _intervals_outside(starts: np.ndarray, length: float, margin: float) -> list[tuple[float, float]]:
    """The z intervals of the street (metres) outside [start - margin, start + length + margin] of each start."""
    intervals, z = [], STREET_START
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


def _road(b: Builder, rng: np.random.Generator, half: float, lanes: int, lane: float, parking: float,
          crossings: np.ndarray, length: float) -> None:
    """Road surface (|x| < half), lane marks (centre line, lane lines between `lanes` lanes of width `lane` per
    direction, edge lines before the parking strips), zebra crossings `length` long at `crossings`, stop lines."""
    grey = rng.uniform(66, 100)
    asphalt = linear((grey, grey, grey + rng.uniform(0, 6)))
    b.ground(-half, half, STREET_START, _STREET_END, 0.0, ROAD, asphalt, ASPHALT)
    paint = PAINT * np.float32(rng.uniform(0.55, 0.95))
    zones = _intervals_outside(crossings, length, 2.5)

    def line(x: float, width: float, dash: float = 0.0, period: float = 0.0) -> None:
        for z0, z1 in zones:
            if not dash:
                b.ground(x - width / 2, x + width / 2, z0, z1, 0.0, ROAD, paint, ASPHALT)
                continue
            z = z0 + rng.uniform(0, period - dash)
            while z + dash < z1:
                b.ground(x - width / 2, x + width / 2, z, z + dash, 0.0, ROAD, paint, ASPHALT)
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
            b.ground(x, x + 0.5, z, z + length, 0.0, ROAD, paint, ASPHALT)
        b.ground(0.0, lanes * lane, z - 2.3, z - 1.9, 0.0, ROAD, paint, ASPHALT)
        b.ground(-lanes * lane, 0.0, z + length + 1.9, z + length + 2.3, 0.0, ROAD, paint, ASPHALT)


def _tree(b: Builder, rng: np.random.Generator, x: float, z: float, base: float, layer: int = STANDING) -> None:
    """A tree at (x, z) on ground at height `base`: trunk box and a crown of overlapping ellipses."""
    trunk_h, trunk_w = rng.uniform(1.8, 3.4), rng.uniform(0.22, 0.4)
    crown = rng.uniform(1.4, 2.8)
    centre_y = base + trunk_h + 0.75 * crown
    b.anchor((x, base + 1.0, z))
    b.box((x - trunk_w / 2, base, z - trunk_w / 2), (x + trunk_w / 2, centre_y, z + trunk_w / 2), VEGETATION,
          pick(rng, BARK_COLOURS, 0.15), layer=layer)
    leaf = pick(rng, LEAF_COLOURS, 0.15)
    b.blob((x, centre_y, z), crown, 0.9 * crown, VEGETATION, leaf * 0.8, layer=layer)
    for _ in range(3 + int(4 * rng.random())):
        dx, dy, dz = (rng.random(3) - 0.5) * (1.1 * crown)
        b.blob((x + dx, centre_y + 0.6 * dy, z + dz), crown * (0.45 + 0.25 * rng.random()),
               crown * (0.4 + 0.2 * rng.random()), VEGETATION, leaf * np.float32(0.7 + 0.55 * rng.random()),
               layer=layer)


def _lamp(b: Builder, x_post: float, x_head: float, z: float, base: float, height: float,
          colour: np.ndarray, lamps: list) -> None:
    """A street lamp: post, arm and head (pole) with a glowing underside; its light source goes into `lamps`."""
    b.anchor((x_post, height / 2, z))
    b.box((x_post - 0.08, base, z - 0.08), (x_post + 0.08, height, z + 0.08), POLE, colour)
    b.box((x_head, height - 0.12, z - 0.05), (x_post, height, z + 0.05), POLE, colour)
    b.box((x_head - 0.35, height - 0.3, z - 0.16), (x_head + 0.35, height - 0.08, z + 0.16), POLE, colour)
    y = height - 0.31
    b.poly(((x_head - 0.3, y, z - 0.12), (x_head + 0.3, y, z - 0.12), (x_head + 0.3, y, z + 0.12),
            (x_head - 0.3, y, z + 0.12)), POLE, LAMP_HEAD, (0.0, -1.0, 0.0), glow_night=(30.0,) * 3,
           tint=1)
    lamps.append((x_head, height - 0.45, z))


def _traffic_light(b: Builder, rng: np.random.Generator, x: float, z: float, base: float, facing: float,
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
            b.blob(centre, 0.1, 0.1, TRAFFIC_LIGHT, LIGHT_OFF if not lit else glow * 0.3,
                   normal=(0.0, 0.0, facing), glow_day=glow * 1.2 if lit else ZERO3,
                   glow_night=glow * 12.0 if lit else ZERO3)


def _sign(b: Builder, rng: np.random.Generator, x: float, z: float, base: float, facing: float,
          pole: np.ndarray) -> None:
    """A traffic sign on its pole at (x, z): a plate (grey back) with a coloured face towards `facing` (+-1 in z)."""
    kind = int(rng.integers(5))
    top = base + rng.uniform(2.2, 2.8)
    size = rng.uniform(0.3, 0.38)
    cy = top + size
    b.anchor((x, 1.5, z))
    b.box((x - 0.04, base, z - 0.04), (x + 0.04, cy, z + 0.04), POLE, pole)
    back, red, white, blue, yellow = SIGN_BACK, RED, WHITE, BLUE, YELLOW
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
        b.poly(triangle(size, z), TRAFFIC_SIGN, back, ZERO3)
        b.poly(triangle(size, zf), TRAFFIC_SIGN, red, normal)
        b.poly(triangle(0.72 * size, zi), TRAFFIC_SIGN, white, normal)
        return
    if kind == 3:  # information rectangle
        def rect(w: float, h: float, zz: float) -> list:
            return [(x - w, cy - h, zz), (x + w, cy - h, zz), (x + w, cy + h, zz), (x - w, cy + h, zz)]
        b.poly(rect(size, 1.2 * size, z), TRAFFIC_SIGN, back, ZERO3)
        b.poly(rect(size, 1.2 * size, zf), TRAFFIC_SIGN, blue, normal)
        b.poly(rect(0.5 * size, 0.5 * size, zi), TRAFFIC_SIGN, white, normal)
        return

    def diamond(s: float, zz: float) -> list:  # priority road
        return [(x, cy - s, zz), (x + s, cy, zz), (x, cy + s, zz), (x - s, cy, zz)]
    b.poly(diamond(1.2 * size, z), TRAFFIC_SIGN, back, ZERO3)
    b.poly(diamond(1.2 * size, zf), TRAFFIC_SIGN, white, normal)
    b.poly(diamond(0.85 * size, zi), TRAFFIC_SIGN, yellow, normal)


def _barrier(b: Builder, rng: np.random.Generator, x: float, z0: float, z1: float, base: float, kind: str) -> None:
    """A hedge, wall or fence along x from z0 to z1 (metres) on ground at height `base`."""
    if kind == 'hedge':
        colour = pick(rng, LEAF_COLOURS, 0.1) * 0.8
        height, z = rng.uniform(0.9, 1.6), z0
        while z < z1:
            step = min(rng.uniform(3.0, 5.0), z1 - z)
            b.anchor((x, 0.8, z + step / 2))
            b.box((x - 0.4, base, z), (x + 0.4, base + height + rng.uniform(-0.1, 0.1), z + step), VEGETATION,
                  colour * np.float32(rng.uniform(0.85, 1.15)))
            z += step
        return
    label = WALL if kind == 'wall' else FENCE
    colour = pick(rng, WALL_COLOURS if kind == 'wall' else FENCE_COLOURS)
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


def _buildings(b: Builder, rng: np.random.Generator, s: float, line: float, base: float, facades: list,
               skyline: np.ndarray) -> None:
    """Front-row buildings (with gaps holding walls, fences and trees) and a taller back row along one side."""
    z = STREET_START - rng.uniform(0, 10)
    palette_offset = int(rng.integers(len(FACADE_COLOURS)))
    while z < _STREET_END:
        if rng.random() < 0.22:
            gap = rng.uniform(3.0, 9.0)
            filler = rng.random()
            if filler < 0.7:
                _barrier(b, rng, s * (line - 0.15), z, z + gap, base, 'wall' if filler < 0.35 else 'fence')
            if rng.random() < 0.6:
                _tree(b, rng, s * (line + rng.uniform(2.0, 4.0)), z + gap / 2, base, layer=BUILDINGS)
            z += gap
            continue
        length = rng.uniform(8.0, 28.0)
        front = line + (0.0 if rng.random() < 0.7 else rng.uniform(0.3, 1.5))
        top = _building(b, rng, s, front, rng.uniform(10, 16), z, z + length, base, facades,
                        FACADE_COLOURS[(palette_offset + int(rng.integers(4))) % len(FACADE_COLOURS)], 2, 7)
        i0, i1 = (int((edge - STREET_START) / SKYLINE_STEP) for edge in (z, z + length))
        skyline[max(i0, 0):max(i1, 0)] = top - base
        z += length
    z = STREET_START - rng.uniform(0, 10)
    back = line + rng.uniform(18.0, 24.0)
    while z < _STREET_END:
        length = rng.uniform(12.0, 40.0)
        _building(b, rng, s, back + rng.uniform(0, 3), 14.0, z, z + length, base, facades,
                  FACADE_COLOURS[int(rng.integers(len(FACADE_COLOURS)))], 3, 10)
        z += length


def _building(b: Builder, rng: np.random.Generator, s: float, front: float, depth: float, z0: float, z1: float,
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
          colour * np.float32(rng.uniform(0.85, 1.1)), layer=BUILDINGS, facade=len(facades) - 1)
    return top


def make_scene(seed: int) -> Scene:
    """The static street of `seed` (deterministic): layout, furniture, buildings, street lamps, skyline."""
    rng = np.random.default_rng(seed)
    b = Builder()
    lanes = int(rng.choice((1, 1, 2)))
    lane_width = float(rng.uniform(3.0, 3.6))
    parking = float(rng.uniform(2.0, 2.5)) if rng.random() < 0.6 else 0.0
    half = lanes * lane_width + parking
    kerb = float(rng.uniform(0.1, 0.16))
    crossing_length = float(rng.uniform(3.0, 4.0))
    crossings = [STREET_START + rng.uniform(25, 60)]
    while crossings[-1] < _STREET_END - 90:
        crossings.append(crossings[-1] + rng.uniform(50, 90))
    crossings = np.array(crossings, np.float32)
    _road(b, rng, half, lanes, lane_width, parking, crossings, crossing_length)

    facades: list[tuple[float, ...]] = []  # Scene.facades rows, in _F_* column order
    lamps: list[tuple[float, float, float]] = []
    skyline = np.zeros((2, int((_STREET_END - STREET_START) / SKYLINE_STEP) + 1), np.float32)
    walkways = np.zeros((2, 2), np.float32)
    building_line = np.zeros(2, np.float32)
    pole_colour = pick(rng, POLE_COLOURS, 0.05)
    housing = HOUSINGS[int(rng.random() < 0.3)]
    lamp_mode = rng.choice(['right', 'left', 'both', 'staggered'], p=[0.3, 0.1, 0.3, 0.3])
    lamp_spacing, lamp_height = rng.uniform(24, 36), rng.uniform(6.5, 9.0)
    lamp_arm = rng.uniform(1.0, 2.2)
    lamp_z = np.arange(STREET_START + rng.uniform(0, lamp_spacing), _STREET_END, lamp_spacing)
    crossing_spans = [(z - 3.0, z + crossing_length + 3.0) for z in crossings]
    light_states = rng.choice(3, size=len(crossings), p=[0.5, 0.1, 0.4])
    kerb_colour = KERB * np.float32(rng.uniform(0.85, 1.05))
    for side_index, s in enumerate((-1.0, 1.0)):
        strip = rng.uniform(1.2, 2.2) if rng.random() < 0.5 else 0.0
        walk = rng.uniform(2.0, 4.5)
        yard = rng.uniform(2.0, 4.5) if rng.random() < 0.35 else 0.0
        inner, outer = half + strip, half + strip + walk
        line = outer + yard
        walkways[side_index] = (inner, outer)
        building_line[side_index] = s * line
        paving, grass = pick(rng, PAVING_COLOURS), pick(rng, GRASS_COLOURS, 0.15)
        b.poly(((s * half, 0.0, STREET_START), (s * half, kerb, STREET_START), (s * half, kerb, _STREET_END),
                (s * half, 0.0, _STREET_END)), SIDEWALK, kerb_colour, (-s, 0.0, 0.0), layer=GROUND)
        if strip:
            for z0, z1 in _intervals_outside(crossings, crossing_length, 1.0):
                b.ground(s * half, s * inner, z0, z1, kerb, TERRAIN, grass, GRASS)
            for z in crossings:
                b.ground(s * half, s * inner, z - 1.0, z + crossing_length + 1.0, kerb, SIDEWALK, paving, PAVING)
        b.ground(s * inner, s * outer, STREET_START, _STREET_END, kerb, SIDEWALK, paving, PAVING)
        b.ground(s * outer, s * (line + 45.0), STREET_START, _STREET_END, kerb, TERRAIN,
                 pick(rng, GRASS_COLOURS, 0.15), GRASS, layer=YARD)
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
        z = STREET_START + rng.uniform(5, 40)
        while z < _STREET_END:
            if occupancy.take(z, 1.0):
                _sign(b, rng, s * (half + 0.35), z, kerb, 1.0 if s < 0 and rng.random() < 0.6 else -1.0,
                      pole_colour)
            z += rng.uniform(25, 60)
        if strip or rng.random() < 0.45:
            x, spacing = (s * (half + strip / 2), rng.uniform(7, 12)) if strip else (s * (half + 0.9),
                                                                                   rng.uniform(9, 16))
            for z in np.arange(STREET_START + rng.uniform(0, spacing), _STREET_END, spacing):
                z = float(z + rng.uniform(-1.0, 1.0))
                if occupancy.take(z, 1.6) and rng.random() < 0.9:
                    _tree(b, rng, x, z, kerb)
        if yard > 2.0 and rng.random() < 0.6:
            for z in np.arange(STREET_START + rng.uniform(0, 10), _STREET_END, rng.uniform(8, 16)):
                if rng.random() < 0.6:
                    _tree(b, rng, s * (outer + yard * 0.6), float(z), kerb)
    for array in (crossings, walkways, building_line, skyline):
        read_only(array)
    return Scene(seed=seed, lanes=lanes, lane_width=lane_width, parking_width=parking, road_half_width=half,
                 kerb_height=kerb, crossing_length=crossing_length, walkways=walkways, building_line=building_line,
                 crossings=crossings, primitives=b.build(),
                 facades=read_only(np.array(facades, np.float32).reshape(-1, FACADE_COLUMNS)),
                 lamps=read_only(np.array(lamps, np.float32).reshape(-1, 3)), skyline=skyline)
