"""Tests for night_seg_training.datasets on tiny PNG fixtures written with cv2 in each dataset's published layout."""
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from dataset_fixtures import (
    HEIGHT,
    WIDTH,
    make_acdc_night,
    make_cityscapes,
    make_dark_zurich_test,
    make_dark_zurich_train,
    make_dark_zurich_val_style,
    make_nighttime_driving,
    random_label,
    random_rgb,
    write_image,
)

from night_seg_training import layout
from night_seg_training.datasets import (
    CITYSCAPES_ID_TO_TRAIN_ID,
    DATASET_NAMES,
    ACDCNight,
    Cityscapes,
    DarkZurich,
    DarkZurichReferences,
    DatasetError,
    ImageFolder,
    NighttimeDriving,
    build_dataset,
    evaluation_entry,
)

# cityscapesscripts/helpers/labels.py: (name, id, trainId) of every label; 255 = not evaluated.
OFFICIAL_CITYSCAPES_LABELS = (
    ('unlabeled', 0, 255), ('ego vehicle', 1, 255), ('rectification border', 2, 255), ('out of roi', 3, 255),
    ('static', 4, 255), ('dynamic', 5, 255), ('ground', 6, 255), ('road', 7, 0), ('sidewalk', 8, 1),
    ('parking', 9, 255), ('rail track', 10, 255), ('building', 11, 2), ('wall', 12, 3), ('fence', 13, 4),
    ('guard rail', 14, 255), ('bridge', 15, 255), ('tunnel', 16, 255), ('pole', 17, 5), ('polegroup', 18, 255),
    ('traffic light', 19, 6), ('traffic sign', 20, 7), ('vegetation', 21, 8), ('terrain', 22, 9), ('sky', 23, 10),
    ('person', 24, 11), ('rider', 25, 12), ('car', 26, 13), ('truck', 27, 14), ('bus', 28, 15),
    ('caravan', 29, 255), ('trailer', 30, 255), ('train', 31, 16), ('motorcycle', 32, 17), ('bicycle', 33, 18),
    ('license plate', -1, 255),
)


def _assert_samples(dataset, expected: list[dict]) -> None:
    """Assert ``dataset`` reads back exactly the ``expected`` samples, in order, as uint8 arrays."""
    assert len(dataset) == len(expected)
    for index, want in enumerate(expected):
        sample = dataset[index]
        assert sample.keys() == want.keys()
        assert sample['name'] == want['name']
        for key in want.keys() - {'name'}:
            assert sample[key].dtype == np.uint8
            np.testing.assert_array_equal(sample[key], want[key], err_msg=f'{want["name"]} {key}')


def _without(samples: list[dict], key: str) -> list[dict]:
    """Return ``samples`` without ``key``."""
    return [{name: value for name, value in sample.items() if name != key} for sample in samples]


# ---- reading back what was written

@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_cityscapes_reads_images_rgb_and_train_ids(tmp_path, split):
    expected = make_cityscapes(tmp_path, split)
    _assert_samples(Cityscapes(tmp_path, split), expected)


def _official_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map uint8 (H, W) Cityscapes label ids to train ids pixel by pixel with OFFICIAL_CITYSCAPES_LABELS."""
    official = {label_id % 256: train_id for _, label_id, train_id in OFFICIAL_CITYSCAPES_LABELS}
    return np.array([[official.get(int(value), 255) for value in row] for row in label_ids], dtype=np.uint8)


def test_id_to_train_id_table_is_the_official_one():
    assert CITYSCAPES_ID_TO_TRAIN_ID.shape == (256,) and CITYSCAPES_ID_TO_TRAIN_ID.dtype == np.uint8
    np.testing.assert_array_equal(CITYSCAPES_ID_TO_TRAIN_ID, _official_train_ids(np.arange(256)[None])[0])


def test_cityscapes_converts_label_ids_when_train_ids_are_absent(tmp_path):
    expected = make_cityscapes(tmp_path, label_suffix='_gtFine_labelIds.png')
    every_id = np.tile(np.arange(256, dtype=np.uint8).reshape(8, 32), (2, 1))  # each label id 0..255 twice, 16 x 32
    expected[0]['label'] = write_image(
        tmp_path / 'gtFine' / 'train' / 'aachen' / 'aachen_000000_000019_gtFine_labelIds.png', every_id)
    _assert_samples(Cityscapes(tmp_path), [{**sample, 'label': _official_train_ids(sample['label'])}
                                           for sample in expected])


def test_cityscapes_prefers_train_ids_over_label_ids(tmp_path):
    expected = make_cityscapes(tmp_path)
    write_image(tmp_path / 'gtFine' / 'train' / 'aachen' / 'aachen_000000_000019_gtFine_labelIds.png', random_label())
    _assert_samples(Cityscapes(tmp_path), expected)


def test_dark_zurich_train_pairs_night_with_day_from_the_pair_list(tmp_path):
    expected = make_dark_zurich_train(tmp_path)
    _assert_samples(DarkZurich(tmp_path, 'train'), expected)


def test_dark_zurich_train_pairs_file_argument_overrides_the_default(tmp_path):
    expected = make_dark_zurich_train(tmp_path)
    moved = tmp_path / 'elsewhere.csv'
    shutil.move(tmp_path / 'corresp' / 'train' / 'night' / 'zurich_dn_pair_train.csv', moved)
    _assert_samples(DarkZurich(tmp_path, 'train', pairs_file=moved), expected)


def test_dark_zurich_without_reference_needs_no_pair_list(tmp_path):
    expected = make_dark_zurich_train(tmp_path)
    shutil.rmtree(tmp_path / 'corresp')
    _assert_samples(DarkZurich(tmp_path, 'train', with_reference=False), _without(expected, 'reference'))


def test_dark_zurich_val_pairs_night_with_ref_folder_and_reads_labels(tmp_path):
    night, _ = make_dark_zurich_val_style(tmp_path)
    _assert_samples(DarkZurich(tmp_path, 'val'), night)


def test_dark_zurich_val_without_reference_needs_no_ref_folder(tmp_path):
    night, _ = make_dark_zurich_val_style(tmp_path)
    shutil.rmtree(tmp_path / 'rgb_anon' / 'val_ref')
    _assert_samples(DarkZurich(tmp_path, 'val', with_reference=False), _without(night, 'reference'))


def test_synthetic_layout_reads_any_split_val_style_and_its_labelled_day_references(tmp_path):
    night, day = make_dark_zurich_val_style(tmp_path, 'train', day_labels=True)
    (tmp_path / 'SYNTHETIC.md').write_text('synthetic\n')
    _assert_samples(DarkZurich(tmp_path, 'train'), night)
    _assert_samples(DarkZurichReferences(tmp_path, 'train'), day)
    _assert_samples(build_dataset({'name': 'synthetic_night', 'root': str(tmp_path), 'split': 'train'}), night)
    _assert_samples(build_dataset({'name': 'synthetic_day', 'root': tmp_path, 'split': 'train'}), day)


def test_real_dark_zurich_day_references_have_no_labels(tmp_path):
    make_dark_zurich_val_style(tmp_path)
    expected = tmp_path / 'gt' / 'val_ref' / 'day'
    with pytest.raises(DatasetError, match=re.escape(f'expected folder {expected} ')) as raised:
        DarkZurichReferences(tmp_path, 'val')
    assert 'no labels for its day references' in str(raised.value)


def test_acdc_night_with_and_without_references(tmp_path):
    expected = make_acdc_night(tmp_path, 'val')
    _assert_samples(ACDCNight(tmp_path, 'val'), _without(expected, 'reference'))
    _assert_samples(ACDCNight(tmp_path, 'val', with_reference=True), expected)


def test_nighttime_driving(tmp_path):
    expected = make_nighttime_driving(tmp_path)
    _assert_samples(NighttimeDriving(tmp_path), expected)


@pytest.mark.parametrize('name, make, extra', [
    ('cityscapes', make_cityscapes, {'split': 'train'}),
    ('dark_zurich', make_dark_zurich_train, {'split': 'train', 'with_reference': True}),
    ('acdc_night', make_acdc_night, {'split': 'train', 'with_reference': True}),
    ('nighttime_driving', make_nighttime_driving, {}),
])
def test_build_dataset_builds_each_reader(tmp_path, name, make, extra):
    expected = make(tmp_path)
    _assert_samples(build_dataset({'name': name, 'root': str(tmp_path), **extra}), expected)


@pytest.mark.parametrize('name, keys', [('synthetic_day', {'image', 'label', 'name'}),
                                        ('synthetic_night', {'image', 'reference', 'name'})])
def test_build_dataset_generates_synthetic_data_without_root(name, keys):
    pytest.importorskip('night_seg_training.synthetic')
    dataset = build_dataset({'name': name, 'split': 'train', 'count': 2, 'height': 32, 'width': 64, 'seed': 1})
    assert len(dataset) == 2
    sample = dataset[0]
    assert keys <= sample.keys()
    assert sample['image'].shape == (32, 64, 3) and sample['image'].dtype == np.uint8  # the generator's minimum


# ---- errors name the dataset, the split and the exact path expected

def test_missing_root_names_the_expected_folder(tmp_path):
    root = tmp_path / 'no_such_cityscapes'
    expected = (f'Cityscapes (train): expected folder {root / "leftImg8bit" / "train"} '
                '(layout: leftImg8bit/<split>/<city>/')
    with pytest.raises(DatasetError, match=re.escape(expected)):
        Cityscapes(root, 'train')


def test_misnamed_folder_names_the_expected_one_and_what_is_there(tmp_path):
    make_cityscapes(tmp_path)
    (tmp_path / 'leftImg8bit').rename(tmp_path / 'leftImg8Bit')
    expected = tmp_path / 'leftImg8bit' / 'train'
    with pytest.raises(DatasetError, match=re.escape(f'Cityscapes (train): expected folder {expected} ')) as raised:
        Cityscapes(tmp_path)
    assert 'leftImg8Bit' in str(raised.value)


def test_missing_label_folder_names_it(tmp_path):
    make_nighttime_driving(tmp_path)
    shutil.rmtree(tmp_path / 'gtCoarse_daytime_trainvaltest')
    folder = tmp_path / 'gtCoarse_daytime_trainvaltest' / 'test' / 'night'
    with pytest.raises(DatasetError, match=re.escape(f'Nighttime Driving (test): expected folder {folder} ')):
        NighttimeDriving(tmp_path)


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / 'rgb_anon' / 'night' / 'train' / 'GOPR0351').mkdir(parents=True)
    (tmp_path / 'gt' / 'night' / 'train').mkdir(parents=True)
    folder = tmp_path / 'rgb_anon' / 'night' / 'train'
    with pytest.raises(DatasetError, match=re.escape(f'ACDC night (train): folder {folder} holds no */*_rgb_anon.png')):
        ACDCNight(tmp_path, 'train')


def test_missing_label_file_names_the_missing_path(tmp_path):
    make_cityscapes(tmp_path, 'val')
    missing = tmp_path / 'gtFine' / 'val' / 'bochum' / 'bochum_000000_000313_gtFine_labelTrainIds.png'
    missing.unlink()
    fallback = missing.parent / 'bochum_000000_000313_gtFine_labelIds.png'
    with pytest.raises(DatasetError, match=re.escape('Cityscapes (val): image ') + '.*' +
                       re.escape(f'has no matching file {missing} (nor {fallback})')):
        Cityscapes(tmp_path, 'val')


def test_missing_reference_file_names_the_missing_path(tmp_path):
    make_dark_zurich_val_style(tmp_path)
    missing = tmp_path / 'rgb_anon' / 'val_ref' / 'day' / 'GOPR0364_ref' / 'GOPR0364_frame_000001_ref_rgb_anon.png'
    missing.unlink()
    with pytest.raises(DatasetError, match=re.escape(f'has no matching file {missing} ')):
        DarkZurich(tmp_path, 'val')


def test_missing_pair_list_names_the_path_and_the_format(tmp_path):
    make_dark_zurich_train(tmp_path)
    default = tmp_path / 'corresp' / 'train' / 'night' / 'zurich_dn_pair_train.csv'
    default.unlink()
    with pytest.raises(DatasetError, match=re.escape(f'Dark Zurich (train): expected pair list {default}; not found')
                       ) as raised:
        DarkZurich(tmp_path, 'train')
    assert 'without the _rgb_anon.png suffix' in str(raised.value)


def test_night_image_absent_from_the_pair_list_is_named(tmp_path):
    make_dark_zurich_train(tmp_path)
    pairs = tmp_path / 'corresp' / 'train' / 'night' / 'zurich_dn_pair_train.csv'
    pairs.write_text(pairs.read_text().splitlines()[0] + '\n')
    with pytest.raises(DatasetError, match=re.escape('"train/night/GOPR0351/GOPR0351_frame_000160,<day>"')):
        DarkZurich(tmp_path, 'train')


def test_malformed_pair_list_line_is_named(tmp_path):
    make_dark_zurich_train(tmp_path)
    pairs = tmp_path / 'corresp' / 'train' / 'night' / 'zurich_dn_pair_train.csv'
    pairs.write_text('train/night/GOPR0351/GOPR0351_frame_000159 train/day/GOPR0229/GOPR0229_frame_000401\n')
    with pytest.raises(DatasetError, match=re.escape(f'line 1 of pair list {pairs}')):
        DarkZurich(tmp_path, 'train')


def test_missing_paired_day_image_is_named(tmp_path):
    make_dark_zurich_train(tmp_path)
    missing = tmp_path / 'rgb_anon' / 'train' / 'day' / 'GOPR0229' / 'GOPR0229_frame_000400_rgb_anon.png'
    missing.unlink()
    with pytest.raises(DatasetError, match=re.escape(f'day reference {missing} of night image')):
        DarkZurich(tmp_path, 'train')


@pytest.mark.parametrize('bad_label', [np.zeros((HEIGHT, WIDTH, 3), np.uint8), np.zeros((HEIGHT, WIDTH), np.uint16)],
                         ids=['three-channel', 'uint16'])
def test_label_png_that_is_not_single_channel_uint8_is_refused(tmp_path, bad_label):
    make_acdc_night(tmp_path)
    path = tmp_path / 'gt' / 'night' / 'train' / 'GOPR0351' / 'GOPR0351_frame_000159_gt_labelTrainIds.png'
    assert cv2.imwrite(str(path), bad_label)
    dataset = ACDCNight(tmp_path)
    with pytest.raises(DatasetError, match=re.escape(f'label {path} is ') + '.*single-channel uint8'):
        dataset[0]


def test_label_of_another_size_than_its_image_is_refused(tmp_path):
    make_cityscapes(tmp_path)
    path = tmp_path / 'gtFine' / 'train' / 'aachen' / 'aachen_000000_000019_gtFine_labelTrainIds.png'
    write_image(path, random_label(HEIGHT, WIDTH + 1))
    with pytest.raises(DatasetError, match=re.escape(f'label {path} is (16, 33)')):
        Cityscapes(tmp_path)[0]


def test_unknown_split_names_the_allowed_ones(tmp_path):
    with pytest.raises(DatasetError, match=re.escape("unknown split 'training'; allowed: train, val, test")):
        Cityscapes(tmp_path, 'training')


def test_unknown_dataset_name_names_the_allowed_ones():
    allowed = ', '.join(DATASET_NAMES)
    with pytest.raises(DatasetError, match=re.escape(f"unknown dataset name 'kitti'; allowed: {allowed}")):
        build_dataset({'name': 'kitti', 'root': '/data/kitti'})


@pytest.mark.parametrize('spec, message', [
    ({'name': 'cityscapes', 'root': '/data/cs', 'splt': 'val'},
     "dataset 'cityscapes': unknown keys splt; allowed keys: name, root, split (required: name, root)"),
    ({'name': 'nighttime_driving'},
     "dataset 'nighttime_driving': missing keys root; allowed keys: name, root, split (required: name, root)"),
    ({'name': 'synthetic_day', 'count': 2, 'height': 8},
     "dataset 'synthetic_day': missing keys width; allowed keys: name, split, count, height, width, seed"),
    ({'root': '/data/cs'}, 'unknown dataset name None; allowed: cityscapes'),
])
def test_bad_recipe_entry_names_the_allowed_keys(spec, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        build_dataset(spec)


def test_synthetic_cache_generates_once_and_reads_from_disk(tmp_path: Path) -> None:
    pytest.importorskip('night_seg_training.synthetic')
    spec = {'split': 'val', 'count': 2, 'height': 64, 'width': 128, 'seed': 0, 'cache': str(tmp_path / 'cache')}
    night = build_dataset({'name': 'synthetic_night', **spec})
    day = build_dataset({'name': 'synthetic_day', **spec})
    folders = [p for p in (tmp_path / 'cache').iterdir()]
    assert [p.name for p in folders] == ['val-2-128x64-seed0']  # one folder, no partial leftovers
    assert isinstance(night, DarkZurich) and isinstance(day, DarkZurichReferences)
    in_memory = build_dataset({'name': 'synthetic_night', **{k: v for k, v in spec.items() if k != 'cache'}})
    assert len(night) == len(in_memory) == 2
    np.testing.assert_array_equal(night[1]['image'], in_memory[1]['image'])
    np.testing.assert_array_equal(night[1]['reference'], in_memory[1]['reference'])
    np.testing.assert_array_equal(day[0]['label'], build_dataset({'name': 'synthetic_day', **{
        k: v for k, v in spec.items() if k != 'cache'}})[0]['label'])
    stamp = (folders[0] / 'SYNTHETIC.md').stat().st_mtime_ns
    build_dataset({'name': 'synthetic_night', **spec})
    assert (folders[0] / 'SYNTHETIC.md').stat().st_mtime_ns == stamp  # not generated again


def test_the_layout_spells_dark_zurichs_published_paths(tmp_path: Path) -> None:
    """The one spelling of the layout that the readers here and the writers (synthetic files, drive pairs) share."""
    stem = layout.frame_stem('GOPR0356', 321)
    assert stem == 'GOPR0356_frame_000321'
    paths = {kind: kind.path(tmp_path, 'val', 'GOPR0356', stem).relative_to(tmp_path).as_posix() for kind in (
        layout.NIGHT_IMAGES, layout.NIGHT_LABELS, layout.DAY_IMAGES, layout.REFERENCES, layout.REFERENCE_LABELS)}
    assert list(paths.values()) == [
        'rgb_anon/val/night/GOPR0356/GOPR0356_frame_000321_rgb_anon.png',
        'gt/val/night/GOPR0356/GOPR0356_frame_000321_gt_labelTrainIds.png',
        'rgb_anon/val/day/GOPR0356/GOPR0356_frame_000321_rgb_anon.png',
        'rgb_anon/val_ref/day/GOPR0356_ref/GOPR0356_frame_000321_ref_rgb_anon.png',
        'gt/val_ref/day/GOPR0356_ref/GOPR0356_frame_000321_ref_gt_labelTrainIds.png']
    key = layout.pair_key('train', 'day', 'GOPR0356', stem)
    assert layout.image_of_key(tmp_path, key) == layout.DAY_IMAGES.path(tmp_path, 'train', 'GOPR0356', stem)
    assert layout.pair_list(tmp_path, 'train') == tmp_path / 'corresp/train/night/zurich_dn_pair_train.csv'
    assert layout.REFERENCES.pattern == 'rgb_anon/<split>_ref/day/<SEQ>_ref/<SEQ>_frame_<n>_ref_rgb_anon.png'


@pytest.mark.parametrize(('name', 'split', 'expected'), [
    ('cityscapes', None, {'split': 'val'}),
    ('nighttime_driving', None, {'split': 'test'}),
    ('dark_zurich', None, {'split': 'val', 'with_reference': False}),
    ('acdc_night', 'train', {'split': 'train', 'with_reference': False}),
    ('own_drives', None, {'split': 'val', 'with_reference': False}),
])
def test_evaluation_entry_reads_the_evaluation_split_without_references(name, split, expected):
    assert evaluation_entry(name, '/data/x', split) == {'name': name, 'root': '/data/x', **expected}


def test_evaluation_entry_of_an_unknown_dataset_names_the_allowed_ones():
    with pytest.raises(DatasetError, match="unknown dataset name 'darkzurich'; allowed: cityscapes"):
        evaluation_entry('darkzurich', '/data/x')


def test_nighttime_driving_has_only_the_test_split(tmp_path):
    make_nighttime_driving(tmp_path)
    with pytest.raises(DatasetError, match=r"Nighttime Driving \(val\): unknown split 'val'; allowed: test"):
        NighttimeDriving(tmp_path, 'val')


def test_dark_zurich_test_split_reads_night_images_without_labels_or_pair_list(tmp_path):
    expected = make_dark_zurich_test(tmp_path)
    _assert_samples(DarkZurich(tmp_path, 'test', with_reference=False), expected)
    with_references = DarkZurich(tmp_path, 'test')  # paired by name with rgb_anon/test_ref
    assert with_references[0].keys() == {'image', 'reference', 'name'}


def test_dark_zurich_val_requires_its_labels(tmp_path):
    make_dark_zurich_val_style(tmp_path)
    shutil.rmtree(tmp_path / 'gt')
    with pytest.raises(DatasetError, match='expected folder .*gt/val/night'):
        DarkZurich(tmp_path, 'val', with_reference=False)


def test_image_folder_reads_images_of_any_extension_named_by_relative_path(tmp_path):
    first = write_image(tmp_path / 'b' / '0001.png', random_rgb())
    second = write_image(tmp_path / 'a.png', random_rgb())
    (tmp_path / 'notes.txt').write_text('x')
    _assert_samples(ImageFolder(tmp_path), [{'image': second, 'name': 'a'}, {'image': first, 'name': 'b/0001'}])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DatasetError, match='holds no .png, .jpg, .jpeg files'):
        ImageFolder(tmp_path / 'empty')
    with pytest.raises(DatasetError, match='0001.png: not a folder'):
        ImageFolder(tmp_path / 'b' / '0001.png')
