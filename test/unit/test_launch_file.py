"""Checks of launch/seg.launch.py, its helpers (night_seg_ros.launch_support) and config/seg.rviz; the ones that
evaluate the launch description need launch_ros (test/dds/test_ros2_launch.py runs the real `ros2 launch`)."""
import ast
import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from readme_tables import documented_launch_arguments, readme_table

from night_seg_ros.launch_support import (
    LaunchArgumentError,
    fastdds_profile,
    namespaced,
    parameter_arguments,
    parameter_overrides,
    rviz_view,
)
from night_seg_ros.node.parameters import PARAMETERS

PACKAGE_DIR = Path(__file__).resolve().parents[2]
LAUNCH_FILE = PACKAGE_DIR / 'launch' / 'seg.launch.py'
RVIZ_FILE = PACKAGE_DIR / 'config' / 'seg.rviz'

LAUNCH_OWN_ARGUMENTS = ['image', 'transport', 'model', 'backend', 'params_file', 'namespace', 'node_name',
                        'use_sim_time', 'rviz', 'fastdds_profile']
"""The arguments the launch file declares with descriptions of its own; every other one sets a node parameter."""
PARAMETER_ARGUMENTS = [spec.name for spec in PARAMETERS if spec.name not in ('model', 'backend', 'input_transport')]
EXPECTED_ARGUMENTS = set(LAUNCH_OWN_ARGUMENTS) | set(PARAMETER_ARGUMENTS)
EXPECTED_CHOICES = {
    'transport': ['', 'raw', 'compressed'],
    'backend': ['', 'auto', 'tensorrt', 'onnxruntime', 'torch'],
    'use_sim_time': ['true', 'false'],
    'rviz': ['true', 'false'],
    'precision': ['', 'fp32', 'fp16', 'int8'],
    'output_resolution': ['', 'camera', 'network'],
    'input_reliability': ['', 'auto', 'best_available', 'reliable', 'best_effort'],
    'output_reliability': ['', 'reliable', 'best_effort'],
    'engine_build': ['', 'true', 'false'],
}

EXPECTED_IMAGE_DISPLAYS = {
    'Camera': '/camera/image_raw',
    'Overlay': '/overlay',
    'Color': '/color',
    'Confidence': '/confidence',
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
    """Map each launch argument the launch file declares by a literal name to its DeclareLaunchArgument call."""
    arguments = {}
    for call in _calls(launch_tree, 'DeclareLaunchArgument'):
        if call.args and isinstance(call.args[0], ast.Constant):
            arguments[call.args[0].value] = call
    return arguments


def test_launch_file_defines_generate_launch_description(launch_tree):
    functions = [node.name for node in launch_tree.body if isinstance(node, ast.FunctionDef)]
    assert 'generate_launch_description' in functions


def test_expected_arguments_are_declared(declared_arguments):
    assert list(declared_arguments) == LAUNCH_OWN_ARGUMENTS
    assert [argument.name for argument in parameter_arguments()] == PARAMETER_ARGUMENTS


def test_every_argument_a_document_names_is_declared():
    named = documented_launch_arguments()
    assert {'dla_core', 'device', 'image', 'model'} <= set(named)  # the scan finds what the guides use
    undeclared = {name: path for name, path in named.items() if name not in EXPECTED_ARGUMENTS}
    assert not undeclared, f'documents name launch arguments seg.launch.py does not declare: {undeclared}'


def test_parameter_arguments_are_described_with_choices_for_enumerations():
    for argument in parameter_arguments():
        assert argument.spec.description in argument.description and "Empty keeps the parameter file's" in \
            argument.description
        if argument.spec.choices or isinstance(argument.spec.default, bool):
            assert argument.choices[0] == '' and len(argument.choices) > 1, argument.name


def test_every_argument_has_default_and_description(declared_arguments):
    for name, call in declared_arguments.items():
        keywords = _keywords(call)
        assert 'default_value' in keywords, f'{name} has no default_value'
        assert 'description' in keywords, f'{name} has no description'
        description = ast.literal_eval(keywords['description'])
        assert isinstance(description, str) and description.strip(), f'{name} has an empty description'


@pytest.mark.parametrize('name', sorted(EXPECTED_CHOICES))
def test_enumerated_arguments_have_choices(declared_arguments, name):
    if name not in declared_arguments:
        [argument] = [argument for argument in parameter_arguments() if argument.name == name]
        assert argument.choices == EXPECTED_CHOICES[name]
        return
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
        'image': '/camera/image_raw', 'transport': '', 'model': '', 'backend': '', 'namespace': '',
        'node_name': 'seg_node', 'use_sim_time': 'false', 'rviz': 'false', 'fastdds_profile': '',
    }


def test_node_runs_seg_node(launch_tree):
    nodes = [_keywords(call) for call in _calls(launch_tree, 'Node')]
    seg_nodes = [
        keywords for keywords in nodes
        if isinstance(keywords.get('executable'), ast.Constant) and keywords['executable'].value == 'seg_node'
    ]
    assert len(seg_nodes) == 1
    keywords = seg_nodes[0]
    assert ast.unparse(keywords['name']) == "arguments['node_name']"
    assert {'namespace', 'parameters', 'remappings'} <= set(keywords)


def test_readme_lists_every_launch_argument_with_its_default(declared_arguments):
    rows = readme_table('Launch arguments (')
    assert [row[0] for row in rows[:-1]] == list(declared_arguments)
    for name, default, _what in rows[:-1]:
        value = _keywords(declared_arguments[name])['default_value']
        if isinstance(value, ast.Constant):
            assert default == (value.value or 'empty'), name
    assert rows[-1][0].startswith('every other node parameter') and rows[-1][1] == 'empty'


def test_launch_overrides_only_the_arguments_given():
    assert parameter_overrides({'model': '', 'backend': '', 'transport': '', 'use_sim_time': 'false'}) == {
        'use_sim_time': False}
    assert parameter_overrides({'model': 'synthetic_demo_b0', 'backend': 'torch', 'transport': 'compressed',
                                'use_sim_time': 'true'}) == {
        'model': 'synthetic_demo_b0', 'backend': 'torch', 'input_transport': 'compressed', 'use_sim_time': True}


def test_parameter_arguments_reach_the_node_typed():
    overrides = parameter_overrides({'dla_core': '0', 'device': 'cpu', 'precision': 'fp32', 'num_threads': '2',
                                     'overlay_alpha': '1', 'engine_build': 'false', 'qos_depth': '3',
                                     'output_resolution': 'network', 'input_reliability': 'best_effort'})
    assert overrides == {'device': 'cpu', 'precision': 'fp32', 'num_threads': 2, 'engine_build': False,
                         'dla_core': 0, 'input_reliability': 'best_effort', 'qos_depth': 3, 'overlay_alpha': 1.0,
                         'output_resolution': 'network', 'use_sim_time': False}
    assert all(type(value) is type(spec.default) for spec in PARAMETERS for name, value in overrides.items()
               if name == spec.name)


@pytest.mark.parametrize(('given', 'message'), [
    ({'dla_core': '9'}, "parameter 'dla_core' is 9; allowed: -1 .. 7"),
    ({'num_threads': 'four'}, 'num_threads:=four is not an integer; allowed: 0 .. 256'),
    ({'device': 'gpu'}, "parameter 'device' is 'gpu'; allowed: auto, cpu, cuda, cuda:N"),
    ({'overlay_alpha': 'half'}, 'overlay_alpha:=half is not a number'),
])
def test_bad_parameter_arguments_stop_the_launch_naming_them(given, message):
    with pytest.raises(LaunchArgumentError, match=re.escape(message)):
        parameter_overrides(given)


SHIPPED = '/opt/ros/jazzy/share/night_seg_ros/config/fastdds_large_images.xml'


def test_the_launch_keeps_a_profile_the_user_set():
    for variable in ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE'):
        choice = fastdds_profile('', SHIPPED, {variable: '/home/me/discovery.xml', 'ROS_DISTRO': 'jazzy'})
        assert choice.variables == {}
        assert f'/home/me/discovery.xml (your {variable}, kept)' in choice.message


def test_the_launch_says_when_the_users_variable_is_not_the_one_fast_dds_reads(monkeypatch):
    monkeypatch.setattr('night_seg_ros.launch_support.profile_env_var',
                        lambda environ: 'FASTDDS_DEFAULT_PROFILES_FILE')
    choice = fastdds_profile('', SHIPPED, {'FASTRTPS_DEFAULT_PROFILES_FILE': '/home/me/discovery.xml'})
    assert "this system's Fast DDS reads FASTDDS_DEFAULT_PROFILES_FILE" in choice.message


def test_the_launch_sets_the_shipped_profile_where_none_is_set(monkeypatch):
    monkeypatch.setattr('night_seg_ros.launch_support.profile_env_var',
                        lambda environ: 'FASTRTPS_DEFAULT_PROFILES_FILE')
    choice = fastdds_profile('', SHIPPED, {})
    assert choice.variables == {'FASTRTPS_DEFAULT_PROFILES_FILE': SHIPPED} and SHIPPED in choice.message
    given = fastdds_profile('/etc/mine.xml', SHIPPED, {'FASTRTPS_DEFAULT_PROFILES_FILE': '/home/me/x.xml'})
    assert given.variables == {'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}
    assert 'replacing FASTRTPS_DEFAULT_PROFILES_FILE=/home/me/x.xml' in given.message
    other = fastdds_profile('', SHIPPED, {'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'})
    assert other.variables == {} and 'rmw_cyclonedds_cpp' in other.message


@pytest.mark.parametrize(('topic', 'namespace', 'expected'), [
    ('overlay', '', '/overlay'), ('overlay', '/', '/overlay'), ('overlay', 'robot1', '/robot1/overlay'),
    ('overlay', '/robot1/', '/robot1/overlay'), ('/cam', 'robot1', '/cam'), ('cam/image', 'a/b', '/a/b/cam/image'),
])
def test_namespaced(topic, namespace, expected):
    assert namespaced(topic, namespace) == expected


def test_rviz_view_follows_the_image_argument_and_the_namespace():
    view = yaml.safe_load(rviz_view(RVIZ_FILE.read_text(), '/cam', 'robot1'))
    displays = {display['Name']: display['Topic']['Value'] for display in view['Visualization Manager']['Displays']}
    assert displays == {'Camera': '/cam', 'Overlay': '/robot1/overlay', 'Color': '/robot1/color',
                        'Confidence': '/robot1/confidence'}
    relative = yaml.safe_load(rviz_view(RVIZ_FILE.read_text(), 'front/image_raw', 'car'))
    assert relative['Visualization Manager']['Displays'][0]['Topic']['Value'] == '/car/front/image_raw'


@pytest.fixture(scope='module')
def launch_module():
    """The launch file as a module (needs launch_ros)."""
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (not on PyPI: a ROS 2 install, or the '
                                             'upstream sources that scripts/setup.sh installs, provide it)')
    spec = importlib.util.spec_from_file_location('seg_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launch_actions(module, tmp_path, **given):
    """The actions `launch_setup` returns for the default arguments updated with `given`."""
    from launch.substitutions import TextSubstitution

    from launch import LaunchContext

    context = LaunchContext()
    for argument in module.generate_launch_description().get_launch_arguments():
        if isinstance(argument.default_value[0], TextSubstitution):
            context.launch_configurations[argument.name] = argument.default_value[0].text
    context.launch_configurations.update({'params_file': str(tmp_path / 'seg.yaml'),
                                          'fastdds_profile': 'profile.xml', **given})
    return module.launch_setup(context, TextSubstitution(text=str(PACKAGE_DIR / 'config')))


def test_generate_launch_description(launch_module):
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.launch_description import LaunchDescription

    description = launch_module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    arguments = {argument.name: argument for argument in description.get_launch_arguments()}
    assert set(arguments) == EXPECTED_ARGUMENTS
    for name, choices in EXPECTED_CHOICES.items():
        assert list(arguments[name].choices) == choices
    for argument in parameter_arguments():
        assert arguments[argument.name].description.startswith(argument.description)
        assert arguments[argument.name].choices == argument.choices
    entities = description.entities
    assert sum(isinstance(entity, DeclareLaunchArgument) for entity in entities) == len(EXPECTED_ARGUMENTS)
    assert sum(isinstance(entity, OpaqueFunction) for entity in entities) == 1


def test_launch_starts_seg_node_after_setting_the_profile_variable(launch_module, tmp_path, monkeypatch):
    from launch.actions import LogInfo, SetEnvironmentVariable
    from launch_ros.actions import Node

    from night_seg_ros.dds import PROFILE_ENV_VARS, profile_env_var

    for variable in PROFILE_ENV_VARS:
        monkeypatch.delenv(variable, raising=False)
    actions = launch_actions(launch_module, tmp_path, fastdds_profile='')
    assert isinstance(actions[0], LogInfo) and isinstance(actions[1], SetEnvironmentVariable)
    assert actions[1].name[0].text == profile_env_var()
    assert actions[1].value[0].text == str(PACKAGE_DIR / 'config' / 'fastdds_large_images.xml')
    assert [action.node_executable for action in actions if isinstance(action, Node)] == ['seg_node']


def test_launch_keeps_the_users_profile_variable(launch_module, tmp_path, monkeypatch):
    from launch.actions import SetEnvironmentVariable

    monkeypatch.setenv('FASTRTPS_DEFAULT_PROFILES_FILE', '/home/me/discovery.xml')
    actions = launch_actions(launch_module, tmp_path, fastdds_profile='')
    assert not any(isinstance(action, SetEnvironmentVariable) for action in actions)


def test_launch_names_the_node_and_sets_the_parameter_arguments(launch_module, tmp_path, monkeypatch):
    monkeypatch.setattr(launch_module, 'Node', lambda **keywords: keywords)  # what the launch asks launch_ros for
    actions = launch_actions(launch_module, tmp_path, node_name='seg_front', dla_core='0', device='cpu',
                             precision='fp32')
    [node] = [action for action in actions if isinstance(action, dict)]
    assert node['name'] == 'seg_front' and node['executable'] == 'seg_node'
    params_file, overrides = node['parameters']
    assert params_file == str(tmp_path / 'seg.yaml')
    assert overrides == {'dla_core': 0, 'device': 'cpu', 'precision': 'fp32', 'use_sim_time': False}


def test_rviz_without_rviz2_stops_the_launch_before_anything_starts(launch_module, tmp_path, monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))  # an ament prefix without rviz2
    with pytest.raises(LaunchArgumentError, match='rviz:=true needs the ROS 2 package rviz2'):
        launch_actions(launch_module, tmp_path, rviz='true')


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
