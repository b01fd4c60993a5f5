"""seg_node end to end over real DDS: the node runs as its own process, started by its executable."""
from __future__ import annotations

import subprocess
import time

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from night_seg_ros.bench.probe import Probe
from night_seg_ros.codec import numpy_to_image
from night_seg_ros.node_process import NodeProcess, console_script

CAMERA_HEIGHT, CAMERA_WIDTH = 1080, 1920
EXPECTED_ENCODINGS = {'labels': 'mono8', 'color': 'rgb8', 'overlay': 'bgr8', 'confidence': 'mono8'}


pytestmark = pytest.mark.usefixtures('ros_context')


@pytest.fixture(scope='module')
def raw_node(tiny_bundle, tmp_path_factory):
    """seg_node on raw Image input with the onnxruntime backend."""
    node = NodeProcess(tmp_path_factory.mktemp('raw'), f'model:={tiny_bundle}', 'backend:=onnxruntime',
                       'diagnostics_period:=0.5')
    node.wait_ready()
    yield node
    node.kill()


@pytest.fixture
def probe(request):
    """A test node in the root namespace, destroyed after the test."""
    created = Probe(f'probe_{request.node.name.replace("[", "_").replace("]", "_").replace("-", "_")}',
                    input_reliability=ReliabilityPolicy.BEST_EFFORT)
    yield created
    created.node.destroy_node()


def camera_frame(seed: int) -> np.ndarray:
    """A 1080p bgr8 frame: smooth colour regions."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (9, 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (CAMERA_WIDTH, CAMERA_HEIGHT), interpolation=cv2.INTER_LINEAR)


def send_until_answered(probe: Probe, frame: np.ndarray, timeout: float = 30.0) -> dict[str, Image]:
    """Publish `frame` (a new stamp each second) until every output for one stamp arrived; return them."""
    answered: dict[str, Image] = {}

    def attempt() -> bool:
        header = probe.header()
        probe.publish_bgr(frame, header)
        got = probe.spin_until(lambda: len(probe.outputs_for(header)) == 4, 1.0)
        answered.update(probe.outputs_for(header) if got else {})
        return got

    assert probe.spin_until(attempt, timeout), 'no complete answer from seg_node'
    return answered


def test_1080p_frame_from_another_process_gets_every_output_with_its_header(raw_node, probe):
    probe.wait_for_node()
    outputs = send_until_answered(probe, camera_frame(0))
    stamps = {(msg.header.stamp.sec, msg.header.stamp.nanosec) for msg in outputs.values()}
    assert len(stamps) == 1
    for topic, msg in outputs.items():
        assert msg.header.frame_id == 'camera_optical'
        assert (msg.height, msg.width) == (CAMERA_HEIGHT, CAMERA_WIDTH), topic
        assert msg.encoding == EXPECTED_ENCODINGS[topic]
        channels = 3 if msg.encoding in ('rgb8', 'bgr8') else 1
        assert msg.step == CAMERA_WIDTH * channels
        assert len(msg.data) == msg.step * msg.height
    labels = np.frombuffer(outputs['labels'].data, np.uint8)
    assert labels.max() < 19


def test_burst_of_malformed_messages_is_survived_and_counted(raw_node, probe):
    probe.wait_for_node()
    malformed = []
    for field, value in (('encoding', 'rgb16'), ('encoding', 'not-an-encoding'), ('step', 2), ('height', 0),
                         ('width', 100000), ('data', b'\x00' * 10)):
        msg = numpy_to_image(np.zeros((4, 6, 3), np.uint8), 'bgr8', probe.header())
        setattr(msg, field, value)
        malformed.append(msg)
    for _ in range(5):
        for msg in malformed:
            probe.image_pub.publish(msg)
            rclpy.spin_once(probe.node, timeout_sec=0.01)
    outputs = send_until_answered(probe, camera_frame(1))
    assert len(outputs) == 4
    assert probe.spin_until(lambda: int(probe.last_diagnostics().get('bad_input', 0)) > 0, 10.0)
    assert raw_node.process.poll() is None
    assert 'skipping input frame' in raw_node.log()


def test_diagnostics_report_rates_drops_and_latency(raw_node, probe):
    probe.wait_for_node()
    send_until_answered(probe, camera_frame(2))
    assert probe.spin_until(lambda: 'latency_p95_ms' in probe.last_diagnostics(), 10.0)
    values = probe.last_diagnostics()
    for key in ('input_rate_hz', 'processed_rate_hz', 'dropped', 'bad_input', 'errors', 'latency_p50_ms',
                'latency_p95_ms', 'backend'):
        assert key in values
    assert int(values['processed']) >= 1
    assert values['backend'].startswith('onnxruntime')
    [status] = probe.received['diagnostics'][-1].status  # on the absolute /diagnostics, named after the node
    assert status.name == '/seg_node: segmentation' and status.hardware_id.startswith('onnxruntime')


def test_label_info_gives_a_late_subscriber_the_class_names(raw_node, tiny_bundle):
    vision_msgs = pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not installed (not on PyPI); '
                                                                'the class names are the read-only parameters')
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile

    from night_seg_ros.bundle import read_bundle

    node = Node('label_info_listener')
    received = []
    node.create_subscription(vision_msgs.LabelInfo, 'label_info', received.append,
                             QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    try:
        deadline = time.monotonic() + 30.0
        while not received and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        assert received, 'no LabelInfo on label_info'
        names = [entry.class_name for entry in sorted(received[-1].class_map, key=lambda entry: entry.class_id)]
        assert names == list(read_bundle(tiny_bundle).classes)
    finally:
        node.destroy_node()


def test_compressed_input(tiny_bundle, tmp_path):
    node = NodeProcess(tmp_path, f'model:={tiny_bundle}', 'backend:=onnxruntime', 'input_transport:=compressed',
                       namespace='/compressed_cam')
    probe = Probe('compressed_probe', namespace='/compressed_cam')
    try:
        node.wait_ready()
        probe.wait_for_node()
        ok, jpeg = cv2.imencode('.jpg', camera_frame(3)[:480, :640])
        assert ok

        def attempt() -> bool:
            header = probe.header()
            probe.compressed_pub.publish(CompressedImage(header=header, format='jpeg', data=jpeg.tobytes()))
            return probe.spin_until(lambda: len(probe.outputs_for(header)) == 4, 1.0)

        assert probe.spin_until(attempt, 30.0)
        labels = next(msg for msg in probe.received['labels'])
        assert (labels.height, labels.width) == (480, 640)
    finally:
        probe.node.destroy_node()
        assert node.interrupt() == 0


def test_frames_are_taken_only_while_an_output_has_a_subscriber(tiny_bundle, tmp_path):
    node = NodeProcess(tmp_path, f'model:={tiny_bundle}', 'backend:=onnxruntime', 'diagnostics_period:=0.3',
                       namespace='/quiet')
    probe = Probe('quiet_probe', namespace='/quiet', outputs=())
    try:
        node.wait_ready()
        assert probe.spin_until(lambda: probe.last_diagnostics().get('taking_frames') == 'False', 10.0)
        assert probe.image_pub.get_subscription_count() == 0
        status = probe.received['diagnostics'][-1].status[0]
        assert status.message.startswith('idle') and status.level == DiagnosticStatus.OK

        labels = []
        subscription = probe.node.create_subscription(Image, 'labels', labels.append, 10)
        probe.wait_for_node()

        def attempt() -> bool:
            probe.publish_bgr(camera_frame(4), probe.header())
            return probe.spin_until(lambda: bool(labels), 1.0)

        assert probe.spin_until(attempt, 20.0)
        assert probe.spin_until(lambda: probe.last_diagnostics().get('taking_frames') == 'True', 5.0)
        probe.node.destroy_subscription(subscription)
        assert probe.spin_until(lambda: probe.image_pub.get_subscription_count() == 0, 10.0)
    finally:
        probe.node.destroy_node()
        assert node.interrupt() == 0


@pytest.mark.parametrize('resolution', ['camera', 'network'])
def test_camera_info_is_scaled_to_the_outputs_with_the_frames_header(tiny_bundle, tmp_path, resolution):
    from sensor_msgs.msg import CameraInfo

    namespace, camera = f'/seg_{resolution}', f'/camera_{resolution}'
    node = NodeProcess(tmp_path, f'model:={tiny_bundle}', 'backend:=onnxruntime', f'output_resolution:={resolution}',
                       namespace=namespace, remaps=[f'image:={camera}/image_raw'])
    camera_probe = Probe(f'camera_{resolution}', namespace=camera, outputs=())
    probe = Probe(f'info_probe_{resolution}', namespace=namespace)
    infos = []
    probe.node.create_subscription(CameraInfo, 'camera_info', infos.append, 10)
    info_pub = camera_probe.node.create_publisher(CameraInfo, 'camera_info', 10)
    camera_probe.image_pub = camera_probe.node.create_publisher(Image, 'image_raw', 10)
    try:
        node.wait_ready()
        camera_probe.wait_for_node()
        height, width = 480, 640
        info = CameraInfo(height=height, width=width, distortion_model='plumb_bob', d=[0.1, 0.0, 0.0, 0.0, 0.0],
                          k=[500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0],
                          p=[500.0, 0.0, 320.0, 0.0, 0.0, 510.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        frame = cv2.resize(camera_frame(5), (width, height))
        header = probe.header()

        def attempt() -> bool:
            info.header = header
            info_pub.publish(info)
            camera_probe.spin_for(0.2)
            camera_probe.publish_bgr(frame, header)
            return probe.spin_until(lambda: any(msg.header == header for msg in infos), 1.0)

        assert probe.spin_until(attempt, 30.0)
        scaled = next(msg for msg in infos if msg.header == header)
        out = probe.outputs_for(header)['labels']
        assert (scaled.height, scaled.width) == (out.height, out.width)
        expected = (height, width) if resolution == 'camera' else (64, 128)
        assert (out.height, out.width) == expected
        sx, sy = expected[1] / width, expected[0] / height
        np.testing.assert_allclose(scaled.k, [500.0 * sx, 0, 320.0 * sx, 0, 510.0 * sy, 240.0 * sy, 0, 0, 1])
        assert list(scaled.d) == list(info.d)
    finally:
        probe.node.destroy_node()
        camera_probe.node.destroy_node()
        assert node.interrupt() == 0


@pytest.mark.parametrize(('params', 'message'), [
    (['model:=/nonexistent/bundle'], 'does not exist'),
    (['model:=TINY', 'backend:=tensorflow'],
     "parameter 'backend' is 'tensorflow'; allowed: auto, tensorrt, onnxruntime, torch"),
    (['model:=TINY', 'overlay_alpha:=2.0'], "parameter 'overlay_alpha' is 2.0; allowed: 0 .. 1"),
    (['model:=TINY', 'backend:=tensorrt'], 'tensorrt backend is not available'),
])
def test_bad_start_up_is_a_one_line_error_and_non_zero_exit(tiny_bundle, params, message):
    params = [param.replace('TINY', str(tiny_bundle)) for param in params]
    args = [console_script('seg_node'), '--ros-args'] + [item for param in params for item in ('-p', param)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if 'cannot start' in line]
    assert len(errors) == 1 and message in errors[0], result.stdout + result.stderr
    assert 'Traceback' not in result.stderr


def test_without_a_model_the_bundled_demo_model_segments_a_synthetic_street(tmp_path):
    synth = pytest.importorskip('night_seg_training.synthetic', reason='the synthetic generator draws the test frame')
    pair = synth.render_pair(0, 'val', 0, 384, 768)  # the validation split: a street the demo model never saw
    node = NodeProcess(tmp_path, 'backend:=onnxruntime', namespace='/demo_model')
    probe = Probe('demo_probe', namespace='/demo_model', outputs=('labels',))
    try:
        node.wait_ready()
        assert 'using the bundled demo model' in node.log() and 'synthetic streets only' in node.log()
        assert 'models/synthetic_demo_b0' in node.log()
        probe.wait_for_node()
        bgr = np.ascontiguousarray(pair.night_image[:, :, ::-1])

        def attempt() -> bool:
            header = probe.header()
            probe.publish_bgr(bgr, header)
            return probe.spin_until(lambda: 'labels' in probe.outputs_for(header), 5.0)

        assert probe.spin_until(attempt, 60.0)
        msg = probe.received['labels'][-1]
        labels = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width)
        assert (labels == pair.night_label).mean() > 0.5  # a trained model, not random weights
    finally:
        probe.node.destroy_node()
        assert node.interrupt() == 0


def test_ctrl_c_exits_cleanly(tiny_bundle, tmp_path):
    node = NodeProcess(tmp_path, f'model:={tiny_bundle}', 'backend:=onnxruntime', namespace='/ctrl_c')
    node.wait_ready()
    assert node.interrupt() == 0
    assert 'Traceback' not in node.log()
    assert 'KeyboardInterrupt' not in node.log()
