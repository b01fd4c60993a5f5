"""Atomic, resumable training checkpoints.

A checkpoint is written to a temporary file and renamed over the previous one, so an interruption while writing
leaves the previous checkpoint intact (and the next save removes the temporary file a killed one left behind). It
holds tensors, numbers, strings and dicts only and is read back with `torch.load(weights_only=True)`: loading a
checkpoint never runs pickled code.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from night_seg_ros.errors import NightSegError
from night_seg_ros.files import atomic_write_bytes

CHECKPOINT_FORMAT = 'night-seg-checkpoint/1'
CHECKPOINT_FILE = 'last.pt'


class CheckpointError(NightSegError, ValueError):
    """A checkpoint is missing, unreadable or from another format; the message says which and where."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write `state` (iteration, student, teacher, optimizer, config) to `path` atomically.

    First removes the temporary files of earlier saves to `path` that were killed mid-write (each as large as a
    checkpoint; only one process saves a run's checkpoint, so none of them is still being written).
    """
    for leftover in path.parent.glob(f'.{path.name}.*.tmp'):
        leftover.unlink(missing_ok=True)
    buffer = io.BytesIO()
    torch.save({'format': CHECKPOINT_FORMAT, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (CPU tensors); raise CheckpointError naming the problem."""
    if not path.is_file():
        raise CheckpointError(f'no checkpoint at {path}; a run folder keeps its latest one in '
                              f'checkpoints/{CHECKPOINT_FILE}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises RuntimeError, pickle.UnpicklingError, EOFError, ... for bad files
        raise CheckpointError(f'cannot read checkpoint {path}: {error}') from error
    if not isinstance(state, dict) or state.get('format') != CHECKPOINT_FORMAT:
        found = state.get('format') if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f'{path} is not a {CHECKPOINT_FORMAT} checkpoint (found {found!r})')
    return state
