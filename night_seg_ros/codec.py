"""Conversion between ROS 2 image messages and numpy arrays.

Decoding turns a ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` into an
``H x W x 3`` ``uint8`` RGB array (``image_to_array`` keeps a mono8 / rgb8 / bgr8 / 32FC1 image in its own
encoding); encoding turns an array into the fields of a ``sensor_msgs/Image`` (``image_fields``), an rclpy message
(``numpy_to_image``) or a message to render into (``image_buffer``). Messages read from bags decode the same way.
Everything is done with numpy views and OpenCV; there are no per-pixel Python loops.

Any unsupported or malformed message makes the decoders raise :class:`ImageDecodeError`
(a ``ValueError``) and nothing else; its message names the problem and what is allowed.
16-bit data is reduced to 8 bits by its declared bit depth (``bit_depth``, 16 unless told): a sample is shifted
right by ``bit_depth - 8`` and saturates at 255, so a 12-bit sensor's 0-4095 in a mono16 container fills 0-255
(keeping the high byte, as for 16, would leave it almost black).

This module does not need ``rclpy``; it only imports the ``sensor_msgs`` message classes.
"""

import sys
from array import array as _byte_array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from night_seg_ros.errors import NightSegError

MAX_SIDE = 16384
"""Largest accepted width or height, in pixels."""

MAX_PIXELS = 100_000_000
"""Largest accepted ``width * height``."""

_JPEG_MAGIC = b'\xff\xd8\xff'
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers carry the image size; 0xC4, 0xC8 and 0xCC are other segments.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# JPEG markers that stand alone, without a length field.
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD9)) | {0x01}
_JPEG_START_OF_SCAN = 0xDA


class ImageDecodeError(NightSegError, ValueError):
    """An image message is unsupported or malformed; the message says why and what is allowed."""


@dataclass(frozen=True)
class CameraImage:
    """A decoded camera frame: uint8 (H, W, 3) `pixels` in channel `order` 'rgb' or 'bgr'.

    For rgb8, bgr8 and 8UC3 messages and colour JPEG/PNG the pixels are the message's own bytes (a view of its data)
    or OpenCV's decoded BGR image, so a frame is not converted at the camera's size; read them, never write them.
    """

    pixels: np.ndarray
    order: str

    def rgb(self) -> np.ndarray:
        """The pixels as a new uint8 (H, W, 3) RGB array."""
        return cv2.cvtColor(self.pixels, cv2.COLOR_BGR2RGB) if self.order == 'bgr' else self.pixels.copy()


# A decoder takes the pixel rows (H x W*bytes_per_pixel uint8, padding already cut off), whether 16-bit data is
# big-endian and its bit depth, and returns a new C-contiguous H x W x 3 uint8 RGB array.
_Decoder = Callable[[np.ndarray, bool, int], np.ndarray]

BIT_DEPTHS = range(8, 17)
"""Significant bits a 16-bit sample may declare: 16 (the full range), 10 or 12 for packed sensors, ..."""


@dataclass(frozen=True)
class _Layout:
    """How the bytes of one raw encoding are laid out and how to turn them into RGB."""

    bytes_per_pixel: int
    decode: _Decoder
    even_width: bool = False


def _rgb_copy(rows: np.ndarray, _big_endian: bool, _bit_depth: int) -> np.ndarray:
    """Decoder for rgb8: the pixels themselves, copied out of the message."""
    return np.array(rows.reshape(rows.shape[0], -1, 3), order='C')


def to_8_bits(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """uint16 samples of `bit_depth` significant bits -> uint8: shifted right by bit_depth - 8, saturating at 255."""
    if bit_depth not in BIT_DEPTHS:
        raise ValueError(f'bit depth {bit_depth}; allowed: 8 .. 16')
    scaled = samples >> (bit_depth - 8) if bit_depth > 8 else samples.copy()
    return np.minimum(scaled, 255, out=scaled).astype(np.uint8)


def _eight_bit(rows: np.ndarray, big_endian: bool, bit_depth: int) -> np.ndarray:
    """16-bit pixel rows (uint8, 2 bytes a sample) -> one uint8 per sample, by `bit_depth` (`to_8_bits`)."""
    if bit_depth == 16:  # the high byte of each sample, without arithmetic
        return np.ascontiguousarray(rows[:, (0 if big_endian else 1)::2])
    return to_8_bits(np.ascontiguousarray(rows).view('>u2' if big_endian else '<u2'), bit_depth)


def _gray(bytes_per_pixel: int) -> _Decoder:
    """Return a decoder for 8- or 16-bit grey; 16-bit samples are scaled by their bit depth."""

    def decode(rows: np.ndarray, big_endian: bool, bit_depth: int) -> np.ndarray:
        gray = _eight_bit(rows, big_endian, bit_depth) if bytes_per_pixel == 2 else np.ascontiguousarray(rows)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)

    return decode


def _opencv(code: int, channels: int, sixteen_bits: bool = False) -> _Decoder:
    """Return a decoder that runs ``cv2.cvtColor`` with ``code`` on ``channels``-channel pixels (of 16-bit samples
    scaled by their bit depth first, with `sixteen_bits`); ``code`` None: the pixels as they are (RGB)."""

    def decode(rows: np.ndarray, big_endian: bool, bit_depth: int) -> np.ndarray:
        samples = _eight_bit(rows, big_endian, bit_depth) if sixteen_bits else np.ascontiguousarray(rows)
        pixels = samples.reshape(rows.shape[0], -1, channels)
        return np.ascontiguousarray(pixels) if code is None else cv2.cvtColor(pixels, code)

    return decode


_BGR8 = _Layout(3, _opencv(cv2.COLOR_BGR2RGB, 3))
_BGRA8 = _Layout(4, _opencv(cv2.COLOR_BGRA2RGB, 4))
_MONO8 = _Layout(1, _gray(1))
_MONO16 = _Layout(2, _gray(2))
_UYVY = _Layout(2, _opencv(cv2.COLOR_YUV2RGB_UYVY, 2), even_width=True)
_YUYV = _Layout(2, _opencv(cv2.COLOR_YUV2RGB_YUY2, 2), even_width=True)

# OpenCV names a Bayer pattern after the second row's second and third pixels, so the ROS
# pattern ``rggb`` (first row R G, second row G B) is OpenCV's ``BG``.
_LAYOUTS: dict[str, _Layout] = {
    'rgb8': _Layout(3, _rgb_copy),
    'bgr8': _BGR8,
    'rgba8': _Layout(4, _opencv(cv2.COLOR_RGBA2RGB, 4)),
    'bgra8': _BGRA8,
    'rgb16': _Layout(6, _opencv(None, 3, sixteen_bits=True)),
    'bgr16': _Layout(6, _opencv(cv2.COLOR_BGR2RGB, 3, sixteen_bits=True)),
    'rgba16': _Layout(8, _opencv(cv2.COLOR_RGBA2RGB, 4, sixteen_bits=True)),
    'bgra16': _Layout(8, _opencv(cv2.COLOR_BGRA2RGB, 4, sixteen_bits=True)),
    'mono8': _MONO8,
    'mono16': _MONO16,
    '8UC1': _MONO8,
    '8UC3': _BGR8,
    '8UC4': _BGRA8,
    '16UC1': _MONO16,
    'yuv422': _UYVY,
    'uyvy': _UYVY,
    'yuv422_yuy2': _YUYV,
    'yuyv': _YUYV,
    'bayer_rggb8': _Layout(1, _opencv(cv2.COLOR_BayerBG2RGB, 1)),
    'bayer_bggr8': _Layout(1, _opencv(cv2.COLOR_BayerRG2RGB, 1)),
    'bayer_gbrg8': _Layout(1, _opencv(cv2.COLOR_BayerGR2RGB, 1)),
    'bayer_grbg8': _Layout(1, _opencv(cv2.COLOR_BayerGB2RGB, 1)),
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUTS)
"""Every ``sensor_msgs/Image`` encoding accepted by :func:`image_to_rgb`."""

_IS_BIGENDIAN = int(sys.byteorder == 'big')
"""``is_bigendian`` of the messages built here: this machine's byte order."""

# image_fields / image_to_array encodings: (dtype, channels or None for a 2-D array).
_OUTPUT_FORMATS: dict[str, tuple[np.dtype, int | None]] = {
    'mono8': (np.dtype(np.uint8), None),
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    '32FC1': (np.dtype(np.float32), None),
}


def _as_bytes(data: object) -> np.ndarray:
    """Return message ``data`` as a 1-D uint8 array, a view where ``data`` has a buffer."""
    try:
        memoryview(data)
    except TypeError:
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageDecodeError(
                f'data must be bytes or a sequence of ints 0..255, got {type(data).__name__}: {exc}') from exc
    return np.frombuffer(data, dtype=np.uint8)


def _check_size(width: int, height: int) -> None:
    """Raise ImageDecodeError unless ``width`` x ``height`` is non-empty and within the limits."""
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f'image is empty: width {width} / height {height}; both must be positive')
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageDecodeError(
            f'image size {width} x {height} exceeds the limit: each side <= {MAX_SIDE} '
            f'and at most {MAX_PIXELS} pixels')


def image_to_rgb(msg: Image, bit_depth: int = 16) -> np.ndarray:
    """Decode a raw image message to RGB.

    ``msg`` is a ``sensor_msgs/Image`` or any object with ``height``, ``width``, ``encoding``,
    ``is_bigendian``, ``step`` and ``data`` (``bytes``, ``bytearray``, ``array.array('B')`` or a
    sequence of ints). Rows may be padded (``step`` larger than a row); ``data`` must hold at
    least ``step * height`` bytes and anything after that is ignored. 16-bit encodings (mono16, 16UC1, rgb16,
    bgr16, rgba16, bgra16) honour ``is_bigendian`` and are scaled by ``bit_depth`` (8-16, the sensor's significant
    bits; `to_8_bits`). ``8UCn`` follow the OpenCV convention (BGR order),
    ``yuv422`` is UYVY and ``yuv422_yuy2`` is YUYV; both need an even width.

    Returns a new C-contiguous ``height x width x 3`` uint8 RGB array that does not share
    memory with ``msg.data``. Raises ImageDecodeError for an unsupported or malformed message.
    """
    _check_size(msg.width, msg.height)
    layout = _LAYOUTS.get(msg.encoding)
    if layout is None:
        raise ImageDecodeError(
            f'unsupported encoding {msg.encoding!r}; supported: {", ".join(SUPPORTED_ENCODINGS)}')
    if layout.even_width and msg.width % 2:
        raise ImageDecodeError(f'encoding {msg.encoding!r} needs an even width, got width {msg.width}')
    rows = _pixel_rows(msg, layout.bytes_per_pixel)
    try:
        return layout.decode(rows, bool(msg.is_bigendian), bit_depth)
    except cv2.error as exc:
        raise ImageDecodeError(f'cannot decode {msg.encoding!r} image: {exc}') from exc


_NATIVE_ORDERS = {'rgb8': 'rgb', 'bgr8': 'bgr', '8UC3': 'bgr'}
"""Raw encodings whose bytes are already 3-channel pixels, and their channel order."""


def image_to_camera(msg: Image, bit_depth: int = 16) -> CameraImage:
    """Decode a raw image message as `image_to_rgb` does, without a copy or a conversion where the encoding allows.

    rgb8, bgr8 and 8UC3 give a view of ``msg.data`` in the message's own channel order (keep ``msg`` alive while
    the view is used); every other encoding is decoded to a new RGB array (16-bit ones scaled by ``bit_depth``).
    Raises ImageDecodeError as `image_to_rgb`.
    """
    order = _NATIVE_ORDERS.get(msg.encoding)
    if order is None:
        return CameraImage(image_to_rgb(msg, bit_depth), 'rgb')
    _check_size(msg.width, msg.height)
    return CameraImage(_pixel_rows(msg, 3).reshape(msg.height, msg.width, 3), order)


def _pixel_rows(msg: Image, bytes_per_pixel: int) -> np.ndarray:
    """The pixel bytes of a raw image message of a checked size as uint8 (H, W * bytes_per_pixel), row padding cut off
    (a view of the data). Raises ImageDecodeError for a step smaller than a row or data shorter than step * height.
    """
    width, height, step = msg.width, msg.height, msg.step
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise ImageDecodeError(
            f'step {step} is smaller than one row: width {width} x {bytes_per_pixel} bytes per pixel '
            f'= {row_bytes}')
    data = _as_bytes(msg.data)
    if data.size < step * height:
        raise ImageDecodeError(
            f'data has {data.size} bytes, expected at least step*height = {step * height} '
            f'(step {step}, height {height})')
    return data[:step * height].reshape(height, step)[:, :row_bytes]


def image_to_array(msg: Image) -> np.ndarray:
    """The pixels of a ``mono8``, ``rgb8``, ``bgr8`` or ``32FC1`` image message in its own encoding.

    The inverse of :func:`numpy_to_image`: uint8 (H, W) for mono8 (class ids, grey), uint8 (H, W, 3) in the
    message's channel order for rgb8 and bgr8, float32 (H, W) for 32FC1 (``is_bigendian`` honoured). ``msg`` is any
    object with the fields of :func:`image_to_rgb`; padded rows are read as :func:`image_to_rgb` reads them.
    Returns a new C-contiguous array that does not share memory with ``msg.data``. Raises ImageDecodeError for
    another encoding or a malformed message.
    """
    if msg.encoding not in _OUTPUT_FORMATS:
        raise ImageDecodeError(f'encoding {msg.encoding!r}; allowed here: {", ".join(_OUTPUT_FORMATS)}')
    dtype, channels = _OUTPUT_FORMATS[msg.encoding]
    _check_size(msg.width, msg.height)
    rows = _pixel_rows(msg, (channels or 1) * dtype.itemsize)
    if dtype.itemsize > 1:
        rows = np.ascontiguousarray(rows).view(dtype.newbyteorder('>' if msg.is_bigendian else '<'))
    shape = (msg.height, msg.width) if channels is None else (msg.height, msg.width, channels)
    return np.array(rows.reshape(shape), dtype=dtype, order='C')


def _jpeg_size(data: np.ndarray) -> tuple[int, int] | None:
    """Return (width, height) from a JPEG's start-of-frame header, or None if it is not found."""
    pos = 2
    while pos + 4 <= data.size:
        if data[pos] != 0xFF:
            return None
        marker = int(data[pos + 1])
        if marker == 0xFF:
            pos += 1
        elif marker in _JPEG_STANDALONE_MARKERS:
            pos += 2
        elif marker in _JPEG_SOF_MARKERS:
            if pos + 9 > data.size:
                return None
            height = int(data[pos + 5]) << 8 | int(data[pos + 6])
            width = int(data[pos + 7]) << 8 | int(data[pos + 8])
            return width, height
        elif marker == _JPEG_START_OF_SCAN:
            return None
        else:
            pos += 2 + (int(data[pos + 2]) << 8 | int(data[pos + 3]))
    return None


def _png_size(data: np.ndarray) -> tuple[int, int] | None:
    """Return (width, height) from a PNG's IHDR chunk, or None if the header is incomplete."""
    if data.size < 24 or data[12:16].tobytes() != b'IHDR':
        return None
    return int.from_bytes(data[16:20].tobytes(), 'big'), int.from_bytes(data[20:24].tobytes(), 'big')


def compressed_to_rgb(msg: CompressedImage, bit_depth: int = 16) -> np.ndarray:
    """Decode a compressed image message (JPEG or PNG) to a new C-contiguous H x W x 3 uint8 RGB array.

    As `compressed_to_camera`, then converted to RGB.
    """
    return compressed_to_camera(msg, bit_depth).rgb()


def compressed_to_camera(msg: CompressedImage, bit_depth: int = 16) -> CameraImage:
    """Decode a compressed image message (JPEG or PNG) to a camera frame (colour images stay in OpenCV's BGR).

    ``msg`` is a ``sensor_msgs/CompressedImage`` or any object with ``format`` and ``data``.
    The codec is detected from the magic bytes; ``format`` is only used to refuse
    ``compressedDepth`` messages. Grey, BGR and BGRA images of 8 or 16 bits are accepted;
    16-bit samples are scaled by ``bit_depth`` as in `image_to_rgb`. The size limits of :func:`image_to_rgb`
    apply and are checked from the header before decoding.

    Returns a CameraImage of new pixels. Raises ImageDecodeError for empty, corrupt, truncated or unsupported data.
    """
    if 'compresseddepth' in str(msg.format).lower():
        raise ImageDecodeError(
            f'compressedDepth format {msg.format!r} is not supported; supported: JPEG and PNG images')
    data = _as_bytes(msg.data)
    if data.size == 0:
        raise ImageDecodeError('compressed image data is empty; expected JPEG or PNG bytes')
    head = data[:8].tobytes()
    if head.startswith(_JPEG_MAGIC):
        kind, size = 'JPEG', _jpeg_size(data)
    elif head == _PNG_MAGIC:
        kind, size = 'PNG', _png_size(data)
    else:
        raise ImageDecodeError(
            f'unrecognised compressed data (starts with {head.hex()}); supported: JPEG and PNG')
    if size is not None:
        _check_size(*size)
    try:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageDecodeError(f'corrupt or truncated {kind}: {exc}') from exc
    if decoded is None:
        raise ImageDecodeError(f'corrupt or truncated {kind}: OpenCV could not decode {data.size} bytes')
    _check_size(decoded.shape[1], decoded.shape[0])
    if decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3:
        return CameraImage(decoded, 'bgr')
    return CameraImage(_decoded_to_rgb(decoded, kind, bit_depth), 'rgb')


def _decoded_to_rgb(decoded: np.ndarray, kind: str, bit_depth: int = 16) -> np.ndarray:
    """Turn an ``cv2.imdecode`` result (H x W [x 1|3|4], uint8 or uint16 of `bit_depth` bits, BGR order) into RGB
    uint8."""
    if decoded.dtype == np.uint16:
        decoded = to_8_bits(decoded, bit_depth)
    elif decoded.dtype != np.uint8:
        raise ImageDecodeError(f'unsupported {kind} sample type {decoded.dtype}; supported: 8 and 16 bits')
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    codes = {1: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}
    if channels not in codes:
        raise ImageDecodeError(f'unsupported {kind} with {channels} channels; supported: 1, 3 or 4')
    return cv2.cvtColor(decoded, codes[channels])


def stamp_ns(header: object) -> int:
    """A std_msgs/Header's stamp in integer nanoseconds (rclpy messages and rosbags' deserialised ones alike)."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def image_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """The ``sensor_msgs/Image`` fields of an array, for any Image class (rclpy's, a rosbags typestore's).

    Accepted encodings and arrays: ``mono8`` (H x W uint8), ``rgb8`` and ``bgr8`` (H x W x 3 uint8, channels
    already in that order) and ``32FC1`` (H x W float32, native byte order). Returns ``height``, ``width``,
    ``encoding``, ``is_bigendian`` of this machine, ``step = width * bytes per pixel`` and ``data``: the pixels as
    1-D uint8 (a view of ``array`` when it is C-contiguous, else a copy).

    Raises a plain ValueError (not ImageDecodeError) naming the mismatch when the encoding is
    unknown or the array's dtype or shape does not fit it or it is empty, and TypeError when
    ``array`` is not an ndarray.
    """
    dtype, channels = _output_format(encoding)
    if not isinstance(array, np.ndarray):
        raise TypeError(f'expected a numpy array, got {type(array).__name__}')
    if array.dtype != dtype:
        raise ValueError(f'encoding {encoding!r} needs dtype {dtype}, got {array.dtype}')
    if channels is None:
        shape_ok, expected_shape = array.ndim == 2, 'H x W'
    else:
        shape_ok, expected_shape = array.ndim == 3 and array.shape[2] == channels, f'H x W x {channels}'
    if not shape_ok:
        raise ValueError(f'encoding {encoding!r} needs shape {expected_shape}, got {array.shape}')
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f'cannot encode an empty array of shape {array.shape}')
    return {'height': height, 'width': width, 'encoding': encoding, 'is_bigendian': _IS_BIGENDIAN,
            'step': _row_bytes(width, encoding), 'data': np.ascontiguousarray(array).reshape(-1).view(np.uint8)}


def numpy_to_image(array: np.ndarray, encoding: str, header: object) -> Image:
    """Wrap an array in a new ``sensor_msgs/Image``.

    The message gets the fields of :func:`image_fields` (encodings, arrays and errors as there), ``header`` (the
    same object, unchanged) and a copy of the pixels as ``array.array('B')`` (one memcpy, which keeps large images
    fast).
    """
    fields = image_fields(array, encoding)
    msg = _image_message(fields['height'], fields['width'], encoding, fields['data'].data)
    msg.header = header
    return msg


def _output_format(encoding: str) -> tuple[np.dtype, int | None]:
    """(dtype, channels or None for one) of an output encoding; ValueError naming the supported ones otherwise."""
    if encoding not in _OUTPUT_FORMATS:
        raise ValueError(f'unsupported output encoding {encoding!r}; supported: {", ".join(_OUTPUT_FORMATS)}')
    return _OUTPUT_FORMATS[encoding]


def _row_bytes(width: int, encoding: str) -> int:
    """Bytes in one unpadded row of an output encoding: the `step` of every Image this module builds."""
    dtype, channels = _OUTPUT_FORMATS[encoding]
    return width * (channels or 1) * dtype.itemsize


def _image_message(height: int, width: int, encoding: str, pixels: bytes | memoryview | None) -> Image:
    """An Image of an output encoding whose data (array.array('B')) is a copy of `pixels`, or zeros for None."""
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=_IS_BIGENDIAN,
                step=_row_bytes(width, encoding))
    data = _byte_array('B')
    data.frombytes(bytes(msg.step * height) if pixels is None else pixels)
    msg.data = data  # the setter keeps an array.array as is; Image(data=...) would copy it element by element
    return msg


def image_buffer(height: int, width: int, encoding: str) -> tuple[Image, np.ndarray]:
    """A new ``sensor_msgs/Image`` of ``height`` x ``width`` pixels and a writable numpy view of its ``data``.

    Encodings as for `numpy_to_image`. The view is (H, W) or (H, W, 3) of the encoding's dtype and shares memory
    with ``msg.data``: render into it, set the header and publish, with no copy. rclpy copies the message when
    ``publish`` is called, so the same message and view may be filled again for the next frame.
    """
    dtype, channels = _output_format(encoding)
    _check_size(width, height)
    msg = _image_message(height, width, encoding, None)
    shape = (height, width) if channels is None else (height, width, channels)
    return msg, np.frombuffer(msg.data, dtype=dtype).reshape(shape)
