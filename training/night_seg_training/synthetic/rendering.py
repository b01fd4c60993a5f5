"""`render`: one image and its exact label map of a street, its traffic and a camera, by day or by night.

Shading is in linear RGB (1 = a white surface in full sun). Day: sun with cast shadows, sky light, haze, sky gradient
with clouds, world-anchored textures. Night: the same geometry under dim blue ambient light, street lamps lighting
pools, lit windows, head lights (with beams) and tail lights, the ego car's low beam, light-pollution glow, wet-road
reflections, bloom and glare, vignetting, blur and shot + read noise.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import cv2
import numpy as np

from night_seg_ros.errors import NightSegError
from night_seg_training.synthetic.drawing import View, draw_primitives, object_shadows, visible
from night_seg_training.synthetic.geometry import ASPHALT, FACADE, Camera, Primitives
from night_seg_training.synthetic.lighting import Light, building_shadow, day_light, irradiance_at, night_light
from night_seg_training.synthetic.materials import (
    CURTAIN,
    GLASS,
    SKY,
    TERRAIN,
    VEGETATION,
    WINDOW_COLD,
    WINDOW_WARM,
    read_only,
)
from night_seg_training.synthetic.street import (
    F_BASE,
    F_FLOOR,
    F_GROUND,
    F_LIT,
    F_PHASE,
    F_SEED,
    F_SHOP,
    F_SILL,
    F_SPACING,
    F_TOP,
    F_WIN,
    F_WIN_H,
    F_X,
    F_Z0,
    F_Z1,
    FACADE_COLUMNS,
    Scene,
)
from night_seg_training.synthetic.traffic import Thing

TIMES_OF_DAY: tuple[str, ...] = ('day', 'night')


class SynthError(NightSegError, ValueError):
    """A bad argument to the generator (split, image size, seed, index, count, time of day), named with what is
    allowed."""


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
    return read_only(np.clip(np.stack((asphalt, paving, grass, plaster)), 0.3, 1.8).astype(np.float32))


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


def _lowres(view: View, columns: int = 64) -> tuple[int, int]:
    """Size (h, w) of a coarse grid over the image with about `columns` columns (for smooth light effects)."""
    step = max(1, round(view.width / columns))
    return -(-view.height // step), -(-view.width // step)


def _night_maps(view: View, light: Light, size: tuple[int, int]) -> np.ndarray:
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
    small = irradiance_at(light, points, np.concatenate((up, facade_normal.reshape(-1, 3)))).reshape(2, h, w, 3)
    maps = cv2.resize(np.concatenate(small, axis=2), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(maps.transpose(2, 0, 1))


def _surfaces(hdr: np.ndarray, kind: np.ndarray, view: View, light: Light, facades: np.ndarray,
              shade: np.ndarray | None) -> None:
    """Per-pixel shading, in place, of the pixels drawn as albedo: ground (world-anchored textures, shadows, lamp
    pools) and building fronts (plaster, cornices, window grids: glass by day, some windows lit by night).

    hdr float32 (H, W, 3) linear RGB (albedo already times the exposure); kind uint16 (H, W) surface kinds; facades
    float32 (M, 15) the Scene.facades rows of kinds FACADE + 0..M-1; shade uint8 (H, W) object shadows (day) or
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

    ground = (block >= ASPHALT) & (block < FACADE)
    if ground.any():
        y = np.where(block == ASPHALT, np.float32(0.0), np.float32(light.scene.kerb_height))
        t = (y - np.float32(cam.height)) / np.minimum(ry, np.float32(-1e-4))[:, None]
        x, z = cam.x + t * rx, cam.z + t * rz
        layer = np.clip(block.astype(np.int32) - ASPHALT, 0, 2)
        texel = ((layer << 18) | (((z * 32 + 65536).astype(np.int32) & 511) << 9)
                 | ((x * 32 + 65536).astype(np.int32) & 511))
        texture = np.take(textures, texel)
        if light.night:
            lit = maps[:3] * texture
        else:
            dark = building_shadow(light, x, y, z) | (shade[::2, ::2] > 0)
            lit = (light.ambient[:, None, None] + light.sun_rgb[:, None, None] * (light.sun[1] * ~dark)) * texture
        add = np.zeros((3, h, w), np.float32)
        if light.haze:
            fade = 1.0 - np.exp(-t / np.float32(light.haze))
            lit, add = lit * (1 - fade), horizon * fade
        gain, extra = np.where(ground, lit, gain), np.where(ground, add, extra)

    front = block >= FACADE
    if front.any():
        local = np.where(front, block.astype(np.int32) - FACADE, 0)
        p = [np.take(column, local) for column in np.ascontiguousarray(facades.T)]
        t = (p[F_X] - cam.x) / np.where(np.abs(rx) > 1e-4, rx, np.float32(1e-4))
        y, z = cam.height + t * ry[:, None], cam.z + t * rz
        spacing, above = p[F_SPACING], y - p[F_BASE]
        bay = (z - p[F_Z0] - p[F_PHASE]) / spacing
        column = np.floor(bay)
        across = np.abs(bay - column - 0.5) * spacing
        upper = above >= p[F_GROUND]
        storey = (above - p[F_GROUND]) / p[F_FLOOR]
        level = np.floor(storey)
        in_row = (storey - level > p[F_SILL]) & (storey - level < p[F_SILL] + p[F_WIN_H])
        inside = (z > p[F_Z0] + 0.7) & (z < p[F_Z1] - 0.7) & (y < p[F_TOP] - 0.7)
        shop = p[F_SHOP] > 0.5
        ground_window = ~upper & (above > 0.6) & (above < p[F_GROUND] - 0.6) & np.where(
            shop, across < spacing / 2 - 0.25, (across < p[F_WIN] / 2) & (above > 1.0))
        window = inside & ((upper & in_row & (across < p[F_WIN] / 2)) | ground_window)
        pick, tone = _hash2(column, np.where(upper, level, np.float32(-1)), p[F_SEED].astype(np.uint32))
        texel = ((3 << 18) | (((y * 16 + 65536).astype(np.int32) & 511) << 9)
                 | ((z * 16 + 65536).astype(np.int32) & 511))
        wall = np.take(textures, texel) * np.where(
            (np.abs(above - p[F_GROUND]) < 0.15) | (y > p[F_TOP] - 0.35), np.float32(0.7), np.float32(1.0))
        if light.night:
            lit = window & (pick < np.where(~upper & shop, np.float32(0.6), p[F_LIT] * np.float32(light.windows)))
            warm = np.where(tone > 0.92, WINDOW_COLD[:, None, None], WINDOW_WARM[:, None, None]) * exposure
            light_in = maps[3:]
            on = light_in * np.where(window, np.float32(0), wall)
            add = light_in * (np.float32(0.015) * exposure * window) + warm * (lit * (0.05 + 0.3 * tone * tone))
        else:
            glass = (GLASS[:, None, None] + light.sky_horizon[:, None, None] * (0.08 + 0.3 * tone)) * exposure
            pane = np.where(pick > 0.85, CURTAIN[:, None, None] * exposure, glass)
            sunny = np.maximum(-np.sign(p[F_X]) * light.sun[0], 0.0) * ~building_shadow(light, p[F_X], y, z)
            irradiance = 0.8 * light.ambient[:, None, None] + light.sun_rgb[:, None, None] * sunny
            fade = 1.0 - np.exp(-np.abs(t) / np.float32(light.haze))
            on = irradiance * np.where(window, np.float32(0), wall) * (1 - fade)
            add = irradiance * (pane * window) * (1 - fade) + horizon * fade
        gain, extra = np.where(front, on, gain), np.where(front, add, extra)

    height, width = kind.shape
    up = [cv2.resize(cv2.merge(list(plane)), (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST)[:height, :width]
          for plane in (gain, extra)]
    cv2.copyTo(hdr * up[0] + up[1], (kind >= ASPHALT).astype(np.uint8), hdr)


def _sky(view: View, light: Light, rng: np.random.Generator) -> np.ndarray:
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


def _reflections(emitters: tuple[np.ndarray, np.ndarray], view: View, light: Light,
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


def _bloom(hdr: np.ndarray, view: View, strength: float) -> np.ndarray:
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
    return read_only(np.round(255 * shoulder ** (1 / 2.2)).astype(np.uint8))


@functools.lru_cache(maxsize=8)
def _radius2(height: int, width: int) -> np.ndarray:
    """Squared distance from the image centre float32 (H, W), 1 at the corners (read-only)."""
    y = (np.arange(height, dtype=np.float32) - (height - 1) / 2) / (height / 2)
    x = (np.arange(width, dtype=np.float32) - (width - 1) / 2) / (width / 2)
    return read_only((y[:, None] ** 2 + x[None, :] ** 2) / 2)


@functools.lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """2^22 standard normal samples, float32 (read-only): sensor noise is a random window of it (sampling normals
    anew per pixel would cost several milliseconds per image)."""
    return read_only(np.random.default_rng(7).standard_normal(1 << 22, np.float32))


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
read_only(_GRAIN)


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
        raise SynthError(f'time_of_day {time_of_day!r}; allowed: {", ".join(TIMES_OF_DAY)}')
    if height < 8 or width < 8:
        raise SynthError(f'image size {height}x{width} (height x width); both must be >= 8 pixels')
    view = View.of(camera, height, width)
    night = time_of_day == 'night'
    look = rng if lighting is None else lighting
    light = night_light(scene, dynamic, camera, look, lighting is not None) if night else day_light(scene, look)
    parts = [scene.primitives.rows(visible(scene.primitives, view, night))]
    parts += [thing.primitives for thing in dynamic]
    prims = Primitives.concat(parts)
    if len(dynamic):
        prims = prims.rows(visible(prims, view, night))
    drawing = draw_primitives(prims, view, light)
    label = np.take(drawing.label, drawing.ids)
    kind = np.take(drawing.kind, drawing.ids)
    hdr = np.take(drawing.colour * light.exposure, drawing.ids, axis=0)    # (H, W, 3) linear, exposed
    cv2.copyTo(_sky(view, light, look), (drawing.ids == 0).view(np.uint8), hdr)
    shade = None
    if not night:
        shade = np.zeros((height, width), np.uint8)
        object_shadows(prims, view, light, shade)
    _surfaces(hdr, kind, view, light, scene.facades[drawing.facade_rows].reshape(-1, FACADE_COLUMNS), shade)

    grain = cv2.resize(look.random((max(2, height // 3), max(2, width // 3)), np.float32), (width, height),
                       interpolation=cv2.INTER_LINEAR)
    gain = (1.0 + np.take(_GRAIN, label) * (grain - 0.5)) * (1.0 - light.vignette * _radius2(height, width))
    hdr *= cv2.merge((gain, gain, gain))
    if night and light.wet:
        hdr += _reflections(drawing.emitters, view, light, kind == ASPHALT)
    if night:
        hdr += _bloom(hdr, view, light.bloom)
    hdr = cv2.GaussianBlur(hdr, (0, 0), light.blur * math.sqrt(width / 512))
    shot, read = light.noise
    hdr += cv2.sqrt(np.maximum(hdr, 0.0) * np.float32(shot) + np.float32(read)) * _unit_noise(rng, hdr.shape)
    index = (cv2.sqrt(np.clip(hdr, 0.0, 3.99)) * 2048).astype(np.intp)
    return np.take(_tone_lut(), index), label
