"""Soft parameter sharing and representation alignment inside a real Trainer."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch

from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, TaggingHead, Task, TokenizerSpec
from mtl.balancers import GradientBalancer
from mtl.sharing import ParameterDistance, RepresentationAlignment


def build(files, alignment, balancer=None):
    source = {"path": "json", "data_files": files}
    tasks = [
        Task("sentiment", "classification", source, text="text"),
        Task("det", "tagging", source, text="tokens", label="tags"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0),
        {"sentiment": partial(ClassificationHead, pooling="max"), "det": TaggingHead},
        balancer=balancer,
        alignment=alignment,
        lr=1e-2,
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    return data, model


def distance(model: MultiTaskModule) -> float:
    a, b = model.encoders["sentiment"], model.encoders["det"]
    return sum(float(((p - q) ** 2).sum()) for p, q in zip(a.parameters(), b.parameters()))


def fit(model, data, tmp_path) -> L.Trainer:
    L.seed_everything(0)
    trainer = L.Trainer(
        max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    trainer.fit(model, data)
    return trainer


def test_soft_sharing_keeps_task_encoders_close(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, pulled = build(tiny_corpus, ParameterDistance(weight=0.1))
    assert pulled.encoder is None and set(pulled.encoders) == {"sentiment", "det"}
    assert pulled.encoders["sentiment"] is not pulled.encoders["det"]
    assert distance(pulled) == 0.0  # same starting weights
    trainer = fit(pulled, data, tmp_path)
    assert "train/alignment" in trainer.callback_metrics

    _, free = build(tiny_corpus, ParameterDistance(weight=0.0))
    fit(free, data, tmp_path)
    assert 0.0 < distance(pulled) < 0.5 * distance(free)


def test_representation_alignment_trains_with_one_encoder(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus, RepresentationAlignment(weight=0.1, kind="coral"))
    assert model.encoders is None
    trainer = fit(model, data, tmp_path)
    assert float(trainer.callback_metrics["train/alignment_epoch"]) >= 0.0
    assert trainer.callback_metrics["val/det/accuracy"] > 0.95  # majority class: 0.85


class _Mean(GradientBalancer):
    def forward(self, gram: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        return torch.full_like(losses, 1.0 / len(losses))


def test_gradient_balancers_need_a_shared_encoder(tiny_corpus, fresh_cache) -> None:
    with pytest.raises(ValueError, match="_Mean balances gradients of shared parameters, but ParameterDistance"):
        build(tiny_corpus, ParameterDistance(), balancer=_Mean())


def test_a_gradient_balancer_trains_the_shared_encoder(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus, RepresentationAlignment(weight=0.1), balancer=_Mean())
    assert not model.automatic_optimization
    before = [p.detach().clone() for p in model.encoder.parameters()]
    trainer = fit(model, data, tmp_path)
    assert all(not torch.equal(b, p) for b, p in zip(before, model.encoder.parameters()))
    assert trainer.callback_metrics["val/det/accuracy"] > 0.95  # majority class: 0.85
    assert model.balancer.last_weights == {"sentiment": 0.5, "det": 0.5}


def test_soft_sharing_copies_a_pretrained_encoder_per_task_and_pulls_them_together(
    tiny_corpus, tiny_pretrained, tmp_path, monkeypatch
) -> None:
    """One copy of a tiny pretrained BERT per task, all starting from its weights; the
    penalty keeps them nearer than without it."""
    from mtl.encoders import PretrainedEncoder

    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "cache"))
    directory = str(tiny_pretrained("bert"))
    source = {"path": "json", "data_files": tiny_corpus}
    tasks = [
        Task("sentiment", "classification", source, text="text"),
        Task("det", "tagging", source, text="tokens", label="tags"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(pretrained=directory))

    def soft(weight: float) -> MultiTaskModule:
        L.seed_everything(0)
        return MultiTaskModule(
            partial(PretrainedEncoder, model=directory, dropout=0.0),
            {"sentiment": partial(ClassificationHead, pooling="mean"), "det": TaggingHead},
            alignment=ParameterDistance(weight=weight), lr=1e-3, vocab_size=data.vocab_size,
            task_labels=data.task_labels, special_ids=data.special_ids,
        )  # fmt: skip

    pulled, free = soft(1.0), soft(0.0)
    first = pulled.encoders["sentiment"].model.embeddings.word_embeddings.weight
    assert pulled.encoders["det"].model.embeddings.word_embeddings.weight is not first and distance(pulled) == 0.0
    trainer = fit(pulled, data, tmp_path)
    assert "train/alignment" in trainer.callback_metrics
    fit(free, data, tmp_path)
    assert 0.0 < distance(pulled) < 0.5 * distance(free)
