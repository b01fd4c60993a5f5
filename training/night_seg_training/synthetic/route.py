"""The synthetic drive's route on the globe and the GPS receiver that measures it (numpy only, no rendering).

World coordinates of the street generator are metres, x right of the street centre and z along it. The street is
placed on the globe with its z = 0, x = 0 point at ROUTE_ORIGIN and +z pointing ROUTE_BEARING_DEG clockwise from
north, so a bag's NavSatFix positions are real latitudes and longitudes that the pairing code projects back.

`PassPath` is where the camera of one pass of the route is at each time (lane offset, a slow lateral and heading
sway, constant speed). `gps_errors` models a consumer receiver: each of east and north is the sum of a first-order
Gauss-Markov process (standard deviation `sigma` metres, time constant `tau` seconds: the slowly wandering error of
multipath and atmosphere, correlated over tens of seconds) and a small white jitter (WHITE_SIGMA_M).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from night_seg_training.geodesy import LocalFrame

ROUTE_ORIGIN = LocalFrame(latitude=47.3769, longitude=8.5417)
"""Geodetic position (degrees) of the street's x = 0, z = 0 point (a place in Zurich; the street is synthetic)."""
ROUTE_ALTITUDE_M = 408.0
"""Altitude of the street above the WGS 84 ellipsoid (metres) written into the fixes."""
ROUTE_BEARING_DEG = 30.0
"""Compass bearing of the street's +z direction (degrees clockwise from north)."""
WHITE_SIGMA_M = 0.25
"""Standard deviation (metres, per axis) of the uncorrelated part of the GPS error."""


@dataclass(frozen=True)
class PassPath:
    """The camera path of one pass along the street: z = start + speed * t, x = lane_x + lateral + sway.

    lateral: metres right of the lane centre; sway: amplitude (metres) and phase (radians) of a 0.6 rad/s lateral
    sine; yaw: constant offset and 0.45 rad/s sine amplitude (radians) with its phase. Times are seconds.
    """

    lane_x: float
    start: float
    speed: float
    lateral: float = 0.0
    sway: float = 0.12
    sway_phase: float = 0.0
    yaw_offset: float = 0.0
    yaw_sway: float = math.radians(0.4)
    yaw_phase: float = 0.0

    def pose(self, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, z (metres) and yaw (radians, positive towards +x) at `seconds`, float64 (N,) each."""
        t = np.asarray(seconds, np.float64)
        x = self.lane_x + self.lateral + self.sway * np.sin(0.6 * t + self.sway_phase)
        z = self.start + self.speed * t
        yaw = self.yaw_offset + self.yaw_sway * np.sin(0.45 * t + self.yaw_phase)
        return x, z, yaw


def world_to_enu(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """float64 (N, 2) east, north metres from ROUTE_ORIGIN of world x, z metres ((N,) each)."""
    bearing = math.radians(ROUTE_BEARING_DEG)
    x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
    return np.stack([z * math.sin(bearing) + x * math.cos(bearing),
                     z * math.cos(bearing) - x * math.sin(bearing)], axis=-1)


def yaw_to_enu_heading(yaw: np.ndarray) -> np.ndarray:
    """ENU heading (radians counter-clockwise from east, float64 (N,)) of camera yaws (radians towards +x)."""
    bearing = math.radians(ROUTE_BEARING_DEG) + np.asarray(yaw, np.float64)  # clockwise from north
    return np.pi / 2 - bearing


def gps_errors(count: int, rate_hz: float, sigma: float, tau: float, rng: np.random.Generator) -> np.ndarray:
    """float64 (count, 2) east, north GPS errors (metres) of fixes `1 / rate_hz` seconds apart.

    Per axis: a stationary first-order Gauss-Markov process e[k] = phi e[k-1] + sqrt(1 - phi^2) sigma w[k] with
    phi = exp(-dt / tau) (the first sample drawn from N(0, sigma^2)), plus white N(0, WHITE_SIGMA_M^2) jitter;
    sigma = 0 gives the jitter alone.
    """
    if sigma < 0 or tau <= 0 or rate_hz <= 0:
        raise ValueError(f'GPS noise sigma {sigma} m, tau {tau} s, rate {rate_hz} Hz; need sigma >= 0, tau > 0, '
                         'rate > 0')
    phi = math.exp(-1.0 / (rate_hz * tau))
    shocks = rng.standard_normal((count, 2)) * sigma
    shocks[1:] *= math.sqrt(1.0 - phi * phi)
    errors = np.empty((count, 2), np.float64)
    state = np.zeros(2)
    for index in range(count):
        state = phi * state + shocks[index] if index else shocks[0]
        errors[index] = state
    return errors + rng.standard_normal((count, 2)) * WHITE_SIGMA_M
