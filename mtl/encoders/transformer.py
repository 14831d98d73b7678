"""Transformer encoder: self-attention blocks with pre or post layer norm."""

from __future__ import annotations

import math
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from mtl.contracts import SpecialIds
from mtl.encoders.activation import Activation, make_activation
from mtl.encoders.base import Encoder
from mtl.encoders.embedding import LearnedPositions, SinusoidalPositions, TokenEmbedding
from mtl.encoders.initialization import InitScheme, init_weights
from mtl.encoders.output import EncoderOutput


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection; padded keys are masked out.

    Args:
        dim: model size ``D``; must be divisible by ``num_heads``.
        num_heads: number of heads ``H``.
        dropout: dropout on the attention weights.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"attention: dim={dim} is not divisible by num_heads={num_heads}; pick dim a multiple of num_heads")
        self.num_heads = num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Attend from every position of ``x`` ``(B, T, D)`` to the real tokens of ``mask`` ``(B, T)``."""
        B, T, D = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.num_heads, D // self.num_heads)  # (B, T, 3, H, Dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, Dh)
        attn_mask = mask.view(B, 1, 1, T)  # (B, 1, 1, T): True = may attend
        dropout_p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)  # (B, H, T, Dh)
        y = y.transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        return self.out(y)


class TransformerBlock(nn.Module):
    """Self-attention and feed-forward sub-layers, each with a residual connection and a
    LayerNorm before (``pre``) or after (``post``) it.

    Args:
        dim: model size.
        num_heads: attention heads.
        ff_dim: feed-forward hidden size.
        dropout: dropout on attention weights, sub-layer outputs and the feed-forward hidden layer.
        activation: feed-forward activation.
        norm_position: ``pre`` or ``post``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ff_dim: int,
        dropout: float,
        activation: Activation,
        norm_position: Literal["pre", "post"],
    ) -> None:
        super().__init__()
        if norm_position not in ("pre", "post"):
            raise ValueError(f"TransformerBlock: norm_position={norm_position!r}; choose 'pre' or 'post'")
        self.pre_norm = norm_position == "pre"
        self.attention = MultiHeadSelfAttention(dim, num_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, ff_dim), make_activation(activation), nn.Dropout(dropout), nn.Linear(ff_dim, dim)
        )
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Map ``x`` ``(B, T, D)`` to ``(B, T, D)``."""
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.norm1(x), mask))
            return x + self.dropout(self.feed_forward(self.norm2(x)))
        x = self.norm1(x + self.dropout(self.attention(x, mask)))
        return self.norm2(x + self.dropout(self.feed_forward(x)))


class TransformerEmbeddings(nn.Module):
    """Token embeddings scaled by ``sqrt(dim)``, plus position encodings, then dropout.

    Args:
        vocab_size: number of token ids.
        dim: model size.
        positions: ``sinusoidal`` (fixed) or ``learned``.
        max_positions: longest sequence for learned positions (table size for sinusoidal).
        dropout: dropout on the sum.
        padding_idx: id of the padding token.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        positions: Literal["sinusoidal", "learned"],
        max_positions: int,
        dropout: float,
        padding_idx: int,
    ) -> None:
        super().__init__()
        self.scale = math.sqrt(dim)
        self.tokens = TokenEmbedding(vocab_size, dim, padding_idx, dropout=0.0)
        if positions == "sinusoidal":
            self.positions: nn.Module = SinusoidalPositions(dim, max_positions)
        elif positions == "learned":
            self.positions = LearnedPositions(dim, max_positions)
        else:
            raise ValueError(f"TransformerEncoder: positions={positions!r}; choose 'sinusoidal' or 'learned'")
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids: Tensor) -> Tensor:
        """Embed ``input_ids`` ``(B, T)`` into ``(B, T, D)``."""
        positions = self.positions(input_ids.shape[1])  # (T, D)
        x = self.tokens(input_ids) * self.scale + positions  # (B, T, D)
        return self.dropout(x)


class TransformerEncoder(Encoder):
    """A stack of self-attention blocks; ``pooled`` is the mean over real tokens or the
    first token's state.

    Args:
        vocab_size: number of token ids.
        dim: model size ``D`` (= ``out_dim``).
        num_layers: number of blocks.
        num_heads: attention heads; must divide ``dim``.
        ff_dim: feed-forward hidden size.
        dropout: dropout on embeddings, attention weights and sub-layer outputs.
        activation: feed-forward activation.
        norm_position: LayerNorm before (``pre``, plus a final LayerNorm) or after (``post``)
            each sub-layer's residual.
        positions: ``sinusoidal`` (fixed) or ``learned`` position encodings.
        max_positions: longest sequence supported by learned positions.
        pooling: ``mean`` over real tokens or ``first`` token.
        init: weight initialisation scheme (see ``init_weights``).
        padding_idx: id of the padding token; the model sets it from the data's tokenizer
            (:class:`~mtl.contracts.SpecialIds`), as it does ``vocab_size``.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        ff_dim: int = 512,
        dropout: float = 0.1,
        activation: Activation = "gelu",
        norm_position: Literal["pre", "post"] = "pre",
        positions: Literal["sinusoidal", "learned"] = "sinusoidal",
        max_positions: int = 512,
        pooling: Literal["mean", "first"] = "mean",
        init: InitScheme = "xavier",
        padding_idx: int = SpecialIds().pad,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f"TransformerEncoder: dim={dim} is not divisible by num_heads={num_heads}; pick dim a multiple of num_heads"
            )
        if pooling not in ("mean", "first"):
            raise ValueError(f"TransformerEncoder: pooling={pooling!r}; choose 'mean' or 'first'")
        if num_layers < 1:
            raise ValueError(f"TransformerEncoder: num_layers={num_layers} must be at least 1")
        self.out_dim = dim
        self.pooling = pooling
        self.max_length = max_positions if positions == "learned" else None  # sinusoidal: any length
        self.embeddings = TransformerEmbeddings(vocab_size, dim, positions, max_positions, dropout, padding_idx)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, ff_dim, dropout, activation, norm_position) for _ in range(num_layers)
        )
        self.final_norm: nn.Module = nn.LayerNorm(dim) if norm_position == "pre" else nn.Identity()
        init_weights(self, init, activation)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> EncoderOutput:
        """Encode a padded batch; see ``Encoder.forward``. Every row needs a real token."""
        mask = attention_mask.bool()
        x = self.embeddings(input_ids)  # (B, T, D)
        for block in self.blocks:
            x = block(x, mask)  # (B, T, D)
        x = self.final_norm(x)
        keep = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        hidden = x * keep  # (B, T, D), zero at padding
        if self.pooling == "mean":
            pooled = hidden.sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)  # (B, D)
        else:
            pooled = hidden[:, 0]  # (B, D)
        return EncoderOutput(hidden=hidden, pooled=pooled, mask=mask)

    def layer_groups(self) -> list[nn.Module]:
        """``[embeddings (tokens + positions), block_1, ..., block_N]``; the final LayerNorm
        (pre-LN only) is grouped with the last block."""
        top = nn.ModuleList([self.blocks[-1], self.final_norm])
        return [self.embeddings, *self.blocks[:-1], top]
