"""The training forward (night_seg_training.segmenter: the decode head folded, channels last, as the deployed model
runs it) gives the transformers network's own logits, BatchNorm statistics and gradients.

The oracle is the network's own forward (`SegformerForSemanticSegmentation`: concatenation and 1x1 convolution at
H/4 x W/4) with the logits upsampled in NCHW, as training computed them before. In train mode the encoder's
stochastic depth draws the same numbers in both (same seed), and the head's dropout is set to 0.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from night_seg_ros.bundle import InputSpec
from night_seg_ros.model import build_network, segformer_arch
from night_seg_training.segmenter import Segmenter


def _plain_logits(segmenter: Segmenter, images: torch.Tensor) -> torch.Tensor:
    """float (N, K, H, W): the network's own forward, upsampled in NCHW."""
    coarse = segmenter.network(pixel_values=(images - segmenter.mean) / segmenter.std).logits
    return F.interpolate(coarse, size=images.shape[-2:], mode='bilinear', align_corners=False)


@pytest.fixture()
def segmenter() -> Segmenter:
    torch.manual_seed(0)
    network = build_network(segformer_arch('b0'))
    network.decode_head.dropout.p = 0.0
    return Segmenter(network, InputSpec(64, 64))


@pytest.mark.parametrize('height, width', [(64, 64), (96, 160)])  # 96 x 160: stages rounded up, no integer factor
def test_eval_logits_are_the_networks_own(segmenter: Segmenter, height: int, width: int) -> None:
    images = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(1))
    segmenter.eval()
    with torch.no_grad():
        logits = segmenter(images)
        expected = _plain_logits(segmenter, images)
    assert logits.shape == expected.shape == (2, 19, height, width)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)


def test_train_logits_running_statistics_and_gradients_are_the_networks_own(segmenter: Segmenter) -> None:
    images = torch.rand(3, 3, 96, 160, generator=torch.Generator().manual_seed(2))
    segmenter.train()
    norm = segmenter.network.decode_head.batch_norm
    results = []
    for forward in (segmenter, lambda batch: _plain_logits(segmenter, batch)):
        norm.reset_running_stats()
        torch.manual_seed(3)  # the encoder's stochastic depth
        logits = forward(images)
        parameters = [p for p in segmenter.parameters() if p.requires_grad]
        gradients = torch.autograd.grad(logits.square().mean(), parameters)
        results.append((logits.detach(), norm.running_mean.clone(), norm.running_var.clone(), gradients))
    (logits, mean, var, gradients), (expected, expected_mean, expected_var, expected_gradients) = results
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mean, expected_mean, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(var, expected_var, rtol=1e-4, atol=1e-6)
    largest = max(g.abs().max() for g in expected_gradients)
    for got, want in zip(gradients, expected_gradients, strict=True):
        # parameters that BatchNorm or the attention's softmax make irrelevant have gradients of rounding size only
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4 * float(largest))
