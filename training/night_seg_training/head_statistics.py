"""The decode head's BatchNorm statistics, recomputed after training over full-size training images (PreciseBN).

During training the head's running statistics are an exponential average over batches of training crops, taken
while the weights still moved; the deployed model sees whole frames at its input size. After the last iteration the
loop replaces them by a plain average, with the final weights, over whole training frames resized to the model
input as the node resizes them: a seeded random sample of the day images, and for every method that reads night
images as many night images, batched together as training batches them. The sample is drawn across the whole set
(every city, every sequence): the first images of a sorted listing would be one city (Cityscapes' aachen) and one or
two Dark Zurich sequences, a biased statistic. Only BatchNorm buffers change (the decode head has the model's one
BatchNorm; the encoder uses LayerNorm); no weight does. Measured in experiments/NOTEBOOK.md ("Head statistics").
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from night_seg_ros.model import SegmentationModel
from night_seg_training.evaluate import model_input


def statistics_sample(lengths: Sequence[int], count: int, seed: int) -> list[np.ndarray]:
    """For datasets of `lengths`, the indices each contributes: min(count, shortest length) distinct indices drawn
    uniformly at random from the whole dataset (int64 arrays), the same for the same seed."""
    count = min([count, *lengths])
    rng = np.random.default_rng([seed, count])
    return [rng.choice(length, size=count, replace=False) for length in lengths]


@torch.no_grad()
def recompute_head_statistics(model: SegmentationModel, datasets: Sequence[Sequence[dict[str, Any]]], count: int,
                              batch: int = 4, device: str | torch.device = 'cpu', seed: int = 0) -> int:
    """Replace the decode head's BatchNorm running statistics by their average over `count` images of each dataset
    (items {'image': uint8 (H, W, 3) RGB}, any size: resized to the model input), drawn by `statistics_sample` with
    `seed`. Each forward holds up to `batch` images of every dataset. The model's modules are left in the mode they
    had. Returns the images used.
    """
    norm = model.network.decode_head.batch_norm
    samples = statistics_sample([len(dataset) for dataset in datasets], count, seed)
    count = len(samples[0]) if samples else 0
    if count < 1:
        raise ValueError(f'no images to recompute the head statistics over (datasets of {[len(d) for d in datasets]})')
    modes = {module: module.training for module in model.modules()}
    momentum = norm.momentum
    model.eval()
    norm.reset_running_stats()
    norm.momentum = None  # cumulative average over all batches
    norm.train()  # the folded head applies BatchNorm with the batch's statistics, updating the running ones
    try:
        for start in range(0, count, batch):
            images = np.concatenate([model_input(model, [dataset[int(index)]['image']
                                                         for index in sample[start:start + batch]])
                                     for dataset, sample in zip(datasets, samples, strict=True)])  # (n, h, w, 3)
            model.coarse_logits(model.normalize(torch.from_numpy(images).to(device)))
    finally:
        norm.momentum = momentum
        for module, training in modes.items():
            module.train(training)
    return count * len(datasets)
