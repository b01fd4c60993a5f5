"""TensorRT for the node: the converter (ONNX -> engine), the engine cache and its sidecars, verification.

  cache.py        cache key, sidecar, finding the engine that fits this system (pure Python)
  precision.py    FP16 and INT8 Q/DQ ONNX graphs for strongly typed builds (checked in ONNX Runtime)
  builder.py      bundle -> engine (TensorRT imported only here and in the backend)
  cuda.py         device buffers and stream through cuda-python, pycuda or torch
  verify.py       label agreement and confidence error between two runners
The runtime backend is night_seg_ros/backends/tensorrt_backend.py; the commands are night_seg_ros/cli/engine.py; the
calibration and verification frames come from night_seg_ros/drives/frames.py.
"""
