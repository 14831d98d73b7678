"""Seeds: the same config and seed give the same numbers on the same machine, bit for bit
(dropout, task sampling, corruption, initialisation and data order all follow the seed);
another seed gives other numbers. What cannot be bitwise equal is in the README
("Seeds and determinism"): other thread counts, other hardware, CUDA kernels without
deterministic algorithms."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch

from mtl import (
    ClassificationHead,
    CNNEncoder,
    LSTMEncoder,
    MultiTaskDataModule,
    MultiTaskModule,
    RegressionHead,
    TaggingHead,
    TokenizerSpec,
    TransformerEncoder,
)
from mtl.balancers import UncertaintyWeighting
from tests.test_module import tasks

ENCODERS = {
    "lstm": partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.2),
    "cnn": partial(CNNEncoder, embed_dim=16, channels=16, dropout=0.2),
    "transformer": partial(TransformerEncoder, dim=16, num_heads=2, ff_dim=32, num_layers=1, dropout=0.2),
}


def _fit(files: dict[str, str], encoder: str, seed: int, tmp_path) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    L.seed_everything(seed)
    data = MultiTaskDataModule(
        tasks(files), batch_size=8, sampling="temperature", seed=seed, tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1)
    )
    heads = {"sentiment": partial(ClassificationHead, pooling="max", dropout=0.2), "det": TaggingHead, "length": RegressionHead}
    model = MultiTaskModule(
        ENCODERS[encoder],
        heads,
        balancer=UncertaintyWeighting(),
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
        lr=1e-2,
    )
    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, data)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, metrics


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_same_seed_same_numbers_other_seed_other_numbers(encoder: str, tiny_corpus, fresh_cache, tmp_path) -> None:
    first, first_metrics = _fit(tiny_corpus, encoder, 0, tmp_path)
    again, again_metrics = _fit(tiny_corpus, encoder, 0, tmp_path)
    assert first.keys() == again.keys()
    for name in first:
        assert torch.equal(first[name], again[name]), name
    assert first_metrics == again_metrics and "val/average" in first_metrics
    other, other_metrics = _fit(tiny_corpus, encoder, 1, tmp_path)
    assert not all(torch.equal(first[name], other[name]) for name in first)
    assert other_metrics != first_metrics
