"""night_seg_training.evaluate under torch.distributed: two processes on gloo sum their shards to the single-process
result, and only rank 0 writes files (slow: spawns two processes that import torch)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from night_seg_ros.bundle import InputSpec
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX
from night_seg_training.evaluate import evaluate


def _random_labels(rng: np.random.Generator, shape: tuple[int, ...], num_classes: int) -> np.ndarray:
    """uint8 class ids in 0..num_classes - 1 with about 10 % IGNORE_INDEX."""
    labels = rng.integers(0, num_classes, shape).astype(np.uint8)
    labels[rng.random(shape) < 0.1] = IGNORE_INDEX
    return labels


class _BrightnessModel(nn.Module):
    """A stand-in SegmentationModel: logits peaked at class red channel // 16 (fast to build in a spawned process)."""

    input_spec = InputSpec(height=16, width=24)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float32 (N, 3, H, W)."""
        return image.permute(0, 3, 1, 2).float()

    def coarse_logits(self, normalized: torch.Tensor) -> torch.Tensor:
        """float32 (N, 3, H, W) -> float32 (N, H, W, 16) logits, 10 at class red // 16, 0 elsewhere."""
        return 10.0 * nn.functional.one_hot((normalized[:, 0] // 16).long(), 16).float()


def _toy_dataset() -> list[dict]:
    """Five random 32x48 images with random labels over 16 classes (about 10 % ignore)."""
    rng = np.random.default_rng(4)
    return [{'image': rng.integers(0, 256, (32, 48, 3), dtype=np.uint8), 'label': _random_labels(rng, (32, 48), 16),
             'name': str(index)} for index in range(5)]


def _distributed_worker(rank: int, world_size: int, init_file: str, out_root: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world_size)
    try:
        out_dir = Path(out_root) / f'rank{rank}'
        results = evaluate(_BrightnessModel(), _toy_dataset(), CITYSCAPES_CLASSES[:16], CITYSCAPES_PALETTE[:16],
                           out_dir=out_dir, progress=False, distributed=True, batch_size=2)
        (Path(out_root) / f'results{rank}.json').write_text(json.dumps(results))
    finally:
        dist.destroy_process_group()


def test_distributed_evaluation_sums_the_shards(tmp_path: Path) -> None:
    mp.spawn(_distributed_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    single = evaluate(_BrightnessModel(), _toy_dataset(), CITYSCAPES_CLASSES[:16], CITYSCAPES_PALETTE[:16],
                      progress=False)
    assert 0.0 < single['miou'] < 100.0
    for rank in (0, 1):
        assert json.loads((tmp_path / f'results{rank}.json').read_text()) == json.loads(json.dumps(single))
    assert sorted(path.name for path in (tmp_path / 'rank0').iterdir()) == ['confusion.png', 'gallery.png',
                                                                             'metrics.json']
    assert not (tmp_path / 'rank1').exists(), 'only rank 0 writes files'
