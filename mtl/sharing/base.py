"""The interface of distance-based alignment: a penalty that pulls the tasks together."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from torch import Tensor, nn

from mtl.encoders.output import EncoderOutput


class Alignment(nn.Module):
    """A scalar penalty, added to the training loss, that makes the tasks' encoders (or
    their representations) agree.

    Subclasses implement :meth:`distance`; ``forward`` multiplies it by ``weight`` and
    records the unweighted value in :attr:`last_value` for logging.

    Args:
        weight: multiplier of the distance in the training loss; ``0`` turns it off.
    """

    #: True when the method compares separate per-task encoders (soft parameter sharing):
    #: the module must then build one encoder per task instead of one shared encoder.
    needs_separate_encoders: ClassVar[bool] = False

    def __init__(self, weight: float) -> None:
        super().__init__()
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"{type(self).__name__}: weight={weight} must be a finite number >= 0")
        self.weight = float(weight)
        self._last: Tensor | None = None

    @property
    def last_value(self) -> float:
        """The distance (before ``weight``) of the latest call; ``nan`` before the first.

        Stored as a detached tensor and converted only when read, so that computing the
        penalty does not force a device synchronisation.
        """
        return float("nan") if self._last is None else float(self._last)

    def forward(self, encoders: Mapping[str, nn.Module], outputs: Mapping[str, EncoderOutput]) -> Tensor:
        """The penalty ``weight * distance``, a scalar tensor.

        Args:
            encoders: every task's encoder (with hard sharing all values are one module).
            outputs: the encoder output of each task trained at this step, on its own batch.
        """
        value = self.distance(encoders, outputs)  # ()
        self._last = value.detach()
        return self.weight * value

    def distance(self, encoders: Mapping[str, nn.Module], outputs: Mapping[str, EncoderOutput]) -> Tensor:
        """The unweighted distance, a differentiable scalar tensor; see :meth:`forward`."""
        raise NotImplementedError
