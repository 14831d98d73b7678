"""A checkpoint write that fails part-way leaves the previous checkpoint whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from test_module import build, trainer  # tests/ is on sys.path under pytest

from mtl.checkpoint_io import AtomicCheckpointIO
from mtl.cli import MultiTaskCLI
from mtl.data.datamodule import MultiTaskDataModule
from mtl.module import MultiTaskModule


class _Unsaveable(L.Callback):
    """State that cannot be pickled once ``broken`` is set: the write fails mid-way."""

    broken = False

    def state_dict(self) -> dict[str, Any]:
        return {"fine": torch.ones(1000), "bad": (lambda: None) if self.broken else None}


@pytest.mark.parametrize("io", ["lightning", "atomic"])
def test_a_failed_save_keeps_the_last_checkpoint_loadable(io: str, tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus)
    callback = _Unsaveable()
    plugins = [AtomicCheckpointIO()] if io == "atomic" else []
    fit = trainer(tmp_path, max_steps=2, callbacks=[callback], limit_val_batches=0, plugins=plugins)
    fit.fit(model, data)
    last = tmp_path / "last.ckpt"
    fit.save_checkpoint(last)
    before = last.read_bytes()

    callback.broken = True
    with pytest.raises(Exception, match="pickle|lambda"):
        fit.save_checkpoint(last)
    assert last.read_bytes() == before, "the failed write touched the previous checkpoint"
    assert torch.load(last, weights_only=True)["global_step"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["last.ckpt"], "a partial file was left behind"

    callback.broken = False
    fit.save_checkpoint(last)  # the next save replaces it
    assert torch.load(last, weights_only=True)["callbacks"]


def test_the_cli_writes_checkpoints_atomically(tmp_path: Path) -> None:
    demo = Path(__file__).parents[1] / "experiments" / "demo.yaml"
    args = ["-c", str(demo), "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}"]
    cli = MultiTaskCLI(MultiTaskModule, MultiTaskDataModule, run=False, args=args)
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
