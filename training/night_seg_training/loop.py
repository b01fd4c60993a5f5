"""The training loop: `train`, the same under `python` and `torchrun`, ending with a bundle.

`train` is three steps: `start_training` (the run folder, the run's parts from `run.build_run`, the resumed state,
DDP, TensorBoard), `run_iterations` (the optimisation steps, logs, checkpoints, periodic evaluations) and
`finish_training` (head statistics, the final evaluation, the bundle).

A run folder holds::

    config.yaml            the resolved config the run used
    train.log              what the console showed (rank 0)
    tb/                    TensorBoard scalars (losses, lr, pseudo-label and attention statistics) and images
    checkpoints/last.pt    the latest checkpoint (atomic; `--resume` continues from it)
    eval/<set>/            metrics.json, confusion.png, gallery.png of each evaluation
    bundle/                the trained model: model.json, weights.safetensors, model.onnx
    metrics.json           the final metrics of every evaluation set
    scalars.jsonl          the logged scalars (window means), one JSON object per log step

SIGINT or SIGTERM finishes the current iteration, writes a checkpoint and stops with `TrainingInterrupted`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from night_seg_ros.files import atomic_write_bytes
from night_seg_ros.model import SegmentationModel, save_bundle
from night_seg_ros.provenance import code_version
from night_seg_training.batches import iteration_loader
from night_seg_training.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from night_seg_training.config import TrainConfig, save_config
from night_seg_training.distributed import Distributed
from night_seg_training.run import Run, build_run
from night_seg_training.segmenter import Segmenter

LOG = logging.getLogger('night_seg_train')
SCALARS_FILE = 'scalars.jsonl'
"""The run's logged scalars (window means every schedule.log_every iterations), one JSON object per line."""


class TrainingInterrupted(Exception):
    """A signal stopped training after a checkpoint was written; the message says how to resume."""


def iteration_seed(seed: int, rank: int, iteration: int, stream: int) -> int:
    """A 63-bit seed for one random stream of one iteration on one rank."""
    return int(np.random.SeedSequence([seed, rank, iteration, stream]).generate_state(1, np.uint64)[0] >> 1)


def learning_rate_factor(iteration: int, config: TrainConfig) -> float:
    """Linear warm-up over optim.warmup_iterations, then polynomial decay to 0 at optim.iterations."""
    optim = config.optim
    if iteration < optim.warmup_iterations:
        return (iteration + 1) / optim.warmup_iterations
    progress = (iteration - optim.warmup_iterations) / max(1, optim.iterations - optim.warmup_iterations)
    return max(0.0, 1.0 - progress) ** optim.poly_power


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[dict[str, bool]]:
    """While inside, SIGINT and SIGTERM set flag['stop'] instead of killing the process."""
    flag = {'stop': False}

    def request_stop(signum: int, frame: Any) -> None:
        flag['stop'] = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _setup_logging(run_dir: Path, is_main: bool) -> None:
    LOG.setLevel(logging.INFO if is_main else logging.WARNING)
    LOG.propagate = False
    for handler in list(LOG.handlers):
        LOG.removeHandler(handler)
        handler.close()
    LOG.addHandler(logging.StreamHandler())
    if is_main:
        file_handler = logging.FileHandler(run_dir / 'train.log')
        file_handler.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
        LOG.addHandler(file_handler)


def _evaluate_all(segmenter: Segmenter, val: dict[str, Any], config: TrainConfig, dist_info: Distributed,
                  out_dir: Path | None, progress: bool) -> dict[str, dict[str, Any]]:
    """Evaluate the student on every validation set: each at its `data.eval_sizes` entry (or the bundle's input),
    logits upsampled to the label size before the argmax, flipped too with `data.eval_flip`."""
    from night_seg_training.evaluate import evaluate

    model = SegmentationModel(segmenter.network, segmenter.input_spec).to(dist_info.device)
    segmenter.eval()
    try:
        return {name: evaluate(model, dataset, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE,
                               out_dir / name if out_dir is not None and dist_info.is_main else None,
                               gallery=config.schedule.eval_images, device=dist_info.device,
                               progress=progress and dist_info.is_main, distributed=dist_info.enabled,
                               input_size=_eval_size(config, name), flip=config.data.eval_flip)
                for name, dataset in val.items()}
    finally:
        segmenter.train()


def _eval_size(config: TrainConfig, name: str) -> tuple[int, int] | None:
    """(height, width) evaluation set `name` is seen at; None: the bundle's input size."""
    size = config.data.eval_sizes.get(name)
    return None if size is None else (size[0], size[1])


def _provenance(config: TrainConfig, metrics: dict[str, dict[str, Any]], iterations: int,
                init_provenance: dict[str, Any] | None) -> dict[str, Any]:
    specs = [config.data.source, config.data.target, *config.data.val.values()]
    synthetic = any(str(spec.get('name', '')).startswith('synthetic') for spec in specs)
    return {
        'recipe': config.name,
        'method': config.method.name,
        'data': {'source': config.data.source, 'target': config.data.target,
                 'note': ('procedurally generated synthetic streets (night_seg_training.synthetic); this model knows '
                          'synthetic streets only, not real camera images') if synthetic else 'real datasets'},
        'iterations': iterations,
        'metrics': {name: {'split': config.data.val[name], 'input_size': _eval_size(config, name),
                           'flip': config.data.eval_flip, 'miou': result['miou'], 'iou': result['iou']}
                    for name, result in metrics.items()},
        'init': config.model.init,
        'init_provenance': init_provenance,
        'seed': config.seed,
        'code_version': code_version(),
        'config': config.to_dict(),
    }


def _log_metrics(writer: Any, metrics: dict[str, dict[str, Any]], iteration: int, when: str) -> None:
    """Log each evaluation set's mIoU (TensorBoard and train.log); a set without labels (a user's unlabelled night
    frames, mIoU None) is logged as a gallery only."""
    for name, result in metrics.items():
        if writer is not None and result['miou'] is not None:
            writer.add_scalar(f'val/{name}/miou', result['miou'], iteration)
    LOG.info('%s: %s', when, ', '.join(f'{name} mIoU {result["miou"]:.2f}' if result['miou'] is not None else
                                       f'{name}: no labelled frame (gallery only)' for name, result in metrics.items()))


PROGRESS_SCALARS = (('loss', 'loss {:.3f}'), ('loss/source', 'day loss {:.3f}'),
                    ('loss/night_supervised', 'night loss {:.3f}'),
                    ('loss/night_consistency', 'night loss {:.3f}'), ('loss/night_masked', 'masked night loss {:.3f}'),
                    ('pseudo/weight', 'night pseudo-label weight {:.2f}'),
                    ('pseudo/confident_fraction', 'confident {:.2f}'), ('lr', 'lr {:.2e}'))
"""The scalars a progress line of train.log shows (if the method logs them), each with its format."""


def progress_line(done: int, total: int, scalars: dict[str, float]) -> str:
    """One line of train.log for a headless run: iteration, the losses, the night pseudo-labels' mean weight in the
    loss (near 0: the night images teach almost nothing) and their confident share, the learning rate, the
    seconds per iteration and the time left at that pace. `scalars`: the last logged window's means."""
    parts = [text.format(scalars[key]) for key, text in PROGRESS_SCALARS if key in scalars]
    line = f'iteration {done}/{total}: {", ".join(parts)}'
    if 'seconds_per_iteration' in scalars:
        pace = scalars['seconds_per_iteration']
        left = int(round((total - done) * pace))
        line += f'; {pace:.2f} s per iteration, {left // 3600}h{left % 3600 // 60:02d}m left'
    return line


def _log_images(writer: Any, iteration: int, night: torch.Tensor, pseudo: torch.Tensor) -> None:
    """TensorBoard: the night crop the student learned from and its pseudo-label (palette colours)."""
    palette = torch.tensor(list(CITYSCAPES_PALETTE) + [(0, 0, 0)] * (256 - len(CITYSCAPES_PALETTE)),
                           dtype=torch.uint8)
    colored = palette[pseudo.clamp(0, 255).cpu()].permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    writer.add_image('train/night_input', night.clamp(0, 1).cpu(), iteration)
    writer.add_image('train/pseudo_label', colored, iteration)


@dataclass
class Training:
    """A run being trained (`start_training`): its parts, the student the loss runs through, where it writes."""

    config: TrainConfig
    run_dir: Path
    dist_info: Distributed
    run: Run
    student: nn.Module
    """The segmenter, or its DDP wrapper."""
    start: int
    """The first iteration to run (0, or where the resumed checkpoint stopped)."""
    checkpoint_path: Path
    writer: Any | None
    """TensorBoard's SummaryWriter on the main process, None elsewhere."""

    def checkpoint(self, next_iteration: int) -> None:
        """Write the checkpoint to resume at `next_iteration` (main process), then wait for every process."""
        if self.dist_info.is_main:
            teacher = self.run.teacher
            save_checkpoint(self.checkpoint_path, {
                'iteration': next_iteration, 'student': self.run.segmenter.state_dict(),
                'teacher': teacher.model.state_dict() if teacher is not None else None,
                'optimizer': self.run.optimizer.state_dict(), 'config': self.config.to_dict()})
        self.dist_info.barrier()


def train(config: TrainConfig, run_dir: Path, dist_info: Distributed, resume: bool = False,
          progress: bool = True) -> Path:
    """Train per `config` into `run_dir` and return the bundle path. Resumes from the run's checkpoint if `resume`."""
    training = start_training(config, run_dir, dist_info, resume)
    seconds = run_iterations(training, progress)
    return finish_training(training, seconds, progress)


def start_training(config: TrainConfig, run_dir: Path, dist_info: Distributed, resume: bool = False) -> Training:
    """The run folder, its log and resolved config, the run's parts (`build_run`) with the checkpoint's state when
    resuming, DDP and TensorBoard."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _setup_logging(run_dir, dist_info.is_main)
    checkpoint_path = run_dir / 'checkpoints' / CHECKPOINT_FILE
    state = load_checkpoint(checkpoint_path) if resume else None
    if dist_info.is_main:
        save_config(config, run_dir / 'config.yaml')
    run = build_run(config, dist_info.device, dist_info.rank, world_size=dist_info.world_size)
    start = 0
    if state is not None:
        run.segmenter.load_state_dict(state['student'])
        if run.teacher is not None:
            run.teacher.model.load_state_dict(state['teacher'])
        run.optimizer.load_state_dict(state['optimizer'])
        start = int(state['iteration'])
        LOG.info('resumed %s at iteration %d', checkpoint_path, start)
    student: nn.Module = run.segmenter
    if dist_info.enabled:
        student = nn.parallel.DistributedDataParallel(
            run.segmenter, device_ids=[dist_info.device.index] if dist_info.device.type == 'cuda' else None)
    writer = None
    if dist_info.is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / 'tb'))
    LOG.info('training %s: method %s, %d iterations, batch %d per process x %d process(es) = %d effective '
             '(optim.batch_scaling %s), crop %dx%d, device %s', config.name, config.method.name,
             config.optim.iterations, run.batches.batch_size, dist_info.world_size,
             run.batches.batch_size * dist_info.world_size, config.optim.batch_scaling, config.data.crop_width,
             config.data.crop_height, dist_info.device)
    return Training(config, run_dir, dist_info, run, student, start, checkpoint_path, writer)


def run_iterations(training: Training, progress: bool = True) -> list[float]:
    """Iterations `training.start` .. optim.iterations - 1: the optimisation step, logs, images, checkpoints and the
    periodic evaluations. Returns the seconds each iteration took. Raises TrainingInterrupted after a signal
    (with a checkpoint written) and FloatingPointError on a non-finite loss."""
    config, dist_info, run = training.config, training.dist_info, training.run
    writer, total = training.writer, config.optim.iterations
    use_amp = config.optim.amp and dist_info.device.type == 'cuda'
    from tqdm import tqdm

    bar = tqdm(total=total, initial=training.start, disable=not (progress and dist_info.is_main), desc=config.name,
               dynamic_ncols=True)
    seconds = []
    window: dict[str, list[float]] = {}  # scalars of the iterations since the last log, averaged when logged
    logged: dict[str, float] = {}  # the last logged window's means, for train.log's progress line
    with _stop_on_signals() as flag:
        for iteration, batch in zip(range(training.start, total),
                                    iteration_loader(run.batches, training.start, total, config.data.workers),
                                    strict=False):
            began = time.perf_counter()
            batch = {part: {key: tensor.to(dist_info.device, non_blocking=True) for key, tensor in items.items()}
                     for part, items in batch.items()}
            factor = learning_rate_factor(iteration, config)
            for group in run.optimizer.param_groups:
                group['lr'] = group['base_lr'] * factor
            torch.manual_seed(iteration_seed(config.seed, dist_info.rank, iteration, 0))  # dropout, drop path
            generator = torch.Generator().manual_seed(iteration_seed(config.seed, dist_info.rank, iteration, 1))
            autocast = (torch.autocast('cuda', dtype=torch.bfloat16) if use_amp else contextlib.nullcontext())
            try:
                result = run.optimisation_step(batch, generator, autocast, iteration, training.student)
            except FloatingPointError as error:
                raise FloatingPointError(f'{error}; the last checkpoint ({training.checkpoint_path}) is intact. Lower '
                                         'optim.lr or check the data.') from error
            seconds.append(time.perf_counter() - began)
            bar.update(1)
            done = iteration + 1
            for key, value in dict(result.scalars, loss=result.loss.item()).items():
                window.setdefault(key, []).append(value)
            if writer is not None and (done % config.schedule.log_every == 0 or done == total):
                scalars = {key: float(np.mean(values)) for key, values in window.items()}
                scalars.update(lr=run.optimizer.param_groups[0]['lr'],
                               seconds_per_iteration=float(np.median(seconds[-config.schedule.log_every:])))
                for key, value in scalars.items():
                    writer.add_scalar(key, value, done)
                with open(training.run_dir / SCALARS_FILE, 'a') as stream:
                    stream.write(json.dumps({'iteration': done, **scalars}) + '\n')
                bar.set_postfix(loss=f'{scalars["loss"]:.3f}')
                window.clear()
                logged = scalars
            if writer is not None and result.night is not None and done % config.schedule.images_every == 0:
                _log_images(writer, done, result.night, result.pseudo_label)
            stop = dist_info.any(flag['stop'])
            if stop or done % config.schedule.checkpoint_every == 0 or done == total:
                training.checkpoint(done)
                if logged and not stop:
                    LOG.info('%s', progress_line(done, total, logged))
            if stop:
                bar.close()
                raise TrainingInterrupted(f'interrupted at iteration {done}/{total}; checkpoint '
                                          f'{training.checkpoint_path}; resume with: night-seg-train train --resume '
                                          f'{training.run_dir}')
            if done % config.schedule.eval_every == 0 and done < total:
                metrics = _evaluate_all(run.segmenter, run.datasets.val, config, dist_info, None, False)
                _log_metrics(writer, metrics, done, f'iteration {done}')
    bar.close()
    return seconds


def finish_training(training: Training, seconds: list[float], progress: bool = True) -> Path:
    """After the last iteration: the replicas checked, the head's statistics recomputed, the final evaluation, the
    metrics and the bundle written. Returns the bundle path."""
    config, dist_info, run = training.config, training.dist_info, training.run
    _check_replicas(run.segmenter, dist_info)
    if seconds:
        LOG.info('median %.3f s per iteration over %d iterations', float(np.median(seconds)), len(seconds))
    if config.optim.head_statistics_images:
        _recompute_head_statistics(run.segmenter, run.datasets.source, run.datasets.target,
                                   config.optim.head_statistics_images, config.seed, dist_info)
    metrics = _evaluate_all(run.segmenter, run.datasets.val, config, dist_info, training.run_dir / 'eval', progress)
    bundle_path = training.run_dir / 'bundle'
    if dist_info.is_main:
        _log_metrics(training.writer, metrics, config.optim.iterations, 'final')
        atomic_write_bytes(training.run_dir / 'metrics.json', (json.dumps(metrics, indent=2) + '\n').encode())
        _write_bundle(run.segmenter, run.arch, bundle_path,
                      _provenance(config, metrics, config.optim.iterations, run.init_provenance),
                      config.model.weights_dtype)
    if training.writer is not None:
        training.writer.close()
    dist_info.barrier()
    return bundle_path


def _recompute_head_statistics(segmenter: Segmenter, source: Any, target: Any | None, count: int, seed: int,
                               dist_info: Distributed) -> None:
    """head_statistics.recompute_head_statistics over a sample (drawn with the run's `seed`) of the day images, and
    of the night ones if the method reads them. Every process computes the same statistics from the same images and
    weights."""
    from night_seg_training.head_statistics import recompute_head_statistics

    model = SegmentationModel(segmenter.network, segmenter.input_spec).to(dist_info.device)
    used = recompute_head_statistics(model, [source] if target is None else [source, target], count,
                                     device=dist_info.device, seed=seed)
    LOG.info('decode head BatchNorm statistics recomputed over %d whole training images (a random sample, seed %d)',
             used, seed)


def _check_replicas(segmenter: Segmenter, dist_info: Distributed) -> None:
    """Under DDP every process must end with the same weights; raise if they drifted apart."""
    if not dist_info.enabled:
        return
    import torch.distributed as dist

    checksum = torch.stack([p.detach().double().sum() for p in segmenter.parameters()]).sum().view(1)
    gathered = [torch.zeros_like(checksum) for _ in range(dist_info.world_size)]
    dist.all_gather(gathered, checksum.to(dist_info.device))
    values = [float(value) for value in gathered]
    if max(values) - min(values) > 1e-9 * max(1.0, abs(values[0])):
        raise RuntimeError(f'DDP replicas differ after training (parameter checksums {values})')
    LOG.info('DDP: %d replicas hold identical weights (checksum %.6f)', dist_info.world_size, values[0])


def _write_bundle(segmenter: Segmenter, arch: dict[str, Any], path: Path, provenance: dict[str, Any],
                  weights_dtype: str) -> None:
    """The student as a bundle with its ONNX (parity-checked against torch)."""
    from night_seg_ros.export import export_and_check

    model = SegmentationModel(segmenter.network, segmenter.input_spec).cpu().eval()
    bundle = save_bundle(model, path, arch, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, provenance,
                         weights_dtype=weights_dtype)
    report = export_and_check(bundle)
    LOG.info('bundle %s: %s', path, report)
