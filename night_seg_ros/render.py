"""Palette colour masks and overlays, vectorised (numpy lookup tables and OpenCV blends), and PNG files of images."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.files import atomic_write_bytes


def palette_lut(palette: Sequence[Sequence[int]], unknown_color: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """A 256-entry colour lookup table, uint8 (256, 3) RGB: class id -> palette colour, any other id -> unknown_color.

    Ids beyond the palette (including IGNORE_INDEX = 255, "below the confidence threshold") get `unknown_color`.
    """
    if len(palette) > IGNORE_INDEX:
        raise ValueError(f'palette has {len(palette)} colours; at most {IGNORE_INDEX} fit uint8 labels')
    lut = np.empty((256, 3), np.uint8)
    lut[:] = unknown_color
    lut[:len(palette)] = np.asarray(palette, np.uint8).reshape(-1, 3)
    return lut


def colorize(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """uint8 (H, W) class ids -> uint8 (H, W, 3) colours from a `palette_lut` table (RGB, or BGR if the lut is).

    cv2.LUT maps each channel of a 3-channel image through its own table: several times faster than lut[labels].
    """
    return cv2.LUT(cv2.merge((labels, labels, labels)), lut.reshape(256, 1, 3))


def blend(camera: np.ndarray, color: np.ndarray, alpha: float, labels: np.ndarray | None = None,
          dst: np.ndarray | None = None) -> np.ndarray:
    """(1 - alpha) * camera + alpha * color, uint8 (H, W, 3) each, same channel order, written to `dst` or a new array.

    Where `labels` (uint8 (H, W)) is IGNORE_INDEX the camera pixel is kept unblended, so "unknown" stays visible.
    """
    if camera.shape != color.shape:
        raise ValueError(f'camera {camera.shape} and color {color.shape} must have the same shape')
    out = cv2.addWeighted(camera, 1.0 - alpha, color, alpha, 0.0, dst=dst)
    if labels is not None:
        np.copyto(out, camera, where=(labels == IGNORE_INDEX)[..., None])
    return out


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write uint8 (H, W) grey or class ids, or uint8 (H, W, 3) BGR, as a PNG file; return its path.

    Written atomically (a reader sees the old file or the new one), folders created. OSError when OpenCV cannot
    encode the image or the file cannot be written.
    """
    path = Path(path)
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'OpenCV cannot encode a {image.dtype} {image.shape} image as PNG for {path}')
    atomic_write_bytes(path, encoded.tobytes())
    return path
