"""Running the installed command lines as a user does, in their own process, and checking what a failure looks like
(test/component/test_cli_defects.py, test/component/test_cli_sweep.py)."""
from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from night_seg_ros.node_process import console_script

MAX_ERROR_LINES = 3
"""A failure prints at most this many lines on stderr (a progress bar's line, a log line, the error)."""


def command(program: str, *args: str | os.PathLike, cwd: Path | None = None, timeout: float = 180,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script `program` (night-seg, night-seg-train, seg_node) with `args`."""
    return subprocess.run([console_script(program), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The non-empty lines of stderr (a tqdm bar redrawn with carriage returns is one line)."""
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_user_error(result: subprocess.CompletedProcess[str], code: int = 1, says: str = '') -> str:
    """The command failed as a user-caused failure must: exit `code`, no traceback, at most MAX_ERROR_LINES lines on
    stderr, the last one containing `says`; returns that line."""
    lines = error_lines(result)
    shown = f'exit {result.returncode}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-4000:]}'
    assert result.returncode == code, shown
    assert 'Traceback' not in result.stderr + result.stdout, shown
    assert 1 <= len(lines) <= MAX_ERROR_LINES, shown
    assert says in lines[-1], shown
    return lines[-1]


def tree_digest(*roots: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file ('<dir>' for a folder) under `roots`: equal digests, equal bytes."""
    digest = {}
    for root in roots:
        for path in sorted([root, *root.rglob('*')]):
            name = f'{root.name}/{path.relative_to(root)}'
            digest[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else '<dir>'
    return digest


def run_and_keep(program: str, args: Sequence[str | os.PathLike], watched: Sequence[Path], cwd: Path,
                 code: int = 1, says: str = '') -> str:
    """Run `program args` in `cwd`; assert it failed as a user error (assert_user_error) and left every file under
    `watched` (inputs, outputs, cwd) byte for byte as it was; returns its error line."""
    before = tree_digest(*watched)
    line = assert_user_error(command(program, *args, cwd=cwd), code, says)
    assert tree_digest(*watched) == before, f'{program} {" ".join(map(str, args))} changed files'
    return line


def write_camera_bag(path: Path, frames: int, height: int = 96, width: int = 160, truth: int | None = None,
                     malformed: bool = False) -> Path:
    """A bag of `frames` bgr8 frames on /camera/image_raw (each truncated to 60 bytes of CDR when `malformed`) and,
    with `truth`, mono8 ground truth of that one value on /ground_truth/labels."""
    import numpy as np

    from night_seg_ros.drives import bag_io

    writer = bag_io.open_writer(path, 'mcap')
    camera = bag_io.add_topic(writer, '/camera/image_raw', bag_io.IMAGE)
    labels = bag_io.add_topic(writer, '/ground_truth/labels', bag_io.IMAGE) if truth is not None else None
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    for index in range(frames):
        stamp = 1_700_000_000_000_000_000 + index * 100_000_000
        header = bag_io.header(stamp, 'camera')
        data = bag_io.serialize(bag_io.image_message(image, 'bgr8', header), bag_io.IMAGE)
        writer.write(camera, stamp, data[:60] if malformed else data)
        if labels is not None:
            truth_image = np.full((height, width), truth, np.uint8)
            writer.write(labels, stamp, bag_io.serialize(bag_io.image_message(truth_image, 'mono8', header),
                                                         bag_io.IMAGE))
    writer.close()
    return path
