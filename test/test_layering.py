"""The runtime never depends on the training code: a vehicle installs night_seg_ros without training/."""
from __future__ import annotations

import ast
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / 'night_seg_ros'


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a Python file imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split('.')[0])
    return names


def test_night_seg_ros_never_imports_training() -> None:
    files = sorted(RUNTIME.rglob('*.py'))
    assert len(files) > 10
    offenders = [str(path.relative_to(RUNTIME)) for path in files if 'training' in imported_modules(path)]
    assert offenders == []
