"""Transfer strategies on a real tiny Trainer: what loads, what trains, at which rate and when."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch

from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, Task, TokenizerSpec
from mtl.data.tokenizer import save_atomically, train_tokenizer
from mtl.transfer import Transfer, TransferError, load_source_run
from tests.transfer.conftest import ENCODER


def target_data(source_run: Path, tokenizer: str | None = None, rows: int = 96) -> MultiTaskDataModule:
    """A new task (5 topics, where the source had 3 sentiments) read with the source's tokenizer."""
    task = Task(
        "topic", "classification", {"path": "synthetic", "train": rows, "validation": 32, "test": 0, "seed": 1}, label="topic"
    )
    path = tokenizer or str(source_run.parent.parent / "tokenizer.json")
    return MultiTaskDataModule([task], batch_size=16, tokenizer=TokenizerSpec(path=path), seed=0)


def target_model(data: MultiTaskDataModule, transfer: Transfer | None, **kwargs) -> MultiTaskModule:
    L.seed_everything(0)
    return MultiTaskModule(
        partial(LSTMEncoder, **ENCODER), {"topic": ClassificationHead}, vocab_size=data.vocab_size,
        task_labels=data.task_labels, transfer=transfer, lr=0.01, **kwargs,
    )  # fmt: skip


def fit(model: MultiTaskModule, data: MultiTaskDataModule, epochs: int = 1, callbacks=()) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=epochs, limit_train_batches=4, limit_val_batches=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=list(callbacks),
    )  # fmt: skip
    trainer.fit(model, data)
    return trainer


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_new_head_of_another_size_loads_every_encoder_weight_exactly(source_run: Path) -> None:
    data = target_data(source_run)
    model = target_model(data, Transfer(str(source_run), strategy="finetune"))
    source = load_source_run(source_run).encoder_state
    mine = model.encoder.state_dict()
    assert mine.keys() == source.keys()
    assert all(torch.equal(mine[k], source[k]) for k in source)
    assert model.heads["topic"].mlp.out_dim == 5  # 5 topics; the source head had 3 sentiments


def test_scratch_keeps_a_fresh_encoder(source_run: Path) -> None:
    data = target_data(source_run)
    model = target_model(data, Transfer(str(source_run), strategy="scratch"))
    source = load_source_run(source_run).encoder_state
    assert not torch.equal(model.encoder.state_dict()["layers.0.weight_ih_l0"], source["layers.0.weight_ih_l0"])


def test_freeze_keeps_the_encoder_unchanged_without_gradients_or_optimiser_slots(source_run: Path) -> None:
    data = target_data(source_run)
    model = target_model(data, Transfer(str(source_run), strategy="freeze"))
    encoder_before, head_before = snapshot(model.encoder), snapshot(model.heads)
    trainer = fit(model, data)
    assert trainer.global_step == 4
    after = model.encoder.state_dict()
    assert all(torch.equal(after[k], v) for k, v in encoder_before.items())
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())
    in_optimizer = {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in model.heads.parameters()} <= in_optimizer
    assert any(not torch.equal(model.heads.state_dict()[k], v) for k, v in head_before.items())


def test_freeze_lower_freezes_the_lowest_groups_only(source_run: Path) -> None:
    data = target_data(source_run)
    model = target_model(data, Transfer(str(source_run), strategy="freeze_lower", freeze_layers=2))
    before = snapshot(model.encoder)
    trainer = fit(model, data)
    after = model.encoder.state_dict()
    embedding, lower, top = model.encoder.layer_groups()  # 2-layer LSTM: 3 groups
    for group in (embedding, lower):
        assert all(p.grad is None and not p.requires_grad for p in group.parameters())
    assert all(torch.equal(after[k], before[k]) for k in after if k.startswith(("embedding.", "layers.0.")))
    assert all(not torch.equal(after[k], before[k]) for k in after if k.startswith("layers.1."))
    in_optimizer = {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}
    assert {id(p) for p in top.parameters()} <= in_optimizer
    assert not in_optimizer & {id(p) for g in (embedding, lower) for p in g.parameters()}
    with pytest.raises(TransferError, match="would freeze all 3 layer groups"):
        target_model(data, Transfer(str(source_run), strategy="freeze_lower", freeze_layers=3))


def test_discriminative_learning_rates_fall_by_the_decay_per_group(source_run: Path) -> None:
    data = target_data(source_run)
    model = target_model(data, Transfer(str(source_run), strategy="finetune", lr_decay=0.5), weight_decay=0.1, min_lr_ratio=0.5)
    trainer = fit(model, data)
    group_of = {id(p): g for g in trainer.optimizers[0].param_groups for p in g["params"]}
    lr = 0.01
    embedding, lower, top = model.encoder.layer_groups()
    for depth, layer in ((1, top), (2, lower), (3, embedding)):  # top group: lr * 0.5, then 0.25, 0.125
        for p in layer.parameters():
            group = group_of[id(p)]
            assert group["initial_lr"] == pytest.approx(lr * 0.5**depth)
            assert group["weight_decay"] == (0.1 if p.ndim >= 2 else 0.0)  # biases keep no decay
    for p in model.heads.parameters():
        assert group_of[id(p)]["initial_lr"] == pytest.approx(lr)
    # the warm-up/decay schedule scales every group alike: the ratios stay
    lrs = {g["lr_scale"]: g["lr"] for g in trainer.optimizers[0].param_groups}
    assert lrs[0.25] / lrs[1.0] == pytest.approx(0.25)


class RecordTraining(L.Callback):
    """Which layer groups require a gradient, and which changed, during each epoch."""

    def __init__(self) -> None:
        self.trains: list[list[bool]] = []
        self.changed: list[list[bool]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            groups = pl_module.encoder.layer_groups()
            self.trains.append([all(p.requires_grad for p in g.parameters()) for g in groups])
            self._start = [[p.detach().clone() for p in g.parameters()] for g in groups]

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        groups = pl_module.encoder.layer_groups()
        self.changed.append([any(not torch.equal(p, q) for p, q in zip(g.parameters(), s)) for g, s in zip(groups, self._start)])


def test_gradual_unfreezing_adds_one_group_per_epoch_from_the_top(source_run: Path) -> None:
    data = target_data(source_run)
    model = target_model(data, Transfer(str(source_run), strategy="gradual_unfreeze"))
    record = RecordTraining()
    fit(model, data, epochs=3, callbacks=[record])
    # groups [embedding, layer 1, layer 2]: epoch 0 heads only, epoch 1 + layer 2, epoch 2 + layer 1
    assert record.trains == [[False, False, False], [False, False, True], [False, True, True]]
    assert record.changed == record.trains


def test_a_different_tokenizer_is_refused_or_mapped_by_token(source_run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    texts = ["the band played a wonderful concert", "zebra quokka axolotl narwhal"] * 50
    save_atomically(train_tokenizer(texts, TokenizerSpec(vocab_size=120, min_frequency=1)), other)
    data = target_data(source_run, tokenizer=str(other))
    with pytest.raises(TransferError) as error:
        target_model(data, Transfer(str(source_run), tokenizer=str(other)))
    message = str(error.value)
    assert "differs from the source run's" in message and "tokens are in both" in message
    assert "on_tokenizer_mismatch: map" in message and "Leave data.tokenizer.path unset" in message

    model = target_model(data, Transfer(str(source_run), tokenizer=str(other), on_tokenizer_mismatch="map"))
    source = load_source_run(source_run)
    source_vocab = data.tokenizer.from_file(str(source.tokenizer_path)).get_vocab()
    table, old = model.encoder.embedding.embedding.weight, source.encoder_state["embedding.embedding.weight"]
    for token, i in data.tokenizer.get_vocab().items():
        if token in source_vocab:
            assert torch.equal(table[i], old[source_vocab[token]]), token
    assert table.shape[0] == data.vocab_size != old.shape[0]


def test_another_encoder_architecture_is_refused_with_the_source_encoder(source_run: Path) -> None:
    data = target_data(source_run)
    with pytest.raises(TransferError, match="model.encoder does not match.*hidden_dim"):
        MultiTaskModule(
            partial(LSTMEncoder, embed_dim=16, hidden_dim=8), {"topic": ClassificationHead}, vocab_size=data.vocab_size,
            task_labels=data.task_labels, transfer=Transfer(str(source_run)),
        )  # fmt: skip


def test_a_moved_run_without_tokenizer_cannot_check_another_tokenizer(source_run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "run" / "checkpoints"
    moved.mkdir(parents=True)
    shutil.copy(source_run, moved / "last.ckpt")
    data = target_data(source_run)
    with pytest.raises(TransferError, match="tokenizer.json is missing"):
        target_model(data, Transfer(str(moved / "last.ckpt"), tokenizer=str(source_run.parent.parent / "tokenizer.json")))


def test_freeze_lower_under_a_gradient_balancer(source_run: Path) -> None:
    """Manual optimisation (PCGrad over two tasks): the frozen embeddings stay as loaded."""
    from mtl.balancers import PCGrad

    tasks = [
        Task(name, "classification", {"path": "synthetic", "train": 64, "validation": 16, "test": 0, "seed": 1}, label=name)
        for name in ("topic", "sentiment")
    ]
    tokenizer = TokenizerSpec(path=str(source_run.parent.parent / "tokenizer.json"))
    data = MultiTaskDataModule(tasks, batch_size=16, tokenizer=tokenizer, sampling="all")
    model = MultiTaskModule(
        partial(LSTMEncoder, **ENCODER), {n: ClassificationHead for n in ("topic", "sentiment")}, balancer=PCGrad(),
        vocab_size=data.vocab_size, task_labels=data.task_labels, transfer=Transfer(str(source_run), strategy="freeze_lower"),
    )  # fmt: skip
    before = snapshot(model.encoder)
    fit(model, data)
    after = model.encoder.state_dict()
    assert torch.equal(after["embedding.embedding.weight"], before["embedding.embedding.weight"])
    assert not torch.equal(after["layers.0.weight_ih_l0"], before["layers.0.weight_ih_l0"])
