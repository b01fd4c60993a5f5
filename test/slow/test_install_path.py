"""docs/INSTALL.md rehearsed (scripts/rehearse_install.sh): an externally managed system Python refuses pip; a
--system-site-packages venv gets the packages of package.xml's pip keys; `python -m colcon build` from it gives
seg_node the venv's shebang; the installed seg_node starts with backend onnxruntime from the venv; plain colcon (the
system Python) gives a seg_node that cannot find onnxruntime.

Stand-ins (the script says so as it runs): the ROS 2 Jazzy wheels of .venv-jazzy (scripts/setup_jazzy.sh) for
/opt/ros/jazzy and apt's Python packages, rosdistro's record of the keys for rosdep. Runs in that venv (make
test-jazzy); needs an externally managed Python (SYSTEM_PYTHON, default /usr/bin/python3) and PyPI; skips naming
what is missing.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path(os.environ.get('SYSTEM_PYTHON', '/usr/bin/python3'))
ROS_WHEELS_VENV = Path(os.environ.get('ROS_WHEELS_VENV', ROOT / '.venv-jazzy'))
SETUP_COMPLETE = 'setup-complete'
"""What scripts/setup_jazzy.sh leaves in the venv when it has finished."""


def test_the_install_guide_works_under_pep_668(tmp_path):
    if Path(sys.prefix).resolve() != ROS_WHEELS_VENV.resolve():
        pytest.skip(f'runs in make test-jazzy: its venv ({ROS_WHEELS_VENV.name}) is the stand-in for /opt/ros')
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f'{SYSTEM_PYTHON} does not exist (set SYSTEM_PYTHON to an externally managed Python)')
    stdlib = subprocess.run([str(SYSTEM_PYTHON), '-c', 'import sysconfig; print(sysconfig.get_path("stdlib"))'],
                            capture_output=True, text=True, check=True).stdout.strip()
    if not (Path(stdlib) / 'EXTERNALLY-MANAGED').is_file():
        pytest.skip(f'{SYSTEM_PYTHON} is not externally managed (PEP 668), so it cannot stand in for Ubuntu 24.04\'s')
    if subprocess.run([str(SYSTEM_PYTHON), '-c', 'import venv, ensurepip'], capture_output=True).returncode:
        pytest.skip(f'{SYSTEM_PYTHON} has no venv module (apt install python3-venv)')
    if not (ROS_WHEELS_VENV / SETUP_COMPLETE).is_file():  # CI sets it up while the Kilted suite runs
        pytest.skip(f'{ROS_WHEELS_VENV} is not (yet) set up: the ROS 2 wheels that stand in for /opt/ros come from '
                    'scripts/setup_jazzy.sh; make test-jazzy runs this test after it')
    environment = dict(os.environ, WORK=str(tmp_path), SYSTEM_PYTHON=str(SYSTEM_PYTHON),
                       ROS_WHEELS_VENV=str(ROS_WHEELS_VENV))
    for name in ('VIRTUAL_ENV', 'PYTHONPATH', 'AMENT_PREFIX_PATH', 'LD_LIBRARY_PATH', 'PYTHONHOME'):
        environment.pop(name, None)
    environment['PATH'] = os.pathsep.join(entry for entry in environment['PATH'].split(os.pathsep)
                                          if not entry.startswith(str(Path(sys.executable).parent)))
    result = subprocess.run(['bash', str(ROOT / 'scripts' / 'rehearse_install.sh')], env=environment,
                            capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    if result.returncode and 'pip3 install into the venv' in output and 'Could not find a version' in output:
        pytest.skip('PyPI is not reachable: the pip keys cannot be installed')
    assert result.returncode == 0, output
    for line in ('the system pip refuses', "seg_node starts with #!" + str(tmp_path / 'ros2_ws' / '.venv' / 'bin'),
                 'with backend onnxruntime', 'writes #!' + str(SYSTEM_PYTHON), 'rehearsal ok'):
        assert line in output, output
