"""STCH: smooth Tchebycheff scalarisation of the log-losses relative to a nadir point."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mtl.balancers.weighting import Weighting


class STCH(Weighting):
    """Smooth Tchebycheff scalarisation (Lin et al., "Smooth Tchebycheff Scalarization for
    Multi-Objective Optimization", ICML 2024), as LibMTL's ``STCH`` trains it.

    After warm-up, with a nadir point ``n_t`` (each task's mean loss over one epoch) and
    ``r_t = log(L_t / n_t + eps)``, the loss is ``K * mu * log sum_t exp(r_t / mu)`` over
    the ``K`` tasks of the step: a smooth maximum of the ``r_t`` (it tends to
    ``K * max_t r_t`` as ``mu -> 0``). Its gradient is ``sum_t w_t grad L_t`` with
    ``w_t = K * softmax(r / mu)_t / (L_t + eps n_t)``; ``last_weights`` holds these
    ``w_t``. LibMTL subtracts the (detached) largest ``r_t`` inside the logarithm without
    adding it back, which changes the value, not the gradient; here the value is the smooth
    maximum itself.

    Warm-up (LibMTL's ``STCH_warmup_epoch``): in epochs ``0 .. warmup_epoch`` (0-based)
    the loss is ``sum_t log(L_t + eps)``; the mean of each task's finite losses over epoch
    ``warmup_epoch`` becomes its nadir point, and the smooth maximum starts in the next
    epoch. A task without a nadir point yet (first seen after warm-up) keeps the
    warm-up term and gets its nadir point from the first epoch it appears in. The
    running sums, nadir points and epoch count are checkpointed (extra state); under
    distributed training the training step adds up every rank's :meth:`epoch_sums`, and
    the weights come from the global batch's losses (``global_losses``), so every rank
    uses the same nadir point and weights.

    Args:
        mu: smoothing parameter (> 0); 1 in LibMTL.
        warmup_epoch: the 0-based epoch whose mean losses are the nadir point; 4 in LibMTL.
        eps: added inside the logarithms (LibMTL: ``1e-20``).
    """

    needs_global_losses = True

    def __init__(self, mu: float = 1.0, warmup_epoch: int = 4, eps: float = 1e-20) -> None:
        super().__init__()
        if mu <= 0 or warmup_epoch < 0 or eps <= 0:
            raise ValueError(f"STCH needs mu > 0, warmup_epoch >= 0 and eps > 0; got {mu}, {warmup_epoch}, {eps}")
        self.mu = mu
        self.warmup_epoch = warmup_epoch
        self.eps = eps
        self.epoch = 0  # epochs completed
        self.nadir: dict[str, float] = {}  # task -> n_t
        self._sums: dict[str, float] = {}  # task -> sum of this epoch's finite losses (tasks without n_t)
        self._counts: dict[str, float] = {}

    def forward(self, losses: dict[str, Tensor], global_losses: dict[str, Tensor] | None = None) -> Tensor:
        names = list(losses)
        local = torch.stack([losses[name] for name in names])  # (T,)
        source = local if global_losses is None else torch.stack([global_losses[name] for name in names])
        now = source.detach().double().cpu().tolist()  # (T,) the one device sync of the step
        finite = all(math.isfinite(x) for x in now)
        if finite:  # a skipped (non-finite) step adds nothing to the nadir estimate
            for name, value in zip(names, now):
                if name not in self.nadir:
                    self._sums[name] = self._sums.get(name, 0.0) + value
                    self._counts[name] = self._counts.get(name, 0.0) + 1.0
        weights, objective = self.weights(dict(zip(names, now)))
        self.last_weights = weights
        # Gradient sum_t w_t grad L_t (linear in this process's losses); value: the
        # objective at the global losses.
        linear = (local * local.new_tensor([weights[name] for name in names])).sum()
        return linear - linear.detach() + local.new_tensor(objective)

    def weights(self, losses: dict[str, float]) -> tuple[dict[str, float], float]:
        """The weights on the losses and the objective's value at ``losses``."""
        weights, objective = {}, 0.0
        for name in (n for n in losses if n not in self.nadir):  # warm-up term log(L + eps)
            weights[name] = 1.0 / (losses[name] + self.eps)
            objective += math.log(losses[name] + self.eps) if losses[name] + self.eps > 0 else float("nan")
        scaled = [n for n in losses if n in self.nadir]
        if scaled:
            ratios = [losses[n] / self.nadir[n] + self.eps for n in scaled]
            r = [math.log(x) / self.mu if x > 0 else float("nan") for x in ratios]  # (K,) r_t / mu
            top = max(r)
            exps = [math.exp(x - top) for x in r]
            total = sum(exps)
            k = len(scaled)
            objective += k * self.mu * (top + math.log(total))
            for name, e in zip(scaled, exps):
                weights[name] = k * (e / total) / (losses[name] + self.eps * self.nadir[name])
        return weights, objective

    def epoch_sums(self) -> dict[str, dict[str, float]]:
        """This process's sums and counts of the epoch's finite losses (tasks without a nadir point)."""
        return {"sums": dict(self._sums), "counts": dict(self._counts)}

    def epoch_end(self, sums: dict[str, dict[str, float]] | None = None) -> None:
        """Closes a training epoch; from ``warmup_epoch`` on, its mean losses become nadir points."""
        totals = sums if sums is not None else self.epoch_sums()
        if self.epoch >= self.warmup_epoch:
            sums_, counts = totals.get("sums", {}), totals.get("counts", {})
            for name, total in sums_.items():
                if name not in self.nadir and counts.get(name, 0.0) > 0 and total > 0:
                    self.nadir[name] = total / counts[name]
        self._sums, self._counts = {}, {}
        self.epoch += 1

    def get_extra_state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "nadir": dict(self.nadir), "sums": dict(self._sums), "counts": dict(self._counts)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.nadir = dict(state["nadir"])
        self._sums, self._counts = dict(state["sums"]), dict(state["counts"])
