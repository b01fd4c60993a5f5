"""Checks of launch/seg.launch.py and config/seg.rviz that run without a ROS 2 launch installation."""
import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from night_seg_ros.dds import profile_env_var

PACKAGE_DIR = Path(__file__).resolve().parents[2]
LAUNCH_FILE = PACKAGE_DIR / 'launch' / 'seg.launch.py'
RVIZ_FILE = PACKAGE_DIR / 'config' / 'seg.rviz'

EXPECTED_ARGUMENTS = {'image', 'transport', 'model', 'backend', 'params_file', 'rviz', 'fastdds_profile'}
EXPECTED_CHOICES = {
    'transport': ['raw', 'compressed'],
    'backend': ['auto', 'tensorrt', 'onnxruntime', 'torch'],
    'rviz': ['true', 'false'],
}
EXPECTED_IMAGE_DISPLAYS = {
    'Camera': '/camera/image_raw',
    'Overlay': '/overlay',
    'Color': '/color',
    'Labels': '/labels',
}


def _calls(tree, name):
    """Return the calls in ``tree`` of a function or class called ``name`` (plain or attribute access)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            func_name = func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)
            if func_name == name:
                found.append(node)
    return found


def _keywords(call):
    """Map a call's keyword names to their value nodes."""
    return {keyword.arg: keyword.value for keyword in call.keywords}


@pytest.fixture(scope='module')
def launch_tree():
    """Parse the launch file."""
    return ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))


@pytest.fixture(scope='module')
def declared_arguments(launch_tree):
    """Map each declared launch argument's name to its DeclareLaunchArgument call."""
    arguments = {}
    for call in _calls(launch_tree, 'DeclareLaunchArgument'):
        assert call.args and isinstance(call.args[0], ast.Constant), 'argument name must be a literal string'
        arguments[call.args[0].value] = call
    return arguments


def test_launch_file_defines_generate_launch_description(launch_tree):
    functions = [node.name for node in launch_tree.body if isinstance(node, ast.FunctionDef)]
    assert 'generate_launch_description' in functions


def test_expected_arguments_are_declared(declared_arguments):
    assert set(declared_arguments) == EXPECTED_ARGUMENTS


def test_every_argument_has_default_and_description(declared_arguments):
    for name, call in declared_arguments.items():
        keywords = _keywords(call)
        assert 'default_value' in keywords, f'{name} has no default_value'
        assert 'description' in keywords, f'{name} has no description'
        description = ast.literal_eval(keywords['description'])
        assert isinstance(description, str) and description.strip(), f'{name} has an empty description'


@pytest.mark.parametrize('name', sorted(EXPECTED_CHOICES))
def test_enumerated_arguments_have_choices(declared_arguments, name):
    keywords = _keywords(declared_arguments[name])
    assert 'choices' in keywords, f'{name} has no choices'
    choices = ast.literal_eval(keywords['choices'])
    assert list(choices) == EXPECTED_CHOICES[name]
    assert ast.literal_eval(keywords['default_value']) in choices


def test_literal_defaults(declared_arguments):
    defaults = {
        name: ast.literal_eval(_keywords(call)['default_value'])
        for name, call in declared_arguments.items()
        if isinstance(_keywords(call)['default_value'], ast.Constant)
    }
    assert defaults == {
        'image': '/camera/image_raw', 'transport': 'raw', 'model': '', 'backend': 'auto', 'rviz': 'false',
    }


def test_node_runs_seg_node(launch_tree):
    nodes = [_keywords(call) for call in _calls(launch_tree, 'Node')]
    seg_nodes = [
        keywords for keywords in nodes
        if isinstance(keywords.get('executable'), ast.Constant) and keywords['executable'].value == 'seg_node'
    ]
    assert len(seg_nodes) == 1
    keywords = seg_nodes[0]
    assert ast.literal_eval(keywords['name']) == 'seg_node'
    assert 'parameters' in keywords and 'remappings' in keywords


def test_rviz_node_is_conditional(launch_tree):
    rviz_nodes = [
        keywords for keywords in map(_keywords, _calls(launch_tree, 'Node'))
        if isinstance(keywords.get('executable'), ast.Constant) and keywords['executable'].value == 'rviz2'
    ]
    assert len(rviz_nodes) == 1
    assert 'condition' in rviz_nodes[0]


def test_fastdds_profile_environment_is_set(launch_tree):
    calls = _calls(launch_tree, 'SetEnvironmentVariable')
    assert [ast.unparse(call.args[0]) for call in calls] == ['profile_env_var()']


@pytest.mark.parametrize(('distro', 'variable'), [
    ('humble', 'FASTRTPS_DEFAULT_PROFILES_FILE'), ('jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE'),
    ('kilted', 'FASTDDS_DEFAULT_PROFILES_FILE'), ('', 'FASTDDS_DEFAULT_PROFILES_FILE'),
])
def test_profile_variable_follows_the_distribution(distro, variable):
    assert profile_env_var({'ROS_DISTRO': distro}) == variable


def test_generate_launch_description():
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (no ROS 2 launch on PyPI); '
                                             'runs on a real ROS 2 system')
    from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
    from launch.launch_description import LaunchDescription
    from launch_ros.actions import Node

    spec = importlib.util.spec_from_file_location('seg_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()

    assert isinstance(description, LaunchDescription)
    arguments = {argument.name: argument for argument in description.get_launch_arguments()}
    assert set(arguments) == EXPECTED_ARGUMENTS
    for name, choices in EXPECTED_CHOICES.items():
        assert list(arguments[name].choices) == choices
    entities = description.entities
    assert sum(isinstance(entity, SetEnvironmentVariable) for entity in entities) == 2
    assert sum(isinstance(entity, DeclareLaunchArgument) for entity in entities) == len(EXPECTED_ARGUMENTS)
    assert sum(isinstance(entity, Node) for entity in entities) == 2


@pytest.fixture(scope='module')
def rviz_config():
    """Load the RViz config."""
    return yaml.safe_load(RVIZ_FILE.read_text())


def test_rviz_config_layout(rviz_config):
    assert {'Panels', 'Visualization Manager', 'Window Geometry'} <= set(rviz_config)
    manager = rviz_config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame']
    assert manager['Tools']
    assert all(panel['Class'].startswith('rviz_common/') for panel in rviz_config['Panels'])


def test_rviz_image_displays(rviz_config):
    displays = rviz_config['Visualization Manager']['Displays']
    images = {display['Name']: display for display in displays if display['Class'] == 'rviz_default_plugins/Image'}
    assert {name: display['Topic']['Value'] for name, display in images.items()} == EXPECTED_IMAGE_DISPLAYS
    for name, display in images.items():
        assert display['Enabled'] is True, name
        topic = display['Topic']
        assert topic['Depth'] == 1, name
        assert topic['Reliability Policy'] == 'Reliable', name
        assert topic['Durability Policy'] == 'Volatile', name
        assert topic['History Policy'] == 'Keep Last', name
