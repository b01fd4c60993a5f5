"""The network as training sees it: float images in, logits (and optionally encoder features) out.

`Segmenter` wraps the same `SegformerForSemanticSegmentation` the bundle stores; DDP wraps the `Segmenter`, so every
forward the loss depends on goes through DDP. At the end of a run its `network` goes into a
`night_seg_ros.model.SegmentationModel` and from there into the bundle.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from night_seg_ros.bundle import MODEL_JSON, InputSpec, read_bundle
from night_seg_ros.classes import CITYSCAPES_CLASSES
from night_seg_ros.model import arch_from_config, build_network, folded_decode, resize_nhwc, segformer_arch
from night_seg_training.config import ConfigError


class Segmenter(nn.Module):
    """SegFormer with the bundle's normalisation.

    forward(images, feature_stage=None): images float32 (N, 3, H, W) RGB in [0, 1]. Returns logits float
    (N, K, H, W) upsampled bilinearly to H x W (an NCHW view of channels-last storage); with `feature_stage` in 1..4
    also that encoder stage's features (N, C_stage, H / 2**(stage+1), W / 2**(stage+1)).

    The decode head runs as the deployed model runs it (`night_seg_ros.model.folded_decode`, channels last): the same
    logits as the network's own forward at a fraction of its cost (`night-seg-train bench` measures it).
    """

    def __init__(self, network: nn.Module, input_spec: InputSpec) -> None:
        super().__init__()
        self.network = network
        self.input_spec = input_spec
        self.register_buffer('mean', torch.tensor(input_spec.mean).view(1, 3, 1, 1) / 255.0, persistent=False)
        self.register_buffer('std', torch.tensor(input_spec.std).view(1, 3, 1, 1) / 255.0, persistent=False)

    def forward(self, images: torch.Tensor,
                feature_stage: int | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """See the class docstring."""
        features = self.network.segformer((images - self.mean) / self.std, output_hidden_states=True).hidden_states
        coarse = folded_decode(self.network.decode_head, features)  # (N, H/4, W/4, K)
        logits = resize_nhwc(coarse, images.shape[-2:]).permute(0, 3, 1, 2)  # (N, K, H, W)
        if feature_stage is None:
            return logits
        return logits, features[feature_stage - 1]


def initial_network(variant: str, init: str | None,
                    classes: tuple[str, ...] = CITYSCAPES_CLASSES) -> tuple[nn.Module, dict[str, Any]]:
    """The network to start training from, and its bundle `arch` entry.

    `init` None: a randomly initialised SegFormer `variant`. A model bundle directory (model.json +
    weights.safetensors, e.g. the bundled demo model or a previous run's bundle): its network and weights, which
    must have `classes`. Otherwise a Hugging Face hub id or `save_pretrained` directory (a segmentation checkpoint
    such as nvidia/segformer-b0-finetuned-cityscapes-1024-1024, or an encoder-only one such as nvidia/mit-b0); its
    decode head is re-initialised when its class count differs.
    """
    if init is None:
        arch = segformer_arch(variant, num_labels=len(classes))
        return build_network(arch), arch
    if (Path(init).expanduser() / MODEL_JSON).is_file():
        return _bundle_network(Path(init).expanduser(), classes)
    from transformers import SegformerForSemanticSegmentation

    source = str(Path(init).expanduser()) if Path(init).expanduser().is_dir() else init
    labels = dict(enumerate(classes))
    try:
        network = SegformerForSemanticSegmentation.from_pretrained(
            source, num_labels=len(classes), id2label=labels, label2id={v: k for k, v in labels.items()},
            ignore_mismatched_sizes=True)
    except (OSError, ValueError) as error:
        raise ConfigError(f'cannot initialise from {init!r} (a Hugging Face hub id or save_pretrained directory): '
                         f'{error}') from error
    return network, arch_from_config(network.config, Path(init).name)


def _bundle_network(path: Path, classes: tuple[str, ...]) -> tuple[nn.Module, dict[str, Any]]:
    """The trainable network of a model bundle and its `arch`; ConfigError when its classes differ from `classes`."""
    from night_seg_ros.model import load_model

    bundle = read_bundle(path)
    if tuple(bundle.classes) != tuple(classes):
        raise ConfigError(f'model.init {str(path)!r} is a bundle of {len(bundle.classes)} classes '
                          f'({", ".join(bundle.classes[:3])}, ...); training needs {len(classes)}: '
                          f'{", ".join(classes[:3])}, ...')
    return load_model(bundle).network.train(), bundle.arch
