"""The interface of gradient balancing rules (:class:`GradientBalancer`): task weights
from the Gram matrix of the task gradients."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn


class GradientBalancer(nn.Module):
    """Combines the task gradients of the shared parameters into one update.

    Every method here is expressed as *weights from the T x T Gram matrix*: the module
    computes ``gram = J @ J.T`` (row ``t`` of ``J`` is task ``t``'s gradient with respect
    to the shared parameters, or to the shared representation), calls the balancer for
    weights ``w``, and the shared parameters receive ``sum_t w[t] * J[t]``. Task heads
    get their own, unweighted gradients. No copy of the combined gradient is needed, and
    the solver runs on the Gram matrix's device in float64.

    Subclasses implement :meth:`forward`; stateful methods keep their state in buffers
    so it is checkpointed. A Gram matrix or losses with NaN or infinite entries (an
    overflowed task gradient under fp16) have no weights: every balancer refuses them
    with a ``ValueError`` before its state is touched (the module skips such steps
    before a balancer sees them, see ``MultiTaskModule``).
    """

    needs_task_gradients: ClassVar[bool] = True
    #: True when the method gives its defining result with representation gradients too
    #: (it only needs the geometry of the gradients, e.g. MGDA-UB's upper bound); False
    #: when representation mode is an approximation of the parameter-space method.
    exact_with_representation: ClassVar[bool] = False
    #: True for the few methods that need the task gradients themselves, not only their
    #: Gram matrix (per-coordinate statistics, e.g. ExcessMTL's diagonal second moments):
    #: ``forward`` then takes a third argument, ``gradients``, the ``(T, P)`` gradients of
    #: the dense shared parameters (parameters mode only; the token-embedding table's
    #: sparse rows are not included).
    needs_gradients: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.last_weights: dict[str, float] = {}
        self.register_forward_pre_hook(_require_finite, with_kwargs=True)

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        """Args:
            gram: ``(T, T)`` float64 Gram matrix of the task gradients, symmetric PSD.
            losses: ``(T,)`` the task losses of this step, detached.

        Returns:
            ``(T,)`` weights ``w`` (gram's dtype and device): the update direction is
            ``sum_t w[t] * g_t``.
        """
        raise NotImplementedError


def _require_finite(balancer: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuses a non-finite Gram matrix, losses or gradients, before ``forward`` can update any state."""
    gram = args[0] if args else kwargs.get("gram")
    losses = args[1] if len(args) > 1 else kwargs.get("losses")
    gradients = args[2] if len(args) > 2 else kwargs.get("gradients")
    named = (("Gram matrix of the task gradients", gram), ("task losses", losses), ("matrix of the task gradients", gradients))
    for name, value in named:
        if isinstance(value, Tensor) and not bool(torch.isfinite(value).all()):
            if value is gram:  # a NaN task gradient gives its row and column NaN, and its diagonal entry
                bad = ~torch.isfinite(value.diagonal())
            else:
                bad = ~torch.isfinite(value).all(-1) if value.dim() == 2 else ~torch.isfinite(value)
            tasks = torch.nonzero(bad).flatten().tolist()
            raise ValueError(
                f"{type(balancer).__name__}: the {name} has NaN or infinite entries (tasks at positions {tasks}), "
                "so no weights exist for this step. Skip the step, leaving the balancer's state as it is "
                "(MultiTaskModule does), or lower the learning rate or fp16 loss scale"
            )


def adopt_saved_shapes(balancer: nn.Module, state_dict: dict[str, Any], prefix: str, names: tuple[str, ...]) -> None:
    """Resize the buffers ``names`` to their saved shapes before loading a checkpoint: a
    per-task state's shape is the task count, known only at the first step (call from
    ``_load_from_state_dict``)."""
    for name in names:
        if prefix + name in state_dict:
            setattr(balancer, name, torch.empty_like(state_dict[prefix + name]))
