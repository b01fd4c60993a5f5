"""Hypothesis strategies for image messages: well-formed ones, malformed ones and random bytes.

Shared by the codec's property tests and the node's random-input test. Every message is a real sensor_msgs message,
so each field holds what a publisher on the wire could send (uint32 sizes, uint8 is_bigendian, any string).
"""
from __future__ import annotations

import cv2
import numpy as np
from hypothesis import strategies as st
from sensor_msgs.msg import CompressedImage, Image

from night_seg_ros.codec import SUPPORTED_ENCODINGS

BYTES_PER_PIXEL = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1, 'mono16': 2, '8UC1': 1, '8UC3': 3,
                   '8UC4': 4, '16UC1': 2, 'yuv422': 2, 'uyvy': 2, 'yuv422_yuy2': 2, 'yuyv': 2, 'bayer_rggb8': 1,
                   'bayer_bggr8': 1, 'bayer_gbrg8': 1, 'bayer_grbg8': 1, 'rgb16': 6, 'bgr16': 6, 'rgba16': 8,
                   'bgra16': 8}
EVEN_WIDTH = ('yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv')
UNSUPPORTED = ('rgb32', 'bgr16x', '16UC3', '32FC1', '16SC1', '64FC1', 'nv21', 'jpeg', 'RGB8', '', ' rgb8')
UINT32_MAX = 2**32 - 1

encodings = st.one_of(st.sampled_from(SUPPORTED_ENCODINGS), st.sampled_from(UNSUPPORTED), st.text(max_size=12))
sizes = st.one_of(st.integers(0, 48), st.sampled_from([16383, 16384, 16385, 100_000, UINT32_MAX]))


@st.composite
def valid_images(draw: st.DrawFn) -> Image:
    """A well-formed Image of a supported encoding: rows possibly padded, data possibly longer than step * height."""
    encoding = draw(st.sampled_from(SUPPORTED_ENCODINGS))
    width = draw(st.integers(1, 24)) * (2 if encoding in EVEN_WIDTH else 1)
    height = draw(st.integers(1, 24))
    step = width * BYTES_PER_PIXEL[encoding] + draw(st.integers(0, 7))
    data = draw(st.binary(min_size=step * height, max_size=step * height)) + draw(st.binary(max_size=5))
    return Image(height=height, width=width, encoding=encoding, is_bigendian=draw(st.integers(0, 1)), step=step,
                 data=data)


@st.composite
def random_images(draw: st.DrawFn) -> Image:
    """An Image with every field drawn on its own: any encoding text, sizes, step, endianness and bytes."""
    height, width = draw(sizes), draw(sizes)
    step = draw(st.one_of(st.integers(0, 200), st.just(width * 3), st.integers(0, UINT32_MAX)))
    return Image(height=height, width=width, encoding=draw(encodings), is_bigendian=draw(st.integers(0, 255)),
                 step=step, data=draw(st.binary(max_size=4096)))


@st.composite
def mutated(draw: st.DrawFn, image: Image) -> Image:
    """`image` with one field replaced by a random value (a mostly valid message with one defect)."""
    field = draw(st.sampled_from(['height', 'width', 'step', 'encoding', 'is_bigendian', 'data']))
    values = {'height': sizes, 'width': sizes, 'step': st.integers(0, UINT32_MAX), 'encoding': encodings,
              'is_bigendian': st.integers(0, 255), 'data': st.binary(max_size=4096)}
    setattr(image, field, draw(values[field]))
    return image


any_images = st.one_of(random_images(), valid_images(), valid_images().flatmap(mutated))


@st.composite
def encoded_images(draw: st.DrawFn) -> bytes:
    """A real JPEG or PNG: 8-bit grey, BGR or BGRA, or 16-bit grey or BGR (PNG), 1..40 pixels a side."""
    kind = draw(st.sampled_from(['.jpg', '.png']))
    channels = draw(st.sampled_from([1, 3] if kind == '.jpg' else [1, 3, 4]))
    dtype = np.uint16 if kind == '.png' and draw(st.booleans()) else np.uint8
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, (height, width, channels), dtype=dtype)
    ok, encoded = cv2.imencode(kind, pixels if channels > 1 else pixels[:, :, 0])
    assert ok
    return encoded.tobytes()


@st.composite
def corrupted(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` truncated, with bytes overwritten, or with its size fields set to absurd values."""
    how = draw(st.sampled_from(['truncate', 'flip', 'size']))
    buffer = bytearray(data)
    if how == 'truncate':
        return bytes(buffer[:draw(st.integers(0, len(buffer)))])
    if how == 'flip':
        for _ in range(draw(st.integers(1, 8))):
            buffer[draw(st.integers(0, len(buffer) - 1))] = draw(st.integers(0, 255))
        return bytes(buffer)
    if buffer.startswith(b'\x89PNG') and len(buffer) >= 24:
        buffer[16:24] = draw(st.binary(min_size=8, max_size=8))  # IHDR width and height
    else:
        marker = buffer.find(b'\xff\xc0')  # baseline start-of-frame: 2 bytes length, precision, height, width
        if marker >= 0 and len(buffer) >= marker + 9:
            buffer[marker + 5:marker + 9] = draw(st.binary(min_size=4, max_size=4))
    return bytes(buffer)


compressed_payloads = st.one_of(
    st.binary(max_size=2048),
    st.binary(max_size=2048).map(lambda tail: b'\xff\xd8\xff' + tail),
    st.binary(max_size=2048).map(lambda tail: b'\x89PNG\r\n\x1a\n' + tail),
    encoded_images(),
    encoded_images().flatmap(corrupted),
)
formats = st.one_of(st.sampled_from(['jpeg', 'png', 'rgb8; jpeg compressed bgr8', '16UC1; compressedDepth png', '']),
                    st.text(max_size=20))
compressed_images = st.builds(CompressedImage, format=formats, data=compressed_payloads)
