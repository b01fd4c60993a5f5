"""The package as a ROS 2 user runs it: colcon-built, sourced, `ros2 launch night_seg_ros seg.launch.py`, `ros2 param`.

Needs colcon and the ros2 CLI with launch_ros (a ROS 2 install, or the upstream sources scripts/setup.sh installs);
skips, saying which is missing, elsewhere. Frames come from this test process over real DDS.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from night_seg_ros.bench.probe import Probe
from night_seg_ros.codec import numpy_to_image
from night_seg_ros.dds import profile_env_var
from night_seg_ros.launch_support import parameter_arguments

PACKAGE_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.usefixtures('ros_context')


def _tool(name: str) -> str:
    """The executable `name` next to this Python or on PATH; skip the module when neither has it."""
    found = BIN / name if (BIN / name).is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f'{name} is not installed: source a ROS 2 install, or set ROS2_PYTHON_TOOLS to the upstream '
                    'ROS 2 Python tools and run scripts/setup.sh (and pip install colcon-common-extensions)')
    return str(found)


@pytest.fixture(scope='module')
def ros2_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a shell that colcon-built the package and sourced its install/setup.bash."""
    colcon, ros2 = _tool('colcon'), _tool('ros2')
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (a ROS 2 install or scripts/setup.sh)')
    base = tmp_path_factory.mktemp('ws')
    build = subprocess.run(
        [colcon, '--log-base', str(base / 'log'), 'build', '--base-paths', str(PACKAGE_DIR), '--build-base',
         str(base / 'build'), '--install-base', str(base / 'install'), '--packages-select', 'night_seg_ros'],
        cwd=base, env=dict(os.environ, COLCON_HOME=str(base / 'colcon_home')), capture_output=True, text=True,
        timeout=300, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    env = dict(os.environ, PATH=f'{Path(ros2).parent}{os.pathsep}{os.environ["PATH"]}')
    sourced = subprocess.run(['bash', '-c', f'source {base}/install/setup.bash && env -0'], env=env,
                             capture_output=True, check=True, timeout=60)
    return dict(line.split('=', 1) for line in sourced.stdout.decode().split('\0') if '=' in line)


class Launch:
    """`ros2 launch night_seg_ros seg.launch.py ARGS` in its own process group (as a terminal runs it)."""

    def __init__(self, env: dict[str, str], log: Path, *arguments: str) -> None:
        """Start the launch; its output goes to `log`."""
        self.log_path = log
        self._log = log.open('w')
        self.process = subprocess.Popen(['ros2', 'launch', 'night_seg_ros', 'seg.launch.py', *arguments], env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        """Everything the launch and its processes printed so far."""
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait for seg_node's ready line; fail with the log when the launch ends first."""
        deadline = time.monotonic() + timeout
        while 'ready:' not in self.log():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.2)

    def ctrl_c(self, timeout: float = 60.0) -> int:
        """SIGINT to the whole process group, as Ctrl-C in a terminal; the launch's exit code."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """Clean-up: nothing of the group survives the test."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._log.close()


def ros2(env: dict[str, str], *arguments: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run `ros2 ARGUMENTS` (param verbs without the daemon, so nothing is left running) and return what it printed.

    A fresh `ros2 param` discovers the node first, for --spin-time seconds (twice for `set`, whose node lookup and
    call each start their own node): on a busy machine it may not see it in time ('Node not found'), so it is given
    2 s and asked again until `timeout`. Its service call can also hang: a
    request sent before the node's response writer has matched the new client gets no answer (a DDS discovery race of
    the ROS 2 service layer), and `ros2 param` waits forever; such a call is ended after 30 s and made again.
    """
    command = ['ros2', *arguments]
    if arguments[0] == 'param':
        command += ['--no-daemon', '--spin-time', '2']
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                raise
            continue
        if 'Node not found' not in result.stderr or time.monotonic() > deadline:
            return result


def dumped_parameters(env: dict[str, str], node: str) -> dict[str, object]:
    """The parameters of `node` as `ros2 param dump` prints them (YAML), name -> value."""
    result = ros2(env, 'param', 'dump', node)
    assert result.returncode == 0, result.stdout + result.stderr
    return yaml.safe_load(result.stdout)[node]['ros__parameters']


def processes_with(marker: str) -> list[str]:
    """Command lines of the running processes that contain `marker`."""
    return list(process_ids_with(marker).values())


def process_ids_with(marker: str) -> dict[int, str]:
    """Process id -> command line of the running processes whose command line contains `marker`."""
    found = {}
    for entry in Path('/proc').iterdir():
        try:
            cmdline = (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if marker in cmdline and entry.name.isdigit():
            found[int(entry.name)] = cmdline
    return found


def environment_of(pid: int) -> dict[str, str]:
    """The environment process `pid` started with."""
    pairs = Path(f'/proc/{pid}/environ').read_bytes().decode().split('\0')
    return dict(pair.split('=', 1) for pair in pairs if '=' in pair)


@pytest.fixture
def camera(request):
    """A camera node publishing on /cam and a probe collecting the outputs under /robot1."""
    node = Node(f'camera_{request.node.name.split("[")[0]}')
    publisher = node.create_publisher(Image, '/cam', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    probe = Probe(f'probe_{request.node.name.split("[")[0]}', namespace='/robot1')
    yield node, publisher, probe
    probe.node.destroy_node()
    node.destroy_node()


def frame(header: Header, width: int = 640, height: int = 480) -> Image:
    """A bgr8 camera frame (640x480 unless told): a horizontal gradient."""
    row = np.linspace(0, 255, width, dtype=np.uint8)
    gradient = np.broadcast_to(row[None, :, None], (height, width, 3))
    return numpy_to_image(np.ascontiguousarray(gradient), 'bgr8', header)


def answered(publisher, probe: Probe, timeout: float = 60.0) -> dict[str, Image]:
    """Publish frames (each newly stamped) until all four outputs of one came back; return them."""
    result: dict[str, Image] = {}

    def attempt() -> bool:
        header = probe.header()
        publisher.publish(frame(header))
        result.update(probe.outputs_for(header) if probe.spin_until(
            lambda: len(probe.outputs_for(header)) == 4, 1.0) else {})
        return len(result) == 4

    assert probe.spin_until(attempt, timeout), 'no complete answer through ros2 launch'
    return result


@pytest.fixture(scope='module')
def robot1(ros2_env, tiny_bundle, tmp_path_factory):
    """The launch under namespace robot1, image:=/cam, use_sim_time:=true, a parameter file that sets backend and
    overlay_alpha."""
    folder = tmp_path_factory.mktemp('robot1')
    params = yaml.safe_load((PACKAGE_DIR / 'config' / 'seg.yaml').read_text())
    params['/**']['ros__parameters'].update(model=str(tiny_bundle), backend='onnxruntime', overlay_alpha=0.25)
    (folder / 'seg.yaml').write_text(yaml.safe_dump(params))
    launch = Launch(ros2_env, folder / 'launch.log', 'namespace:=robot1', 'image:=/cam', 'use_sim_time:=true',
                    f'params_file:={folder / "seg.yaml"}')
    launch.wait_ready()
    yield launch
    launch.kill()


def test_launch_under_a_namespace_segments_frames_with_the_parameter_file(robot1, camera, ros2_env):
    _, publisher, probe = camera
    outputs = answered(publisher, probe)
    assert {msg.header.frame_id for msg in outputs.values()} == {'camera_optical'}
    assert (outputs['labels'].height, outputs['labels'].width) == (480, 640)
    for name, value in (('overlay_alpha', '0.25'), ('backend', 'onnxruntime')):  # from the file, not the launch
        got = ros2(ros2_env, 'param', 'get', '/robot1/seg_node', name)
        assert got.returncode == 0 and value in got.stdout, got.stdout + got.stderr


def test_ros2_param_set_changes_the_running_node(robot1, camera, ros2_env):
    _, publisher, probe = camera
    result = ros2(ros2_env, 'param', 'set', '/robot1/seg_node', 'overlay_alpha', '1.0')
    assert 'Set parameter successful' in result.stdout, result.stdout + result.stderr
    outputs = answered(publisher, probe)
    overlay = np.frombuffer(outputs['overlay'].data, np.uint8).reshape(480, 640, 3)
    color = np.frombuffer(outputs['color'].data, np.uint8).reshape(480, 640, 3)
    np.testing.assert_array_equal(overlay, color[:, :, ::-1])  # alpha 1: the overlay is the palette alone


def test_ros2_param_set_refuses_with_a_reason(robot1, ros2_env):
    refused = {'backend': ('torch', 'read-only'), 'overlay_alpha': ('1.5', 'out of range'),
               'class_names': ("['car']", 'read-only')}
    before = dumped_parameters(ros2_env, '/robot1/seg_node')
    for name, (value, reason) in refused.items():
        result = ros2(ros2_env, 'param', 'set', '/robot1/seg_node', name, value)
        assert 'Setting parameter failed' in result.stderr and reason in result.stderr, \
            f'{name} := {value}: {result.stdout}{result.stderr}'
    after = dumped_parameters(ros2_env, '/robot1/seg_node')
    assert {name: after[name] for name in refused} == {name: before[name] for name in refused}


@pytest.mark.parametrize(('name', 'lines'), [
    ('overlay_alpha', ['Type: double', 'Min value: 0.0', 'Max value: 1.0']),
    ('qos_depth', ['Type: integer', 'Read only: true', 'Min value: 1', 'Max value: 100']),
])
def test_ros2_param_describe_shows_the_ranges(robot1, ros2_env, name, lines):
    result = ros2(ros2_env, 'param', 'describe', '/robot1/seg_node', name)
    for line in lines:
        assert line in result.stdout, result.stdout + result.stderr


def test_use_sim_time_follows_the_clock_topic(robot1, camera, ros2_env):
    node, _, probe = camera
    clock = node.create_publisher(Clock, '/clock', 10)

    def stamped_by_the_clock() -> bool:
        clock.publish(Clock(clock=Time(sec=4242)))
        probe.spin_until(lambda: False, 0.2)
        return any(msg.header.stamp.sec == 4242 for msg in probe.received['diagnostics'])

    assert probe.spin_until(stamped_by_the_clock, 60.0), 'diagnostics never carried the /clock time'
    assert 'True' in ros2(ros2_env, 'param', 'get', '/robot1/seg_node', 'use_sim_time').stdout


def test_rviz_without_rviz2_stops_the_launch_and_leaves_no_process(ros2_env, tiny_bundle, tmp_path):
    if subprocess.run(['ros2', 'pkg', 'prefix', 'rviz2'], env=ros2_env, capture_output=True,
                      timeout=60).returncode == 0:
        pytest.skip('rviz2 is installed here')
    launch = Launch(ros2_env, tmp_path / 'launch.log', 'rviz:=true', 'namespace:=orphan_check',
                    f'model:={tiny_bundle}', 'backend:=onnxruntime')
    try:
        assert launch.process.wait(60) != 0
        assert 'rviz:=true needs the ROS 2 package rviz2' in launch.log()
        assert processes_with('orphan_check') == []
    finally:
        launch.kill()


def test_ctrl_c_with_frames_in_flight_ends_cleanly(ros2_env, tiny_bundle, tmp_path):
    launch = Launch(ros2_env, tmp_path / 'launch.log', 'namespace:=ctrl_c', 'image:=/busy_cam',
                    f'model:={tiny_bundle}', 'backend:=onnxruntime')
    node = Node('busy_camera')
    publisher = node.create_publisher(Image, '/busy_cam', QoSProfile(depth=1,
                                                                     reliability=ReliabilityPolicy.RELIABLE))
    probe = Probe('busy_probe', namespace='/ctrl_c')
    try:
        launch.wait_ready()
        answered(publisher, probe)
        busy = frame(probe.header(), 1920, 1080)  # 1080p: rendering four outputs takes the node a while
        stop = threading.Event()

        def stream() -> None:
            while not stop.is_set():  # frames keep coming until the launch has ended: Ctrl-C lands mid-frame
                publisher.publish(busy)
                stop.wait(0.01)

        streamer = threading.Thread(target=stream)
        streamer.start()
        probe.spin_for(1.0)
        try:
            code = launch.ctrl_c()
        finally:
            stop.set()
            streamer.join()
    finally:
        probe.node.destroy_node()
        node.destroy_node()
        launch.kill()
    log = launch.log()
    assert code == 0, log
    assert '[ERROR]' not in log and 'Failed to publish' not in log and 'Traceback' not in log, log
    assert processes_with('__ns:=/ctrl_c') == []


def test_show_args_lists_every_documented_argument(ros2_env):
    from readme_tables import documented_launch_arguments

    result = subprocess.run(['ros2', 'launch', 'night_seg_ros', 'seg.launch.py', '--show-args'], env=ros2_env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = {line.strip().strip("'").rstrip(':').strip("'") for line in result.stdout.splitlines()
             if line.startswith("    '")}
    for name in [*documented_launch_arguments(), 'node_name', 'num_threads', 'qos_depth', 'output_resolution']:
        assert name in shown, f'{name} missing from --show-args:\n{result.stdout}'
    assert {argument.name for argument in parameter_arguments()} <= shown


def test_arguments_profile_and_a_misspelt_parameter_reach_the_node(ros2_env, tiny_bundle, tmp_path):
    """As a user runs it: their own Fast DDS profile set, a parameter file with a typo, the DLA arguments of
    docs/JETSON.md with a CPU device (no TensorRT here: backend auto runs ONNX Runtime), a node name of their own."""
    profile = tmp_path / 'my_profile.xml'  # the shipped profile, under the user's own name
    profile.write_text((PACKAGE_DIR / 'config' / 'fastdds_large_images.xml').read_text())
    variable = profile_env_var(ros2_env)
    params = yaml.safe_load((PACKAGE_DIR / 'config' / 'seg.yaml').read_text())
    params['/**']['ros__parameters'].update(model=str(tiny_bundle), overlay_alpah=0.3)
    (tmp_path / 'seg.yaml').write_text(yaml.safe_dump(params))
    env = dict(ros2_env, **{variable: str(profile)})
    launch = Launch(env, tmp_path / 'launch.log', 'namespace:=profile_check', 'node_name:=seg_front',
                    'image:=/pcam', 'dla_core:=0', 'device:=cpu', 'precision:=fp32', 'num_threads:=1',
                    f'params_file:={tmp_path / "seg.yaml"}')
    try:
        launch.wait_ready()
        log = launch.log()
        assert f'Fast DDS profile of the launched processes: {profile} (your {variable}, kept)' in log, log
        assert "parameter 'overlay_alpah' is not a parameter of seg_front and is ignored; did you mean " \
               "'overlay_alpha'?" in log, log
        nodes = [pid for pid, cmdline in process_ids_with('__ns:=/profile_check').items() if 'seg_node' in cmdline]
        assert nodes, log
        assert all(environment_of(pid).get(variable) == str(profile) for pid in nodes)
        dump = ros2(ros2_env, 'param', 'dump', '/profile_check/seg_front')
        values = yaml.safe_load(dump.stdout)['/profile_check/seg_front']['ros__parameters']
        assert {name: values[name] for name in ('dla_core', 'device', 'precision', 'num_threads', 'overlay_alpha')} \
            == {'dla_core': 0, 'device': 'cpu', 'precision': 'fp32', 'num_threads': 1, 'overlay_alpha': 0.5}
        assert launch.ctrl_c() == 0
    finally:
        launch.kill()


def test_a_bad_argument_stops_the_launch_before_anything_starts(ros2_env, tmp_path):
    launch = Launch(ros2_env, tmp_path / 'launch.log', 'namespace:=bad_argument', 'dla_core:=9')
    try:
        assert launch.process.wait(60) != 0
        assert "parameter 'dla_core' is 9; allowed: -1 .. 7" in launch.log()
        assert processes_with('__ns:=/bad_argument') == []
    finally:
        launch.kill()
