"""A training run's parts, built in one place from its config: `build_run` gives the method's step, the network
(Segmenter), the EMA teacher, the optimizer, the datasets and the batches of every iteration. The loop
(loop.train), `night-seg-train bench` and the studies in experiments/ all build a run this way, so what they
train, time or measure is what a recipe trains.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from night_seg_ros.bundle import MODEL_JSON, InputSpec, read_bundle
from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from night_seg_training.batches import Crops, IterationBatches
from night_seg_training.config import DataConfig, TrainConfig, per_process_batch
from night_seg_training.method.steps import AdaptationMethod, Batch, StepResult, build_method
from night_seg_training.method.teacher import EmaTeacher
from night_seg_training.rare_class import RareClassSampler, label_pixel_counts, rare_class_sampler
from night_seg_training.segmenter import Segmenter, initial_network

LOG = logging.getLogger('night_seg_train')


class Datasets(NamedTuple):
    """The datasets of a run (datasets.build_dataset readers): labelled day images, night images (None for a method
    that reads none), and the named evaluation sets."""

    source: Any
    target: Any | None
    val: dict[str, Any]


def build_datasets(config: TrainConfig, method: AdaptationMethod) -> Datasets:
    """The datasets `config.data` names; the night set only for a method that reads night images."""
    from night_seg_training.datasets import build_dataset

    source = build_dataset(config.data.source)
    target = build_dataset(config.data.target) if method.uses_target else None
    val = {name: build_dataset(spec) for name, spec in config.data.val.items()}
    return Datasets(source, target, val)


def crops_of(data: DataConfig) -> Crops:
    """The training crops `data` describes."""
    return Crops(data.resize_height, (data.scale_min, data.scale_max), (data.crop_height, data.crop_width))


def build_optimizer(segmenter: Segmenter, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; the decode head learns `head_lr_mult` times faster than the pretrained-style encoder."""
    head = [p for name, p in segmenter.named_parameters() if name.startswith('network.decode_head.')]
    encoder = [p for name, p in segmenter.named_parameters() if not name.startswith('network.decode_head.')]
    lr = config.optim.lr
    return torch.optim.AdamW([{'params': encoder, 'lr': lr, 'base_lr': lr},
                              {'params': head, 'lr': lr * config.optim.head_lr_mult,
                               'base_lr': lr * config.optim.head_lr_mult}],
                             weight_decay=config.optim.weight_decay, fused=True)  # one kernel for all tensors


@dataclass
class Run:
    """Everything one training run is built from (`build_run`)."""

    config: TrainConfig
    method: AdaptationMethod
    """The method's step (method.steps): the losses of one batch."""
    segmenter: Segmenter
    """The student network, on the run's device, in training mode."""
    arch: dict[str, Any]
    """The bundle's `arch` entry of the network."""
    teacher: EmaTeacher | None
    """The EMA teacher of a method that keeps one (anchored when `method.anchor_classes` is set)."""
    optimizer: torch.optim.Optimizer
    datasets: Datasets
    batches: IterationBatches
    """The batch of every iteration for this rank."""
    diagnose: bool
    """The night batches carry ground truth to measure the pseudo-labels with (never learned from)."""
    init_provenance: dict[str, Any] | None
    """The provenance of the bundle the run started from (`model.init`), read before the run may replace it."""

    def optimisation_step(self, batch: Batch, generator: torch.Generator, autocast: contextlib.AbstractContextManager,
                          iteration: int, student: nn.Module | None = None) -> StepResult:
        """One iteration: losses, backward, optimizer step, teacher update. Raises FloatingPointError on a bad loss.

        `student`: the segmenter's DDP wrapper under DDP (the teacher follows the unwrapped module); default the
        segmenter. `batch` is on the run's device; `generator` draws the method's augmentation.
        """
        student = self.segmenter if student is None else student
        result = self.method.step(student, self.teacher, batch, generator, autocast)
        if not math.isfinite(result.loss.item()):
            raise FloatingPointError(f'loss is {result.loss.item()} at iteration {iteration}')
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        self.optimizer.step()
        if self.teacher is not None:
            self.teacher.update(getattr(student, 'module', student), iteration)
        return result


def build_run(config: TrainConfig, device: torch.device | str = 'cpu', rank: int = 0,
              datasets: Datasets | None = None, world_size: int = 1) -> Run:
    """The parts of a run of `config` (a loaded, so resolved, config) on `device` for DDP rank `rank` of
    `world_size` processes (each drawing config.per_process_batch crops per domain).

    Seeds torch with `config.seed` first, so the network starts the same wherever it is built. `datasets`: use
    these instead of building `config.data`'s (the bench and the studies share theirs between runs); a night set
    given to a method that reads none is left out.
    """
    torch.manual_seed(config.seed)
    method = build_method(config.method, CITYSCAPES_CLASSES, IGNORE_INDEX)
    network, arch = initial_network(config.model.variant, config.model.init)
    init_provenance = _init_provenance(config.model.init)  # read now: the start bundle may be replaced by the end
    segmenter = Segmenter(network, InputSpec(config.model.input_height, config.model.input_width))
    segmenter.to(device).train()
    teacher = EmaTeacher(segmenter, config.method.ema_alpha, method.uses_anchor) if method.uses_teacher else None
    optimizer = build_optimizer(segmenter, config)
    if datasets is None:
        datasets = build_datasets(config, method)
    elif not method.uses_target:
        datasets = datasets._replace(target=None)
    target = datasets.target
    diagnose = (method.uses_teacher and config.schedule.pseudo_label_diagnostics and target is not None
                and 'label' in target[0] and getattr(target, 'fully_labelled', True))  # measured, never learned
    keys = method.night_keys + (('label',) if diagnose and 'label' not in method.night_keys else ())
    batches = IterationBatches(datasets.source, crops_of(config.data), per_process_batch(config.optim, world_size),
                               config.seed, rank,
                               target, keys, _source_sampler(datasets.source, config))
    return Run(config, method, segmenter, arch, teacher, optimizer, datasets, batches, bool(diagnose),
               init_provenance)


def _source_sampler(source: Any, config: TrainConfig) -> RareClassSampler | None:
    """The rare-class sampler of the day images when the config asks for one (reads every day label once)."""
    if config.data.rare_class_temperature is None:
        return None
    sampler = rare_class_sampler(label_pixel_counts(source, len(CITYSCAPES_CLASSES)),
                                 config.data.rare_class_temperature, config.data.rare_class_min_share)
    order = np.argsort(sampler.probabilities)[::-1][:5]
    LOG.info('rare-class sampling of %d day images, T %g: %s', len(source), config.data.rare_class_temperature,
             ', '.join(f'{CITYSCAPES_CLASSES[sampler.classes[i]]} {sampler.probabilities[i]:.2f} '
                       f'({len(sampler.images[i])} images)' for i in order))
    return sampler


def _init_provenance(init: str | None) -> dict[str, Any] | None:
    """The provenance of the bundle a run started from (its own history, kept when the new bundle replaces it);
    None when the run started from scratch or from a Hugging Face model."""
    if init is None or not (Path(init).expanduser() / MODEL_JSON).is_file():
        return None
    return read_bundle(Path(init).expanduser()).provenance
