"""Inference on the CPU: low precision (INT8 graphs, bf16), ONNX Runtime profiles, FLOPs per frame."""
