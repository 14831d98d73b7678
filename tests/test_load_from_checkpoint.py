"""A checkpoint of `mtl fit` describes the model it holds: `MultiTaskModule.load_from_checkpoint`
rebuilds it from the checkpoint alone."""

from __future__ import annotations

from pathlib import Path

import torch
from command import mtl, small_tiny_config

from mtl.balancers import UncertaintyWeighting
from mtl.encoders import LSTMEncoder
from mtl.module import MultiTaskModule


def test_load_from_checkpoint_rebuilds_the_model(tmp_path: Path) -> None:
    config = small_tiny_config(tmp_path)
    run = mtl("fit", "-c", str(config), "--trainer.max_epochs=1", "--model.balancer=UncertaintyWeighting", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    path = tmp_path / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"
    model = MultiTaskModule.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    assert isinstance(model.encoder, LSTMEncoder) and model.encoder.out_dim == 64  # bi-directional, hidden 32
    assert isinstance(model.balancer, UncertaintyWeighting)
    assert sorted(model.heads) == ["sentiment", "tags", "topic"]
    saved = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[key], msg=key)
