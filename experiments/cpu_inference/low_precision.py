"""Does low precision pay on this CPU? INT8 graphs for ONNX Runtime (label agreement), bf16 autocast in torch.

Usage: python -m experiments.cpu_inference.low_precision [BUNDLE] [--out DIR] [--calibration-frames 6] [--frames 4]
Writes into --out (default /tmp/cpu_int8): fp32.onnx (the bundle's graph with plain FP32 initializers) and one INT8
graph per variant, each from ONNX Runtime's static quantization (quant_pre_process, then quantize_static, MinMax
calibration on synthetic night frames of the train split, seed 1):
- qdq_u8s8_all: QDQ, uint8 activations, int8 per-channel weights, every Conv, MatMul and Gemm (the attention's
  activation x activation MatMuls too: ONNX Runtime then fuses their softmax into a uint8 QLinearSoftmax);
- qdq_u8s8_weights: the same, attention MatMuls left FP32 (only ops with a weight are quantized);
- qop_u8s8_weights: the same in QOperator format (QLinearConv, QGemm, MatMulInteger).
Prints each variant's label agreement with FP32 on synthetic night frames of the val split (seed 2). Time them
alternating with `night-seg bench --parts backends --model BUNDLE --graphs DIR/fp32.onnx DIR/qdq_u8s8_weights.onnx` and
profile them with `python -m experiments.cpu_inference.ort_profile`. Then it times the torch backend's network in
float32 against bf16 autocast on the CPU, alternating frame by frame on the same night frames, and prints their label
agreement. docs/BENCHMARKS.md has the figures and what they prove.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from night_seg_ros.backends.torch_backend import TorchBackend, let_idle_threads_sleep
from night_seg_ros.bundle import INPUT_NAME, OUTPUT_NAMES, Bundle, read_bundle
from night_seg_ros.tensorrt.precision import FrameReader, load_fp32
from night_seg_training.synthetic import render_pair

ROOT = Path(__file__).resolve().parents[2]
QUANTIZED_OPS = ['Conv', 'MatMul', 'Gemm']


def activation_matmuls(model: onnx.ModelProto) -> list[str]:
    """Names of the MatMul nodes without an initializer input (attention scores and their weighted sum)."""
    initializers = {initializer.name for initializer in model.graph.initializer}
    return [node.name for node in model.graph.node
            if node.op_type == 'MatMul' and not any(name in initializers for name in node.input)]


def labels(session: onnxruntime.InferenceSession, frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> labels uint8 (H, W)."""
    return session.run([OUTPUT_NAMES[0]], {INPUT_NAME: frame[None]})[0][0]


def main() -> None:
    """Write the graphs and print one agreement line per variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('bundle', nargs='?', default=str(ROOT / 'models' / 'synthetic_demo_b0'))
    parser.add_argument('--out', type=Path, default=Path('/tmp/cpu_int8'))
    parser.add_argument('--calibration-frames', type=int, default=6, help='night frames, train split, seed 1 (6)')
    parser.add_argument('--frames', type=int, default=4, help='night frames for agreement, val split, seed 2 (4)')
    args = parser.parse_args()
    let_idle_threads_sleep()  # before anything here imports torch, so torch runs as the torch backend runs it
    bundle = read_bundle(args.bundle)
    height, width = bundle.input.height, bundle.input.width
    args.out.mkdir(parents=True, exist_ok=True)
    fp32, prepared = args.out / 'fp32.onnx', args.out / 'prepared.onnx'
    onnx.save(load_fp32(bundle.require_onnx()), str(fp32))
    quant_pre_process(str(fp32), str(prepared))
    excluded = activation_matmuls(onnx.load(str(prepared)))
    variants = {'qdq_u8s8_all': (QuantFormat.QDQ, []), 'qdq_u8s8_weights': (QuantFormat.QDQ, excluded),
                'qop_u8s8_weights': (QuantFormat.QOperator, excluded)}
    calibration = [render_pair(1, 'train', index, height, width).night_image
                   for index in range(args.calibration_frames)]
    frames = [render_pair(2, 'val', index, height, width).night_image for index in range(args.frames)]
    reference = onnxruntime.InferenceSession(str(fp32), providers=['CPUExecutionProvider'])
    expected = [labels(reference, frame) for frame in frames]
    for name, (quant_format, exclude) in variants.items():
        path = args.out / f'{name}.onnx'
        quantize_static(str(prepared), str(path), FrameReader(calibration), quant_format=quant_format,
                        op_types_to_quantize=QUANTIZED_OPS, nodes_to_exclude=exclude, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
        agreement = np.mean([(labels(session, frame) == want).mean() for frame, want in
                             zip(frames, expected, strict=True)])
        print(f'{path}: label agreement with fp32 on {len(frames)} night frames {agreement:.4%}', flush=True)
    compare_bf16(bundle, frames)


def compare_bf16(bundle: Bundle, frames: list[np.ndarray]) -> None:
    """Print torch float32 vs bf16 autocast on the CPU: median ms each (alternating) and label agreement."""
    backend = TorchBackend(bundle, 'cpu', 'fp32')
    import torch

    def run(frame: np.ndarray, bf16: bool) -> np.ndarray:
        with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            return backend.model(torch.from_numpy(frame[None]))[0][0].numpy()

    seconds: dict[bool, list[float]] = {False: [], True: []}
    agreement = []
    for frame in [frames[0], *frames]:  # the first frame warms both up
        outputs = {}
        for bf16 in seconds:
            start = time.perf_counter()
            outputs[bf16] = run(frame, bf16)
            seconds[bf16].append(time.perf_counter() - start)
        agreement.append((outputs[True] == outputs[False]).mean())
    fp32_ms, bf16_ms = (statistics.median(seconds[bf16][1:]) * 1000 for bf16 in (False, True))
    print(f'torch cpu fp32 {fp32_ms:.0f} ms, bf16 autocast {bf16_ms:.0f} ms ({bf16_ms / fp32_ms:.2f} x), label '
          f'agreement {np.mean(agreement[1:]):.4%} on {len(frames)} night frames; load average '
          f'{" ".join(f"{x:.2f}" for x in os.getloadavg())}; bf16 instructions here: '
          f'{"yes" if "avx512_bf16" in Path("/proc/cpuinfo").read_text() else "no (avx512_bf16 absent)"}')


if __name__ == '__main__':
    main()
