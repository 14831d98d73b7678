"""The interface every encoder implements."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from mtl.contracts import TaskBatch
from mtl.encoders.embedding import TokenEmbedding
from mtl.encoders.output import EncoderOutput


class Encoder(nn.Module):
    """Maps token ids to contextual states.

    Subclasses take ``vocab_size`` as their first constructor argument and the keyword
    ``padding_idx`` (the tokenizer's pad id, :class:`~mtl.contracts.SpecialIds`): the model
    supplies both from the data, so configs never repeat them. They set ``out_dim``, the
    size ``D`` of both ``hidden`` and ``pooled``.
    """

    out_dim: int
    #: ``forward`` also takes ``token_type_ids`` ``(B, T)`` (a pretrained model's segment
    #: embeddings); see :func:`encode_batch`.
    reads_token_types: ClassVar[bool] = False
    #: its weights come trained from elsewhere at construction (a transfer needs no
    #: checkpoint to start from it)
    pretrained: ClassVar[bool] = False
    #: the longest input it reads, in tokens; ``None``: any length (``mtl predict`` reads
    #: whole inputs up to this).
    max_length: int | None = None

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> EncoderOutput:
        """Encode a padded batch.

        Args:
            input_ids: ``(B, T)`` long token ids.
            attention_mask: ``(B, T)`` bool, True at real tokens. Outputs at real tokens
                must not depend on how much padding follows them.
        """
        raise NotImplementedError

    def use_vocabulary(self, vocabulary: list[str]) -> Tensor | None:
        """Called once by :meth:`mtl.model.MultiTaskModel.build` with the tokenizer's tokens
        by id when a model is trained anew (not when one is loaded from a checkpoint, whose
        weights replace these): encoders that start their embeddings from pretrained word
        vectors (``word_vectors``) read them here.

        Returns:
            The embedding rows set from a vector, ``(V,)`` bool; None without word vectors
            (the default).
        """
        return None

    def token_embedding(self) -> nn.Embedding | None:
        """The table its token ids are looked up in (the gradient step takes per-task
        gradients of the rows a batch looks up, not of the whole table); the first
        :class:`~mtl.encoders.embedding.TokenEmbedding`'s by default."""
        return next((m.embedding for m in self.modules() if isinstance(m, TokenEmbedding)), None)

    def layer_groups(self) -> list[nn.Module]:
        """The encoder's parts from the input upwards: embeddings first, then one entry
        per stacked layer. Transfer strategies freeze or unfreeze these by index."""
        raise NotImplementedError


def encode_batch(encoder: Encoder, batch: TaskBatch) -> EncoderOutput:
    """``encoder``'s output for one batch: ids and mask, and the segment ids to an encoder
    that reads them."""
    if encoder.reads_token_types:
        return encoder(batch["input_ids"], batch["attention_mask"], token_type_ids=batch["token_type_ids"])
    return encoder(batch["input_ids"], batch["attention_mask"])
