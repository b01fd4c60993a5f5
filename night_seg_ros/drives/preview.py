"""Previews of processed drives: an MP4 that keeps the drive's timing, and a contact sheet of sampled frames.

The contact sheet is written as PNG with `render.write_png`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX


class Mp4Writer:
    """MP4 (mp4v) video of BGR frames placed at their stamps: a frame is shown until the next one's stamp.

    Frames that arrive at a lower rate than `fps` (a live node dropping frames) are repeated, so the video lasts as
    long as the drive did.
    """

    def __init__(self, path: str | Path, fps: float = 10.0) -> None:
        """Prepare `path` (folders are created); the file is opened at the first frame, when its size is known."""
        if fps <= 0:
            raise ValueError(f'fps {fps}; must be > 0')
        self.path = Path(path)
        self.fps = fps
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._first_ns: int | None = None
        self._last: np.ndarray | None = None

    def write(self, bgr: np.ndarray, stamp_ns: int) -> None:
        """Add uint8 (H, W, 3) BGR frame `bgr` taken at `stamp_ns` (nanoseconds, not decreasing)."""
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = bgr.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (width, height))
            if not self._writer.isOpened():
                raise OSError(f'OpenCV cannot write MP4 (mp4v) video to {self.path}')
            self._first_ns = stamp_ns
        slot = round((stamp_ns - self._first_ns) * 1e-9 * self.fps)
        while self._last is not None and self.frames_written < slot:
            self._emit(self._last)
        self._last = bgr

    def _emit(self, bgr: np.ndarray) -> None:
        self._writer.write(bgr)
        self.frames_written += 1

    def close(self) -> None:
        """Write the last frame and finish the file."""
        if self._writer is not None:
            if self._last is not None:
                self._emit(self._last)
            self._writer.release()
            self._writer = None


def contact_sheet(rows: Sequence[Sequence[tuple[str, np.ndarray]]], tile_width: int | None = 384) -> np.ndarray:
    """uint8 (rows * h, columns * tile_width, 3) grid: one row per sampled frame, one tile per (caption, image).

    Each image is uint8 (H, W, 3), all in one channel order (BGR to write with OpenCV), scaled to `tile_width`
    pixels wide keeping the first image's aspect ratio (None: the first image's own size). A caption is drawn white
    on black in the tile's corner; '' draws none. Rows may hold different tile counts (missing tiles stay black).
    """
    if not rows or not any(rows):
        raise ValueError('contact_sheet needs at least one row with one image')
    columns = max(len(row) for row in rows)
    first = next(image for row in rows for _, image in row)
    tile_width = first.shape[1] if tile_width is None else tile_width
    tile_height = round(first.shape[0] * tile_width / first.shape[1])
    sheet = np.zeros((len(rows) * tile_height, columns * tile_width, 3), np.uint8)
    for r, row in enumerate(rows):
        for c, (caption, image) in enumerate(row):
            tile = cv2.resize(image, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
            if caption:
                cv2.putText(tile, caption, (6, 20), _FONT, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(tile, caption, (6, 20), _FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            sheet[r * tile_height:(r + 1) * tile_height, c * tile_width:(c + 1) * tile_width] = tile
    return sheet
