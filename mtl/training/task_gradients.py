"""Per-task gradients of the shared encoder, their Gram matrix, and the combined update.

Two modes:

- ``parameters``: row ``t`` of ``J`` is task ``t``'s gradient with respect to every
  trainable encoder parameter. The token-embedding table is never copied per task: its
  gradient is taken with respect to the looked-up rows (``(B, T, D)``) and summed per
  token id, so a task's embedding gradient costs ``O(unique tokens x D)``, not
  ``O(vocabulary x D)``. Dense parameters are stacked once into a ``(T, P)`` matrix.
- ``representation``: row ``t`` is the gradient with respect to the encoder's outputs
  (``hidden`` and ``pooled``); this needs all tasks of a step to read the same encoder
  pass (an input group, ``sampling: all``). One encoder backward then applies the
  combined update.

In both modes every task head receives its own, unweighted gradient.

Under data parallelism (DDP) the module turns off DDP's own gradient synchronisation
and these methods reduce instead: the per-task gradients (parameters mode) or the Gram
matrix (representation mode) are combined over processes before the weights are found,
so every process finds the same weights and makes the update one process would make on
the global batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import Tensor, nn

from mtl.encoders.base import Encoder
from mtl.encoders.output import EncoderOutput
from mtl.training.distributed import average_gradients, gather_rows, mean_over_processes, sum_over_processes, world_size
from mtl.training.gradient_update import GradientUpdate, gram_of

GradientMode = Literal["parameters", "representation"]


class TaskGradients:
    """Computes the Gram matrix of the task gradients and writes the combined gradient.

    Args:
        encoder: the shared encoder.
        pad_id: token id whose embedding row never trains.
    """

    def __init__(self, encoder: Encoder, pad_id: int = 0) -> None:
        self.encoder = encoder
        self.pad_id = pad_id
        self.lookup: nn.Embedding | None = encoder.token_embedding()

    @contextmanager
    def capture_lookups(self) -> Iterator[list[Tensor]]:
        """Records the output of every token-embedding lookup made inside the block."""
        outputs: list[Tensor] = []
        if self.lookup is None:
            yield outputs
            return
        handle = self.lookup.register_forward_hook(lambda module, args, out: outputs.append(out))
        try:
            yield outputs
        finally:
            handle.remove()

    def _dense(self) -> list[nn.Parameter]:
        table = self.lookup.weight if self.lookup is not None else None
        return [p for p in self.encoder.parameters() if p.requires_grad and p is not table]

    def parameters_step(
        self,
        losses: list[Tensor],
        heads: list[nn.Module],
        lookups: list[tuple[Tensor, Tensor]],
    ) -> tuple[Tensor, GradientUpdate]:
        """Per-task gradients of the shared parameters.

        Args:
            losses: ``T`` scalar task losses.
            heads: each task's head (receives its own gradient here).
            lookups: per task, ``(input_ids (B, T), looked-up rows (B, T, D))`` of its
                encoder pass.

        Returns:
            The ``(T, T)`` float64 Gram matrix and the update to apply once weights are known.
        """
        dense = self._dense()
        table_trains = self.lookup is not None and self.lookup.weight.requires_grad
        rows: list[tuple[Tensor, Tensor]] = []
        flat: list[Tensor] = []
        lookups = lookups or [(None, None)] * len(losses)  # an encoder without a token-embedding table
        for t, (loss, head, (ids, looked_up)) in enumerate(zip(losses, heads, lookups)):
            head_params = [p for p in head.parameters() if p.requires_grad]
            inputs = dense + ([looked_up] if table_trains else []) + head_params
            grads = torch.autograd.grad(loss, inputs, retain_graph=t < len(losses) - 1, allow_unused=True)
            flat.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, dense)]))
            if table_trains:
                rows.append(gather_rows(*_rows_by_token(ids, grads[len(dense)], self.pad_id)))
            _accumulate(head_params, grads[len(dense) + int(table_trains) :])
            average_gradients(head_params)
        matrix = mean_over_processes(torch.stack(flat)) if dense else None  # (T, P), global-batch gradients
        update = GradientUpdate(dense, matrix, self.lookup.weight if table_trains else None, rows)
        return update.gram(), update

    def representation_step(
        self, losses: list[Tensor], heads: list[nn.Module], leaf: EncoderOutput, encoded: EncoderOutput
    ) -> tuple[Tensor, GradientUpdate]:
        """Per-task gradients with respect to one shared encoder output.

        Args:
            losses: the task losses, computed by the heads from ``leaf``.
            heads: each task's head.
            leaf: :func:`representation_leaf` of ``encoded``: the heads' input, cut from
                the encoder's graph so that the gradient at ``hidden`` does not already
                contain the part that reaches it through ``pooled``.
            encoded: the encoder's output, through which the combined gradient flows back.
        """
        inputs = [leaf.hidden, leaf.pooled]
        outputs = [encoded.hidden, encoded.pooled]
        per_task = []  # each task's gradients at (hidden, pooled); None where its head does not read it
        for loss, head in zip(losses, heads):
            head_params = [p for p in head.parameters() if p.requires_grad]
            grads = torch.autograd.grad(loss, inputs + head_params, retain_graph=True, allow_unused=True)
            per_task.append(grads[: len(inputs)])
            _accumulate(head_params, grads[len(inputs) :])
            average_gradients(head_params)
        # Only the outputs some head reads: with pooled-vector heads the (B, T, D) token
        # states would be a block of zeros in every row (and most of the matrix).
        read = [i for i in range(len(inputs)) if any(g[i] is not None for g in per_task)]
        outputs = [outputs[i] for i in read]
        if not outputs:  # no head reads the encoder: nothing flows back into it
            return torch.zeros(len(losses), len(losses), dtype=torch.float64, device=losses[0].device), GradientUpdate()
        matrix = torch.stack([  # (T, N): N = B*T*D and/or B*D, the outputs read
            torch.cat([(g[i] if g[i] is not None else torch.zeros_like(inputs[i])).reshape(-1) for i in read]) for g in per_task
        ])  # fmt: skip
        # The global batch's representation gradients are every process's, each divided
        # by the number of processes W: their Gram matrix is the sum of the local ones / W².
        gram = sum_over_processes(gram_of(matrix)) / world_size() ** 2
        shared = [p for p in self.encoder.parameters() if p.requires_grad]
        return gram, GradientUpdate(outputs=outputs, matrix=matrix, shared=shared)


def representation_leaf(encoded: EncoderOutput) -> EncoderOutput:
    """A copy of an encoder output whose ``hidden`` and ``pooled`` are leaves of their own
    (the heads read it in representation mode)."""
    return EncoderOutput(
        hidden=encoded.hidden.detach().requires_grad_(),
        pooled=encoded.pooled.detach().requires_grad_(),
        mask=encoded.mask,
    )


def _rows_by_token(ids: Tensor, grad: Tensor, pad_id: int) -> tuple[Tensor, Tensor]:
    """Sum a lookup's gradient ``(B, T, D)`` per token id: ``(U,)`` ids and ``(U, D)`` rows."""
    flat_ids = ids.reshape(-1)  # (B*T,)
    keep = flat_ids != pad_id
    unique, inverse = torch.unique(flat_ids[keep], return_inverse=True)
    rows = torch.zeros(unique.numel(), grad.shape[-1], dtype=grad.dtype, device=grad.device)
    rows.index_add_(0, inverse, grad.reshape(-1, grad.shape[-1])[keep])  # (U, D)
    return unique, rows


def _accumulate(params: list[nn.Parameter], grads: tuple[Tensor | None, ...]) -> None:
    for p, g in zip(params, grads):
        if g is not None:
            p.grad = g if p.grad is None else p.grad + g
