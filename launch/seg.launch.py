"""Launch the night segmentation node, optionally with RViz.

Usage::

    ros2 launch night_seg_ros seg.launch.py image:=/camera/image_raw
    ros2 launch night_seg_ros seg.launch.py image:=/camera/image_raw transport:=compressed rviz:=true
    ros2 launch night_seg_ros seg.launch.py model:=/path/to/bundle backend:=onnxruntime params_file:=/path/to/seg.yaml
    ros2 launch night_seg_ros seg.launch.py namespace:=robot1 use_sim_time:=true   # e.g. for ros2 bag play --clock

`image` is the raw image topic; with `transport:=compressed` the node subscribes to `<image>/compressed`.
The outputs are `labels`, `color`, `overlay`, `confidence` (under `namespace`) and `/diagnostics`.

`model`, `backend` and `transport` override the parameter file's values only when given; `model` takes a bundle
directory, a Hugging Face hub id or the name of a bundled model (synthetic_demo_b0). The parameter file uses the
`/**:` key, so it applies under any namespace. `rviz:=true` opens config/seg.rviz pointed at the launch's topics; where
rviz2 is not installed the launch stops before it starts anything, saying so.

The launch sets the profile variable that this system's Fast DDS reads to `fastdds_profile` for the processes it
starts (FASTRTPS_DEFAULT_PROFILES_FILE for Fast DDS 2.x: Humble, Jazzy; FASTDDS_DEFAULT_PROFILES_FILE for 3.x: Kilted;
read from the rmw library, see night_seg_ros.dds; other RMW implementations ignore it). The default profile gives the
participant a 64 MB shared-memory segment so large images are not lost between processes. A camera driver publishing
best-effort 1080p images needs the same profile, or it drops large frames before they reach this node: start it with
that variable (FASTRTPS_... on Humble and Jazzy, FASTDDS_... on Kilted) set to
share/night_seg_ros/config/fastdds_large_images.xml under `ros2 pkg prefix night_seg_ros`.
"""
import tempfile
from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from night_seg_ros.dds import profile_env_var
from night_seg_ros.launch_support import parameter_overrides, require_package, write_rviz_view

PACKAGE = 'night_seg_ros'
ARGUMENTS = ('image', 'transport', 'model', 'backend', 'params_file', 'namespace', 'use_sim_time', 'rviz',
             'fastdds_profile')


def launch_setup(context, config_dir):
    """The actions for the given arguments: the profile variable, seg_node and, with rviz:=true, RViz."""
    arguments = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    if arguments['rviz'] == 'true':
        require_package('rviz2', 'rviz:=true')  # before anything starts, so nothing is left running
    actions = [
        SetEnvironmentVariable(profile_env_var(), arguments['fastdds_profile']),
        Node(
            package=PACKAGE,
            executable='seg_node',
            name='seg_node',
            namespace=arguments['namespace'],
            output='screen',
            parameters=[arguments['params_file'], parameter_overrides(arguments)],
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
            'use_sim_time', default_value='false', choices=['true', 'false'],
            description='Use the /clock topic as time (replaying a bag with ros2 bag play --clock)'),
        DeclareLaunchArgument(
            'rviz', default_value='false', choices=['true', 'false'],
            description='Start RViz with the camera, overlay, color and confidence images'),
        DeclareLaunchArgument(
            'fastdds_profile', default_value=PathJoinSubstitution([config_dir, 'fastdds_large_images.xml']),
            description='Fast DDS XML profile for large images; the camera driver needs the same profile'),
        OpaqueFunction(function=launch_setup, kwargs={'config_dir': config_dir}),
    ])
