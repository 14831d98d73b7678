"""A checkpoint write that fails part-way leaves the previous checkpoint whole."""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch

from test_module import build, trainer  # tests/ is on sys.path under pytest


class _Unsaveable(L.Callback):
    """State that cannot be pickled once ``broken`` is set: the write fails mid-way."""

    broken = False

    def state_dict(self) -> dict[str, Any]:
        return {"fine": torch.ones(3), "bad": (lambda: None) if self.broken else None}


def test_a_failed_save_keeps_the_last_checkpoint_loadable(tiny_corpus, fresh_cache, tmp_path) -> None:
    data, model = build(tiny_corpus)
    callback = _Unsaveable()
    fit = trainer(tmp_path, max_steps=2, callbacks=[callback], limit_val_batches=0)
    fit.fit(model, data)
    last = tmp_path / "last.ckpt"
    fit.save_checkpoint(last)
    before = last.read_bytes()

    callback.broken = True
    with pytest.raises(Exception, match="pickle|lambda"):
        fit.save_checkpoint(last)
    assert last.read_bytes() == before, "the failed write touched the previous checkpoint"
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".ckpt") == ["last.ckpt"]
