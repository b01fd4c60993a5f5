"""Tests for night_seg_ros.codec with real sensor_msgs messages and real encoded bytes."""

import sys
from array import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from night_seg_ros.codec import (
    MAX_PIXELS,
    MAX_SIDE,
    SUPPORTED_ENCODINGS,
    ImageDecodeError,
    compressed_to_rgb,
    image_to_rgb,
    numpy_to_image,
    to_8_bits,
)

HEIGHT, WIDTH = 16, 24
_RNG = np.random.default_rng(20240611)
NOISE = _RNG.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
LOW_BYTES = _RNG.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint16)
ALPHA = _RNG.integers(0, 256, (HEIGHT, WIDTH, 1), dtype=np.uint8)
BLOCK_COLOURS = np.array([[(200, 40, 40), (40, 180, 60)], [(50, 60, 210), (220, 200, 50)]], dtype=np.uint8)
PADS = (0, 13)


def _blocks(block_height: int, block_width: int) -> np.ndarray:
    """Return a 2 x 2 grid of flat BLOCK_COLOURS blocks as RGB uint8."""
    return np.repeat(np.repeat(BLOCK_COLOURS, block_height, axis=0), block_width, axis=1)


def _assert_blocks(decoded: np.ndarray, expected: np.ndarray, margin: int, atol: int) -> None:
    """Assert ``decoded`` matches ``expected`` within ``atol`` inside each of the 2 x 2 flat blocks."""
    assert decoded.shape == expected.shape
    block_height, block_width = decoded.shape[0] // 2, decoded.shape[1] // 2
    for row, col in np.ndindex(2, 2):
        rows = slice(row * block_height + margin, (row + 1) * block_height - margin)
        cols = slice(col * block_width + margin, (col + 1) * block_width - margin)
        error = np.abs(decoded[rows, cols].astype(int) - expected[rows, cols]).max()
        assert error <= atol, f'block {row},{col}: error {error} > {atol}'


def _gray_rgb(gray: np.ndarray) -> np.ndarray:
    """Return an H x W grey array as H x W x 3."""
    return np.repeat(gray[..., np.newaxis], 3, axis=2)


def _gray16(gray: np.ndarray) -> np.ndarray:
    """Return 16-bit samples whose high byte is ``gray`` and whose low byte is noise."""
    return gray.astype(np.uint16) << 8 | LOW_BYTES


def _image(rows: np.ndarray, encoding: str, width: int, pad: int = 0, big_endian: int = 0) -> Image:
    """Build a real Image from H x row-bytes uint8 ``rows``, padding each row with ``pad`` junk bytes."""
    padded = np.full((rows.shape[0], rows.shape[1] + pad), 0xAB, dtype=np.uint8)
    padded[:, :rows.shape[1]] = rows
    return Image(height=rows.shape[0], width=width, encoding=encoding, is_bigendian=big_endian,
                 step=padded.shape[1], data=array('B', padded.tobytes()))


def _pack_channels(order: tuple[int, ...], alpha: bool = False):
    """Return an encoder writing RGB as interleaved channels in ``order``, optionally with alpha."""
    def encode(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pixels = rgb[..., order]
        if alpha:
            pixels = np.concatenate([pixels, ALPHA], axis=2)
        return pixels.reshape(rgb.shape[0], -1), rgb
    return encode


def _pack_mono8(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode the red channel as 8-bit grey."""
    return rgb[..., 0], _gray_rgb(rgb[..., 0])


def _pack_mono16(rgb: np.ndarray, byte_order: str = '<') -> tuple[np.ndarray, np.ndarray]:
    """Encode the red channel as the high byte of 16-bit grey in ``byte_order``."""
    samples = _gray16(rgb[..., 0]).astype(f'{byte_order}u2')
    return samples.view(np.uint8).reshape(rgb.shape[0], -1), _gray_rgb(rgb[..., 0])


def _pack_channels16(order: tuple[int, ...], alpha: bool = False):
    """Return an encoder writing RGB as the high bytes of interleaved 16-bit channels in ``order`` (little endian),
    optionally with alpha."""
    def encode(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pixels = rgb[..., order]
        if alpha:
            pixels = np.concatenate([pixels, ALPHA], axis=2)
        samples = np.ascontiguousarray((pixels.astype(np.uint16) << 8 | LOW_BYTES[..., np.newaxis]).astype('<u2'))
        return samples.view(np.uint8).reshape(rgb.shape[0], -1), rgb
    return encode


def _pack_yuv422(order: tuple[str, str, str, str]):
    """Return an encoder to BT.601 limited-range YUV 4:2:2 with bytes in ``order`` per pixel pair."""
    def encode(rgb: np.ndarray) -> np.ndarray:
        r, g, b = np.moveaxis(rgb.astype(np.float64), 2, 0)
        y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
        u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
        v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
        planes = {'Y0': y[:, 0::2], 'Y1': y[:, 1::2],
                  'U': (u[:, 0::2] + u[:, 1::2]) / 2, 'V': (v[:, 0::2] + v[:, 1::2]) / 2}
        packed = np.stack([planes[name] for name in order], axis=2)
        return np.clip(np.rint(packed), 0, 255).astype(np.uint8).reshape(rgb.shape[0], -1)
    return encode


def _mosaic(pattern: str):
    """Return an encoder sampling RGB through the 2 x 2 Bayer ``pattern`` (e.g. 'rggb')."""
    def encode(rgb: np.ndarray) -> np.ndarray:
        mosaic = np.empty(rgb.shape[:2], dtype=np.uint8)
        for index, colour in enumerate(pattern):
            dy, dx = divmod(index, 2)
            mosaic[dy::2, dx::2] = rgb[dy::2, dx::2, 'rgb'.index(colour)]
        return mosaic
    return encode


EXACT_ENCODERS = {
    'rgb8': _pack_channels((0, 1, 2)),
    'bgr8': _pack_channels((2, 1, 0)),
    '8UC3': _pack_channels((2, 1, 0)),
    'rgba8': _pack_channels((0, 1, 2), alpha=True),
    'bgra8': _pack_channels((2, 1, 0), alpha=True),
    '8UC4': _pack_channels((2, 1, 0), alpha=True),
    'mono8': _pack_mono8,
    '8UC1': _pack_mono8,
    'mono16': _pack_mono16,
    '16UC1': _pack_mono16,
    'rgb16': _pack_channels16((0, 1, 2)),
    'bgr16': _pack_channels16((2, 1, 0)),
    'rgba16': _pack_channels16((0, 1, 2), alpha=True),
    'bgra16': _pack_channels16((2, 1, 0), alpha=True),
}
UYVY = ('U', 'Y0', 'V', 'Y1')
YUYV = ('Y0', 'U', 'Y1', 'V')
LOSSY_ENCODERS = {
    'yuv422': _pack_yuv422(UYVY),
    'uyvy': _pack_yuv422(UYVY),
    'yuv422_yuy2': _pack_yuv422(YUYV),
    'yuyv': _pack_yuv422(YUYV),
    'bayer_rggb8': _mosaic('rggb'),
    'bayer_bggr8': _mosaic('bggr'),
    'bayer_gbrg8': _mosaic('gbrg'),
    'bayer_grbg8': _mosaic('grbg'),
}


def _assert_fresh_rgb(decoded: np.ndarray, height: int, width: int, data: array) -> None:
    """Assert ``decoded`` is a C-contiguous height x width x 3 uint8 array not sharing memory with ``data``."""
    assert decoded.dtype == np.uint8
    assert decoded.shape == (height, width, 3)
    assert decoded.flags['C_CONTIGUOUS']
    assert not np.shares_memory(decoded, np.frombuffer(data, dtype=np.uint8))


def test_every_supported_encoding_is_tested():
    assert set(SUPPORTED_ENCODINGS) == set(EXACT_ENCODERS) | set(LOSSY_ENCODERS)


@pytest.mark.parametrize('pad', PADS)
@pytest.mark.parametrize('encoding', EXACT_ENCODERS)
def test_exact_encoding_round_trip(encoding, pad):
    rows, expected = EXACT_ENCODERS[encoding](NOISE)
    msg = _image(rows, encoding, WIDTH, pad)
    decoded = image_to_rgb(msg)
    _assert_fresh_rgb(decoded, msg.height, msg.width, msg.data)
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize('pad', PADS)
@pytest.mark.parametrize('encoding', LOSSY_ENCODERS)
def test_lossy_encoding_flat_colours(encoding, pad):
    blocks = _blocks(HEIGHT // 2, WIDTH // 2)
    msg = _image(LOSSY_ENCODERS[encoding](blocks), encoding, WIDTH, pad)
    decoded = image_to_rgb(msg)
    _assert_fresh_rgb(decoded, msg.height, msg.width, msg.data)
    _assert_blocks(decoded, blocks, margin=2, atol=3)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
def test_16bit_byte_order(encoding):
    decoded = [image_to_rgb(_image(_pack_mono16(NOISE, order)[0], encoding, WIDTH, big_endian=int(order == '>')))
               for order in '<>']
    np.testing.assert_array_equal(decoded[0], _gray_rgb(NOISE[..., 0]))
    np.testing.assert_array_equal(decoded[1], decoded[0])


@pytest.mark.parametrize('bit_depth', [10, 12, 14])
@pytest.mark.parametrize('encoding', ['mono16', '16UC1', 'rgb16', 'bgr16'])
@pytest.mark.parametrize('order', '<>')
def test_16bit_input_is_scaled_by_its_bit_depth(encoding, bit_depth, order):
    """A 12-bit sensor in a 16-bit container: 0-4095 fills 0-255 (keeping the high byte would give 0-15)."""
    channels = 1 if encoding in ('mono16', '16UC1') else 3
    levels = np.arange(HEIGHT * WIDTH * channels, dtype=np.uint32).reshape(HEIGHT, WIDTH, channels)
    samples = (levels * ((1 << bit_depth) - 1) // levels.max()).astype(f'{order}u2')  # the sensor's full range
    msg = _image(samples.view(np.uint8).reshape(HEIGHT, -1), encoding, WIDTH, big_endian=int(order == '>'))
    decoded = image_to_rgb(msg, bit_depth=bit_depth).astype(int)
    expected = (samples.astype(int) >> (bit_depth - 8)).clip(0, 255)
    if encoding == 'bgr16':
        expected = expected[..., ::-1]
    np.testing.assert_array_equal(decoded, np.broadcast_to(expected, decoded.shape))
    assert decoded.max() == 255 and image_to_rgb(msg).max() < 1 << (bit_depth - 8)  # 16 would leave it dark


def test_bit_depth_saturates_above_its_range():
    assert list(to_8_bits(np.array([0, 4095, 4096, 65535], np.uint16), 12)) == [0, 255, 255, 255]
    assert list(to_8_bits(np.array([3, 255, 256], np.uint16), 8)) == [3, 255, 255]
    with pytest.raises(ValueError, match='allowed: 8 .. 16'):
        to_8_bits(np.zeros(1, np.uint16), 17)


def test_16bit_png_is_scaled_by_its_bit_depth():
    gray = (np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH) * 4095 // (HEIGHT * WIDTH - 1)).astype(np.uint16)
    _ok, png = cv2.imencode('.png', gray)
    decoded = compressed_to_rgb(CompressedImage(format='png', data=png.tobytes()), bit_depth=12)
    np.testing.assert_array_equal(decoded[..., 0], (gray >> 4).astype(np.uint8))


@pytest.mark.parametrize('container', [bytes, bytearray, lambda raw: array('B', raw), list])
def test_data_containers(container):
    raw = bytearray(NOISE.tobytes())
    msg = SimpleNamespace(height=HEIGHT, width=WIDTH, encoding='rgb8', is_bigendian=0, step=WIDTH * 3,
                          data=container(raw))
    decoded = image_to_rgb(msg)
    np.testing.assert_array_equal(decoded, NOISE)
    if isinstance(msg.data, bytearray):
        msg.data[:] = bytes(len(raw))
        np.testing.assert_array_equal(decoded, NOISE)


def _raw_message(**fields) -> Image:
    """Return a valid 5 x 30 rgb8 Image with ``fields`` overridden."""
    values = {'height': 30, 'width': 5, 'encoding': 'rgb8', 'step': 15, 'data': array('B', bytes(450))}
    values.update(fields)
    return Image(**values)


@pytest.mark.parametrize(('fields', 'match'), [
    ({'encoding': 'rgb32'}, r"unsupported encoding 'rgb32'; supported: rgb8, bgr8"),
    ({'encoding': ''}, r"unsupported encoding ''"),
    ({'width': 0}, r'width 0 / height 30'),
    ({'height': 0}, r'width 5 / height 0'),
    ({'width': MAX_SIDE + 1, 'step': 3 * MAX_SIDE + 3}, rf'{MAX_SIDE + 1} x 30 exceeds the limit'),
    ({'width': 12000, 'height': 12000, 'step': 36000}, rf'12000 x 12000 exceeds .* {MAX_PIXELS} pixels'),
    ({'step': 10}, r'step 10 is smaller than one row: width 5 x 3 bytes per pixel = 15'),
    ({'step': 40, 'data': array('B', bytes(1000))},
     r'data has 1000 bytes, expected at least step\*height = 1200 \(step 40, height 30\)'),
    ({'data': array('B', bytes(449))}, r'data has 449 bytes, expected at least step\*height = 450'),
    ({'encoding': 'yuv422', 'step': 10}, r"'yuv422' needs an even width, got width 5"),
    ({'encoding': 'yuv422_yuy2', 'step': 10}, r"'yuv422_yuy2' needs an even width"),
])
def test_malformed_image(fields, match):
    with pytest.raises(ImageDecodeError, match=match):
        image_to_rgb(_raw_message(**fields))


@pytest.mark.parametrize(('data', 'match'), [
    ([300] * 450, r'data must be bytes or a sequence of ints 0\.\.255, got list'),
    (None, r'got NoneType'),
])
def test_malformed_data_container(data, match):
    msg = SimpleNamespace(height=30, width=5, encoding='rgb8', is_bigendian=0, step=15, data=data)
    with pytest.raises(ImageDecodeError, match=match):
        image_to_rgb(msg)


def _encode(ext: str, image: np.ndarray) -> bytes:
    """Return ``image`` (OpenCV channel order) encoded by cv2.imencode as ``ext``."""
    ok, buffer = cv2.imencode(ext, image)
    assert ok
    return buffer.tobytes()


def _compressed(data: bytes, fmt: str = 'jpeg') -> CompressedImage:
    """Build a real CompressedImage."""
    return CompressedImage(format=fmt, data=array('B', data))


JPEG_BLOCKS = _blocks(32, 32)
GRAY16 = _gray16(NOISE[..., 0])
COLOUR16 = NOISE[..., ::-1].astype(np.uint16) << 8 | LOW_BYTES[..., np.newaxis]


@pytest.mark.parametrize(('fmt', 'image', 'expected'), [
    ('png', NOISE[..., ::-1], NOISE),
    ('rgb8; png compressed bgr8', np.concatenate([NOISE[..., ::-1], ALPHA], axis=2), NOISE),
    ('mono8; png compressed mono8', NOISE[..., 0], _gray_rgb(NOISE[..., 0])),
    ('mono16; png compressed mono16', GRAY16, _gray_rgb(NOISE[..., 0])),
    ('bgr16; png compressed bgr16', COLOUR16, NOISE),
])
def test_png(fmt, image, expected):
    msg = _compressed(_encode('.png', image), fmt)
    decoded = compressed_to_rgb(msg)
    _assert_fresh_rgb(decoded, HEIGHT, WIDTH, msg.data)
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize(('fmt', 'image', 'expected'), [
    ('jpeg', JPEG_BLOCKS[..., ::-1], JPEG_BLOCKS),
    ('rgb8; jpeg compressed bgr8', JPEG_BLOCKS[..., ::-1], JPEG_BLOCKS),
    ('mono8; jpeg compressed mono8', JPEG_BLOCKS[..., 1], _gray_rgb(JPEG_BLOCKS[..., 1])),
])
def test_jpeg(fmt, image, expected):
    msg = _compressed(_encode('.jpg', image), fmt)
    decoded = compressed_to_rgb(msg)
    _assert_fresh_rgb(decoded, *expected.shape[:2], msg.data)
    _assert_blocks(decoded, expected, margin=8, atol=12)


JPEG = _encode('.jpg', JPEG_BLOCKS)
PNG = _encode('.png', NOISE)


def _declare_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Return ``jpeg`` with the size in its baseline start-of-frame header replaced (pixels untouched)."""
    sof = jpeg.index(b'\xff\xc0')
    return jpeg[:sof + 5] + height.to_bytes(2, 'big') + width.to_bytes(2, 'big') + jpeg[sof + 9:]


@pytest.mark.parametrize(('data', 'fmt', 'match'), [
    pytest.param(JPEG[:len(JPEG) // 2], 'jpeg', r'corrupt or truncated JPEG', id='truncated-jpeg'),
    pytest.param(JPEG[:3] + _RNG.bytes(500), 'jpeg', r'corrupt or truncated JPEG', id='jpeg-magic-then-noise'),
    pytest.param(PNG[:len(PNG) // 2], 'png', r'corrupt or truncated PNG', id='truncated-png'),
    pytest.param(_RNG.bytes(500), 'jpeg',
                 r'unrecognised compressed data \(starts with [0-9a-f]{16}\); supported: JPEG and PNG', id='noise'),
    pytest.param(b'', 'jpeg', r'compressed image data is empty', id='empty'),
    pytest.param(PNG, '16UC1; compressedDepth png',
                 r"compressedDepth format '16UC1; compressedDepth png' is not supported", id='compressed-depth'),
    pytest.param(_encode('.png', np.zeros((1, MAX_SIDE + 1), np.uint8)), 'png',
                 rf'{MAX_SIDE + 1} x 1 exceeds the limit', id='wide-png'),
    pytest.param(_encode('.jpg', np.zeros((MAX_SIDE + 1, 8), np.uint8)), 'jpeg',
                 rf'8 x {MAX_SIDE + 1} exceeds the limit', id='tall-jpeg'),
    pytest.param(_declare_jpeg_size(JPEG, 12000, 12000), 'jpeg',
                 rf'12000 x 12000 exceeds .* {MAX_PIXELS} pixels', id='jpeg-header-too-many-pixels'),
])
def test_malformed_compressed(data, fmt, match):
    with pytest.raises(ImageDecodeError, match=match):
        compressed_to_rgb(_compressed(data, fmt))


@pytest.mark.parametrize(('encoding', 'pixels', 'bytes_per_pixel'), [
    ('mono8', NOISE[..., 0], 1),
    ('rgb8', NOISE, 3),
    ('bgr8', NOISE[..., ::-1], 3),
    ('32FC1', _RNG.standard_normal((HEIGHT, WIDTH)).astype(np.float32), 4),
])
def test_numpy_to_image(encoding, pixels, bytes_per_pixel):
    header = Header(frame_id='camera')
    msg = numpy_to_image(pixels, encoding, header)
    assert isinstance(msg, Image)
    assert msg.header is header
    assert header.frame_id == 'camera'
    assert (msg.height, msg.width, msg.encoding) == (HEIGHT, WIDTH, encoding)
    assert msg.step == WIDTH * bytes_per_pixel
    assert msg.is_bigendian == (sys.byteorder == 'big')
    np.testing.assert_array_equal(np.frombuffer(msg.data, dtype=pixels.dtype).reshape(pixels.shape), pixels)
    if encoding != '32FC1':
        expected = _gray_rgb(pixels) if encoding == 'mono8' else NOISE
        np.testing.assert_array_equal(image_to_rgb(msg), expected)


@pytest.mark.parametrize(('pixels', 'encoding', 'error', 'match'), [
    (NOISE.astype(np.float64)[..., 0], '32FC1', ValueError, r"'32FC1' needs dtype float32, got float64"),
    (NOISE.astype(np.uint16)[..., 0], 'mono8', ValueError, r"'mono8' needs dtype uint8, got uint16"),
    (NOISE[..., 0], 'rgb8', ValueError, r"'rgb8' needs shape H x W x 3, got \(16, 24\)"),
    (np.dstack([NOISE, ALPHA]), 'bgr8', ValueError, r"'bgr8' needs shape H x W x 3, got \(16, 24, 4\)"),
    (NOISE, 'mono8', ValueError, r"'mono8' needs shape H x W, got \(16, 24, 3\)"),
    (NOISE, 'rgba8', ValueError, r"unsupported output encoding 'rgba8'; supported: mono8, rgb8, bgr8, 32FC1"),
    (np.zeros((0, 5), np.uint8), 'mono8', ValueError, r'empty array of shape \(0, 5\)'),
    (NOISE.tolist(), 'rgb8', TypeError, r'expected a numpy array, got list'),
])
def test_numpy_to_image_rejects(pixels, encoding, error, match):
    with pytest.raises(error, match=match):
        numpy_to_image(pixels, encoding, Header())


def test_numpy_to_image_full_hd():
    msg = numpy_to_image(np.zeros((1080, 1920, 3), dtype=np.uint8), 'rgb8', Header())
    assert len(msg.data) == 1080 * 1920 * 3
    assert msg.step == 1920 * 3
