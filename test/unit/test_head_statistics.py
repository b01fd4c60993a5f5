"""head_statistics.recompute_head_statistics: the decode head's BatchNorm statistics averaged over whole images.

The oracle is the transformers network's own forward: the output of its 1x1 fuse convolution, which is what its
BatchNorm normalises, averaged per batch as torch's cumulative BatchNorm average does (mean, unbiased variance).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from night_seg_ros.bundle import InputSpec
from night_seg_ros.model import SegmentationModel, build_network, segformer_arch
from night_seg_training.evaluate import model_input
from night_seg_training.head_statistics import recompute_head_statistics, statistics_sample


def _images(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """`count` items {'image': uint8 (80, 120, 3)}: another size than the model input, so they are resized."""
    generator = np.random.default_rng(seed)
    return [{'image': generator.integers(0, 256, (80, 120, 3), dtype=np.uint8)} for _ in range(count)]


@pytest.fixture()
def model() -> SegmentationModel:
    torch.manual_seed(0)
    return SegmentationModel(build_network(segformer_arch('b0')), InputSpec(64, 96))


def _fuse_outputs(model: SegmentationModel, batches: list[np.ndarray]) -> list[torch.Tensor]:
    """float (n, D, h, w) per batch: the network's own head input to BatchNorm (eval mode, no gradient)."""
    captured = []
    handle = model.network.decode_head.linear_fuse.register_forward_hook(
        lambda module, inputs, output: captured.append(output))
    try:
        with torch.no_grad():
            for batch in batches:
                model.network(pixel_values=model.normalize(torch.from_numpy(batch)))
    finally:
        handle.remove()
    return captured


def test_statistics_are_the_average_over_whole_images_of_both_domains(model: SegmentationModel) -> None:
    day, night = _images(5, 1), _images(7, 2)
    norm = model.network.decode_head.batch_norm
    norm.running_mean.fill_(3.0)
    norm.running_var.fill_(9.0)
    model.train()
    weights = {key: value.clone() for key, value in model.network.state_dict().items() if 'batch_norm' not in key}
    used = recompute_head_statistics(model, [day, night], count=6, batch=4, seed=3)
    assert used == 10  # the smaller dataset holds 5 images
    samples = statistics_sample([5, 7], 6, seed=3)
    batches = [np.concatenate([model_input(model, [dataset[index]['image'] for index in sample[start:start + 4]])
                               for dataset, sample in zip((day, night), samples, strict=True)])
               for start in (0, 4)]  # 4 + 4, then 1 + 1 images
    model.eval()
    outputs = _fuse_outputs(model, batches)
    mean = torch.stack([output.mean(dim=(0, 2, 3)) for output in outputs]).mean(0)
    var = torch.stack([output.transpose(0, 1).flatten(1).var(dim=1) for output in outputs]).mean(0)
    assert torch.allclose(norm.running_mean, mean, rtol=1e-4, atol=1e-5)
    assert torch.allclose(norm.running_var, var, rtol=1e-4, atol=1e-5)
    assert norm.momentum == 0.1 and norm.num_batches_tracked == 2
    after = model.network.state_dict()
    assert all(torch.equal(after[key], value) for key, value in weights.items())  # no weight moved


def test_modes_are_restored_and_an_empty_dataset_is_refused(model: SegmentationModel) -> None:
    model.train()
    model.network.decode_head.dropout.eval()
    recompute_head_statistics(model, [_images(2, 3)], count=64)
    assert model.training and model.network.segformer.training and not model.network.decode_head.dropout.training
    with pytest.raises(ValueError, match='no images to recompute the head statistics over'):
        recompute_head_statistics(model, [_images(2, 3), []], count=64)


def test_the_sample_is_seeded_distinct_and_spread_over_the_whole_set() -> None:
    """Sorted listings group cities and sequences: 64 of 2975 Cityscapes images must not be the first 64 (aachen)."""
    day, night = statistics_sample([2975, 2416], 64, seed=0)
    assert len(set(day.tolist())) == len(set(night.tolist())) == 64
    assert day.max() > 2000 and day.min() < 1000 and night.max() > 1600  # across the listing, not its head
    again = statistics_sample([2975, 2416], 64, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((day, night), again, strict=True))
    assert not np.array_equal(day, statistics_sample([2975, 2416], 64, seed=1)[0])
    assert [len(sample) for sample in statistics_sample([5, 7], 64, seed=0)] == [5, 5]
