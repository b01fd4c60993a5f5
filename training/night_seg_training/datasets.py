"""Readers for the driving datasets in their published layouts, as map-style datasets of numpy samples.

Each reader lists its files when it is built (sorted, every image checked to have its label and reference files) and
reads one sample per ``__getitem__``, at full resolution (cropping and scaling happen in the training pipeline):

  labelled view   {'image': uint8 (H, W, 3) RGB, 'label': uint8 (H, W) Cityscapes train ids (255 = ignore), 'name': str}
  night pair      {'image': uint8 (H, W, 3) RGB, 'reference': uint8 (H', W', 3) RGB day image of the same place,
                   'name': str, and 'label' where the night image has ground truth}

``name`` is the image's file name without the dataset's suffix (``aachen_000000_000019``, ``GOPR0356_frame_000321``).
A folder that is missing or misnamed, an empty folder, an image without its label or reference file, a missing pair
list and a label PNG that is not single-channel uint8 raise :class:`DatasetError`, naming the dataset, the split and
the exact path expected. ``build_dataset`` turns a recipe entry (a dict) into one of these readers.
"""

import inspect
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.errors import NightSegError
from night_seg_training import layout


class DatasetError(NightSegError, ValueError):
    """A dataset on disk is not in its published layout, or a recipe entry is invalid; says what is expected."""


# Cityscapes label id of each train id 0..18 (cityscapesscripts/helpers/labels.py); every other id is ignored.
_CITYSCAPES_EVALUATED_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)


def _id_to_train_id_table() -> np.ndarray:
    """Return the read-only uint8 (256,) lookup table label id -> train id, IGNORE_INDEX for unevaluated ids."""
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    table[list(_CITYSCAPES_EVALUATED_IDS)] = np.arange(len(_CITYSCAPES_EVALUATED_IDS), dtype=np.uint8)
    table.setflags(write=False)
    return table


CITYSCAPES_ID_TO_TRAIN_ID = _id_to_train_id_table()
"""uint8 (256,): Cityscapes label id -> train id (7 road -> 0, ..., 33 bicycle -> 18; every other id -> 255)."""

_PAIR_LIST_FORMAT = (
    'a pair list is the day/night correspondence CSV distributed with DANNet/Refign: one line "<night>,<day>" per '
    'night image, both relative to rgb_anon/ and without the _rgb_anon.png suffix, e.g. '
    '"train/night/GOPR0351/GOPR0351_frame_000159,train/day/GOPR0229/GOPR0229_frame_000400"'
)


@dataclass(frozen=True)
class _Files:
    """One kind of file of a published layout (images, labels or references).

    ``folder`` holds the files, one level of sub-folders deep (a city, a sequence) when ``nested``; every file name ends
    with ``suffix``. ``layout`` is the published layout, for messages. When mapped from an image, a file with one of
    ``fallbacks`` stands in for a missing ``suffix`` one, and ``subfolder_suffix`` is appended to the image's
    sub-folder name (Dark Zurich keeps the references of sequence GOPR0356 in GOPR0356_ref).
    """

    folder: Path
    suffix: str
    layout: str
    nested: bool = True
    fallbacks: tuple[str, ...] = ()
    subfolder_suffix: str = ''


@dataclass
class _Item:
    """One sample on disk: its name and the path of each of its arrays ('image', 'label', 'reference')."""

    name: str
    paths: dict[str, Path]


def _nearest_contents(folder: Path) -> str:
    """Say what the nearest existing ancestor of ``folder`` holds, so that a misnamed folder shows up in the message."""
    ancestor = folder.parent
    while not ancestor.is_dir() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    try:
        names = sorted(child.name for child in ancestor.iterdir())
    except OSError:
        return ''
    shown = ', '.join(names[:12]) + (', ...' if len(names) > 12 else '')
    return f' (nearest existing folder {ancestor} holds: {shown or "nothing"})'


def _layout_files(kind: layout.Files, root: Path, split: str, note: str = '') -> _Files:
    """The _Files of a kind of file of the Dark Zurich layout (layout.py) in `split` under `root`."""
    return _Files(kind.directory(root, split), kind.suffix, kind.pattern + note, subfolder_suffix=kind.sequence_suffix)


def _require_folder(dataset: str, files: _Files) -> None:
    """Raise DatasetError naming ``files.folder`` and the published layout when that folder does not exist."""
    if not files.folder.is_dir():
        raise DatasetError(f'{dataset}: expected folder {files.folder} (layout: {files.layout}); not found'
                           f'{_nearest_contents(files.folder)}')


def _list_files(dataset: str, files: _Files) -> list[Path]:
    """Return the sorted paths of ``files``; DatasetError when their folder is missing or holds none."""
    _require_folder(dataset, files)
    pattern = ('*/*' if files.nested else '*') + files.suffix
    found = sorted(files.folder.glob(pattern))
    if not found:
        raise DatasetError(f'{dataset}: folder {files.folder} holds no {pattern} files (layout: {files.layout})')
    return found


def _sibling(dataset: str, image: Path, subfolder: Path, stem: str, files: _Files) -> Path:
    """Return the file of kind ``files`` that belongs to ``image`` (in ``subfolder``, named ``stem`` + suffix)."""
    if files.subfolder_suffix:
        subfolder = subfolder.with_name(subfolder.name + files.subfolder_suffix)
    folder = files.folder / subfolder
    for suffix in (files.suffix, *files.fallbacks):
        if (folder / (stem + suffix)).is_file():
            return folder / (stem + suffix)
    also = ''.join(f' (nor {folder / (stem + suffix)})' for suffix in files.fallbacks)
    raise DatasetError(f'{dataset}: image {image} has no matching file {folder / (stem + files.suffix)}{also} '
                       f'(layout: {files.layout})')


def _collect(dataset: str, images: _Files, siblings: dict[str, _Files]) -> list[_Item]:
    """List ``images`` and map each to its file of every kind in ``siblings`` (key -> kind, e.g. 'label' -> labels).

    DatasetError when a folder is missing or empty, or when an image lacks one of its files.
    """
    found = _list_files(dataset, images)
    for files in siblings.values():
        _require_folder(dataset, files)
    items = []
    for image in found:
        stem = image.name[:-len(images.suffix)]
        subfolder = image.parent.relative_to(images.folder)
        paths = {'image': image} | {key: _sibling(dataset, image, subfolder, stem, files)
                                    for key, files in siblings.items()}
        items.append(_Item(stem, paths))
    return items


def _check_split(dataset: str, split: str, allowed: tuple[str, ...]) -> None:
    """Raise DatasetError naming the allowed splits when ``split`` is not one of them."""
    if split not in allowed:
        raise DatasetError(f'{dataset}: unknown split {split!r}; allowed: {", ".join(allowed)}')


def _read_rgb(dataset: str, path: Path) -> np.ndarray:
    """Read an image file as uint8 (H, W, 3) RGB."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f'{dataset}: cannot read image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_label(dataset: str, path: Path) -> np.ndarray:
    """Read a label PNG as uint8 (H, W) train ids; Cityscapes ``*_gtFine_labelIds.png`` label ids are converted."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise DatasetError(f'{dataset}: cannot read label {path}')
    if label.ndim != 2 or label.dtype != np.uint8:
        raise DatasetError(f'{dataset}: label {path} is {label.dtype} of shape {label.shape}; '
                           'expected a single-channel uint8 PNG (H, W)')
    return CITYSCAPES_ID_TO_TRAIN_ID[label] if path.name.endswith('_gtFine_labelIds.png') else label


class _FileDataset:
    """Map-style dataset over listed files: ``dataset[i]`` reads sample i as a dict of numpy arrays plus 'name'."""

    def __init__(self, dataset: str, items: list[_Item]) -> None:
        self.dataset = dataset
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def fully_labelled(self) -> bool:
        """Whether every sample has a 'label' (own_drives may label only some of its frames)."""
        return all('label' in item.paths for item in self._items)

    def image_file(self, index: int) -> Path:
        """The image file of sample ``index``."""
        return self._items[index].paths['image']

    def label(self, index: int) -> np.ndarray | None:
        """Read only sample ``index``'s label, uint8 (H, W) train ids; None when it has none."""
        path = self._items[index].paths.get('label')
        return None if path is None else _read_label(self.dataset, path)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Read sample ``index``: 'image' (and 'reference') uint8 (H, W, 3) RGB, 'label' uint8 (H, W), 'name' str."""
        item = self._items[index]
        sample: dict[str, Any] = {key: (_read_label if key == 'label' else _read_rgb)(self.dataset, path)
                                  for key, path in item.paths.items()}
        if 'label' in sample and sample['label'].shape != sample['image'].shape[:2]:
            raise DatasetError(f'{self.dataset}: label {item.paths["label"]} is {sample["label"].shape}, image '
                               f'{item.paths["image"]} is {sample["image"].shape[:2]}; they must be the same size')
        sample['name'] = item.name
        return sample

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.dataset}: {len(self)} samples>'


class Cityscapes(_FileDataset):
    """Cityscapes fine annotations: labelled views from ``root`` = the folder holding ``leftImg8bit/`` and ``gtFine/``.

    Labels are ``*_gtFine_labelTrainIds.png``, or, where that file is absent, ``*_gtFine_labelIds.png`` converted with
    CITYSCAPES_ID_TO_TRAIN_ID.
    """

    def __init__(self, root: str | Path, split: str = 'train') -> None:
        dataset = f'Cityscapes ({split})'
        _check_split(dataset, split, ('train', 'val', 'test'))
        root = Path(root)
        images = _Files(root / 'leftImg8bit' / split, '_leftImg8bit.png',
                        'leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png')
        labels = _Files(root / 'gtFine' / split, '_gtFine_labelTrainIds.png',
                        'gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png or _gtFine_labelIds.png',
                        fallbacks=('_gtFine_labelIds.png',))
        super().__init__(dataset, _collect(dataset, images, {'label': labels}))


def _read_pairs(dataset: str, path: Path) -> dict[str, str]:
    """Read a Dark Zurich pair list: night path -> day path, both relative to rgb_anon/ and without suffix."""
    if not path.is_file():
        raise DatasetError(f'{dataset}: expected pair list {path}; not found ({_PAIR_LIST_FORMAT})')
    pairs = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = [part.strip() for part in line.split(',')]
        if fields == ['']:
            continue
        if len(fields) != 2 or not all(fields):
            raise DatasetError(f'{dataset}: line {number} of pair list {path} is {line!r}; {_PAIR_LIST_FORMAT}')
        pairs[fields[0]] = fields[1]
    return pairs


def _add_paired_references(dataset: str, items: list[_Item], root: Path, pairs_path: Path) -> None:
    """Give each night item in ``items`` its 'reference': the day image the pair list at ``pairs_path`` names for it.

    The pair list's keys are relative to ``root``/rgb_anon/ and without the image suffix (layout.pair_key).
    """
    pairs = _read_pairs(dataset, pairs_path)
    rgb = root / layout.RGB_FOLDER
    for item in items:
        night = item.paths['image']
        key = night.relative_to(rgb).as_posix()[:-len(layout.IMAGE_SUFFIX)]
        if key not in pairs:
            raise DatasetError(f'{dataset}: night image {night} has no line "{key},<day>" in pair list {pairs_path}')
        day = layout.image_of_key(root, pairs[key])
        if not day.is_file():
            raise DatasetError(f'{dataset}: day reference {day} of night image {night} (pair list {pairs_path}) '
                               'not found')
        item.paths['reference'] = day


class DarkZurich(_FileDataset):
    """Dark Zurich night images with their day references: night pairs from ``root`` = the folder holding ``rgb_anon/``.

    Labels ``gt/<split>/night/<SEQ>/<SEQ>_frame_<n>_gt_labelTrainIds.png`` are required in val and read in any split
    whose ``gt/<split>/night`` folder exists (every split the synthetic generator writes); train and test (whose
    labels the benchmark withholds) have none. A split with a ``rgb_anon/<split>_ref`` folder (val, test, and the
    synthetic generator's) pairs by name: references
    ``rgb_anon/<split>_ref/day/<SEQ>_ref/<SEQ>_frame_<n>_ref_rgb_anon.png``.
    Any other split (train) takes its references from the pair list ``pairs_file`` (default
    ``corresp/<split>/night/zurich_dn_pair_<split>.csv`` under root). ``with_reference=False`` leaves references out
    and needs neither reference files nor a pair list (the test split read for a submission).
    """

    def __init__(self, root: str | Path, split: str = 'train', with_reference: bool = True,
                 pairs_file: str | Path | None = None) -> None:
        dataset = f'Dark Zurich ({split})'
        root = Path(root)
        images = _layout_files(layout.NIGHT_IMAGES, root, split)
        siblings = {}
        labels = _layout_files(layout.NIGHT_LABELS, root, split)
        if split == 'val' or labels.folder.is_dir():
            siblings['label'] = labels
        paired_by_name = split == 'val' or layout.has_named_references(root, split)
        if paired_by_name and with_reference:
            siblings['reference'] = _layout_files(layout.REFERENCES, root, split)
        items = _collect(dataset, images, siblings)
        if with_reference and not paired_by_name:
            default = layout.pair_list(root, split)
            _add_paired_references(dataset, items, root, default if pairs_file is None else Path(pairs_file))
        super().__init__(dataset, items)


class OwnDrives(_FileDataset):
    """Night frames of the user's drives with their day references, as `night-seg-train pairs` writes them
    (``night_seg_training.drive_pairs.pairing``), from ``root`` = the folder holding ``rgb_anon/`` and
    ``manifest.json``.

    Night images ``rgb_anon/<split>/night/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png`` (split train or val), references from
    the pair list ``corresp/<split>/night/zurich_dn_pair_<split>.csv``, and 'label' for the frames that have
    ``gt/<split>/night/<SEQ>/<SEQ>_frame_<n>_gt_labelTrainIds.png`` (labelled by the user or by the synthetic
    generator; the others have none, and `evaluate` shows them in its gallery only). ``labelled_only`` keeps just
    the labelled frames.
    """

    def __init__(self, root: str | Path, split: str = 'train', with_reference: bool = True,
                 labelled_only: bool = False) -> None:
        dataset = f'own drives ({split})'
        _check_split(dataset, split, ('train', 'val'))
        root = Path(root)
        images = _layout_files(layout.NIGHT_IMAGES, root, split, ', written by night-seg-train pairs')
        items = _collect(dataset, images, {})
        if with_reference:
            _add_paired_references(dataset, items, root, layout.pair_list(root, split))
        for item in items:
            label = layout.NIGHT_LABELS.path(root, split, item.paths['image'].parent.name, item.name)
            if label.is_file():
                item.paths['label'] = label
        if labelled_only:
            items = [item for item in items if 'label' in item.paths]
            if not items:
                raise DatasetError(f'{dataset}: no night frame under {images.folder} has a label in '
                                   f'{layout.NIGHT_LABELS.directory(root, split)} (<SEQ>/<SEQ>_frame_<n>'
                                   f'{layout.LABEL_SUFFIX})')
        super().__init__(dataset, items)


class DarkZurichReferences(_FileDataset):
    """The day references of a Dark Zurich split as labelled views, from ``root`` = the folder holding ``rgb_anon/``.

    Images ``rgb_anon/<split>_ref/day/<SEQ>_ref/<SEQ>_frame_<n>_ref_rgb_anon.png``, labels
    ``gt/<split>_ref/day/<SEQ>_ref/<SEQ>_frame_<n>_ref_gt_labelTrainIds.png``. Only the synthetic generator writes such
    labels (it is how synthetic day source data is read from disk); real Dark Zurich has none, so this raises there.
    """

    def __init__(self, root: str | Path, split: str = 'train') -> None:
        dataset = f'Dark Zurich day references ({split})'
        root = Path(root)
        # listed by the general suffix, so each name keeps its _ref (the labels' stems carry it too)
        images = _Files(layout.REFERENCES.directory(root, split), layout.IMAGE_SUFFIX, layout.REFERENCES.pattern)
        labels = _Files(layout.REFERENCE_LABELS.directory(root, split), layout.LABEL_SUFFIX,
                        layout.REFERENCE_LABELS.pattern + ', written only by the synthetic generator: real Dark Zurich '
                        'publishes no labels for its day references')
        super().__init__(dataset, _collect(dataset, images, {'label': labels}))


class ACDCNight(_FileDataset):
    """ACDC night: labelled views (plus 'reference' if asked), ``root`` = the folder holding ``rgb_anon/`` and ``gt/``.

    Images ``rgb_anon/night/<split>/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png``, labels
    ``gt/night/<split>/<SEQ>/<SEQ>_frame_<n>_gt_labelTrainIds.png``, references
    ``rgb_anon/night/<split>_ref/<SEQ>/<SEQ>_frame_<n>_rgb_ref_anon.png``.
    """

    def __init__(self, root: str | Path, split: str = 'train', with_reference: bool = False) -> None:
        dataset = f'ACDC night ({split})'
        _check_split(dataset, split, ('train', 'val'))
        root = Path(root)
        images = _Files(root / 'rgb_anon' / 'night' / split, '_rgb_anon.png',
                        'rgb_anon/night/<split>/<SEQ>/<SEQ>_frame_<n>_rgb_anon.png')
        siblings = {'label': _Files(root / 'gt' / 'night' / split, '_gt_labelTrainIds.png',
                                    'gt/night/<split>/<SEQ>/<SEQ>_frame_<n>_gt_labelTrainIds.png')}
        if with_reference:
            siblings['reference'] = _Files(root / 'rgb_anon' / 'night' / f'{split}_ref', '_rgb_ref_anon.png',
                                           'rgb_anon/night/<split>_ref/<SEQ>/<SEQ>_frame_<n>_rgb_ref_anon.png')
        super().__init__(dataset, _collect(dataset, images, siblings))


class NighttimeDriving(_FileDataset):
    """Nighttime Driving test set (coarsely labelled night images), ``root`` = the folder holding ``leftImg8bit/``;
    its one split is test.

    Images ``leftImg8bit/test/night/<name>_leftImg8bit.png``, labels
    ``gtCoarse_daytime_trainvaltest/test/night/<name>_gtCoarse_labelTrainIds.png``.
    """

    def __init__(self, root: str | Path, split: str = 'test') -> None:
        dataset = f'Nighttime Driving ({split})'
        _check_split(dataset, split, ('test',))
        root = Path(root)
        images = _Files(root / 'leftImg8bit' / 'test' / 'night', '_leftImg8bit.png',
                        'leftImg8bit/test/night/<name>_leftImg8bit.png', nested=False)
        labels = _Files(root / 'gtCoarse_daytime_trainvaltest' / 'test' / 'night', '_gtCoarse_labelTrainIds.png',
                        'gtCoarse_daytime_trainvaltest/test/night/<name>_gtCoarse_labelTrainIds.png', nested=False)
        super().__init__(dataset, _collect(dataset, images, {'label': labels}))


IMAGE_FOLDER_SUFFIXES = ('.png', '.jpg', '.jpeg')
"""The image files `ImageFolder` reads (any case)."""


class ImageFolder(_FileDataset):
    """Unlabelled images, e.g. a user's own frames: every .png, .jpg or .jpeg file under ``root`` (sub-folders
    included), named by its path relative to ``root`` without the extension (``drive1/000012``)."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        dataset = f'image folder {root}'
        if not root.is_dir():
            raise DatasetError(f'{dataset}: not a folder{_nearest_contents(root)}')
        images = sorted(path for path in root.rglob('*')
                        if path.suffix.lower() in IMAGE_FOLDER_SUFFIXES and path.is_file())
        if not images:
            raise DatasetError(f'{dataset}: holds no {", ".join(IMAGE_FOLDER_SUFFIXES)} files')
        super().__init__(dataset, [_Item(path.relative_to(root).with_suffix('').as_posix(), {'image': path})
                                   for path in images])


# Reader of each dataset name; synthetic_* read the generator's output from disk when the recipe gives a 'root'.
_READERS: dict[str, type[_FileDataset]] = {
    'cityscapes': Cityscapes,
    'dark_zurich': DarkZurich,
    'dark_zurich_day': DarkZurichReferences,
    'acdc_night': ACDCNight,
    'nighttime_driving': NighttimeDriving,
    'own_drives': OwnDrives,
    'synthetic_day': DarkZurichReferences,
    'synthetic_night': DarkZurich,
}

DATASET_NAMES: tuple[str, ...] = tuple(_READERS)
"""The names a recipe entry's 'name' may take."""

EVALUATION_SIZES: dict[str, tuple[int, int]] = {
    'cityscapes': (512, 1024), 'dark_zurich': (540, 960), 'acdc_night': (540, 960), 'nighttime_driving': (540, 960)}
"""(height, width) the network sees each real dataset's images at in the published evaluations (DAFormer, MIC): half
their size, 1024 x 2048 and 1080 x 1920, at their own aspect. Other datasets are seen at the bundle's input size."""

# The split `evaluation_entry` reads where none is given: val, or a dataset's only labelled split.
_EVALUATION_SPLITS = {'nighttime_driving': 'test'}


def evaluation_entry(name: str, root: str | Path, split: str | None = None) -> dict[str, Any]:
    """The `build_dataset` entry that reads dataset `name` under `root` for evaluation or prediction.

    `split` None is the dataset's evaluation split (val; Nighttime Driving: test). Day references are left out where
    the reader has them (evaluation reads none, so neither reference files nor a pair list are needed).
    DatasetError names the allowed names for an unknown `name`.
    """
    if name not in _READERS:
        raise DatasetError(f'unknown dataset name {name!r}; allowed: {", ".join(DATASET_NAMES)}')
    entry: dict[str, Any] = {'name': name, 'root': str(root), 'split': split or _EVALUATION_SPLITS.get(name, 'val')}
    if 'with_reference' in inspect.signature(_READERS[name]).parameters:
        entry['with_reference'] = False
    return entry


_REQUIRED = inspect.Parameter.empty
# Keys of a synthetic_* entry without 'root' (generated in memory), with their defaults.
_GENERATOR_KEYS = {'split': 'train', 'count': _REQUIRED, 'height': _REQUIRED, 'width': _REQUIRED, 'seed': 0,
                   'alignment': 'aligned'}
_GENERATOR_TYPES = {'split': str, 'count': int, 'height': int, 'width': int, 'seed': int, 'alignment': str}


def check_spec(spec: Any, where: str = 'dataset') -> None:
    """DatasetError naming what is wrong with a dataset entry (`where`: its key, e.g. data.source), found without
    reading or generating anything: not a mapping, an unknown name, unknown or missing keys, a generator value of the
    wrong type. `build_dataset` checks the rest (folders, ranges)."""
    if not isinstance(spec, dict):
        raise DatasetError(f'{where} must be a mapping with a name (e.g. {{name: synthetic_night, count: 100, ...}}); '
                           f'got {spec!r}')
    params = dict(spec)
    name = params.pop('name', None)
    if not isinstance(name, str) or name not in _READERS:
        raise DatasetError(f'{where}: unknown dataset name {name!r}; allowed: {", ".join(DATASET_NAMES)}')
    if name.startswith('synthetic_') and 'root' not in params:
        params.pop('cache', None)
        wrong = [f'{key} is {value!r}, not {_GENERATOR_TYPES[key].__name__}'
                 for key, value in _entry_arguments(name, params, _GENERATOR_KEYS).items()
                 if isinstance(value, bool) or not isinstance(value, _GENERATOR_TYPES[key])]
        if wrong:
            raise DatasetError(f'{where} ({name}): {"; ".join(wrong)}')
        return
    keys = {key: parameter.default for key, parameter in inspect.signature(_READERS[name]).parameters.items()}
    _entry_arguments(name, params, keys)


def _entry_arguments(name: str, params: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """Return ``params`` completed with the defaults in ``keys`` (key -> default or _REQUIRED).

    DatasetError naming the allowed and required keys when ``params`` has a key not in ``keys`` or lacks a required one.
    """
    unknown = sorted(set(params) - set(keys))
    missing = [key for key, default in keys.items() if default is _REQUIRED and key not in params]
    if unknown or missing:
        required = ['name', *(key for key, default in keys.items() if default is _REQUIRED)]
        problems = [f'{what} keys {", ".join(found)}' for what, found in (('unknown', unknown), ('missing', missing))
                    if found]
        raise DatasetError(f'dataset {name!r}: {"; ".join(problems)}; allowed keys: name, {", ".join(keys)} '
                           f'(required: {", ".join(required)})')
    return {key: params.get(key, default) for key, default in keys.items()}


def _cached_synthetic(cache: Path, args: dict[str, Any]) -> Path:
    """The folder under `cache` holding synthetic pairs `args` describes, generated there first if absent.

    One folder per (split, count, size, seed, alignment), so the day and night views of a recipe share it. It is
    written to a temporary folder and renamed into place, so an interrupted generation is never mistaken for a
    complete one and concurrent processes (DDP ranks) do not write into each other's files.
    """
    from night_seg_training.synthetic import write_dataset

    name = f'{args["split"]}-{args["count"]}-{args["width"]}x{args["height"]}-seed{args["seed"]}'
    root = cache / (name if args['alignment'] == 'aligned' else f'{name}-{args["alignment"]}')
    if not root.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=cache, prefix=f'.{root.name}.'))
        write_dataset(partial, args['split'], args['count'], args['height'], args['width'], args['seed'],
                      args['alignment'])
        try:
            partial.rename(root)
        except OSError:  # another process finished the same folder first
            shutil.rmtree(partial)
    return root


def build_dataset(spec: dict[str, Any]) -> Any:
    """Build the dataset a recipe entry describes, e.g. ``{'name': 'cityscapes', 'root': '/data/cityscapes'}``.

    'name' is one of DATASET_NAMES; the other keys are the reader's arguments ('root', 'split', ...).
    ``synthetic_day`` and ``synthetic_night`` without 'root' generate their samples with
    ``night_seg_training.synthetic`` (keys split, count, height, width, seed, alignment: aligned | coarse): in memory,
    or with 'cache': DIR once onto disk under DIR, read from there afterwards. With 'root' they read a folder written
    by ``night-seg-train synth``. DatasetError names the allowed names or keys when the entry has an unknown name, an
    unknown key or lacks a required one.
    """
    check_spec(spec)
    params = dict(spec)
    name = params.pop('name')
    if name.startswith('synthetic_') and 'root' not in params:
        cache = params.pop('cache', None)
        args = _entry_arguments(name, params, _GENERATOR_KEYS)
        if cache is not None:
            root = _cached_synthetic(Path(cache), args)
            return DarkZurichReferences(root, args['split']) if name == 'synthetic_day' else DarkZurich(
                root, args['split'])
        from night_seg_training.synthetic import SyntheticStreets

        streets = SyntheticStreets(args['split'], args['count'], args['height'], args['width'], args['seed'],
                                   args['alignment'])
        return streets.day() if name == 'synthetic_day' else streets.night()
    reader = _READERS[name]
    keys = {key: parameter.default for key, parameter in inspect.signature(reader).parameters.items()}
    return reader(**_entry_arguments(name, params, keys))
