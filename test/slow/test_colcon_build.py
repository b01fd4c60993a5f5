"""Build the package with colcon into a temporary directory and check the installed layout (slow: runs colcon).

colcon builds the runtime alone: training/ is its own pip distribution (COLCON_IGNORE), so a vehicle's install has
no training code and no `night-seg-train`.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = 'night_seg_ros'
PACKAGE_DIR = Path(__file__).resolve().parents[2]
COLCON = Path(sys.executable).parent / 'colcon'

EXECUTABLES = ['seg_node', 'night-seg', 'build_engine', 'verify_engine']
SHARE_FILES = [
    'launch/seg.launch.py',
    'config/seg.yaml',
    'config/seg.rviz',
    'config/fastdds_large_images.xml',
    'models/synthetic_demo_b0/model.json',
    'models/synthetic_demo_b0/weights.safetensors',
    'models/synthetic_demo_b0/model.onnx',
    'package.xml',
]


@pytest.fixture(scope='module')
def install_dir(tmp_path_factory):
    """Run colcon build on the package with every colcon output directory outside the source tree."""
    if not COLCON.is_file():
        pytest.skip(f'colcon is not installed next to {sys.executable} (pip install colcon-common-extensions)')
    base = tmp_path_factory.mktemp('colcon')
    command = [
        str(COLCON), '--log-base', str(base / 'log'), 'build',
        '--base-paths', str(PACKAGE_DIR),
        '--build-base', str(base / 'build'),
        '--install-base', str(base / 'install'),
        '--event-handlers', 'console_direct+',
    ]
    env = dict(os.environ, COLCON_HOME=str(base / 'colcon_home'))
    before = set(os.listdir(PACKAGE_DIR))
    result = subprocess.run(
        command, check=False, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout
    assert set(os.listdir(PACKAGE_DIR)) <= before, 'colcon wrote into the source tree'
    built = [path.name for path in (base / 'build').iterdir() if path.is_dir()]
    assert built == [PACKAGE], f'colcon found more packages in the checkout than {PACKAGE}: {built}'
    return base / 'install' / PACKAGE


@pytest.mark.parametrize('name', EXECUTABLES)
def test_executables_installed(install_dir, name):
    path = install_dir / 'lib' / PACKAGE / name
    assert path.is_file(), path
    assert os.access(path, os.X_OK), path


@pytest.mark.parametrize('relative', SHARE_FILES)
def test_share_files_installed(install_dir, relative):
    assert (install_dir / 'share' / PACKAGE / relative).is_file()


def test_ament_index_marker_installed(install_dir):
    assert (install_dir / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE).is_file()


def test_install_holds_the_runtime_alone(install_dir):
    site_packages = list(install_dir.glob('lib/python3*/site-packages'))
    assert len(site_packages) == 1, site_packages
    assert (site_packages[0] / PACKAGE / 'node' / 'seg_node.py').is_file()
    assert not any(path.name.startswith('night_seg_training') for path in site_packages[0].iterdir())
    assert not (install_dir / 'lib' / PACKAGE / 'night-seg-train').exists()


def test_share_directory_found_through_ament_index(install_dir, monkeypatch):
    ament_index_python = pytest.importorskip('ament_index_python')
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(install_dir))
    share = Path(ament_index_python.get_package_share_directory(PACKAGE))
    assert share == install_dir / 'share' / PACKAGE
