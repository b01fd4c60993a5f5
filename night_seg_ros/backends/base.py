"""The interface every inference backend implements, and its error type."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from night_seg_ros.errors import NightSegError


class BackendError(NightSegError, RuntimeError):
    """A backend cannot be created or used here; the message says why and what to do."""


class Backend(ABC):
    """Runs a bundle's network on one image at the bundle's input size.

    infer(rgb): rgb is uint8 (H, W, 3) RGB, H x W the bundle's input size. Returns labels uint8 (H, W) class ids and
    confidence float32 (H, W), the maximum softmax probability.
    """

    name: str = ''
    device: str = ''
    skipped: tuple[str, ...] = ()  # with backend auto: why each backend tried before this one was skipped

    def __init__(self, height: int, width: int) -> None:
        """Set up for inputs of `height` x `width` pixels."""
        self.height = height
        self.width = width

    @abstractmethod
    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) RGB -> labels uint8 (H, W), confidence float32 (H, W)."""

    def check_input(self, rgb: np.ndarray) -> np.ndarray:
        """Return `rgb` as a C-contiguous uint8 (H, W, 3) array, or raise ValueError naming the expected shape."""
        if rgb.dtype != np.uint8 or rgb.shape != (self.height, self.width, 3):
            raise ValueError(f'{self.name} backend expects uint8 ({self.height}, {self.width}, 3) RGB; '
                             f'got {rgb.dtype} {rgb.shape}')
        return np.ascontiguousarray(rgb)

    def warmup(self, iterations: int = 2) -> None:
        """Run `iterations` inferences on a blank image so the first camera frame pays no start-up cost."""
        blank = np.zeros((self.height, self.width, 3), np.uint8)
        for _ in range(iterations):
            self.infer(blank)

    def close(self) -> None:
        """Release what the backend holds outside Python's reach (GPU buffers, threads); nothing by default."""
        return None

    def describe(self) -> str:
        """'name on device', for logs and diagnostics."""
        return f'{self.name} on {self.device}'
