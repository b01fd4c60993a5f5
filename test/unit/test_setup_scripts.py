"""scripts/setup.sh and setup_jazzy.sh print one line a step and keep the installers' output in a log, shown when a
step fails. Run here on a copy of the scripts with a stand-in .venv/bin/python that prints as much as pip and
setuptools do (hundreds of lines) instead of installing anything."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOISY_PYTHON = '''#!/usr/bin/env bash
# Stand-in for the venv's python: pip and setuptools' chatter instead of installing; fails where told.
if [[ "$*" == *"$FAIL_ON"* && -n "$FAIL_ON" ]]; then
  for i in $(seq 1 100); do echo "error detail $i"; done
  echo "ERROR: no matching distribution for $FAIL_ON" >&2
  exit 3
fi
if [[ $1 == -c ]]; then echo "setup ok: stand-in"; exit 0; fi
for i in $(seq 1 250); do echo "SetuptoolsDeprecationWarning: line $i of the build's warnings" >&2; done
'''


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of scripts/ with a .venv and .venv-jazzy whose python is the noisy stand-in."""
    shutil.copytree(ROOT / 'scripts', tmp_path / 'scripts')
    for venv in ('.venv', '.venv-jazzy'):
        python = tmp_path / venv / 'bin' / 'python'
        python.parent.mkdir(parents=True)
        python.write_text(NOISY_PYTHON)
        python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def run(checkout: Path, script: str, fail_on: str = '') -> subprocess.CompletedProcess:
    env = dict(os.environ, FAIL_ON=fail_on, ROS2_PYTHON_TOOLS=str(checkout / 'no_tools'))
    env.pop('SETUP_LOG', None)
    return subprocess.run(['bash', str(checkout / 'scripts' / script)], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize(('script', 'log'), [('setup.sh', 'out/setup.log'), ('setup_jazzy.sh', 'out/setup_jazzy.log')])
def test_one_line_a_step_and_the_chatter_in_the_log(checkout: Path, script: str, log: str):
    result = run(checkout, script)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= 6, lines
    assert all(line.startswith('[setup') and line.endswith(' s)') for line in lines[:-1]), lines
    assert lines[-1] == 'setup ok: stand-in'
    assert (checkout / log).read_text().count('SetuptoolsDeprecationWarning') >= 500


def test_a_failing_step_shows_its_output_and_the_log(checkout: Path):
    result = run(checkout, 'setup.sh', fail_on='torch==2.13.0')
    assert result.returncode == 3
    out = result.stdout + result.stderr
    assert '[setup] installing torch 2.13.0 (CPU) ... failed (exit 3)' in out
    assert 'ERROR: no matching distribution for torch==2.13.0' in out and 'error detail 100' in out
    assert 'SetuptoolsDeprecationWarning' not in out  # the earlier steps' chatter stays in the log
    assert '[setup] the whole log: out/setup.log' in out
    assert 'installing the training code' not in out  # nothing after the failed step ran
