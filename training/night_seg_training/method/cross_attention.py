"""Cross attention over day/night image pairs (training only; nothing of it reaches the bundle, ONNX or TensorRT).

Night features are the queries, the paired day features the keys and values (docs/METHOD.md). The pairs are only
coarsely aligned (GPS-matched: the day camera stood up to a few metres aside and turned a few degrees), so the
attention is anchored by position in two steps, all in pixels of the network input:
1. `global_shift`: the one displacement (dy, dx) of the whole day image that makes its features agree best with the
   night features (mean cosine similarity, every whole-cell shift up to `search_px`). It absorbs yaw and
   most of a lateral offset; summed over the whole image it is robust where single locations match poorly.
2. `attend`: every night location attends to the day locations, with a Gaussian prior of `sigma_px` around the global
   shift (the parallax of near objects). Its expected displacement is a flow field, and its attention-weighted cosine
   the night-day `similarity` (0..1).
The day prediction is then warped to the night image along that flow at full resolution (`warp`). Those steps make
`CrossAttentionTransfer`; `IdentityTransfer` (flow 0, no similarity) is the ablation that copies the same pixel. The
refinement (refinement.py) then mixes the carried prediction into the night pseudo-label on static classes.

The attention has no learnable parameters: it compares the EMA teacher's encoder features.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


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


@dataclass
class Transferred:
    """The day reference's prediction at night positions, and how well the two views match there."""

    day_probabilities: torch.Tensor
    """float (N, K, H, W): the teacher's day softmax carried to each night pixel; all zeros where the day image does
    not reach."""
    similarity: torch.Tensor | None
    """float (N, H, W) in [0, 1]: the attention's expected cosine between each night location and the day locations
    it attends to (the paper's similarity map), upsampled to H x W; None for the identity transfer."""
    scalars: dict[str, float] = field(default_factory=dict)
    """What to log: attention/similarity (its mean) and attention/shift_x_px (the mean |horizontal global shift|)."""


class CrossAttentionTransfer:
    """Night features attend to the paired day features; the day prediction follows the attention to night pixels.

    stage: the encoder stage (1..4) whose teacher features are compared; temperature, sigma_px: of `attend`;
    search_px: (vertical, horizontal) reach of `global_shift`, in pixels of the network input.
    """

    def __init__(self, stage: int, temperature: float, sigma_px: float, search_px: tuple[float, float]) -> None:
        self.feature_stage: int | None = stage
        self.temperature = temperature
        self.sigma_px = sigma_px
        self.search_px = search_px

    def __call__(self, day_probabilities: torch.Tensor, night_features: torch.Tensor | None,
                 day_features: torch.Tensor | None) -> Transferred:
        """day_probabilities float (N, K, H, W): the teacher's softmax on the day references (resized to the night
        crops); night_features, day_features float (N, C, h, w): its encoder features at `feature_stage` on the night
        crops and on the references."""
        if night_features is None or day_features is None:
            raise ValueError('the cross attention compares encoder features; the teacher gave none')
        height, width = day_probabilities.shape[-2:]
        cells = tuple(day_features.shape[-2:])
        cosine = cosine_similarity(night_features, day_features)  # (N, h*w, h*w)
        shift = global_shift(cosine, cells, (height, width), self.search_px)
        flow, cell_similarity = attend(cosine, cells, (height, width), shift, self.sigma_px, self.temperature)
        similarity = F.interpolate(cell_similarity.unsqueeze(1), size=(height, width), mode='bilinear',
                                   align_corners=False).squeeze(1)  # (N, H, W)
        return Transferred(warp(day_probabilities, flow), similarity,
                           {'attention/similarity': similarity.mean().item(),
                            'attention/shift_x_px': shift[:, 1].abs().mean().item()})


class IdentityTransfer:
    """The ablation: each night pixel takes the day prediction at the same pixel (no matching, no similarity)."""

    feature_stage: int | None = None
    """The identity compares no features."""

    def __call__(self, day_probabilities: torch.Tensor, night_features: torch.Tensor | None = None,
                 day_features: torch.Tensor | None = None) -> Transferred:
        """day_probabilities float (N, K, H, W), returned as they are."""
        return Transferred(day_probabilities, None)
