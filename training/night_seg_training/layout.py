"""Dark Zurich's file layout, spelled out once: the readers (datasets.py) and the writers (synthetic.files,
drive_pairs.pairing) all take their paths from here, so what a writer puts down is where a reader looks.

Under a dataset root, for a split (train, val, ...) and a sequence SEQ (a recording, a bag, SYNTH) of frames named
<SEQ>_frame_<n> (`frame_stem`):

  rgb_anon/<split>/night/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png                    NIGHT_IMAGES
  gt/<split>/night/<SEQ>/<SEQ>_frame_<n>_gt_labelTrainIds.png                  NIGHT_LABELS (where known)

and each night image's day reference in one of two ways:

  paired by list (Dark Zurich train; `night-seg-train pairs`, where several night frames may share a day frame):
  rgb_anon/<split>/day/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png                      DAY_IMAGES
  corresp/<split>/night/zurich_dn_pair_<split>.csv                             `pair_list`: "<night>,<day>" lines of
                                                                               `pair_key`s
  paired by name (Dark Zurich val; the synthetic generator, one day view per night view):
  rgb_anon/<split>_ref/day/<SEQ>_ref/<SEQ>_frame_<n>_ref_rgb_anon.png          REFERENCES
  gt/<split>_ref/day/<SEQ>_ref/<SEQ>_frame_<n>_ref_gt_labelTrainIds.png        REFERENCE_LABELS (synthetic only)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RGB_FOLDER = 'rgb_anon'
"""The folder of every image under a dataset root; pair-list keys are relative to it."""
IMAGE_SUFFIX = '_rgb_anon.png'
"""How every image file name ends."""
LABEL_SUFFIX = '_gt_labelTrainIds.png'
"""How every label file name ends (uint8 PNG of Cityscapes train ids, 255 = ignore)."""


@dataclass(frozen=True)
class Files:
    """One kind of file: under `folder` of a dataset root ('{split}' filled in), one sub-folder per sequence (its name
    and `sequence_suffix`), each file named after its frame's stem and `suffix`."""

    folder: str
    suffix: str
    sequence_suffix: str = ''

    def directory(self, root: str | Path, split: str) -> Path:
        """The folder holding the sequences' sub-folders of `split` under `root`."""
        return Path(root) / self.folder.format(split=split)

    def sequence_folder(self, root: str | Path, split: str, sequence: str) -> Path:
        """The folder of `sequence`'s files in `split` under `root`."""
        return self.directory(root, split) / (sequence + self.sequence_suffix)

    def path(self, root: str | Path, split: str, sequence: str, stem: str) -> Path:
        """The file of frame `stem` of `sequence` in `split` under `root`."""
        return self.sequence_folder(root, split, sequence) / (stem + self.suffix)

    @property
    def pattern(self) -> str:
        """The layout for messages, e.g. 'rgb_anon/<split>/night/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png'."""
        return f'{self.folder.format(split="<split>")}/<SEQ>{self.sequence_suffix}/<SEQ>_frame_<n>{self.suffix}'


NIGHT_IMAGES = Files(f'{RGB_FOLDER}/{{split}}/night', IMAGE_SUFFIX)
NIGHT_LABELS = Files('gt/{split}/night', LABEL_SUFFIX)
DAY_IMAGES = Files(f'{RGB_FOLDER}/{{split}}/day', IMAGE_SUFFIX)
"""Day frames paired by list: each night image's reference is the one its `pair_list` line names."""
REFERENCES = Files(f'{RGB_FOLDER}/{{split}}_ref/day', '_ref' + IMAGE_SUFFIX, '_ref')
"""Day references paired by name: night <SEQ>/<stem> has <SEQ>_ref/<stem>_ref."""
REFERENCE_LABELS = Files('gt/{split}_ref/day', '_ref' + LABEL_SUFFIX, '_ref')
"""Labels of the day references paired by name (only the synthetic generator writes them)."""


def frame_stem(sequence: str, frame: int) -> str:
    """The stem of frame number `frame` of `sequence`: <SEQ>_frame_<n>, n six digits."""
    return f'{sequence}_frame_{frame:06d}'


def pair_key(split: str, role: str, sequence: str, stem: str) -> str:
    """How a pair list names an image: <split>/<role>/<SEQ>/<stem>, relative to rgb_anon/ and without its suffix
    (role: night or day)."""
    return f'{split}/{role}/{sequence}/{stem}'


def image_of_key(root: str | Path, key: str) -> Path:
    """The image file a pair-list key names under `root`."""
    return Path(root) / RGB_FOLDER / (key + IMAGE_SUFFIX)


def pair_list(root: str | Path, split: str) -> Path:
    """The pair list of `split` under `root`: one "<night key>,<day key>" line per night image."""
    return Path(root) / 'corresp' / split / 'night' / f'zurich_dn_pair_{split}.csv'


def has_named_references(root: str | Path, split: str) -> bool:
    """Whether `split` under `root` pairs its night images with day references by name (a REFERENCES folder)."""
    return (Path(root) / RGB_FOLDER / f'{split}_ref').is_dir()
