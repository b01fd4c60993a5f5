#!/usr/bin/env bash
# Create .venv-jazzy: the ROS 2 Jazzy wheels from PyPI (rclpy 7.1, Fast DDS 2.14), ONNX Runtime and rosbags (no torch,
# as on a vehicle), the test tools and the runtime package (editable; not the training code in training/, which the
# tests run here do not use); with the upstream launch / launch_ros / ros2cli sources present (ROS2_PYTHON_TOOLS, by
# default ../shared/ros2_python beside the checkout) also those, so `ros2 launch` and `ros2 param` work in it.
# `make test-jazzy` runs the node, DDS, replay, faults, parameter and launch tests in it.
# One line a step; the installers' own output goes to out/setup_jazzy.log (SETUP_LOG), shown when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/steps.sh
PYTHON=${PYTHON:-python3}
VENV=.venv-jazzy
STEP_LOG=${SETUP_LOG:-out/setup_jazzy.log}
STEP_PREFIX='[setup-jazzy]'
step_start_log
if [[ ! -x $VENV/bin/python ]]; then
  step "creating $VENV with $PYTHON" "$PYTHON" -m venv "$VENV"
fi
step 'upgrading pip' "$VENV/bin/python" -m pip install --quiet --upgrade pip
step 'installing the runtime (editable) with ROS 2 Jazzy wheels, ONNX Runtime, rosbags, test tools' \
  "$VENV/bin/python" -m pip install --quiet -e '.[runtime,onnx,bag,ros-pypi-jazzy]' 'pytest>=7' 'hypothesis>=6.80' \
  colcon-common-extensions
TOOLS=${ROS2_PYTHON_TOOLS:-../shared/ros2_python}
if [[ -f $TOOLS/install.sh ]]; then
  step "installing the ROS 2 launch and CLI tools from $TOOLS" bash "$TOOLS/install.sh" "$VENV"
fi
"$VENV/bin/python" -c 'import rclpy, onnxruntime; print("setup ok: jazzy venv, rclpy from", rclpy.__file__)'
touch "$VENV/setup-complete"  # for the tests that use this venv from another one (test/slow/test_install_path.py)
