"""The combined update of the task gradients: ``sum_t w[t] * J[t]`` written to ``.grad``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mtl.training.distributed import average_gradients


class GradientUpdate:
    """The task gradients of one step, and how to write ``sum_t w[t] * J[t]`` to the
    shared parameters' ``.grad`` once the balancer has chosen the weights ``w``.

    Built by :class:`~mtl.training.task_gradients.TaskGradients` in one of two modes:

    - parameters mode: ``dense`` parameters with their ``(T, P)`` gradient ``matrix``, and
      the token-embedding ``table`` with each task's ``(ids (U,), rows (U, D))`` gradient
      ``rows`` (None when the table does not train);
    - representation mode: the encoder ``outputs`` the heads read, their ``(T, N)``
      gradient ``matrix``, and the ``shared`` parameters whose gradients one backward
      through the encoder fills in.

    Every argument is optional: an empty update (no head reads the encoder) applies nothing.
    """

    def __init__(
        self,
        dense: list[nn.Parameter] | None = None,
        matrix: Tensor | None = None,
        table: nn.Parameter | None = None,
        rows: list[tuple[Tensor, Tensor]] | None = None,
        outputs: list[Tensor] | None = None,
        shared: list[nn.Parameter] | None = None,
    ) -> None:
        self.dense, self.matrix, self.table, self.rows, self.outputs = dense, matrix, table, rows, outputs
        self.shared = shared

    def gram(self) -> Tensor:
        """``(T, T)`` float64 Gram matrix of the parameter-mode task gradients."""
        return gram_of(self.matrix) + (_sparse_gram(self.rows) if self.rows else 0.0)

    def apply(self, weights: Tensor) -> None:
        if self.outputs is not None:  # representation mode: one backward through the encoder
            combined = weights.to(self.matrix.dtype) @ self.matrix  # (N,)
            parts, start = [], 0
            for out in self.outputs:
                parts.append(combined[start : start + out.numel()].view_as(out))
                start += out.numel()
            torch.autograd.backward(self.outputs, parts)
            average_gradients(self.shared)
            return
        if self.matrix is not None:
            combined = weights.to(self.matrix.dtype) @ self.matrix  # (P,)
            start = 0
            for p in self.dense:
                g = combined[start : start + p.numel()].view_as(p)
                p.grad = g.clone() if p.grad is None else p.grad + g
                start += p.numel()
        if self.table is not None:
            grad = torch.zeros_like(self.table)
            for w, (ids, rows) in zip(weights.to(self.table.dtype), self.rows):
                grad.index_add_(0, ids, rows * w)
            self.table.grad = grad if self.table.grad is None else self.table.grad + grad


def gram_of(matrix: Tensor | None) -> Tensor:
    """``(T, T)`` float64 Gram matrix ``J @ J.T`` of a ``(T, N)`` gradient matrix (0 for None)."""
    if matrix is None:
        return torch.zeros(())
    m = matrix.double()
    return m @ m.T  # (T, T)


def _sparse_gram(rows: list[tuple[Tensor, Tensor]]) -> Tensor:
    """Gram matrix of the per-task embedding gradients given as (ids, rows) pairs."""
    all_ids, inverse = torch.unique(torch.cat([ids for ids, _ in rows]), return_inverse=True)
    dim = rows[0][1].shape[-1]
    stacked = torch.zeros(len(rows), all_ids.numel(), dim, dtype=torch.float64, device=all_ids.device)
    start = 0
    for t, (ids, r) in enumerate(rows):
        stacked[t, inverse[start : start + ids.numel()]] = r.double()
        start += ids.numel()
    flat = stacked.reshape(len(rows), -1)  # (T, U*D)
    return flat @ flat.T
