"""seg_node under random input over real DDS: random messages interleaved with good frames; every good one answered.

The node runs as its own process (raw and compressed transports). Each hypothesis example publishes a batch of
random messages (see image_strategies) and then one good frame, and waits for all four outputs of that frame. At the
end the node is alive, counted the bad input, and its worker never failed (only ImageDecodeError reached it).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_strategies import any_images, compressed_images
from sensor_msgs.msg import CompressedImage

from night_seg_ros.bench.probe import Probe
from night_seg_ros.codec import numpy_to_image
from night_seg_ros.node_process import NodeProcess

GOOD_FRAME = cv2.resize(np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8), (320, 240))
BATCHES = settings(max_examples=10, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


pytestmark = pytest.mark.usefixtures('ros_context')


def good_message(transport: str, probe: Probe):
    """A valid frame of `transport` ('raw' bgr8 Image or 'compressed' JPEG), stamped now."""
    if transport == 'raw':
        return numpy_to_image(GOOD_FRAME, 'bgr8', probe.header())
    ok, jpeg = cv2.imencode('.jpg', GOOD_FRAME)
    assert ok
    return CompressedImage(header=probe.header(), format='jpeg', data=jpeg.tobytes())


@pytest.mark.parametrize(('transport', 'messages'), [('raw', any_images), ('compressed', compressed_images)])
def test_random_messages_between_good_frames_never_stop_the_answers(tiny_bundle, tmp_path, transport, messages):
    namespace = f'/random_{transport}'
    node = NodeProcess(tmp_path, f'model:={tiny_bundle}', 'backend:=onnxruntime', f'input_transport:={transport}',
                       'diagnostics_period:=0.2', namespace=namespace)
    probe = Probe(f'random_{transport}_probe', namespace=namespace)
    publisher = probe.image_pub if transport == 'raw' else probe.compressed_pub
    try:
        node.wait_ready()
        probe.wait_for_node()

        def answered_once() -> bool:  # until the node also sees our output subscriptions (slow discovery under load)
            good = good_message(transport, probe)
            publisher.publish(good)
            return probe.spin_until(lambda: len(probe.outputs_for(good.header)) == 4, 1.0)

        assert probe.spin_until(answered_once, 60.0), f'no answer to a good frame:\n{node.log()[-2000:]}'

        @BATCHES
        @given(st.lists(messages, min_size=1, max_size=5))
        def random_batch_then_a_good_frame(batch):
            for msg in batch:
                msg.header = probe.header()
                publisher.publish(msg)
                probe.spin_for(0.02)
            good = good_message(transport, probe)
            publisher.publish(good)
            assert probe.spin_until(lambda: len(probe.outputs_for(good.header)) == 4, 20.0), \
                f'no answer to the good frame after {len(batch)} random messages:\n{node.log()[-2000:]}'
            assert node.process.poll() is None

        random_batch_then_a_good_frame()
        probe.received['diagnostics'].clear()
        assert probe.spin_until(lambda: bool(probe.last_diagnostics()), 5.0)
        totals = probe.last_diagnostics()
        assert int(totals['bad_input']) > 0, totals
        assert int(totals['errors']) == 0, node.log()[-2000:]
        assert int(totals['processed']) >= 10
        assert node.process.poll() is None
    finally:
        probe.node.destroy_node()
        assert node.interrupt() == 0
