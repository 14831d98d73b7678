"""Measuring a target's data against the source (an earlier run, or a pretrained model): size,
sub-word fit under the source tokenizer, and the distance between the source encoder's
representations of source (or reference) text and target text."""

from __future__ import annotations

import inspect
import random
from argparse import ArgumentError
from typing import Any

import torch
from jsonargparse import ArgumentParser
from tokenizers import Tokenizer
from torch import Tensor

from mtl.data.tokenizer import load_tokenizer, special_ids
from mtl.encoders.base import Encoder
from mtl.transfer.advisor import Advice, Measures, Thresholds, recommend
from mtl.transfer.errors import TransferError
from mtl.transfer.source_run import SourceRun


def token_statistics(tokenizer: Tokenizer, texts: list[str]) -> tuple[float, float]:
    """Share of the sub-word tokens (special tokens excluded) that are the tokenizer's own
    unknown token (``[UNK]``, ``<unk>``, ...) and sub-words per word; each text on its own
    (padding off: padded tokens are not the text's)."""
    unk, tokens, words = special_ids(tokenizer).unk, 0, 0
    tokenizer = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.no_padding()
    unknown = 0
    for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
        tokens += len(encoding.ids)
        unknown += sum(i == unk for i in encoding.ids)
        words += len({w for w in encoding.word_ids if w is not None})
    return unknown / max(tokens, 1), tokens / max(words, 1)


@torch.no_grad()
def pooled_representations(encoder: Encoder, tokenizer: Tokenizer, texts: list[str], max_length: int = 128) -> Tensor:
    """The encoder's pooled vectors of ``texts``, ``(N, D)``, in eval mode."""
    tokenizer = Tokenizer.from_str(tokenizer.to_str())
    tokenizer.enable_truncation(max_length)
    pad = special_ids(tokenizer).pad
    tokenizer.enable_padding(pad_id=pad, pad_token=tokenizer.id_to_token(pad))
    training, device = encoder.training, next(encoder.parameters()).device
    encoder.eval()
    out = []
    for start in range(0, len(texts), 64):
        encodings = tokenizer.encode_batch(texts[start : start + 64])
        ids = torch.tensor([e.ids for e in encodings], device=device)  # (B, T)
        mask = torch.tensor([e.attention_mask for e in encodings], device=device).bool()  # (B, T)
        out.append(encoder(ids, mask).pooled.float().cpu())  # (B, D)
    encoder.train(training)
    return torch.cat(out)  # (N, D)


def representation_distances(source: Tensor, target: Tensor) -> tuple[float, float]:
    """Normalised Fréchet distance of diagonal Gaussians and normalised CORAL distance
    between two sets of vectors ``(N, D)``, ``(M, D)`` (see :class:`Measures`)."""
    mu_s, mu_t = source.mean(0), target.mean(0)  # (D,)
    sd_s, sd_t = source.std(0), target.std(0)  # (D,)
    scale = sd_s.pow(2).sum().clamp_min(1e-12)
    frechet = ((mu_s - mu_t).pow(2).sum() + (sd_s - sd_t).pow(2).sum()) / scale
    cov_s, cov_t = torch.cov(source.T), torch.cov(target.T)  # (D, D)
    coral = torch.linalg.matrix_norm(cov_s - cov_t) / torch.linalg.matrix_norm(cov_s).clamp_min(1e-12)
    return float(frechet), float(coral)


def measure(
    encoder: Encoder, tokenizer: Tokenizer, source_texts: list[str], target_texts: list[str], target_size: int
) -> Measures:
    """Every number of :class:`Measures` from samples of both texts."""
    if len(source_texts) < 2 or len(target_texts) < 2:
        raise TransferError(f"need at least 2 source and 2 target texts, got {len(source_texts)} and {len(target_texts)}")
    unk_rate, fertility = token_statistics(tokenizer, target_texts)
    _, source_fertility = token_statistics(tokenizer, source_texts)
    frechet, coral = representation_distances(
        pooled_representations(encoder, tokenizer, source_texts), pooled_representations(encoder, tokenizer, target_texts)
    )
    return Measures(target_size, unk_rate, fertility, source_fertility, frechet, coral)


def training_texts(datamodule: Any, sample: int, seed: int = 0) -> tuple[list[str], int]:
    """Up to ``sample`` training texts drawn from all tasks of a prepared data module, and
    the training size: rows of the supervised tasks (of all tasks when all are
    self-supervised)."""
    datamodule.prepare()
    tasks = datamodule.tasks
    supervised = [n for n, t in tasks.items() if not t.self_supervised] or list(tasks)
    size = sum(len(datamodule.read_splits(n, ["train"])["train"]) for n in supervised)
    texts: list[str] = []
    for name, task in tasks.items():
        train = datamodule.read_splits(name, ["train"])["train"]
        for column in [task.text] + ([task.text_pair] if task.text_pair else []):
            texts += [" ".join(v) if isinstance(v, list) else str(v) for v in train[column][:]]
    texts = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(texts)
    return texts[:sample], size


def datamodule_from_config(
    data: dict[str, Any], tokenizer: str | None, data_dir: str | None = None, pretrained: str | None = None
) -> Any:
    """A data module from a config's ``data`` section (its tasks and data folder), built as
    ``mtl fit`` builds it, reading text with the tokenizer at ``tokenizer`` or, when
    ``pretrained`` names a pretrained model, with that model's tokenizer."""
    from mtl.data.datamodule import MultiTaskDataModule

    spec = {"pretrained": pretrained} if pretrained else {"path": tokenizer} if tokenizer else None
    section = {"tasks": data["tasks"], "data_dir": data_dir or data.get("data_dir"), "tokenizer": spec}
    return built(MultiTaskDataModule, section, "data")


def built(hint: Any, value: Any, where: str) -> Any:
    """``value``, a config's section, as the command line builds an argument of type
    ``hint`` (jsonargparse: a class from its arguments, a ``class_path`` of a subclass or a
    factory); a value that does not fit is a TransferError naming ``where``."""
    parser = ArgumentParser(exit_on_error=False)
    if inspect.isclass(hint):
        parser.add_class_arguments(hint, "value")
    else:
        parser.add_argument("--value", type=hint)
    try:
        return parser.instantiate(parser.parse_object({"value": value})).value
    except ArgumentError as error:
        raise TransferError(f"{where}: {error}") from None


def source_datamodule(source: SourceRun, data_dir: str | None = None) -> Any:
    """The source run's data module, rebuilt from its ``config.yaml`` with its saved tokenizer."""
    config = source.config()
    if config is None or not (config.get("data") or {}).get("tasks"):
        raise TransferError(
            f"{source.run_dir}/config.yaml with data.tasks is needed to sample the source run's text; it is written by `mtl fit`"
        )
    return datamodule_from_config(config["data"], str(source.tokenizer_path) if source.tokenizer_path else None, data_dir)


def advise_for_datamodule(
    source: SourceRun, encoder: Encoder, target: Any, thresholds: Thresholds, sample: int = 1000, data_dir: str | None = None
) -> Advice:
    """Measure ``target`` (a data module) against ``source`` and recommend a strategy;
    ``encoder`` must hold the source run's weights."""
    if source.tokenizer_path is None:
        raise TransferError(f"{source.run_dir}/tokenizer.json is missing; the advisor reads text with the source tokenizer")
    tokenizer = load_tokenizer(source.tokenizer_path)
    source_texts, _ = training_texts(source_datamodule(source, data_dir or getattr(target, "data_dir", None)), sample)
    target_texts, size = training_texts(target, sample)
    return recommend(measure(encoder, tokenizer, source_texts, target_texts, size), thresholds)


#: why a pretrained source's distance is not measured by ``mtl advise`` without ``--reference``
NO_REFERENCE = (
    "a pretrained model has no source text of its own to compare with; give reference text of the kind it was "
    "trained on with --reference FILE"
)


def reference_texts(path: str, sample: int = 1000, seed: int = 0) -> list[str]:
    """Up to ``sample`` non-empty lines of the plain-text file ``path`` (one text a line)."""
    try:
        lines = [line.strip() for line in open(path, encoding="utf-8")]  # noqa: SIM115 (read at once)
    except OSError as error:
        raise TransferError(
            f"reference text {path!r} cannot be read ({error.strerror}); give a plain-text file, one text a line"
        ) from None
    texts = list(dict.fromkeys(line for line in lines if line))
    random.Random(seed).shuffle(texts)
    return texts[:sample]


def advise_by_tokens(target: Any, thresholds: Thresholds, sample: int = 1000, unmeasured: str = NO_REFERENCE) -> Advice:
    """Advice from ``target``'s size and how its own tokenizer (a pretrained model's) reads
    its text: unknown tokens and sub-words per word; the distances are not measured
    (``unmeasured`` says why)."""
    target_texts, size = training_texts(target, sample)
    unk_rate, fertility = token_statistics(target.tokenizer, target_texts)
    return recommend(Measures(size, unk_rate, fertility, None, None, None, unmeasured), thresholds)


def advise_for_pretrained(
    model: str,
    target: Any,
    thresholds: Thresholds,
    sample: int = 1000,
    reference: list[str] | None = None,
    unmeasured: str = NO_REFERENCE,
) -> Advice:
    """Measure ``target`` (a data module reading text with pretrained ``model``'s tokenizer)
    against the model and recommend a strategy. With ``reference`` text the distances
    are measured between the model's mean-pooled representations of it and of the target
    text; without, they are not (see :func:`advise_by_tokens`)."""
    if reference is None:
        return advise_by_tokens(target, thresholds, sample, unmeasured)
    if len(reference) < 2:
        raise TransferError(f"the reference text has {len(reference)} non-empty line(s); the distance needs at least 2 texts")
    target_texts, size = training_texts(target, sample)
    tokenizer = target.tokenizer
    from mtl.encoders.pretrained import PretrainedEncoder

    encoder = PretrainedEncoder(tokenizer.get_vocab_size(), model, pooling="mean", padding_idx=special_ids(tokenizer).pad)
    return recommend(measure(encoder, tokenizer, reference, target_texts, size), thresholds)
