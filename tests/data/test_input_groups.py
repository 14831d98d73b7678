"""Tasks over the same rows share one batch (and one encoder pass) under ``sampling: all``."""

from __future__ import annotations

import torch

from mtl import MultiTaskDataModule, Task, TokenizerSpec


def tasks(files: dict[str, str]) -> list[Task]:
    source = {"path": "json", "data_files": files}
    return [
        Task("det", "tagging", source, text="tokens", label="tags"),
        Task("det_again", "tagging", source, text="tokens", label="tags"),
        Task("sentiment", "classification", source, text="text"),
    ]


def test_grouped_tasks_get_the_same_rows_each_step(tiny_corpus, fresh_cache) -> None:
    data = MultiTaskDataModule(
        tasks(tiny_corpus), batch_size=8, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1)
    )
    assert data.input_groups() == {"det": "det", "det_again": "det", "sentiment": "sentiment"}
    data.setup("fit")
    steps = list(data.train_dataloader())
    assert len(steps) == 30  # 240 rows / 8
    for step in steps:
        assert torch.equal(step["det"]["index"], step["det_again"]["index"])
        assert step["det"]["input_ids"] is step["det_again"]["input_ids"]
        assert step["det"]["group"] == step["det_again"]["group"] == "det"
        assert step["sentiment"]["group"] == "sentiment"
    first_pass = torch.cat([s["det"]["index"] for s in steps]).sort().values
    assert torch.equal(first_pass, torch.arange(240))


def test_groups_are_not_shared_when_tasks_are_sampled(tiny_corpus, fresh_cache) -> None:
    data = MultiTaskDataModule(
        tasks(tiny_corpus), batch_size=8, sampling="proportional", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1)
    )
    data.setup("fit")
    steps = list(data.train_dataloader())
    assert all(len(step) == 1 for step in steps) and len(steps) == 90
    assert {next(iter(step.values()))["group"] for step in steps} == {"det", "det_again", "sentiment"}
