"""ament_python package night_seg_ros: installable with colcon (ROS 2) and with pip (a virtualenv).

The runtime only; the training code is the distribution in training/ (night-seg-training), which depends on this one.
"""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'night_seg_ros'


def files(pattern: str) -> list[str]:
    """The regular files matching `pattern`: data_files copies files only, and a folder among them (a bundle's
    engines/, built on this machine for its GPU and never installed) would stop the build."""
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


def bundled_models() -> list[tuple[str, list[str]]]:
    """data_files entries of the bundles in models/: each bundle's files, without its engines/ folder."""
    return [(f'share/{PACKAGE}/models/{os.path.basename(folder)}', files(os.path.join(folder, '*')))
            for folder in sorted(glob('models/*')) if os.path.isdir(folder)]


EXTRAS = {
    # What the node needs on any machine (ROS 2 itself comes from apt or the ROS PyPI wheels).
    'runtime': ['numpy>=1.22', 'opencv-python-headless>=4.5', 'pyyaml>=5.4'],
    # ONNX Runtime backend and the export parity check; no torch needed on a vehicle using it.
    'onnx': ['onnx>=1.14', 'onnxruntime>=1.16'],
    # torch backend, export and the Hugging Face SegFormer import. transformers 5.9 renamed SegFormer's modules
    # (segformer.stages.*, decode_head.linear_projections.*), the names bundles' weights and folded_decode use.
    'torch': ['torch>=2.1', 'transformers>=5.9', 'safetensors>=0.4', 'onnxscript>=0.1'],
    # ROS 2 Kilted from PyPI, for machines without a ROS 2 installation.
    'ros-pypi': [
        'ros-kilted-rclpy[fastrtps]', 'ros-kilted-sensor-msgs',
        'ros-kilted-std-msgs', 'ros-kilted-diagnostic-msgs',
    ],
    # ROS 2 Jazzy from PyPI (Fast DDS 2.14): CI runs the node, DDS and launch tests on it too (scripts/setup_jazzy.sh).
    'ros-pypi-jazzy': [
        'ros-jazzy-rclpy[fastrtps]', 'ros-jazzy-sensor-msgs',
        'ros-jazzy-std-msgs', 'ros-jazzy-diagnostic-msgs',
    ],
    # TensorRT converter and backend. `convert` makes the FP16 / INT8 Q/DQ ONNX graphs and reads int8 calibration
    # frames from folders and bags (runs and is tested on any machine); `tensorrt` adds cuda-python for the engine's
    # CUDA buffers (an installed pycuda, or a torch with CUDA, works too). tensorrt itself comes from JetPack (apt
    # python3-libnvinfer) or NVIDIA's packages.
    'convert': ['onnx>=1.14', 'onnxruntime>=1.16', 'onnxconverter-common>=1.14', 'rosbags>=0.10'],
    'tensorrt': ['cuda-python>=12'],
    # Recorded drives without ROS 2 tools: `night-seg bag`, `replay`, `record` and the demo read and write rosbag2.
    'bag': ['rosbags>=0.10', 'tqdm>=4.60'],
    # `night-seg bench`: the plot of its figures.
    'bench': ['matplotlib>=3.5'],
    # import-linter checks the layer contracts in setup.cfg (test/unit/test_contracts.py); vermin that the code keeps
    # to Python 3.10, Humble's (test/unit/test_humble_api.py).
    'test': ['pytest>=7', 'ruff>=0.4', 'colcon-common-extensions', 'hypothesis>=6.80', 'import-linter>=2.1',
             'vermin>=1.6'],
}
EXTRAS['tensorrt'] += EXTRAS['convert']
EXTRAS['all'] = sorted({req for name in ('runtime', 'onnx', 'torch', 'convert', 'bag', 'bench')
                       for req in EXTRAS[name]})

setup(
    name=PACKAGE,
    version='0.1.0',
    # The runtime alone: the training code is its own distribution (training/pyproject.toml), never built by colcon.
    packages=find_packages(include=[PACKAGE, PACKAGE + '.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', files('launch/*.py')),
        ('share/' + PACKAGE + '/config', files('config/*.yaml') + files('config/*.rviz') + files('config/*.xml')),
        *bundled_models(),
    ],
    install_requires=['setuptools'],
    extras_require=EXTRAS,
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='night_seg_ros developers',
    maintainer_email='dev@night-seg.invalid',
    description='Night-robust semantic segmentation node for ROS 2 with torch, ONNX Runtime and TensorRT backends.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'seg_node = night_seg_ros.node.seg_node:main',
            'night-seg = night_seg_ros.cli:main',
            'build_engine = night_seg_ros.cli:build_main',
            'verify_engine = night_seg_ros.cli:verify_main',
        ],
    },
)
