"""``val/average``: a score where higher is always better, whatever each task's metric."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest

from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, RegressionHead, TokenizerSpec
from mtl.heads import DenoisingHead
from tests.test_module import tasks


def test_average_negates_primary_metrics_that_are_better_lower(tiny_corpus, fresh_cache, tmp_path) -> None:
    data = MultiTaskDataModule(tasks(tiny_corpus)[::2], batch_size=8, tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0),
        {"sentiment": ClassificationHead, "length": partial(RegressionHead, metrics=["mse"])},
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
    metrics = trainer.validate(model, data)[0]
    accuracy, mse = metrics["val/sentiment/accuracy"], metrics["val/length/mse"]
    assert mse > 0
    assert metrics["val/average"] == pytest.approx((accuracy - mse) / 2)  # a larger mse lowers the score


def test_the_direction_comes_from_the_primary_metric() -> None:
    from torch import nn

    from mtl.evaluation import TaskEvaluation

    heads = nn.ModuleDict({
        "a": ClassificationHead(8, ["x", "y"]),
        "b": RegressionHead(8, [], metrics=["mse", "pearson"]),
        "c": RegressionHead(8, [], metrics=["pearson"]),
        "d": DenoisingHead(8, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"], metrics=["perplexity"]),
    })  # fmt: skip
    evaluation = TaskEvaluation(heads)
    assert {t: evaluation.higher_is_better(t) for t in heads} == {"a": True, "b": False, "c": True, "d": False}
