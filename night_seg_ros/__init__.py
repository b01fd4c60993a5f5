"""night_seg_ros: night-robust semantic segmentation for ROS 2 vehicles.

The runtime package, everything a vehicle needs: the model bundle and its ONNX contract (bundle), the network and its
export (model, export, hub), image codecs and rendering (codec, render), one frame through the model (pipeline), the
inference backends (backends/) and the TensorRT converter (tensorrt/), the ROS 2 node (node/), recorded drives
(drives/), measuring tools (bench/) and the `night-seg` command line (cli/). Imports run from cli/ down to bundle and
codec, never back up; it never imports the training code.
"""
__version__ = '0.1.0'
