"""A local metric frame around one geodetic point: equirectangular projection, east/north metres <-> degrees.

Over the few kilometres of a recorded drive the equirectangular projection around its first fix is exact to well
under a centimetre per 100 m (the error grows with the square of the distance from the origin), far below GPS noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""


@dataclass(frozen=True)
class LocalFrame:
    """East-north metres around (latitude, longitude) in degrees (WGS 84 read as a sphere of EARTH_RADIUS_M)."""

    latitude: float
    longitude: float

    def to_local(self, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
        """float64 (N, 2) east, north metres of latitudes and longitudes (degrees, (N,) each)."""
        lat, lon = np.asarray(latitude, np.float64), np.asarray(longitude, np.float64)
        east = np.radians(lon - self.longitude) * EARTH_RADIUS_M * math.cos(math.radians(self.latitude))
        north = np.radians(lat - self.latitude) * EARTH_RADIUS_M
        return np.stack([east, north], axis=-1)

    def to_geodetic(self, east_north: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latitudes and longitudes (degrees, float64 (N,) each) of float (N, 2) east, north metres."""
        points = np.asarray(east_north, np.float64)
        latitude = self.latitude + np.degrees(points[..., 1] / EARTH_RADIUS_M)
        longitude = self.longitude + np.degrees(
            points[..., 0] / (EARTH_RADIUS_M * math.cos(math.radians(self.latitude))))
        return latitude, longitude
