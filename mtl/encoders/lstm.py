"""Recurrent encoder: a stack of (bi-directional) LSTM layers over packed sequences."""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from mtl.contracts import SpecialIds
from mtl.encoders.base import Encoder
from mtl.encoders.embedding import TokenEmbedding
from mtl.encoders.initialization import InitScheme, init_weights
from mtl.encoders.output import EncoderOutput
from mtl.encoders.word_vectors import WordVectors


class LSTMEncoder(Encoder):
    """Stacked LSTM encoder over packed sequences, so padding never enters the recurrence.

    Batches must be right-padded (real tokens first) and every sequence must have at least
    one real token. ``hidden`` holds the top layer's states (zero at padding); ``pooled``
    concatenates the top layer's final forward state and final backward state.

    Args:
        vocab_size: number of token ids.
        embed_dim: token embedding size.
        hidden_dim: LSTM state size per direction.
        num_layers: number of stacked LSTM layers.
        bidirectional: run a backward LSTM too; ``out_dim`` doubles.
        dropout: dropout on the embeddings and between layers.
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
        hidden_dim: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.1,
        init: InitScheme = "xavier",
        padding_idx: int = SpecialIds().pad,
        word_vectors: WordVectors | None = None,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"LSTMEncoder: num_layers={num_layers} must be at least 1")
        directions = 2 if bidirectional else 1
        self.out_dim = hidden_dim * directions
        self.embedding = TokenEmbedding(vocab_size, embed_dim, padding_idx, dropout, word_vectors)
        # One single-layer LSTM per layer, so that layers can be frozen one by one.
        self.layers = nn.ModuleList(
            nn.LSTM(embed_dim if i == 0 else self.out_dim, hidden_dim, batch_first=True, bidirectional=bidirectional)
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)
        init_weights(self, init, activation="tanh")

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> EncoderOutput:
        """Encode a right-padded batch; see ``Encoder.forward``."""
        _, T = input_ids.shape
        if torch.compiler.is_exporting():  # an exported program has no packed sequences
            return self._forward_unpacked(self.embedding(input_ids), attention_mask)
        lengths = _lengths(attention_mask)  # (B,) on CPU
        x = self.embedding(input_ids)  # (B, T, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        final = None
        for i, lstm in enumerate(self.layers):
            if i > 0:
                packed = PackedSequence(
                    self.dropout(packed.data), packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
                )  # dropout on the (N_real, D) packed states
            packed, (final, _) = run_lstm(lstm, packed)  # final: (directions, B, H), in input order
        hidden, _ = pad_packed_sequence(packed, batch_first=True, total_length=T)  # (B, T, D), zero at padding
        pooled = torch.cat(list(final), dim=-1)  # (B, D): forward final state [, backward final state]
        return EncoderOutput(hidden=hidden, pooled=pooled, mask=attention_mask)

    def _forward_unpacked(self, x: Tensor, attention_mask: Tensor) -> EncoderOutput:
        """``forward`` without packing, for ``torch.export``: the same states at real
        tokens. Each direction runs as a one-directional LSTM over the padded batch; the
        backward one over each sequence reversed within its own length, so that padding
        comes after the real tokens in both and never reaches them."""
        mask = attention_mask.bool()  # (B, T)
        lengths = mask.sum(dim=1)  # (B,)
        positions = torch.arange(x.size(1), device=x.device)[None, :]  # (1, T)
        inside = positions < lengths[:, None]  # (B, T)
        reverse = torch.where(inside, lengths[:, None] - 1 - positions, positions)  # (B, T), its own inverse
        last = (lengths - 1).clamp(min=0)  # (B,)
        rows = torch.arange(x.size(0), device=x.device)  # (B,)
        finals: list[Tensor] = []
        for i, lstm in enumerate(self.layers):
            if i > 0:
                x = self.dropout(x)
            states = [_one_direction(lstm, x, "")]  # (B, T, H)
            if lstm.bidirectional:
                flipped = _one_direction(lstm, _gather_positions(x, reverse), "_reverse")  # (B, T, H)
                states.append(_gather_positions(flipped, reverse))
            finals = [states[0][rows, last]] + ([states[1][:, 0]] if lstm.bidirectional else [])  # each (B, H)
            x = torch.cat(states, dim=-1) * inside[..., None].to(x.dtype)  # (B, T, D), zero at padding
        return EncoderOutput(hidden=x, pooled=torch.cat(finals, dim=-1), mask=attention_mask)

    def use_vocabulary(self, vocabulary: list[str]) -> Tensor | None:
        """Start the embeddings from ``word_vectors`` (see ``Encoder.use_vocabulary``)."""
        return self.embedding.use_vocabulary(vocabulary, "LSTMEncoder")

    def layer_groups(self) -> list[nn.Module]:
        """``[embedding, lstm_layer_1, ..., lstm_layer_N]``."""
        return [self.embedding, *self.layers]


def run_lstm(
    lstm: nn.LSTM, inputs: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None
) -> tuple[Tensor | PackedSequence, tuple[Tensor, Tensor]]:
    """``lstm(inputs, hx)``, in the LSTM's own precision where CPU autocast would fail.

    Under CPU autocast (``trainer.precision: bf16-mixed`` or ``16-mixed``) an LSTM runs
    through oneDNN in the autocast dtype, which fails on CPUs without a kernel for it
    (bfloat16 without AVX-512, float16 on most CPUs): "could not create a primitive
    descriptor for the LSTM forward propagation primitive". There, and only there, the
    layer runs outside autocast with its inputs cast to its parameters' dtype (float32;
    an upcast, so exact): its result is that of float32 training.
    """
    if _autocast_lacks_lstm(inputs.data.device if isinstance(inputs, PackedSequence) else inputs.device):
        dtype = lstm.weight_ih_l0.dtype
        with torch.autocast("cpu", enabled=False):
            return lstm(inputs.to(dtype), None if hx is None else tuple(h.to(dtype) for h in hx))
    return lstm(inputs, hx)


def _one_direction(lstm: nn.LSTM, x: Tensor, suffix: str) -> Tensor:
    """The states ``(B, T, H)`` of one direction of the one-layer ``lstm`` (its weights
    ending in ``suffix``: ``""`` forward, ``"_reverse"`` backward) run forward over ``x``
    ``(B, T, E)`` from zero states."""
    weights = [getattr(lstm, f"{name}_l0{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    zeros = x.new_zeros(1, x.size(0), lstm.hidden_size)  # (1, B, H)
    out, _, _ = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, False, False, True)
    return out


def _gather_positions(x: Tensor, index: Tensor) -> Tensor:
    """``x[b, index[b, t]]`` for ``x`` ``(B, T, D)`` and ``index`` ``(B, T)``."""
    return x.gather(1, index[..., None].expand(-1, -1, x.size(-1)))


def _autocast_lacks_lstm(device: torch.device) -> bool:
    """True under CPU autocast to a dtype that this CPU's LSTM kernels do not take."""
    if device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return False
    return not _cpu_lstm_runs_in(torch.get_autocast_dtype("cpu"))


@functools.cache
def _cpu_lstm_runs_in(dtype: torch.dtype) -> bool:
    """Whether a CPU LSTM trains (forward and backward) under autocast to ``dtype``: tried
    once per process on a 1-unit LSTM (zero weights, no random draws)."""
    try:
        with torch.inference_mode(False), torch.enable_grad():  # also when first called in validation
            lstm = nn.utils.skip_init(nn.LSTM, 1, 1, batch_first=True)
            with torch.no_grad():
                for parameter in lstm.parameters():
                    parameter.zero_()
            x = torch.zeros(1, 2, 1, requires_grad=True)  # (B, T, E)
            with torch.autocast("cpu", dtype=dtype):
                out, _ = lstm(x)
            out.float().sum().backward()
    except RuntimeError:
        return False
    return True


def _lengths(attention_mask: Tensor) -> Tensor:
    """Sequence lengths ``(B,)`` on CPU, checking that the mask is right-padded and non-empty."""
    mask = attention_mask.bool().cpu()
    lengths = mask.sum(dim=1)  # (B,)
    if bool((lengths == 0).any()):
        rows = torch.nonzero(lengths == 0).flatten().tolist()
        raise ValueError(f"LSTMEncoder: rows {rows} of attention_mask have no real token; every sequence needs length >= 1")
    expected = torch.arange(mask.shape[1])[None, :] < lengths[:, None]  # (B, T)
    if not torch.equal(mask, expected):
        raise ValueError("LSTMEncoder: attention_mask must be right-padded (all real tokens before any padding)")
    return lengths
