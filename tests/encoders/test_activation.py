from __future__ import annotations

import math

import pytest
import torch

from mtl.encoders.activation import ACTIVATIONS, make_activation

X = torch.tensor([-2.0, -0.5, 0.0, 1.0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("relu", [0.0, 0.0, 0.0, 1.0]),
        ("leaky_relu", [-0.02, -0.005, 0.0, 1.0]),
        ("gelu", [x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in (-2.0, -0.5, 0.0, 1.0)]),
        ("tanh", [math.tanh(-2.0), math.tanh(-0.5), 0.0, math.tanh(1.0)]),
        ("sigmoid", [1 / (1 + math.exp(2.0)), 1 / (1 + math.exp(0.5)), 0.5, 1 / (1 + math.exp(-1.0))]),
    ],
)
def test_values(name: str, expected: list[float]) -> None:
    torch.testing.assert_close(make_activation(name)(X), torch.tensor(expected), atol=1e-6, rtol=0)


def test_all_names_are_covered() -> None:
    assert set(ACTIVATIONS) == {"relu", "leaky_relu", "gelu", "tanh", "sigmoid"}


def test_leaky_relu_negative_slope() -> None:
    out = make_activation("leaky_relu", negative_slope=0.2)(X)
    torch.testing.assert_close(out, torch.tensor([-0.4, -0.1, 0.0, 1.0]))


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="'swish'") as info:
        make_activation("swish")
    assert "leaky_relu" in str(info.value)
