"""What every encoder returns."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class EncoderOutput:
    """The shared representation handed to every task head.

    Attributes:
        hidden: token states, ``(B, T, D)``; rows at padding positions are zero.
        pooled: one vector per sequence, ``(B, D)``, computed from real tokens only.
        mask: ``(B, T)`` bool, True at real tokens.
    """

    hidden: Tensor
    pooled: Tensor
    mask: Tensor
