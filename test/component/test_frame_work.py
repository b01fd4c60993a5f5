"""The node's per-frame work now against the code before buffer reuse (bench/frame_work.previous_frame), and the
renderer's reuse of its buffers across frames and output sizes."""
from __future__ import annotations

import numpy as np
import pytest
from image_strategies import BYTES_PER_PIXEL
from sensor_msgs.msg import Image

from night_seg_ros import codec
from night_seg_ros.bench.frame_work import CurrentFrame, ZeroTimeBackend, previous_frame
from night_seg_ros.bench.output_sets import OutputSet
from night_seg_ros.classes import CITYSCAPES_PALETTE
from night_seg_ros.render import RenderSettings
from night_seg_ros.vocabulary import OUTPUTS

CAMERA_HEIGHT, CAMERA_WIDTH = 90, 160


def _message(encoding: str, padding: int, seed: int) -> Image:
    """A real Image of `encoding` with smooth random content and `padding` bytes at the end of each row."""
    rng = np.random.default_rng(seed)
    row = CAMERA_WIDTH * BYTES_PER_PIXEL[encoding]
    coarse = rng.integers(0, 256, (CAMERA_HEIGHT // 10 + 1, row // 10 + 1), dtype=np.uint8)
    pixels = np.repeat(np.repeat(coarse, 10, axis=0), 10, axis=1)[:CAMERA_HEIGHT, :row]
    data = np.zeros((CAMERA_HEIGHT, row + padding), np.uint8)
    data[:, :row] = pixels
    return Image(height=CAMERA_HEIGHT, width=CAMERA_WIDTH, encoding=encoding, is_bigendian=0, step=row + padding,
                 data=data.tobytes())


@pytest.mark.parametrize('encoding', sorted(BYTES_PER_PIXEL))
@pytest.mark.parametrize(('threshold', 'confidence_encoding'), [(0.0, 'mono8'), (0.5, 'mono8'), (0.5, '32FC1')])
def test_outputs_equal_the_previous_code_for_every_encoding(encoding: str, threshold: float,
                                                           confidence_encoding: str) -> None:
    backend = ZeroTimeBackend(32, 64, seed=3)
    output_set = OutputSet('all', OUTPUTS, threshold)
    current = CurrentFrame(backend, CITYSCAPES_PALETTE, output_set, confidence_encoding, alpha=0.3)
    for seed, padding in ((1, 0), (2, 5)):  # the second frame reuses every buffer of the first
        msg = _message(encoding, padding, seed)
        now = current(msg)
        before = previous_frame(msg, backend, CITYSCAPES_PALETTE, threshold, 0.3, confidence_encoding, OUTPUTS, {})
        np.testing.assert_array_equal(now['labels'], before['labels'])
        np.testing.assert_array_equal(now['color'], before['color'])
        assert np.abs(now['overlay'].astype(int) - before['overlay']).max() <= 1
        np.testing.assert_allclose(now['confidence'], before['confidence'], atol=1e-5)
        if threshold > 0:
            assert (now['labels'] == 255).any() and (now['labels'] != 255).any()


def test_network_resolution_outputs_are_the_models_answer_on_the_resized_camera() -> None:
    backend = ZeroTimeBackend(32, 64, seed=4)
    current = CurrentFrame(backend, CITYSCAPES_PALETTE, OutputSet('network', OUTPUTS, 0.0, 'network'))
    views = current(_message('bgr8', 0, 5))
    assert views['labels'].shape == (32, 64) and views['overlay'].shape == (32, 64, 3)
    np.testing.assert_array_equal(views['labels'], backend.labels)
    np.testing.assert_array_equal(views['color'], np.asarray(CITYSCAPES_PALETTE, np.uint8)[backend.labels])


def test_a_live_threshold_change_lands_on_the_next_frame_not_inside_one() -> None:
    backend = ZeroTimeBackend(32, 64, seed=6)
    current = CurrentFrame(backend, CITYSCAPES_PALETTE, OutputSet('all', OUTPUTS))

    inference = current.pipeline.infer(codec.image_to_camera(_message('rgb8', 0, 7)))
    current.pipeline.settings = RenderSettings(confidence_threshold=1.0, overlay_alpha=1.0)
    overlay = current.pipeline.render('overlay', inference)
    labels = current.pipeline.render('labels', inference)
    assert not (labels == 255).any()  # inferred with threshold 0: no pixel unknown
    unchanged = CurrentFrame(backend, CITYSCAPES_PALETTE, OutputSet('all', OUTPUTS))(_message('rgb8', 0, 7))
    np.testing.assert_array_equal(overlay, unchanged['overlay'])  # alpha 0.5, as when the frame was inferred
    later = current.pipeline.infer(codec.image_to_camera(_message('rgb8', 0, 7)))
    assert (current.pipeline.render('labels', later) == 255).all()
