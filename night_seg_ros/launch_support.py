"""What launch/seg.launch.py decides, as plain functions importable without launch: which parameters the launch
arguments override, the RViz view that follows the launch's topics, and the check that RViz is installed.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from night_seg_ros.errors import NightSegError

OVERRIDABLE = {'model': 'model', 'backend': 'backend', 'transport': 'input_transport'}
"""Launch argument -> node parameter it overrides when given (empty keeps the parameter file's value)."""
VIEW_OUTPUTS = {'Overlay': 'overlay', 'Color': 'color', 'Confidence': 'confidence'}
"""RViz image display -> the node output it shows (the labels image holds ids 0-18: Color is its view)."""


class LaunchArgumentError(NightSegError, ValueError):
    """A launch argument asks for something this system cannot do; says what is missing."""


def parameter_overrides(arguments: dict[str, str]) -> dict[str, str | bool]:
    """Node parameters set by the launch: the overridable arguments the user gave (non-empty) and use_sim_time."""
    overrides: dict[str, str | bool] = {parameter: arguments[argument] for argument, parameter in OVERRIDABLE.items()
                                        if arguments.get(argument, '')}
    overrides['use_sim_time'] = arguments.get('use_sim_time', 'false') == 'true'
    return overrides


def namespaced(topic: str, namespace: str) -> str:
    """The absolute name of `topic` for a node in `namespace` ('' or '/' is the root); absolute topics stay."""
    if topic.startswith('/'):
        return topic
    prefix = '/' + namespace.strip('/') if namespace.strip('/') else ''
    return f'{prefix}/{topic}'


def rviz_view(template: str, image: str, namespace: str) -> str:
    """RViz config text: `template` (config/seg.rviz) with the Camera display on `image` and the output displays on
    the node's outputs under `namespace`."""
    config = yaml.safe_load(template)
    topics = {'Camera': namespaced(image, namespace)}
    topics.update({display: namespaced(output, namespace) for display, output in VIEW_OUTPUTS.items()})
    for display in config['Visualization Manager']['Displays']:
        if display['Name'] in topics:
            display['Topic']['Value'] = topics[display['Name']]
    return yaml.safe_dump(config, sort_keys=False)


def write_rviz_view(template: Path, image: str, namespace: str, folder: Path) -> Path:
    """Write `rviz_view` of `template` into `folder` (one file per namespace) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'seg{namespace.strip("/").replace("/", "_") or "_root"}.rviz'
    path.write_text(rviz_view(template.read_text(), image, namespace))
    return path


def require_package(package: str, argument: str) -> None:
    """Raise LaunchArgumentError naming `package` and `argument` when the ament index has no `package`."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(package)
    except (PackageNotFoundError, ValueError, OSError) as error:
        raise LaunchArgumentError(f'{argument} needs the ROS 2 package {package}, which is not installed here '
                                  f'({error}); install it (apt install ros-$ROS_DISTRO-{package.replace("_", "-")}) '
                                  f'or launch without {argument}') from error
