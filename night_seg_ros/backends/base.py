"""The interface every inference backend implements, its error types, and the runner of a graph on its device."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from night_seg_ros.errors import NightSegError

if TYPE_CHECKING:
    import onnx

TensorSpec = tuple[tuple[int, ...], np.dtype]
"""A tensor's static shape and dtype."""


class BackendError(NightSegError, RuntimeError):
    """A backend cannot be created or used here; the message says why and what to do."""


class GraphUnavailable(BackendError):
    """A backend cannot run a graph on its device here (the caller renders on the CPU); the message says why."""


def graph_io(graph: onnx.ModelProto) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec]]:
    """(inputs, outputs) of an ONNX model whose shapes are static: name -> (shape, dtype)."""
    from onnx.helper import tensor_dtype_to_np_dtype

    def specs(values: Sequence) -> dict[str, TensorSpec]:
        return {value.name: (tuple(dim.dim_value for dim in value.type.tensor_type.shape.dim),
                             np.dtype(tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)))
                for value in values}

    return specs(graph.graph.input), specs(graph.graph.output)


class GraphRunner(ABC):
    """Runs one ONNX graph with static shapes (e.g. render_graph.compose_render_graph's) on a backend's device.

    inputs, outputs: name -> (shape, dtype) of the graph's tensors. The runner lives as long as its backend.
    """

    def __init__(self, graph: onnx.ModelProto) -> None:
        """Read the graph's inputs and outputs."""
        self.inputs, self.outputs = graph_io(graph)

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """Every input by name (arrays of its shape and dtype) -> the `outputs` named, new arrays of theirs.

        Raises ValueError naming an input that is missing, unknown, or of another shape or dtype, or an unknown output.
        """
        for name, (shape, dtype) in self.inputs.items():
            array = feeds.get(name)
            if array is None or np.shape(array) != shape or np.asarray(array).dtype != dtype:
                found = 'nothing' if array is None else f'{np.asarray(array).dtype} {np.shape(array)}'
                raise ValueError(f'graph input {name!r} must be {dtype} {shape}; got {found}')
        unknown = (set(feeds) - set(self.inputs)) | (set(outputs) - set(self.outputs))
        if unknown:
            raise ValueError(f'unknown names {sorted(unknown)}; inputs: {", ".join(self.inputs)}; outputs: '
                             f'{", ".join(self.outputs)}')
        return self._run({name: np.asarray(feeds[name], order='C') for name in self.inputs}, list(outputs))

    @abstractmethod
    def _run(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        """Run on checked, C-contiguous feeds; compute (at least) and return the `outputs`."""


class Backend(ABC):
    """Runs a bundle's network on one image at the bundle's input size.

    infer(rgb): rgb is uint8 (H, W, 3) RGB, H x W the bundle's input size. Returns labels uint8 (H, W) class ids and
    confidence float32 (H, W), the maximum softmax probability.
    """

    name: str = ''
    device: str = ''
    skipped: tuple[str, ...] = ()  # with backend auto: why each backend tried before this one was skipped

    def __init__(self, height: int, width: int) -> None:
        """Set up for inputs of `height` x `width` pixels."""
        self.height = height
        self.width = width

    @abstractmethod
    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) RGB -> labels uint8 (H, W), confidence float32 (H, W)."""

    def check_input(self, rgb: np.ndarray) -> np.ndarray:
        """Return `rgb` as a C-contiguous uint8 (H, W, 3) array, or raise ValueError naming the expected shape."""
        if rgb.dtype != np.uint8 or rgb.shape != (self.height, self.width, 3):
            raise ValueError(f'{self.name} backend expects uint8 ({self.height}, {self.width}, 3) RGB; '
                             f'got {rgb.dtype} {rgb.shape}')
        return np.ascontiguousarray(rgb)

    def warmup(self, iterations: int = 2) -> None:
        """Run `iterations` inferences on a blank image so the first camera frame pays no start-up cost."""
        blank = np.zeros((self.height, self.width, 3), np.uint8)
        for _ in range(iterations):
            self.infer(blank)

    def open_graph(self, graph: onnx.ModelProto) -> GraphRunner:
        """A runner of `graph` (static shapes) on this backend's device, e.g. the render graph around its model.

        Raises GraphUnavailable saying why when this backend cannot: by default it runs no ONNX graphs (torch), so
        rendering stays on the CPU.
        """
        raise GraphUnavailable(f'backend {self.name} runs no ONNX graph beside its model; rendering stays on the CPU')

    def close(self) -> None:
        """Release what the backend holds outside Python's reach (GPU buffers, threads); nothing by default."""
        return None

    def describe(self) -> str:
        """'name on device', for logs and diagnostics."""
        return f'{self.name} on {self.device}'
