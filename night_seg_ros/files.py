"""Writing files so that a reader never sees half of one: bundles, engines, checkpoints, results.

Every command that writes an output (a bundle, bag, dataset, video, picture or results folder) checks its path with
`output_path` before any work, and writes it through `atomic_output`: aside, in PATH.partial, moved to PATH when
complete. An existing PATH is refused, or, when the user asks with --force, replaced once the new one is complete.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from night_seg_ros.errors import NightSegError

PARTIAL_SUFFIX = '.partial'
"""An output is written into PATH.partial/ (its final name inside) and moved to PATH once complete."""


class OutputError(NightSegError, ValueError):
    """An output cannot be written where it was asked: it exists, or lies under a file, an input or a folder that
    cannot be written. The message names the path and what to do."""


class FileFormatError(NightSegError, ValueError):
    """A file that should hold a YAML mapping does not (empty, binary, invalid YAML, a plain value)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        os.fchmod(handle, 0o644)  # mkstemp creates 0600; bundles and results are meant to be shared
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies under it (both resolved)."""
    return path == folder or folder in path.parents


def output_path(path: str | os.PathLike, force: bool = False, what: str = 'output',
                inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """`path` (user-expanded) if an output can be written there, checked before any work; else OutputError.

    Refused: an existing `path` unless `force` (it is then replaced only once the new output is complete, see
    `atomic_output`); a path under a regular file; a path whose nearest existing folder cannot be written (read-only,
    /proc); a path that is one of `inputs`, holds one or lies inside one. `what` names the output in the message
    (e.g. 'output bag', '--mp4').
    """
    path = Path(path).expanduser()
    target = Path(os.path.abspath(path))
    for source in inputs:
        source = Path(os.path.abspath(Path(source).expanduser()))
        if _inside(target.resolve(), source.resolve()) or _inside(source.resolve(), target.resolve()):
            raise OutputError(f'{what} {path} would overwrite the input {source}; choose another path')
    if os.path.lexists(target) and not force:
        kind = 'folder' if target.is_dir() else 'file'
        raise OutputError(f'{what} {path} already exists ({kind}); choose another path, or replace it with --force '
                          '(done only once the new output is complete)')
    folder = target.parent
    while not os.path.lexists(folder):
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f'{what} {path} cannot be written: {folder} is a file, not a folder')
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f'{what} {path} cannot be written: cannot create files in {folder} '
                          f'({error.strerror or error})') from None
    return path


def distinct_outputs(outputs: dict[str, str | os.PathLike]) -> None:
    """OutputError unless the outputs (what -> path) are different paths, none inside another."""
    resolved = {what: Path(os.path.abspath(Path(path).expanduser())).resolve() for what, path in outputs.items()}
    names = list(resolved)
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            if _inside(resolved[first], resolved[second]) or _inside(resolved[second], resolved[first]):
                raise OutputError(f'{first} {outputs[first]} and {second} {outputs[second]} overlap; give each output '
                                  'its own path')


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


@contextmanager
def atomic_output(path: str | os.PathLike, force: bool = False, what: str = 'output',
                  inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """`with atomic_output(PATH, force) as staged:` write a file or folder at `staged`; it appears at PATH only when
    the block ends normally.

    `staged` is PATH.partial/NAME (NAME: PATH's own name, so a bag's files and a video's extension come out right);
    the block creates it. On a normal end it is moved to PATH (replacing an existing PATH only with `force`, only now
    that the new output is complete; the old one is removed); nothing is moved when the block wrote nothing. On an
    error or Ctrl-C, PATH stays as it was. PATH.partial is removed at the end either way, and first when a killed
    run left one. `output_path` checks PATH first (OutputError).
    """
    path = output_path(path, force, what, inputs)
    staging = path.with_name(path.name + PARTIAL_SUFFIX)
    _remove(staging)
    staging.mkdir(parents=True)
    staged = staging / path.name
    try:
        yield staged
        if os.path.lexists(staged):
            _move_into_place(staged, path, force, what)
    finally:
        _remove(staging)


def _move_into_place(staged: Path, path: Path, force: bool, what: str) -> None:
    if not os.path.lexists(path):
        os.rename(staged, path)
        return
    if not force:  # it appeared while the output was being written
        raise OutputError(f'{what} {path} appeared while it was being written; the new output is not kept')
    if staged.is_dir() or (path.is_dir() and not path.is_symlink()):
        os.rename(path, staged.parent / '.replaced')  # removed with the staging folder
    os.replace(staged, path)


def read_yaml_mapping(path: str | os.PathLike, what: str = 'file') -> dict[str, Any]:
    """The non-empty mapping a YAML file holds; FileFormatError in one line when it is missing, unreadable, binary,
    not YAML, empty or anything but a mapping (`what` names the file in the message, e.g. 'recipe')."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except UnicodeDecodeError:
        raise FileFormatError(f'{what} {path} is not a text file (not UTF-8); expected YAML') from None
    except OSError as error:
        raise FileFormatError(f'{what} {path} cannot be read: {error.strerror or error}') from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise FileFormatError(f'{what} {path} is not valid YAML: {yaml_problem(error)}') from None
    if not isinstance(values, dict) or not values:
        found = 'it is empty' if values is None or values == {} else f'not {type(values).__name__} {str(values)[:40]}'
        raise FileFormatError(f'{what} {path} must hold a YAML mapping (key: value lines), {found}')
    return values


def yaml_problem(error: Exception) -> str:
    """One line from a (possibly multi-line) yaml error: what is wrong and where (line, column, 1-based)."""
    mark = getattr(error, 'problem_mark', None)
    problem = getattr(error, 'problem', None) or str(error)
    where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark is not None else ''
    return ' '.join(f'{problem}{where}'.split())
