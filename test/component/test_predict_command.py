"""`night-seg-train predict`: the Dark Zurich test submission (three folders and a zip in the benchmark's format,
checked), `--check` of a zip, and the labels of a folder of images; `check_submission` on broken zips."""
from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from dataset_fixtures import make_dark_zurich_test, random_rgb, write_image

from night_seg_training.cli import main
from night_seg_training.submission import (
    CONFIDENCE,
    INVALID,
    LABELS,
    SUBMISSION_FOLDERS,
    SubmissionError,
    check_submission,
    confidence_png,
)

TEST_HEIGHT, TEST_WIDTH = 27, 48  # the test images' size (Dark Zurich's is 1080 x 1920, the same aspect)


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope='module')
def submission(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> tuple[Path, list[dict]]:
    """A Dark Zurich test split (no labels) and the zip `predict` wrote for it."""
    root = tmp_path_factory.mktemp('dark_zurich')
    expected = make_dark_zurich_test(root, TEST_HEIGHT, TEST_WIDTH)
    out = tmp_path_factory.mktemp('submission') / 'out'  # a new folder: predict refuses an existing one
    assert main(['predict', str(tiny_bundle), '--dataset', 'dark_zurich', '--split', 'test', '--root', str(root),
                 '--out', str(out), '--input-size', '32x64', '--invalid-below', '0.1', '--no-progress']) == 0
    return out / 'submission.zip', expected


def test_submission_zip_holds_the_benchmark_folders_named_and_sized_as_the_images(submission) -> None:
    archive_path, expected = submission
    names = [f'{sample["name"]}_rgb_anon.png' for sample in expected]
    with zipfile.ZipFile(archive_path) as archive:
        assert sorted(archive.namelist()) == sorted(f'{folder}/{name}' for folder in SUBMISSION_FOLDERS
                                                    for name in names)
        for name in names:
            labels = _decode(archive.read(f'{LABELS}/{name}'))
            confidence = _decode(archive.read(f'{CONFIDENCE}/{name}'))
            invalid = _decode(archive.read(f'{INVALID}/{name}'))
            assert labels.dtype == np.uint8 and labels.shape == (TEST_HEIGHT, TEST_WIDTH) and labels.max() < 19
            assert confidence.dtype == np.uint16 and confidence.shape == labels.shape
            assert confidence.min() >= 65535 // 19  # a softmax maximum is at least 1 / classes
            abstained = confidence < 0.1 * 65535
            np.testing.assert_array_equal(invalid, np.where(abstained, 255, labels))
    assert check_submission(archive_path, 19, {name: (TEST_HEIGHT, TEST_WIDTH) for name in names}) == 2


def test_check_option_accepts_the_written_zip_and_refuses_a_broken_one(submission, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    archive_path, _ = submission
    assert main(['predict', '--check', str(archive_path)]) == 0
    assert 'a valid submission of 2 images' in capsys.readouterr().out
    broken = tmp_path / 'broken.zip'
    with zipfile.ZipFile(archive_path) as source, zipfile.ZipFile(broken, 'w') as target:
        for member in source.namelist()[1:]:
            target.writestr(member, source.read(member))
    assert main(['predict', '--check', str(broken)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'lacks 1 image(s)' in err


def _zip(path: Path, files: dict[str, np.ndarray]) -> Path:
    with zipfile.ZipFile(path, 'w') as archive:
        for member, array in files.items():
            archive.writestr(member, cv2.imencode('.png', array)[1].tobytes())
    return path


def _valid_files(name: str = 'a_rgb_anon.png') -> dict[str, np.ndarray]:
    labels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    confidence = np.linspace(0, 1, 12).reshape(3, 4)
    return {f'{LABELS}/{name}': labels, f'{CONFIDENCE}/{name}': confidence_png(confidence),
            f'{INVALID}/{name}': np.where(confidence < 0.5, 255, labels).astype(np.uint8)}


def test_check_submission_accepts_a_valid_zip(tmp_path: Path) -> None:
    assert check_submission(_zip(tmp_path / 's.zip', _valid_files()), 19, {'a_rgb_anon.png': (3, 4)}) == 1


@pytest.mark.parametrize(('change', 'message'), [
    (lambda files: files.pop(f'{CONFIDENCE}/a_rgb_anon.png'), 'confidence/ lacks 1 image'),
    (lambda files: files.update({'readme.txt': np.zeros((1, 1), np.uint8)}), "unexpected entry 'readme.txt'"),
    (lambda files: files.update({f'{CONFIDENCE}/a_rgb_anon.png': np.zeros((3, 4), np.uint8)}),
     'confidence/a_rgb_anon.png is uint8 of shape (3, 4); expected single-channel uint16'),
    (lambda files: files.update({f'{LABELS}/a_rgb_anon.png': np.full((3, 4), 19, np.uint8)}), 'holds id 19'),
    (lambda files: files.update({f'{INVALID}/a_rgb_anon.png': np.zeros((3, 4), np.uint8)}),
     'differs from labelTrainIds/a_rgb_anon.png outside its 255 pixels'),
    (lambda files: files.update({f'{LABELS}/a_rgb_anon.png': np.zeros((3, 5), np.uint8)}), 'a_rgb_anon.png: sizes'),
    (lambda files: files.update({f'{LABELS}/a_rgb_anon.png': np.zeros((3, 4, 3), np.uint8)}),
     'expected single-channel uint8'),
])
def test_check_submission_names_what_is_wrong(tmp_path: Path, change, message: str) -> None:
    files = _valid_files()
    change(files)
    with pytest.raises(SubmissionError, match=message.replace('(', r'\(').replace(')', r'\)')):
        check_submission(_zip(tmp_path / 's.zip', files))


def test_check_submission_against_the_test_images(tmp_path: Path) -> None:
    archive = _zip(tmp_path / 's.zip', _valid_files())
    with pytest.raises(SubmissionError, match=r'a_rgb_anon.png: sizes .*; the image is \(1080, 1920\)'):
        check_submission(archive, 19, {'a_rgb_anon.png': (1080, 1920)})
    with pytest.raises(SubmissionError, match='labelTrainIds/ lacks 1 image.*, e.g. b_rgb_anon.png'):
        check_submission(archive, 19, {'a_rgb_anon.png': (3, 4), 'b_rgb_anon.png': (3, 4)})
    (tmp_path / 'not.zip').write_text('text')
    with pytest.raises(SubmissionError, match='not a readable zip'):
        check_submission(tmp_path / 'not.zip')


def test_predict_on_a_folder_of_images(tmp_path: Path, tiny_bundle: Path) -> None:
    images = tmp_path / 'frames'
    write_image(images / 'drive1' / '000012.png', random_rgb(20, 30))
    cv2.imwrite(str(images / 'cam.JPG'), random_rgb(24, 32))
    (images / 'notes.txt').write_text('not an image')
    out = tmp_path / 'out'
    assert main(['predict', str(tiny_bundle), '--images', str(images), '--out', str(out), '--no-progress']) == 0
    for name, shape in (('drive1/000012', (20, 30)), ('cam', (24, 32))):
        labels = cv2.imread(str(out / 'labels' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        color = cv2.imread(str(out / 'color' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        confidence = cv2.imread(str(out / 'confidence' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert labels.shape == shape and labels.dtype == np.uint8 and labels.max() < 19
        assert color.shape == (*shape, 3) and confidence.dtype == np.uint16 and confidence.shape == shape


@pytest.mark.parametrize(('argv', 'message'), [
    (['predict', '--out', 'x'], 'predict needs a BUNDLE'),
    (['predict', '{bundle}', '--out', 'x'], 'predict needs --dataset NAME --root DIR or --images DIR'),
    (['predict', '{bundle}', '--dataset', 'dark_zurich', '--out', 'x'], 'and --root DIR with --dataset'),
    (['predict', '{bundle}', '--images', '{folder}', '--out', 'o', '--input-size', '540'],
     "'540' is not HEIGHTxWIDTH"),
    (['predict', '{bundle}', '--images', '{folder}', '--out', '{folder}'], 'would overwrite the input'),
])
def test_predict_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture, tiny_bundle: Path,
                              tmp_path: Path) -> None:
    assert main([arg.format(bundle=tiny_bundle, folder=tmp_path) for arg in argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1
