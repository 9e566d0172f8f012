"""torch.distributed for the trainers: process groups, sharding, reductions, DDP/FSDP, full state dicts.

A run started by ``torchrun`` (``RANK``/``WORLD_SIZE`` set) joins a process group (NCCL on GPUs,
gloo on CPU); a plain ``python`` run is a world of one and every collective here is a no-op, so
the trainers have one code path. Data is sharded by query, not by episode, so a query's whole
group (its pass rate, its advantages) stays on one rank.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

T = TypeVar("T")
Strategy = Literal["auto", "none", "ddp", "fsdp"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto", timeout_s: int = 1800) -> DistContext:
    """Join the process group torchrun set up (if any) and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    chosen = torch.device(f"cuda:{local}") if cuda else torch.device("cpu" if device == "auto" else device)
    if cuda:
        torch.cuda.set_device(chosen)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world_size=world, local_rank=local, device=chosen)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(items: Sequence[T], ctx: DistContext) -> list[tuple[int, T]]:
    """This rank's items with their global index (round-robin: shards differ in size by at most one)."""
    return [(index, item) for index, item in enumerate(items) if index % ctx.world_size == ctx.rank]


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def all_reduce(values: dict[str, float], ctx: DistContext, op: str = "sum") -> dict[str, float]:
    """Sum (or max) named numbers over ranks, in float64 so that counts stay exact.

    Ranks may hold different names (one had no batch to report on): the union is reduced, a name
    a rank lacks counting as 0 in a sum and not at all in a max.
    """
    if not ctx.distributed:
        return dict(values)
    names: list[list[str]] = [[] for _ in range(ctx.world_size)]
    dist.all_gather_object(names, sorted(values))
    keys = sorted(set().union(*names))
    if not keys:
        return {}
    missing = float("-inf") if op == "max" else 0.0
    device = ctx.device if ctx.device.type == "cuda" else torch.device("cpu")
    tensor = torch.tensor([float(values.get(k, missing)) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return dict(zip(keys, tensor.tolist(), strict=True))


def resolve_strategy(strategy: Strategy, ctx: DistContext) -> Strategy:
    if strategy != "auto":
        return strategy
    if not ctx.distributed:
        return "none"
    return "fsdp" if ctx.device.type == "cuda" else "ddp"


def wrap(module: nn.Module, decoder_layers: Sequence[nn.Module], strategy: Strategy, ctx: DistContext) -> nn.Module:
    """DDP, or FSDP2 with one shard unit per decoder layer plus the root (embeddings, vision tower, head).

    Gradients are summed over ranks by scaling each rank's loss by the world size (both wrappers
    average), which the trainers do, so a global normaliser gives exactly the single-process loss.
    """
    if strategy == "none":
        return module
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = (
        MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        if ctx.device.type == "cuda"
        else MixedPrecisionPolicy()
    )
    for layer in decoder_layers:
        fully_shard(layer, mp_policy=policy)
    fully_shard(module, mp_policy=policy)
    return module


def unwrap(module: nn.Module) -> nn.Module:
    """The module under a DDP wrapper (FSDP2 shards in place, so it has none)."""
    return getattr(module, "module", module)


_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)
_FULL_EVERYWHERE = StateDictOptions(full_state_dict=True)


def full_model_state(module: nn.Module, everywhere: bool = False) -> dict[str, torch.Tensor]:
    """Unsharded weights: on rank 0 only (for saving), or on every rank (to reload a generation engine)."""
    return get_model_state_dict(module, options=_FULL_EVERYWHERE if everywhere else _FULL)


def full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return get_optimizer_state_dict(module, optimizer, options=_FULL)


def load_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a full optimizer state (as saved by rank 0) into every rank, resharding it under FSDP."""
    set_optimizer_state_dict(
        module,
        optimizer,
        optim_state_dict=state,
        options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=False),
    )


def load_model_state(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True))
