"""`night-seg-train drive`: the synthetic night drive written as a rosbag2, and its errors as one line each."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip('rosbags', reason='the drive bag is written with rosbags')
pytest.importorskip('tqdm', reason='the drive generator shows its progress with tqdm (the training extra)')

from night_seg_ros.drives import bag_io  # noqa: E402
from night_seg_training.cli import main  # noqa: E402
from night_seg_training.synthetic import drive  # noqa: E402


def test_drive_command_writes_every_topic_of_every_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'night_drive'
    assert main(['drive', str(out), '--seconds', '0.2', '--height', '32', '--width', '48']) == 0
    assert capsys.readouterr().out == f'wrote {out}: 3 frames of 48x32 at 10 Hz (synthetic)\n'
    with bag_io.open_reader(out) as reader:
        counts = {conn.topic: conn.msgcount for conn in reader.connections}
    assert counts == {drive.IMAGE_TOPIC: 3, drive.COMPRESSED_TOPIC: 3, drive.CAMERA_INFO_TOPIC: 3,
                      drive.GROUND_TRUTH_TOPIC: 3, drive.GROUND_TRUTH_POSE_TOPIC: 3, drive.GPS_TOPIC: 3}
    assert 'generator version: 1' in (out / 'SYNTHETIC.md').read_text()


@pytest.mark.parametrize('arguments, message', [
    (['--seconds', '100'], '100.0 s at 9.0 m/s from 40.0 m leaves the street (0-300 m); drive shorter or slower'),
    (['--rate', '1000'], 'rate 1000.0 Hz; allowed: > 0 and <= 100'),
    (['--rate', '0'], 'argument --rate: 0.0 must be > 0'),
])
def test_drive_command_reports_a_bad_spec_in_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str) -> None:
    assert main(['drive', str(tmp_path / 'night_drive'), *arguments]) == 1
    assert capsys.readouterr().err == f'night-seg-train drive: error: {message}\n'
    assert list(tmp_path.iterdir()) == []


def test_drive_command_refuses_an_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['drive', str(tmp_path), '--seconds', '0.1']) == 1
    expected = (f'night-seg-train drive: error: drive bag {tmp_path} already exists (folder); choose another path, or '
                'replace it with --force (done only once the new output is complete)\n')
    assert capsys.readouterr().err == expected
