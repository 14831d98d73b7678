"""Convolutional encoder: stacked layers of parallel multi-width 1-D convolutions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mtl.contracts import SpecialIds
from mtl.encoders.activation import Activation, make_activation
from mtl.encoders.base import Encoder
from mtl.encoders.embedding import TokenEmbedding
from mtl.encoders.initialization import InitScheme, init_weights
from mtl.encoders.normalization import Norm, make_norm
from mtl.encoders.output import EncoderOutput
from mtl.encoders.word_vectors import WordVectors


class ConvLayer(nn.Module):
    """Parallel same-padded convolutions of several odd widths, concatenated, then
    activation, masked norm, dropout and (when the sizes match) a residual connection.

    Args:
        in_dim: input feature size.
        channels: output channels per kernel width.
        kernel_sizes: odd kernel widths.
        activation: activation name.
        norm: normalisation kind.
        dropout: dropout probability.
    """

    def __init__(
        self, in_dim: int, channels: int, kernel_sizes: list[int], activation: Activation, norm: Norm, dropout: float
    ) -> None:
        super().__init__()
        self.out_dim = channels * len(kernel_sizes)
        self.convs = nn.ModuleList(nn.Conv1d(in_dim, channels, k, padding=k // 2) for k in kernel_sizes)
        self.activation = make_activation(activation)
        self.norm = make_norm(norm, self.out_dim)
        self.dropout = nn.Dropout(dropout)
        self.residual = in_dim == self.out_dim

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Map ``x`` ``(B, T, in_dim)`` to ``(B, T, out_dim)``; padding rows are zeroed first,
        so they look exactly like the convolution's own zero padding."""
        x = x * mask.unsqueeze(-1).to(x.dtype)  # (B, T, C_in), zero at padding
        xt = x.transpose(1, 2)  # (B, C_in, T)
        y = torch.cat([conv(xt) for conv in self.convs], dim=1).transpose(1, 2)  # (B, T, C_out)
        y = self.dropout(self.norm(self.activation(y), mask))  # (B, T, C_out)
        return y + x if self.residual else y


class CNNEncoder(Encoder):
    """Stacked multi-width convolutions; ``pooled`` is the max over real tokens.

    Outputs at real tokens do not depend on how much padding follows, because padding is
    zeroed before every convolution, exactly like the convolutions' own zero padding.

    Args:
        vocab_size: number of token ids.
        embed_dim: token embedding size.
        channels: output channels per kernel width.
        kernel_sizes: odd kernel widths of the parallel convolutions.
        num_layers: number of stacked convolution layers.
        activation: activation after the convolutions.
        norm: normalisation after the activation (``batch`` is masked).
        dropout: dropout on the embeddings and after every layer.
        init: weight initialisation scheme (see ``init_weights``).
        padding_idx: id of the padding token; the model sets it from the data's tokenizer
            (:class:`~mtl.contracts.SpecialIds`), as it does ``vocab_size``.
        word_vectors: start the token embeddings from pretrained word vectors (their
            size is ``embed_dim``; see :class:`~mtl.encoders.WordVectors`).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 128,
        channels: int = 128,
        kernel_sizes: list[int] = [3, 5],  # noqa: B006 (never mutated; a list keeps the CLI type simple)
        num_layers: int = 1,
        activation: Activation = "relu",
        norm: Norm = "none",
        dropout: float = 0.1,
        init: InitScheme = "kaiming",
        padding_idx: int = SpecialIds().pad,
        word_vectors: WordVectors | None = None,
    ) -> None:
        super().__init__()
        if not kernel_sizes:
            raise ValueError("CNNEncoder: kernel_sizes is empty; give at least one odd width, e.g. [3, 5]")
        even = [k for k in kernel_sizes if k % 2 == 0 or k < 1]
        if even:
            raise ValueError(
                f"CNNEncoder: kernel_sizes {list(kernel_sizes)} contain {even}; "
                "use positive odd widths so 'same' padding is symmetric"
            )
        if num_layers < 1:
            raise ValueError(f"CNNEncoder: num_layers={num_layers} must be at least 1")
        self.out_dim = channels * len(kernel_sizes)
        self.embedding = TokenEmbedding(vocab_size, embed_dim, padding_idx, dropout, word_vectors)
        self.layers = nn.ModuleList(
            ConvLayer(embed_dim if i == 0 else self.out_dim, channels, list(kernel_sizes), activation, norm, dropout)
            for i in range(num_layers)
        )
        init_weights(self, init, activation)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> EncoderOutput:
        """Encode a padded batch; see ``Encoder.forward``."""
        mask = attention_mask.bool()
        x = self.embedding(input_ids)  # (B, T, E)
        for layer in self.layers:
            x = layer(x, mask)  # (B, T, D)
        hidden = x * mask.unsqueeze(-1).to(x.dtype)  # (B, T, D), zero at padding
        pooled = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)  # (B, D)
        return EncoderOutput(hidden=hidden, pooled=pooled, mask=mask)

    def use_vocabulary(self, vocabulary: list[str]) -> Tensor | None:
        """Start the embeddings from ``word_vectors`` (see ``Encoder.use_vocabulary``)."""
        return self.embedding.use_vocabulary(vocabulary, "CNNEncoder")

    def layer_groups(self) -> list[nn.Module]:
        """``[embedding, conv_layer_1, ..., conv_layer_N]``."""
        return [self.embedding, *self.layers]
