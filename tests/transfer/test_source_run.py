"""Reading a source checkpoint: ours loads; anything else is refused by name, with what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtl.transfer import TransferError, load_source_run


def test_our_checkpoint_loads_with_its_encoder_tokenizer_and_config(source_run: Path) -> None:
    source = load_source_run(source_run)
    assert source.vocab_size == source.encoder_state["embedding.embedding.weight"].shape[0]
    assert source.hyper_parameters["task_labels"]["sentiment"] == ["negative", "neutral", "positive"]
    assert "embedding.embedding.weight" in source.encoder_state and "layers.1.weight_hh_l0" in source.encoder_state
    assert source.tokenizer_path == source_run.parent.parent / "tokenizer.json"
    assert source.config()["model"]["encoder"]["class_path"].endswith("LSTMEncoder")


@pytest.mark.parametrize(
    "content, says",
    [
        ("random", "cannot be read as a PyTorch checkpoint"),
        ("tensor", "holds a Tensor without 'state_dict'"),
        ("no_hparams", "has no mtl hyper-parameters"),
        ("no_encoder", "has no encoder weights"),
    ],
)
def test_a_file_that_is_not_our_checkpoint_is_refused_clearly(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / f"{content}.ckpt"
    if content == "random":
        path.write_bytes(bytes(range(256)) * 8)
    elif content == "tensor":
        torch.save(torch.ones(3), path)
    elif content == "no_hparams":
        torch.save({"state_dict": {"encoder.w": torch.ones(1)}}, path)
    else:
        torch.save({"state_dict": {"heads.x.w": torch.ones(1)}, "hyper_parameters": {"vocab_size": 5, "task_labels": {}}}, path)
    with pytest.raises(TransferError) as error:
        load_source_run(path)
    message = str(error.value)
    assert str(path) in message and says in message
    assert "checkpoint written by `mtl fit`" in message  # what is expected


def test_a_missing_checkpoint_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="does not exist; set model.transfer.checkpoint"):
        load_source_run(tmp_path / "nope.ckpt")
