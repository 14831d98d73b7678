"""Collective operations for gradient balancing under data parallelism.

Gradient balancers must see the task gradients of the *global* batch, so that every
process computes the same weights and one process on the same global batch gives the
same update. These helpers are no-ops in a single process.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def mean_over_processes(tensor: Tensor) -> Tensor:
    """All-reduce to the mean over processes (in place), returned for chaining."""
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= world_size()
    return tensor


def sum_over_processes(tensor: Tensor) -> Tensor:
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def average_gradients(params: list[nn.Parameter]) -> None:
    """Replace every ``.grad`` by its mean over processes, in one flat all-reduce."""
    if world_size() == 1:
        return
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in with_grad])
    mean_over_processes(flat)
    start = 0
    for p in with_grad:
        p.grad.copy_(flat[start : start + p.numel()].view_as(p.grad))
        start += p.numel()


def gather_rows(ids: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Concatenate every process's ``(U,)`` token ids and ``(U, D)`` gradient rows, each
    divided by the number of processes (the mean over processes of the row sums)."""
    size = world_size()
    if size == 1:
        return ids, rows
    count = torch.tensor([ids.numel()], device=ids.device)
    counts = [torch.zeros_like(count) for _ in range(size)]
    dist.all_gather(counts, count)
    longest = int(max(c.item() for c in counts))
    padded_ids = torch.zeros(longest, dtype=ids.dtype, device=ids.device)
    padded_rows = torch.zeros(longest, rows.shape[-1], dtype=rows.dtype, device=rows.device)
    padded_ids[: ids.numel()], padded_rows[: ids.numel()] = ids, rows
    all_ids = [torch.zeros_like(padded_ids) for _ in range(size)]
    all_rows = [torch.zeros_like(padded_rows) for _ in range(size)]
    dist.all_gather(all_ids, padded_ids)
    dist.all_gather(all_rows, padded_rows)
    ids_out = torch.cat([a[: int(c.item())] for a, c in zip(all_ids, counts)])
    rows_out = torch.cat([r[: int(c.item())] for r, c in zip(all_rows, counts)]) / size
    unique, inverse = torch.unique(ids_out, return_inverse=True)
    merged = torch.zeros(unique.numel(), rows.shape[-1], dtype=rows.dtype, device=rows.device)
    merged.index_add_(0, inverse, rows_out)
    return unique, merged


def global_losses(losses: dict[str, Tensor]) -> dict[str, Tensor]:
    """The task losses of the global batch: each averaged over processes (float64, detached)."""
    names = list(losses)
    mean = mean_over_processes(torch.stack([losses[name].detach() for name in names]).double())  # (T,)
    return dict(zip(names, mean))


def add_over_processes(sums: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Every process's running sums (name -> task -> value) added up; processes may have
    seen different tasks."""
    if world_size() == 1:
        return sums
    gathered: list[dict[str, dict[str, float]]] = [{} for _ in range(world_size())]
    dist.all_gather_object(gathered, sums)
    return add_by_key(gathered)


def add_by_key(per_process: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Sums of name -> task -> value dictionaries, key by key."""
    total: dict[str, dict[str, float]] = {}
    for sums in per_process:
        for name, by_task in sums.items():
            merged = total.setdefault(name, {})
            for task, value in by_task.items():
                merged[task] = merged.get(task, 0.0) + value
    return total
