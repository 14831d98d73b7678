"""Sub-word (and word-level) tokenizers: trained with Hugging Face ``tokenizers`` on the
tasks' training text, cached by content, or loaded from a ``tokenizer.json``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from tokenizers import (
    Tokenizer,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from mtl.contracts import SpecialIds
from mtl.data.errors import DataError

log = logging.getLogger(__name__)

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]  # a trained tokenizer's ids 0-4: SpecialIds' defaults
CONTINUATION = "##"  # prefix of a sub-word inside a word


@dataclass
class TokenizerSpec:
    """How to get the tokenizer.

    Args:
        pretrained: the tokenizer of a pretrained model (a directory, ``package:<module>/<folder>``
            or a hub name): the data reads text as that model was trained to. The ``mtl``
            command sets it to ``model.encoder``'s pretrained model; the other settings
            are then unused.
        path: a ``tokenizer.json`` to load. When it does not exist yet, the trained
            tokenizer is saved there. When None, trained tokenizers are cached under
            ``$MTL_CACHE/tokenizers`` (default ``~/.cache/mtl``), keyed by the training
            data and these settings, so the same run reuses the same tokenizer.
        kind: ``wordpiece`` or ``bpe`` sub-word model, or ``word``: whole words (split at
            white space and punctuation, as GloVe's vocabulary is), the training text's most
            frequent ones; any other word reads as ``[UNK]``. The kind for word vectors
            (:class:`mtl.encoders.WordVectors`).
        vocab_size: target vocabulary size, special tokens included.
        min_frequency: a merge, word piece or word must occur this often to enter the vocabulary.
        lowercase: lowercase before splitting.
    """

    pretrained: str | None = None
    path: str | None = None
    kind: Literal["wordpiece", "bpe", "word"] = "wordpiece"
    vocab_size: int = 8000
    min_frequency: int = 2
    lowercase: bool = True


def train_tokenizer(texts: Iterable[str], spec: TokenizerSpec) -> Tokenizer:
    """Train a WordPiece, BPE or word-level tokenizer with ``[CLS] a [SEP] b [SEP]``
    templates; the same texts and settings give the same tokenizer in every process (see
    :func:`_continuation_tokens`; the word-level trainer orders equally frequent words
    alphabetically)."""
    if spec.kind == "word":
        return _train_word_level(texts, spec)
    if spec.kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    elif spec.kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix=CONTINUATION))
    else:
        raise ValueError(f"tokenizer kind {spec.kind!r} is not one of ['wordpiece', 'bpe', 'word']")
    _split_words(tokenizer, spec)
    texts = texts if isinstance(texts, (list, tuple)) else list(texts)  # read twice
    special = SPECIAL_TOKENS + _continuation_tokens(tokenizer, texts)
    options = {"vocab_size": spec.vocab_size, "min_frequency": spec.min_frequency, "special_tokens": special}
    if spec.kind == "wordpiece":
        trainer = trainers.WordPieceTrainer(**options)
    else:
        trainer = trainers.BpeTrainer(**options, continuing_subword_prefix=CONTINUATION)
    tokenizer.train_from_iterator(texts, trainer)
    # The continuation tokens stay in the vocabulary as ordinary sub-words, not special tokens.
    state = json.loads(tokenizer.to_str())
    state["added_tokens"] = [t for t in state["added_tokens"] if t["content"] in SPECIAL_TOKENS]
    tokenizer = Tokenizer.from_str(json.dumps(state))
    add_templates(tokenizer)
    return tokenizer


def _split_words(tokenizer: Tokenizer, spec: TokenizerSpec) -> None:
    """NFKC (and lower case) normalisation, then words split at white space and punctuation."""
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if spec.lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()


def _train_word_level(texts: Iterable[str], spec: TokenizerSpec) -> Tokenizer:
    """A word-level tokenizer: the ``vocab_size`` most frequent words of ``texts`` that
    occur at least ``min_frequency`` times, after the special tokens (ids 0-4)."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    _split_words(tokenizer, spec)
    trainer = trainers.WordLevelTrainer(
        vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=SPECIAL_TOKENS
    )
    tokenizer.train_from_iterator(texts, trainer)
    add_templates(tokenizer)
    return tokenizer


def _continuation_tokens(tokenizer: Tokenizer, texts: Iterable[str]) -> list[str]:
    """``##c`` for every character ``c`` that occurs inside a word, sorted.

    The ``tokenizers`` trainers create these sub-words while iterating over a hash map and
    give them ids in that order, which differs between processes; ties between equally
    frequent merges are broken by id, so two trainings on the same text could differ
    (huggingface/tokenizers#1794), e.g. the processes of one DDP run. Declared up front
    (as special tokens, removed again after training) they get the same ids every time.
    """
    inside: set[str] = set()
    for text in texts:
        for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(tokenizer.normalizer.normalize_str(text)):
            inside.update(word[1:])
    return [CONTINUATION + c for c in sorted(inside)]


def add_templates(tokenizer: Tokenizer, cls: str = CLS, sep: str = SEP) -> None:
    """Wrap single texts as ``[CLS] a [SEP]`` and pairs as ``[CLS] a [SEP] b [SEP]``
    (second segment with type id 1), with ``cls`` and ``sep`` as the start and end tokens."""
    cls_id, sep_id = tokenizer.token_to_id(cls), tokenizer.token_to_id(sep)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, cls_id), (sep, sep_id)],
    )


#: what each special role is called in the tokenizers of the common model families (mtl's
#: own and BERT/ELECTRA/DeBERTa-v3/ModernBERT first, RoBERTa/XLM-R/BART second)
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "pad": (PAD, "<pad>"),
    "unk": (UNK, "<unk>"),
    "cls": (CLS, "<s>"),
    "sep": (SEP, "</s>"),
    "mask": (MASK, "<mask>"),
}


def special_ids(tokenizer: Tokenizer) -> SpecialIds:
    """The ids of the tokenizer's padding, unknown, start, end and mask tokens, wherever
    they are in its vocabulary.

    Read from what the tokenizer itself records: its padding token (mtl sets it on every
    tokenizer it prepares, see :func:`mtl.data.pretrained_tokenizer.pretrained_tokenizer`),
    the unknown token of its model, and the start and end tokens of its post-processor's
    single-text template; a role recorded nowhere is found by its usual names
    (:data:`ROLE_NAMES`).

    Raises:
        DataError: a role with no token.
    """
    state = json.loads(tokenizer.to_str())
    named = {
        "pad": (state.get("padding") or {}).get("pad_token"),
        "unk": _unknown_token(state.get("model") or {}),
        **_template_ends(state.get("post_processor")),
    }
    ids: dict[str, int] = {}
    missing = []
    for role, names in ROLE_NAMES.items():
        candidates = ([named[role]] if named.get(role) else []) + list(names)
        found = next((i for i in map(tokenizer.token_to_id, candidates) if i is not None), None)
        if found is None:
            missing.append(f"{role} ({' or '.join(dict.fromkeys(candidates))})")
        else:
            ids[role] = found
    if missing:
        raise DataError(
            f"the tokenizer has no {', '.join(missing)} token; mtl needs padding, unknown, start, end and mask "
            "tokens: use a tokenizer that has them, or add them"
        )
    return SpecialIds(**ids)


def _unknown_token(model: dict) -> str | None:
    """The unknown token of a tokenizer model's JSON (WordPiece, BPE, WordLevel: by name;
    Unigram: by id into its vocabulary)."""
    if model.get("type") == "Unigram":
        unk_id, vocab = model.get("unk_id"), model.get("vocab") or []
        return vocab[unk_id][0] if unk_id is not None and unk_id < len(vocab) else None
    return model.get("unk_token")


def _template_ends(processor: dict | None) -> dict[str, str]:
    """``cls`` and ``sep``: the tokens a post-processor puts before and after a single text
    (``TemplateProcessing``, ``BertProcessing``, ``RobertaProcessing``, or any of them
    inside a ``Sequence``)."""
    if not processor:
        return {}
    kind = processor.get("type")
    if kind == "Sequence":
        for inner in processor.get("processors") or []:
            found = _template_ends(inner)
            if found:
                return found
        return {}
    if kind in ("BertProcessing", "RobertaProcessing"):
        return {"cls": processor["cls"][0], "sep": processor["sep"][0]}
    if kind == "TemplateProcessing":
        single = processor.get("single") or []
        first, last = (single[0], single[-1]) if single else ({}, {})
        ends = {}
        if "SpecialToken" in first:
            ends["cls"] = first["SpecialToken"]["id"]
        if "SpecialToken" in last:
            ends["sep"] = last["SpecialToken"]["id"]
        return ends
    return {}


class UnreadableTokenizer(DataError):
    """A ``tokenizer.json`` that does not parse: truncated, damaged, or another format."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(
            f"tokenizer file {str(path)!r} cannot be read ({reason}); it is damaged or not a tokenizer.json: "
            "point data.tokenizer.path at a valid one, or delete this file to train a new one in its place"
        )


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a ``tokenizer.json``; it must have padding, unknown, start, end and mask tokens
    (see :func:`special_ids`; a tokenizer without a post-processor gets start/end templates).

    Raises:
        FileNotFoundError: no such file.
        UnreadableTokenizer: a file that does not parse as a tokenizer (truncated, not
            JSON, another format), named with the parser's reason.
        DataError: a tokenizer without one of those tokens.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {str(path)!r} does not exist; set tokenizer.path to a tokenizer.json")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # the tokenizers library raises a bare Exception
        raise UnreadableTokenizer(path, str(error)) from None
    try:
        ids = special_ids(tokenizer)
    except DataError as error:
        raise DataError(f"tokenizer {str(path)!r}: {error}") from None
    if tokenizer.post_processor is None:
        add_templates(tokenizer, tokenizer.id_to_token(ids.cls), tokenizer.id_to_token(ids.sep))
    return tokenizer


def load_cached_tokenizer(path: Path) -> Tokenizer | None:
    """The tokenizer cached at ``path``; None when there is none, or when the file is
    unreadable (damaged, or from another version): that is logged with the path, and the
    caller trains a new one, which :func:`save_atomically` writes over it."""
    if not path.is_file():
        return None
    try:
        return load_tokenizer(path)
    except (OSError, ValueError) as error:  # UnreadableTokenizer is a ValueError too
        reason = error.reason if isinstance(error, UnreadableTokenizer) else str(error)
        log.warning("cached tokenizer %s is unusable (%s); training a new one in its place", path, reason)
        return None


def cache_key(spec: TokenizerSpec, corpus_ids: list[str]) -> str:
    """A content key: the settings plus an identifier of each training corpus (and of the
    training procedure: tokenizers cached before it was made reproducible are not reused)."""
    payload = json.dumps({"spec": asdict(spec) | {"path": None}, "corpora": corpus_ids, "training": 2}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def tokenizer_digest(tokenizer: Tokenizer) -> str:
    """The SHA-256 of the tokenizer's JSON with sorted keys: equal exactly when vocabulary,
    merges, normalizer, pre-tokenizer and templates are (however the file is formatted).
    This, not the training data (which may have changed since, or be gone), identifies the
    tokenizer a model was trained with."""
    canonical = json.dumps(json.loads(tokenizer.to_str()), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def save_atomically(tokenizer: Tokenizer, path: Path) -> None:
    """Write ``tokenizer.json`` so that a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tokenizer.save(str(tmp))
    os.replace(tmp, path)


def word_by_word(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of ``tokenizer`` for pre-split words (``is_pretokenized``) that encodes each
    word as it is encoded inside running text: byte-level BPE (RoBERTa) and SentencePiece's
    ``Metaspace`` (XLM-R, DeBERTa-v3) mark a word start by the space before it, which a
    pre-split word lacks; this copy adds it before every word (``add_prefix_space``,
    ``prepend_scheme: always``), as ``transformers`` asks for word-level tasks. Other
    tokenizers are returned as they are."""
    state = json.loads(tokenizer.to_str())
    spaced = _space_before_every_word(state.get("pre_tokenizer"))
    if spaced == state.get("pre_tokenizer"):
        return tokenizer
    state["pre_tokenizer"] = spaced
    return Tokenizer.from_str(json.dumps(state))


def _space_before_every_word(pre_tokenizer: dict | None) -> dict | None:
    if not pre_tokenizer:
        return pre_tokenizer
    kind = pre_tokenizer.get("type")
    if kind == "Sequence":
        return {**pre_tokenizer, "pretokenizers": [_space_before_every_word(p) for p in pre_tokenizer["pretokenizers"]]}
    if kind == "ByteLevel":
        return {**pre_tokenizer, "add_prefix_space": True}
    if kind == "Metaspace":
        return {**pre_tokenizer, "prepend_scheme": "always"}
    return pre_tokenizer
