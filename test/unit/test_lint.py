"""The linter (ruff, configured in ruff.toml) runs clean over the whole repository."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / 'ruff'
    executable = str(ruff) if ruff.exists() else shutil.which('ruff')
    if executable is None:
        pytest.skip('ruff is not installed (pip install -e .[test])')
    result = subprocess.run([executable, 'check', str(ROOT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
