"""Launch the night segmentation node, optionally with RViz.

Usage::

    ros2 launch night_seg_ros seg.launch.py image:=/camera/image_raw
    ros2 launch night_seg_ros seg.launch.py image:=/camera/image_raw transport:=compressed rviz:=true
    ros2 launch night_seg_ros seg.launch.py model:=/path/to/bundle backend:=onnxruntime params_file:=/path/to/seg.yaml
    ros2 launch night_seg_ros seg.launch.py namespace:=robot1 use_sim_time:=true   # e.g. for ros2 bag play --clock
    ros2 launch night_seg_ros seg.launch.py backend:=tensorrt dla_core:=0 output_resolution:=network
    ros2 launch night_seg_ros seg.launch.py --show-args                                # every argument, described

`image` is the raw image topic; with `transport:=compressed` the node subscribes to `<image>/compressed`.
The outputs are `labels`, `color`, `overlay`, `confidence` (under `namespace`) and `/diagnostics`.

Every node parameter is also a launch argument (`transport` sets input_transport): each overrides the parameter
file's value only when given, typed and checked as the node checks it, so a bad value stops the launch before anything
starts; `model` takes a bundle directory, a Hugging Face hub id or the name of a bundled model (synthetic_demo_b0).
The parameter file uses the `/**:` key, so it applies under any namespace. `node_name` names the node (two nodes in one
namespace need two names; give each camera its own namespace so their outputs stay apart). `rviz:=true` opens
config/seg.rviz pointed at the launch's topics; where rviz2 is not installed the launch stops before it starts
anything, saying so.

Fast DDS profile of the processes the launch starts, logged at start: `fastdds_profile:=FILE` when given; else a
profile you set yourself (FASTRTPS_DEFAULT_PROFILES_FILE or FASTDDS_DEFAULT_PROFILES_FILE in the environment) is kept,
as seg_node itself keeps it; else the shipped config/fastdds_large_images.xml, in the variable this system's Fast DDS
reads (FASTRTPS_... for Fast DDS 2.x: Humble, Jazzy; FASTDDS_... for 3.x: Kilted; read from the rmw library, see
night_seg_ros.dds; other RMW implementations get none). The shipped profile gives the participant a 64 MB
shared-memory segment so large images are not lost between processes. A camera driver publishing best-effort 1080p
images needs the same profile, or it drops large frames before they reach this node: start it with that variable set
to share/night_seg_ros/config/fastdds_large_images.xml under `ros2 pkg prefix night_seg_ros`.
"""
import tempfile
from pathlib import Path

from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from night_seg_ros.launch_support import (
    fastdds_profile,
    parameter_arguments,
    parameter_overrides,
    require_package,
    write_rviz_view,
)

PACKAGE = 'night_seg_ros'
ARGUMENTS = ('image', 'transport', 'model', 'backend', 'params_file', 'namespace', 'node_name', 'use_sim_time', 'rviz',
             'fastdds_profile', *(argument.name for argument in parameter_arguments()))


def launch_setup(context, config_dir):
    """The actions for the given arguments: the Fast DDS profile (kept or set, and logged), seg_node and, with
    rviz:=true, RViz. Bad arguments stop the launch here, before anything starts."""
    arguments = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    overrides = parameter_overrides(arguments)
    if arguments['rviz'] == 'true':
        require_package('rviz2', 'rviz:=true')  # before anything starts, so nothing is left running
    profile = fastdds_profile(arguments['fastdds_profile'],
                              str(Path(config_dir.perform(context)) / 'fastdds_large_images.xml'))
    actions = [
        LogInfo(msg=profile.message),
        *(SetEnvironmentVariable(name, value) for name, value in profile.variables.items()),
        Node(
            package=PACKAGE,
            executable='seg_node',
            name=arguments['node_name'],
            namespace=arguments['namespace'],
            output='screen',
            parameters=[arguments['params_file'], overrides],
            remappings=[
                ('image', arguments['image']),
                ('image/compressed', arguments['image'] + '/compressed'),
            ],
        ),
    ]
    if arguments['rviz'] == 'true':
        view = write_rviz_view(Path(config_dir.perform(context)) / 'seg.rviz', arguments['image'],
                               arguments['namespace'], Path(tempfile.mkdtemp(prefix='night_seg_rviz_')))
        actions.append(Node(package='rviz2', executable='rviz2', name='rviz2', namespace=arguments['namespace'],
                            output='screen', arguments=['-d', str(view)],
                            parameters=[{'use_sim_time': arguments['use_sim_time'] == 'true'}]))
    return actions


def generate_launch_description():
    """Declare the arguments; the actions follow from their values (`launch_setup`)."""
    config_dir = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config'])
    return LaunchDescription([
        DeclareLaunchArgument(
            'image', default_value='/camera/image_raw',
            description='Raw image topic; with transport:=compressed the node subscribes to <image>/compressed'),
        DeclareLaunchArgument(
            'transport', default_value='', choices=['', 'raw', 'compressed'],
            description='Input transport: sensor_msgs/Image on <image> or sensor_msgs/CompressedImage on '
                        "<image>/compressed; empty keeps the parameter file's input_transport"),
        DeclareLaunchArgument(
            'model', default_value='',
            description='Model bundle directory, Hugging Face hub id or bundled model name (synthetic_demo_b0); '
                        "empty keeps the parameter file's model (its default: the bundled demo model)"),
        DeclareLaunchArgument(
            'backend', default_value='', choices=['', 'auto', 'tensorrt', 'onnxruntime', 'torch'],
            description="Inference backend; empty keeps the parameter file's backend (its default: auto)"),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([config_dir, 'seg.yaml']),
            description='Node parameter file (keyed /**: so it applies under any namespace)'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node and its outputs (the image topic is resolved in it when relative)'),
        DeclareLaunchArgument(
            'node_name', default_value='seg_node',
            description='Name of the node (two nodes in one namespace need two names; give each camera its own '
                        'namespace so that their outputs stay apart)'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', choices=['true', 'false'],
            description='Use the /clock topic as time (replaying a bag with ros2 bag play --clock)'),
        DeclareLaunchArgument(
            'rviz', default_value='false', choices=['true', 'false'],
            description='Start RViz with the camera, overlay, color and confidence images'),
        DeclareLaunchArgument(
            'fastdds_profile', default_value='',
            description='Fast DDS XML profile of the processes the launch starts; empty: the profile you set '
                        '(FASTRTPS_/FASTDDS_DEFAULT_PROFILES_FILE), else the shipped config/fastdds_large_images.xml '
                        '(64 MB shared memory for large images; the camera driver needs the same)'),
        *(DeclareLaunchArgument(argument.name, default_value='', description=argument.description,
                                **({'choices': argument.choices} if argument.choices else {}))
          for argument in parameter_arguments()),
        OpaqueFunction(function=launch_setup, kwargs={'config_dir': config_dir}),
    ])
