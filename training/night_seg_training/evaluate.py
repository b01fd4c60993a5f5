"""Evaluation of a segmentation model on labelled views: confusion matrix, IoU, figures, the IoU table.

Every metric is computed from one integer confusion matrix accumulated over the whole dataset (not averaged per
image), the Cityscapes convention: IoU_c = TP_c / (TP_c + FP_c + FN_c) and mIoU is the mean over classes that occur in
the ground truth or the prediction. `evaluate` predicts as the published evaluations do (`segment`): the image
resized to an input size (the dataset's aspect, e.g. 540x960 for 1080x1920 frames), the logits upsampled bilinearly
to the label's size before the argmax, optionally averaged with the mirror image's. The deployed node resizes to the
bundle's input and upsamples the labels nearest-neighbour, so its labels differ slightly at class borders.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from night_seg_ros.files import atomic_write_bytes
from night_seg_ros.metrics import ConfusionMatrix
from night_seg_ros.model import SegmentationModel, resize_nhwc
from night_seg_ros.render import colorize, palette_lut, write_png

DOWNSCALE_INTERPOLATION = cv2.INTER_LINEAR
"""Camera image -> model input, as `night_seg_ros.pipeline.SegmentationPipeline.infer` resizes it."""

UNKNOWN_NAME = 'unknown'
"""Name of the confusion matrix's last column: pixels predicted as the ignore id (below the confidence threshold)."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_size(text: str, scale: float) -> tuple[int, int]:
    """(width, height above the baseline) of `text` in pixels at font `scale`, thickness 1."""
    (width, height), _ = cv2.getTextSize(text, _FONT, scale, 1)
    return width, height


def confusion_png(matrix: np.ndarray, class_names: Sequence[str], path: str | Path, cell: int = 32) -> None:
    """Draw a row-normalised confusion matrix as a PNG (written atomically): each row sums to 100 %.

    matrix: integer (C, C) or (C, C + 1) counts [ground-truth row, predicted column] (a `ConfusionMatrix.matrix`; a
    last column is labelled 'unknown'). Cells are `cell` pixels, coloured by percentage (viridis, grey for a row with
    no pixels), with the rounded percentage written where it is non-zero and fits; class names label both axes.
    """
    matrix = np.asarray(matrix)
    num_classes = len(class_names)
    if matrix.ndim != 2 or matrix.shape[0] != num_classes or matrix.shape[1] not in (num_classes, num_classes + 1):
        raise ValueError(f'matrix shape {matrix.shape} does not fit {num_classes} class names '
                         f'(want ({num_classes}, {num_classes}) or ({num_classes}, {num_classes + 1}))')
    rows, cols = matrix.shape
    column_names = list(class_names) + [UNKNOWN_NAME] * (cols - num_classes)
    totals = matrix.sum(axis=1, keepdims=True)
    fraction = matrix / np.maximum(totals, 1)  # float64 (rows, cols), 0-1
    scale, pad = 0.4, 6
    name_width = max(_text_size(name, scale)[0] for name in column_names) + 2 * pad
    title = 'confusion, % of each ground-truth row (rows: ground truth, columns: prediction)'
    title_width, line_height = _text_size(title, scale)
    title_height = line_height + 2 * pad
    left, top = name_width, title_height + name_width
    width = max(left + cols * cell + pad, title_width + 2 * pad)
    canvas = np.full((top + rows * cell + pad, width, 3), 255, np.uint8)
    cv2.putText(canvas, title, (pad, pad + line_height), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)

    heat = cv2.applyColorMap(np.rint(fraction * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)  # (rows, cols, 3) BGR
    heat[totals[:, 0] == 0] = 160
    canvas[top:top + rows * cell, left:left + cols * cell] = cv2.resize(
        heat, (cols * cell, rows * cell), interpolation=cv2.INTER_NEAREST)
    for row in range(rows):
        for col in range(cols):
            percent = int(round(100 * fraction[row, col]))
            text_width, text_height = _text_size(str(percent), scale)
            if percent and text_width <= cell - 2:
                color = (0, 0, 0) if fraction[row, col] > 0.5 else (255, 255, 255)
                origin = (left + col * cell + (cell - text_width) // 2, top + row * cell + (cell + text_height) // 2)
                cv2.putText(canvas, str(percent), origin, _FONT, scale, color, 1, cv2.LINE_AA)

    for row, name in enumerate(class_names):  # ground-truth names, right-aligned left of the rows
        text_width, text_height = _text_size(name, scale)
        origin = (left - pad - text_width, top + row * cell + (cell + text_height) // 2)
        cv2.putText(canvas, name, origin, _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    # Predicted names: drawn right-aligned on a horizontal strip, one per line, then turned to read bottom-up.
    strip = np.full((cols * cell, name_width, 3), 255, np.uint8)
    for col, name in enumerate(column_names):
        text_width, text_height = _text_size(name, scale)
        origin = (name_width - pad - text_width, col * cell + (cell + text_height) // 2)
        cv2.putText(strip, name, origin, _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    canvas[title_height:top, left:left + cols * cell] = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    write_png(path, canvas)


def gallery_png(rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]], palette: Sequence[Sequence[int]],
                path: str | Path, panel_width: int = 480) -> None:
    """Write one PNG (atomically) with a row per example: input | prediction | ground truth, under a titled header.

    rows: (image uint8 (H, W, 3) RGB, prediction uint8 (H', W') class ids, ground truth uint8 (H', W') class ids or
    None). Each panel is scaled to `panel_width` pixels wide keeping the image's aspect ratio; labels are palette
    coloured with ignore (255) black; a missing ground truth is a grey panel.
    """
    if not rows:
        raise ValueError('gallery_png needs at least one row')
    lut = palette_lut(palette)
    gap, header, scale = 4, 24, 0.5
    titles = ('input', 'prediction', 'ground truth')
    width = 3 * panel_width + 2 * gap
    strips = [np.full((header, width, 3), 255, np.uint8)]
    for column, title in enumerate(titles):
        text_width, text_height = _text_size(title, scale)
        origin = (column * (panel_width + gap) + (panel_width - text_width) // 2, (header + text_height) // 2)
        cv2.putText(strips[0], title, origin, _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    for image, prediction, truth in rows:
        size = (panel_width, max(1, round(image.shape[0] * panel_width / image.shape[1])))
        strip = np.full((size[1] + gap, width, 3), 255, np.uint8)
        panels = [cv2.resize(image, size, interpolation=cv2.INTER_AREA)]
        for labels in (prediction, truth):
            if labels is None:
                panels.append(np.full((size[1], size[0], 3), 128, np.uint8))
            else:
                panels.append(colorize(cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST_EXACT), lut))
        for column, panel in enumerate(panels):
            strip[gap:, column * (panel_width + gap):column * (panel_width + gap) + panel_width] = panel
        strips.append(strip)
    write_png(path, cv2.cvtColor(np.concatenate(strips), cv2.COLOR_RGB2BGR))


def model_input(model: SegmentationModel, images: Sequence[np.ndarray],
                input_size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) RGB images of any sizes -> one uint8 batch (N, h, w, 3) at `input_size` (h, w; default the
    model's input size), resized as the deployed node resizes them."""
    height, width = input_size or (model.input_spec.height, model.input_spec.width)
    return np.stack([cv2.resize(image, (width, height), interpolation=DOWNSCALE_INTERPOLATION) for image in images])


def segment(model: SegmentationModel, images: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]],
            input_size: tuple[int, int] | None = None, flip: bool = False,
            device: str | torch.device = 'cpu') -> list[tuple[np.ndarray, np.ndarray]]:
    """Label a batch as the published evaluations do: uint8 (H, W, 3) RGB images -> for each, labels uint8 (h, w)
    class ids and confidence float32 (h, w) in 0..1 (the largest class probability) at its entry of `sizes`.

    Each image is resized (bilinear) to `input_size` (height, width; default the model's input), the batch runs
    through the network to its logits, and each image's logits are upsampled bilinearly to its (h, w) before the
    softmax and the argmax. With `flip` the class probabilities are the mean of the image's and its mirror image's
    (mirrored back). The model should be in eval mode.
    """
    batch = torch.from_numpy(model_input(model, images, input_size)).to(device)  # (N, h', w', 3) uint8
    with torch.inference_mode():
        views = [model.coarse_logits(model.normalize(batch))]  # each (N, height / 4, width / 4, C)
        if flip:
            views.append(model.coarse_logits(model.normalize(batch.flip(2))).flip(2))
        results = []
        for index, size in enumerate(sizes):
            probabilities = sum(torch.softmax(resize_nhwc(view[index:index + 1].float(), size), dim=-1)
                                for view in views) / len(views)  # (1, h, w, C)
            confidence, labels = probabilities[0].max(dim=-1)  # (h, w) each
            results.append((labels.to(torch.uint8).cpu().numpy(), confidence.cpu().numpy()))
    return results


def _percent(value: float) -> float | None:
    """A 0-1 metric as a percentage, or None where it is undefined (NaN; JSON has no NaN)."""
    return None if math.isnan(value) else 100.0 * value


def evaluate(model: SegmentationModel, dataset: Sequence[dict[str, Any]], class_names: Sequence[str],
             palette: Sequence[Sequence[int]], out_dir: Path | None = None, gallery: int = 4, batch_size: int = 4,
             device: str | torch.device = 'cpu', progress: bool = True, distributed: bool = False,
             input_size: tuple[int, int] | None = None, flip: bool = False) -> dict[str, Any]:
    """Evaluate `model` on labelled views {'image': uint8 (H, W, 3) RGB, 'label': uint8 (H, W), 'name'} at full size.

    An item without 'label' (a user's unlabelled night frame) is predicted for the gallery only (grey ground truth)
    and not counted; with no labelled item at all the metrics are None and the gallery is what there is to see.

    Images are predicted in batches of `batch_size` by `segment` (seen at `input_size`, default the model's input;
    `flip`: test-time mirror augmentation) at the ground truth's own resolution, and compared with it there;
    ground-truth pixels of IGNORE_INDEX are not counted. The model is put
    in eval mode for the run and its previous mode restored.

    With `distributed` and torch.distributed initialised, rank r evaluates items r, r + world_size, ... and the
    confusion matrices are summed with all_reduce (on `device`: a CUDA device for NCCL); every rank returns the
    totals, only rank 0 writes files and shows progress.

    Returns metrics in PERCENT (0-100): {'miou': float, 'iou': {class name: float, or None for a class in neither
    ground truth nor prediction}, 'pixel_accuracy': float, 'images': number of images, 'labelled': those with a
    label}; 'miou' and 'pixel_accuracy' are None only when no pixel was labelled. With `out_dir` it also writes there
    metrics.json (these metrics plus 'confusion', the int64 (C, C + 1) counts), confusion.png and gallery.png (rank
    0's first `gallery` items).
    """
    if len(dataset) == 0:
        raise ValueError('cannot evaluate on an empty dataset')
    rank, world_size = 0, 1
    if distributed and dist.is_available() and dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    indices = range(rank, len(dataset), world_size)
    confusion = ConfusionMatrix(len(class_names))
    examples: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    labelled = 0
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(indices), desc='evaluate', unit='img', disable=not progress or rank != 0) as bar:
            for start in range(0, len(indices), batch_size):
                items = [dataset[index] for index in indices[start:start + batch_size]]
                predictions = segment(model, [item['image'] for item in items],
                                      [item.get('label', item['image'][..., 0]).shape for item in items],
                                      input_size, flip, device)
                for item, (prediction, _) in zip(items, predictions, strict=True):
                    if 'label' in item:
                        confusion.update(prediction, item['label'])
                        labelled += 1
                    if len(examples) < gallery:
                        examples.append((item['image'], prediction, item.get('label')))
                bar.update(len(items))
    finally:
        model.train(was_training)
    if world_size > 1:
        counts = torch.from_numpy(confusion.matrix).to(device)
        dist.all_reduce(counts)
        confusion = ConfusionMatrix(len(class_names))
        confusion.merge(counts.cpu().numpy())
        labelled_total = torch.tensor([labelled], device=device)
        dist.all_reduce(labelled_total)
        labelled = int(labelled_total.item())

    results = {
        'miou': _percent(confusion.miou()),
        'iou': {name: _percent(value) for name, value in zip(class_names, confusion.iou().tolist(), strict=True)},
        'pixel_accuracy': _percent(confusion.pixel_accuracy()),
        'images': len(dataset),
        'labelled': labelled,
    }
    if out_dir is not None and rank == 0:
        out_dir = Path(out_dir)
        metrics = {**results, 'confusion': confusion.matrix.tolist()}
        atomic_write_bytes(out_dir / 'metrics.json', (json.dumps(metrics, indent=2) + '\n').encode())
        confusion_png(confusion.matrix, class_names, out_dir / 'confusion.png')
        if examples:
            gallery_png(examples, palette, out_dir / 'gallery.png')
    return results


def format_table(results: dict[str, dict[str, Any]], class_names: Sequence[str]) -> str:
    """A Markdown table of IoU per class and mIoU (percent, one decimal) with one column per named result.

    results: {column name: an `evaluate` result}; an IoU that is None or missing shows as '-'.
    """
    def cell(value: float | None) -> str:
        return '-' if value is None else f'{value:.1f}'

    body = [[name] + [cell(result['iou'].get(name)) for result in results.values()] for name in class_names]
    body.append(['**mIoU**'] + [f'**{cell(result["miou"])}**' for result in results.values()])
    header = ['class', *results]
    widths = [max(4, *(len(row[column]) for row in [header, *body])) for column in range(len(header))]

    def line(row: list[str]) -> str:
        return '| ' + ' | '.join([row[0].ljust(widths[0])] + [text.rjust(width) for text, width
                                                              in zip(row[1:], widths[1:], strict=True)]) + ' |'

    rule = '| ' + ' | '.join(['-' * widths[0]] + ['-' * (width - 1) + ':' for width in widths[1:]]) + ' |'
    return '\n'.join([line(header), rule, *map(line, body)]) + '\n'
