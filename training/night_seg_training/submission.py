"""Predictions on unlabelled images: a benchmark server's submission (Dark Zurich test) or a user's folder of frames.

Dark Zurich's benchmark server takes one zip holding three folders, each with one PNG per test image, named as the
image file (``GOPR0356_frame_000001_rgb_anon.png``, no sequence folder) and at the image's size (1080 x 1920):

  labelTrainIds/          uint8 Cityscapes train ids 0..18                              scored as mIoU
  confidence/             uint16, the confidence 0..1 as 0..65535                       uncertainty-aware metrics
  labelTrainIds_invalid/  uint8 train ids, 255 where the model abstains (confidence      scored as UIoU
                          below a threshold)

`write_submission` writes them (and the zip) and checks the zip with `check_submission`; `write_folder_predictions`
writes class ids, palette colours and confidence of any images. Predictions come from `evaluate.segment`: logits
upsampled bilinearly to the image's size before the argmax, as the published evaluations do.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.errors import NightSegError
from night_seg_ros.model import SegmentationModel
from night_seg_ros.render import colorize, palette_lut, write_png
from night_seg_training.evaluate import segment

LABELS = 'labelTrainIds'
CONFIDENCE = 'confidence'
INVALID = 'labelTrainIds_invalid'
SUBMISSION_FOLDERS = (LABELS, CONFIDENCE, INVALID)
"""The folders of a Dark Zurich submission zip, each at the zip's top level."""
SUBMISSION_ZIP = 'submission.zip'
"""The zip `write_submission` writes in its output folder."""
CONFIDENCE_SCALE = 65535
"""A confidence of 1 in the uint16 confidence PNGs."""


class SubmissionError(NightSegError, ValueError):
    """A submission zip is not in the benchmark's format; names what is wrong."""


@dataclass(frozen=True)
class PredictOptions:
    """How `write_submission` and `write_folder_predictions` predict.

    input_size: (height, width) the images are resized to for the network (None: the model's input);
    flip: average the class probabilities with the mirror image's; invalid_below: the confidence below which the
    submission's labelTrainIds_invalid abstains (255); batch_size: images per forward pass.
    """

    input_size: tuple[int, int] | None = None
    flip: bool = False
    invalid_below: float = 0.5
    batch_size: int = 2
    device: str = 'cpu'
    progress: bool = True


def confidence_png(confidence: np.ndarray) -> np.ndarray:
    """float (H, W) confidence in 0..1 -> uint16 (H, W), 0..1 mapped linearly (rounded) onto 0..CONFIDENCE_SCALE."""
    return np.rint(np.clip(confidence, 0.0, 1.0) * CONFIDENCE_SCALE).astype(np.uint16)


# Files of one prediction: (folder, array) per file, from labels uint8 (H, W) and confidence float32 (H, W).
_Render = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


def _write_predictions(model: SegmentationModel, dataset: Any, out: Path, options: PredictOptions, render: _Render,
                       file_name: Callable[[int], str]) -> dict[str, tuple[int, int]]:
    """Predict every image of `dataset` (items {'image': uint8 (H, W, 3) RGB, ...}) at its own size and write
    out/<folder>/<file_name(index)> for each folder `render` returns; returns {file name: (H, W)}."""
    written: dict[str, tuple[int, int]] = {}
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(dataset), desc='predict', unit='img', disable=not options.progress) as bar:
            for start in range(0, len(dataset), options.batch_size):
                indices = range(start, min(start + options.batch_size, len(dataset)))
                images = [dataset[index]['image'] for index in indices]
                predictions = segment(model, images, [image.shape[:2] for image in images], options.input_size,
                                      options.flip, options.device)
                for index, (labels, confidence) in zip(indices, predictions, strict=True):
                    name = file_name(index)
                    for folder, array in render(labels, confidence).items():
                        write_png(out / folder / name, array)
                    written[name] = labels.shape
                bar.update(len(images))
    finally:
        model.train(was_training)
    return written


def write_submission(model: SegmentationModel, dataset: Any, out: str | Path, options: PredictOptions,
                     num_classes: int) -> Path:
    """Write the Dark Zurich submission of `dataset` (a reader with `image_file`, e.g. DarkZurich(root, 'test',
    with_reference=False)) under `out`: the three SUBMISSION_FOLDERS and out/SUBMISSION_ZIP holding them, which is
    then checked with `check_submission` against the images' names and sizes. Returns the zip's path."""
    out = Path(out)

    def render(labels: np.ndarray, confidence: np.ndarray) -> dict[str, np.ndarray]:
        invalid = np.where(confidence < options.invalid_below, np.uint8(IGNORE_INDEX), labels)
        return {LABELS: labels, CONFIDENCE: confidence_png(confidence), INVALID: invalid}

    written = _write_predictions(model, dataset, out, options, render,
                                 lambda index: Path(dataset.image_file(index).name).with_suffix('.png').name)
    archive = out / SUBMISSION_ZIP
    handle, partial = tempfile.mkstemp(dir=out, prefix=f'.{SUBMISSION_ZIP}.', suffix='.tmp')
    os.close(handle)
    try:
        with zipfile.ZipFile(partial, 'w', zipfile.ZIP_STORED) as bundle:  # PNGs are compressed already
            for folder in SUBMISSION_FOLDERS:
                for name in sorted(written):
                    bundle.write(out / folder / name, f'{folder}/{name}')
        os.replace(partial, archive)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    check_submission(archive, num_classes, written)
    return archive


def write_folder_predictions(model: SegmentationModel, dataset: Any, out: str | Path, options: PredictOptions,
                             palette: Sequence[Sequence[int]]) -> int:
    """Write, for every image of `dataset` (items named by relative path, e.g. an `ImageFolder`), out/labels/<name>.png
    (uint8 class ids), out/color/<name>.png (the palette's colours) and out/confidence/<name>.png (uint16, 0..65535
    for 0..1), at the image's size. Returns the number of images."""
    lut = palette_lut(palette)

    def render(labels: np.ndarray, confidence: np.ndarray) -> dict[str, np.ndarray]:
        color = cv2.cvtColor(colorize(labels, lut), cv2.COLOR_RGB2BGR)
        return {'labels': labels, 'color': color, 'confidence': confidence_png(confidence)}

    return len(_write_predictions(model, dataset, Path(out), options, render,
                                  lambda index: dataset[index]['name'] + '.png'))


def _decode(archive: zipfile.ZipFile, member: str) -> np.ndarray | None:
    """The PNG `member` of `archive` as stored (uint8 or uint16, any channels); None when it does not decode."""
    return cv2.imdecode(np.frombuffer(archive.read(member), np.uint8), cv2.IMREAD_UNCHANGED)


def _check_image(name: str, images: dict[str, np.ndarray | None], num_classes: int,
                 size: tuple[int, int] | None) -> list[str]:
    """The problems of one image's three PNGs (`images`: folder -> decoded array), against its expected `size`."""
    problems = []
    wanted = {LABELS: np.uint8, CONFIDENCE: np.uint16, INVALID: np.uint8}
    for folder, array in images.items():
        if array is None or array.ndim != 2 or array.dtype != wanted[folder]:
            found = 'not a PNG' if array is None else f'{array.dtype} of shape {array.shape}'
            problems.append(f'{folder}/{name} is {found}; expected single-channel {np.dtype(wanted[folder])}')
    if problems:
        return problems
    shapes = {array.shape for array in images.values()}
    if len(shapes) > 1 or (size is not None and shapes != {tuple(size)}):
        problems.append(f'{name}: sizes {", ".join(f"{folder} {images[folder].shape}" for folder in images)}'
                        + ('' if size is None else f'; the image is {tuple(size)}'))
        return problems
    labels, invalid = images[LABELS], images[INVALID]
    if labels.max() >= num_classes:
        problems.append(f'{LABELS}/{name} holds id {labels.max()}; train ids are 0..{num_classes - 1}')
    abstained = invalid == IGNORE_INDEX
    if np.any(invalid[~abstained] != labels[~abstained]):
        problems.append(f'{INVALID}/{name} differs from {LABELS}/{name} outside its {IGNORE_INDEX} pixels')
    return problems


def check_submission(path: str | Path, num_classes: int = 19,
                     expected: dict[str, tuple[int, int]] | None = None) -> int:
    """Check a Dark Zurich submission zip; return its number of images, or raise SubmissionError naming the problems.

    The zip must hold exactly the SUBMISSION_FOLDERS at its top level, each with the same PNG file names;
    labelTrainIds uint8 ids below `num_classes`, confidence uint16, labelTrainIds_invalid uint8 equal to the labels
    except where 255, all three of one image the same size. With `expected` ({file name: (height, width)}, the test
    images) every image must be there at its size and nothing else.
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise SubmissionError(f'{path}: not a readable zip ({error})') from error
    problems: list[str] = []
    with archive:
        names: dict[str, set[str]] = {folder: set() for folder in SUBMISSION_FOLDERS}
        for member in archive.namelist():
            parts = PurePosixPath(member).parts
            if len(parts) == 1 and member.endswith('/') and parts[0] in names:
                continue  # a folder entry
            if len(parts) != 2 or parts[0] not in names or not parts[1].endswith('.png'):
                problems.append(f'unexpected entry {member!r} (only {", ".join(f"{f}/<image>.png" for f in names)})')
                continue
            names[parts[0]].add(parts[1])
        reference = set(expected) if expected is not None else set().union(*names.values())
        for folder, found in names.items():
            if missing := sorted(reference - found):
                problems.append(f'{folder}/ lacks {len(missing)} image(s), e.g. {missing[0]}')
            if extra := sorted(found - reference):
                problems.append(f'{folder}/ has {len(extra)} image(s) not in the test set, e.g. {extra[0]}')
        for name in sorted(set.intersection(*names.values())):
            images = {folder: _decode(archive, f'{folder}/{name}') for folder in SUBMISSION_FOLDERS}
            problems += _check_image(name, images, num_classes, None if expected is None else expected.get(name))
    if not reference:
        problems.append('no images')
    if problems:
        shown = '; '.join(problems[:4]) + (f'; and {len(problems) - 4} more' if len(problems) > 4 else '')
        raise SubmissionError(f'{path} is not a valid submission: {shown}')
    return len(reference)
