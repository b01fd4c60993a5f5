"""night_seg_ros: night-robust semantic segmentation for ROS 2 vehicles.

The runtime package: model bundles, the network and its ONNX export, image codecs, rendering, inference backends and
the ROS 2 node. It never imports the training code.
"""
__version__ = '0.1.0'
