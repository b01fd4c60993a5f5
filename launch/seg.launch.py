"""Launch the night segmentation node, optionally with RViz.

Usage::

    ros2 launch night_seg_ros seg.launch.py image:=/camera/image_raw
    ros2 launch night_seg_ros seg.launch.py image:=/camera/image_raw transport:=compressed rviz:=true
    ros2 launch night_seg_ros seg.launch.py model:=/path/to/bundle backend:=onnxruntime params_file:=/path/to/seg.yaml

`image` is the raw image topic; with `transport:=compressed` the node subscribes to `<image>/compressed`.
The outputs are `labels`, `color`, `overlay`, `confidence` and `diagnostics`.

`model`, `backend` and `transport` override the parameter file's values; an empty `model` selects the default model.

The launch sets the Fast DDS profile variable of this distribution (FASTRTPS_DEFAULT_PROFILES_FILE up to Jazzy,
FASTDDS_DEFAULT_PROFILES_FILE from Kilted) to `fastdds_profile` for the processes it starts (other RMW
implementations ignore it). The default profile gives the participant
a 64 MB shared-memory segment so large images are not lost between processes. A camera driver publishing best-effort
1080p images needs the same profile, or it drops large frames before they reach this node: start it with
FASTDDS_DEFAULT_PROFILES_FILE set to share/night_seg_ros/config/fastdds_large_images.xml under
`ros2 pkg prefix night_seg_ros`.
"""
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from night_seg_ros.dds import profile_env_var

PACKAGE = 'night_seg_ros'


def generate_launch_description():
    """Declare the arguments, point Fast DDS at the large-image profile and start the node (and RViz)."""
    config_dir = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config'])
    image = LaunchConfiguration('image')
    fastdds_profile = LaunchConfiguration('fastdds_profile')
    return LaunchDescription([
        DeclareLaunchArgument(
            'image', default_value='/camera/image_raw',
            description='Raw image topic; with transport:=compressed the node subscribes to <image>/compressed'),
        DeclareLaunchArgument(
            'transport', default_value='raw', choices=['raw', 'compressed'],
            description='Input transport: sensor_msgs/Image on <image> or sensor_msgs/CompressedImage on '
                        '<image>/compressed'),
        DeclareLaunchArgument(
            'model', default_value='',
            description='Model bundle name or path; empty selects the default model'),
        DeclareLaunchArgument(
            'backend', default_value='auto', choices=['auto', 'tensorrt', 'onnxruntime', 'torch'],
            description='Inference backend; auto lets the node choose among those installed'),
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([config_dir, 'seg.yaml']),
            description='Node parameter file'),
        DeclareLaunchArgument(
            'rviz', default_value='false', choices=['true', 'false'],
            description='Start RViz with the camera, overlay, color and label images'),
        DeclareLaunchArgument(
            'fastdds_profile', default_value=PathJoinSubstitution([config_dir, 'fastdds_large_images.xml']),
            description='Fast DDS XML profile for large images; the camera driver needs the same profile'),
        SetEnvironmentVariable(profile_env_var(), fastdds_profile),
        Node(
            package=PACKAGE,
            executable='seg_node',
            name='seg_node',
            output='screen',
            parameters=[
                LaunchConfiguration('params_file'),
                {
                    'model': ParameterValue(LaunchConfiguration('model'), value_type=str),
                    'backend': ParameterValue(LaunchConfiguration('backend'), value_type=str),
                    'input_transport': ParameterValue(LaunchConfiguration('transport'), value_type=str),
                },
            ],
            remappings=[
                ('image', image),
                ('image/compressed', [image, '/compressed']),
            ],
        ),
        Node(
            package='rviz2',
            executable='rviz2',
            name='rviz2',
            output='screen',
            arguments=['-d', PathJoinSubstitution([config_dir, 'seg.rviz'])],
            condition=IfCondition(LaunchConfiguration('rviz')),
        ),
    ])
