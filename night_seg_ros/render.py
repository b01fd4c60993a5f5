"""Palette colour masks and overlays at the output size, and PNG files of images.

`FrameRenderer` is the CPU path of the node's rendering: class ids and confidence at the network's size in, the
outputs at the output size out, written into the caller's buffers (a message's data) with OpenCV, so a frame costs
no full-size temporaries beyond the few the renderer keeps and reuses. Upsampling is nearest-neighbour
(INTER_NEAREST_EXACT, pixel centres) for ids and colours and bilinear for confidence; the overlay blends the palette
onto the camera image with cv2.addWeighted and keeps the camera pixel where the label is IGNORE_INDEX.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

    Where `labels` (uint8 (H, W)) is IGNORE_INDEX the camera pixel is kept unblended, so "unknown" stays visible
    (a masked copy: cv2.copyTo).
    """
    if camera.shape != color.shape:
        raise ValueError(f'camera {camera.shape} and color {color.shape} must have the same shape')
    out = cv2.addWeighted(camera, 1.0 - alpha, color, alpha, 0.0, dst=dst)
    if labels is not None:
        cv2.copyTo(camera, cv2.compare(labels, IGNORE_INDEX, cv2.CMP_EQ), out)
    return out


def nearest_rows(source: int, target: int) -> np.ndarray:
    """intp (target,): the source row of each of `target` rows, as cv2.INTER_NEAREST_EXACT picks it (pixel centres)."""
    rows = np.arange(source, dtype=np.float32)[:, None]
    return cv2.resize(rows, (1, target), interpolation=cv2.INTER_NEAREST_EXACT)[:, 0].astype(np.intp)


def resize_nearest(small: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """uint8 (h, w[, c]) -> `dst`'s (H, W[, c]), exactly as cv2.resize with INTER_NEAREST_EXACT, written into `dst`.

    Nearest-neighbour is separable: the columns are resized by OpenCV at the small height, then whole rows are
    copied (np.take), which costs far less than OpenCV's per-pixel pass when the output is much taller (a 1080-row
    camera from a 64-row network: about a sixth of the time here).
    """
    height, width = dst.shape[:2]
    columns = cv2.resize(small, (width, small.shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)
    return np.take(columns, nearest_rows(small.shape[0], height), axis=0, out=dst)


@dataclass(frozen=True)
class RenderSettings:
    """What a frame is rendered with, taken once when it is inferred (a live change lands on the next frame).

    confidence_threshold: 0-1; pixels below it are labelled IGNORE_INDEX. overlay_alpha: 0-1 weight of the palette.
    """

    confidence_threshold: float = 0.0
    overlay_alpha: float = 0.5


class FrameRenderer:
    """The CPU path: one frame's outputs from its network-size labels and confidence, into the caller's buffers.

    The upsampled ids (for the labels and the overlay's mask) and the upsampled palette image (for the color output
    and the overlay) are computed once per frame into buffers the renderer keeps between frames. Used from one thread
    at a time (the node's publishing stage, the bag tool's writer).
    """

    def __init__(self, palette: Sequence[Sequence[int]], confidence_encoding: str) -> None:
        """Set up for `palette` (RGB per class id) and confidence as 'mono8' (0-255) or '32FC1' (0-1)."""
        self.lut_rgb = palette_lut(palette)
        self.confidence_encoding = confidence_encoding
        self._scratch: dict[str, np.ndarray] = {}
        self._frame_of: dict[str, object] = {}  # scratch buffer name -> the frame it holds

    def _upsampled(self, name: str, frame: object, small: Callable[[], np.ndarray], size: tuple[int, int],
                   channels: tuple[int, ...] = ()) -> np.ndarray:
        """uint8 (h, w, *channels) `small()` of `frame` at size = (H, W), nearest-neighbour, computed once per frame
        into a buffer the renderer keeps (read it, do not keep it)."""
        buffer = self._buffer(name, (*size, *channels))
        if self._frame_of.get(name) is not frame:
            resize_nearest(small(), buffer)
            self._frame_of[name] = frame
        return buffer

    @staticmethod
    def into(dst: np.ndarray | None, image: np.ndarray) -> np.ndarray:
        """`image` copied into `dst`, or a copy of it when `dst` is None."""
        if dst is None:
            return image.copy()
        np.copyto(dst, image)
        return dst

    def labels(self, frame: object, labels: np.ndarray, size: tuple[int, int],
               dst: np.ndarray | None = None) -> np.ndarray:
        """uint8 (h, w) class ids -> uint8 (H, W) ids at size, into `dst` or a new array.

        `frame` identifies the frame (any object, the same for all its outputs): its other outputs reuse the work.
        """
        return self.into(dst, self._ids(frame, labels, size))

    def color(self, frame: object, labels: np.ndarray, size: tuple[int, int],
              dst: np.ndarray | None = None) -> np.ndarray:
        """uint8 (h, w) class ids -> uint8 (H, W, 3) RGB palette image at size (looked up at (h, w), then upsampled)."""
        return self.into(dst, self._colors(frame, labels, size))

    def _ids(self, frame: object, labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return self._upsampled('ids', frame, lambda: labels, size)

    def _colors(self, frame: object, labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return self._upsampled('colors', frame, lambda: colorize(labels, self.lut_rgb), size, (3,))

    def overlay(self, frame: object, camera_bgr: np.ndarray, labels: np.ndarray, alpha: float, threshold: bool,
                dst: np.ndarray | None = None) -> np.ndarray:
        """uint8 (H, W, 3) BGR camera blended with the palette of uint8 (h, w) ids, into `dst` or a new array; the
        camera pixel is kept where an id is IGNORE_INDEX (which only a confidence threshold above 0 gives)."""
        size = camera_bgr.shape[:2]
        color_bgr = cv2.cvtColor(self._colors(frame, labels, size), cv2.COLOR_RGB2BGR,
                                 dst=self._buffer('color_bgr', (*size, 3)))
        return blend(camera_bgr, color_bgr, alpha, self._ids(frame, labels, size) if threshold else None, dst)

    def confidence(self, confidence: np.ndarray, size: tuple[int, int], dst: np.ndarray | None = None) -> np.ndarray:
        """float32 (h, w) 0-1 -> (H, W) at size, bilinear: uint8 0-255 (rounded at (h, w)) for mono8, else float32."""
        if self.confidence_encoding == 'mono8':
            confidence = cv2.convertScaleAbs(confidence, alpha=255.0)  # rounds half to even, as np.rint
        return cv2.resize(confidence, size[::-1], dst=dst, interpolation=cv2.INTER_LINEAR)

    def camera_bgr(self, pixels: np.ndarray, order: str) -> np.ndarray:
        """uint8 (H, W, 3) camera pixels in `order` ('rgb' or 'bgr') as BGR: the pixels themselves, or a kept copy."""
        if order == 'bgr':
            return pixels
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR, dst=self._buffer('camera_bgr', pixels.shape))

    def _buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Scratch buffer `name` of uint8 `shape`, allocated again (and forgotten as any frame's) when it changes."""
        buffer = self._scratch.get(name)
        if buffer is None or buffer.shape != shape:
            buffer = self._scratch[name] = np.empty(shape, np.uint8)
            self._frame_of.pop(name, None)
        return buffer


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
