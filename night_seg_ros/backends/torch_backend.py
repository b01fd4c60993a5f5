"""torch backend: the bundle's network in PyTorch, on the CPU or CUDA (fp16 autocast on CUDA when asked)."""
from __future__ import annotations

import os
import sys

import numpy as np

from night_seg_ros.backends.base import Backend, BackendError
from night_seg_ros.bundle import Bundle


def let_idle_threads_sleep() -> bool:
    """Make torch's OpenMP threads sleep when idle (OMP_WAIT_POLICY=PASSIVE) unless the environment chose a policy.

    By default they spin after each parallel region, holding the cores that the node's decoding and rendering, or
    any other process, need (ONNX Runtime's sessions here never spin either; experiments/cpu_inference/NOTEBOOK.md
    has the measurement). OpenMP reads the variable once, when torch is first imported: returns
    whether that is still to come in this process.
    """
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    return 'torch' not in sys.modules


class TorchBackend(Backend):
    """`device` is 'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'; `precision` 'fp16' autocasts on CUDA."""

    name = 'torch'

    def __init__(self, bundle: Bundle, device: str = 'auto', precision: str = 'fp32', num_threads: int = 0) -> None:
        """Load the weights onto the device; num_threads > 0 sets torch's CPU threads."""
        super().__init__(bundle.input.height, bundle.input.width)
        let_idle_threads_sleep()
        import torch

        from night_seg_ros.model import load_model

        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise BackendError(f'device {device!r} requested but this torch has no CUDA device '
                               f'(torch {torch.__version__}); use device:=cpu')
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        self.torch = torch
        self.device = device
        self.autocast = device.startswith('cuda') and precision == 'fp16'
        # Channels-last weights: the image arrives NHWC, so its NCHW view is channels-last already, and the
        # convolutions then run without a layout change per layer.
        self.model = load_model(bundle, device).to(memory_format=torch.channels_last)

    def infer(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) RGB -> labels uint8 (H, W), confidence float32 (H, W)."""
        torch = self.torch
        batch = torch.from_numpy(self.check_input(rgb)).unsqueeze(0).to(self.device)  # (1, H, W, 3)
        with torch.inference_mode(), torch.autocast('cuda', dtype=torch.float16, enabled=self.autocast):
            labels, confidence = self.model(batch)
        return labels[0].cpu().numpy(), confidence[0].float().cpu().numpy()
