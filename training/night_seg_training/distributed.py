"""One code path for one process and for `torchrun` (DDP): who am I, which device, who writes files.

`torchrun` sets WORLD_SIZE, RANK and LOCAL_RANK; with WORLD_SIZE > 1 the process group starts with NCCL on CUDA
and gloo on CPU. Side effects (logs, checkpoints, bundles) happen on rank 0 only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 writes logs, checkpoints and the bundle."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every process (no-op alone)."""
        if self.enabled:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every rank when `flag` is True on any rank (e.g. one rank got SIGTERM)."""
        if not self.enabled:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())


def start_distributed(device: str | None = None) -> Distributed:
    """Initialise from torchrun's environment (or a single process); `device` None: CUDA when present, else CPU."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith('cuda')
    if use_cuda:
        torch.cuda.set_device(local_rank)
        chosen = torch.device('cuda', local_rank)
    else:
        chosen = torch.device('cpu')
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend='nccl' if use_cuda else 'gloo')
    return Distributed(rank, world_size, chosen)


def stop_distributed() -> None:
    """Tear the process group down (safe to call when none was started)."""
    if dist.is_initialized():
        dist.destroy_process_group()
