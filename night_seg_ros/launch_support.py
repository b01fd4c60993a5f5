"""What launch/seg.launch.py decides, as plain functions importable without launch: its arguments, which node
parameters they set, the Fast DDS profile of the processes it starts, the RViz view that follows the launch's topics,
and the check that RViz is installed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from night_seg_ros.dds import FASTDDS_RMWS, PROFILE_ENV_VARS, profile_env_var
from night_seg_ros.errors import NightSegError
from night_seg_ros.node.parameters import PARAMETERS, PARAMETERS_BY_NAME, ParamSpec, validate

OVERRIDABLE = {'model': 'model', 'backend': 'backend', 'transport': 'input_transport',
               **{spec.name: spec.name for spec in PARAMETERS if spec.name not in ('model', 'backend',
                                                                                   'input_transport')}}
"""Launch argument -> node parameter it overrides when given (empty keeps the parameter file's value): every node
parameter, `transport` for input_transport."""
VIEW_OUTPUTS = {'Overlay': 'overlay', 'Color': 'color', 'Confidence': 'confidence'}
"""RViz image display -> the node output it shows (the labels image holds ids 0-18: Color is its view)."""


class LaunchArgumentError(NightSegError, ValueError):
    """A launch argument asks for something this system cannot do; says what is missing."""


@dataclass(frozen=True)
class ParameterArgument:
    """A launch argument that sets node parameter `spec` when given; empty (its default) keeps the parameter file's
    value. `choices` for enumerations and booleans (with '' first); numbers are checked by `parameter_overrides`."""

    name: str
    spec: ParamSpec

    @property
    def choices(self) -> list[str] | None:
        """The values `ros2 launch` accepts, '' (keep the file's) first; None where any text is checked later."""
        if self.spec.choices:
            return ['', *self.spec.choices]
        if isinstance(self.spec.default, bool):
            return ['', 'true', 'false']
        return None

    @property
    def description(self) -> str:
        """The parameter's description, its allowed values and what empty means."""
        return (f'Node parameter {self.spec.name} ({self.spec.type_name}; allowed: {self.spec.allowed()}): '
                f'{self.spec.description} Empty keeps the parameter file\'s value (its default: '
                f'{_shown(self.spec.default)}).')


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def parameter_arguments(exclude: tuple[str, ...] = ('model', 'backend', 'transport')) -> list[ParameterArgument]:
    """The launch arguments that set node parameters, in the parameter table's order (`exclude`: those the launch
    file declares itself, with their own descriptions)."""
    return [ParameterArgument(argument, PARAMETERS_BY_NAME[parameter])
            for argument, parameter in OVERRIDABLE.items() if argument not in exclude]



def _typed(argument: str, text: str, spec: ParamSpec) -> str | bool | int | float:
    """The value of launch argument `argument`:=`text` in the type of its parameter; LaunchArgumentError otherwise."""
    if isinstance(spec.default, bool):
        return text == 'true'
    if isinstance(spec.default, str):
        return text
    try:
        return int(text) if isinstance(spec.default, int) else float(text)
    except ValueError:
        kind = 'an integer' if isinstance(spec.default, int) else 'a number'
        raise LaunchArgumentError(f'{argument}:={text} is not {kind}; allowed: {spec.allowed()}') from None


def parameter_overrides(arguments: dict[str, str]) -> dict[str, str | bool | int | float]:
    """Node parameters set by the launch: the overridable arguments the user gave (non-empty), typed as the node
    declares them and checked as the node checks them (LaunchArgumentError naming the argument otherwise), and
    use_sim_time."""
    overrides: dict[str, str | bool | int | float] = {}
    for argument, parameter in OVERRIDABLE.items():
        text = arguments.get(argument, '')
        if text:
            overrides[parameter] = _typed(argument, text, PARAMETERS_BY_NAME[parameter])
    problems = validate(overrides)
    if problems:
        raise LaunchArgumentError('invalid launch arguments: ' + '; '.join(problems))
    overrides['use_sim_time'] = arguments.get('use_sim_time', 'false') == 'true'
    return overrides


@dataclass(frozen=True)
class ProfileChoice:
    """The Fast DDS profile of the processes the launch starts: `variables` to set for them (empty: their environment
    as it is) and the `message` the launch logs about it."""

    variables: dict[str, str]
    message: str


def fastdds_profile(argument: str, shipped: str, environ: Mapping[str, str] = os.environ) -> ProfileChoice:
    """Which Fast DDS profile the launched processes use, as the node itself decides it (night_seg_ros.dds).

    `argument` (fastdds_profile:=) given: that file, in the variable this system's Fast DDS reads. Otherwise a profile
    the user set (FASTRTPS_/FASTDDS_DEFAULT_PROFILES_FILE) is kept: custom discovery, network interfaces or Docker
    shared-memory set-ups stay as they are. Otherwise, on Fast DDS, the `shipped` large-image profile.
    """
    variable = profile_env_var(environ)
    user = {name: environ[name] for name in PROFILE_ENV_VARS if environ.get(name)}
    if argument:
        replaced = ''.join(f'; replacing {name}={value} for them' for name, value in user.items())
        return ProfileChoice({variable: argument},
                             f'Fast DDS profile of the launched processes: {argument} (fastdds_profile:=, in {variable}'
                             f'{replaced})')
    if user:
        message = 'Fast DDS profile of the launched processes: ' + ', '.join(
            f'{value} (your {name}, kept)' for name, value in user.items())
        if variable not in user:
            message += (f'; note: this system\'s Fast DDS reads {variable}, not {" or ".join(user)}: set {variable} '
                        'to use that profile')
        return ProfileChoice({}, message)
    rmw = environ.get('RMW_IMPLEMENTATION', '')
    if rmw not in FASTDDS_RMWS:
        return ProfileChoice({}, f'RMW_IMPLEMENTATION is {rmw}: no Fast DDS profile set (large images between '
                                 'processes need its own settings: docs/TROUBLESHOOTING.md)')
    return ProfileChoice({variable: shipped}, f'Fast DDS profile of the launched processes: {shipped} (shipped: a 64 '
                                              f'MB shared-memory segment for large images, in {variable}; '
                                              'fastdds_profile:= or your own variable replaces it)')


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
