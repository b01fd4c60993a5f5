"""The painter's pass of one image: everything is projected through a pinhole `Camera` and drawn far to near.

Each convex polygon or ellipse is filled into one buffer of drawable ids, from which both the image colours and the
label map are looked up (`rendering.render`), so labels are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from night_seg_training.synthetic.geometry import (
    BLOB,
    BOX,
    BUILDINGS,
    FACADE,
    FLAT,
    POLY,
    STANDING,
    Camera,
    Primitives,
)
from night_seg_training.synthetic.lighting import Light, irradiance_at
from night_seg_training.synthetic.materials import SKY
from night_seg_training.synthetic.street import VIEW_DISTANCE

_NEAR = 0.3                     # metres: polygons are clipped to camera depth >= _NEAR

# Box corners (bit 0: x, bit 1: y, bit 2: z high) and faces: corner indices in cyclic order, outward normal.
_CORNER_BITS = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], np.float32)
_FACE_CORNERS = np.array([[0, 2, 6, 4], [1, 3, 7, 5], [0, 1, 5, 4], [2, 3, 7, 6], [0, 1, 3, 2], [4, 5, 7, 6]])
_FACE_NORMALS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]], np.float32)


@dataclass(frozen=True, eq=False)
class View:
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
    def of(camera: Camera, height: int, width: int) -> View:
        focal = (width / 2) / math.tan(math.radians(camera.hfov_deg) / 2)
        u0, v0 = (width - 1) / 2, 0.45 * height
        cos, sin = math.cos(camera.yaw), math.sin(camera.yaw)
        a = (np.arange(width, dtype=np.float32) - u0) / focal
        return View(camera, height, width, focal, u0, v0, cos, sin, (cos * a + sin).astype(np.float32),
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


def visible(prims: Primitives, view: View, night: bool) -> np.ndarray:
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
    ones), label uint8 (D + 1,) and surface kind uint16 (D + 1,) (FACADE + i: the building front facade_rows[i]);
    emitters: world position float32 (E, 3) and radiance float32 (E, 3) of what glows brightly at night."""

    ids: np.ndarray
    colour: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    facade_rows: np.ndarray
    emitters: tuple[np.ndarray, np.ndarray]


def draw_primitives(prims: Primitives, view: View, light: Light) -> _Drawing:
    """Painter's algorithm: fill every visible box face, polygon and ellipse of `prims` into one id buffer in layer
    order, far to near within the sorted layers, so the last drawable at a pixel is the one seen there; colour,
    label and surface kind come from per-drawable tables, so image and labels agree exactly."""
    camera = view.position
    dist = np.linalg.norm(prims.anchor - camera, axis=1)
    sorted_layer = (prims.layer == BUILDINGS) | (prims.layer == STANDING)
    order = np.lexsort((np.arange(len(prims)), np.where(sorted_layer, -dist, 0.0), prims.layer))
    rank = np.empty(len(prims), np.int64)
    rank[order] = np.arange(len(prims))

    # Visible box faces: the camera is outside the face's slab on the normal's side.
    boxes = np.flatnonzero(prims.shape == BOX)
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
    polys = np.flatnonzero((prims.shape == POLY) & seen)
    blobs = np.flatnonzero((prims.shape == BLOB) & seen)

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
    flat = (surface == FLAT) & ~is_front
    colour = albedo.copy()
    if np.any(flat):
        shaded = albedo[flat] * irradiance_at(light, centers[flat], normals[flat]) + glow[flat]
        if light.haze:
            fade = 1.0 - np.exp(-np.linalg.norm(centers[flat] - camera, axis=1) / light.haze)
            shaded = shaded * (1 - fade[:, None]) + light.sky_horizon * fade[:, None]
        colour[flat] = shaded
    kind = np.where(flat, FLAT, surface).astype(np.uint16)
    kind[is_front] = FACADE + local

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
                    np.concatenate(([FLAT], kind)).astype(np.uint16), rows, (centers[bright], glow[bright]))


def object_shadows(prims: Primitives, view: View, light: Light, shade: np.ndarray) -> None:
    """Fill the ground shadows of the standing boxes and blobs within 80 m into `shade` (uint8 (H, W), 1 = shadow)."""
    standing = np.flatnonzero((prims.layer == STANDING) & (prims.shape != POLY)
                              & (np.linalg.norm(prims.center - view.position, axis=1) < 80.0))
    if not len(standing):
        return
    points = prims.points[standing]
    blob = prims.shape[standing] == BLOB
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
