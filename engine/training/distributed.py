"""Data-parallel training on torch.distributed, started by torchrun (which sets RANK, WORLD_SIZE, LOCAL_RANK).

Every optimizer step takes one length-bucketed batch of the epoch; rank r trains on examples r, r+W, r+2W, …
of it. Losses are summed over tokens and divided by the global token count, so the averaged DDP gradient
equals the gradient a single process computes on the whole batch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun job (or a world of one)."""
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Only the main process writes logs and checkpoints."""
        return self.rank == 0

    def shard(self, batch: list[int]) -> tuple[list[int], float]:
        """This rank's examples of a global batch, and 1.0 (or 0.0 when it got none: it then runs batch[0] for
        nothing)."""
        mine = batch[self.rank :: self.size]
        return (mine, 1.0) if mine else (batch[:1], 0.0)

    def sum(self, *values: float) -> list[float]:
        """Sum numbers over all ranks (identity in a single process)."""
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def agree(self, flag: bool) -> bool:
        """The main process's decision, on every rank (for stopping, so no rank waits forever)."""
        return bool(self.broadcast(float(flag))[0])

    def broadcast(self, *values: float) -> list[float]:
        """The main process's numbers, on every rank."""
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")


def init_world(device: str = "auto") -> World:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def close_world(world: World) -> None:
    """Leave the process group, if there is one."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
