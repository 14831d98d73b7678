"""Loading the source run's encoder weights into a freshly built encoder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from torch import nn

from mtl.encoders.embedding import TokenEmbedding
from mtl.transfer.errors import TransferError
from mtl.transfer.source_run import SourceRun
from mtl.transfer.vocabulary import compare_vocabularies, map_rows, read_vocabulary

log = logging.getLogger(__name__)

Mismatch = Literal["error", "map"]


def load_encoder_weights(encoder: nn.Module, source: SourceRun, tokenizer: str | None, on_mismatch: Mismatch) -> None:
    """Copy every weight of ``source``'s encoder into ``encoder`` (the same architecture).

    Args:
        encoder: the new run's encoder, freshly built.
        source: the run to transfer from.
        tokenizer: the new run's ``tokenizer.json``; None means the source run's own.
        on_mismatch: when the tokenizers differ: ``error`` refuses with an explanation;
            ``map`` copies the embedding rows of the tokens both vocabularies hold
            (by token, whatever their ids) and keeps fresh rows for the new tokens.

    Raises:
        TransferError: another architecture, or another tokenizer under ``error``.
    """
    state = dict(source.encoder_state)
    own = encoder.state_dict()
    tables = [f"{name}.embedding.weight" for name, m in encoder.named_modules() if isinstance(m, TokenEmbedding)]
    _check_architecture(own, state, set(tables), source)
    rows = own[tables[0]].shape[0] if tables else source.vocab_size
    if tokenizer is not None and source.tokenizer_path is None:
        raise TransferError(
            f"cannot check the new tokenizer {tokenizer!r} against the source run: {source.run_dir}/tokenizer.json "
            "is missing; put the source run's tokenizer.json there"
        )
    same = tokenizer is None or Path(tokenizer).resolve() == source.tokenizer_path.resolve()
    if same and rows != source.vocab_size:
        raise TransferError(
            f"the model's vocabulary has {rows} tokens but the source run {str(source.checkpoint)!r} was trained with "
            f"{source.vocab_size}; use the source run's tokenizer ({source.tokenizer_path or 'its tokenizer.json'})"
        )
    if not same:
        source_vocab, target_vocab = read_vocabulary(source.tokenizer_path), read_vocabulary(tokenizer)
        match = compare_vocabularies(source_vocab, target_vocab)
        if not match.identical:
            if on_mismatch == "error":
                raise TransferError(
                    f"the new run's tokenizer {tokenizer!r} differs from the source run's {str(source.tokenizer_path)!r}: "
                    f"{match.describe()}. Loading the embedding table as it is would give tokens the rows of other "
                    "tokens. Leave data.tokenizer.path unset to reuse the source run's tokenizer (the default with "
                    "model.transfer), or set model.transfer.on_tokenizer_mismatch: map to copy the rows of the shared "
                    "tokens and initialise the others"
                )
            for key in tables:
                state[key], copied = map_rows(state[key], own[key], source_vocab, target_vocab)
            log.warning("tokenizers differ (%s): copied %d embedding rows by token, %d new rows initialised",
                        match.describe(), copied, match.target_size - copied)  # fmt: skip
    encoder.load_state_dict(state)


def _check_architecture(own: dict, state: dict, tables: set[str], source: SourceRun) -> None:
    missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    shapes = [
        f"{k}: source {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own.keys() & state.keys()
        if k not in tables and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        config = source.config() or {}
        encoder = (config.get("model") or {}).get("encoder")
        hint = f" The source run's model.encoder was {encoder}." if encoder else ""
        raise TransferError(
            f"model.encoder does not match the encoder of {str(source.checkpoint)!r}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, other shapes {shapes[:5]}. Configure the same encoder class and sizes "
            f"as the source run.{hint}"
        )
