"""The words the runtime's parts share: backend names, precisions, devices, confidence encodings, output names.

They live here, at the bottom, so the node's parameters, the command lines, the backend registry, the engine cache
and the pipeline name the same values without importing one another.
"""
from __future__ import annotations

import re

BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime', 'torch')
"""Inference backends; `auto` tries the others in this order."""

PRECISIONS = ('fp32', 'fp16', 'int8')
"""Arithmetic on a GPU: torch autocast and TensorRT engines; int8 is TensorRT only."""

DEVICE_PATTERN = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')
"""A valid device value: auto, cpu, cuda or cuda:N."""
DEVICES = 'auto, cpu, cuda, cuda:N'
"""The allowed device values, as error messages and docs name them."""

CONFIDENCE_ENCODINGS = ('mono8', '32FC1')
"""Encodings of the confidence image: mono8 (0-255) or 32FC1 (0-1)."""

OUTPUTS = ('labels', 'color', 'overlay', 'confidence')
IMAGE_ENCODINGS = {'labels': 'mono8', 'color': 'rgb8', 'overlay': 'bgr8'}
"""The sensor_msgs/Image encoding of each output but confidence (one of CONFIDENCE_ENCODINGS, a parameter)."""
"""Output images in the order they are rendered and published: the node's topics, the bag tool's topic suffixes."""

OUTPUT_RESOLUTIONS = ('camera', 'network')
"""Size of the output images: the camera frame's, or the network's input size (as Isaac ROS's raw mask)."""

RENDER_PLACES = ('auto', 'cpu', 'backend')
"""Where the outputs are rendered: auto (with the model when it runs on a GPU), the CPU, or the backend's device."""

SEGFORMER_SIZES = ('b0', 'b1', 'b2', 'b3', 'b4', 'b5')
"""The SegFormer variants (model.SEGFORMER_VARIANTS holds their settings)."""
