"""Gradient accumulation (`trainer.accumulate_grad_batches`) with every kind of balancer:
k micro-batches of B rows make the update of one batch of k x B rows. Gradient balancers
run under manual optimisation, where the module accumulates the per-task gradients itself
and weighs those of the whole batch."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from mtl import ClassificationHead, LSTMEncoder, MultiTaskDataModule, MultiTaskModule, RegressionHead, Task, TokenizerSpec
from mtl.balancers import MGDA, PCGrad, UncertaintyWeighting


def _batches(files: dict[str, str]) -> tuple[MultiTaskDataModule, list[dict]]:
    """Six training steps of 16 rows for each of two tasks whose losses are means over rows."""
    source = {"path": "json", "data_files": files}
    tasks = [
        Task("sentiment", "classification", source, text="text"),
        Task("length", "regression", source, text="text", label="score"),
    ]
    data = MultiTaskDataModule(tasks, batch_size=16, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1))
    data.setup("fit")
    batches = [b for b in data.train_dataloader() if all(t["input_ids"].shape[0] == 16 for t in b.values())][:6]
    assert len(batches) == 6
    return data, batches


def _halves(batch: dict) -> list[dict]:
    def part(task_batch: dict, rows: slice) -> dict:
        return {k: v[rows] if torch.is_tensor(v) and v.dim() and v.shape[0] == 16 else v for k, v in task_batch.items()}

    return [{t: part(b, rows) for t, b in batch.items()} for rows in (slice(0, 8), slice(8, 16))]


def _train(data, batches: list[dict], balancer, accumulate: int, updates: int = 6, **module_args) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=16, hidden_dim=16, dropout=0.0),
        {"sentiment": partial(ClassificationHead, dropout=0.0), "length": partial(RegressionHead, dropout=0.0)},
        balancer=balancer, lr=1e-2, warmup=0.0, vocab_size=data.vocab_size, task_labels=data.task_labels, **module_args,
    )  # fmt: skip
    trainer = L.Trainer(
        max_epochs=1, accumulate_grad_batches=accumulate, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None, collate_fn=lambda b: b))
    assert trainer.global_step == updates
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("balancer", [UncertaintyWeighting, PCGrad, MGDA], ids=lambda c: c.__name__)
def test_two_micro_batches_make_the_update_of_one_batch(balancer, tiny_corpus, fresh_cache) -> None:
    data, batches = _batches(tiny_corpus)
    whole = _train(data, batches, balancer(), accumulate=1)
    micro = _train(data, [half for b in batches for half in _halves(b)], balancer(), accumulate=2)
    assert whole.keys() == micro.keys()
    for name in whole:
        torch.testing.assert_close(micro[name], whole[name], rtol=1e-4, atol=1e-5, msg=name)
    # the same micro-batches as twelve updates of their own end elsewhere: the test can tell
    twelve = _train(data, [half for b in batches for half in _halves(b)], balancer(), accumulate=1, updates=12)
    assert any(not torch.allclose(twelve[name], whole[name], rtol=1e-4, atol=1e-5) for name in whole)


def test_representation_mode_refuses_accumulation(tiny_corpus, fresh_cache) -> None:
    data, batches = _batches(tiny_corpus)
    with pytest.raises(ValueError, match="accumulate_grad_batches=2 with gradient_mode 'representation'"):
        _train(data, batches, MGDA(), accumulate=2, gradient_mode="representation")
