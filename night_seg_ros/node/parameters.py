"""The node's parameters as data: name, type, default, allowed values and description, declared once from here.

The node declares exactly these, config/seg.yaml sets every one, the README table lists every one (a test keeps the
three in step), and `validate` refuses bad values at start-up naming the parameter and what is allowed. The `live`
ones can be changed while the node runs (`ros2 param set`); the node declares every other one read-only.
Importable without rclpy.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from night_seg_ros.hub import MODEL_CACHE_DIR
from night_seg_ros.vocabulary import (
    BACKEND_NAMES,
    CONFIDENCE_ENCODINGS,
    DEVICE_PATTERN,
    DEVICES,
    OUTPUT_RESOLUTIONS,
    PRECISIONS,
    RENDER_PLACES,
)


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter. `choices` for enumerations; `minimum`/`maximum` (inclusive) for numbers; `live` when the
    running node applies a new value (else the parameter is read-only)."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    live: bool = False

    @property
    def type_name(self) -> str:
        """ROS parameter type as written in docs: string, integer, double, bool."""
        return {str: 'string', int: 'integer', float: 'double', bool: 'bool'}[type(self.default)]

    def allowed(self) -> str:
        """Human-readable allowed values."""
        if self.choices:
            return ', '.join(self.choices)
        if isinstance(self.default, bool):
            return 'true, false'
        if self.minimum is not None or self.maximum is not None:
            low = '' if self.minimum is None else f'{self.minimum:g}'
            high = '' if self.maximum is None else f'{self.maximum:g}'
            return f'{low} .. {high}'.strip()
        if self.name == 'device':
            return DEVICES
        return 'any'


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('model', '', 'Model bundle directory, the name of a bundled model (synthetic_demo_b0), or a Hugging '
              'Face SegFormer hub id (converted once into model_cache_dir; needs internet, torch and transformers). '
              'Empty: the bundled demo model, which knows synthetic streets only.'),
    ParamSpec('model_cache_dir', MODEL_CACHE_DIR, 'Where bundles converted from hub ids are kept.'),
    ParamSpec('backend', 'auto', 'Inference backend; auto tries tensorrt, then onnxruntime, then torch.',
              choices=BACKEND_NAMES),
    ParamSpec('device', 'auto', 'Inference device; auto uses CUDA when the backend can, else the CPU.'),
    ParamSpec('precision', 'fp16', 'Arithmetic on the GPU (torch autocast, TensorRT); CPUs always run fp32. int8 is '
              'TensorRT only.', choices=PRECISIONS),
    ParamSpec('num_threads', 0, 'CPU threads for inference (onnxruntime intra-op, torch); 0 = library default.',
              minimum=0, maximum=256),
    ParamSpec('engine_cache_dir', '', "TensorRT engine folder; empty: the bundle's engines/ folder, or the per-user "
              '~/.cache/night_seg_ros/engines where that is read-only (an install under /opt). An engine is used only '
              'when its sidecar matches the model, TensorRT version, GPU, precision and input size.'),
    ParamSpec('engine_build', True, 'backend tensorrt: build the engine at start-up when the cache has none that '
              'matches (takes minutes; fp32/fp16 only; one process builds an engine at a time, others wait and load '
              'it; Ctrl-C stops it). false: fail, naming the build-engine command. auto never builds.'),
    ParamSpec('dla_core', -1, 'backend tensorrt: run on this DLA core (Jetson Orin AGX/NX: 0 or 1; fp16 or int8, '
              'GPU fallback for what the DLA cannot run); -1: the GPU.', minimum=-1, maximum=7),
    ParamSpec('input_transport', 'raw', 'raw subscribes to image (sensor_msgs/Image); compressed to image/compressed '
              '(sensor_msgs/CompressedImage, jpeg or png).', choices=('raw', 'compressed')),
    ParamSpec('input_bit_depth', 16, 'Significant bits of 16-bit input (mono16, 16UC1, rgb16, bgr16, rgba16, bgra16, '
              '16-bit PNG): samples are shifted right by input_bit_depth - 8 and saturate at 255. A 10- or 12-bit '
              'sensor in a 16-bit container needs 10 or 12, else its image comes out almost black.',
              minimum=8, maximum=16),
    ParamSpec('input_reliability', 'auto', 'Input QoS reliability. auto matches the camera: reliable, switched to '
              'best effort when a best-effort publisher appears (any distro). best_available (Jazzy and later) is '
              'resolved once, against the publishers present when the node starts.',
              choices=('auto', 'best_available', 'reliable', 'best_effort')),
    ParamSpec('output_reliability', 'reliable', 'QoS reliability of the image outputs (reliable also serves '
              'best-effort subscribers).', choices=('reliable', 'best_effort')),
    ParamSpec('qos_depth', 1, 'History depth of the input subscription and of the outputs (keep last).',
              minimum=1, maximum=100),
    ParamSpec('confidence_threshold', 0.0, 'Pixels whose confidence (max softmax probability) is below this are '
              'labelled 255 (unknown) and not coloured in the overlay; 0 keeps every pixel.', minimum=0.0, maximum=1.0,
              live=True),
    ParamSpec('overlay_alpha', 0.5, 'Weight of the palette in the overlay (0 = camera only, 1 = palette only).',
              minimum=0.0, maximum=1.0, live=True),
    ParamSpec('confidence_encoding', 'mono8', 'Encoding of the confidence image: mono8 (0-255) or 32FC1 (0-1).',
              choices=CONFIDENCE_ENCODINGS),
    ParamSpec('output_resolution', 'camera', "Size of labels, color, overlay and confidence: camera (the input "
              "image's) or network (the model's input size; the overlay is drawn on the resized camera image, and "
              'camera_info is scaled to match). network moves far fewer bytes a frame.', choices=OUTPUT_RESOLUTIONS),
    ParamSpec('render_on', 'auto', "Where the outputs are drawn: auto = with the model on the GPU when the backend "
              "runs on CUDA (TensorRT with a render engine for the camera size, ONNX Runtime CUDA), else the CPU; cpu; "
              "backend = the backend's device even on a CPU (slower there; for checking).", choices=RENDER_PLACES),
    ParamSpec('diagnostics_period', 1.0, 'Seconds between diagnostics messages (also the window of the rates).',
              minimum=0.1, maximum=60.0, live=True),
)

PARAMETERS_BY_NAME = {spec.name: spec for spec in PARAMETERS}
LIVE_PARAMETERS = tuple(spec.name for spec in PARAMETERS if spec.live)
"""What `ros2 param set` changes on the running node."""


def validate(values: dict[str, Any]) -> list[str]:
    """Check parameter values against PARAMETERS; return one message per bad value (empty when all are good)."""
    problems = []
    for spec in PARAMETERS:
        value = values.get(spec.name, spec.default)
        if not isinstance(value, type(spec.default)) or isinstance(value, bool) != isinstance(spec.default, bool):
            problems.append(f'parameter {spec.name!r} must be of type {spec.type_name}; got {value!r}')
        elif spec.choices is not None and value not in spec.choices:
            problems.append(f'parameter {spec.name!r} is {value!r}; allowed: {spec.allowed()}')
        elif (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            problems.append(f'parameter {spec.name!r} is {value!r}; allowed: {spec.allowed()}')
        elif spec.name == 'device' and not DEVICE_PATTERN.match(value):
            problems.append(f'parameter {spec.name!r} is {value!r}; allowed: {spec.allowed()}')
    unknown = sorted(set(values) - set(PARAMETERS_BY_NAME))
    if unknown:
        problems.append(f'unknown parameters {unknown}; known: {", ".join(PARAMETERS_BY_NAME)}')
    return problems


def unknown_parameters(given: Iterable[str], known: Iterable[str], node: str = 'seg_node') -> list[str]:
    """One warning per name in `given` (the parameters a file or the command line set for this node) that is not in
    `known`, naming the closest known parameter. A warning, not a refusal: `/**:` files are shared between nodes."""
    known = sorted(set(known))
    warnings = []
    for name in sorted(set(given) - set(known)):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = (f"did you mean '{close[0]}'?" if close
                else 'no parameter of this node is close to it (a parameter of another node in a shared /** file?)')
        warnings.append(f"parameter '{name}' is not a parameter of {node} and is ignored; {hint}")
    return warnings


def help_text() -> str:
    """What `seg_node --help` prints: how to run it, then every parameter with its type, default, allowed values and
    description (the README's table, for a terminal)."""
    import textwrap

    lines = ['usage: seg_node [--ros-args [-p NAME:=VALUE ...] [-r image:=CAMERA_TOPIC] [--params-file FILE]]', '',
             'Semantic segmentation node: camera images in (image, or image/compressed); labels, color, overlay,',
             'confidence, camera_info and /diagnostics out. Ctrl-C stops it. Parameters (live: settable while it runs',
             'with ros2 param set):', '']
    for spec in PARAMETERS:
        default = f'"{spec.default}"' if isinstance(spec.default, str) else str(spec.default).lower()
        live = ', live' if spec.live else ''
        lines.append(f'  {spec.name} ({spec.type_name}, default {default}, allowed: {spec.allowed()}{live})')
        lines += textwrap.wrap(spec.description, 100, initial_indent='      ', subsequent_indent='      ')
    return '\n'.join(lines)
