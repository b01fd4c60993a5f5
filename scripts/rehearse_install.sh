#!/usr/bin/env bash
# Rehearse docs/INSTALL.md (apt ROS 2 under PEP 668) on a machine without apt ROS 2, as closely as it allows:
#   SYSTEM_PYTHON   an externally managed Python (default /usr/bin/python3: Debian 12's is, like Ubuntu 24.04's)
#   ROS_WHEELS_VENV a venv with the ROS 2 Jazzy wheels, colcon and launch (default .venv-jazzy, scripts/setup_jazzy.sh)
#   WORK            an empty folder for the stand-in /opt/ros and the workspace (default: a new temporary one)
# Stand-ins, said as they are used: ROS_WHEELS_VENV's packages without onnxruntime and rosbags, on PYTHONPATH, stand in
# for /opt/ros/jazzy (whose setup.bash sets PYTHONPATH) and apt's Python packages; the pip packages that package.xml's
# pip keys resolve to (test/unit/rosdistro_keys.yaml, read from rosdistro) stand in for `rosdep install`.
# The workspace gets a fresh clone of the checkout's HEAD (commit first what should be rehearsed). Prints one line a
# step and ends with `rehearsal ok`; exit 1 with the reason otherwise. Needs git and PyPI (pip install).
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
ROS_WHEELS_VENV=${ROS_WHEELS_VENV:-$checkout/.venv-jazzy}
if [[ -z ${WORK:-} ]]; then
  WORK=$(mktemp -d -t night_seg_install_XXXX)
  trap 'rm -rf "$WORK"' EXIT
fi
say() { echo "[rehearsal] $*"; }
fail() { echo "[rehearsal] FAILED: $*" >&2; exit 1; }

stdlib=$("$SYSTEM_PYTHON" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
[[ -f $stdlib/EXTERNALLY-MANAGED ]] || fail "$SYSTEM_PYTHON is not externally managed (no $stdlib/EXTERNALLY-MANAGED)"
if "$SYSTEM_PYTHON" -m pip --version >/dev/null 2>&1; then
  refusal=$("$SYSTEM_PYTHON" -m pip install --dry-run onnxruntime rosbags 2>&1 || true)
  [[ $refusal == *externally-managed-environment* ]] || fail "the system pip did not refuse: $refusal"
  say "the system pip refuses 'pip install onnxruntime rosbags' (externally-managed-environment), as on Ubuntu 24.04"
fi

# Stand-in for /opt/ros/jazzy and apt's Python packages: everything of the ROS 2 wheels venv but what the pip keys
# bring (onnxruntime, rosbags) and this package, reached through PYTHONPATH and LD_LIBRARY_PATH as
# /opt/ros/jazzy/setup.bash does.
site=$("$ROS_WHEELS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
opt_ros=$WORK/opt_ros/site-packages
mkdir -p "$opt_ros"
for entry in "$site"/*; do
  case $(basename "$entry") in
    onnxruntime*|rosbags*|night_seg_ros*|__editable__*|_night_seg_ros*|*.pth) ;;
    *) ln -s "$entry" "$opt_ros/" ;;
  esac
done
libraries=$(printf '%s:' "$ROS_WHEELS_VENV/lib" "$site"/ros_*.libs)
export PYTHONPATH=$opt_ros ROS_PYTHON_VERSION=3 LD_LIBRARY_PATH=${libraries%:}  # as setup.bash sets them
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}  # this host only
say "stand-in for /opt/ros/jazzy: the ROS 2 Jazzy wheels of $ROS_WHEELS_VENV on PYTHONPATH and LD_LIBRARY_PATH," \
  'without onnxruntime and rosbags' 

# The guide's commands, in a workspace.
ws=$WORK/ros2_ws
mkdir -p "$ws/src"
commit=$(git -C "$checkout" rev-parse HEAD)
git clone --quiet --no-checkout "$checkout" "$ws/src/night_seg_ros"
git -C "$ws/src/night_seg_ros" checkout --quiet "$commit"
dirty=$(git -C "$checkout" status --porcelain --untracked-files=no | head -n 1)
say "a fresh clone of $commit into the workspace${dirty:+ (uncommitted changes of the checkout are not in it)}"
cd "$ws"
"$SYSTEM_PYTHON" -m venv --system-site-packages .venv && touch .venv/COLCON_IGNORE
echo 'numpy<2' > .venv/constraints.txt
printf '[install]\nconstraint = %s\n' "$PWD/.venv/constraints.txt" > .venv/pip.conf
# shellcheck disable=SC1091
source .venv/bin/activate
say "venv with --system-site-packages from $SYSTEM_PYTHON: $VIRTUAL_ENV"
pip_packages=$(python - "$checkout" <<'EOF'
import sys
from pathlib import Path
import yaml
from catkin_pkg.package import parse_package
checkout = Path(sys.argv[1])
keys = yaml.safe_load((checkout / 'test' / 'unit' / 'rosdistro_keys.yaml').read_text())['keys']
package = parse_package(str(checkout / 'package.xml'))
package.evaluate_conditions({})
wanted = [d.name for d in package.exec_depends if d.evaluated_condition and 'pip' in keys.get(d.name, {})]
print(' '.join(name for key in wanted for name in keys[key]['pip']))
EOF
)
[[ -n $pip_packages ]] || fail 'package.xml names no pip key'
[[ $(command -v pip3) == "$VIRTUAL_ENV/bin/pip3" ]] || fail "pip3 on PATH is $(command -v pip3), not the venv's"
pip3 install --quiet $pip_packages >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; fail 'pip3 install into the venv'; }
say "pip keys (stand-in for rosdep install --as-root pip:false): pip3 of the venv installed $pip_packages"

python -m colcon build --base-paths src --packages-select night_seg_ros >"$WORK/colcon.log" 2>&1 \
  || { tail -n 40 "$WORK/colcon.log"; fail 'python -m colcon build'; }
shebang=$(head -n 1 install/night_seg_ros/lib/night_seg_ros/seg_node)
[[ $shebang == "#!$VIRTUAL_ENV/bin/python"* ]] || fail "seg_node's shebang is $shebang, not the venv's Python"
say "python -m colcon build: seg_node starts with $shebang"

deactivate
set +u  # colcon's setup.bash reads unset variables
# shellcheck disable=SC1091
source install/setup.bash
set -u
log=$WORK/seg_node.log
install/night_seg_ros/lib/night_seg_ros/seg_node --ros-args -r __ns:=/install_rehearsal >"$log" 2>&1 &
node=$!
for _ in $(seq 1 240); do
  grep -q 'ready:' "$log" && break
  kill -0 "$node" 2>/dev/null || { cat "$log"; fail 'seg_node ended before it was ready'; }
  sleep 0.5
done
grep -q 'ready:' "$log" || { kill -9 "$node"; cat "$log"; fail 'seg_node not ready within 120 s'; }
kill -INT "$node"
wait "$node" || { cat "$log"; fail 'seg_node did not end cleanly on Ctrl-C'; }
grep -q 'backend onnxruntime' "$log" || { cat "$log"; fail 'seg_node did not run backend onnxruntime'; }
origin=$("$ws/.venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__file__)')
[[ $origin == "$ws/.venv/"* ]] || fail "onnxruntime came from $origin, not the workspace venv"
say "the installed seg_node started in a new shell (install/setup.bash, no venv active) with backend onnxruntime" \
  "from $origin"

# What the guide avoids: colcon run by the system Python writes its shebang, and that Python has no onnxruntime.
"$SYSTEM_PYTHON" -m colcon --log-base log_system build --base-paths src --packages-select night_seg_ros \
  --build-base build_system --install-base install_system >"$WORK/colcon_system.log" 2>&1 \
  || { tail -n 40 "$WORK/colcon_system.log"; fail 'colcon build with the system Python'; }
shebang=$(head -n 1 install_system/night_seg_ros/lib/night_seg_ros/seg_node)
code=0
system_site=$(echo "$ws"/install_system/night_seg_ros/lib/python3*/site-packages)
PYTHONPATH=$PYTHONPATH:$system_site AMENT_PREFIX_PATH=$ws/install_system/night_seg_ros timeout 120 \
  install_system/night_seg_ros/lib/night_seg_ros/seg_node >"$WORK/seg_node_system.log" 2>&1 || code=$?
if [[ $code != 1 ]] || ! grep -q 'needs the onnxruntime package' "$WORK/seg_node_system.log"; then
  cat "$WORK/seg_node_system.log"
  fail "the system-Python build was expected to stop for want of onnxruntime (exit $code)"
fi
say "for contrast, plain colcon (the system Python) writes $shebang, and that seg_node stops: backend onnxruntime" \
  'needs the onnxruntime package' 
say "rehearsal ok"
