from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mtl.encoders import CNNEncoder, LSTMEncoder, TransformerEncoder
from mtl.encoders.initialization import init_weights


def _model() -> nn.Module:
    return nn.ModuleDict(
        {
            "embedding": nn.Embedding(50, 16, padding_idx=0),
            "linear": nn.Linear(16, 32),
            "conv": nn.Conv1d(16, 8, 3),
            "lstm": nn.LSTM(16, 8, bidirectional=True),
        }
    )


def _assert_no_constant_matrix(model: nn.Module) -> None:
    for name, param in model.named_parameters():
        if param.ndim >= 2:
            assert param.std() > 0, f"{name} is constant"


@pytest.mark.parametrize("scheme", ["xavier", "kaiming", "normal", "orthogonal"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh", "sigmoid"])
def test_schemes_break_symmetry(scheme: str, activation: str) -> None:
    model = _model()
    init_weights(model, scheme, activation)
    _assert_no_constant_matrix(model)
    for gate in model["lstm"].weight_hh_l0.split(8):  # (H, H) per gate: not constant across rows
        assert gate.std(dim=0).min() > 0
    assert torch.count_nonzero(model["embedding"].weight[0]) == 0
    assert torch.count_nonzero(model["linear"].bias) == 0
    assert torch.count_nonzero(model["conv"].bias) == 0
    for direction in ("", "_reverse"):
        bias_ih = getattr(model["lstm"], f"bias_ih_l0{direction}")
        bias_hh = getattr(model["lstm"], f"bias_hh_l0{direction}")
        total = bias_ih + bias_hh  # (4H,): gates i, f, g, o
        torch.testing.assert_close(total[8:16], torch.ones(8))
        assert torch.count_nonzero(total[:8]) == 0 and torch.count_nonzero(total[16:]) == 0


@pytest.mark.parametrize(
    ("activation", "gain"),
    [("relu", math.sqrt(2.0)), ("leaky_relu", math.sqrt(2.0 / (1 + 0.01**2))), ("tanh", 5.0 / 3.0), ("sigmoid", 1.0)],
)
def test_kaiming_std_matches_gain_over_sqrt_fan_in(activation: str, gain: float) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(512, 512)
    init_weights(linear, "kaiming", activation)
    expected = gain / math.sqrt(512)
    assert abs(linear.weight.std().item() - expected) < 0.1 * expected


def test_kaiming_respects_negative_slope() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(512, 512)
    init_weights(linear, "kaiming", "leaky_relu", negative_slope=0.5)
    expected = math.sqrt(2.0 / (1 + 0.25)) / math.sqrt(512)
    assert abs(linear.weight.std().item() - expected) < 0.1 * expected


def test_normal_and_xavier_and_orthogonal_scales() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(512, 256)
    init_weights(linear, "normal", "relu")
    assert abs(linear.weight.std().item() - 1 / math.sqrt(512)) < 0.1 / math.sqrt(512)
    init_weights(linear, "xavier", "relu")
    assert abs(linear.weight.std().item() - math.sqrt(2 / 768)) < 0.1 * math.sqrt(2 / 768)
    init_weights(linear, "orthogonal", "tanh")
    w = linear.weight  # (256, 512): orthonormal rows times the tanh gain
    torch.testing.assert_close(w @ w.T, (5 / 3) ** 2 * torch.eye(256), atol=1e-4, rtol=0)


def test_embedding_scale() -> None:
    torch.manual_seed(0)
    emb = nn.Embedding(2000, 64)
    init_weights(emb, "xavier", "relu")
    assert abs(emb.weight.std().item() - 1 / 8) < 0.01


@pytest.mark.parametrize(
    "encoder",
    [
        lambda: LSTMEncoder(50, 8, 8, num_layers=2),
        lambda: CNNEncoder(50, 8, 8, num_layers=2, norm="batch"),
        lambda: TransformerEncoder(50, 16, num_layers=2, num_heads=2, ff_dim=32, positions="learned"),
    ],
)
def test_encoders_have_no_constant_weight_matrix(encoder) -> None:
    _assert_no_constant_matrix(encoder())


def test_unknown_scheme_and_activation() -> None:
    with pytest.raises(ValueError, match="'zeros'"):
        init_weights(nn.Linear(2, 2), "zeros", "relu")
    with pytest.raises(ValueError, match="'swish'"):
        init_weights(nn.Linear(2, 2), "xavier", "swish")
