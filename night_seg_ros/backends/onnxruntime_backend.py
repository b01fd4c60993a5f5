"""ONNX Runtime backend: runs the bundle's model.onnx on CUDA when the CUDA provider works, else on the CPU.

Needs onnxruntime (or onnxruntime-gpu) only; no torch.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from night_seg_ros.backends.base import Backend, BackendError, GraphRunner
from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES, Bundle

if TYPE_CHECKING:
    import onnx


class OnnxRuntimeGraphRunner(GraphRunner):
    """A graph run by ONNX Runtime, one session per set of requested outputs, each of the graph pruned to the nodes
    those outputs need: a session runs every node of its graph whatever the outputs asked for."""

    def __init__(self, graph: onnx.ModelProto, open_session: Callable[[bytes], Any]) -> None:
        """open_session: serialized graph -> an onnxruntime.InferenceSession of it."""
        super().__init__(graph)
        self._graph = graph
        self._open_session = open_session
        self._sessions: dict[frozenset[str], Any] = {}

    def _run(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        wanted = frozenset(outputs)
        session = self._sessions.get(wanted)
        if session is None:
            session = self._sessions[wanted] = self._open_session(pruned(self._graph, wanted).SerializeToString())
        return dict(zip(outputs, session.run(outputs, feeds), strict=True))


def pruned(graph: onnx.ModelProto, outputs: Collection[str]) -> onnx.ModelProto:
    """A copy of `graph` (without control flow) that computes only `outputs`: the nodes they need and the tensors
    those read; every input is kept, so the same feeds fit."""
    import onnx

    needed = set(outputs)
    nodes = []
    for node in reversed(graph.graph.node):
        if needed.intersection(node.output):
            nodes.append(node)
            needed.update(node.input)
    kept = {'node': nodes[::-1], 'output': [value for value in graph.graph.output if value.name in needed],
            'initializer': [tensor for tensor in graph.graph.initializer if tensor.name in needed],
            'value_info': [value for value in graph.graph.value_info if value.name in needed]}
    model = onnx.ModelProto()
    model.CopyFrom(graph)
    for field, values in kept.items():
        del getattr(model.graph, field)[:]
        getattr(model.graph, field).extend(values)
    return model


def _session_errors() -> tuple[type[BaseException], ...]:
    """The exceptions ONNX Runtime raises for a file it cannot load as a model."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ('Fail', 'InvalidArgument', 'InvalidGraph', 'InvalidProtobuf', 'NoModel', 'NoSuchFile', 'NotImplemented',
             'RuntimeException')
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


def graph_class_count(path: Path) -> int | None:
    """The number of classes the `labels` output of an ONNX graph chooses among: the size of the axis its ArgMax
    reduces, by ONNX shape inference. None when it cannot be told (no onnx package, no ArgMax, unknown size)."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path))
    producer = {output: node for node in model.graph.node for output in node.output}
    node = producer.get(OUTPUT_NAMES[0])
    while node is not None and node.op_type != 'ArgMax':  # labels <- Cast <- ArgMax in an exported bundle
        node = producer.get(node.input[0]) if node.input else None
    if node is None:
        return None
    axis = next((attribute.i for attribute in node.attribute if attribute.name == 'axis'), 0)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {value.name: value.type.tensor_type.shape for value in
              (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    shape = shapes.get(node.input[0])
    if shape is None or not shape.dim:
        return None
    size = shape.dim[axis].dim_value
    return size or None


class OnnxRuntimeBackend(Backend):
    """InferenceSession over model.onnx; `device` is 'auto', 'cpu', 'cuda' or 'cuda:N'."""

    name = 'onnxruntime'

    def __init__(self, bundle: Bundle, device: str = 'auto', num_threads: int = 0, graph: Path | None = None) -> None:
        """Open the session; num_threads > 0 sets intra-op threads (0 = ONNX Runtime's default).

        graph: an ONNX file to run instead of the bundle's model.onnx (another export or precision of the same
        bundle, say); it must keep the bundle's ONNX contract at the bundle's input size.
        """
        super().__init__(bundle.input.height, bundle.input.width)
        self.graph = graph or bundle.require_onnx()
        import onnxruntime

        available = onnxruntime.get_available_providers()
        wants_cuda = device.startswith('cuda') or (device == 'auto' and 'CUDAExecutionProvider' in available)
        if wants_cuda and 'CUDAExecutionProvider' not in available:
            raise BackendError(f'device {device!r} needs onnxruntime-gpu (CUDAExecutionProvider); this onnxruntime '
                               f'has {", ".join(available)}. Use device:=cpu or install onnxruntime-gpu')
        providers: list = ['CPUExecutionProvider']
        if wants_cuda:
            device_id = int(device.partition(':')[2] or 0)
            providers.insert(0, ('CUDAExecutionProvider', {'device_id': device_id}))
        options = onnxruntime.SessionOptions()
        # Idle intra-op threads sleep instead of spinning: spinning threads would hold every core right after
        # inference, when the node decodes, renders and publishes on the same CPU.
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if num_threads > 0:
            options.intra_op_num_threads = num_threads
        self._options, self._providers = options, providers
        try:
            self.session = onnxruntime.InferenceSession(str(self.graph), options, providers=providers)
        except _session_errors() as error:  # a truncated or foreign file: InvalidProtobuf, InvalidGraph, Fail, ...
            reason = ' '.join(str(error).split())[:300]
            raise BackendError(f'{self.graph} is not an ONNX model ONNX Runtime can load ({type(error).__name__}: '
                               f'{reason}); re-export it with: night-seg export {bundle.path}') from None
        self.device = 'cuda' if self.session.get_providers()[0] == 'CUDAExecutionProvider' else 'cpu'
        self._check_graph(bundle)
        self._check_classes(bundle)

    def _check_graph(self, bundle: Bundle) -> None:
        inputs = {node.name: node for node in self.session.get_inputs()}
        outputs = {node.name for node in self.session.get_outputs()}
        expected_shape = [1, self.height, self.width, 3]
        if INPUT_NAME not in inputs or inputs[INPUT_NAME].shape != expected_shape \
                or inputs[INPUT_NAME].type != 'tensor(uint8)' or not set(OUTPUT_NAMES) <= outputs:
            found = {name: (node.type, node.shape) for name, node in inputs.items()}
            raise BackendError(f'{self.graph} does not match model.json: expected input {INPUT_NAME!r} uint8 '
                               f'{expected_shape} and outputs {OUTPUT_NAMES}; found inputs {found}, outputs '
                               f'{sorted(outputs)}. Re-export with: night-seg export {bundle.path}')

    def _check_classes(self, bundle: Bundle) -> None:
        """BackendError when the graph's ArgMax chooses among another number of classes than model.json names
        (checked where the onnx package is installed: a vehicle with ONNX Runtime alone skips it)."""
        count = graph_class_count(self.graph)
        if count is not None and count != bundle.num_classes:
            raise BackendError(f'{self.graph} predicts {count} classes but {bundle.path / "model.json"} names '
                               f'{bundle.num_classes}; they must agree: re-export the graph with: night-seg export '
                               f'{bundle.path}')

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) RGB -> labels uint8 (H, W), confidence float32 (H, W)."""
        labels, confidence = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: self.check_input(rgb)[None]})
        return labels[0], confidence[0]

    def open_graph(self, graph: onnx.ModelProto) -> OnnxRuntimeGraphRunner:
        """A runner of `graph` whose sessions have this backend's providers (CUDA or CPU) and thread options."""
        import onnxruntime

        def open_session(serialized: bytes) -> Any:
            return onnxruntime.InferenceSession(serialized, self._options, providers=self._providers)

        return OnnxRuntimeGraphRunner(graph, open_session)
