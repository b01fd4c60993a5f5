"""Outputs never clobber and appear whole: `output_path` refuses what cannot be written before any work,
`atomic_output` writes aside and moves into place, replacing an existing output (only with force) once the new one
is complete; `read_yaml_mapping` says in one line why a file is no YAML mapping."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from night_seg_ros.files import (
    FileFormatError,
    OutputError,
    atomic_output,
    distinct_outputs,
    output_path,
    read_yaml_mapping,
)


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(path.relative_to(root)): path.read_bytes() if path.is_file() else None for path in root.rglob('*')}


@pytest.fixture()
def old(tmp_path: Path) -> Path:
    """An existing output folder with a file the user wants kept."""
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'weights').write_bytes(b'trained')
    return tmp_path / 'out'


def test_output_path_refuses_what_cannot_be_written(tmp_path: Path, old: Path) -> None:
    (tmp_path / 'a_file').write_text('mine')
    assert output_path(tmp_path / 'new' / 'deeper') == tmp_path / 'new' / 'deeper'
    assert output_path(old, force=True) == old
    cases = [
        ((old,), {}, f'bundle {old} already exists (folder); choose another path, or replace it with --force'),
        ((tmp_path / 'a_file',), {}, 'already exists (file)'),
        ((tmp_path / 'a_file' / 'x',), {}, f'cannot be written: {tmp_path / "a_file"} is a file, not a folder'),
        ((Path('/proc/x/y'),), {}, 'cannot be written: cannot create files in /proc'),
        ((old / 'inside',), {'inputs': [old]}, f'would overwrite the input {old}'),
        ((tmp_path,), {'force': True, 'inputs': [old]}, f'would overwrite the input {old}'),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(OutputError) as refused:
            output_path(*args, what='bundle', **kwargs)
        assert message in str(refused.value)
    assert sorted(os.listdir(tmp_path)) == ['a_file', 'out']


def test_distinct_outputs_refuses_overlaps(tmp_path: Path) -> None:
    distinct_outputs({'bag': tmp_path / 'bag', 'video': tmp_path / 'bag.mp4'})
    for second in (tmp_path / 'bag', tmp_path / 'bag' / 'video.mp4'):
        with pytest.raises(OutputError, match='overlap; give each output its own path'):
            distinct_outputs({'bag': tmp_path / 'bag', 'video': second})


def test_atomic_output_appears_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / 'bundle'
    with atomic_output(out) as staged:
        assert staged == tmp_path / 'bundle.partial' / 'bundle'
        staged.mkdir()
        (staged / 'weights').write_bytes(b'new')
        assert not out.exists()
    assert _tree(tmp_path) == {'bundle': None, 'bundle/weights': b'new'}


@pytest.mark.parametrize('stop', [RuntimeError('failed half way'), KeyboardInterrupt()])
def test_a_failure_or_ctrl_c_leaves_nothing_and_the_old_output_whole(tmp_path: Path, old: Path,
                                                                     stop: BaseException) -> None:
    for target, force in ((tmp_path / 'new', False), (old, True)):
        before = _tree(tmp_path)
        with pytest.raises(type(stop)):
            with atomic_output(target, force) as staged:
                staged.mkdir()
                (staged / 'weights').write_bytes(b'half')
                raise stop
        assert _tree(tmp_path) == before


def test_force_replaces_a_folder_or_a_file_once_the_new_one_is_complete(tmp_path: Path, old: Path) -> None:
    with atomic_output(old, force=True) as staged:
        staged.mkdir()
        (staged / 'model.json').write_text('{}')
        assert (old / 'weights').read_bytes() == b'trained'  # still there while the new one is written
    assert _tree(tmp_path) == {'out': None, 'out/model.json': b'{}'}
    (tmp_path / 'video.mp4').write_bytes(b'old video')
    with atomic_output(tmp_path / 'video.mp4', force=True) as staged:
        assert staged.suffix == '.mp4'  # OpenCV picks the container by the suffix
        staged.write_bytes(b'new video')
    assert (tmp_path / 'video.mp4').read_bytes() == b'new video'
    assert sorted(os.listdir(tmp_path)) == ['out', 'video.mp4']


def test_a_leftover_partial_is_cleared_and_nothing_written_moves_nothing(tmp_path: Path) -> None:
    (tmp_path / 'out.partial' / 'out').mkdir(parents=True)
    (tmp_path / 'out.partial' / 'out' / 'stale').write_text('from a killed run')
    with atomic_output(tmp_path / 'out') as staged:
        assert not staged.exists()
    assert os.listdir(tmp_path) == []


def test_an_output_that_appears_meanwhile_is_not_replaced_without_force(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    with pytest.raises(OutputError, match='appeared while it was being written'):
        with atomic_output(out) as staged:
            staged.write_text('new')
            out.write_text('someone else')
    assert _tree(tmp_path) == {'out': b'someone else'}


@pytest.mark.parametrize('content, message', [
    (b'', 'recipe {path} must hold a YAML mapping (key: value lines), it is empty'),
    (b'0\n', 'must hold a YAML mapping (key: value lines), not int 0'),
    (b'- a\n- b\n', "not list ['a', 'b']"),
    (b'a: [1\nb: 2\n', "is not valid YAML: expected ',' or ']', but got ':' at line 2, column 2"),
    (bytes(range(256)), 'is not a text file (not UTF-8); expected YAML'),
])
def test_read_yaml_mapping_says_in_one_line_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / 'recipe.yaml'
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as refused:
        read_yaml_mapping(path, 'recipe')
    assert message.format(path=path) in str(refused.value) and '\n' not in str(refused.value)


def test_read_yaml_mapping_returns_the_mapping(tmp_path: Path) -> None:
    (tmp_path / 'ok.yaml').write_text('optim:\n  iterations: 3\n')
    assert read_yaml_mapping(tmp_path / 'ok.yaml') == {'optim': {'iterations': 3}}
    with pytest.raises(FileFormatError, match='cannot be read'):
        read_yaml_mapping(tmp_path / 'missing.yaml')
