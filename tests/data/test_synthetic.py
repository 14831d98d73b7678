"""The synthetic demo corpus: deterministic, and every label follows from the tokens."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mtl.data import synthetic
from mtl.data.source import infer_labels, load_task_splits
from mtl.data.task import Task


def test_same_seed_same_corpus() -> None:
    assert synthetic.generate_corpus(50, seed=3) == synthetic.generate_corpus(50, seed=3)
    assert synthetic.generate_corpus(50, seed=3) != synthetic.generate_corpus(50, seed=4)


def expected_sentiment(tokens: list[str]) -> str:
    """The rule, restated: per clause (split at and/but) sum polarities, flip if negated."""
    positive = set(synthetic.POSITIVE_ADJ + synthetic.POSITIVE_VERB + synthetic.POSITIVE_BARE)
    negative = set(synthetic.NEGATIVE_ADJ + synthetic.NEGATIVE_VERB + synthetic.NEGATIVE_BARE)
    clauses: list[list[str]] = [[]]
    for token in tokens:
        if token in ("and", "but"):
            clauses.append([])
        else:
            clauses[-1].append(token)
    total = 0
    for clause in clauses:
        score = sum(t in positive for t in clause) - sum(t in negative for t in clause)
        total += -score if {"not", "never"} & set(clause) else score
    return {1: "positive", -1: "negative", 0: "neutral"}[(total > 0) - (total < 0)]


def expected_topic(tokens: list[str], tags: list[str]) -> str:
    """The rule, restated: the most frequent noun topic, ties to the earliest noun's."""
    noun_topic = {noun: topic for topic, nouns in synthetic.TOPIC_NOUNS.items() for noun in nouns}
    topics = [noun_topic[w] for w, tag in zip(tokens, tags) if tag == "NOUN" and w in noun_topic]
    counts = Counter(topics)
    return next(t for t in topics if counts[t] == max(counts.values()))


def test_labels_follow_from_tokens() -> None:
    corpus = synthetic.generate_corpus(2000, seed=0)
    word_tags: dict[str, set[str]] = {}
    for example in corpus:
        tokens, tags = example["tokens"], example["tags"]
        assert example["text"] == " ".join(tokens)
        assert len(tags) == len(tokens) and tokens[-1] == "." and tags[-1] == "PUNCT"
        assert set(tags) <= set(synthetic.LABELS["tags"])
        assert example["sentiment"] == expected_sentiment(tokens)
        assert example["topic"] == expected_topic(tokens, tags)
        assert example["length_score"] == pytest.approx((len(tokens) - 1) / 10)
        for token, tag in zip(tokens, tags):
            word_tags.setdefault(token, set()).add(tag)
    ambiguous = {word for word, tags in word_tags.items() if len(tags) > 1}
    assert {"train", "watch", "play", "cook", "book", "that"} <= ambiguous
    assert 150 <= len(word_tags) <= 250
    # Labels are balanced enough to learn and not constant.
    for field, minimum in (("sentiment", 0.15), ("topic", 0.1)):
        values = [example[field] for example in corpus]
        assert min(values.count(v) for v in synthetic.LABELS[field]) / len(values) > minimum


def test_write_corpus_loads_as_tasks(tmp_path: Path) -> None:
    data_files = synthetic.write_corpus(tmp_path / "synthetic", train=40, validation=10, test=10, seed=1)
    assert sorted(data_files) == ["test", "train", "validation"]
    lines = Path(data_files["train"]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == synthetic.generate_corpus(60, seed=1)[:40]
    source = {"path": "json", "data_files": data_files}
    roles = {"train": "train", "validation": "validation", "test": "test"}
    sentiment = Task(
        name="sentiment", type="classification", source=source, label="sentiment",
        labels=list(synthetic.LABELS["sentiment"]), splits=roles,
    )  # fmt: skip
    tags = Task(name="tags", type="tagging", source=source, text="tokens", label="tags", splits=roles)
    length = Task(name="length", type="regression", source=source, label="length_score", splits=roles)
    sizes = {role: len(ds) for role, ds in load_task_splits(sentiment).items()}
    assert sizes == {"train": 40, "validation": 10, "test": 10}
    assert set(infer_labels(tags, load_task_splits(tags)["train"])) <= set(synthetic.LABELS["tags"])
    assert len(load_task_splits(length)["test"]) == 10


def test_synthetic_source_mirrors_the_demo() -> None:
    source = {"path": "synthetic", "train": 60, "validation": 20, "test": 20, "seed": 0}
    roles = {"train": "train", "validation": "validation", "test": "test"}
    topic = Task(name="topic", type="classification", source=source, label="topic", splits=roles)
    loaded = load_task_splits(topic)
    assert {role: len(ds) for role, ds in loaded.items()} == {"train": 60, "validation": 20, "test": 20}
    assert loaded["validation"].to_list() == synthetic.generate_corpus(100, seed=0)[60:80]
    assert load_task_splits(topic)["train"]._fingerprint == loaded["train"]._fingerprint  # cached
    assert infer_labels(topic, loaded["train"]) == sorted(synthetic.LABELS["topic"])
    no_test = synthetic.load_synthetic(train=5, validation=5, test=0)
    assert sorted(no_test) == ["train", "validation"]
