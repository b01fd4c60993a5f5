"""TensorRT for the node: the converter (ONNX -> engine), the engine cache and its sidecars, verification.

  cache.py        cache key, sidecar, finding the engine that fits this system (pure Python)
  precision.py    FP16 and INT8 Q/DQ ONNX graphs for strongly typed builds (checked in ONNX Runtime)
  calibration.py  frames from an image folder or a rosbag2 bag
  builder.py      bundle -> engine (TensorRT imported only here and in the backend)
  cuda.py         device buffers and stream through cuda-python or torch
  verify.py       label agreement and confidence error between two runners
  cli.py          night-seg build-engine / verify-engine
The runtime backend is night_seg_ros/backends/tensorrt_backend.py.
"""
