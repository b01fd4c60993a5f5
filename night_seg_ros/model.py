"""The deployed network: SegFormer (MiT-B0..B5, from a `transformers` config) wrapped with its pre- and post-processing.

`SegmentationModel` takes uint8 NHWC RGB images and returns uint8 labels and float32 confidence at the input size, so
the exported ONNX graph (and a TensorRT engine built from it) does normalisation, layout change, upsampling and argmax
on the GPU. Needs torch and transformers; the bundle metadata side lives in `bundle.py` and needs neither.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from night_seg_ros.bundle import (
    ONNX_FILE,
    WEIGHTS_FILE,
    Bundle,
    BundleError,
    InputSpec,
    bundle_metadata,
    parse_metadata,
    read_bundle,
    write_metadata,
)
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX
from night_seg_ros.files import atomic_write_bytes
from night_seg_ros.provenance import untrained_provenance

SEGFORMER_VARIANTS: dict[str, dict[str, Any]] = {
    'b0': {'hidden_sizes': [32, 64, 160, 256], 'depths': [2, 2, 2, 2], 'decoder_hidden_size': 256},
    'b1': {'hidden_sizes': [64, 128, 320, 512], 'depths': [2, 2, 2, 2], 'decoder_hidden_size': 256},
    'b2': {'hidden_sizes': [64, 128, 320, 512], 'depths': [3, 4, 6, 3], 'decoder_hidden_size': 768},
    'b3': {'hidden_sizes': [64, 128, 320, 512], 'depths': [3, 4, 18, 3], 'decoder_hidden_size': 768},
    'b4': {'hidden_sizes': [64, 128, 320, 512], 'depths': [3, 8, 27, 3], 'decoder_hidden_size': 768},
    'b5': {'hidden_sizes': [64, 128, 320, 512], 'depths': [3, 6, 40, 3], 'decoder_hidden_size': 768},
}
"""MiT encoder sizes of the published SegFormer variants (Xie et al., 2021); every other setting is shared."""

_SHARED_SEGFORMER = {'num_attention_heads': [1, 2, 5, 8], 'sr_ratios': [8, 4, 2, 1], 'patch_sizes': [7, 3, 3, 3],
                     'strides': [4, 2, 2, 2], 'mlp_ratios': [4, 4, 4, 4]}
_CONFIG_KEYS = ('num_channels', 'num_encoder_blocks', 'depths', 'sr_ratios', 'hidden_sizes', 'patch_sizes', 'strides',
                'num_attention_heads', 'mlp_ratios', 'hidden_act', 'hidden_dropout_prob',
                'attention_probs_dropout_prob', 'classifier_dropout_prob', 'initializer_range', 'drop_path_rate',
                'layer_norm_eps', 'decoder_hidden_size', 'num_labels')


def segformer_arch(variant: str = 'b0', num_labels: int = len(CITYSCAPES_CLASSES)) -> dict[str, Any]:
    """The bundle `arch` entry of a SegFormer variant ('b0'..'b5') predicting `num_labels` classes."""
    if variant not in SEGFORMER_VARIANTS:
        raise ValueError(f'unknown SegFormer variant {variant!r}; allowed: {", ".join(SEGFORMER_VARIANTS)}')
    from transformers import SegformerConfig

    config = SegformerConfig(**_SHARED_SEGFORMER, **SEGFORMER_VARIANTS[variant], num_labels=num_labels)
    return arch_from_config(config, variant)


def arch_from_config(config: Any, variant: str | None = None) -> dict[str, Any]:
    """The bundle `arch` entry of a transformers `SegformerConfig` (only the keys that shape the network)."""
    return {'name': 'segformer', 'variant': variant, 'config': {key: getattr(config, key) for key in _CONFIG_KEYS}}


def build_network(arch: dict[str, Any]) -> nn.Module:
    """A randomly initialised `SegformerForSemanticSegmentation` as described by a bundle's `arch` entry."""
    if arch.get('name') != 'segformer':
        raise BundleError(f'unsupported arch {arch.get("name")!r}; supported: segformer')
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    return SegformerForSemanticSegmentation(SegformerConfig(**arch['config']))


class SegmentationModel(nn.Module):
    """SegFormer plus pre- and post-processing: uint8 NHWC RGB in, labels and confidence out.

    forward(image): image is uint8 (N, H, W, 3) RGB. Returns labels uint8 (N, H, W) class ids and confidence
    float32 (N, H, W), the maximum softmax probability per pixel, both at the input's H x W. An inference wrapper:
    the decode head runs folded (`folded_decode`); in eval mode it takes BatchNorm's running statistics.
    """

    def __init__(self, network: nn.Module, input_spec: InputSpec) -> None:
        super().__init__()
        self.network = network
        self.input_spec = input_spec
        self.register_buffer('mean', torch.tensor(input_spec.mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('inv_std', 1.0 / torch.tensor(input_spec.std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) RGB -> float32 (N, 3, H, W) normalised with the bundle's mean and std (0-255 units)."""
        pixels = image.permute(0, 3, 1, 2).float()  # (N, 3, H, W)
        return (pixels - self.mean) * self.inv_std

    def coarse_logits(self, normalized: torch.Tensor) -> torch.Tensor:
        """float (N, 3, H, W) normalised images -> float (N, H/4, W/4, C) class logits, channels last."""
        features = self.network.segformer(normalized, output_hidden_states=True).hidden_states
        return folded_decode(self.network.decode_head, features)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, H, W, 3) RGB -> labels uint8 (N, H, W), confidence float32 (N, H, W)."""
        logits = resize_nhwc(self.coarse_logits(self.normalize(image)), image.shape[1:3])  # (N, H, W, C)
        return labels_and_confidence(logits)


def folded_decode(head: nn.Module, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """SegFormer's all-MLP decode head with its linear layers folded together, channels last; `head(features)`'s
    logits, permuted to (N, H/4, W/4, num_labels).

    features: the encoder's stage outputs, float (N, C_i, H_i, W_i), stage 0 the finest (H/4 x W/4). The head
    projects each stage to D channels (Linear), upsamples it bilinearly to stage 0's size, concatenates the four
    (4 D channels), mixes them with a 1x1 convolution, BatchNorm, ReLU and a 1x1 classifier. Projection, upsampling,
    the 1x1 mix and BatchNorm (running statistics) are all linear, and bilinear weights sum to one, so
    mix(concat(up(proj_i(f_i)))) = sum_i up(W_i f_i) + b with W_i = bn_scale * mix_i @ proj_i (D x C_i): each stage
    is mixed at its own resolution, and neither the 4 D-channel concatenation nor the 1x1 convolution over it at
    H/4 x W/4 (two thirds of SegFormer-B0's FLOPs) is computed. Everything after the stage features runs channels
    last (matrix products over the last axis, NHWC resizes), so no H/4 x W/4 tensor changes layout.

    The same function trains (night_seg_training.segmenter): with the head in train mode BatchNorm takes the batch's
    statistics, so it is applied to the sum instead of folded (the sum equals the 1x1 convolution's output), and
    the head's dropout draws its mask. Returns float (N, H/4, W/4, num_labels).
    """
    batch_norm = head.batch_norm
    fold_norm = not batch_norm.training  # running statistics: BatchNorm is affine and folds into the weights
    if fold_norm:
        scale = batch_norm.weight / torch.sqrt(batch_norm.running_var + batch_norm.eps)  # (D,)
        bias = batch_norm.bias - batch_norm.running_mean * scale  # (D,)
    else:
        scale = torch.ones_like(batch_norm.weight)
        bias = torch.zeros_like(batch_norm.bias)
    # linear_fuse's input channels come in reverse stage order: block j of D channels belongs to stage (stages-1-j)
    mixes = head.linear_fuse.weight[:, :, 0, 0].chunk(len(features), dim=1)[::-1]  # stage i: (D, D)
    size = features[0].shape[-2:]
    total = None
    for feature, projection, mix in zip(features, head.linear_projections, mixes, strict=True):
        weight = scale[:, None] * (mix @ projection.proj.weight)  # (D, C_i)
        bias = bias + scale * (mix @ projection.proj.bias)  # (D,)
        mixed = feature.permute(0, 2, 3, 1) @ weight.t()  # (N, H_i, W_i, D)
        if mixed.shape[1:3] != size:
            mixed = resize_nhwc(mixed, size)  # (N, H/4, W/4, D)
        total = mixed if total is None else total + mixed
    total = total + bias
    if not fold_norm:
        total = batch_norm(total.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # batch statistics, channels last
    hidden = head.dropout(head.activation(total))  # (N, H/4, W/4, D)
    classifier = head.classifier
    return hidden @ classifier.weight[:, :, 0, 0].t() + classifier.bias  # (N, H/4, W/4, num_labels)


class _ResizeNHWC(torch.autograd.Function):
    """Bilinear resize of a channels-last (N, h, w, C) tensor over h and w (half-pixel centres, as F.interpolate with
    align_corners=False).

    ONNX: one Resize over axes 1 and 2 of the NHWC tensor, so no tensor changes layout and the reductions after the
    last resize run over the last axis (ONNX Runtime's fast path; over axis 1 of NCHW they cost more than the whole
    decode head). Outside an export `resize_nhwc` runs `_resize_nhwc_eager` itself, with autograd.
    """

    @staticmethod
    def forward(ctx: Any, coarse: torch.Tensor, size: tuple[int, int, int, int]) -> torch.Tensor:
        return _resize_nhwc_eager(coarse, size[1:3])

    @staticmethod
    def symbolic(g: Any, coarse: Any, size: tuple[int, int, int, int]) -> Any:
        # roi and scales omitted ('' inputs), as torch's own Resize export writes them: an empty float tensor
        # there would be cast to float16 by the FP16 converter, and the Resize would then be refused
        absent = g.op('prim::Constant')
        absent.setType(torch._C.OptionalType.ofTensor())
        sizes = g.op('Constant', value_t=torch.tensor(size, dtype=torch.int64))
        return g.op('Resize', coarse, absent, absent, sizes, mode_s='linear',
                    coordinate_transformation_mode_s='half_pixel')


def _resize_nhwc_eager(coarse: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """F.interpolate on the NCHW view of the NHWC storage (channels-last), whose result's NHWC view is contiguous;
    on a CPU its backward costs a fraction of the NCHW one's (training back-propagates through it)."""
    fine = F.interpolate(coarse.permute(0, 3, 1, 2), size=(int(size[0]), int(size[1])), mode='bilinear',
                         align_corners=False)  # (N, C, H, W), channels-last storage
    return fine.permute(0, 2, 3, 1).contiguous()  # (N, H, W, C)


def resize_nhwc(coarse: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """float (N, h, w, C) -> float (N, H, W, C) with (H, W) = size: bilinear, align_corners=False, channels last."""
    if not torch.onnx.is_in_onnx_export():
        return _resize_nhwc_eager(coarse, size)
    batch, _, _, channels = coarse.shape
    return _ResizeNHWC.apply(coarse, (int(batch), int(size[0]), int(size[1]), int(channels)))


def labels_and_confidence(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float (N, H, W, C) logits, channels last -> labels uint8 (N, H, W), confidence float32 (N, H, W).

    confidence is the largest softmax probability; the softmax runs over the last, contiguous axis.
    """
    probabilities = torch.softmax(logits.float(), dim=-1)  # (N, H, W, C)
    confidence, labels = probabilities.max(dim=-1)  # (N, H, W) each
    return labels.to(torch.uint8), confidence


def load_model(bundle: Bundle | str | os.PathLike, device: str | torch.device = 'cpu') -> SegmentationModel:
    """Build the network of a bundle and load its weights; raise BundleError on missing or mismatched tensors."""
    from safetensors.torch import load_file

    if not isinstance(bundle, Bundle):
        bundle = read_bundle(bundle)
    network = build_network(bundle.arch)
    if network.config.num_labels != bundle.num_classes:
        raise BundleError(f'{bundle.path}: arch.config.num_labels is {network.config.num_labels} but "classes" has '
                          f'{bundle.num_classes} names')
    state = load_file(str(bundle.weights_path))
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [f'{key} {tuple(state[key].shape)} (network wants {tuple(expected[key].shape)})'
                   for key in sorted(set(state) & set(expected)) if state[key].shape != expected[key].shape]
    problems = []
    for label, keys in (('missing tensors', missing), ('unexpected tensors', unexpected),
                        ('shape mismatch', wrong_shape)):
        if keys:
            problems.append(f'{label}: {", ".join(keys[:5])}' + (f' (+{len(keys) - 5} more)' if len(keys) > 5 else ''))
    if problems:
        raise BundleError(f'{bundle.weights_path} does not fit arch {bundle.arch.get("variant") or "segformer"}: '
                          + '; '.join(problems))
    network.load_state_dict(state)
    return SegmentationModel(network, bundle.input).to(device).eval()


def save_bundle(model: SegmentationModel, path: str | os.PathLike, arch: dict[str, Any],
                classes: tuple[str, ...] | list[str], palette: tuple | list, provenance: dict[str, Any],
                ignore_index: int = IGNORE_INDEX, weights_dtype: str = 'float32') -> Bundle:
    """Write model.json and weights.safetensors (atomically) into bundle directory `path`; return the read-back bundle.

    `weights_dtype` 'float16' stores floating-point tensors in half precision (half the size; `load_model` widens
    them back to float32 and `export_onnx` keeps them half in the ONNX file). An existing model.onnx is removed: it
    was exported from other weights.
    """
    from safetensors.torch import save

    path = Path(path)
    meta = bundle_metadata(arch, classes, palette, model.input_spec, ignore_index, provenance)
    parse_metadata(meta, path)  # refuse bad metadata before anything on disk changes
    dtypes = {'float32': torch.float32, 'float16': torch.float16}
    if weights_dtype not in dtypes:
        raise ValueError(f'weights_dtype {weights_dtype!r} is not supported; allowed: {", ".join(dtypes)}')
    state = {key: (tensor.to(dtypes[weights_dtype]) if tensor.is_floating_point() else tensor).detach().cpu()
             .contiguous() for key, tensor in model.network.state_dict().items()}
    (path / ONNX_FILE).unlink(missing_ok=True)
    atomic_write_bytes(path / WEIGHTS_FILE, save(state))
    write_metadata(path, meta)
    return read_bundle(path)


def create_untrained_bundle(path: str | os.PathLike, variant: str = 'b0', height: int = 512, width: int = 1024,
                            seed: int = 0) -> Bundle:
    """Write a bundle of a randomly initialised SegFormer for the 19 Cityscapes classes (provenance: untrained).

    Its outputs carry no meaning; it exists to check plumbing (export, backends, the node) without a trained model.
    """
    torch.manual_seed(seed)
    arch = segformer_arch(variant)
    model = SegmentationModel(build_network(arch), InputSpec(height=height, width=width))
    return save_bundle(model, path, arch, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, untrained_provenance())
