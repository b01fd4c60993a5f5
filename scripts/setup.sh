#!/usr/bin/env bash
# Create .venv with everything the package, its tests and its benchmarks need on a machine without ROS 2:
# torch 2.13.0 (CPU), the ROS 2 Kilted wheels from PyPI, ONNX Runtime, transformers, and the two distributions of
# this repository, editable: the runtime (night_seg_ros, the ROS 2 package) and then the training code (training/).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned: a later unpinned requirement must not pull a CUDA build.
.venv/bin/python -m pip install --quiet 'torch==2.13.0'
.venv/bin/python -m pip install --quiet -e '.[all,ros-pypi,test]'
.venv/bin/python -m pip install --quiet -e training
# The upstream ROS 2 Python tools (launch, launch_ros, ros2cli; not on PyPI), where a copy with its install.sh is
# present (ROS2_PYTHON_TOOLS, by default ../shared/ros2_python beside the checkout): the launch and `ros2 param` tests
# use them; elsewhere those tests skip, saying so.
TOOLS=${ROS2_PYTHON_TOOLS:-../shared/ros2_python}
if [[ -f $TOOLS/install.sh ]] && ! .venv/bin/python -c 'import launch_ros' 2>/dev/null; then
  bash "$TOOLS/install.sh" .venv
fi
.venv/bin/python -c 'import rclpy, torch, onnxruntime, transformers, night_seg_training
print("setup ok: torch", torch.__version__)'
