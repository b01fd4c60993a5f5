"""Agreement between two runners of the same model: an engine (or a precision-converted ONNX) against the FP32 ONNX.

A runner is any `infer(rgb uint8 (H, W, 3)) -> (labels uint8 (H, W), confidence float32 (H, W))`, e.g. a backend's
`infer`, or a render graph's labels and confidence (`render_runner`). The report gives the fraction of pixels with the
same label and the confidence error, and passes when label agreement reaches a floor that depends on the precision.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES
from night_seg_ros.export import MIN_LABEL_AGREEMENT

Runner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

AGREEMENT_FLOORS = {'fp32': MIN_LABEL_AGREEMENT, 'fp16': 0.995, 'int8': 0.95}
"""Default label-agreement floors against the FP32 ONNX. FP16 and INT8 change labels where two classes are close;
the figures measured on the demo model are in docs/TROUBLESHOOTING.md."""


@dataclass(frozen=True)
class AgreementReport:
    """Candidate vs reference on `frames` frames: label agreement (0-1) and confidence errors (probability units)."""

    frames: int
    label_agreement: float
    mean_confidence_error: float
    max_confidence_error: float
    floor: float

    @property
    def passed(self) -> bool:
        """Whether label agreement reaches the floor."""
        return self.label_agreement >= self.floor

    def __str__(self) -> str:
        """One line for the console."""
        verdict = 'ok' if self.passed else f'FAILED (need >= {self.floor:.2%})'
        return (f'{self.frames} frames: label agreement {self.label_agreement:.4%}, confidence error mean '
                f'{self.mean_confidence_error:.2e} max {self.max_confidence_error:.2e} -> {verdict}')


def compare(reference: Runner, candidate: Runner, frames: Iterable[np.ndarray], floor: float) -> AgreementReport:
    """Run both runners on every frame (uint8 (H, W, 3) RGB) and compare their outputs."""
    equal = total = count = 0
    error_sum = 0.0
    error_max = 0.0
    for frame in frames:
        ref_labels, ref_conf = reference(frame)
        labels, conf = candidate(frame)
        equal += int((ref_labels == labels).sum())
        total += ref_labels.size
        difference = np.abs(ref_conf.astype(np.float32) - conf.astype(np.float32))
        error_sum += float(difference.sum())
        error_max = max(error_max, float(difference.max()))
        count += 1
    if count == 0:
        raise ValueError('no frames to compare')
    return AgreementReport(count, equal / total, error_sum / total, error_max, floor)


def onnx_runner(onnx_path: Path, num_threads: int = 0) -> Runner:
    """A CPU ONNX Runtime runner for any graph with the bundle's input and outputs (e.g. an FP16 or INT8 graph)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if num_threads > 0:
        options.intra_op_num_threads = num_threads
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=['CPUExecutionProvider'])

    def run(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels, confidence = session.run(list(OUTPUT_NAMES), {INPUT_NAME: rgb[None]})
        return labels[0], confidence[0]

    return run


def render_runner(run_graph: Callable[[Mapping[str, np.ndarray], Sequence[str]], dict[str, np.ndarray]]) -> Runner:
    """A runner over a render graph (render_graph.py) run by `run_graph` (a backend's GraphRunner.run): camera frame
    uint8 (H, W, 3), in the graph's camera order, -> its labels uint8 and confidence float32 at the output size,
    with threshold 0."""
    from night_seg_ros.render_graph import RENDER_INPUTS, RENDER_OUTPUTS

    camera, threshold, alpha = RENDER_INPUTS
    labels, confidence = RENDER_OUTPUTS[0], RENDER_OUTPUTS[3]
    settings = {threshold: np.array(0.0, np.float32), alpha: np.array(0.5, np.float32)}

    def run(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = run_graph({camera: frame[None], **settings}, (labels, confidence))
        return outputs[labels][0], outputs[confidence][0]

    return run
