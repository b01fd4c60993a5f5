"""Cross attention over day/night image pairs (training only; nothing of it reaches the bundle, ONNX or TensorRT).

Night features are the queries, the paired day features the keys (DESIGN.md section 1). The pairs are only coarsely
aligned (GPS-matched: the day camera stood up to a few metres aside and turned a few degrees), so the attention is
anchored by position in two steps, all in pixels of the network input:
1. `global_shift`: the one displacement (dy, dx) of the whole day image that makes its features agree best with the
   night features (mean cosine similarity, every whole-cell shift up to `search_px`). It absorbs yaw and
   most of a lateral offset; summed over the whole image it is robust where single locations match poorly.
2. `attend`: every night location attends to the day locations, with a Gaussian prior of `sigma_px` around the global
   shift (the parallax of near objects). Its expected displacement is a flow field, and its attention-weighted cosine
   the night-day `similarity` (0..1).
The day prediction is then warped to the night image along that flow at full resolution (`warp`); `refine` mixes it
into the night pseudo-label on static classes where `reference_gate` allows it. `identity` (flow 0) is the
ablation that copies the same pixel.

The attention has no learnable parameters: it compares the EMA teacher's encoder features.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from night_seg_training.config import STATIC_CLASS_NAMES


def class_mask(classes: Sequence[str], chosen: Sequence[str]) -> torch.Tensor:
    """bool (K,): True for the `chosen` class names among a bundle's class names."""
    return torch.tensor([name in chosen for name in classes])


def static_class_mask(classes: Sequence[str]) -> torch.Tensor:
    """bool (K,): True for the static classes among a bundle's class names."""
    return class_mask(classes, STATIC_CLASS_NAMES)


def cell_centres(cells: tuple[int, int], image: tuple[int, int], device: torch.device) -> torch.Tensor:
    """float (h * w, 2): the (y, x) pixel centres of a feature grid of `cells` = (h, w) over an image of `image`
    = (H, W) pixels, row-major."""
    (h, w), (height, width) = cells, image
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * (height / h)
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * (width / w)
    return torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1).view(-1, 2)


def descriptors(features: torch.Tensor) -> torch.Tensor:
    """Matching descriptors of encoder features float (N, C, h, w) -> float (N, C, h, w), unit length over C.

    Each image's features are first normalised per channel over its own locations (instance normalisation): that
    removes what the whole image shares (night's low light and colour cast shift every feature alike), leaving
    how a location differs from the rest of its image, which day and night views of a place share.
    """
    features = features.float()
    centred = features - features.mean(dim=(2, 3), keepdim=True)
    return F.normalize(centred / centred.std(dim=(2, 3), keepdim=True).clamp(min=1e-6), dim=1)


def _sample(values: torch.Tensor, points: torch.Tensor, image: tuple[int, int]) -> torch.Tensor:
    """Bilinear samples of values float (N, C, h, w) (covering an image of H x W pixels) at points float
    (N, P, Q, 2) (y, x) in pixels -> float (N, C, P, Q); zero outside the image."""
    height, width = image
    grid = torch.stack((points[..., 1] / width * 2 - 1, points[..., 0] / height * 2 - 1), -1)
    return F.grid_sample(values, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def cosine_similarity(night: torch.Tensor, day: torch.Tensor) -> torch.Tensor:
    """float (N, h*w, h*w): cosine similarity of every night location (row) with every day location (column).

    night, day float (N, C, h, w): encoder features of a night image and its day reference on the same grid (the
    reference is resized to the night image's size before the teacher sees it).
    """
    if night.shape != day.shape:
        raise ValueError(f'night features {tuple(night.shape)} and day features {tuple(day.shape)} must match')
    return descriptors(night).flatten(2).transpose(1, 2) @ descriptors(day).flatten(2)


def global_shift(cosine: torch.Tensor, cells: tuple[int, int], image: tuple[int, int],
                 search_px: tuple[float, float]) -> torch.Tensor:
    """The displacement of the day image that best matches the night one: float (N, 2) (dy, dx) in pixels.

    cosine float (N, h*w, h*w) from `cosine_similarity` over a grid of `cells` = (h, w) covering `image` = (H, W)
    pixels. Every whole-cell shift within +-search_px = (vertical, horizontal) is scored by the mean over night
    locations of the cosine with the day location that shift away (0 where that lies outside the day image); the
    best score wins, the smaller shift on ties.
    """
    (h, w), (height, width) = cells, image
    cell_y, cell_x = height / h, width / w
    reach_y, reach_x = int(search_px[0] // cell_y), int(search_px[1] // cell_x)
    offsets = torch.stack(torch.meshgrid(torch.arange(-reach_y, reach_y + 1), torch.arange(-reach_x, reach_x + 1),
                                         indexing='ij'), -1).view(-1, 2)  # (S, 2) in cells
    offsets = offsets[torch.argsort(offsets.abs().sum(1), stable=True)]  # smallest first: argmax keeps it on ties
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    target_y = ys.reshape(1, -1) + offsets[:, :1]  # (S, h*w)
    target_x = xs.reshape(1, -1) + offsets[:, 1:]
    inside = (target_y >= 0) & (target_y < h) & (target_x >= 0) & (target_x < w)
    columns = (target_y.clamp(0, h - 1) * w + target_x.clamp(0, w - 1)).to(cosine.device)  # (S, h*w)
    rows = torch.arange(h * w, device=cosine.device).expand_as(columns)
    score = (cosine[:, rows, columns] * inside.to(cosine.device)).mean(-1)  # (N, S)
    best = offsets.to(cosine.device)[score.argmax(1)].float()  # (N, 2) in cells
    return best * torch.tensor([cell_y, cell_x], device=cosine.device)


def attend(cosine: torch.Tensor, cells: tuple[int, int], image: tuple[int, int], shift: torch.Tensor,
           sigma_px: float, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Night-to-day attention anchored at `shift`: (flow float (N, 2, h, w) in pixels, similarity float (N, h, w)).

    cosine float (N, h*w, h*w) from `cosine_similarity` over a grid of `cells` = (h, w) covering `image` pixels;
    shift float (N, 2) (dy, dx) pixels. Scores are cosine / temperature plus the log of a Gaussian prior (std
    `sigma_px`) on the distance between a day location and the night location moved by `shift`. The flow is the
    attention's expected displacement (day position - night position); the similarity its expected cosine, clamped
    at 0.
    """
    n = cosine.shape[0]
    h, w = cells
    centres = cell_centres(cells, image, cosine.device)  # (h*w, 2)
    anchored = centres.unsqueeze(0) + shift.view(n, 1, 2)  # (N, h*w, 2)
    distance = torch.cdist(anchored, centres.unsqueeze(0).expand(n, -1, -1))  # (N, h*w, h*w)
    weights = torch.softmax(cosine / temperature - distance ** 2 / (2 * sigma_px ** 2), dim=-1)
    flow = (weights @ centres - centres).transpose(1, 2).reshape(n, 2, h, w)
    similarity = (weights * cosine).sum(-1).clamp(min=0).view(n, h, w)
    return flow, similarity


def warp(day_probabilities: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The day prediction carried to night pixels: float (N, K, H, W) -> float (N, K, H, W).

    flow float (N, 2, h, w) (dy, dx) pixels on any grid over the image (upsampled bilinearly to H x W). Night pixel
    p takes the day prediction at p + flow(p) (bilinear); where that lies outside the day image it gets all zeros.
    """
    n, _, height, width = day_probabilities.shape
    dense = F.interpolate(flow, size=(height, width), mode='bilinear', align_corners=False)  # (N, 2, H, W)
    centres = cell_centres((height, width), (height, width), flow.device).view(1, height, width, 2)
    return _sample(day_probabilities.float(), centres + dense.permute(0, 2, 3, 1), (height, width))


def reference_gate(night_confidence: torch.Tensor, night_labels: torch.Tensor, day_probabilities: torch.Tensor,
                   static_classes: torch.Tensor, overrule_dynamic_below: float = 0.0) -> torch.Tensor:
    """Where the day reference may refine the night pseudo-label: bool (N, H, W).

    night_confidence float (N, H, W) and night_labels int64 (N, H, W): the max and argmax of the teacher's night
    softmax (taken once by the caller: a full-resolution argmax is dear on a CPU); day_probabilities float
    (N, K, H, W) (the day prediction at night positions; all zeros where the reference does not reach);
    static_classes bool (K,). True where the reference reaches and predicts a static class and the night prediction
    is a static class too, or a dynamic one with confidence below `overrule_dynamic_below` (0: a dynamic night label
    is never overruled; 1: always). So a car parked by day never enters the night label and a confident night car
    stays.
    """
    static = static_classes.to(night_labels.device)
    reaches = day_probabilities.sum(1) > 0.5  # (N, H, W): zeros outside the day image
    night_allows = static[night_labels] | (night_confidence < overrule_dynamic_below)
    day_labels = day_probabilities.argmax(1)  # (N, H, W)
    return night_allows & static[day_labels] & reaches


def refine(night_probabilities: torch.Tensor, day_probabilities: torch.Tensor, gate: torch.Tensor,
           mix: torch.Tensor | float) -> torch.Tensor:
    """Convex mix of the night pseudo-label with the day reference where `gate` allows it (as Refign).

    night_probabilities float (N, K, H, W) (the teacher's softmax on the night image); day_probabilities float
    (N, K, H, W); gate bool (N, H, W) from `reference_gate`; mix: float or float (N, H, W) in [0, 1] (the
    reference's share). refined = (1 - e) p_night + e p_day with e = mix inside the gate, 0 outside: a confidently
    wrong static night label (the night sky called "building") is overruled by a confident reference. Returns
    float (N, K, H, W), summing to 1 over K.
    """
    share = (gate * mix).unsqueeze(1)  # (N, 1, H, W)
    return night_probabilities + share * (day_probabilities - night_probabilities)
