"""The light of one image (linear RGB, 1 = a white surface in full sun) and the irradiance it casts on surfaces.

Day: sun with the front-row buildings' cast shadows, sky light, haze. Night: dim blue ambient light, street lamps
(sodium or LED, per image) lighting pools, head lights with their beams, the ego car's low beam, light-pollution
glow, and the camera response (exposure, vignetting, blur, shot + read noise, bloom, wet roads).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from night_seg_training.synthetic.geometry import Camera
from night_seg_training.synthetic.materials import HEADLIGHT, LAMP_COLOURS, linear, read_only
from night_seg_training.synthetic.street import SKYLINE_STEP, STREET_START, Scene
from night_seg_training.synthetic.traffic import Thing

_LAMP_REACH = (-25.0, 110.0)    # street lamps lighting the scene: camera z + this range, metres
_BEAM_REACH = (-15.0, 70.0)     # vehicles whose head lights light the scene: camera z + this range, metres


@dataclass(frozen=True, eq=False)
class Light:
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


def day_light(scene: Scene, rng: np.random.Generator) -> Light:
    """Sun and sky of one day image: elevation, side, strength (overcast sometimes), haze, exposure."""
    elevation = math.radians(rng.uniform(18, 60))
    azimuth = math.radians(rng.uniform(25, 155)) * rng.choice([-1.0, 1.0])
    sun = np.array((math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                    math.cos(elevation) * math.cos(azimuth)), np.float32)
    overcast = rng.random() < 0.25
    strength = rng.uniform(0.12, 0.3) if overcast else rng.uniform(0.75, 1.05)
    ambient = rng.uniform(0.5, 0.65) if overcast else rng.uniform(0.26, 0.4)
    horizon = linear((rng.uniform(180, 215), rng.uniform(195, 222), rng.uniform(215, 235)))
    zenith = linear((196, 198, 204)) if overcast else linear((rng.uniform(60, 110), rng.uniform(120, 160),
                                                          rng.uniform(200, 240)))
    return Light(
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
    return read_only(rng.uniform(0.8, 1.2, (len(scene.lamps), 1)).astype(np.float32))


def night_light(scene: Scene, dynamic: Sequence[Thing], camera: Camera, rng: np.random.Generator,
                 steady: bool = False) -> Light:
    """Night lighting of one image: lamp colour cast, lamp beams near the camera, head lights, camera response.

    steady: each lamp keeps its own brightness (`_lamp_gains`) instead of one drawn per image, so the same `rng`
    state gives the same lighting wherever the camera stands (a drive).
    """
    options = [np.array(colour, np.float32) for colour, _ in LAMP_COLOURS]
    lamp_rgb = options[int(rng.choice(len(options), p=[p for _, p in LAMP_COLOURS]))]
    near = (scene.lamps[:, 2] > camera.z + _LAMP_REACH[0]) & (scene.lamps[:, 2] < camera.z + _LAMP_REACH[1])
    lamps = scene.lamps[near]
    power = rng.uniform(16, 32)
    gains = _lamp_gains(scene)[near] if steady else rng.uniform(0.8, 1.2, (len(lamps), 1))
    beams = [np.concatenate([lamps, np.zeros_like(lamps), power * gains * lamp_rgb], axis=1)]
    heads = [thing.beams for thing in dynamic if len(thing.beams)]
    if heads:
        head = np.concatenate(heads)
        ahead = (head[:, 2] > camera.z + _BEAM_REACH[0]) & (head[:, 2] < camera.z + _BEAM_REACH[1])
        beams.append(np.concatenate([head[ahead, :6], head[ahead, 6:7] * HEADLIGHT], axis=1))
    forward = (math.sin(camera.yaw), 0.0, math.cos(camera.yaw))
    ego = (camera.x + 1.6 * forward[0], 0.65, camera.z + 1.6 * forward[2])
    beams.append(np.array([[*ego, *forward, *(rng.uniform(12, 25) * HEADLIGHT)]], np.float32))
    table = np.concatenate(beams).astype(np.float32)
    spot = np.any(table[:, 3:6] != 0, axis=1)
    glow_strength = rng.uniform(0.02, 0.06)
    lamp_share = rng.uniform(0.3, 0.8)
    wb = lamp_rgb ** -rng.uniform(0.0, 0.3)
    return Light(
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


def building_shadow(light: Light, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Whether world points (metres, float arrays of one shape) lie in the shadow of the front-row buildings on the
    sun's side of the street (their skyline, seen along the sun direction)."""
    sun = light.sun
    side = 1 if sun[0] > 0 else 0
    wall = light.scene.building_line[side]
    t = (wall - x) / (sun[0] if abs(sun[0]) > 1e-3 else 1e-3)
    height = y + t * sun[1]
    index = ((z + t * sun[2] - STREET_START) / SKYLINE_STEP).astype(np.int32)
    skyline = light.scene.skyline[side]
    return (t > 0) & (height < skyline[np.clip(index, 0, len(skyline) - 1)] + light.scene.kerb_height)


def irradiance_at(light: Light, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Linear RGB irradiance float32 (N, 3) at world points (N, 3) with unit normals (N, 3) (zero = any direction).

    Day: sky light plus sun (with building shadows). Night: ambient plus every beam: street lamps shine downward
    (cut-off luminaires), head lights are low-beam spots (sharp upper cut-off), both falling off with distance^2.
    """
    omni = ~np.any(normals != 0, axis=1)
    up = np.where(omni, 0.5, normals[:, 1])
    if not light.night:
        cos_sun = np.where(omni, 0.55, np.maximum(normals @ light.sun, 0.0))
        lit = ~building_shadow(light, points[:, 0], points[:, 1], points[:, 2])
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
