"""The layer contracts of setup.cfg hold, checked by import-linter over the import graph (not by hand).

experiments -> night_seg_training -> night_seg_ros, nothing upward; inside the runtime, commands -> measuring -> node |
drives -> pipeline -> backends -> converter -> bundle | codec; the onnxruntime and tensorrt backends reach neither
torch nor transformers; no package has an import circle among its modules.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = 4


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / 'lint-imports'
    executable = str(lint_imports) if lint_imports.exists() else shutil.which('lint-imports')
    if executable is None:
        pytest.skip('import-linter is not installed (pip install -e .[test])')
    result = subprocess.run([executable, '--no-cache', '--no-logo', str(ROOT / 'setup.cfg')], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'Contracts: {CONTRACTS} kept, 0 broken.' in result.stdout, result.stdout
