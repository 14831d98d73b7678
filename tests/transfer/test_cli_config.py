"""`model.transfer` on the command line: validated, the source tokenizer reused by default,
a different tokenizer or a foreign file refused before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtl.cli import MultiTaskCLI
from mtl.data.datamodule import MultiTaskDataModule
from mtl.data.tokenizer import TokenizerSpec, save_atomically, train_tokenizer
from mtl.module import MultiTaskModule
from mtl.transfer import TransferError, load_source_run
from tests.transfer.conftest import MODEL_ENCODER

TARGET = """
trainer: {max_epochs: 1, logger: false, enable_progress_bar: false}
MODEL_ENCODER
  heads:
    topic: {class_path: mtl.heads.ClassificationHead}
data:
  batch_size: 16
  tasks:
    - {name: topic, type: classification, label: topic, source: {path: synthetic, train: 64, validation: 16, test: 0, seed: 1}}
"""


def cli(tmp_path: Path, *args: str) -> MultiTaskCLI:
    config = tmp_path / "target.yaml"
    config.write_text(TARGET.replace("MODEL_ENCODER\n", MODEL_ENCODER))
    return MultiTaskCLI(
        MultiTaskModule, MultiTaskDataModule, run=False, args=["-c", str(config), f"--trainer.default_root_dir={tmp_path}", *args]
    )


def test_transfer_from_the_command_line_reuses_the_source_tokenizer(source_run: Path, tmp_path: Path) -> None:
    made = cli(tmp_path, f"--model.transfer.checkpoint={source_run}", "--model.transfer.strategy=freeze_lower",
               "--model.transfer.freeze_layers=1", "--model.transfer.lr_decay=0.8")  # fmt: skip
    source = load_source_run(source_run)
    assert made.datamodule.tokenizer_spec.path == str(source.tokenizer_path)
    assert made.model.hparams.vocab_size == source.vocab_size
    transfer = made.model.transfer
    assert (transfer.chosen, transfer.freeze_layers, transfer.lr_decay) == ("freeze_lower", 1, 0.8)
    state = made.model.encoder.state_dict()
    assert all(torch.equal(state[k], v) for k, v in source.encoder_state.items())
    embedding, *layers = made.model.encoder.layer_groups()
    assert not any(p.requires_grad for p in embedding.parameters())
    assert all(p.requires_grad for layer in layers for p in layer.parameters())


def test_an_unknown_strategy_is_refused_by_the_parser(source_run: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        cli(tmp_path, f"--model.transfer.checkpoint={source_run}", "--model.transfer.strategy=freeze_all")


def test_a_configured_different_tokenizer_is_reported(source_run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    save_atomically(train_tokenizer(["completely other words here"] * 20, TokenizerSpec(vocab_size=80, min_frequency=1)), other)
    with pytest.raises(TransferError, match=f"the new run's tokenizer '{other}' differs from the source run's"):
        cli(tmp_path, f"--model.transfer.checkpoint={source_run}", f"--data.tokenizer.path={other}")


def test_a_foreign_file_is_refused_before_the_data_is_read(tmp_path: Path) -> None:
    bogus = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(2)}, bogus)
    with pytest.raises(TransferError, match=f"source checkpoint '{bogus}' holds a dict without 'state_dict'"):
        cli(tmp_path, f"--model.transfer.checkpoint={bogus}")


PRETRAIN = """
trainer: {max_epochs: 1, limit_train_batches: 4, limit_val_batches: 1, enable_progress_bar: false, enable_model_summary: false,
          logger: [{class_path: lightning.pytorch.loggers.CSVLogger, init_args: {save_dir: RUNS, name: dae}}]}
model:
  encoder: {class_path: mtl.encoders.LSTMEncoder, init_args: {embed_dim: 16, hidden_dim: 16, num_layers: 2}}
  heads:
    dae: {class_path: mtl.heads.DenoisingHead, init_args: {hidden_dim: 16, embed_dim: 8}}
    mlm: {class_path: mtl.heads.MaskedLMHead}
data:
  batch_size: 8
  tokenizer: {vocab_size: 200, min_frequency: 1}
  tasks:
    - {name: dae, type: denoising, corruption: {mask: 0.2, delete: 0.1, shuffle: 2}, source: {path: synthetic, train: 64, validation: 16, test: 0}}
    - {name: mlm, type: mlm, source: {path: synthetic, train: 64, validation: 16, test: 0}}
"""


def test_self_supervised_pretraining_then_finetuning_on_the_command_line(tmp_path: Path) -> None:
    from mtl.cli import main

    runs = tmp_path / "runs"
    pretrain = tmp_path / "dae.yaml"
    pretrain.write_text(PRETRAIN.replace("RUNS", str(runs)))
    main(["fit", "-c", str(pretrain), f"--trainer.default_root_dir={runs}"])
    checkpoint = runs / "dae" / "version_0" / "checkpoints" / "last.ckpt"
    state = torch.load(checkpoint, weights_only=True)
    assert state["hyper_parameters"]["task_labels"]["dae"][:3] == ["[PAD]", "[UNK]", "[CLS]"]  # the vocabulary
    made = cli(
        tmp_path,
        f"--model.transfer.checkpoint={checkpoint}",
        "--model.transfer.strategy=gradual_unfreeze",
        "--trainer.max_epochs=2",
    )
    made.trainer.fit(made.model, made.datamodule)
    source = load_source_run(checkpoint)
    embedding = made.model.encoder.state_dict()["embedding.embedding.weight"]
    assert torch.equal(embedding, source.encoder_state["embedding.embedding.weight"])  # still frozen in epoch 1 of 0..1
    assert not torch.equal(
        made.model.encoder.state_dict()["layers.1.weight_hh_l0"], source.encoder_state["layers.1.weight_hh_l0"]
    )
