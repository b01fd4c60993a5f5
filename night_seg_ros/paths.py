"""Where the package's shared files (config/, launch/, models/) are: a colcon install, a pip install or a checkout."""
from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = 'night_seg_ros'


def share_candidates() -> list[Path]:
    """Folders that may hold config/ and launch/, most specific first."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)))
    except (ImportError, LookupError, ValueError, OSError):  # not installed with colcon, or no ROS environment
        pass
    candidates.append(Path(__file__).resolve().parent.parent)  # source checkout / editable install
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE)  # pip install: setup.py data_files
    return candidates


MODELS = 'models'
"""The shared folder of the bundled models; each subfolder is a bundle, known by its folder name."""
DEMO_MODEL = f'{MODELS}/synthetic_demo_b0'
"""The bundled demo bundle (SegFormer-B0 trained on synthetic streets only), used when no model is given."""


def share_file(relative: str) -> Path:
    """Path of a shared file or folder such as 'config/seg.yaml'; raises FileNotFoundError naming where it looked."""
    for base in share_candidates():
        candidate = base / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f'{relative} of {PACKAGE} not found in: '
                            + ', '.join(str(base) for base in share_candidates()))


def bundled_models() -> list[str]:
    """Names of the bundled models (the folders under models/ of the first share folder that has one)."""
    try:
        folder = share_file(MODELS)
    except FileNotFoundError:
        return []
    return sorted(entry.name for entry in folder.iterdir() if entry.is_dir())


def bundled_model(name: str) -> Path | None:
    """The folder of bundled model `name` (e.g. 'synthetic_demo_b0'); None when `name` is a path or not bundled."""
    if not name or Path(name).name != name or name not in bundled_models():
        return None
    return share_file(f'{MODELS}/{name}')
