"""PretrainedEncoder on tiny random models of three families and on all-MiniLM-L6-v2: shapes,
padding, pooling, the model's pad id, segment ids, options and layer groups."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mtl.data.pretrained_tokenizer import pretrained_tokenizer
from mtl.data.tokenizer import special_ids
from mtl.encoders import PretrainedEncoder
from mtl.pretrained_files import PretrainedError

KINDS = ["bert", "roberta", "deberta"]


def _encoder(directory, **options) -> tuple[PretrainedEncoder, object]:
    tokenizer = pretrained_tokenizer(str(directory))
    encoder = PretrainedEncoder(tokenizer.get_vocab_size(), str(directory), padding_idx=special_ids(tokenizer).pad, **options)
    return encoder.eval(), tokenizer


def _batch(tokenizer, texts: list[str], extra_padding: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (the tokenizer's pad id) and mask, ``extra_padding`` columns more than needed."""
    pad = special_ids(tokenizer).pad
    rows = [e.ids for e in tokenizer.encode_batch(texts)]
    width = max(map(len, rows)) + extra_padding
    ids = torch.full((len(rows), width), pad)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for i, row in enumerate(rows):
        mask[i, : len(row)] = True
    return ids, mask


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_shapes_and_padding_do_not_change_outputs_at_real_tokens(tiny_pretrained, kind: str, pooling: str) -> None:
    encoder, tokenizer = _encoder(tiny_pretrained(kind), pooling=pooling)
    texts = ["the cat runs", "a big red dog sleeps quickly"]
    ids, mask = _batch(tokenizer, texts)
    padded_ids, padded_mask = _batch(tokenizer, texts, extra_padding=5)
    with torch.no_grad():
        out = encoder(ids, mask)
        padded = encoder(padded_ids, padded_mask)
    B, T = ids.shape
    assert out.hidden.shape == (B, T, encoder.out_dim) and out.pooled.shape == (B, encoder.out_dim)
    assert padded.hidden.shape == (B, T + 5, encoder.out_dim)
    torch.testing.assert_close(padded.hidden[:, :T], out.hidden, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(padded.pooled, out.pooled, atol=1e-5, rtol=1e-4)
    assert padded.hidden[~padded_mask].abs().max() == 0  # zero at padding
    if pooling == "first":
        torch.testing.assert_close(out.pooled, out.hidden[:, 0])
    else:
        n = mask.sum(1, keepdim=True)
        torch.testing.assert_close(out.pooled, out.hidden.sum(1) / n)


def test_pooler_is_the_models_own(tiny_pretrained) -> None:
    encoder, tokenizer = _encoder(tiny_pretrained("bert"), pooling="pooler")
    ids, mask = _batch(tokenizer, ["the cat runs", "a dog"])
    with torch.no_grad():
        out = encoder(ids, mask)
        expected = encoder.model(input_ids=ids, attention_mask=mask.long()).pooler_output
    torch.testing.assert_close(out.pooled, expected)
    with pytest.raises(ValueError, match="has no pooler"):
        _encoder(tiny_pretrained("deberta"), pooling="pooler")


def test_the_models_pad_id_is_required(tiny_pretrained) -> None:
    directory = tiny_pretrained("roberta")
    assert special_ids(pretrained_tokenizer(str(directory))).pad == 1  # RoBERTa pads with 1, not 0
    with pytest.raises(PretrainedError, match=r"the data pads with id 0 but .* pads with 1"):
        PretrainedEncoder(300, str(directory), padding_idx=0)


def test_segment_ids_reach_only_a_model_with_segment_embeddings(tiny_pretrained) -> None:
    bert, tokenizer = _encoder(tiny_pretrained("bert"))
    ids, mask = _batch(tokenizer, ["the cat runs"])
    types = torch.zeros_like(ids)
    types[:, 3:] = 1
    with torch.no_grad():
        assert not torch.allclose(bert(ids, mask, token_type_ids=types).hidden, bert(ids, mask).hidden)
    roberta, tokenizer = _encoder(tiny_pretrained("roberta"))  # type_vocab_size 1: segment ids 1 would not index
    ids, mask = _batch(tokenizer, ["the cat runs"])
    with torch.no_grad():
        torch.testing.assert_close(roberta(ids, mask, token_type_ids=torch.ones_like(ids)).hidden, roberta(ids, mask).hidden)


def test_options_dropout_and_gradient_checkpointing(tiny_pretrained) -> None:
    encoder, tokenizer = _encoder(tiny_pretrained("bert"), dropout=0.0, gradient_checkpointing=True)
    assert all(m.p == 0.0 for m in encoder.modules() if isinstance(m, torch.nn.Dropout))
    assert encoder.model.config.hidden_dropout_prob == 0.0 and encoder.model.config.attention_probs_dropout_prob == 0.0
    assert encoder.model.is_activation_checkpointing
    encoder.train()  # no dropout: training mode gives the same output, and gradients flow through checkpointing
    ids, mask = _batch(tokenizer, ["the cat runs", "a dog"])
    out = encoder(ids, mask)
    out.pooled.sum().backward()
    assert encoder.model.embeddings.word_embeddings.weight.grad is not None
    with torch.no_grad():
        torch.testing.assert_close(encoder.eval()(ids, mask).hidden, out.hidden.detach())


def test_dtype_bfloat16_weights_give_float32_outputs(tiny_pretrained) -> None:
    encoder, tokenizer = _encoder(tiny_pretrained("bert"), dtype="bfloat16", attn_implementation="eager")
    assert encoder.model.embeddings.word_embeddings.weight.dtype == torch.bfloat16
    ids, mask = _batch(tokenizer, ["the cat runs"])
    with torch.no_grad():
        out = encoder(ids, mask)
    assert out.hidden.dtype == torch.float32 and out.pooled.dtype == torch.float32


def test_loads_in_training_mode(tiny_pretrained) -> None:
    """from_pretrained returns a model in eval mode; Lightning keeps modules' modes, so the
    encoder must hand it over in training mode (dropout on)."""
    tokenizer = pretrained_tokenizer(str(tiny_pretrained("bert")))
    encoder = PretrainedEncoder(tokenizer.get_vocab_size(), str(tiny_pretrained("bert")), padding_idx=0)
    assert all(m.training for m in encoder.modules())


@pytest.mark.parametrize("kind", KINDS)
def test_layer_groups_are_embeddings_then_each_layer(tiny_pretrained, kind: str) -> None:
    encoder, _ = _encoder(tiny_pretrained(kind))
    groups = encoder.layer_groups()
    assert len(groups) == 1 + encoder.model.config.num_hidden_layers
    in_groups = [id(p) for g in groups for p in g.parameters()]
    assert sorted(in_groups) == sorted(id(p) for p in encoder.parameters())  # every parameter once
    embeddings = {id(p) for p in encoder.model.embeddings.parameters()}
    assert embeddings <= {id(p) for p in groups[0].parameters()}
    first_layer = encoder._layers()[1][0]
    assert {id(p) for p in first_layer.parameters()} == {id(p) for p in groups[1].parameters()}


def test_longer_input_than_the_model_reads_is_refused(tiny_pretrained) -> None:
    encoder, tokenizer = _encoder(tiny_pretrained("roberta"))
    assert encoder.max_length == 128  # 130 positions, counted from pad id 1 + 1
    ids = torch.full((1, 129), 5)
    with pytest.raises(ValueError, match="reads at most 128"):
        encoder(ids, torch.ones_like(ids, dtype=torch.bool))


def test_minilm_mean_pooled_sentences_rank_by_meaning(minilm: str) -> None:
    """The real all-MiniLM-L6-v2 weights: mean-pooled embeddings put a paraphrase nearer
    than an unrelated sentence (what the model was trained for)."""
    encoder, tokenizer = _encoder(minilm, pooling="mean")
    assert sum(p.numel() for p in encoder.parameters()) == 22_713_216
    ids, mask = _batch(
        tokenizer, ["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply today."]
    )
    with torch.no_grad():
        pooled = F.normalize(encoder(ids, mask).pooled, dim=-1)
    similar, unrelated = float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])
    assert similar > 0.5 > unrelated
