"""A vehicle without torch: in a fresh Python process, the onnxruntime backend, the node's pipeline on it and the
node's module load and run without importing torch or transformers (what the import contracts promise statically)."""
import subprocess
import sys
import textwrap
from pathlib import Path

VEHICLE = textwrap.dedent('''
    import sys

    import numpy as np

    from night_seg_ros.backends import create_backend
    from night_seg_ros.bundle import read_bundle
    from night_seg_ros.pipeline import ModelSetting, load_pipeline

    backend = create_backend('onnxruntime', read_bundle(sys.argv[1]), 'cpu')
    labels, confidence = backend.infer(np.zeros((backend.height, backend.width, 3), np.uint8))
    pipeline, _ = load_pipeline(ModelSetting(sys.argv[1], backend='onnxruntime', device='cpu'))
    outputs = pipeline.process(np.zeros((48, 64, 3), np.uint8))
    import night_seg_ros.node.seg_node  # noqa: F401 - the node's own imports count too
    print('backend', backend.name, labels.shape, confidence.dtype, 'overlay', outputs.overlay.shape)
    print('imported:', sorted(name for name in ('torch', 'transformers') if name in sys.modules))
''')


def test_onnxruntime_backend_and_pipeline_run_without_torch(tiny_bundle: Path) -> None:
    result = subprocess.run([sys.executable, '-c', VEHICLE, str(tiny_bundle)], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'backend onnxruntime (64, 128) float32 overlay (48, 64, 3)' in result.stdout
    assert 'imported: []' in result.stdout, result.stdout
