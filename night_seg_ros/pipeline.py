"""One camera frame through the model: resize -> backend.infer -> threshold -> outputs at the camera's resolution.

Shared by the node and the offline tools so both produce the same pixels. Work is done at the model's resolution and
only the requested outputs are upsampled (nearest-neighbour for ids and colours, bilinear for confidence).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from night_seg_ros.backends.base import Backend
from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.render import blend, colorize, palette_lut

CONFIDENCE_ENCODINGS = ('mono8', '32FC1')


@dataclass(frozen=True)
class OutputRequest:
    """Which outputs to compute for a frame (an output no one subscribes to is not computed)."""

    labels: bool = True
    color: bool = True
    overlay: bool = True
    confidence: bool = True

    def any(self) -> bool:
        """Whether any output is wanted at all."""
        return self.labels or self.color or self.overlay or self.confidence


@dataclass
class FrameOutputs:
    """A frame's outputs at the camera's H x W; None where not requested.

    labels: uint8 (H, W) class ids, IGNORE_INDEX where confidence < threshold.
    color: uint8 (H, W, 3) RGB palette image.  overlay: uint8 (H, W, 3) BGR camera blended with the palette.
    confidence: uint8 (H, W) 0-255 for 'mono8', float32 (H, W) 0-1 for '32FC1'.
    infer_seconds: wall time of backend.infer alone.
    """

    labels: np.ndarray | None = None
    color: np.ndarray | None = None
    overlay: np.ndarray | None = None
    confidence: np.ndarray | None = None
    infer_seconds: float = 0.0


class SegmentationPipeline:
    """Runs a backend on camera frames and renders the requested outputs."""

    def __init__(self, backend: Backend, input_size: tuple[int, int], palette: Sequence[Sequence[int]],
                 confidence_threshold: float = 0.0, overlay_alpha: float = 0.5,
                 confidence_encoding: str = 'mono8') -> None:
        """Set up for a model taking `input_size` = (height, width) RGB images.

        confidence_threshold: 0-1; pixels below it are labelled IGNORE_INDEX. overlay_alpha: 0-1 palette weight.
        """
        if confidence_encoding not in CONFIDENCE_ENCODINGS:
            raise ValueError(f'confidence_encoding {confidence_encoding!r}; allowed: {", ".join(CONFIDENCE_ENCODINGS)}')
        self.backend = backend
        self.input_height, self.input_width = input_size
        self.lut_rgb = palette_lut(palette)
        self.lut_bgr = np.ascontiguousarray(self.lut_rgb[:, ::-1])
        self.confidence_threshold = confidence_threshold
        self.overlay_alpha = overlay_alpha
        self.confidence_encoding = confidence_encoding

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """uint8 (H, W, 3) RGB camera frame -> labels uint8 and confidence float32 at the model's size, infer seconds.

        Labels below the confidence threshold are already IGNORE_INDEX.
        """
        if rgb.shape[:2] != (self.input_height, self.input_width):
            rgb = cv2.resize(rgb, (self.input_width, self.input_height), interpolation=cv2.INTER_LINEAR)
        start = time.perf_counter()
        labels, confidence = self.backend.infer(rgb)
        seconds = time.perf_counter() - start
        if self.confidence_threshold > 0.0:
            labels = np.where(confidence < self.confidence_threshold, np.uint8(IGNORE_INDEX), labels)
        return labels, confidence, seconds

    def process(self, rgb: np.ndarray, request: OutputRequest = OutputRequest()) -> FrameOutputs:
        """uint8 (H, W, 3) RGB camera frame -> the requested FrameOutputs at the same H x W."""
        out = FrameOutputs()
        if not request.any():
            return out
        height, width = rgb.shape[:2]
        size = (width, height)
        labels, confidence, out.infer_seconds = self.infer(rgb)
        full_labels = None
        if request.labels or request.overlay:
            full_labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST_EXACT)
            out.labels = full_labels if request.labels else None
        if request.color:
            out.color = cv2.resize(colorize(labels, self.lut_rgb), size, interpolation=cv2.INTER_NEAREST_EXACT)
        if request.overlay:
            camera_bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            out.overlay = blend(camera_bgr, colorize(full_labels, self.lut_bgr), self.overlay_alpha,
                                full_labels if self.confidence_threshold > 0.0 else None)
        if request.confidence:
            if self.confidence_encoding == 'mono8':
                confidence = np.rint(confidence * 255.0).astype(np.uint8)
            out.confidence = cv2.resize(confidence, size, interpolation=cv2.INTER_LINEAR)
        return out
