"""Homoscedastic-uncertainty weighting with learned log-variances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mtl.balancers.weighting import Weighting


class UncertaintyWeighting(Weighting):
    """Task weights from learned homoscedastic uncertainties.

    Kendall, Gal & Cipolla 2018, *Multi-Task Learning Using Uncertainty to Weigh Losses
    for Scene Geometry and Semantics* (CVPR). Each task ``t`` has a learned log-variance
    ``s_t = log sigma_t^2`` (a parameter, trained by the module's optimiser):

    - classification tasks: ``exp(-s_t) * L_t + s_t``
    - tasks in ``regression_tasks``: ``0.5 * exp(-s_t) * L_t + 0.5 * s_t``

    and ``L = sum_t`` of these. Both terms are minimised by ``s_t = log L_t``; the
    classification form is twice the regression (Gaussian likelihood) form, i.e. the
    common simplification of the paper's ``exp(-s) L + s / 2`` that keeps the same
    optimum for both kinds. ``last_weights`` holds the weights on the losses,
    ``exp(-s_t)`` or ``0.5 * exp(-s_t)``.

    The parameters must exist before the optimiser is built: pass ``tasks``, or let the
    module call :meth:`setup_tasks` with every task name (it does so before
    ``configure_optimizers``). Unknown tasks at training time are an error, never a
    parameter the optimiser cannot see.

    Args:
        tasks: task names to create log-variances for now.
        init_log_var: the initial ``s_t`` of every task.
        regression_tasks: tasks that use the regression (Gaussian) form.
    """

    def __init__(
        self,
        tasks: Sequence[str] | None = None,
        init_log_var: float = 0.0,
        regression_tasks: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.init_log_var = float(init_log_var)
        self.regression_tasks = frozenset(regression_tasks)
        self.log_vars = nn.ParameterDict()
        if tasks is not None:
            self.setup_tasks(list(tasks))

    def setup_tasks(self, names: list[str]) -> None:
        """Creates a log-variance for every name that has none yet (idempotent)."""
        existing = next(iter(self.log_vars.values()), None)
        device = existing.device if existing is not None else None
        for name in names:
            if name not in self.log_vars:
                self.log_vars[name] = nn.Parameter(torch.tensor(self.init_log_var, device=device))  # ()
        unknown = self.regression_tasks - set(self.log_vars)
        if unknown:
            raise ValueError(
                f"UncertaintyWeighting: regression_tasks {sorted(unknown)} are not tasks; known tasks are {sorted(self.log_vars)}"
            )

    def forward(self, losses: dict[str, Tensor]) -> Tensor:
        missing = [name for name in losses if name not in self.log_vars]
        if missing:
            raise KeyError(
                f"UncertaintyWeighting has no log-variance for tasks {missing} (it has {sorted(self.log_vars)}); "
                "pass them in balancer tasks=[...] or call setup_tasks(names) before the optimiser is built"
            )
        terms, weights = [], {}
        for name, loss in losses.items():
            s = self.log_vars[name]  # ()
            half = 0.5 if name in self.regression_tasks else 1.0
            precision = half * torch.exp(-s)  # ()
            terms.append(precision * loss + half * s)
            weights[name] = precision.detach()
        self.last_weights = {name: float(w) for name, w in weights.items()}
        return torch.stack(terms).sum()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # A checkpoint may name tasks this instance has not set up yet: create them first.
        key_prefix = prefix + "log_vars."
        self.setup_tasks([key[len(key_prefix) :] for key in state_dict if key.startswith(key_prefix)])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
