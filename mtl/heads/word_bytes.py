"""A word's spelling as features: a CNN over the UTF-8 bytes of each word.

Tagging data carries ``word_bytes``: at the first sub-word of every word, the word's
bytes (+1, so 0 is padding: ``NO_BYTE``), its first ``WORD_BYTES_HEAD`` and last ``WORD_BYTES_TAIL``
bytes when it is longer (see :mod:`mtl.data.encoding`). Suffixes, capitals, digits and
hyphens tell a word's part of speech even when the word itself was never seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mtl.contracts import NO_BYTE

NUM_BYTES = 257  # 256 byte values + padding (NO_BYTE)


class WordBytesCNN(nn.Module):
    """Byte embeddings, one convolution per kernel width, max over the word's bytes.

    Args:
        dim: output features per word; split evenly over ``kernel_sizes``.
        byte_dim: size of a byte embedding.
        kernel_sizes: widths of the byte n-gram filters.
    """

    def __init__(self, dim: int, byte_dim: int = 32, kernel_sizes: Sequence[int] = (2, 3, 4)) -> None:
        super().__init__()
        if dim < len(kernel_sizes) or dim % len(kernel_sizes):
            raise ValueError(
                f"WordBytesCNN: dim {dim} must be a positive multiple of the number of kernel sizes "
                f"({len(kernel_sizes)}: {list(kernel_sizes)})"
            )
        self.dim = dim
        self.embedding = nn.Embedding(NUM_BYTES, byte_dim, padding_idx=NO_BYTE)
        per_kernel = dim // len(kernel_sizes)
        self.convs = nn.ModuleList(nn.Conv1d(byte_dim, per_kernel, k, padding=k - 1) for k in kernel_sizes)

    def forward(self, word_bytes: Tensor) -> Tensor:
        """``(B, T, C)`` byte ids (``NO_BYTE`` = padding) -> ``(B, T, dim)``; zeros where a position
        holds no word (later sub-words, special tokens, padding)."""
        b, t, c = word_bytes.shape
        flat = word_bytes.reshape(b * t, c)  # (N, C)
        x = self.embedding(flat).transpose(1, 2)  # (N, E, C)
        features = [torch.relu(conv(x)).amax(dim=-1) for conv in self.convs]  # each (N, dim / K)
        out = torch.cat(features, dim=-1)  # (N, dim)
        has_word = (flat != NO_BYTE).any(dim=-1, keepdim=True)  # (N, 1)
        return (out * has_word).reshape(b, t, self.dim)  # (B, T, dim)
