"""A short real run on UD English-EWT: UPOS tagging from scratch reaches 85% on dev."""

from __future__ import annotations

from functools import partial

import lightning as L

from mtl import LSTMEncoder, MultiTaskDataModule, MultiTaskModule, TaggingHead, TokenizerSpec
from mtl.data.corpora import ud_ewt_task


def test_upos_reaches_85_percent_on_dev(shared_data, tmp_path) -> None:
    L.seed_everything(0)
    task = ud_ewt_task("upos", "upos", shared_data)
    data = MultiTaskDataModule([task], batch_size=32, tokenizer=TokenizerSpec(vocab_size=6000, lowercase=False))
    model = MultiTaskModule(
        partial(LSTMEncoder, embed_dim=64, hidden_dim=64, dropout=0.1),
        {"upos": TaggingHead},
        lr=5e-3,
        warmup=0.05,
        vocab_size=data.vocab_size,
        task_labels=data.task_labels,
    )
    assert len(data.task_labels["upos"]) == 17
    trainer = L.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    trainer.fit(model, data)
    accuracy = float(trainer.callback_metrics["val/upos/accuracy"])
    print(f"UPOS dev accuracy {accuracy:.4f}")
    assert accuracy >= 0.85, f"UPOS dev accuracy {accuracy:.4f}"
