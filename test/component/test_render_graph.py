"""The render graph (render_graph.py) run by ONNX Runtime on the CPU, through OnnxRuntimeBackend.open_graph, against
the CPU path (pipeline.SegmentationPipeline.process): the GPU path's graph gives the CPU path's outputs.

A model whose labels and confidence are two channels of its input checks the graph's resizes, palette and blend
against OpenCV's pixel for pixel; the tiny untrained bundle and the bundled demo model check the whole frame.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from night_seg_ros.backends.base import Backend, GraphRunner, GraphUnavailable
from night_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend, pruned
from night_seg_ros.bundle import read_bundle
from night_seg_ros.classes import CITYSCAPES_PALETTE
from night_seg_ros.export import sample_images
from night_seg_ros.pipeline import OutputRequest, SegmentationPipeline
from night_seg_ros.render_graph import RENDER_INPUTS, RENDER_OUTPUTS, RenderTarget, compose_render_graph

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / 'models' / 'synthetic_demo_b0'
ALPHA = 0.3
MIN_LABEL_AGREEMENT = 0.999


def channel_model(height: int, width: int, opset: int = 17) -> onnx.ModelProto:
    """A bundle-contract graph at (height, width): labels = the red channel, confidence = green / 255."""
    nodes = [helper.make_node('Gather', ['image', 'red'], ['labels'], axis=3),
             helper.make_node('Gather', ['image', 'green'], ['green_channel'], axis=3),
             helper.make_node('Cast', ['green_channel'], ['green_float'], to=TensorProto.FLOAT),
             helper.make_node('Div', ['green_float', 'full'], ['confidence'])]
    constants = [numpy_helper.from_array(np.array(0, np.int64), 'red'),
                 numpy_helper.from_array(np.array(1, np.int64), 'green'),
                 numpy_helper.from_array(np.array(255.0, np.float32), 'full')]
    graph = helper.make_graph(
        nodes, 'channels', [helper.make_tensor_value_info('image', TensorProto.UINT8, [1, height, width, 3])],
        [helper.make_tensor_value_info('labels', TensorProto.UINT8, [1, height, width]),
         helper.make_tensor_value_info('confidence', TensorProto.FLOAT, [1, height, width])], constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)], ir_version=8)


def channel_model_of_any_height() -> onnx.ModelProto:
    """`channel_model` whose input height is symbolic."""
    model = channel_model(8, 16)
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = 'height'
    return model


class ChannelBackend(Backend):
    """`channel_model` as a backend, for the CPU path."""

    name = 'channels'

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) RGB -> (red channel, green / 255 as float32)."""
        rgb = self.check_input(rgb)
        return rgb[..., 0].copy(), rgb[..., 1].astype(np.float32) / np.float32(255.0)


def channel_frame(height: int, width: int, seed: int) -> np.ndarray:
    """uint8 (height, width, 3) RGB noise whose red channel is a class id (of the 19) on about half the pixels."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.where(rng.random((height, width)) < 0.5, rng.integers(0, 19, (height, width)), rgb[..., 0])
    return rgb


def settings(threshold: float, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """The graph's live inputs."""
    return {'threshold': np.array(threshold, np.float32), 'alpha': np.array(alpha, np.float32)}


def run_graph(runner: GraphRunner, rgb: np.ndarray, order: str, threshold: float,
              alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Every output of a render graph's runner on RGB frame `rgb`, handed over as the camera's bytes in `order`."""
    camera = rgb if order == 'rgb' else np.ascontiguousarray(rgb[..., ::-1])
    outputs = runner.run({'camera': camera[None], **settings(threshold, alpha)}, RENDER_OUTPUTS)
    return {name: array[0] for name, array in outputs.items()}


def cpu_outputs(backend: Backend, network_size: tuple[int, int], rgb: np.ndarray, resolution: str,
                threshold: float, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """The CPU path's outputs of RGB frame `rgb`, named as the graph's. At network resolution the CPU path gets the
    frame already resized to the network (OpenCV's linear resize, as it resizes): outputs and overlay at that size."""
    if resolution == 'network':
        rgb = cv2.resize(rgb, network_size[::-1], interpolation=cv2.INTER_LINEAR)
    out = SegmentationPipeline(backend, network_size, CITYSCAPES_PALETTE, threshold, alpha, 'mono8').process(rgb)
    floats = SegmentationPipeline(backend, network_size, CITYSCAPES_PALETTE, threshold, alpha, '32FC1').process(
        rgb, OutputRequest(labels=False, color=False, overlay=False, confidence=True))
    return {'labels': out.labels, 'color': out.color, 'overlay': out.overlay, 'confidence': floats.confidence,
            'confidence_mono8': out.confidence}


def label_agreement(graph: dict[str, np.ndarray], cpu: dict[str, np.ndarray]) -> float:
    """Fraction of equal labels; where they agree, colour must be equal and the overlay within one grey level;
    confidence within 1e-4 (float) and one level (mono8) everywhere."""
    for name in RENDER_OUTPUTS:
        assert graph[name].dtype == cpu[name].dtype and graph[name].shape == cpu[name].shape, name
    agree = graph['labels'] == cpu['labels']
    np.testing.assert_array_equal(graph['color'][agree], cpu['color'][agree])
    assert np.abs(graph['overlay'].astype(int) - cpu['overlay'])[agree].max() <= 1
    assert np.abs(graph['confidence'] - cpu['confidence']).max() <= 1e-4
    assert np.abs(graph['confidence_mono8'].astype(int) - cpu['confidence_mono8']).max() <= 1
    return float(agree.mean())


@pytest.fixture(scope='module')
def ort_cpu(tiny_bundle: Path) -> OnnxRuntimeBackend:
    """An ONNX Runtime CPU backend (its open_graph runs any graph) on the tiny untrained bundle (64x128 input)."""
    return OnnxRuntimeBackend(read_bundle(tiny_bundle), 'cpu')


@pytest.mark.parametrize('resolution', ['camera', 'network'])
@pytest.mark.parametrize('order', ['rgb', 'bgr'])
@pytest.mark.parametrize(('camera_size', 'network_size'), [
    ((480, 640), (64, 128)), ((720, 1280), (384, 768)), ((479, 641), (97, 131)),  # down, odd
    ((60, 100), (64, 128)), ((768, 1536), (384, 768)), ((64, 128), (64, 128)),  # up, exactly half, the same size
])
def test_resizes_palette_and_blend_are_opencvs(ort_cpu: OnnxRuntimeBackend, camera_size: tuple[int, int],
                                               network_size: tuple[int, int], order: str, resolution: str) -> None:
    graph = compose_render_graph(channel_model(*network_size), CITYSCAPES_PALETTE, camera_size,
                                 camera_size if resolution == 'camera' else network_size, order)
    rgb = channel_frame(*camera_size, seed=sum(camera_size))
    outputs = run_graph(ort_cpu.open_graph(graph), rgb, order, threshold=0.5)
    cpu = cpu_outputs(ChannelBackend(*network_size), network_size, rgb, resolution, threshold=0.5)
    assert 0.2 < (cpu['labels'] == 255).mean() < 0.8 and (cpu['labels'] < 19).any()
    for name in ('labels', 'color', 'confidence_mono8'):
        np.testing.assert_array_equal(outputs[name], cpu[name], err_msg=name)
    assert np.abs(outputs['confidence'] - cpu['confidence']).max() <= 1e-6
    overlay_error = np.abs(outputs['overlay'].astype(int) - cpu['overlay'])
    assert overlay_error.max() <= 1 and (overlay_error > 0).mean() < 1e-3  # float rounding, at exact halves only


@pytest.fixture(scope='module')
def tiny_runners(ort_cpu: OnnxRuntimeBackend, tiny_bundle: Path) -> Callable[[tuple[int, int], str, str], GraphRunner]:
    """Render graphs of the tiny bundle by (camera size, order, resolution), opened as they are asked for."""
    model = onnx.load(str(read_bundle(tiny_bundle).onnx_path))
    runners = {}

    def runner(camera_size: tuple[int, int], order: str, resolution: str) -> GraphRunner:
        key = (camera_size, order, resolution)
        if key not in runners:
            runners[key] = ort_cpu.open_graph(RenderTarget(camera_size, resolution, order).compose(
                model, CITYSCAPES_PALETTE))
        return runners[key]

    return runner


@pytest.mark.parametrize('resolution', ['camera', 'network'])
@pytest.mark.parametrize('order', ['rgb', 'bgr'])
@pytest.mark.parametrize('camera_size', [(480, 640), (720, 1280), (479, 641)])
def test_tiny_bundle_graph_agrees_with_the_cpu_path(ort_cpu: OnnxRuntimeBackend, tiny_runners: Callable,
                                                    camera_size: tuple[int, int], order: str,
                                                    resolution: str) -> None:
    runner = tiny_runners(camera_size, order, resolution)
    rgb = sample_images(1, *camera_size, seed=5)[0]
    for threshold in (0.0, 0.5):
        cpu = cpu_outputs(ort_cpu, (ort_cpu.height, ort_cpu.width), rgb, resolution, threshold)
        assert label_agreement(run_graph(runner, rgb, order, threshold), cpu) >= MIN_LABEL_AGREEMENT


def test_threshold_and_alpha_change_without_a_new_graph(ort_cpu: OnnxRuntimeBackend, tiny_runners: Callable) -> None:
    runner = tiny_runners((479, 641), 'bgr', 'camera')
    rgb = sample_images(1, 479, 641, seed=6)[0]
    median = float(np.median(ort_cpu.infer(cv2.resize(rgb, (ort_cpu.width, ort_cpu.height)))[1]))
    seen = []
    for threshold, alpha in ((0.0, 0.3), (median, 0.3), (median, 0.8), (1.0, 0.8)):
        outputs = run_graph(runner, rgb, 'bgr', threshold, alpha)
        cpu = cpu_outputs(ort_cpu, (ort_cpu.height, ort_cpu.width), rgb, 'camera', threshold, alpha)
        assert label_agreement(outputs, cpu) >= MIN_LABEL_AGREEMENT
        seen.append(outputs)
    ignored = [float((outputs['labels'] == 255).mean()) for outputs in seen]
    assert ignored[0] == 0.0 and 0.3 < ignored[1] < 0.7 and ignored[3] == 1.0
    assert np.abs(seen[2]['overlay'].astype(int) - seen[1]['overlay']).max() > 10  # alpha moved the overlay


@pytest.mark.parametrize(('resolution', 'order'), [('camera', 'bgr'), ('network', 'rgb')])
def test_demo_model_graph_agrees_with_the_cpu_path(resolution: str, order: str) -> None:
    bundle = read_bundle(DEMO_BUNDLE)
    backend = OnnxRuntimeBackend(bundle, 'cpu')
    graph = RenderTarget((720, 1280), resolution, order).compose(onnx.load(str(bundle.onnx_path)), bundle.palette)
    runner = backend.open_graph(graph)
    rgb = sample_images(1, 720, 1280, seed=7)[0]
    for threshold in (0.0, 0.5):
        cpu = cpu_outputs(backend, (bundle.input.height, bundle.input.width), rgb, resolution, threshold)
        if threshold:
            assert 0.05 < (cpu['labels'] == 255).mean() < 0.95
        assert len(np.unique(cpu['labels'])) > 3
        assert label_agreement(run_graph(runner, rgb, order, threshold), cpu) >= MIN_LABEL_AGREEMENT


def test_the_graphs_contract(tiny_bundle: Path) -> None:
    model = onnx.load(str(read_bundle(tiny_bundle).onnx_path))
    graph = compose_render_graph(model, CITYSCAPES_PALETTE, (90, 160), (64, 128), 'bgr')
    inputs = [(value.name, value.type.tensor_type.elem_type, [d.dim_value for d in value.type.tensor_type.shape.dim])
              for value in graph.graph.input]
    assert inputs == [('camera', TensorProto.UINT8, [1, 90, 160, 3]), ('threshold', TensorProto.FLOAT, []),
                      ('alpha', TensorProto.FLOAT, [])]
    assert tuple(name for name, _, _ in inputs) == RENDER_INPUTS
    outputs = {value.name: (value.type.tensor_type.elem_type, [d.dim_value for d in value.type.tensor_type.shape.dim])
               for value in graph.graph.output}
    assert tuple(outputs) == RENDER_OUTPUTS
    assert outputs['color'] == outputs['overlay'] == (TensorProto.UINT8, [1, 64, 128, 3])
    assert outputs['confidence'] == (TensorProto.FLOAT, [1, 64, 128])
    assert outputs['labels'] == outputs['confidence_mono8'] == (TensorProto.UINT8, [1, 64, 128])
    assert list(graph.opset_import) == list(model.opset_import)
    assert {i.name for i in graph.graph.initializer} >= {f'model/{i.name}' for i in model.graph.initializer}
    assert RenderTarget.of(graph) == RenderTarget((90, 160), 'network', 'bgr')
    again = RenderTarget((90, 160), 'network', 'bgr').compose(onnx.load(str(read_bundle(tiny_bundle).onnx_path)),
                                                              [list(color) for color in CITYSCAPES_PALETTE])
    assert again.SerializeToString() == graph.SerializeToString()  # the engine cache keys it by these bytes


def test_only_the_requested_outputs_are_computed(ort_cpu: OnnxRuntimeBackend) -> None:
    graph = compose_render_graph(channel_model(8, 16), CITYSCAPES_PALETTE, (12, 20), (12, 20), 'rgb')
    labels_only = pruned(graph, ['labels'])
    assert [value.name for value in labels_only.graph.output] == ['labels']
    assert not any(name in node.output for node in labels_only.graph.node for name in ('color', 'confidence'))
    assert {tensor.name for tensor in labels_only.graph.initializer}.isdisjoint({'render/palette_rgb',
                                                                                 'render/palette_bgr'})
    runner = ort_cpu.open_graph(graph)
    camera = channel_frame(12, 20, seed=1)[None]
    everything = runner.run({'camera': camera, **settings(0.5)}, RENDER_OUTPUTS)
    outputs = runner.run({'camera': camera, **settings(0.5)}, ['overlay', 'labels'])
    assert list(outputs) == ['overlay', 'labels']
    for name, array in outputs.items():
        np.testing.assert_array_equal(array, everything[name])
    with pytest.raises(ValueError, match=r"graph input 'camera' must be uint8 \(1, 12, 20, 3\); got uint8 "
                                         r'\(1, 20, 12, 3\)'):
        runner.run({'camera': camera.transpose(0, 2, 1, 3), **settings(0.0)}, ['labels'])
    with pytest.raises(ValueError, match=r"graph input 'threshold' must be float32 \(\); got float64 \(\)"):
        runner.run({'camera': camera, 'threshold': np.array(0.5), 'alpha': np.array(0.5, np.float32)}, ['labels'])
    with pytest.raises(ValueError, match=r"unknown names \['depth'\]"):
        runner.run({'camera': camera, **settings(0.0)}, ['depth'])


@pytest.mark.parametrize(('change', 'match'), [
    ({'output_size': (50, 60)}, r'output size \(50, 60\) must be the camera size \(12, 20\) or the model input size '
                                r'\(8, 16\)'),
    ({'camera_order': 'rgba'}, "camera order 'rgba'; allowed: rgb, bgr"),
    ({'camera_size': (0, 20), 'output_size': (0, 20)}, r'camera size must be \(height, width\) >= 1'),
    ({'model': channel_model(8, 16, opset=13)}, 'the model has opset 13; allowed: >= 17'),
    ({'model': channel_model_of_any_height()}, r"not a bundle graph: expected one input 'image' uint8 \(1, h, w, "
                                               r'3\) with static h, w'),
])
def test_impossible_graphs_are_refused(change: dict, match: str) -> None:
    arguments = {'model': channel_model(8, 16), 'palette': CITYSCAPES_PALETTE, 'camera_size': (12, 20),
                 'output_size': (12, 20), 'camera_order': 'rgb', **change}
    with pytest.raises(ValueError, match=match):
        compose_render_graph(**arguments)


def test_a_backend_without_graphs_says_why() -> None:
    graph = compose_render_graph(channel_model(8, 16), CITYSCAPES_PALETTE, (12, 20), (12, 20), 'rgb')
    with pytest.raises(GraphUnavailable, match='backend channels runs no ONNX graph beside its model; rendering '
                                               'stays on the CPU'):
        ChannelBackend(8, 16).open_graph(graph)


@pytest.mark.parametrize('resolution', ['camera', 'network'])
def test_pipeline_on_the_backends_graph_gives_the_cpu_paths_outputs(tiny_bundle: Path, resolution: str) -> None:
    from night_seg_ros.codec import CameraImage
    from night_seg_ros.pipeline import ModelSetting, OutputRequest, load_pipeline

    setting = ModelSetting(str(tiny_bundle), backend='onnxruntime', device='cpu')
    on_cpu, _ = load_pipeline(setting, 0.4, 0.3, output_resolution=resolution, render_on='cpu')
    on_graph, _ = load_pipeline(setting, 0.4, 0.3, output_resolution=resolution, render_on='backend')
    assert on_cpu.render_graph_of is None and on_graph.render_graph_of is not None
    bgr = np.ascontiguousarray(sample_images(1, 120, 200, seed=11)[0][..., ::-1])
    camera = CameraImage(bgr, 'bgr')
    expected = on_cpu.process(camera)
    got = on_graph.process(camera)
    assert got.labels.shape == expected.labels.shape
    assert np.mean(got.labels == expected.labels) >= 0.999
    agree = got.labels == expected.labels
    np.testing.assert_array_equal(got.color[agree], expected.color[agree])
    assert np.abs(got.overlay.astype(int) - expected.overlay)[agree].max() <= 1
    labels_only = on_graph.infer(camera, OutputRequest(labels=True, color=False, overlay=False, confidence=False))
    assert set(labels_only.rendered) == {'labels'}


def test_a_backend_without_graphs_renders_on_the_cpu_and_says_why(tiny_bundle: Path) -> None:
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    class Log:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def info(self, message: str) -> None:
            self.lines.append(message)

        def warning(self, message: str) -> None:
            self.lines.append(message)

    log = Log()
    pipeline, _ = load_pipeline(ModelSetting(str(tiny_bundle), backend='torch', device='cpu'), log=log,
                                render_on='backend')
    out = pipeline.process(sample_images(1, 48, 64, seed=2)[0])
    assert out.labels.shape == (48, 64)
    assert any('on the CPU' in line and 'torch' in line for line in log.lines), log.lines
