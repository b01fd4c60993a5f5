"""The model bundle: the one on-disk format that training, export, the converter and the node share.

A bundle is a directory::

    model.json            format, arch (+ config), classes, palette, input spec, ignore_index, provenance
    weights.safetensors   the network's weights (never pickle)
    model.onnx            after `night-seg export`: `image` uint8 NHWC RGB in, `labels` (uint8) + `confidence`
                          (float32) out: the ONNX contract, INPUT_NAME and OUTPUT_NAMES below
    engines/              TensorRT engines built on the target, each with a JSON sidecar

This module reads, writes and validates bundles without torch, so a vehicle running ONNX Runtime or TensorRT needs
neither torch nor transformers. Every defect found is named in one `BundleError`.
"""
from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from night_seg_ros.errors import NightSegError
from night_seg_ros.files import atomic_write_bytes

BUNDLE_FORMAT = 'night-seg-bundle/1'
MODEL_JSON = 'model.json'
WEIGHTS_FILE = 'weights.safetensors'
ONNX_FILE = 'model.onnx'
INPUT_NAME = 'image'
"""model.onnx's input: uint8 (1, H, W, 3) RGB at the bundle's input size."""
OUTPUT_NAMES = ('labels', 'confidence')
"""model.onnx's outputs: labels uint8 (1, H, W) class ids; confidence float32 (1, H, W), the max softmax probability."""
ENGINES_DIR = 'engines'
CHANNEL_ORDERS = ('RGB',)


class BundleError(NightSegError, ValueError):
    """A bundle is missing, incomplete or inconsistent; the message names every defect found."""


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: an image of `height` x `width` pixels.

    `mean` and `std` are per channel in 0-255 units, in `channel_order`; the network computes (pixel - mean) / std.
    """

    height: int
    width: int
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    channel_order: str = 'RGB'


@dataclass(frozen=True)
class Bundle:
    """A validated bundle's metadata (model.json) and the paths of its files."""

    path: Path
    arch: dict[str, Any]
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    input: InputSpec
    ignore_index: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        """Path of weights.safetensors."""
        return self.path / WEIGHTS_FILE

    @property
    def onnx_path(self) -> Path:
        """Path of model.onnx (present after export)."""
        return self.path / ONNX_FILE

    @property
    def engines_dir(self) -> Path:
        """Default folder for TensorRT engines built from this bundle."""
        return self.path / ENGINES_DIR

    @property
    def num_classes(self) -> int:
        """Number of classes the network predicts."""
        return len(self.classes)

    def require_onnx(self) -> Path:
        """Return model.onnx's path, or raise a BundleError telling how to make it."""
        if not self.onnx_path.is_file():
            raise BundleError(f'bundle {self.path} has no {ONNX_FILE}; make it with: night-seg export {self.path}')
        return self.onnx_path

    def metadata(self) -> dict[str, Any]:
        """The model.json content of this bundle."""
        return bundle_metadata(self.arch, self.classes, self.palette, self.input, self.ignore_index, self.provenance)


def bundle_metadata(arch: dict[str, Any], classes: tuple[str, ...] | list[str],
                    palette: tuple[tuple[int, int, int], ...] | list, input_spec: InputSpec, ignore_index: int,
                    provenance: dict[str, Any]) -> dict[str, Any]:
    """Build a model.json dictionary (validated by `parse_metadata` when read back)."""
    spec = asdict(input_spec)
    spec['mean'] = list(spec['mean'])
    spec['std'] = list(spec['std'])
    return {
        'format': BUNDLE_FORMAT,
        'arch': arch,
        'classes': list(classes),
        'palette': [list(color) for color in palette],
        'input': spec,
        'ignore_index': ignore_index,
        'provenance': provenance,
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_input(spec: Any, problems: list[str]) -> InputSpec | None:
    if not isinstance(spec, dict):
        problems.append(f'"input" must be an object with height, width, mean, std, channel_order; got {spec!r}')
        return None
    before = len(problems)
    for key in ('height', 'width'):
        if not _is_positive_int(spec.get(key)):
            problems.append(f'input.{key} must be a positive integer; got {spec.get(key)!r}')
    for key in ('mean', 'std'):
        values = spec.get(key)
        if not (isinstance(values, list) and len(values) == 3 and all(_is_number(v) for v in values)):
            problems.append(f'input.{key} must be a list of 3 numbers (0-255 units); got {values!r}')
        elif key == 'std' and any(v <= 0 for v in values):
            problems.append(f'input.std must be positive; got {values!r}')
    order = spec.get('channel_order', 'RGB')
    if order not in CHANNEL_ORDERS:
        problems.append(f'input.channel_order must be one of {CHANNEL_ORDERS}; got {order!r}')
    if len(problems) > before:
        return None
    return InputSpec(height=spec['height'], width=spec['width'], mean=tuple(float(v) for v in spec['mean']),
                     std=tuple(float(v) for v in spec['std']), channel_order=order)


def _check_palette(palette: Any, classes: Any, problems: list[str]) -> None:
    if not isinstance(palette, list) or not all(
            isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
            for c in palette):
        problems.append('"palette" must be a list of [R, G, B] integer triples in 0-255')
    elif isinstance(classes, list) and len(palette) != len(classes):
        problems.append(f'"palette" has {len(palette)} colours but "classes" has {len(classes)} names; '
                        'they must have the same length')


def parse_metadata(meta: Any, path: Path) -> Bundle:
    """Validate a model.json dictionary and return the Bundle it describes, or raise BundleError naming each defect."""
    if not isinstance(meta, dict):
        raise BundleError(f'{path / MODEL_JSON}: must hold a JSON object')
    problems: list[str] = []
    if meta.get('format') != BUNDLE_FORMAT:
        problems.append(f'"format" must be {BUNDLE_FORMAT!r}; got {meta.get("format")!r}')
    arch = meta.get('arch')
    if not (isinstance(arch, dict) and isinstance(arch.get('name'), str) and isinstance(arch.get('config'), dict)):
        problems.append('"arch" must be an object with "name" (e.g. "segformer") and "config" (network settings)')
    classes = meta.get('classes')
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        problems.append('"classes" must be a non-empty list of class names')
    elif len(classes) > 255:
        problems.append(f'"classes" has {len(classes)} names; at most 255 fit uint8 labels with 255 kept for ignore')
    _check_palette(meta.get('palette'), classes, problems)
    input_spec = _check_input(meta.get('input'), problems)
    ignore_index = meta.get('ignore_index')
    if not (isinstance(ignore_index, int) and 0 <= ignore_index <= 255):
        problems.append(f'"ignore_index" must be an integer in 0-255; got {ignore_index!r}')
    provenance = meta.get('provenance')
    if not isinstance(provenance, dict):
        problems.append('"provenance" must be an object (recipe, data, iterations, metrics, code_version)')
    if problems:
        raise BundleError(f'{path / MODEL_JSON} is invalid: ' + '; '.join(problems))
    return Bundle(path=path, arch=arch, classes=tuple(classes), palette=tuple(tuple(c) for c in meta['palette']),
                  input=input_spec, ignore_index=ignore_index, provenance=provenance)


def check_safetensors(path: Path) -> dict[str, Any]:
    """Check a .safetensors file is complete (header parses, every tensor's bytes are present); return its header.

    Reads only the header, so it needs neither torch nor the safetensors package.
    """
    try:
        size = path.stat().st_size
        with path.open('rb') as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise BundleError(f'{path}: truncated safetensors file ({size} bytes, no header)')
            (header_len,) = struct.unpack('<Q', prefix)
            if header_len > size - 8:
                raise BundleError(f'{path}: truncated safetensors file (header of {header_len} bytes, '
                                  f'file has {size})')
            header = json.loads(stream.read(header_len))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f'{path}: not a readable safetensors file ({error})') from error
    if not isinstance(header, dict):
        raise BundleError(f'{path}: safetensors header is not a JSON object')
    data_end = 0
    for key, entry in header.items():
        if key == '__metadata__':
            continue
        offsets = entry.get('data_offsets') if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in offsets)):
            raise BundleError(f'{path}: tensor {key!r} has no valid data_offsets in the safetensors header')
        data_end = max(data_end, offsets[1])
    if 8 + header_len + data_end > size:
        raise BundleError(f'{path}: truncated safetensors file: tensors need {8 + header_len + data_end} bytes, '
                          f'file has {size}')
    return header


def read_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle directory: model.json and a complete weights.safetensors.

    Raises BundleError naming what is wrong: a missing directory or file, invalid JSON, a defect in model.json
    (e.g. classes vs palette length), truncated weights.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BundleError(f'model bundle {path} does not exist or is not a directory')
    meta_path = path / MODEL_JSON
    if not meta_path.is_file():
        raise BundleError(f'model bundle {path} has no {MODEL_JSON}')
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f'{meta_path}: not valid JSON ({error})') from error
    bundle = parse_metadata(meta, path)
    if not bundle.weights_path.is_file():
        raise BundleError(f'model bundle {path} has no {WEIGHTS_FILE}')
    check_safetensors(bundle.weights_path)
    return bundle


def write_metadata(path: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Validate and atomically write model.json into bundle directory `path` (created if needed)."""
    path = Path(path)
    parse_metadata(meta, path)
    target = path / MODEL_JSON
    atomic_write_bytes(target, (json.dumps(meta, indent=2) + '\n').encode())
    return target
