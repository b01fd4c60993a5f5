"""The node's parameters: one declaration table, validated, and kept in step with config/seg.yaml and the README."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import rclpy
import yaml
from readme_tables import readme_table

from night_seg_ros.node.parameters import PARAMETERS, PARAMETERS_BY_NAME, validate

ROOT = Path(__file__).resolve().parents[2]


def test_seg_yaml_sets_every_parameter_to_its_default():
    config = yaml.safe_load((ROOT / 'config' / 'seg.yaml').read_text())
    assert list(config) == ['/**']  # applies under any namespace
    values = config['/**']['ros__parameters']
    assert values == {spec.name: spec.default for spec in PARAMETERS}


def test_seg_yaml_has_a_comment_for_every_parameter():
    lines = (ROOT / 'config' / 'seg.yaml').read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r'^\s{4}\w+:', line):
            assert lines[index - 1].strip().startswith('#'), f'no comment above {line.strip()}'


def test_readme_parameter_table_matches_the_declarations():
    rows = readme_table('## Parameters')
    assert [row[0] for row in rows] == [spec.name for spec in PARAMETERS]
    for name, type_name, default, allowed, live, _description in rows:
        spec = PARAMETERS_BY_NAME[name]
        assert type_name == spec.type_name
        assert yaml.safe_load(default) == spec.default
        assert allowed == spec.allowed()
        assert live == ('yes' if spec.live else 'no'), name


def test_readme_topic_table_lists_every_topic():
    rows = readme_table('## Topics')
    topics = {row[0]: row for row in rows}
    assert set(topics) == {'image', 'image/compressed', 'labels', 'color', 'overlay', 'confidence', 'camera_info',
                           '/diagnostics', 'label_info'}
    assert 'mono8' in topics['labels'][2] and 'rgb8' in topics['color'][2] and 'bgr8' in topics['overlay'][2]


def test_defaults_are_valid():
    assert validate({}) == []


@pytest.mark.parametrize(('name', 'value', 'message'), [
    ('backend', 'tensorflow', "'backend' is 'tensorflow'; allowed: auto, tensorrt, onnxruntime, torch"),
    ('device', 'gpu0', "'device' is 'gpu0'; allowed: auto, cpu, cuda, cuda:N"),
    ('overlay_alpha', 1.5, "'overlay_alpha' is 1.5; allowed: 0 .. 1"),
    ('qos_depth', 0, "'qos_depth' is 0; allowed: 1 .. 100"),
    ('qos_depth', 'one', "'qos_depth' must be of type integer"),
    ('input_transport', 'theora', "allowed: raw, compressed"),
    ('confidence_encoding', '16UC1', 'allowed: mono8, 32FC1'),
    ('no_such_parameter', 1, "unknown parameters ['no_such_parameter']"),
])
def test_bad_values_are_refused_naming_parameter_and_allowed_values(name, value, message):
    problems = validate({name: value})
    assert len(problems) == 1 and message in problems[0]


@pytest.fixture
def node(tiny_bundle):
    """seg_node in this process on the tiny bundle, with its own context (no spinning: parameter calls are direct)."""
    from rclpy.parameter import Parameter

    from night_seg_ros.node.seg_node import SegmentationNode

    context = rclpy.Context()
    rclpy.init(context=context)
    created = None
    try:
        created = SegmentationNode(context=context, parameter_overrides=[
            Parameter('model', value=str(tiny_bundle)), Parameter('backend', value='onnxruntime'),
            Parameter('class_names', value=['given', 'at', 'start-up'])])
        yield created
    finally:
        if created is not None:
            created.stop()
            created.destroy_node()
        rclpy.try_shutdown(context=context)


def test_node_declares_exactly_the_table_and_the_class_interface(node):
    declared = set(node._parameters) - {'use_sim_time', 'start_type_description_service'}  # rclpy's own
    assert declared == set(PARAMETERS_BY_NAME) | {'class_names', 'class_palette'}
    descriptor = node.describe_parameter('backend')
    assert 'allowed: auto, tensorrt, onnxruntime, torch' in descriptor.additional_constraints
    assert not descriptor.dynamic_typing


def test_class_names_and_palette_are_the_models(node, tiny_bundle):
    from night_seg_ros.bundle import read_bundle

    bundle = read_bundle(tiny_bundle)
    assert node.get_parameter('class_names').value == list(bundle.classes)  # the start-up value is ignored
    palette = node.get_parameter('class_palette').value
    assert [tuple(palette[index:index + 3]) for index in range(0, len(palette), 3)] == list(bundle.palette)
    assert node.describe_parameter('class_names').read_only


def test_ranges_are_in_the_descriptors(node):
    alpha = node.describe_parameter('overlay_alpha').floating_point_range[0]
    assert (alpha.from_value, alpha.to_value) == (0.0, 1.0)
    depth = node.describe_parameter('qos_depth').integer_range[0]
    assert (depth.from_value, depth.to_value) == (1, 100)


def test_live_parameters_change_the_running_node(node):
    from rclpy.parameter import Parameter

    results = node.set_parameters([Parameter('overlay_alpha', value=0.9),
                                   Parameter('confidence_threshold', value=0.25),
                                   Parameter('diagnostics_period', value=0.5)])
    assert all(result.successful for result in results)
    assert (node.pipeline.settings.overlay_alpha, node.pipeline.settings.confidence_threshold) == (0.9, 0.25)
    assert node.diagnostics_timer.timer_period_ns == 500_000_000


@pytest.mark.parametrize(('name', 'value', 'reason'), [
    ('overlay_alpha', 1.5, 'out of range'),
    ('overlay_alpha', 'opaque', 'Wrong parameter type'),
    ('backend', 'torch', 'read-only'),
    ('class_names', ['x'], 'read-only'),
])
def test_bad_or_read_only_values_are_refused_with_a_reason(node, name, value, reason):
    from rclpy.parameter import Parameter

    before = node.get_parameter(name).value
    [result] = node.set_parameters([Parameter(name, value=value)])
    assert not result.successful and reason in result.reason
    assert node.get_parameter(name).value == before


def test_integer_for_a_double_at_start_up_is_refused_naming_the_type(tiny_bundle):
    from rclpy.parameter import Parameter

    from night_seg_ros.node.seg_node import SegmentationNode, StartupError

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(StartupError, match="'confidence_threshold' must be of type double; got 1"):
            SegmentationNode(context=context, parameter_overrides=[
                Parameter('model', value=str(tiny_bundle)), Parameter('confidence_threshold', value=1)])
    finally:
        rclpy.try_shutdown(context=context)


def test_unknown_names_get_a_warning_naming_the_closest_parameter():
    from night_seg_ros.node.parameters import unknown_parameters

    known = list(PARAMETERS_BY_NAME) + ['use_sim_time']
    assert unknown_parameters(['overlay_alpah', 'overlay_alpha', 'use_sim_time'], known) == [
        "parameter 'overlay_alpah' is not a parameter of seg_node and is ignored; did you mean 'overlay_alpha'?"]
    [warning] = unknown_parameters(['frame_id'], known, 'front_seg')
    assert "'frame_id' is not a parameter of front_seg" in warning and 'another node' in warning


def test_a_misspelt_parameter_is_named_in_the_log_at_start_up(tiny_bundle, capfd):
    from rclpy.parameter import Parameter

    from night_seg_ros.node.seg_node import SegmentationNode

    context = rclpy.Context()
    rclpy.init(context=context)
    node = None
    try:
        node = SegmentationNode(context=context, parameter_overrides=[
            Parameter('model', value=str(tiny_bundle)), Parameter('backend', value='onnxruntime'),
            Parameter('overlay_alpah', value=0.3), Parameter('class_names', value=['ignored'])])
        assert node.get_parameter('overlay_alpha').value == 0.5  # the typo changes nothing ...
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    log = capfd.readouterr().err
    assert "parameter 'overlay_alpah' is not a parameter of seg_node and is ignored; did you mean " \
           "'overlay_alpha'?" in log  # ... and says so
    assert log.count('is not a parameter of') == 1  # class_names, given and ignored by design, is no typo


def _started(tiny_bundle, *parameters):
    """seg_node in this process on the tiny bundle with `parameters`, and its context (stop both with `_ended`)."""
    from rclpy.parameter import Parameter

    from night_seg_ros.node.seg_node import SegmentationNode

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        return SegmentationNode(context=context, parameter_overrides=[
            Parameter('model', value=str(tiny_bundle)), Parameter('backend', value='onnxruntime'),
            *parameters]), context
    except BaseException:
        rclpy.try_shutdown(context=context)
        raise


def _ended(node, context) -> None:
    node.stop()
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def test_input_bit_depth_scales_a_12_bit_camera(tiny_bundle):
    import numpy as np
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    node, context = _started(tiny_bundle, Parameter('input_bit_depth', value=12))
    try:
        frame = Image(height=2, width=3, encoding='mono16', is_bigendian=0, step=6,
                      data=np.array([0, 2048, 4095, 4095, 16, 1], '<u2').tobytes())
        pixels = node._decode(frame).pixels
        assert pixels[..., 0].tolist() == [[0, 128, 255], [255, 1, 0]]
    finally:
        _ended(node, context)


def test_best_available_is_refused_on_humble_before_the_model_loads(tiny_bundle, monkeypatch):
    """Humble's ReliabilityPolicy has no BEST_AVAILABLE (a stand-in of it here): the node says so at once, before
    the model loads (which may mean building a TensorRT engine for minutes)."""
    import enum

    from rclpy.parameter import Parameter

    from night_seg_ros.node import seg_node

    class HumbleReliabilityPolicy(enum.IntEnum):  # stand-in: Humble's values, no BEST_AVAILABLE
        SYSTEM_DEFAULT = 0
        RELIABLE = 1
        BEST_EFFORT = 2
        UNKNOWN = 3

    def load_pipeline(*_args, **_kwargs):
        raise AssertionError('the model was loaded before the refusal')

    monkeypatch.setattr(seg_node, 'ReliabilityPolicy', HumbleReliabilityPolicy)
    monkeypatch.setattr(seg_node, 'load_pipeline', load_pipeline)
    with pytest.raises(seg_node.StartupError, match='input_reliability is best_available, which this ROS 2 '
                                                     r'distribution \(Humble\) does not offer'):
        _started(tiny_bundle, Parameter('input_reliability', value='best_available'))


class _Diagnostics:
    """Stands in for the node's /diagnostics publisher: keeps what it is given."""

    def __init__(self) -> None:
        self.published = []

    def publish(self, message) -> None:
        self.published.append(message.status[0])


def test_diagnostics_warn_when_the_camera_stops_error_on_repeated_failures_and_recover(tiny_bundle):
    import time

    from diagnostic_msgs.msg import DiagnosticStatus

    node, context = _started(tiny_bundle)
    try:
        node.diagnostics_publisher = diagnostics = _Diagnostics()
        node._subscribe()  # as when an output gets a subscriber: the node takes frames
        node._last_frame = time.monotonic() - 10.0  # and none has come for 10 s
        node._publish_diagnostics()
        assert diagnostics.published[-1].level == DiagnosticStatus.WARN
        assert 'no frame on /image for 10.' in diagnostics.published[-1].message
        for _ in range(3):
            node._on_image(object())  # a frame arrives ...
            node.stats.count('errors')  # ... and fails, period after period
            node._publish_diagnostics()
        assert diagnostics.published[-1].level == DiagnosticStatus.ERROR
        node._on_image(object())
        node._publish_diagnostics()  # a period with frames and no failure
        assert (diagnostics.published[-1].level, diagnostics.published[-1].message) == (DiagnosticStatus.OK, 'ok')
    finally:
        _ended(node, context)


def test_latency_is_never_negative_before_the_sim_clock_runs(tiny_bundle):
    import time

    import numpy as np
    from rclpy.parameter import Parameter
    from std_msgs.msg import Header

    from night_seg_ros.pipeline import OutputRequest

    node, context = _started(tiny_bundle, Parameter('use_sim_time', value=True))  # no /clock: now is 0
    try:
        assert node.get_clock().now().nanoseconds == 0
        header = Header(frame_id='camera')
        header.stamp.sec = 1_700_000_000  # a camera stamping with the wall clock
        request = OutputRequest(labels=True, color=False, overlay=False, confidence=False)
        inference = node.pipeline.infer(np.zeros((64, 128, 3), np.uint8), request)
        node._publish((header, time.monotonic(), request, inference))
        summary = node.stats.summary()
        assert summary['latency_p50_ms'] >= 0.0 and summary['latency_from_arrival'] == 1
    finally:
        _ended(node, context)
