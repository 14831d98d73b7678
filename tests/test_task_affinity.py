"""The lookahead task affinity: a hand-computed case, the parameters put back bit for
bit, and a real Trainer's run that goes on exactly as without the measurement."""

from __future__ import annotations

import json
from functools import partial

import lightning as L
import pytest
import torch
from torch import nn

from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, TaggingHead, Task, TokenizerSpec
from mtl.callbacks import TaskAffinity
from mtl.callbacks.task_affinity import lookahead_affinity


def test_affinity_of_squared_losses_on_one_shared_weight_by_hand() -> None:
    w = nn.Parameter(torch.tensor(1.0))  # shared
    h = nn.Parameter(torch.tensor(1.0))  # a head's: the lookahead leaves it

    def losses():
        return {"a": (w * h - 2) ** 2, "b": (w + 1) ** 2, "c": (h - 3) ** 2}

    tasks, z, cosine = lookahead_affinity(losses, [w], [0.1])
    assert tasks == ["a", "b", "c"]
    # at w = 1: L_a = 1, dL_a/dw = -2; L_b = 4, dL_b/dw = 4; c does not read w.
    # a step on a: w = 1.2 -> L_a = 0.64, L_b = 4.84; on b: w = 0.6 -> L_a = 1.96, L_b = 2.56.
    expected = [[1 - 0.64, 1 - 4.84 / 4, 0.0], [1 - 1.96, 1 - 2.56 / 4, 0.0], [0.0, 0.0, 0.0]]
    assert z.flatten().tolist() == pytest.approx(sum(expected, []))
    assert cosine[0, 1].item() == pytest.approx(-1.0)  # opposite gradients
    assert cosine[0, 2].item() == 0.0  # c has no gradient on the shared weight
    assert w.item() == 1.0 and h.item() == 1.0


def build(tiny_corpus: dict[str, str]) -> tuple[MultiTaskDataModule, MultiTaskModule]:
    source = {"path": "json", "data_files": tiny_corpus}
    splits = {"train": "train", "validation": "validation", "test": "test"}
    tasks = [
        Task("sentiment", "classification", source, text="text", splits=splits),
        Task("det", "tagging", source, text="tokens", label="tags", splits=splits),
    ]
    data = MultiTaskDataModule(tasks, batch_size=8, tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.3),  # dropout: the measurement must not draw masks
        {"sentiment": partial(ClassificationHead, pooling="max"), "det": TaggingHead},
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
        lr=1e-2,
    )
    return data, model


def test_lookahead_puts_every_parameter_back_bit_for_bit(tiny_corpus: dict[str, str]) -> None:
    L.seed_everything(0)
    data, module = build(tiny_corpus)
    data.prepare_data()
    data.setup("fit")
    batch = {task: next(b for b in data.train_dataloader() if task in b)[task] for task in ("sentiment", "det")}
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    shared = list(module.encoder.parameters())
    tasks, z, _ = lookahead_affinity(lambda: module.model.task_losses(batch)[0], shared, [0.5] * len(shared))
    assert tasks == ["sentiment", "det"]
    assert (z.diagonal() > 0).all()  # a step on a task lowers its own loss
    assert z[0, 1] != 0  # and moves the other's
    for name, p in module.named_parameters():
        assert torch.equal(p, before[name]), name
        assert p.grad is None, name


def fit(tiny_corpus: dict[str, str], root, callbacks: list[L.Callback]) -> MultiTaskModule:
    L.seed_everything(0)
    data, module = build(tiny_corpus)
    trainer = L.Trainer(
        max_steps=12, val_check_interval=6, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=root, callbacks=callbacks, deterministic=True,
    )  # fmt: skip
    trainer.fit(module, data)
    return module


def test_training_with_the_measurement_ends_with_the_same_weights(tiny_corpus: dict[str, str], tmp_path) -> None:
    measured = TaskAffinity(every_n_steps=2)
    with_it = fit(tiny_corpus, tmp_path / "with", [measured])
    without = fit(tiny_corpus, tmp_path / "without", [])
    for (name, a), (_, b) in zip(with_it.named_parameters(), without.named_parameters()):
        assert torch.equal(a, b), name
    record = json.loads((tmp_path / "with" / "affinity.json").read_text())
    assert record["tasks"] == ["sentiment", "det"]
    assert record["steps"] == [0, 2, 4, 6, 8, 10]
    assert len(record["affinity"]) == 2 and all(len(row) == 2 for row in record["affinity"])
    assert [len(i["steps"]) for i in record["intervals"]] == [3, 3]  # validation after step 6, then the end
    assert (tmp_path / "with" / "affinity.png").stat().st_size > 10_000
