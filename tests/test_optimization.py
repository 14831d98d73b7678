"""The optimiser and schedule: AdamW with warm-up by default, injectable through
``model.optimizer`` / ``model.lr_scheduler``; LightningCLI's own ``--optimizer`` and
``--lr_scheduler`` are refused (they would drop the no-decay groups and the warm-up)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch

from mtl import MultiTaskDataModule, TokenizerSpec
from mtl.balancers import PCGrad
from tests.command import TINY, mtl
from tests.test_module import build, tasks, trainer


@pytest.mark.parametrize(
    "args, named",
    [
        (["--optimizer", "SGD", "--optimizer.lr", "0.1"], "--model.optimizer"),
        (["--lr_scheduler", "StepLR", "--lr_scheduler.step_size", "1"], "--model.lr_scheduler"),
    ],
)
def test_the_command_refuses_lightning_cli_optimizer_arguments(args: list[str], named: str, tmp_path: Path) -> None:
    run = mtl("fit", "-c", str(TINY), *args, "--trainer.max_epochs=1", cwd=tmp_path, timeout=300)
    assert run.returncode != 0
    assert named in run.stderr.splitlines()[-1]


def test_the_default_is_adamw_with_no_decay_groups_and_warmup(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus, lr=0.01, weight_decay=0.1, warmup=4)
    t = trainer(tmp_path, max_steps=2)
    t.fit(model, data)
    optimizer = t.optimizers[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 3 / 4)  # warm-up step 3 of 4


def test_an_injected_optimizer_keeps_groups_and_warmup_with_a_gradient_balancer(tiny_corpus, fresh_cache, tmp_path) -> None:
    L.seed_everything(0)
    data, model = build(
        tiny_corpus, balancer=PCGrad(), lr=0.01, weight_decay=0.1, warmup=4, optimizer=partial(torch.optim.SGD, momentum=0.9)
    )
    data = MultiTaskDataModule(
        tasks(tiny_corpus), batch_size=8, sampling="all", tokenizer=TokenizerSpec(vocab_size=100, min_frequency=1)
    )
    t = trainer(tmp_path, max_steps=2)
    t.fit(model, data)  # manual optimisation steps the optimiser and the schedule
    optimizer = t.optimizers[0]
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 3 / 4)
    assert t.global_step == 2


def test_an_injected_schedule_replaces_the_warmup(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(
        tiny_corpus, lr=0.01, warmup=4, lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    )
    t = trainer(tmp_path, max_steps=2)
    t.fit(model, data)
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.01 * 0.25)
