"""setup.py's data files, as colcon's install step copies them: a bundle's engines/ folder in the source tree (the
node or build-engine writes one there in a checkout) neither stops the build nor gets installed."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_install_data_skips_an_engines_folder_in_the_source_tree(tmp_path):
    source = tmp_path / 'src'
    source.mkdir()
    for name in ('setup.py', 'setup.cfg', 'package.xml'):
        shutil.copy(ROOT / name, source / name)
    for name in ('resource', 'launch', 'config'):
        shutil.copytree(ROOT / name, source / name)
    bundle = source / 'models' / 'synthetic_demo_b0'
    (bundle / 'engines').mkdir(parents=True)
    (bundle / 'model.json').write_text('{}')
    (bundle / 'engines' / 'fp16_384x768_sm87_trt10.3.0_0123456789ab.engine').write_bytes(b'engine')
    (source / 'night_seg_ros').mkdir()
    (source / 'night_seg_ros' / '__init__.py').write_text('')
    result = subprocess.run([sys.executable, 'setup.py', '-q', 'install_data', '--install-dir', str(tmp_path / 'out')],
                            cwd=source, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    share = tmp_path / 'out' / 'share' / 'night_seg_ros'
    assert (share / 'models' / 'synthetic_demo_b0' / 'model.json').is_file()
    assert not (share / 'models' / 'synthetic_demo_b0' / 'engines').exists()
    assert (share / 'launch' / 'seg.launch.py').is_file() and (share / 'config' / 'seg.yaml').is_file()
