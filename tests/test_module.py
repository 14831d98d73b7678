"""MultiTaskModule with a real Lightning Trainer on tiny data."""

from __future__ import annotations

import json
from functools import partial

import lightning as L
import pytest
import torch

from mtl import (
    ClassificationHead,
    LSTMEncoder,
    MultiTaskDataModule,
    MultiTaskModule,
    RegressionHead,
    TaggingHead,
    Task,
    TokenizerSpec,
)
from mtl.balancers import Weighting
from mtl.callbacks import ResultsTable


def tasks(files: dict[str, str]) -> list[Task]:
    source = {"path": "json", "data_files": files}
    splits = {"train": "train", "validation": "validation", "test": "test"}
    return [
        Task("sentiment", "classification", source, text="text", splits=splits),
        Task("det", "tagging", source, text="tokens", label="tags", splits=splits),
        Task("length", "regression", source, text="text", label="score", splits=splits),
    ]


def build(files: dict[str, str], balancer: Weighting | None = None, **module_args):
    data = MultiTaskDataModule(tasks(files), batch_size=8, tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0),
        {
            "sentiment": partial(ClassificationHead, pooling="max"),
            "det": TaggingHead,
            "length": partial(RegressionHead, pooling="mean"),
        },
        balancer=balancer,
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
        **module_args,
    )
    return data, model


def trainer(tmp_path, **kwargs) -> L.Trainer:
    args = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
    return L.Trainer(**(args | kwargs))


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    """One model trained for six epochs on the tiny corpus, shared by the tests below."""
    L.seed_everything(0)
    root = tmp_path_factory.mktemp("trained")
    data, model = build(tiny_corpus, lr=1e-2)
    t = trainer(root, max_epochs=6, callbacks=[ResultsTable()])
    t.fit(model, data)
    return t, model, data, root


def test_fit_learns_every_task_and_writes_results(trained) -> None:
    t, model, data, root = trained
    metrics = t.callback_metrics
    assert metrics["val/sentiment/accuracy"] > 0.9  # "good" present or not
    assert metrics["val/det/accuracy"] > 0.95  # determiners vs. the rest
    assert metrics["val/length/pearson"] > 0.8  # sequence length
    for key in ("train/sentiment/loss_epoch", "train/det/loss_epoch", "train/length/loss_epoch", "val/average"):
        assert key in metrics
    record = json.loads((root / "results-fit.json").read_text())
    assert set(record["tasks"]) == {"sentiment", "det", "length"}
    assert record["tasks"]["det"]["accuracy"] == pytest.approx(float(metrics["val/det/accuracy"]))
    assert "| det |" in (root / "results-fit.md").read_text()


def test_test_split_metrics_are_written(trained) -> None:
    t, model, data, root = trained
    t.test(model, data)
    assert t.callback_metrics["test/sentiment/accuracy"] > 0.85
    assert t.callback_metrics["test/det/accuracy"] > 0.95
    assert json.loads((root / "results-test.json").read_text())["stage"] == "test"


def test_predict_gives_every_task_for_each_input(trained, tmp_path) -> None:
    _, model, data, _ = trained
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("the good dog runs\na cat sleeps slowly\n")
    data.predict_file = str(inputs)
    out = trainer(tmp_path).predict(model, data)
    records = sorted((r for batch in out for r in batch), key=lambda r: r["index"])
    assert [r["index"] for r in records] == [0, 1]
    assert records[0]["det"] == ["D", "X", "X", "X"] and records[1]["det"] == ["D", "X", "X", "X"]
    assert records[0]["sentiment"] == "pos" and records[1]["sentiment"] == "neg"
    assert 0.5 <= records[0]["sentiment_probability"] <= 1.0
    assert isinstance(records[0]["length"], float)


def test_heads_must_match_tasks(tiny_corpus, fresh_cache) -> None:
    data = MultiTaskDataModule(tasks(tiny_corpus), tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    with pytest.raises(ValueError, match=r"model.heads names tasks \['sentiment'\] but the data declares"):
        MultiTaskModule(LSTMEncoder, {"sentiment": ClassificationHead}, vocab_size=data.vocab_size, task_labels=data.task_labels)


def test_head_of_wrong_kind_is_refused_at_setup(tiny_corpus, fresh_cache, tmp_path) -> None:
    data = MultiTaskDataModule(tasks(tiny_corpus), tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=8, hidden_dim=8),
        {"sentiment": ClassificationHead, "det": ClassificationHead, "length": RegressionHead},
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    with pytest.raises(ValueError, match="task 'det' is a tagging task but its head ClassificationHead"):
        trainer(tmp_path, fast_dev_run=True).fit(model, data)


class _NaNLoss(Weighting):
    def forward(self, losses):
        return sum(losses.values()) * float("nan")


def test_nonfinite_loss_skips_steps_then_stops_with_a_clear_message(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus, balancer=_NaNLoss(), max_nonfinite_steps=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        FloatingPointError, match=r"NaN or infinite loss from tasks .* for 3 steps in a row, since step 0.*--ckpt_path"
    ):
        trainer(tmp_path, max_steps=10).fit(model, data)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a skipped step changed the weights"


def test_weight_decay_spares_biases_and_norms(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus, weight_decay=0.1, warmup=2, schedule="linear")
    t = trainer(tmp_path, max_steps=10)
    t.fit(model, data)
    optimizer = t.optimizers[0]
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
