"""Activation functions selectable by name."""

from __future__ import annotations

from typing import Literal, get_args

from torch import nn

Activation = Literal["relu", "leaky_relu", "gelu", "tanh", "sigmoid"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)


def make_activation(name: str, negative_slope: float = 0.01) -> nn.Module:
    """Build an activation module.

    Args:
        name: one of ``relu``, ``leaky_relu``, ``gelu``, ``tanh``, ``sigmoid``.
        negative_slope: slope for negative inputs; used by ``leaky_relu`` only.

    Raises:
        ValueError: if ``name`` is not a known activation.
    """
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    if name == "gelu":
        return nn.GELU()
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"unknown activation {name!r}; choose one of {list(ACTIVATIONS)}")
