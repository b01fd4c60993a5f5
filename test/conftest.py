"""Shared fixtures: DDS isolation for the whole session, an rclpy context per module that asks for it, and one tiny
untrained bundle with its ONNX; and the layer marker of every test, from its folder.

Layers (markers registered in setup.cfg): unit/ pure functions, component/ one part with its real libraries, dds/
seg_node as its own process over real DDS, slow/ soak, colcon build, training runs, benchmarks.
"""
from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from night_seg_ros.dds import use_large_image_profile

# Isolate DDS before anything imports rclpy: a random domain, discovery on this host only, and the shipped
# large-image Fast DDS profile for the test's own participants (as a camera driver would use it).
os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 101))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# Fast DDS reads its profile file once per process, when the first participant is made: set it here, so that every
# participant of the test process has it whichever test makes the first one (test/component/test_parameters.py
# makes its own context before any test that publishes large images).
use_large_image_profile()

TINY_HEIGHT, TINY_WIDTH = 64, 128
LAYERS = ('unit', 'component', 'dds', 'slow')
"""The folders under test/, each also a marker: `pytest -m "unit or component"` runs the fast layers."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the layer of its folder; a test outside the layer folders is a usage error."""
    root = Path(__file__).parent
    for item in items:
        layer = item.path.relative_to(root).parts[0]
        if layer not in LAYERS:
            raise pytest.UsageError(f'{item.nodeid}: every test lives in one of test/{{{",".join(LAYERS)}}}/')
        item.add_marker(layer)


TEST_BUNDLE_VARIABLE = 'NIGHT_SEG_TEST_BUNDLE'
"""A ready tiny bundle (`night-seg init DIR --onnx --height 64 --width 128`) for a venv without torch (the Jazzy CI
run, like a vehicle, has only ONNX Runtime): `make test-jazzy` makes it with the torch venv and sets this."""


@pytest.fixture(scope='session')
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained SegFormer-B0 bundle at a 64x128 input, exported to ONNX (shared by the whole session)."""
    if os.environ.get(TEST_BUNDLE_VARIABLE):
        return Path(os.environ[TEST_BUNDLE_VARIABLE])
    pytest.importorskip('torch', reason=f'making the test bundle needs torch; without it set {TEST_BUNDLE_VARIABLE} '
                                        'to a bundle made by night-seg init DIR --onnx --height 64 --width 128')
    from night_seg_ros.export import export_onnx
    from night_seg_ros.model import create_untrained_bundle

    bundle = create_untrained_bundle(tmp_path_factory.mktemp('tiny_bundle'), height=TINY_HEIGHT, width=TINY_WIDTH)
    export_onnx(bundle)
    return bundle.path


@pytest.fixture(scope='module')
def ros_context() -> Iterator[None]:
    """rclpy initialised for one test module's in-process nodes, with the large-image profile a camera driver uses.

    Modules that talk over DDS take it with `pytestmark = pytest.mark.usefixtures('ros_context')`.
    """
    import rclpy

    from night_seg_ros.dds import use_large_image_profile

    use_large_image_profile()
    rclpy.init()
    yield
    rclpy.try_shutdown()
