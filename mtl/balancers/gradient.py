"""The interface of gradient balancing methods: task weights from the Gram matrix."""

from __future__ import annotations

from typing import ClassVar

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
    so it is checkpointed.
    """

    needs_task_gradients: ClassVar[bool] = True
    #: True when the method gives its defining result with representation gradients too
    #: (it only needs the geometry of the gradients, e.g. MGDA-UB's upper bound); False
    #: when representation mode is an approximation of the parameter-space method.
    exact_with_representation: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.last_weights: dict[str, float] = {}

    def forward(self, gram: Tensor, losses: Tensor) -> Tensor:
        """Args:
            gram: ``(T, T)`` float64 Gram matrix of the task gradients, symmetric PSD.
            losses: ``(T,)`` the task losses of this step, detached.

        Returns:
            ``(T,)`` weights ``w`` (gram's dtype and device): the update direction is
            ``sum_t w[t] * g_t``.
        """
        raise NotImplementedError
