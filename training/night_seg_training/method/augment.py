"""Strong augmentation and ClassMix: the changes of texture and illumination the student must be consistent under,
and the day pixels it is shown inside night crops; relight, the brighter night view the teacher may label.

All functions work on batches of float32 (N, 3, H, W) RGB images in [0, 1] and draw their randomness from an
explicit `torch.Generator`, so a batch's augmentation is reproducible from its iteration number.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from night_seg_ros.classes import IGNORE_INDEX

# RGB <-> YIQ: hue is a rotation of the (I, Q) chroma plane.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _uniform(generator: torch.Generator, count: int, low: float, high: float) -> torch.Tensor:
    """(count,) floats uniform in [low, high)."""
    return low + (high - low) * torch.rand(count, generator=generator)


def rotate_hue(images: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate hue by `angle` (N,) radians: float (N, 3, H, W) -> float (N, 3, H, W) (not clamped)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rotation = torch.stack([torch.stack([one, zero, zero], -1), torch.stack([zero, cos, -sin], -1),
                            torch.stack([zero, sin, cos], -1)], -2)  # (N, 3, 3)
    matrix = _YIQ_TO_RGB.to(images) @ rotation.to(images) @ _RGB_TO_YIQ.to(images)  # (N, 3, 3)
    return torch.einsum('nij,njhw->nihw', matrix, images)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-image `sigma` (N,) in pixels; sigma <= 0 leaves that image unchanged."""
    out = images.clone()
    for index in torch.nonzero(sigma > 0).flatten().tolist():
        s = float(sigma[index])
        radius = max(1, int(3 * s + 0.5))
        x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
        kernel = torch.exp(-0.5 * (x / s) ** 2)
        kernel = kernel / kernel.sum()
        image = images[index:index + 1]  # (1, 3, H, W)
        image = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode='replicate'),
                         kernel.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
        image = F.conv2d(F.pad(image, (0, 0, radius, radius), mode='replicate'),
                         kernel.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
        out[index] = image[0]
    return out


def strong_augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Photometric augmentation per image: brightness, contrast, saturation, hue, gamma, blur and sensor noise.

    images: float32 (N, 3, H, W) RGB in [0, 1] -> float32 (N, 3, H, W) in [0, 1]. The ranges reach night-like
    darkness (brightness down to 0.3, gamma up to 2.5) so day-trained features must survive low light.
    """
    n = images.shape[0]

    def per_image(low: float, high: float) -> torch.Tensor:
        return _uniform(generator, n, low, high).to(images).view(n, 1, 1, 1)

    gray = (images * torch.tensor([0.299, 0.587, 0.114]).to(images).view(1, 3, 1, 1)).sum(1, keepdim=True)
    out = images * per_image(0.3, 1.4)  # brightness
    out = (out - gray.mean((2, 3), keepdim=True)) * per_image(0.6, 1.4) + gray.mean((2, 3), keepdim=True)  # contrast
    out = gray + (out - gray) * per_image(0.3, 1.5)  # saturation
    out = rotate_hue(out, _uniform(generator, n, -0.3, 0.3).to(images)).clamp(0, 1)
    out = out ** per_image(0.6, 2.5)  # gamma > 1 darkens
    sigma = _uniform(generator, n, 0.0, 1.5) * (torch.rand(n, generator=generator) < 0.5)
    out = gaussian_blur(out, sigma)
    noise = torch.randn(out.shape, generator=generator).to(images)
    out = out + noise * (per_image(0.0, 0.04) + per_image(0.0, 0.05) * out.clamp(min=0).sqrt())  # read + shot noise
    return out.clamp(0, 1)


def daformer_augment(images: torch.Tensor, generator: torch.Generator, strength: float = 0.2, skip: float = 0.2,
                     blur: float = 0.5) -> torch.Tensor:
    """DAFormer's (DACS's) strong augmentation per image: colour jitter and Gaussian blur, nothing darker.

    images: float32 (N, 3, H, W) RGB in [0, 1] -> float32 (N, 3, H, W) in [0, 1]. Colour jitter of `strength`
    (brightness, contrast and saturation factors in 1 +- strength, hue turned by up to +- strength of a full turn)
    unless a uniform draw falls below `skip` (DACS's `color_jitter > p` with p = 0.2); a Gaussian blur of sigma in
    0.15..1.15 with probability `blur`.
    """
    n = images.shape[0]

    def per_image(low: float, high: float) -> torch.Tensor:
        return _uniform(generator, n, low, high).to(images).view(n, 1, 1, 1)

    jitter = (torch.rand(n, generator=generator) >= skip).to(images).view(n, 1, 1, 1)
    low, high = 1.0 - strength, 1.0 + strength
    gray = (images * torch.tensor([0.299, 0.587, 0.114]).to(images).view(1, 3, 1, 1)).sum(1, keepdim=True)
    out = images * per_image(low, high)  # brightness
    mean = gray.mean((2, 3), keepdim=True)
    out = (out - mean) * per_image(low, high) + mean  # contrast
    out = gray + (out - gray) * per_image(low, high)  # saturation
    angle = _uniform(generator, n, -strength, strength) * 2 * math.pi
    out = rotate_hue(out, angle.to(images)).clamp(0, 1)
    out = jitter * out + (1 - jitter) * images
    sigma = _uniform(generator, n, 0.15, 1.15) * (torch.rand(n, generator=generator) < blur)
    return gaussian_blur(out, sigma).clamp(0, 1)


STRONG_AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    'night': strong_augment, 'daformer': daformer_augment}
"""The strong augmentation of each `method.strong_augmentation_style` (options.STRONG_AUGMENTATION_STYLES)."""


def mask_patches(images: torch.Tensor, generator: torch.Generator, patch: int, ratio: float,
                 fill: torch.Tensor) -> torch.Tensor:
    """MIC's masked view: images float32 (N, 3, H, W) in [0, 1] with each `patch` x `patch` block of a grid anchored
    at the top left replaced by `fill` with probability `ratio` (blocks at the right and bottom edges may be cut
    short). fill: float32 (1, 3, 1, 1) in [0, 1], the network's normalisation mean, so that a masked block is 0
    after normalisation as in MIC (which masks normalised images): black would be real content at night. Returns
    float32 (N, 3, H, W)."""
    n, _, height, width = images.shape
    rows, cols = -(-height // patch), -(-width // patch)
    keep = (torch.rand(n, 1, rows, cols, generator=generator) >= ratio).to(images)  # (N, 1, rows, cols)
    keep = keep.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)[:, :, :height, :width]
    return images * keep + fill.to(images) * (1 - keep)


def relight(images: torch.Tensor, brightness: float) -> torch.Tensor:
    """Lift dark images towards a mean of `brightness` with one gamma per image: x ** (log b / log m), m the image's
    mean. images: float32 (N, 3, H, W) RGB in [0, 1] -> the same shape in [0, 1]; an image whose mean is already
    `brightness` or more is returned as it is (the gamma never darkens)."""
    mean = images.mean((1, 2, 3), keepdim=True).clamp(1e-3, 1 - 1e-3)
    gamma = (math.log(brightness) / mean.log()).clamp(max=1.0)
    return images.clamp(0, 1).pow(gamma)


def classmix_masks(labels: torch.Tensor, generator: torch.Generator, ignore_index: int = IGNORE_INDEX,
                   only: torch.Tensor | None = None) -> torch.Tensor:
    """DACS ClassMix: per image, pick half of the classes present in its label map (rounded up).

    labels: int64 (N, H, W) class ids -> bool (N, H, W), True where the pixel's class was picked. `only`, bool (K,)
    over class ids: pick every class present that `only` marks instead (no random half; nothing where none is).
    """
    masks = torch.zeros_like(labels, dtype=torch.bool)
    for index in range(labels.shape[0]):
        classes = torch.unique(labels[index])
        classes = classes[classes != ignore_index]
        if only is not None:
            chosen = classes[only.to(classes.device)[classes]]
        elif classes.numel() == 0:
            continue
        else:
            chosen = classes[torch.randperm(classes.numel(), generator=generator)[:(classes.numel() + 1) // 2]
                             .to(classes.device)]
        masks[index] = torch.isin(labels[index], chosen)
    return masks


def mix(mask: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """`inside` where mask, `outside` elsewhere. mask bool (N, H, W); tensors (N, H, W) or (N, C, H, W)."""
    if inside.dim() == 4:
        mask = mask.unsqueeze(1)
    return torch.where(mask, inside, outside)
