"""Multi-process training with PyTorch's own engine: ``torchrun`` + DistributedDataParallel.

OUR DESIGN: one code path for one process and for many. ``kdtrack train ...`` calls
:func:`init_from_env`, which starts a process group only when ``torchrun`` (or any launcher
that sets ``WORLD_SIZE`` / ``RANK`` / ``MASTER_ADDR``) started several processes — NCCL when CUDA
is available, gloo otherwise (CPU, loopback). :func:`make_loader` then gives each rank its share of
every global batch through a :class:`~torch.utils.data.DistributedSampler`, and
:func:`kdtrack_lite.distill.loop.fit` wraps the training step in
:class:`~torch.nn.parallel.DistributedDataParallel`, which averages gradients across ranks.

Global batch semantics: ``batch_size`` is the *global* batch; each of ``W`` ranks loads
``batch_size / W`` samples per step (``batch_size`` must divide evenly). With the same seed, the
union of the ranks' step-``s`` batches equals step ``s`` of a one-process run that uses
``DistributedSampler(num_replicas=1)`` — which is how ``tests/test_distributed.py`` checks that
two CPU processes train the same model as one.

Launch (README, "Scale up")::

    torchrun --standalone --nproc_per_node 2 -m kdtrack_lite.cli train sot --role student --out runs/s.pt
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


def is_distributed() -> bool:
    """Whether a process group is running (this process is one rank of several)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that logs and writes checkpoints."""
    return rank() == 0


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group a launcher described in the environment (``torchrun`` sets
    ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).

    Args:
        backend: ``"gloo"`` or ``"nccl"``; default NCCL when CUDA is available, else gloo.

    Returns:
        True when this process is now one rank of several; False for a plain one-process run.
    """
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {missing} not set: launch with "
                           "`torchrun --nproc_per_node N -m kdtrack_lite.cli ...`")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def device_for_rank() -> torch.device | None:
    """The CUDA device of this rank under NCCL (``LOCAL_RANK``); None elsewhere (caller decides)."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return None


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()


def make_loader(dataset: Dataset, batch_size: int, seed: int, sampler: Sampler | None = None,
                num_workers: int = 0, distributed: bool | None = None) -> DataLoader:
    """Shuffled training loader; per-rank shards of every global batch when distributed.

    Args:
        dataset: map-style dataset.
        batch_size: the global batch (split evenly across ranks).
        seed: shuffling seed; the order depends only on it (and the epoch, when distributed).
        sampler: a custom sampler (e.g. attribute re-weighting); one process only.
        num_workers: DataLoader worker processes (0 = load in the training process).
        distributed: force the sharded sampler (``True`` with one process gives the same global
            order as a multi-rank run); default: whether a process group is running.
    """
    distributed = is_distributed() if distributed is None else distributed
    common = dict(drop_last=True, num_workers=num_workers, persistent_workers=num_workers > 0,
                  pin_memory=torch.cuda.is_available())
    if not distributed:
        if sampler is not None:
            return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **common)
        return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(seed), **common)
    if sampler is not None:
        raise ValueError("make_loader: a custom sampler cannot be combined with distributed training "
                         "(use DistributedSampler's uniform shuffling, or train on one process)")
    world = world_size()
    if batch_size % world:
        raise ValueError(f"make_loader: global batch_size {batch_size} must be divisible by the world size {world}")
    shard = DistributedSampler(dataset, num_replicas=world, rank=rank(), shuffle=True, seed=seed, drop_last=True)
    return DataLoader(dataset, batch_size=batch_size // world, sampler=shard, **common)


def all_same(tensors: Sequence[torch.Tensor]) -> bool:
    """Whether every rank holds the same values in ``tensors`` (max-min over ranks is 0)."""
    if not is_distributed():
        return True
    flat = torch.cat([t.detach().float().flatten().cpu() for t in tensors])
    high, low = flat.clone(), flat.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return bool(torch.equal(high, low))
