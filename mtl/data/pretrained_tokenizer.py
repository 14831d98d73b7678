"""A pretrained model's own tokenizer, prepared for mtl: its ``tokenizer.json`` (converted by
``transformers`` when the model ships only a SentencePiece or vocabulary file), with the
model's padding token recorded in it and word-by-word input encoded as running text is."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from mtl.data.tokenizer import special_ids
from mtl.pretrained_files import PretrainedError, model_directory


def pretrained_tokenizer(name: str) -> Tokenizer:
    """The tokenizer of pretrained model ``name`` (a directory, ``package:<module>/<folder>``
    or a hub name, see :func:`mtl.pretrained_files.model_directory`).

    - Its padding token (``pad_token`` of ``tokenizer_config.json`` or
      ``special_tokens_map.json``) is recorded as the tokenizer's padding, so
      :func:`~mtl.data.tokenizer.special_ids` finds it wherever it is (RoBERTa: 1).
    - Its own truncation and padding settings are cleared (each task sets its own length).

    Running text is encoded exactly as the model's tokenizer does; pre-split words (a
    tagging task's) with a space before every word (see :func:`~mtl.data.tokenizer.word_by_word`).
    """
    directory = model_directory(name)
    path = directory / "tokenizer.json"
    if path.is_file():
        tokenizer = Tokenizer.from_file(str(path))
    else:
        tokenizer = _converted(name, directory)
    state = json.loads(tokenizer.to_str())
    state["truncation"] = None
    state["padding"] = None
    tokenizer = Tokenizer.from_str(json.dumps(state))
    pad = _declared_tokens(directory).get("pad_token")
    if pad is not None:
        pad_id = tokenizer.token_to_id(pad)
        if pad_id is None:
            raise PretrainedError(f"pretrained model {name!r}: its pad_token {pad!r} is not in its tokenizer's vocabulary")
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad)
    special_ids(tokenizer)  # every role found, or a DataError naming the missing one
    return tokenizer


def _converted(name: str, directory: Path) -> Tokenizer:
    """The fast tokenizer ``transformers`` builds from a SentencePiece model or a vocabulary file."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise PretrainedError(
            f"pretrained model {name!r} ships no tokenizer.json; converting its tokenizer needs the pretrained extra "
            "(pip install 'mtl[pretrained]')"
        ) from None
    try:
        return AutoTokenizer.from_pretrained(str(directory), use_fast=True).backend_tokenizer
    except Exception as error:  # noqa: BLE001 - missing sentencepiece/protobuf, unknown class, ...
        raise PretrainedError(
            f"pretrained model {name!r}: its tokenizer cannot be converted to a tokenizer.json: {error}"
        ) from None


def _declared_tokens(directory: Path) -> dict[str, str]:
    """Special token names from ``special_tokens_map.json`` and ``tokenizer_config.json``
    (the latter wins), as plain strings."""
    tokens: dict[str, str] = {}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        path = directory / file
        if not path.is_file():
            continue
        for key, value in json.loads(path.read_text(encoding="utf-8")).items():
            if key.endswith("_token") and isinstance(value, dict):
                value = value.get("content")
            if key.endswith("_token") and isinstance(value, str):
                tokens[key] = value
    return tokens
