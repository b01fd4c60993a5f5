"""The rendering as an ONNX graph around the bundle's model, so a GPU backend renders where it infers.

`compose_render_graph` wraps model.onnx (uint8 (1, h, w, 3) RGB `image` -> `labels`, `confidence` at h x w) into one
graph with static shapes that takes the camera's bytes and gives every output the CPU path renders:

  inputs   camera      uint8 (1, H, W, 3) in the camera's channel order ('rgb' or 'bgr')
           threshold   float32 []: pixels whose confidence is below it are labelled IGNORE_INDEX (live value)
           alpha       float32 []: the palette's weight in the overlay (live value)
  outputs  labels            uint8 (1, Ho, Wo) class ids, IGNORE_INDEX below the threshold
           color             uint8 (1, Ho, Wo, 3) RGB palette image (ids without a colour black)
           overlay           uint8 (1, Ho, Wo, 3) BGR camera blended with the palette; camera kept where IGNORE_INDEX
           confidence        float32 (1, Ho, Wo) max softmax probability, 0-1
           confidence_mono8  uint8 (1, Ho, Wo) rint(confidence * 255) at the model's size, then resized

(Ho, Wo) is the camera's size or the model's input size ("network resolution", where the overlay is drawn on the
camera image resized to the model). The steps are the CPU path's, with OpenCV's arithmetic: the camera is resized to
the model as cv2.resize INTER_LINEAR resizes uint8 images (11-bit fixed-point weights, bit-exact); labels are
upsampled with the source indices cv2.resize INTER_NEAREST_EXACT picks (read from OpenCV itself, whose versions
round differently); confidence_mono8 is resized like the camera; the float confidence with linear weights in float32;
the overlay is rounded half to even like cv2.addWeighted; the palette table is render.palette_lut's. Integer work is
int32 and uint8 appears only at the inputs and outputs, as TensorRT wants.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES
from night_seg_ros.classes import IGNORE_INDEX
from night_seg_ros.render import palette_lut
from night_seg_ros.vocabulary import OUTPUT_RESOLUTIONS

RENDER_INPUTS = ('camera', 'threshold', 'alpha')
"""The composed graph's inputs: camera uint8 (1, H, W, 3), threshold float32 [], alpha float32 []."""
RENDER_OUTPUTS = ('labels', 'color', 'overlay', 'confidence', 'confidence_mono8')
"""The composed graph's outputs, each (1, Ho, Wo[, 3]): uint8 labels, RGB color, BGR overlay; float32 confidence;
uint8 confidence_mono8."""
CAMERA_ORDERS = ('rgb', 'bgr')
"""Channel orders of the camera input."""
MIN_OPSET = 17
"""The bundle contract's opset (export.MIN_OPSET; export imports torch, this module must not)."""
COEF_SCALE = 2048
"""cv2's INTER_RESIZE_COEF_SCALE: uint8 linear weights are integers summing to 2048 (11 bits)."""
_ORDER_KEY = 'night_seg.camera_order'
_RESOLUTION_KEY = 'night_seg.output_resolution'


@dataclass(frozen=True)
class RenderTarget:
    """What a render graph is composed for: the camera's (height, width), the outputs' resolution (one of
    OUTPUT_RESOLUTIONS) and the camera's channel order (one of CAMERA_ORDERS)."""

    camera_size: tuple[int, int]
    output_resolution: str = 'camera'
    camera_order: str = 'rgb'

    def __post_init__(self) -> None:
        """Refuse values outside the allowed ones, naming them."""
        if len(self.camera_size) != 2 or min(self.camera_size) < 1:
            raise ValueError(f'camera size must be (height, width) >= 1; got {self.camera_size}')
        if self.output_resolution not in OUTPUT_RESOLUTIONS:
            raise ValueError(f'output resolution {self.output_resolution!r}; allowed: {", ".join(OUTPUT_RESOLUTIONS)}')
        if self.camera_order not in CAMERA_ORDERS:
            raise ValueError(f'camera order {self.camera_order!r}; allowed: {", ".join(CAMERA_ORDERS)}')

    def compose(self, model: onnx.ModelProto, palette: Sequence[Sequence[int]]) -> onnx.ModelProto:
        """`compose_render_graph` of `model` for this target."""
        output_size = self.camera_size if self.output_resolution == 'camera' else model_input_size(model)
        return compose_render_graph(model, palette, self.camera_size, output_size, self.camera_order)

    @classmethod
    def of(cls, graph: onnx.ModelProto) -> RenderTarget:
        """The target a graph made by `compose_render_graph` was composed for."""
        metadata = {entry.key: entry.value for entry in graph.metadata_props}
        camera = graph.graph.input[0].type.tensor_type.shape.dim
        return cls((camera[1].dim_value, camera[2].dim_value), metadata[_RESOLUTION_KEY], metadata[_ORDER_KEY])


def model_input_size(model: onnx.ModelProto) -> tuple[int, int]:
    """(h, w) of the bundle graph's `image` input, uint8 (1, h, w, 3); ValueError when the graph is not one."""
    inputs = {value.name: value for value in model.graph.input}
    outputs = {value.name: value.type.tensor_type.elem_type for value in model.graph.output}
    image = inputs.get(INPUT_NAME)
    tensor = image.type.tensor_type if image is not None else None
    shape = tensor.shape.dim if tensor is not None else []
    dims = [dim.dim_value if dim.HasField('dim_value') else None for dim in shape]
    if (len(inputs) != 1 or tensor is None or tensor.elem_type != TensorProto.UINT8 or len(dims) != 4
            or dims[0] != 1 or dims[3] != 3 or None in dims
            or outputs.get(OUTPUT_NAMES[0]) != TensorProto.UINT8 or outputs.get(OUTPUT_NAMES[1]) != TensorProto.FLOAT):
        raise ValueError(f'not a bundle graph: expected one input {INPUT_NAME!r} uint8 (1, h, w, 3) with static h, w '
                         f'and outputs {OUTPUT_NAMES[0]!r} uint8, {OUTPUT_NAMES[1]!r} float32; found inputs '
                         f'{sorted(inputs)} {dims}, outputs {sorted(outputs)}')
    return dims[1], dims[2]


def compose_render_graph(model: onnx.ModelProto, palette: Sequence[Sequence[int]], camera_size: tuple[int, int],
                         output_size: tuple[int, int], camera_order: str) -> onnx.ModelProto:
    """One graph: camera bytes -> resize -> `model` -> threshold -> every output of RENDER_OUTPUTS at `output_size`.

    model: the bundle's graph as loaded from model.onnx (or its FP16 / INT8 version), opset >= 17; its names are
    prefixed 'model/' and its initializers kept. palette: RGB per class. camera_size, output_size: (height, width);
    output_size is camera_size or the model's input size. camera_order: 'rgb' or 'bgr'. See the module docstring for
    the inputs and outputs. The result passes onnx.checker (full check) and has the model's opset.
    """
    network_size = model_input_size(model)
    if tuple(output_size) not in (tuple(camera_size), network_size):
        raise ValueError(f'output size {output_size} must be the camera size {camera_size} or the model input size '
                         f'{network_size}')
    target = RenderTarget(tuple(camera_size), 'camera' if tuple(output_size) == tuple(camera_size) else 'network',
                          camera_order)
    opset = max((entry.version for entry in model.opset_import if entry.domain in ('', 'ai.onnx')), default=0)
    if opset < MIN_OPSET:
        raise ValueError(f'the model has opset {opset}; allowed: >= {MIN_OPSET} (night-seg export BUNDLE)')
    inner = onnx.compose.add_prefix(model, 'model/')
    nodes = _Nodes()
    camera = nodes.op('Cast', 'camera', to=TensorProto.INT32)
    resized = _linear_uint8(nodes, camera, camera_size, network_size, 'camera', channels=True)
    swap = nodes.constant('swap_rb', np.array([2, 1, 0], np.int32))
    model_rgb = resized if camera_order == 'rgb' else nodes.op('Gather', resized, swap, axis=3)
    nodes.op('Cast', model_rgb, to=TensorProto.UINT8, output=f'model/{INPUT_NAME}')
    pre = nodes.take()

    labels = nodes.op('Cast', f'model/{OUTPUT_NAMES[0]}', to=TensorProto.INT32)
    confidence = f'model/{OUTPUT_NAMES[1]}'
    below = nodes.op('Less', confidence, 'threshold')
    ignore = nodes.constant('ignore_index', np.array(IGNORE_INDEX, np.int32))
    labels = _nearest(nodes, nodes.op('Where', below, ignore, labels), network_size, output_size, 'labels')
    nodes.op('Cast', labels, to=TensorProto.UINT8, output='labels')

    lut = palette_lut(palette)
    color = nodes.op('Gather', nodes.constant('palette_rgb', lut.astype(np.int32)), labels, axis=0)
    nodes.op('Cast', color, to=TensorProto.UINT8, output='color')

    background = camera if target.output_resolution == 'camera' else resized
    background_bgr = background if camera_order == 'bgr' else nodes.op('Gather', background, swap, axis=3)
    background_bgr = nodes.op('Cast', background_bgr, to=TensorProto.FLOAT)
    color_bgr = nodes.op('Gather', nodes.constant('palette_bgr', lut[:, ::-1].astype(np.float32)), labels, axis=0)
    one = nodes.constant('one', np.array(1.0, np.float32))
    blended = nodes.op('Add', nodes.op('Mul', background_bgr, nodes.op('Sub', one, 'alpha')),
                       nodes.op('Mul', color_bgr, 'alpha'))
    blended = nodes.op('Clip', nodes.op('Round', blended), nodes.constant('zero', np.array(0.0, np.float32)),
                       nodes.constant('full', np.array(255.0, np.float32)))
    unknown = nodes.op('Unsqueeze', nodes.op('Equal', labels, ignore),
                       nodes.constant('channel_axis', np.array([3], np.int64)))
    nodes.op('Cast', nodes.op('Where', unknown, background_bgr, blended), to=TensorProto.UINT8, output='overlay')

    if target.output_resolution == 'network':
        nodes.op('Identity', confidence, output='confidence')
    else:
        _linear_float(nodes, confidence, network_size, output_size, 'confidence', output='confidence')
    mono8 = nodes.op('Cast', nodes.op('Round', nodes.op('Mul', confidence, nodes.constant(
        'mono8_scale', np.array(255.0, np.float32)))), to=TensorProto.INT32)
    mono8 = _linear_uint8(nodes, mono8, network_size, output_size, 'confidence_mono8', channels=False)
    nodes.op('Cast', mono8, to=TensorProto.UINT8, output='confidence_mono8')
    post = nodes.take()

    height, width = camera_size
    frame = [1, *output_size]
    outputs = {'labels': (TensorProto.UINT8, frame), 'color': (TensorProto.UINT8, [*frame, 3]),
               'overlay': (TensorProto.UINT8, [*frame, 3]), 'confidence': (TensorProto.FLOAT, frame),
               'confidence_mono8': (TensorProto.UINT8, frame)}
    graph = helper.make_graph(
        pre + list(inner.graph.node) + post, 'night_seg_render',
        [helper.make_tensor_value_info('camera', TensorProto.UINT8, [1, height, width, 3]),
         helper.make_tensor_value_info('threshold', TensorProto.FLOAT, []),
         helper.make_tensor_value_info('alpha', TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info(name, *outputs[name]) for name in RENDER_OUTPUTS],
        initializer=list(inner.graph.initializer) + nodes.constants,
        value_info=list(inner.graph.value_info),
        doc_string=f'night_seg_ros render graph: {camera_order} camera {width}x{height} -> outputs '
                   f'{output_size[1]}x{output_size[0]} ({target.output_resolution} resolution) around the bundle graph')
    graph.sparse_initializer.extend(inner.graph.sparse_initializer)
    composed = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version,
                                 functions=list(inner.functions), producer_name='night_seg_ros')
    helper.set_model_props(composed, {_ORDER_KEY: camera_order, _RESOLUTION_KEY: target.output_resolution})
    onnx.checker.check_model(composed, full_check=True)
    return composed


class _Nodes:
    """The render nodes and constants of a composed graph, named 'render/...' in the order they are made."""

    def __init__(self) -> None:
        self.constants: list[onnx.TensorProto] = []
        self._nodes: list[onnx.NodeProto] = []
        self._count = 0

    def constant(self, name: str, value: np.ndarray) -> str:
        """An initializer 'render/<name>' holding `value`; returns its name."""
        tensor = numpy_helper.from_array(value, f'render/{name}')
        self.constants.append(tensor)
        return tensor.name

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attributes: object) -> str:
        """Append an `op_type` node; returns its output's name (`output`, or 'render/<n>_<op_type>')."""
        name = f'render/{self._count}_{op_type}'
        self._count += 1
        self._nodes.append(helper.make_node(op_type, list(inputs), [output or name], name=name, **attributes))
        return output or name

    def take(self) -> list[onnx.NodeProto]:
        """The nodes appended since the last call."""
        nodes, self._nodes = self._nodes, []
        return nodes


def linear_taps(source: int, size: int, rows: bool, fixed_point: bool) -> tuple[np.ndarray, ...]:
    """Source indices and weights of cv2.resize INTER_LINEAR along one axis, `source` -> `size` pixels.

    Returns (first, second, weight_first, weight_second), each of shape (size,): indices int32; weights int32
    summing to COEF_SCALE when `fixed_point` (cv2's uint8 path, which derives them from float32 coordinates), else
    float32 from float64 coordinates (cv2's float path). Half-pixel centres, no antialiasing. Past an edge, columns
    (rows=False) take the edge pixel with the whole weight; rows (rows=True) read the edge row twice with the
    unclamped weights, whose fixed-point parts floor separately: both as cv2 does.
    """
    position = (np.arange(size) + 0.5) * (1.0 / (size / source)) - 0.5
    if fixed_point:
        position = position.astype(np.float32)
    first = np.floor(position)
    fraction = (position - first).astype(np.float32)
    first = first.astype(np.int64)
    if not rows:
        fraction[(first < 0) | (first >= source - 1)] = 0.0
    weights = (np.float32(1.0) - fraction, fraction)
    if fixed_point:
        weights = tuple(np.rint(weight * np.float32(COEF_SCALE)).astype(np.int32) for weight in weights)
    return (np.clip(first, 0, source - 1).astype(np.int32), np.clip(first + 1, 0, source - 1).astype(np.int32),
            *weights)


def nearest_indices(source: int, size: int) -> np.ndarray:
    """int32 (size,): the source index cv2.resize INTER_NEAREST_EXACT takes for each of `size` pixels.

    Read from OpenCV itself (a ramp resized), so the graph picks the pixels the CPU path picks: OpenCV 4 computes
    them in 16-bit fixed point, OpenCV 5 in float64, and the two differ where a centre falls on a pixel edge.
    """
    if source > np.iinfo(np.uint16).max:
        raise ValueError(f'{source} pixels; at most {np.iinfo(np.uint16).max} per axis')
    ramp = np.arange(source, dtype=np.uint16)[None]
    return cv2.resize(ramp, (size, 1), interpolation=cv2.INTER_NEAREST_EXACT)[0].astype(np.int32)


def _gather_axes(nodes: _Nodes, source: str, label: str, rows: np.ndarray, columns: np.ndarray) -> str:
    """source[:, rows][:, :, columns] of an (1, h, w, ...) tensor."""
    picked = nodes.op('Gather', source, nodes.constant(f'{label}/rows', rows), axis=1)
    return nodes.op('Gather', picked, nodes.constant(f'{label}/columns', columns), axis=2)


def _nearest(nodes: _Nodes, source: str, source_size: tuple[int, int], size: tuple[int, int], label: str) -> str:
    """(1, h, w[, c]) -> (1, H, W[, c]) as cv2.resize INTER_NEAREST_EXACT; `source` itself when the sizes match."""
    if tuple(source_size) == tuple(size):
        return source
    return _gather_axes(nodes, source, label, nearest_indices(source_size[0], size[0]),
                        nearest_indices(source_size[1], size[1]))


def _weighted_taps(nodes: _Nodes, source: str, label: str, axis: int, taps: tuple[np.ndarray, ...],
                   shape: tuple[int, ...]) -> tuple[str, str]:
    """The two gathered taps of `source` along `axis`, each times its weight reshaped to `shape` (broadcasting)."""
    first, second, weight_first, weight_second = taps
    return tuple(nodes.op('Mul', nodes.op('Gather', source, nodes.constant(f'{label}/{name}', index), axis=axis),
                          nodes.constant(f'{label}/{name}_weight', weight.reshape(shape)))
                 for name, index, weight in (('first', first, weight_first), ('second', second, weight_second)))


def _linear_uint8(nodes: _Nodes, source: str, source_size: tuple[int, int], size: tuple[int, int], label: str,
                  channels: bool) -> str:
    """int32 (1, h, w[, 3] if `channels`) holding uint8 values -> int32 (1, H, W[, 3]) equal to cv2.resize
    INTER_LINEAR of the uint8 image: horizontal pass D = S0*a0 + S1*a1, then vertical
    (((b0*(D0>>4))>>16) + ((b1*(D1>>4))>>16) + 2) >> 2 as cv2's VResizeLinear for uint8 (the values are non-negative,
    so integer division is the shift). `source` itself when the sizes match (cv2 copies)."""
    if tuple(source_size) == tuple(size):
        return source
    channels = (1,) if channels else ()
    columns = _weighted_taps(nodes, source, f'{label}/x', 2, linear_taps(source_size[1], size[1], False, True),
                             (-1, *channels))
    horizontal = nodes.op('Add', *columns)
    taps = linear_taps(source_size[0], size[0], True, True)
    sixteen, shift = (nodes.constant(f'{label}/y/{name}', np.array(value, np.int32))
                      for name, value in (('sixteen', 16), ('shift', 1 << 16)))
    parts = []
    for index, weight, name in ((taps[0], taps[2], 'first'), (taps[1], taps[3], 'second')):
        row = nodes.op('Gather', horizontal, nodes.constant(f'{label}/y/{name}', index), axis=1)
        row = nodes.op('Mul', nodes.op('Div', row, sixteen),
                       nodes.constant(f'{label}/y/{name}_weight', weight.reshape(-1, 1, *channels)))
        parts.append(nodes.op('Div', row, shift))
    rounded = nodes.op('Add', nodes.op('Add', *parts), nodes.constant(f'{label}/y/two', np.array(2, np.int32)))
    return nodes.op('Div', rounded, nodes.constant(f'{label}/y/four', np.array(4, np.int32)))


def _linear_float(nodes: _Nodes, source: str, source_size: tuple[int, int], size: tuple[int, int], label: str,
                  output: str) -> str:
    """float32 (1, h, w) -> float32 (1, H, W) as cv2.resize INTER_LINEAR of a float32 image, into `output`."""
    columns = _weighted_taps(nodes, source, f'{label}/x', 2, linear_taps(source_size[1], size[1], False, False),
                             (-1,))
    horizontal = nodes.op('Add', *columns)
    rows = _weighted_taps(nodes, horizontal, f'{label}/y', 1, linear_taps(source_size[0], size[0], True, False),
                          (-1, 1))
    return nodes.op('Add', *rows, output=output)
