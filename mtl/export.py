"""A trained run as files a serving stack loads without this package: ``mtl export``.

``export_run("runs/x/version_N")`` (or ``mtl export --run runs/x/version_N``) writes, by
default to ``<run>/export/``:

- ``program.pt2``: a ``torch.export`` program of the encoder(s) and the task heads,
  ``torch.export.load(path).module()(input_ids, attention_mask, token_type_ids)`` ->
  ``{task: logits}``; inputs ``(B, T)`` int64, bool, int64, right-padded with the
  tokenizer's pad id; outputs ``(B, C)`` class logits, ``(B, T, C)`` tag logits per
  sub-word token (a word's tag sits on its first token), ``(B,)`` scores. The batch size
  is free; the number of tokens is free up to the encoder's limit, except for LSTM
  encoders, whose recurrence is unrolled over a fixed ``T`` (``tokens``): pad every input
  to it (padding after the real tokens changes nothing at them).
- ``tokenizer.json``: the tokenizer the model was trained with (Hugging Face
  ``tokenizers``), for pre-split words as ``mtl predict`` reads them: split a text on
  whitespace and encode its words with ``is_pretokenized=True`` (a pair: both word lists);
  a word's tag is at its first token (``Encoding.word_ids``).
- ``model.json``: what the program reads and returns: input names, ``tokens`` (None when
  free), the pad id, and per task its kind, its labels in output order and its output's
  shape.
- ``encoder/``: for a pretrained ``transformers`` encoder, the fine-tuned encoder as a
  standard Hugging Face directory (``AutoModel.from_pretrained``) with its tokenizer.

Self-supervised heads (masked LM, denoising) are training aids and are left out; so are
tagging heads that read word spellings (``word_features``), whose inputs only this
package computes (export refuses those with a message).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from mtl.contracts import LabelKind
from mtl.data.errors import DataError
from mtl.data.tokenizer import word_by_word
from mtl.encoders.base import encode_batch
from mtl.encoders.lstm import LSTMEncoder
from mtl.encoders.pretrained import PretrainedEncoder
from mtl.loaded_run import load_run
from mtl.model import MultiTaskModel
from mtl.trained_run import run_dir

USAGE = "mtl export --run runs/<name>/version_N [--output DIR] [--tokens T]"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: Head kinds a serving stack decodes: their logits become the program's outputs.
SERVED = {
    LabelKind.CLASS: "class",
    LabelKind.MULTILABEL: "multilabel",
    LabelKind.FLOAT: "score",
    LabelKind.TAGS: "tags",
}
#: ``T`` of an LSTM program when neither ``tokens`` nor a task's ``max_length`` says it.
DEFAULT_TOKENS = 128


class ServedModel(nn.Module):
    """The encoder(s) and the served heads of ``model`` as one module of plain tensors:
    ``forward(input_ids, attention_mask, token_type_ids) -> {task: logits}``."""

    def __init__(self, model: MultiTaskModel) -> None:
        super().__init__()
        self.model = model
        self.tasks = [task for task, head in model.heads.items() if head.label_type in SERVED]

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> dict[str, Tensor]:
        batch: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        encoded: dict[int, Any] = {}  # one pass per distinct encoder
        outputs = {}
        for task in self.tasks:
            encoder = self.model.encoder_for(task)
            if id(encoder) not in encoded:
                encoded[id(encoder)] = encode_batch(encoder, batch)
            outputs[task] = self.model.heads[task](encoded[id(encoder)], batch)
        return outputs


def export_run(run: str, output: str | None = None, tokens: int | None = None) -> Path:
    """Export a trained run for serving without mtl: a torch.export program, tokenizer, labels.

    The program holds the encoder(s) and the task heads; a pretrained encoder is also
    written as a Hugging Face directory. See :mod:`mtl.export`; returns the folder written.

    Args:
        run: the run directory (runs/<name>/version_N: its newest best-*.ckpt, else
            last.ckpt) or a .ckpt file of it
        output: the folder to write (default <run>/export); replaced if it exists
        tokens: the fixed number of tokens of an LSTM encoder's program (default: the
            tasks' longest max_length, else 128); other encoders take any length
    """
    loaded = load_run(run)
    model = loaded.module.model.eval()
    served = ServedModel(model)
    _check_servable(model, served)
    fixed = any(isinstance(e, LSTMEncoder) for e in model.task_encoders.values())
    length = (tokens or _longest_task_input(Path(loaded.checkpoint)) or DEFAULT_TOKENS) if fixed else None
    program = _export(served, loaded.pad_id, length, loaded.max_length)
    folder = Path(output) if output else run_dir(Path(loaded.checkpoint)) / "export"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    torch.export.save(program, folder / "program.pt2")
    word_by_word(loaded.tokenizer).save(str(folder / "tokenizer.json"))
    manifest = _manifest(served, loaded, length)
    (folder / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    encoders = {id(e): e for e in model.task_encoders.values()}
    if len(encoders) == 1:
        (encoder,) = encoders.values()
        if isinstance(encoder, PretrainedEncoder):
            encoder.model.save_pretrained(folder / "encoder")
            loaded.tokenizer.save(str(folder / "encoder" / "tokenizer.json"))
    return folder


def _check_servable(model: MultiTaskModel, served: ServedModel) -> None:
    if not served.tasks:
        raise DataError("export: the run has no task a serving stack decodes (only self-supervised heads)")
    spelled = [task for task in served.tasks if getattr(model.heads[task], "word_bytes", None) is not None]
    if spelled:
        raise DataError(
            f"export: the heads of {spelled} read word spellings (word_features), an input only mtl computes; "
            "export a run trained with word_features: 0, or serve it with mtl.load_run"
        )


def _longest_task_input(checkpoint: Path) -> int | None:
    """The longest ``max_length`` of the tasks in the run's ``config.yaml`` (None without one)."""
    config = run_dir(checkpoint) / "config.yaml"
    if not config.is_file():
        return None
    tasks = ((yaml.safe_load(config.read_text()) or {}).get("data") or {}).get("tasks") or []
    lengths = [t.get("max_length") for t in tasks if isinstance(t, dict) and t.get("max_length")]
    return max(lengths) if lengths else None


def _example(pad_id: int, tokens: int) -> tuple[Tensor, Tensor, Tensor]:
    """Two right-padded rows of ``tokens`` positions (the second half padding)."""
    ids = torch.full((2, tokens), 5, dtype=torch.long)  # (B, T)
    mask = torch.ones(2, tokens, dtype=torch.bool)  # (B, T)
    mask[1, max(1, tokens // 2) :] = False
    ids[~mask] = pad_id
    return ids, mask, torch.zeros(2, tokens, dtype=torch.long)


def _export(served: ServedModel, pad_id: int, fixed: int | None, limit: int | None) -> torch.export.ExportedProgram:
    """``served`` as an exported program: batch size free; tokens free up to ``limit``
    unless ``fixed``."""
    batch = torch.export.Dim("batch")
    if fixed is not None:
        shapes = {name: {0: batch} for name in INPUTS}
        example = _example(pad_id, fixed)
    else:
        tokens = torch.export.Dim("tokens", min=2, max=limit or 4096)
        shapes = {name: {0: batch, 1: tokens} for name in INPUTS}
        example = _example(pad_id, 8)
    with torch.no_grad():
        return torch.export.export(served, example, dynamic_shapes=shapes, strict=False)


def _manifest(served: ServedModel, loaded: Any, tokens: int | None) -> dict[str, Any]:
    labels = loaded.task_labels
    tasks = {}
    for task in served.tasks:
        kind = SERVED[served.model.heads[task].label_type]
        shape = {"class": "(B, C)", "multilabel": "(B, C)", "score": "(B,)", "tags": "(B, T, C)"}[kind]
        tasks[task] = {"kind": kind, "labels": list(labels.get(task, [])), "output": shape}
    return {
        "inputs": {"input_ids": "(B, T) int64", "attention_mask": "(B, T) bool", "token_type_ids": "(B, T) int64"},
        "tokens": tokens,
        "read": "split each text on whitespace; tokenizer.json.encode(words[, pair_words], is_pretokenized=True)",
        "pad_id": loaded.pad_id,
        "tasks": tasks,
        "checkpoint": str(loaded.checkpoint),
    }
