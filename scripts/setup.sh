#!/usr/bin/env bash
# Create .venv with everything the package, its tests and its benchmarks need on a machine without ROS 2:
# torch 2.13.0 (CPU), the ROS 2 Kilted wheels from PyPI, ONNX Runtime, transformers, and the two distributions of
# this repository, editable: the runtime (night_seg_ros, the ROS 2 package) and then the training code (training/).
# One line a step; the installers' own output goes to out/setup.log (SETUP_LOG), shown when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/steps.sh
PYTHON=${PYTHON:-python3}
STEP_LOG=${SETUP_LOG:-out/setup.log}
STEP_PREFIX='[setup]'
step_start_log
if [[ ! -x .venv/bin/python ]]; then
  step "creating .venv with $PYTHON" "$PYTHON" -m venv .venv
fi
step 'upgrading pip' .venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned: a later unpinned requirement must not pull a CUDA build.
step 'installing torch 2.13.0 (CPU)' .venv/bin/python -m pip install --quiet 'torch==2.13.0'
step 'installing the runtime (editable) with ROS 2 Kilted wheels, ONNX Runtime, transformers, test tools' \
  .venv/bin/python -m pip install --quiet -e '.[all,ros-pypi,test]'
step 'installing the training code (editable)' .venv/bin/python -m pip install --quiet -e training
# The upstream ROS 2 Python tools (launch, launch_ros, ros2cli; not on PyPI), where a copy with its install.sh is
# present (ROS2_PYTHON_TOOLS, by default ../shared/ros2_python beside the checkout): the launch and `ros2 param` tests
# use them; elsewhere those tests skip, saying so.
TOOLS=${ROS2_PYTHON_TOOLS:-../shared/ros2_python}
if [[ -f $TOOLS/install.sh ]] && ! .venv/bin/python -c 'import launch_ros' 2>/dev/null; then
  step "installing the ROS 2 launch and CLI tools from $TOOLS" bash "$TOOLS/install.sh" .venv
fi
.venv/bin/python -c 'import rclpy, torch, onnxruntime, transformers, night_seg_training
print("setup ok: torch", torch.__version__)'
