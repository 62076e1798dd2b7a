"""Multi-process training with PyTorch's distributed data parallel, launched by ``torchrun``.

``torchrun --nproc_per_node=N -m aelib.runs --task kws --paradigm iterative ...`` starts N processes;
each one reads ``RANK``/``WORLD_SIZE`` from the environment and :func:`init` joins the process group
(gloo on CPU, nccl on CUDA). The semantics are those of single-process training on the same
*global* batch:

* :class:`GlobalBatchSampler` draws the same permutation and the same global batches as the
  single-process loader, and gives each rank a contiguous ``batch_size / world`` share of every
  global batch;
* after each backward the gradients of the phase's trainable modules are all-reduced and averaged
  (:func:`average_gradients`, DDP's reduction), which gives the gradient of the global-batch mean
  loss when shares are equal; BatchNorm running statistics are taken from rank 0 after each epoch;
* importance weights are computed **per process batch** (each rank normalises by its own share's
  mean loss): exact for ``uniform``, and an approximation of the global-batch weights otherwise,
  whose error shrinks with the per-rank batch size. BatchNorm statistics are per rank as well;
* validation runs on every rank (identical results, no communication), and only rank 0 writes
  files or evaluates.
"""
from __future__ import annotations

import os
from typing import Iterator, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def init() -> bool:
    """Join the process group when launched by torchrun; returns True when distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's boolean, on every rank."""
    if world_size() == 1:
        return flag
    t = torch.tensor([int(flag)])
    dist.broadcast(t, 0)
    return bool(t.item())


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    """All-reduce and average the gradients of ``params`` across processes (DDP's reduction).

    Done explicitly after ``backward`` rather than through a ``DistributedDataParallel`` wrapper
    because the set of trained modules changes from phase to phase (AE, CA, both), and a wrapper
    per phase would leave stale gradient hooks on shared parameters. The arithmetic is DDP's:
    one flat all-reduce (sum) divided by the world size.
    """
    world = world_size()
    if world == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    i = 0
    for g in grads:
        g.copy_(flat[i : i + g.numel()].view_as(g))
        i += g.numel()


def sync_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's broadcast_buffers."""
    if world_size() == 1:
        return
    for b in module.buffers():
        dist.broadcast(b, 0)


def _split(items: list[int], size: int) -> list[list[int]]:
    """Consecutive pieces of ``size`` (the last may be shorter)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


class GlobalBatchSampler(Sampler[list[int]]):
    """Single-process global batches, each split into ``world`` contiguous shares; yields this rank's share.

    Args:
        n: dataset size.
        batch_size: the *global* batch size (Config.batch_size); must be divisible by ``world``.
        generator_seed: seed of the permutation, the same one the single-process loader uses.
        lengths, buckets: with both (and ``shuffle``), the permutation is cut into chunks of ``buckets``
            batches, each chunk is sorted by length before it is batched, and the batch order is shuffled:
            batches of similar lengths, so variable-length clips carry less padding ("sortish" batching).
    """

    def __init__(self, n: int, batch_size: int, generator_seed: int, shuffle: bool, world: int, rank_: int,
                 lengths: Sequence[float] | None = None, buckets: int = 0) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes {world}")
        if lengths is not None and len(lengths) != n:
            raise ValueError(f"{len(lengths)} lengths for {n} items")
        self.n, self.bs, self.seed, self.shuffle, self.world, self.rank = n, batch_size, generator_seed, shuffle, world, rank_
        self.lengths, self.buckets = lengths, buckets

    def _global_batches(self) -> list[list[int]]:
        if not self.shuffle:
            return _split(list(range(self.n)), self.bs)
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(self.n, generator=g).tolist()
        if self.lengths is None or self.buckets <= 0:
            return _split(order, self.bs)
        batches = [b for chunk in _split(order, self.bs * self.buckets)
                   for b in _split(sorted(chunk, key=self.lengths.__getitem__), self.bs)]
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def __iter__(self) -> Iterator[list[int]]:
        for gb in self._global_batches():
            share = (len(gb) + self.world - 1) // self.world
            mine = gb[self.rank * share : (self.rank + 1) * share]
            yield mine if mine else gb[-1:]  # a short last batch: never leave a rank without work

    def __len__(self) -> int:
        return (self.n + self.bs - 1) // self.bs
