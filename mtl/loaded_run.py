"""A trained run for inference from Python: ``mtl.load_run("runs/x/version_0").predict([...])``.

Everything comes from the run itself (its checkpoint, with the model config and label lists,
and its ``tokenizer.json``, checked against the digest the checkpoint records): no config
file and no training data are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mtl.checkpoint_check import read_checkpoint
from mtl.data.collate import collate
from mtl.data.datamodule import PREDICT_TASK
from mtl.data.encoding import InputEncoder
from mtl.data.errors import DataError
from mtl.data.predict_inputs import PredictWords, shown_input
from mtl.data.tokenizer import load_tokenizer, special_ids
from mtl.model_config import rebuild_from_state
from mtl.module import MultiTaskModule
from mtl.prediction import predict_records
from mtl.trained_run import run_checkpoint, trained_tokenizer_path

Text = str | Sequence[str]  # a text, or its words already split


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """The trained run at ``path``: a run directory (``runs/x/version_N``: its best
    checkpoint by ``val/average``, else ``last.ckpt``) or a checkpoint file.

    Raises:
        DataError: no checkpoint there, or the run's tokenizer is missing or another one.
    """
    checkpoint = run_checkpoint(Path(path))
    state = read_checkpoint(checkpoint)
    tokenizer = load_tokenizer(trained_tokenizer_path(checkpoint, state))
    module = rebuild_from_state(MultiTaskModule, state) or MultiTaskModule.load_from_checkpoint(
        checkpoint, map_location="cpu", weights_only=True
    )  # a checkpoint made in Python holds no model config: Lightning's loader reads its hparams
    return LoadedRun(checkpoint, module.to(device).eval(), tokenizer)


class LoadedRun:
    """A trained module with its tokenizer, predicting as ``mtl predict`` does.

    Args:
        checkpoint: the file the weights come from.
        module: the trained module, in eval mode.
        tokenizer: the tokenizer it was trained with.
    """

    def __init__(self, checkpoint: Path, module: MultiTaskModule, tokenizer: Any) -> None:
        self.checkpoint, self.module, self.tokenizer = checkpoint, module, tokenizer
        self.pad_id = special_ids(tokenizer).pad
        limits = [e.max_length for e in module.task_encoders.values() if getattr(e, "max_length", None)]
        self.max_length = min(limits) if limits else None
        self.tags = any(head.label_type == "tags" for head in module.model.heads.values())

    @property
    def task_labels(self) -> dict[str, list[str]]:
        """Every task's label names, in the trained order."""
        return dict(self.module.hparams.task_labels)

    @torch.no_grad()
    def predict(
        self,
        texts: Sequence[Text],
        text_pairs: Sequence[Text] | None = None,
        words: PredictWords = "whitespace",
        batch_size: int = 32,
    ) -> list[dict[str, Any]]:
        """One record per text, as a line of ``mtl predict``'s output: ``text`` (and
        ``text_pair``), the ``words`` tagged when a task tags, and every task's prediction
        (label and probability, tag per word, score).

        Args:
            texts: strings, or lists of words (tagged as given, one tag per word).
            text_pairs: the second texts of pair tasks, one per text.
            words: how a string is split into words: ``whitespace`` or ``punctuation``.
            batch_size: inputs per forward pass.
        """
        if isinstance(texts, str) or (text_pairs is not None and isinstance(text_pairs, str)):
            raise DataError("predict takes a list of texts (and of text pairs), not one string: predict([text])")
        if text_pairs is not None and len(text_pairs) != len(texts):
            raise DataError(f"predict: {len(texts)} texts but {len(text_pairs)} text pairs; give one pair per text")
        rows = {"text": [t if isinstance(t, str) else list(t) for t in texts]}
        if text_pairs is not None:
            rows["text_pair"] = [t if isinstance(t, str) else list(t) for t in text_pairs]
        encoder = InputEncoder(self.tokenizer, "text", "text_pair" if text_pairs is not None else None, self.max_length, words)
        encoded = encoder(rows, list(range(len(texts))))
        device = next(self.module.parameters()).device
        records: list[dict[str, Any]] = []
        for start in range(0, len(texts), batch_size):
            columns = {key: values[start : start + batch_size] for key, values in encoded.items()}
            batch = collate(columns, PREDICT_TASK, self.pad_id)
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            records += predict_records(self.module.model, batch)
        pair = text_pairs is not None
        shown = []
        for record in records:
            i = record.pop("index")
            shown.append(shown_input(rows["text"][i], rows["text_pair"][i] if pair else None, words, self.tags, pair) | record)
        return shown
