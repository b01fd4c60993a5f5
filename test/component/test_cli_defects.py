"""The command-line tools under bad input, one test per defect found by feeding them as a careless or hurried user
would: each runs the installed command in its own process and checks that nothing is lost, no traceback is printed
and the wrong job never runs."""
from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip('rosbags', reason='the bag tools read and write bags with rosbags')
pytest.importorskip('night_seg_training', reason='the training commands are half of the tools')

from cli_runs import (  # noqa: E402
    assert_user_error,
    command,
    error_lines,
    run_and_keep,
    tree_digest,
    write_camera_bag,
)

from night_seg_ros.node_process import console_script  # noqa: E402

CAMERA = '/camera/image_raw'


@pytest.fixture()
def bundle(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A copy of the tiny bundle (with model.onnx) that a test may see replaced; it stands for a trained one."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / 'trained_bundle'))


def interrupt_when_partial(args: list[str], out: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Start `args`, send SIGINT (Ctrl-C) once OUT.partial appears (the output is being written), wait for the end."""
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = out.with_name(out.name + '.partial')
    deadline = time.monotonic() + 120
    while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, f'{args} ended before it was interrupted: {process.communicate()}'
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def test_1_init_refuses_an_existing_bundle_and_force_replaces_it_whole(bundle: Path, tmp_path: Path) -> None:
    line = run_and_keep('night-seg', ['init', bundle, '--height', '64', '--width', '128'], [bundle], tmp_path)
    assert f'bundle {bundle} already exists' in line and '--force' in line
    result = command('night-seg', 'init', bundle, '--height', '64', '--width', '128', '--force', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in bundle.iterdir()) == ['model.json', 'weights.safetensors']
    assert json.loads((bundle / 'model.json').read_text())['provenance']['recipe'] == 'untrained'
    assert sorted(path.name for path in tmp_path.iterdir()) == ['trained_bundle']  # no .partial left


def test_2_export_hf_refuses_an_existing_out_before_loading_anything(bundle: Path, tmp_path: Path) -> None:
    line = run_and_keep('night-seg', ['export', '--hf', tmp_path / 'no_checkpoint', '--out', bundle,
                                      '--height', '64', '--width', '128'], [bundle], tmp_path)
    assert f'bundle {bundle} already exists' in line


def test_3_threads_are_bounded_as_the_nodes_num_threads(tiny_bundle: Path, tiny_drive: Path, tmp_path: Path) -> None:
    began = time.monotonic()
    for threads in ('100000', '257', '-1'):
        line = run_and_keep('night-seg', ['bag', tiny_drive, tmp_path / 'out', '--model', tiny_bundle, '--topic',
                                          CAMERA, '--threads', threads], [tiny_drive, tiny_bundle, tmp_path], tmp_path)
        assert f'argument --threads: {threads} must be >= 0 and <= 256' in line
    assert time.monotonic() - began < 30  # refused while parsing: no model loaded, no thread started


def test_4_bag_output_is_atomic_on_failure_and_ctrl_c_and_a_rerun_works(tiny_bundle: Path, tmp_path: Path) -> None:
    bad_truth = write_camera_bag(tmp_path / 'bad_truth', frames=3, truth=100)  # 100 is no Cityscapes train id
    out = tmp_path / 'out'
    line = run_and_keep('night-seg', ['bag', bad_truth, out, '--model', tiny_bundle, '--no-progress'],
                        [bad_truth, tmp_path], tmp_path, says='ground truth at stamp')
    assert 'Traceback' not in line
    rerun = command('night-seg', 'bag', bad_truth, out, '--model', tiny_bundle, '--no-progress', '--topic', CAMERA,
                    '--gt-topic', '', cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / 'metadata.yaml').is_file()

    long = write_camera_bag(tmp_path / 'long', frames=400)
    interrupted = tmp_path / 'interrupted'
    result = interrupt_when_partial([console_script('night-seg'), 'bag', str(long), str(interrupted), '--model',
                                     str(tiny_bundle), '--no-progress', '--threads', '1'], interrupted, tmp_path)
    assert_user_error(result, 130, 'night-seg bag: interrupted')
    assert not interrupted.exists() and not interrupted.with_name('interrupted.partial').exists()


def test_5_videos_pictures_datasets_and_results_are_never_overwritten(tiny_bundle: Path, tiny_drive: Path,
                                                                      tmp_path: Path) -> None:
    (tmp_path / 'overlay.mp4').write_bytes(b'an earlier video')
    (tmp_path / 'sheet.png').write_bytes(b'an earlier picture')
    watched = [tiny_drive, tiny_bundle, tmp_path]
    for option, path in (('--mp4', 'overlay.mp4'), ('--contact-sheet', 'sheet.png')):
        line = run_and_keep('night-seg', ['bag', tiny_drive, 'out', '--model', tiny_bundle, '--topic', CAMERA,
                                          option, path], watched, tmp_path)
        assert f'{path} already exists' in line
    dataset = tmp_path / 'dataset'
    assert command('night-seg-train', 'synth', dataset, '--count', '1', '--height', '64', '--width', '96',
                   cwd=tmp_path).returncode == 0
    run_and_keep('night-seg-train', ['synth', dataset, '--count', '1', '--height', '64', '--width', '96'], watched,
                 tmp_path, says=f'dataset {dataset} already exists')
    results = tmp_path / 'results'
    results.mkdir()
    (results / 'metrics.json').write_text('{"miou": 42}')
    run_and_keep('night-seg-train', ['eval', tiny_bundle, '--dataset', 'synthetic_night', '--count', '1', '--out',
                                     results], watched, tmp_path, says=f'results folder --out {results} already exists')

    result = interrupt_when_partial([console_script('night-seg-train'), 'synth', str(tmp_path / 'big'), '--count',
                                     '2000', '--height', '64', '--width', '96'], tmp_path / 'big', tmp_path)
    assert_user_error(result, 130, 'night-seg-train synth: interrupted')
    assert not (tmp_path / 'big').exists() and not (tmp_path / 'big.partial').exists()


def test_6_a_garbage_model_onnx_is_one_line_in_the_bag_tool_and_the_node(tiny_bundle: Path, tiny_drive: Path,
                                                                         tmp_path: Path) -> None:
    garbage = Path(shutil.copytree(tiny_bundle, tmp_path / 'garbage'))
    (garbage / 'model.onnx').write_bytes(b'not a protobuf at all' * 10)
    line = run_and_keep('night-seg', ['bag', tiny_drive, tmp_path / 'out', '--model', garbage, '--topic', CAMERA,
                                      '--backend', 'onnxruntime'], [tiny_drive, garbage, tmp_path], tmp_path)
    assert 'is not an ONNX model ONNX Runtime can load' in line and f'night-seg export {garbage}' in line
    node = command('seg_node', '--ros-args', '-p', f'model:={garbage}', '-p', 'backend:=onnxruntime', cwd=tmp_path,
                   timeout=120)
    output = node.stdout + node.stderr
    assert node.returncode == 1, output
    assert 'Traceback' not in output and 'cannot start:' in output and 'is not an ONNX model' in output


def test_7_output_paths_are_checked_before_any_work(tiny_bundle: Path, tiny_drive: Path, tmp_path: Path) -> None:
    a_file = tmp_path / 'a_file'
    a_file.write_text('mine')
    watched = [tiny_bundle, tiny_drive, tmp_path]
    run_and_keep('night-seg-train', ['eval', tiny_bundle, '--dataset', 'synthetic_night', '--count', '1', '--out',
                                     a_file], watched, tmp_path, says=f'results folder --out {a_file} already exists')
    line = run_and_keep('night-seg', ['bench', '--parts', 'frame', '--frame-count', '1', '--out', a_file], watched,
                        tmp_path, says=f'--out {a_file} already exists')
    assert 'running part' not in line
    run_and_keep('night-seg', ['bench', '--parts', 'frame', '--markdown', a_file / 'bench.md'], watched, tmp_path,
                 says=f'{a_file} is a file, not a folder')
    run_and_keep('night-seg', ['bag', tiny_drive, a_file / 'out', '--model', tiny_bundle], watched, tmp_path,
                 says=f'{a_file} is a file, not a folder')
    run_and_keep('night-seg-train', ['eval', tiny_bundle, '--dataset', 'synthetic_night', '--count', '1', '--out',
                                     '/proc/results'], watched, tmp_path, says='cannot create files in /proc')


def test_8_the_wrong_job_never_runs(tmp_path: Path) -> None:
    (tmp_path / 'empty.yaml').write_text('')
    (tmp_path / 'zero.yaml').write_text('0\n')
    cases = [
        (['/no/such/dir/synthetic_demo.yaml'], 'recipe /no/such/dir/synthetic_demo.yaml does not exist'),
        (['empty.yaml'], 'recipe empty.yaml must hold a YAML mapping (key: value lines), it is empty'),
        (['./zero.yaml'], 'recipe zero.yaml must hold a YAML mapping (key: value lines), not int 0'),
        (['synthetic_demo', '--device', 'potato'], "argument --device: 'potato' is not a device"),
    ]
    import torch

    if not torch.cuda.is_available():
        cases.append((['synthetic_demo', '--device', 'cuda'], 'no CUDA device; allowed here: cpu'))
    for args, says in cases:
        run_and_keep('night-seg-train', ['train', *args, '--set', 'optim.iterations=1'], [tmp_path], tmp_path,
                     says=says)
    assert not (tmp_path / 'runs').exists()


def test_9_pairs_of_short_drives(tmp_path: Path) -> None:
    for seconds in ('2', '0.05'):  # the drive, and the shortest one: a single frame and a single fix each
        drives = tmp_path / f'route_{seconds}'
        made = command('night-seg-train', 'drive', drives, '--route-pair', '--seconds', seconds, '--height', '96',
                       '--width', '160', cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        out = tmp_path / f'pairs_{seconds}'
        result = command('night-seg-train', 'pairs', '--day', drives / 'day', '--night', drives / 'night', '--out',
                         out, '--image-topic', CAMERA, '--position-topic', '/gps/fix', '--no-progress', cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert len(json.loads((out / 'manifest.json').read_text())['pairs']) >= 1
    no_fix = write_camera_bag(tmp_path / 'no_fix', frames=1)  # below the shortest: a camera frame, no position
    drives = tmp_path / 'route_0.05'
    run_and_keep('night-seg-train', ['pairs', '--day', drives / 'day', '--night', no_fix, '--out', tmp_path / 'none',
                                     '--image-topic', CAMERA, '--no-progress'], [tmp_path], tmp_path,
                 says='the bag has 0 topics of type sensor_msgs/msg/NavSatFix or nav_msgs/msg/Odometry')


def test_10_values_that_used_to_traceback_are_one_line(tmp_path: Path) -> None:
    (tmp_path / 'binary.yaml').write_bytes(bytes(range(256)))
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    (run_dir / 'config.yaml').write_text('optim: {iterations: [\n')
    cases = [
        (['bench', '--methods', 'bogus'], "method.name is 'bogus'; allowed: source_only"),
        (['bench', '--variant', 'b9'], "argument --variant: invalid choice: 'b9'"),
        (['train', 'synthetic_demo', '--set', 'method.name=[1'], "the value of 'method.name=[1' is not valid YAML"),
        (['train', 'synthetic_demo', '--set', 'data.source.count=abc'], "data.source (synthetic_day): count is 'abc'"),
        (['train', 'binary.yaml'], 'recipe binary.yaml is not a text file'),
        (['train', '--resume', run_dir], f'run config {run_dir}/config.yaml is not valid YAML'),
    ]
    for args, says in cases:
        run_and_keep('night-seg-train', args, [tmp_path], tmp_path, says=says)
    blocker = tmp_path / 'no_tensorboard'
    blocker.mkdir()
    (blocker / 'sitecustomize.py').write_text("import sys\nsys.modules['tensorboard'] = None  # as if not installed\n")
    before = tree_digest(tmp_path)
    result = command('night-seg-train', 'train', 'synthetic_demo', '--run-dir', tmp_path / 'tb_run', cwd=tmp_path,
                     env={'PYTHONPATH': str(blocker)})
    assert_user_error(result, 1, 'the tensorboard package is not installed')
    assert tree_digest(tmp_path) == before


def test_11_smaller_defects(tiny_bundle: Path, tiny_drive: Path, tmp_path: Path) -> None:
    broken = tmp_path / 'broken_bag'
    broken.mkdir()
    watched = [tiny_bundle, tiny_drive, tmp_path]
    (broken / 'metadata.yaml').write_text('rosbag2_bagfile_information:\n  version: [9\n')
    run_and_keep('night-seg', ['bag', broken, 'out', '--model', tiny_bundle], watched, tmp_path,
                 says='metadata.yaml is not valid YAML: expected')  # one line, with its line and column
    (broken / 'metadata.yaml').write_text('')
    line = run_and_keep('night-seg', ['bag', broken, 'out', '--model', tiny_bundle], watched, tmp_path,
                        says='must hold a YAML mapping (key: value lines), it is empty')
    assert 'NoneType' not in line
    a_file = tmp_path / 'a_file'
    a_file.write_text('mine')
    run_and_keep('night-seg', ['bag', tiny_drive, 'out', '--model', a_file, '--topic', CAMERA], watched, tmp_path,
                 says=f"--model '{a_file}' is a file, not a folder")
    run_and_keep('night-seg', ['bag', tiny_drive, 'out', '--model', tiny_bundle, '--topic', CAMERA,
                               '--output-prefix', '/seg output'], watched, tmp_path,
                 says='is not a valid ROS topic name')
    run_and_keep('night-seg', ['bag', tiny_drive, 'out', '--model', tiny_bundle, '--topic', CAMERA, '--gt-topic',
                               '/camera/camera_info'], watched, tmp_path,
                 says='ground-truth topic /camera/camera_info is sensor_msgs/msg/CameraInfo; allowed: '
                      'sensor_msgs/msg/Image')
    mismatch = Path(shutil.copytree(tiny_bundle, tmp_path / 'mismatch'))
    meta = json.loads((mismatch / 'model.json').read_text())
    meta['classes'], meta['palette'] = meta['classes'][:18], meta['palette'][:18]
    (mismatch / 'model.json').write_text(json.dumps(meta))
    if importlib.util.find_spec('onnx') is not None:
        run_and_keep('night-seg', ['bag', tiny_drive, 'out', '--model', mismatch, '--topic', CAMERA, '--backend',
                                   'onnxruntime'], watched, tmp_path, says='predicts 19 classes but')
    for program, args, says in (
            ('night-seg', ['bag', tiny_drive, 'out', '--threads', '-2'], 'argument --threads: -2 must be >= 0'),
            ('night-seg-train', ['eval', tiny_bundle, '--dataset', 'synthetic_night', '--gallery', '-1'],
             'argument --gallery: -1 must be >= 0'),
            ('night-seg-train', ['drive', 'out', '--speed', '-3'], 'argument --speed: -3.0 must be > 0'),
            ('night-seg', ['bag'], 'night-seg bag: error: the following arguments are required: input, output'),
    ):
        run_and_keep(program, args, watched, tmp_path, says=says)

    malformed = write_camera_bag(tmp_path / 'malformed', frames=2, malformed=True)
    result = command('night-seg', 'bag', malformed, 'out', '--model', tiny_bundle, '--mp4', 'video.mp4',
                     '--no-progress', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'video.mp4' not in result.stdout and not (tmp_path / 'video.mp4').exists()
    assert '0/2 frames' in result.stdout and (tmp_path / 'out' / 'metadata.yaml').is_file()

    helped = command('seg_node', '--help', timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith('usage: seg_node')
    assert 'num_threads (integer, default 0, allowed: 0 .. 256)' in helped.stdout
    assert error_lines(helped) == []
