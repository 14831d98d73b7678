"""Token embeddings shared by all encoders, and the transformer's position encodings."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mtl.encoders.word_vectors import WordVectors, freeze_embedding, load_word_vectors


class TokenEmbedding(nn.Module):
    """Token-id lookup followed by dropout.

    Args:
        vocab_size: number of token ids.
        dim: embedding size.
        padding_idx: id of the padding token; its row is zero and receives no gradient.
        dropout: dropout probability applied to the embeddings.
        word_vectors: pretrained vectors to start from (read by :meth:`use_vocabulary`);
            with ``freeze`` the table is a buffer from here on, so never trained.
    """

    def __init__(
        self, vocab_size: int, dim: int, padding_idx: int, dropout: float = 0.0, word_vectors: WordVectors | None = None
    ) -> None:
        super().__init__()
        if not 0 <= padding_idx < vocab_size:
            raise ValueError(f"TokenEmbedding: padding_idx={padding_idx} is outside the vocabulary [0, {vocab_size})")
        self.dim = dim
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
        self.dropout = nn.Dropout(dropout)
        self.word_vectors = word_vectors
        if word_vectors is not None and word_vectors.freeze:
            freeze_embedding(self.embedding)

    def forward(self, input_ids: Tensor) -> Tensor:
        """Embed ``input_ids`` ``(B, T)`` into ``(B, T, D)``."""
        return self.dropout(self.embedding(input_ids))  # (B, T, D)

    def use_vocabulary(self, vocabulary: list[str], owner: str) -> Tensor | None:
        """Start the rows from ``word_vectors`` (see :meth:`mtl.encoders.Encoder.use_vocabulary`)."""
        if self.word_vectors is None:
            return None
        return load_word_vectors(self.word_vectors, self.embedding, vocabulary, owner)


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """The fixed encodings of Vaswani et al. (2017), ``(length, dim)``.

    ``PE[p, 2i] = sin(p / 10000^(2i/dim))`` and ``PE[p, 2i+1] = cos(p / 10000^(2i/dim))``.
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(D/2),)
    angles = position * freq  # (L, ceil(D/2))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return table  # (L, D)


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position encodings.

    Args:
        dim: encoding size.
        max_positions: length of the precomputed table; longer inputs are computed on the fly.
    """

    def __init__(self, dim: int, max_positions: int = 512) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("table", sinusoidal_table(max_positions, dim), persistent=False)

    def forward(self, length: int) -> Tensor:
        """Encodings of positions ``0 .. length-1``, ``(T, D)``."""
        if length <= self.table.shape[0]:
            return self.table[:length]  # (T, D)
        return sinusoidal_table(length, self.dim).to(self.table.device)  # (T, D)


class LearnedPositions(nn.Module):
    """Trainable position embeddings for at most ``max_positions`` positions.

    Args:
        dim: embedding size.
        max_positions: the longest sequence supported.
    """

    def __init__(self, dim: int, max_positions: int = 512) -> None:
        super().__init__()
        self.max_positions = max_positions
        self.embedding = nn.Embedding(max_positions, dim)

    def forward(self, length: int) -> Tensor:
        """Embeddings of positions ``0 .. length-1``, ``(T, D)``."""
        if length > self.max_positions:
            raise ValueError(
                f"LearnedPositions: sequence length {length} exceeds max_positions={self.max_positions}; "
                "raise max_positions or truncate the inputs"
            )
        positions = torch.arange(length, device=self.embedding.weight.device)  # (T,)
        return self.embedding(positions)  # (T, D)
