"""The image-content fallback for drives without positions: place descriptors from the current model's encoder.

A descriptor is the last encoder stage of the bundle's SegFormer (stride 32) average-pooled onto a coarse GRID of
cells, each cell's channels L2-normalised, then the whole vector L2-normalised: the pooling keeps the scene's layout
(buildings left, trees right) that a global average would lose. Night frames take the day frame of highest cosine
similarity; the similarity, and its margin over the best day frame more than `separation` frames away, are the match
quality reported next to the GPS matches (`night-seg-train pairs --match image|both`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

GRID = (2, 4)
"""Rows and columns of the cells the encoder's feature map is pooled onto."""
FEATURE_STAGE = 4
"""SegFormer encoder stage whose features describe the place (4: the last, 1/32 of the input)."""


class PlaceEncoder:
    """Descriptors of RGB frames from the encoder of a model bundle (`bundle`: its directory)."""

    def __init__(self, bundle: str | Path, device: str = 'cpu') -> None:
        from night_seg_ros.bundle import read_bundle
        from night_seg_ros.model import load_model
        from night_seg_training.segmenter import Segmenter

        self.bundle = read_bundle(bundle)
        self.device = device
        self.segmenter = Segmenter(load_model(self.bundle, device).network, self.bundle.input).to(device).eval()

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray], batch_size: int = 8) -> np.ndarray:
        """float32 (N, C * rows * cols) unit descriptors of uint8 (H, W, 3) RGB `images` (resized to the bundle's
        input size as the node resizes)."""
        size = (self.bundle.input.width, self.bundle.input.height)
        out = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
                              for image in images[start:start + batch_size]])                  # (n, H, W, 3) uint8
            pixels = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float() / 255.0  # (n, 3, H, W)
            _, features = self.segmenter(pixels, feature_stage=FEATURE_STAGE)                    # (n, C, h, w)
            cells = F.normalize(F.adaptive_avg_pool2d(features.float(), GRID), dim=1)           # (n, C, rows, cols)
            out.append(F.normalize(cells.flatten(1), dim=1).cpu().numpy())                      # (n, C * rows * cols)
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def match_by_content(night: np.ndarray, day: np.ndarray, separation: int = 10) -> tuple[np.ndarray, np.ndarray,
                                                                                             np.ndarray]:
    """The day frame of each night frame by descriptor: int64 (N,) index of the most similar of float (D, C) `day`
    descriptors for each of float (N, C) `night`, its cosine similarity float64 (N,) and its margin float64 (N,) over
    the most similar day frame at least `separation` frames away (D <= separation: the margin is the similarity)."""
    similarity = np.asarray(night, np.float64) @ np.asarray(day, np.float64).T                 # (N, D)
    best = np.argmax(similarity, axis=1)
    rows = np.arange(len(best))
    score = similarity[rows, best]
    far = np.abs(np.arange(similarity.shape[1])[None, :] - best[:, None]) >= separation         # (N, D)
    runner_up = np.where(far, similarity, -np.inf).max(axis=1, initial=-np.inf)
    return best.astype(np.int64), score, np.where(np.isfinite(runner_up), score - runner_up, score)
