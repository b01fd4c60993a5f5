"""What a bundle or a training run records about the code that made it."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from night_seg_ros import __version__


def code_version() -> str:
    """Package version plus the git commit of the source tree when it is a checkout (for provenance)."""
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f'{__version__}+g{commit}' if commit else __version__


def untrained_provenance() -> dict[str, Any]:
    """Provenance for a randomly initialised network: its outputs carry no meaning."""
    return {'recipe': 'untrained', 'data': 'none (random initialisation)', 'iterations': 0, 'metrics': {},
            'code_version': code_version()}
