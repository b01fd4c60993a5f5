"""package.xml is complete for rosdep: every third-party module the runtime (night_seg_ros/, launch/) imports has its
rosdep key there, or is optional with a reason; every key is one rosdistro resolves (test/unit/rosdistro_keys.yaml,
read from rosdistro: rosdep itself cannot run here)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_SOURCES = sorted((ROOT / 'night_seg_ros').rglob('*.py')) + sorted((ROOT / 'launch').glob('*.py'))
RECORD = yaml.safe_load((Path(__file__).with_name('rosdistro_keys.yaml')).read_text())

MODULE_KEYS = {
    'rclpy': 'rclpy', 'rcl_interfaces': 'rcl_interfaces', 'sensor_msgs': 'sensor_msgs', 'std_msgs': 'std_msgs',
    'diagnostic_msgs': 'diagnostic_msgs', 'vision_msgs': 'vision_msgs', 'ament_index_python': 'ament_index_python',
    'launch': 'launch', 'launch_ros': 'launch_ros',
    'numpy': 'python3-numpy', 'cv2': 'python3-opencv', 'yaml': 'python3-yaml',
    'onnxruntime': 'python3-onnxruntime-pip', 'rosbags': 'python3-rosbags-pip', 'tqdm': 'python3-tqdm',
    'matplotlib': 'python3-matplotlib',
}
"""Imported module -> the rosdep key package.xml must declare for it (with no NIGHT_SEG_ONNXRUNTIME set)."""

OPTIONAL = {
    'torch': 'torch backend and ONNX export: not on a vehicle (a Jetson torch is a special build)',
    'transformers': 'torch backend, export and the Hugging Face import',
    'safetensors': 'bundle weights for the torch backend and export; no rosdep key',
    'onnxscript': "torch's ONNX exporter; no rosdep key",
    'huggingface_hub': 'hub ids as models (needs torch and transformers too)',
    'tensorrt': "TensorRT comes from JetPack (apt python3-libnvinfer) or NVIDIA's packages; no rosdep key",
    'cuda': 'cuda-python, one of the TensorRT device-buffer providers; no rosdep key',
    'pycuda': 'one of the TensorRT device-buffer providers; no rosdep key',
    'onnx': 'rendering on the GPU and the TensorRT converter; no rosdep key (pip install onnx, docs/INSTALL.md)',
    'onnxconverter_common': 'the TensorRT converter (fp16 graphs); no rosdep key',
}
"""Imported modules package.xml leaves out on purpose: docs/INSTALL.md says how each is installed."""

# catkin_pkg builds its condition grammar with pyparsing names that pyparsing 3.3 deprecates; not this package's.
pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')


def imported_modules() -> dict[str, list[str]]:
    """Top-level third-party module -> the runtime files that import it (stdlib and the package itself left out)."""
    found: dict[str, list[str]] = {}
    for path in RUNTIME_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split('.')[0]
                if top not in sys.stdlib_module_names and top not in ('night_seg_ros', '__future__'):
                    found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


@pytest.fixture(scope='module')
def package():
    """package.xml read by catkin_pkg, as rosdep and colcon read it."""
    package_module = pytest.importorskip('catkin_pkg.package', reason='catkin_pkg (colcon-ros, rosdep) reads '
                                                                      'package.xml; pip install catkin_pkg')
    return package_module.parse_package(str(ROOT / 'package.xml'))


def declared(package, environment: dict[str, str] | None = None) -> set[str]:
    """The exec_depend keys rosdep installs in `environment` (the conditions evaluated in it)."""
    package.evaluate_conditions(environment or {})
    return {dependency.name for dependency in package.exec_depends if dependency.evaluated_condition}


def test_every_imported_module_has_a_key_or_a_reason():
    unknown = {module: files for module, files in imported_modules().items()
               if module not in MODULE_KEYS and module not in OPTIONAL}
    assert not unknown, (f'modules imported by the runtime without a rosdep key in package.xml: {unknown}; add '
                         '<exec_depend>KEY</exec_depend> (and MODULE_KEYS here), or make it optional with a reason')


def test_package_xml_declares_the_key_of_every_imported_module(package):
    keys = declared(package)
    missing = {module: MODULE_KEYS[module] for module in imported_modules()
               if module in MODULE_KEYS and MODULE_KEYS[module] not in keys}
    assert not missing, f'package.xml lacks these exec_depend keys (module: key): {missing}'


def test_every_key_resolves_in_rosdistro(package):
    known = set(RECORD['keys']) | set(RECORD['ros_packages'])
    keys = {dependency.name for dependency in package.exec_depends + package.test_depends}
    assert keys - known == set(), f'keys rosdistro does not resolve: {sorted(keys - known)}'


@pytest.mark.parametrize(('choice', 'wanted', 'unwanted'), [
    ({}, {'python3-onnxruntime-pip'}, {'python3-onnxruntime-gpu-pip'}),
    ({'NIGHT_SEG_ONNXRUNTIME': 'cpu'}, {'python3-onnxruntime-pip'}, {'python3-onnxruntime-gpu-pip'}),
    ({'NIGHT_SEG_ONNXRUNTIME': 'gpu'}, {'python3-onnxruntime-gpu-pip'}, {'python3-onnxruntime-pip'}),
    ({'NIGHT_SEG_ONNXRUNTIME': 'none'}, set(), {'python3-onnxruntime-pip', 'python3-onnxruntime-gpu-pip'}),
])
def test_the_onnxruntime_build_is_chosen_when_rosdep_runs(package, choice, wanted, unwanted):
    keys = declared(package, choice)
    assert wanted <= keys and not unwanted & keys


def test_the_optional_modules_are_without_a_key_or_not_for_a_vehicle():
    for module in OPTIONAL:
        assert module in RECORD['without_key'] or module in ('torch', 'transformers', 'huggingface_hub'), module



def test_install_guide_names_the_onnxruntime_choice_and_the_optional_modules():
    guide = (ROOT / 'docs' / 'INSTALL.md').read_text()
    assert 'NIGHT_SEG_ONNXRUNTIME=gpu' in guide and 'NIGHT_SEG_ONNXRUNTIME=none' in guide
    for name in ('onnx', 'cuda-python', 'pycuda', 'tensorrt', 'torch'):
        assert name in guide, name
