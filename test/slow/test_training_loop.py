"""The training loop end to end on tiny synthetic runs: run folder, bundle, resume after an interruption, DDP, CLI."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from night_seg_ros.bundle import read_bundle
from night_seg_ros.model import load_model
from night_seg_training.checkpoint import CHECKPOINT_FILE, CheckpointError, load_checkpoint, save_checkpoint
from night_seg_training.cli import main
from night_seg_training.config import RECIPES_DIR, ConfigError, load_config
from night_seg_training.segmenter import initial_network

pytest.importorskip('night_seg_training.synthetic', reason='the synthetic generator provides the data of these runs')


def _synthetic(name: str, split: str, count: int) -> dict:
    return {'name': name, 'split': split, 'count': count, 'height': 64, 'width': 128, 'seed': 0}


def tiny_recipe(path: Path, method: str = 'full', iterations: int = 2, **schedule: int) -> Path:
    """A recipe small enough for CI: 64x128 images, 64x64 crops, batch 2, a few iterations."""
    recipe = {
        'name': 'tiny', 'seed': 0,
        'model': {'variant': 'b0', 'input_height': 64, 'input_width': 128},
        'data': {'source': _synthetic('synthetic_day', 'train', 4),
                 'target': _synthetic('synthetic_night', 'train', 4),
                 'val': {'night': _synthetic('synthetic_night', 'val', 2),
                         'day': _synthetic('synthetic_day', 'val', 2)},
                 'resize_height': 64, 'crop_height': 64, 'crop_width': 64, 'workers': 0},
        'method': {'name': method},
        'optim': {'batch_size': 2, 'iterations': iterations, 'warmup_iterations': 1, 'lr': 1e-4},
        'schedule': {'log_every': 1, 'images_every': 1, 'eval_every': 1000, 'checkpoint_every': 1, 'eval_images': 2,
                     **schedule},
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


def _train_cli(*args: str) -> list[str]:
    return [sys.executable, '-m', 'night_seg_training.cli', 'train', *args, '--no-progress']


@pytest.mark.parametrize('method', ['source_only', 'mean_teacher', 'full', 'oracle'])
def test_a_run_writes_its_folder_and_ends_with_a_bundle(tmp_path: Path, method: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / 'run'
    assert main(['train', str(tiny_recipe(tmp_path / 'tiny.yaml', method)), '--run-dir', str(run),
                 '--no-progress']) == 0
    assert f'bundle: {run / "bundle"}' in capsys.readouterr().out
    resolved = load_config(run / 'config.yaml')
    assert resolved.method.name == method and resolved.optim.iterations == 2
    saved = yaml.safe_load((run / 'config.yaml').read_text())['method']
    assert None not in saved.values(), saved  # every method value that ran, none left as "the method's choice"
    log = (run / 'train.log').read_text()
    assert 'training tiny: method' in log
    used = 4 if method == 'source_only' else 8  # the day images, and as many night ones if the method reads them
    assert f'decode head BatchNorm statistics recomputed over {used} whole training images' in log
    assert 'iteration 1/2: loss ' in log and 'iteration 2/2: loss ' in log  # a progress line at each checkpoint
    assert ('night pseudo-label weight' in log) == (method in ('mean_teacher', 'full'))
    assert list((run / 'tb').glob('events.out.tfevents.*'))
    state = load_checkpoint(run / 'checkpoints' / CHECKPOINT_FILE)
    assert state['iteration'] == 2
    bundle_mean = load_model(run / 'bundle').network.decode_head.batch_norm.running_mean
    assert not torch.allclose(bundle_mean, state['student']['network.decode_head.batch_norm.running_mean'])
    for name in ('night', 'day'):
        for figure in ('metrics.json', 'confusion.png', 'gallery.png'):
            assert (run / 'eval' / name / figure).is_file()
    bundle = read_bundle(run / 'bundle')
    assert bundle.onnx_path.is_file()
    assert (bundle.input.height, bundle.input.width) == (64, 128)
    provenance = bundle.provenance
    assert provenance['method'] == method and provenance['iterations'] == 2
    assert set(provenance['metrics']) == {'night', 'day'}
    assert provenance['metrics']['night']['split']['split'] == 'val'
    assert 0 <= provenance['metrics']['night']['miou'] <= 100
    assert 'synthetic streets only' in provenance['data']['note']
    assert provenance['config']['method'] == saved
    metrics = json.loads((run / 'metrics.json').read_text())
    assert metrics['night']['miou'] == provenance['metrics']['night']['miou']


def _state(run: Path) -> dict:
    return load_checkpoint(run / 'checkpoints' / CHECKPOINT_FILE)


def _assert_same_state(first: dict, second: dict) -> None:
    assert first['iteration'] == second['iteration']
    for part in ('student', 'teacher'):
        assert first[part].keys() == second[part].keys()
        for key in first[part]:
            assert torch.equal(first[part][key], second[part][key]), f'{part} {key} differs'
    for a, b in zip(first['optimizer']['state'].values(), second['optimizer']['state'].values(), strict=True):
        assert torch.equal(a['exp_avg'], b['exp_avg']) and torch.equal(a['exp_avg_sq'], b['exp_avg_sq'])


def test_an_interrupted_run_resumes_to_the_same_state(tmp_path: Path) -> None:
    recipe = str(tiny_recipe(tmp_path / 'tiny.yaml', 'full', iterations=6))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    straight = tmp_path / 'straight'
    subprocess.run(_train_cli(recipe, '--run-dir', str(straight)), check=True, env=env, capture_output=True)

    interrupted = tmp_path / 'interrupted'
    process = subprocess.Popen(_train_cli(recipe, '--run-dir', str(interrupted)), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = interrupted / 'checkpoints' / CHECKPOINT_FILE
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert 'resume with: night-seg-train train --resume' in stderr
    stopped_at = _state(interrupted)['iteration']
    assert 1 <= stopped_at < 6, f'the signal should land mid-run, it landed at iteration {stopped_at}'
    assert not (interrupted / 'bundle').exists()

    resumed = subprocess.run(_train_cli('--resume', str(interrupted)), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f'resumed {checkpoint} at iteration {stopped_at}' in (interrupted / 'train.log').read_text()
    _assert_same_state(_state(straight), _state(interrupted))


def test_two_ddp_processes_on_gloo_train_one_model(tmp_path: Path) -> None:
    recipe = str(tiny_recipe(tmp_path / 'tiny.yaml', 'full', iterations=2))
    run = tmp_path / 'ddp'
    result = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                             '-m', 'night_seg_training.cli', 'train', recipe, '--run-dir', str(run), '--no-progress'],
                            env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run / 'train.log').read_text()
    assert 'batch 1 per process x 2 process(es) = 2 effective (optim.batch_scaling keep)' in log
    assert 'DDP: 2 replicas hold identical weights' in log
    assert read_bundle(run / 'bundle').provenance['iterations'] == 2


def test_checkpoint_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / 'last.pt'
    save_checkpoint(path, {'iteration': 3, 'student': {'w': torch.arange(4.0)}})
    state = load_checkpoint(path)
    assert state['iteration'] == 3 and torch.equal(state['student']['w'], torch.arange(4.0))
    with pytest.raises(CheckpointError, match='no checkpoint at'):
        load_checkpoint(tmp_path / 'missing.pt')
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match='cannot read checkpoint'):
        load_checkpoint(path)
    torch.save({'something': 'else'}, path)
    with pytest.raises(CheckpointError, match='is not a night-seg-checkpoint/1'):
        load_checkpoint(path)


def test_shipped_recipes_load_and_overrides_are_checked() -> None:
    names = sorted(path.stem for path in RECIPES_DIR.glob('*.yaml'))
    assert {'synthetic_demo', 'cityscapes_darkzurich_b0', 'cityscapes_darkzurich_b5'} <= set(names)
    for name in names:
        assert load_config(name).name == name
    config = load_config('synthetic_demo', ['method.name=source_only', 'optim.lr=1e-3', 'data.source.count=7'])
    assert (config.method.name, config.optim.lr, config.data.source['count']) == ('source_only', 1e-3, 7)
    assert config.data.source['name'] == 'synthetic_day'  # an override changes one key of a dataset spec
    assert load_config('synthetic_demo', ['data.rare_class_temperature=0.01']).data.rare_class_temperature == 0.01
    for override, message in (('method.name=best', "allowed: source_only, mean_teacher, full, oracle"),
                              ('optim.learning_rate=1', "unknown config key 'optim.learning_rate'"),
                              ('optim.iterations=ten', "'optim.iterations' must be"),
                              ('data.crop_height=100', 'multiple of 32'),
                              ('method.anchor_classes=[pole, lamp]', "anchor_classes names 'lamp'; allowed: road"),
                              ('method.teacher_relight=1', r'teacher_relight is 1.0; allowed: 0 \(off\), a mean'),
                              ('data.rare_class_temperature=0', 'must be > 0, or null for uniform sampling'),
                              ('data.rare_class_min_share=1', 'allowed: 0 < share < 1'),
                              ('nonsense', 'is not KEY=VALUE')):
        with pytest.raises(ConfigError, match=message):
            load_config('synthetic_demo', [override])
    with pytest.raises(ConfigError, match="anchor_classes needs a teacher; method 'source_only' has none"):
        load_config('synthetic_demo', ['method.name=source_only', 'method.anchor_classes=[pole]'])
    assert load_config('synthetic_demo', ['method.anchor_classes=[pole, person]']).method.anchor_classes == [
        'pole', 'person']
    with pytest.raises(ConfigError, match='shipped: .*synthetic_demo'):
        load_config('no_such_recipe')


def test_training_can_start_from_a_local_hugging_face_directory(tmp_path: Path) -> None:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from night_seg_ros.model import SEGFORMER_VARIANTS

    torch.manual_seed(1)
    config = SegformerConfig(**SEGFORMER_VARIANTS['b0'], num_labels=5)  # another label set: head re-initialised
    pretrained = SegformerForSemanticSegmentation(config)
    pretrained.save_pretrained(tmp_path / 'hf')
    network, arch = initial_network('b0', str(tmp_path / 'hf'))
    assert network.config.num_labels == 19 and arch['config']['num_labels'] == 19
    encoder = [key for key in pretrained.state_dict() if key.startswith('segformer.')]
    assert encoder and all(torch.equal(network.state_dict()[key], pretrained.state_dict()[key]) for key in encoder)
    assert network.state_dict()['decode_head.classifier.weight'].shape[0] == 19
    with pytest.raises(ConfigError, match='cannot initialise from'):
        initial_network('b0', str(tmp_path / 'missing'))


def test_a_run_starts_from_a_bundle_and_logs_its_pseudo_label_quality(tmp_path: Path,
                                                                       tiny_bundle: Path) -> None:
    recipe = tiny_recipe(tmp_path / 'tiny.yaml', 'full', iterations=2)
    run = tmp_path / 'run'
    assert main(['train', str(recipe), '--run-dir', str(run), '--no-progress', '--set',
                 f'model.init={tiny_bundle}', '--set', 'method.transfer=identity', '--set',
                 'data.rare_class_temperature=0.01']) == 0
    assert 'rare-class sampling of 4 day images, T 0.01: ' in (run / 'train.log').read_text()
    start = load_model(tiny_bundle).network.state_dict()
    network, arch = initial_network('b0', str(tiny_bundle))
    assert arch == read_bundle(tiny_bundle).arch
    assert all(torch.equal(network.state_dict()[key], start[key]) for key in start)
    rows = [json.loads(line) for line in (run / 'scalars.jsonl').read_text().splitlines()]
    assert [row['iteration'] for row in rows] == [1, 2]
    for row in rows:  # measured against the synthetic night ground truth, for the log only
        assert 0 <= row['pseudo/accuracy'] <= 100 and 0 <= row['teacher/accuracy'] <= 100
        assert 0 <= row['refine/gate_fraction'] <= 1 and 0 <= row['pseudo/weight'] <= 1
    provenance = read_bundle(run / 'bundle').provenance
    assert provenance['init'] == str(tiny_bundle)
    assert provenance['init_provenance'] == read_bundle(tiny_bundle).provenance  # the start's history is kept
    five_classes = tmp_path / 'five'
    shutil.copytree(tiny_bundle, five_classes)
    metadata = json.loads((five_classes / 'model.json').read_text())
    metadata['classes'] = metadata['classes'][:5]
    metadata['palette'] = metadata['palette'][:5]
    (five_classes / 'model.json').write_text(json.dumps(metadata))
    with pytest.raises(ConfigError, match='is a bundle of 5 classes'):
        initial_network('b0', str(five_classes))


def test_eval_and_synth_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / 'run'
    assert main(['train', str(tiny_recipe(tmp_path / 'tiny.yaml', 'source_only', iterations=1)), '--run-dir',
                 str(run), '--no-progress']) == 0
    assert main(['synth', str(tmp_path / 'synth'), '--split', 'val', '--count', '2', '--height', '64',
                 '--width', '128']) == 0
    out = tmp_path / 'eval'
    assert main(['eval', str(run / 'bundle'), '--dataset', 'synthetic_night', '--root', str(tmp_path / 'synth'),
                 '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'mIoU' in printed and '"images": 2' in printed
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['images'] == 2
    assert (out / 'confusion.png').is_file() and (out / 'gallery.png').is_file()
    assert load_model(run / 'bundle') is not None
    assert main(['eval', str(run / 'bundle'), '--dataset', 'cityscapes']) == 1
    assert '--root is required for cityscapes' in capsys.readouterr().err
    assert main(['eval', str(run / 'bundle'), '--dataset', 'cityscapes', '--root', str(tmp_path / 'nothing')]) == 1
    assert f'argument --root: {tmp_path / "nothing"} does not exist' in capsys.readouterr().err
    assert main(['eval', str(run / 'bundle'), '--dataset', 'cityscapes', '--root', str(tmp_path / 'synth')]) == 1
    assert 'Cityscapes' in capsys.readouterr().err
