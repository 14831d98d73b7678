"""Transfer strategies on a pretrained encoder (no source checkpoint: the encoder's own
weights are the source): what is frozen, which learning rate each layer gets, and a real
Trainer run that trains exactly the unfrozen layers."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch

from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, Task, TokenizerSpec
from mtl.encoders import PretrainedEncoder
from mtl.transfer import Thresholds, Transfer, TransferError


@pytest.fixture
def data(tiny_pretrained, tiny_corpus, tmp_path, monkeypatch) -> MultiTaskDataModule:
    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "cache"))
    task = Task(name="sentiment", type="classification", source={"path": "json", "data_files": tiny_corpus}, text="text")
    tokenizer = TokenizerSpec(pretrained=str(tiny_pretrained("bert")))
    return MultiTaskDataModule([task], tokenizer=tokenizer, batch_size=8, seed=0)


def _module(data: MultiTaskDataModule, directory, transfer: Transfer, lr: float = 1e-3) -> MultiTaskModule:
    L.seed_everything(0)
    return MultiTaskModule(
        partial(PretrainedEncoder, model=str(directory)), {"sentiment": ClassificationHead}, vocab_size=data.vocab_size,
        task_labels=data.task_labels, special_ids=data.special_ids, transfer=transfer, lr=lr,
    )  # fmt: skip


@pytest.mark.parametrize("layers", [0, 1])
def test_freeze_lower_freezes_exactly_the_embeddings_and_the_first_k_layers(tiny_pretrained, data, layers: int) -> None:
    module = _module(data, tiny_pretrained("bert"), Transfer(strategy="freeze_lower", freeze_layers=1 + layers))
    bert = module.encoder.model
    frozen = {n for n, p in module.named_parameters() if not p.requires_grad}
    expected = {f"encoder.model.embeddings.{n}" for n, _ in bert.embeddings.named_parameters()}
    for k in range(layers):
        expected |= {f"encoder.model.encoder.layer.{k}.{n}" for n, _ in bert.encoder.layer[k].named_parameters()}
    assert frozen == expected


def test_layer_wise_learning_rate_decay(tiny_pretrained, data) -> None:
    """lr_decay 0.5 over embeddings + 2 layers: heads and nothing else at lr; the top layer
    (with the pooler) at lr/2, the layer below at lr/4, the embeddings at lr/8."""
    lr = 1e-3
    module = _module(data, tiny_pretrained("bert"), Transfer(strategy="finetune", lr_decay=0.5), lr=lr)
    bert = module.encoder.model
    trainer = L.Trainer(
        max_steps=1, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=data)  # the optimiser the module configures for a real run
    lr_of = {id(p): g["initial_lr"] for g in trainer.optimizers[0].param_groups for p in g["params"]}
    expected = {
        "heads": (module.heads.parameters(), lr),
        "top layer": (bert.encoder.layer[1].parameters(), lr / 2),
        "pooler": (bert.pooler.parameters(), lr / 2),
        "first layer": (bert.encoder.layer[0].parameters(), lr / 4),
        "embeddings": (bert.embeddings.parameters(), lr / 8),
    }
    for name, (params, rate) in expected.items():
        rates = {lr_of[id(p)] for p in params}
        assert len(rates) == 1 and rates.pop() == pytest.approx(rate), name


def test_freeze_trains_only_the_heads_on_a_real_trainer(tiny_pretrained, data) -> None:
    module = _module(data, tiny_pretrained("bert"), Transfer(strategy="freeze"), lr=1e-2)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    trainer = L.Trainer(
        max_steps=3, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=data)
    changed = {n for n, p in module.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith("heads.") for n in changed)


def test_transfer_without_checkpoint_needs_a_pretrained_encoder(data) -> None:
    with pytest.raises(TransferError, match="starts from random weights: there is nothing to transfer"):
        MultiTaskModule(
            partial(LSTMEncoder, embed_dim=8, hidden_dim=8), {"sentiment": ClassificationHead}, vocab_size=data.vocab_size,
            task_labels=data.task_labels, special_ids=data.special_ids, transfer=Transfer(strategy="freeze"),
        )  # fmt: skip
    with pytest.raises(TransferError, match="strategy='scratch' restarts from a source run's tokenizer"):
        Transfer(strategy="scratch")


@pytest.mark.parametrize("max_fertility, chosen", [(10.0, "freeze"), (1.0, "freeze_lower")])
def test_auto_without_checkpoint_judges_the_data_by_the_models_tokenizer(
    tiny_pretrained, data, max_fertility: float, chosen: str
) -> None:
    """240 rows of the model's own words (no unknown token) are small data, close under a
    loose sub-words-per-word threshold and far under one sub-word per word (its 75 word
    pieces spell some words out: cat is c ##a ##t)."""
    advice = Thresholds(small_data=1000, max_fertility=max_fertility)
    module = _module(data, tiny_pretrained("bert"), Transfer(strategy="auto", advice=advice))
    assert module.transfer.chosen is None and all(p.requires_grad for p in module.encoder.parameters())
    trainer = L.Trainer(
        max_steps=1, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=data)
    assert module.transfer.chosen == chosen
    frozen = {n for n, p in module.encoder.named_parameters() if not p.requires_grad}
    embeddings = {f"model.embeddings.{n}" for n, _ in module.encoder.model.embeddings.named_parameters()}
    assert frozen == ({n for n, _ in module.encoder.named_parameters()} if chosen == "freeze" else embeddings)
