"""Weight initialisation schemes shared by the encoders.

Why not zeros or a constant: units that start with equal weights receive equal gradients
and stay identical forever, so random weights are needed to break the symmetry. Why
variance-scaled: drawing weights with variance ``~ 1 / fan`` keeps activations and
gradients at a similar scale from layer to layer, so deep stacks neither explode nor vanish.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from torch import Tensor, nn

from mtl.encoders.activation import ACTIVATIONS

InitScheme = Literal["xavier", "kaiming", "normal", "orthogonal"]
INIT_SCHEMES: tuple[str, ...] = get_args(InitScheme)

# GELU has no entry in ``nn.init.calculate_gain``; it is close to ReLU for positive inputs.
_GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "gelu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}


def activation_gain(activation: str, negative_slope: float = 0.01) -> float:
    """The variance-preserving gain of ``activation`` (``nn.init.calculate_gain``)."""
    if activation not in _GAIN_NAME:
        raise ValueError(f"init: unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
    return nn.init.calculate_gain(_GAIN_NAME[activation], negative_slope)


def init_weights(
    module: nn.Module,
    scheme: InitScheme,
    activation: str,
    negative_slope: float = 0.01,
) -> None:
    """Initialise every Linear, Conv1d, LSTM and Embedding inside ``module`` in place.

    - Linear / Conv1d weights: ``xavier`` (Glorot uniform, gain 1), ``kaiming`` (He normal,
      fan-in, using ``activation`` and ``negative_slope``), ``normal`` (LeCun:
      ``N(0, 1/fan_in)``) or ``orthogonal`` (gain of ``activation``); biases zero.
    - LSTM: input weights by ``scheme`` and recurrent weights orthogonal (keeps the
      recurrence norm-preserving), each gate separately; biases zero except the forget
      gate, which starts at 1 so that memory is kept early in training.
    - Embedding: ``N(0, 1/dim)``; the padding row, if any, is zero.

    Args:
        module: the module to initialise (recursively).
        scheme: one of ``xavier``, ``kaiming``, ``normal``, ``orthogonal``.
        activation: the activation that follows the layers (see ``make_activation``).
        negative_slope: the ``leaky_relu`` slope.

    Raises:
        ValueError: for an unknown scheme or activation.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init: unknown scheme {scheme!r}; choose one of {list(INIT_SCHEMES)}")
    gain = activation_gain(activation, negative_slope)
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv1d)):
            _init_matrix(sub.weight, scheme, activation, negative_slope, gain)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LSTM):
            _init_lstm(sub, scheme, activation, negative_slope, gain)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, mean=0.0, std=1.0 / math.sqrt(sub.embedding_dim))
            if sub.padding_idx is not None:
                nn.init.zeros_(sub.weight.data[sub.padding_idx])


def _init_matrix(weight: Tensor, scheme: str, activation: str, negative_slope: float, gain: float) -> None:
    if scheme == "xavier":
        nn.init.xavier_uniform_(weight)
    elif scheme == "kaiming":
        nonlinearity = _GAIN_NAME[activation]
        nn.init.kaiming_normal_(weight, a=negative_slope, mode="fan_in", nonlinearity=nonlinearity)
    elif scheme == "normal":
        fan_in = weight[0].numel()  # in_features (* kernel size for Conv1d)
        nn.init.normal_(weight, mean=0.0, std=1.0 / math.sqrt(fan_in))
    else:
        nn.init.orthogonal_(weight, gain=gain)


def _init_lstm(lstm: nn.LSTM, scheme: str, activation: str, negative_slope: float, gain: float) -> None:
    hidden = lstm.hidden_size
    for name, param in lstm.named_parameters():
        if name.startswith("weight_ih"):
            for gate in param.data.split(hidden, dim=0):  # 4 x (H, in): gates i, f, g, o
                _init_matrix(gate, scheme, activation, negative_slope, gain)
        elif name.startswith("weight_hh"):
            for gate in param.data.split(hidden, dim=0):  # 4 x (H, H)
                nn.init.orthogonal_(gate)
        elif name.startswith("bias_ih"):
            nn.init.zeros_(param)
            param.data[hidden : 2 * hidden] = 1.0  # forget gate; bias_hh stays zero
        elif name.startswith("bias_hh"):
            nn.init.zeros_(param)
