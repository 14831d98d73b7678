"""Encoders started from word vectors: found rows exact, unseen rows at the vectors'
scale, padding zero, frozen tables that never train, checkpoints that load without the
vectors, and the coverage of a tiny training text counted by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mtl.contracts import SpecialIds
from mtl.data import MultiTaskDataModule, Task, TokenizerSpec
from mtl.encoders import CNNEncoder, LSTMEncoder, WordVectors
from mtl.encoders.vector_files import VectorFileError
from mtl.encoders.word_vectors import vector_coverage
from mtl.transfer.layers import freeze_lower

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ENCODERS = {
    "lstm": lambda v, **kw: LSTMEncoder(v, embed_dim=3, hidden_dim=4, **kw),
    "cnn": lambda v, **kw: CNNEncoder(v, embed_dim=3, channels=4, kernel_sizes=[3], **kw),
}
GLOVE = {"the": [0.1, -0.2, 0.3], "cat": [1.5, 0.0, -2.25], "sat": [-1.0, 2.0, 0.125]}


def write_glove(path: Path, vectors: dict[str, list[float]]) -> str:
    path.write_text("".join(f"{w} {' '.join(str(x) for x in v)}\n" for w, v in vectors.items()))
    return str(path)


@pytest.mark.parametrize("kind", ENCODERS)
def test_found_rows_are_the_vectors_and_padding_is_zero(kind: str, tmp_path: Path) -> None:
    vocabulary = [*SPECIALS, "the", "dog", "cat"]
    encoder = ENCODERS[kind](len(vocabulary), word_vectors=WordVectors(write_glove(tmp_path / "g.txt", GLOVE)))
    rows = encoder.use_vocabulary(vocabulary)
    weight = encoder.embedding.embedding.weight
    assert rows.tolist() == [False] * 5 + [True, False, True]
    assert weight[5].tolist() == pytest.approx(GLOVE["the"]) and weight[7].tolist() == pytest.approx(GLOVE["cat"])
    assert weight[0].tolist() == [0.0, 0.0, 0.0]
    assert weight.requires_grad  # trainable unless frozen


def test_unseen_rows_are_drawn_at_the_vectors_scale(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(0)
    scale, shift = torch.tensor([0.5, 2.0, 0.1]), torch.tensor([1.0, -3.0, 0.0])
    table = shift + scale * torch.randn(400, 3, generator=generator)  # (400, 3)
    path = write_glove(tmp_path / "g.txt", {f"w{i}": row.tolist() for i, row in enumerate(table)})
    vocabulary = [*SPECIALS, "w0", *(f"unseen{i}" for i in range(4000))]
    torch.manual_seed(0)
    encoder = LSTMEncoder(len(vocabulary), embed_dim=3, hidden_dim=4, word_vectors=WordVectors(path))
    encoder.use_vocabulary(vocabulary)
    unseen = encoder.embedding.embedding.weight[6:].detach()  # (4000, 3)
    assert unseen.std(dim=0).tolist() == pytest.approx(table.std(dim=0, unbiased=False).tolist(), rel=0.05)
    assert unseen.mean(dim=0).tolist() == pytest.approx(table.mean(dim=0).tolist(), abs=0.1)


def test_vectors_of_another_size_than_embed_dim_are_refused(tmp_path: Path) -> None:
    encoder = LSTMEncoder(8, embed_dim=16, word_vectors=WordVectors(write_glove(tmp_path / "g.txt", GLOVE)))
    with pytest.raises(VectorFileError, match=r"LSTMEncoder: embed_dim=16, but the word vectors in '.*g.txt' have 3 dim"):
        encoder.use_vocabulary([*SPECIALS, "the", "cat", "dog"])


@pytest.mark.parametrize("kind", ENCODERS)
def test_frozen_vectors_get_no_gradient_and_survive_a_step(kind: str, tmp_path: Path) -> None:
    vocabulary = [*SPECIALS, "the", "cat", "sat"]
    spec = WordVectors(write_glove(tmp_path / "g.txt", GLOVE), freeze=True)
    encoder = ENCODERS[kind](len(vocabulary), word_vectors=spec)
    encoder.use_vocabulary(vocabulary)
    freeze_lower(encoder, 0)  # a transfer strategy letting every layer group train: the table stays frozen
    table = encoder.embedding.embedding.weight
    before = table.clone()
    assert all(p is not table for p in encoder.parameters())
    optimizer = torch.optim.SGD(encoder.parameters(), lr=1.0)
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    encoder(ids, torch.ones_like(ids, dtype=torch.bool)).pooled.sum().backward()
    optimizer.step()
    assert table.grad is None and torch.equal(encoder.embedding.embedding.weight, before)
    assert encoder.embedding.embedding.weight[6].tolist() == pytest.approx(GLOVE["cat"])
    trainable = ENCODERS[kind](len(vocabulary), word_vectors=WordVectors(spec.path))
    trainable.use_vocabulary(vocabulary)
    trainable(ids, torch.ones_like(ids, dtype=torch.bool)).pooled.sum().backward()
    assert trainable.embedding.embedding.weight.grad[6].abs().sum() > 0


def test_a_checkpoint_loads_without_reading_the_vectors(tmp_path: Path) -> None:
    """The state keeps the embedding under the same key, frozen or not; an encoder built
    from the config alone (no vocabulary given) loads it and never opens the file."""
    vocabulary = [*SPECIALS, "the", "cat", "sat"]
    path = write_glove(tmp_path / "g.txt", GLOVE)
    trained = LSTMEncoder(8, embed_dim=3, hidden_dim=4, word_vectors=WordVectors(path, freeze=True))
    trained.use_vocabulary(vocabulary)
    Path(path).unlink()
    loaded = LSTMEncoder(8, embed_dim=3, hidden_dim=4, word_vectors=WordVectors(path, freeze=True))
    loaded.load_state_dict(trained.state_dict())
    assert torch.equal(loaded.embedding.embedding.weight, trained.embedding.embedding.weight)
    assert "embedding.embedding.weight" in LSTMEncoder(8, embed_dim=3, hidden_dim=4).state_dict()


def test_coverage_of_a_tiny_training_text_counted_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training text 'The cat sat.' / 'the dog sat on the mat', a lower-case word tokenizer
    of 5 words, vectors for the, cat and sat."""
    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "cache"))
    rows = [{"text": "The cat sat.", "label": "a"}, {"text": "the dog sat on the mat", "label": "b"}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = {"path": "json", "data_files": {"train": str(tmp_path / "train.jsonl")}}
    task = Task(name="t", type="classification", source=source, splits={"train": "train"})
    # vocabulary: 5 specials + the (3), sat (2), then 1-count words alphabetically: '.', cat, dog (10 tokens in all)
    data = MultiTaskDataModule([task], tokenizer=TokenizerSpec(kind="word", vocab_size=10, min_frequency=1))
    assert data.vocabulary == [*SPECIALS, "the", "sat", ".", "cat", "dog"]
    counts = data.training_token_counts()
    # running words: the cat sat . the dog sat on the mat = 10; 'on' and 'mat' read as [UNK]
    assert counts.tolist() == [0, 2, 0, 0, 0, 3, 2, 1, 1, 1]
    encoder = LSTMEncoder(
        data.vocab_size, embed_dim=3, hidden_dim=4, word_vectors=WordVectors(write_glove(tmp_path / "g.txt", GLOVE))
    )
    coverage = vector_coverage(encoder.use_vocabulary(data.vocabulary), counts, data.special_ids)
    # types: the, sat, '.', cat, dog -> found the, sat, cat; tokens: the x3 + sat x2 + cat x1 = 6 of 10
    assert (coverage.found_types, coverage.types, coverage.found_tokens, coverage.tokens) == (3, 5, 6, 10)
    assert coverage.share == 0.6
    assert coverage.line() == "word vectors: found 3 of 5 word types, coverage 60.0% of training tokens (6 of 10)"
    assert vector_coverage(torch.zeros(10, dtype=torch.bool), counts, SpecialIds()).share == 0.0
