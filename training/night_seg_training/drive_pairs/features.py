"""The image-content fallback for drives without positions: place descriptors from the current model's encoder.

A descriptor is the third encoder stage of the bundle's SegFormer (stride 16) average-pooled onto a coarse GRID of
cells, each cell's channels L2-normalised, then the whole vector L2-normalised: the pooling keeps the scene's layout
(buildings left, trees right) that a global average would lose. Day and night descriptors are each centred on their own
mean before comparing (what all day frames, or all night frames, share is lighting, not place), and the match is a
monotonic alignment of each night drive to a day drive (`align_monotonic`: both drives go the same way along the route),
not one frame at a time: a frame-by-frame best match often lands on a similar-looking place elsewhere
(experiments/own_drives/NOTEBOOK.md compares the two). The cosine similarity of each pair, and its margin over the best
day frame more than `separation` frames away, are the match quality reported next to the GPS matches (`night-seg-train
pairs --match image|both|refine`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

GRID = (4, 8)
"""Rows and columns of the cells the encoder's feature map is pooled onto."""
FEATURE_STAGE = 3
"""SegFormer encoder stage whose features describe the place (3: 1/16 of the input; it matched better than 4)."""


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


def align_monotonic(similarity: np.ndarray) -> tuple[np.ndarray, float]:
    """The day index of each night frame maximising the summed similarity with indices that never go back.

    similarity float (N, D): night frames in travel order x day frames in travel order. Returns int64 (N,) day
    indices (non-decreasing; the night drive may start and end anywhere along the day drive, and skip day frames)
    and the mean similarity along them. Dynamic programming, O(N * D)."""
    count, days = similarity.shape
    best = similarity[0].astype(np.float64)
    back = np.zeros((count, days), np.int64)
    positions = np.arange(days)
    for row in range(1, count):
        running = np.maximum.accumulate(best)                                      # best path ending at <= j
        back[row] = np.maximum.accumulate(np.where(best == running, positions, 0))  # where that best ends
        best = similarity[row] + running
    path = np.zeros(count, np.int64)
    path[-1] = int(np.argmax(best))
    for row in range(count - 1, 0, -1):
        path[row - 1] = back[row, path[row]]
    return path, float(best.max() / count)


def _centred(descriptors: np.ndarray) -> np.ndarray:
    """float64 (N, C): descriptors minus their mean, L2-normalised per row."""
    centred = np.asarray(descriptors, np.float64) - np.mean(descriptors, axis=0)
    return centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)


def match_by_content(night: np.ndarray, day: np.ndarray, night_drive: np.ndarray, day_drive: np.ndarray,
                     separation: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The day frame of each night frame by descriptor: int64 (N,) index into float (D, C) `day` for each of float
    (N, C) `night`, the pair's cosine similarity float64 (N,) of the centred descriptors and its margin float64 (N,)
    over the most similar day frame of the same drive at least `separation` frames away (the similarity where
    there is none).

    night_drive int (N,), day_drive int (D,): which drive each frame belongs to (frames of a drive in travel order).
    Each night drive is aligned (`align_monotonic`) to every day drive and keeps the one with the highest mean
    similarity."""
    similarity = _centred(night) @ _centred(day).T                                 # (N, D)
    index = np.zeros(len(night), np.int64)
    for drive in np.unique(night_drive):
        rows = np.flatnonzero(night_drive == drive)
        best_score = -np.inf
        for other in np.unique(day_drive):
            columns = np.flatnonzero(day_drive == other)
            path, score = align_monotonic(similarity[np.ix_(rows, columns)])
            if score > best_score:
                best_score, index[rows] = score, columns[path]
    rows = np.arange(len(night))
    score = similarity[rows, index]
    far = ((np.abs(np.arange(len(day))[None, :] - index[:, None]) >= separation)
           & (day_drive[None, :] == day_drive[index][:, None]))                    # (N, D)
    runner_up = np.where(far, similarity, -np.inf).max(axis=1, initial=-np.inf)
    return index, score, np.where(np.isfinite(runner_up), score - runner_up, score)
