"""The small feed-forward block that maps pooled features (or token states) to outputs."""

from __future__ import annotations

from torch import Tensor, nn

from mtl.encoders.activation import ACTIVATIONS, Activation, make_activation


class MLP(nn.Module):
    """``num_layers`` hidden layers of ``dropout -> Linear -> activation``, then
    ``dropout -> Linear`` to ``out_dim``. With ``hidden_dim == 0`` or ``num_layers == 0``
    it is a single ``dropout -> Linear``.

    Works on any leading shape: ``(..., in_dim) -> (..., out_dim)``.

    Args:
        in_dim: input feature size.
        out_dim: output size (number of classes, labels or 1).
        hidden_dim: width of the hidden layers; 0 for none.
        num_layers: number of hidden layers; 0 for none.
        activation: ``"relu"``, ``"leaky_relu"``, ``"gelu"``, ``"tanh"`` or ``"sigmoid"``.
        dropout: dropout probability before every Linear.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int = 0,
        num_layers: int = 1,
        activation: Activation = "tanh",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if hidden_dim < 0 or num_layers < 0:
            raise ValueError(
                f"MLP: hidden_dim ({hidden_dim}) and num_layers ({num_layers}) must be >= 0; use 0 for a single Linear layer"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
        layers: list[nn.Module] = []
        width = in_dim
        if hidden_dim > 0:
            for _ in range(num_layers):
                layers += [nn.Dropout(dropout), nn.Linear(width, hidden_dim), make_activation(activation)]
                width = hidden_dim
        layers += [nn.Dropout(dropout), nn.Linear(width, out_dim)]
        self.layers = nn.Sequential(*layers)
        self.in_dim = in_dim
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim) -> (..., out_dim)``."""
        return self.layers(x)
