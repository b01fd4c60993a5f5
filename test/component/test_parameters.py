"""The node's parameters: one declaration table, validated, and kept in step with config/seg.yaml and the README."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import rclpy
import yaml

from night_seg_ros.node.parameters import PARAMETERS, PARAMETERS_BY_NAME, validate

ROOT = Path(__file__).resolve().parents[2]


def readme_table(heading: str) -> list[list[str]]:
    """Rows (cells without backticks) of the first markdown table after `heading` in README.md."""
    text = (ROOT / 'README.md').read_text()
    section = text[text.index(heading):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith('|'):
            rows.append([cell.strip().strip('`') for cell in line.strip().strip('|').split('|')])
        elif rows:
            break
    return rows[2:]  # without the header and the separator


def test_seg_yaml_sets_every_parameter_to_its_default():
    config = yaml.safe_load((ROOT / 'config' / 'seg.yaml').read_text())
    values = config['seg_node']['ros__parameters']
    assert values == {spec.name: spec.default for spec in PARAMETERS}


def test_seg_yaml_has_a_comment_for_every_parameter():
    lines = (ROOT / 'config' / 'seg.yaml').read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r'^\s{4}\w+:', line):
            assert lines[index - 1].strip().startswith('#'), f'no comment above {line.strip()}'


def test_readme_parameter_table_matches_the_declarations():
    rows = readme_table('## Parameters')
    assert [row[0] for row in rows] == [spec.name for spec in PARAMETERS]
    for name, type_name, default, allowed, _description in rows:
        spec = PARAMETERS_BY_NAME[name]
        assert type_name == spec.type_name
        assert yaml.safe_load(default) == spec.default
        assert allowed == spec.allowed()


def test_readme_topic_table_lists_every_topic():
    rows = readme_table('## Topics')
    topics = {row[0]: row for row in rows}
    assert set(topics) == {'image', 'image/compressed', 'labels', 'color', 'overlay', 'confidence', 'diagnostics'}
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


def test_node_declares_exactly_the_table(tiny_bundle):
    from rclpy.parameter import Parameter

    from night_seg_ros.node.seg_node import SegmentationNode

    context = rclpy.Context()
    rclpy.init(context=context)
    node = None
    try:
        node = SegmentationNode(context=context, parameter_overrides=[
            Parameter('model', value=str(tiny_bundle)), Parameter('backend', value='onnxruntime'),
            Parameter('confidence_threshold', value=1)])
        declared = set(node._parameters) - {'use_sim_time', 'start_type_description_service'}  # rclpy's own
        assert declared == set(PARAMETERS_BY_NAME)
        assert node.params['confidence_threshold'] == 1.0  # an integer given for a double is accepted
        descriptor = node.describe_parameter('backend')
        assert 'allowed: auto, tensorrt, onnxruntime, torch' in descriptor.additional_constraints
    finally:
        if node is not None:
            node.stop()
            node.destroy_node()
        rclpy.try_shutdown(context=context)
