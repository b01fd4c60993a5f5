"""Property tests of the codec: whatever arrives, ImageDecodeError is the only exception that escapes it.

Random encodings, sizes, steps, endianness and bytes for sensor_msgs/Image; random bytes, JPEG/PNG headers followed by
garbage, and real JPEG/PNG files truncated, overwritten or with absurd sizes for sensor_msgs/CompressedImage.
Well-formed messages decode to exactly the pixels they carry.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from image_strategies import BYTES_PER_PIXEL, any_images, compressed_images, valid_images
from sensor_msgs.msg import CompressedImage, Image

from night_seg_ros.codec import ImageDecodeError, compressed_to_rgb, image_to_rgb

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decoded_or_refused(decode, msg) -> np.ndarray | None:
    """Decode `msg`; None when the codec refused it with ImageDecodeError (any other exception fails the test)."""
    try:
        return decode(msg)
    except ImageDecodeError as error:
        assert str(error), 'ImageDecodeError must say what is wrong'
        return None


@PROPERTY
@given(any_images)
def test_raw_image_decodes_to_its_size_or_raises_image_decode_error(msg: Image):
    rgb = decoded_or_refused(image_to_rgb, msg)
    if rgb is not None:
        assert rgb.shape == (msg.height, msg.width, 3)
        assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous


@PROPERTY
@given(compressed_images)
def test_compressed_image_decodes_or_raises_image_decode_error(msg: CompressedImage):
    rgb = decoded_or_refused(compressed_to_rgb, msg)
    if rgb is not None:
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[0] >= 1 and rgb.shape[1] >= 1
        assert rgb.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(valid_images())
def test_well_formed_image_decodes_to_its_pixels(msg: Image):
    rgb = image_to_rgb(msg)
    assert rgb.shape == (msg.height, msg.width, 3)
    data = np.frombuffer(bytes(msg.data), np.uint8)
    row_bytes = msg.width * BYTES_PER_PIXEL[msg.encoding]
    rows = data[:msg.step * msg.height].reshape(msg.height, msg.step)[:, :row_bytes]
    if msg.encoding == 'rgb8':
        assert np.array_equal(rgb, rows.reshape(msg.height, msg.width, 3))
    elif msg.encoding in ('bgr8', '8UC3'):
        assert np.array_equal(rgb, rows.reshape(msg.height, msg.width, 3)[:, :, ::-1])
    elif msg.encoding in ('mono16', '16UC1'):
        high = rows.reshape(msg.height, msg.width, 2)[:, :, 0 if msg.is_bigendian else 1]
        assert all(np.array_equal(rgb[:, :, channel], high) for channel in range(3))
    elif msg.encoding == 'rgb16':
        high = rows.reshape(msg.height, msg.width, 3, 2)[..., 0 if msg.is_bigendian else 1]
        assert np.array_equal(rgb, high)
    rgb[...] = 0  # the result owns its memory: writing it leaves the message alone
    assert bytes(msg.data) == data.tobytes()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 16), st.integers(1, 16), st.integers(0, 255), st.integers(0, 2**16 - 1))
def test_16_bit_endianness_keeps_the_high_byte(width: int, height: int, is_bigendian: int, value: int):
    order = '>' if is_bigendian else '<'
    pixels = np.full((height, width), value, dtype=f'{order}u2')
    msg = Image(height=height, width=width, encoding='mono16', is_bigendian=is_bigendian, step=2 * width,
                data=pixels.tobytes())
    assert (image_to_rgb(msg) == value >> 8).all()
