"""A SYNTHETIC multi-task corpus for the offline demo and tests — not real language data.

Sentences are drawn from a small template grammar over a fixed vocabulary of about 200
English words with ``random.Random(seed)``, so a seed always gives the same corpus. Every
label is a deterministic function of the tokens, so the tasks share structure:

- ``tags``: one coarse part-of-speech tag per word (``DET ADJ NOUN VERB AUX ADV ADP PRON
  PART CONJ PUNCT``), the grammar slot the word was drawn for. A few words are ambiguous
  (``train``, ``watch``, ``play``, ``cook``, ``book`` are NOUN or VERB; ``that`` is DET or
  PRON), so tagging needs context.
- ``sentiment``: ``positive`` / ``negative`` / ``neutral``. Clauses are separated by the
  conjunctions ``and`` / ``but``; a clause scores +1 per positive word and -1 per negative
  word in :data:`POLARITY`, times -1 when it contains a negation (``not`` / ``never``). The
  sentence is positive when the clause scores sum above 0, negative below 0, neutral at 0.
- ``topic``: ``sports`` / ``food`` / ``tech`` / ``music`` / ``travel``: the topic with
  the most words of :data:`TOPIC_NOUNS` tagged NOUN in the sentence (``play`` as a verb
  does not count); a tie goes to the topic of the earliest such noun. One noun phrase in
  five is drawn from another topic than the sentence's, so ties and distractors occur.
- ``length_score``: the number of words before the final full stop, divided by 10 (a
  regression target).

Each example also has ``text``, the tokens joined by single spaces. Tasks read the corpus
with ``source: {path: synthetic, train: 4000, validation: 500, test: 500, seed: 0}``
(:func:`load_synthetic`), or from the JSON-lines files of :func:`write_corpus`.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator

import datasets

#: Nouns of each topic; ``topic`` counts these.
TOPIC_NOUNS: dict[str, tuple[str, ...]] = {
    "sports": ("team", "match", "goal", "coach", "player", "stadium", "season", "league", "referee", "ball", "play"),
    "food": ("soup", "bread", "chef", "restaurant", "dessert", "pasta", "salad", "menu", "cheese", "coffee", "cook"),
    "tech": ("phone", "laptop", "software", "screen", "battery", "app", "computer", "keyboard", "robot", "watch"),
    "music": ("song", "album", "band", "guitar", "concert", "singer", "drummer", "melody", "piano", "chorus"),
    "travel": ("hotel", "flight", "beach", "train", "museum", "island", "trip", "city", "airport", "book"),
}

POSITIVE_ADJ = ("good", "great", "wonderful", "excellent", "lovely", "brilliant", "pleasant", "superb", "fantastic")
NEGATIVE_ADJ = ("bad", "terrible", "awful", "poor", "boring", "horrible", "dreadful", "weak", "disappointing")
NEUTRAL_ADJ = ("red", "small", "large", "old", "new", "long", "short", "green", "quiet", "young", "heavy", "cheap")
POSITIVE_VERB = ("loved", "enjoyed", "liked", "praised", "admired", "recommended")
NEGATIVE_VERB = ("hated", "disliked", "ruined", "despised", "criticized", "regretted")
NEUTRAL_VERB = (
    "saw", "bought", "watched", "visited", "found", "described", "mentioned", "discussed", "tried", "cooked",
)  # fmt: skip
#: Bare verbs that follow ``will`` / ``did`` / ...; the first five neutral ones double as nouns.
POSITIVE_BARE = ("love", "enjoy", "like", "praise")
NEGATIVE_BARE = ("hate", "dislike", "ruin", "criticize")
NEUTRAL_BARE = ("train", "watch", "play", "cook", "book", "see", "buy", "visit", "try", "discuss")

#: Word -> polarity (+1 / -1) for the ``sentiment`` rule; every other word counts 0.
POLARITY: dict[str, int] = {
    **{w: 1 for w in POSITIVE_ADJ + POSITIVE_VERB + POSITIVE_BARE},
    **{w: -1 for w in NEGATIVE_ADJ + NEGATIVE_VERB + NEGATIVE_BARE},
}
NEGATIONS = ("not", "never")
CONJUNCTIONS = ("and", "but")

DETERMINERS = ("the", "a", "this", "that", "every", "some", "my", "our", "their", "his", "her")
PRONOUNS = ("i", "we", "they", "she", "he", "you", "someone", "everyone")
INTENSIFIERS = ("very", "really", "quite", "truly", "rather", "fairly", "extremely", "so")
TIME_ADVERBS = ("yesterday", "today", "again", "often", "recently", "finally", "later", "once")
PREPOSITIONS = ("in", "on", "with", "near", "after", "before", "at", "from", "about", "during")
AUXILIARIES = ("is", "was", "seems", "looked", "felt", "remains")
FUTURE_AUX = ("will", "did", "would", "could", "should")

LABELS: dict[str, tuple[str, ...]] = {
    "tags": ("ADJ", "ADP", "ADV", "AUX", "CONJ", "DET", "NOUN", "PART", "PRON", "PUNCT", "VERB"),
    "sentiment": ("negative", "neutral", "positive"),
    "topic": tuple(TOPIC_NOUNS),
}

#: The columns of each example.
FEATURES = datasets.Features(
    {
        "tokens": datasets.Sequence(datasets.Value("string")),
        "text": datasets.Value("string"),
        "tags": datasets.Sequence(datasets.Value("string")),
        "sentiment": datasets.Value("string"),
        "topic": datasets.Value("string"),
        "length_score": datasets.Value("float64"),
    }
)

_NOUN_TOPIC = {noun: topic for topic, nouns in TOPIC_NOUNS.items() for noun in nouns}


def generate_corpus(num_sentences: int, seed: int) -> list[dict]:
    """Generate synthetic labelled sentences.

    Args:
        num_sentences: how many examples.
        seed: seed of the ``random.Random`` that draws them; equal seeds give equal corpora.

    Returns:
        Dicts with ``tokens``, ``text``, ``tags``, ``sentiment``, ``topic`` and
        ``length_score`` (see the module docstring for their meaning).
    """
    rng = random.Random(seed)
    return [_example(_sentence(rng)) for _ in range(num_sentences)]


def write_corpus(
    directory: str | os.PathLike[str], train: int = 4000, validation: int = 500, test: int = 500, seed: int = 0
) -> dict[str, str]:
    """Write a synthetic corpus as JSON-lines files ``{train,validation,test}.jsonl``.

    Args:
        directory: where to write (created if missing).
        train: training examples.
        validation: validation examples.
        test: test examples.
        seed: generator seed; the three splits are consecutive slices of one draw.

    Returns:
        Split name -> file path, ready for ``source: {path: json, data_files: ...}``.
    """
    os.makedirs(directory, exist_ok=True)
    examples = generate_corpus(train + validation + test, seed)
    sizes = {"train": train, "validation": validation, "test": test}
    data_files, start = {}, 0
    for split, size in sizes.items():
        path = os.path.join(os.fspath(directory), f"{split}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for example in examples[start : start + size]:
                f.write(json.dumps(example, ensure_ascii=False) + "\n")
        data_files[split] = path
        start += size
    return data_files


def load_synthetic(train: int = 4000, validation: int = 500, test: int = 500, seed: int = 0) -> datasets.DatasetDict:
    """The corpus of :func:`write_corpus` as a ``DatasetDict``, cached by ``datasets``.

    A task reads it with ``source: {path: synthetic, train: 4000, validation: 500, test: 500,
    seed: 0}`` (see :func:`mtl.data.source.load_task_splits`).

    Args:
        train: training examples.
        validation: validation examples.
        test: test examples.
        seed: generator seed; the three splits are consecutive slices of one draw.

    Returns:
        Splits ``train``, ``validation`` and ``test`` (those of size > 0) with the columns
        of :data:`FEATURES`.
    """
    total, start, splits = train + validation + test, 0, {}
    for split, size in {"train": train, "validation": validation, "test": test}.items():
        if size == 0:
            continue
        splits[split] = datasets.Dataset.from_generator(
            _rows,
            features=FEATURES,
            gen_kwargs={"total": total, "seed": seed, "start": start, "stop": start + size},
            split=datasets.NamedSplit(split),
        )
        start += size
    return datasets.DatasetDict(splits)


def sentiment_of(tokens: list[str]) -> str:
    """The ``sentiment`` label of a token list (the rule of the module docstring)."""
    total, clause, negated = 0, 0, False
    for token in [*tokens, "and"]:
        if token in CONJUNCTIONS:
            total += -clause if negated else clause
            clause, negated = 0, False
        elif token in NEGATIONS:
            negated = True
        else:
            clause += POLARITY.get(token, 0)
    return "positive" if total > 0 else "negative" if total < 0 else "neutral"


def topic_of(tokens: list[str], tags: list[str]) -> str:
    """The ``topic`` label: the topic with most nouns, ties to the earliest noun's topic."""
    counts: dict[str, int] = {}
    for token, tag in zip(tokens, tags):
        if tag == "NOUN" and token in _NOUN_TOPIC:
            topic = _NOUN_TOPIC[token]
            counts[topic] = counts.get(topic, 0) + 1
    best = max(counts.values())
    return next(t for t in counts if counts[t] == best)  # dicts keep first-seen order


def _rows(total: int, seed: int, start: int, stop: int) -> Iterator[dict]:
    """Generator for ``Dataset.from_generator``: examples ``start:stop`` of one draw."""
    yield from generate_corpus(total, seed)[start:stop]


def _example(words: list[tuple[str, str]]) -> dict:
    tokens = [w for w, _ in words]
    tags = [t for _, t in words]
    return {
        "tokens": tokens,
        "text": " ".join(tokens),
        "tags": tags,
        "sentiment": sentiment_of(tokens),
        "topic": topic_of(tokens, tags),
        "length_score": round((len(tokens) - 1) / 10, 2),
    }


def _sentence(rng: random.Random) -> list[tuple[str, str]]:
    """Words with their tags: one to three clauses, then a full stop."""
    topic = rng.choice(list(TOPIC_NOUNS))
    words = _clause(rng, topic)
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        words += [(rng.choice(CONJUNCTIONS), "CONJ")] + _clause(rng, topic)
    return words + [(".", "PUNCT")]


def _clause(rng: random.Random, topic: str) -> list[tuple[str, str]]:
    kind = rng.random()
    if kind < 0.4:  # the soup was (not) (very) good (with the chef)
        words = _noun_phrase(rng, topic) + [(rng.choice(AUXILIARIES), "AUX")]
        if rng.random() < 0.3:
            words.append(("not", "PART"))
        if rng.random() < 0.4:
            words.append((rng.choice(INTENSIFIERS), "ADV"))
        words.append((rng.choice(_by_polarity(rng, POSITIVE_ADJ, NEGATIVE_ADJ, NEUTRAL_ADJ)), "ADJ"))
    elif kind < 0.75:  # they (never) loved the soup
        words = _subject(rng, topic)
        if rng.random() < 0.25:
            words.append(("never", "PART"))
        verbs = _by_polarity(rng, POSITIVE_VERB, NEGATIVE_VERB, NEUTRAL_VERB)
        words += [(rng.choice(verbs), "VERB")] + _noun_phrase(rng, topic)
    else:  # we did (not) train the team / that will (not) cook
        words = _subject(rng, topic) + [(rng.choice(FUTURE_AUX), "AUX")]
        if rng.random() < 0.3:
            words.append(("not", "PART"))
        words += [(rng.choice(_by_polarity(rng, POSITIVE_BARE, NEGATIVE_BARE, NEUTRAL_BARE)), "VERB")]
        words += _noun_phrase(rng, topic)
    if rng.random() < 0.3:
        words += [(rng.choice(PREPOSITIONS), "ADP")] + _noun_phrase(rng, topic)
    if rng.random() < 0.2:
        words.append((rng.choice(TIME_ADVERBS), "ADV"))
    return words


def _subject(rng: random.Random, topic: str) -> list[tuple[str, str]]:
    if rng.random() < 0.5:
        return [(rng.choice(PRONOUNS + ("that",)), "PRON")]
    return _noun_phrase(rng, topic)


def _noun_phrase(rng: random.Random, topic: str) -> list[tuple[str, str]]:
    """Determiner, up to two adjectives, a noun; one noun in five from another topic."""
    words = [(rng.choice(DETERMINERS), "DET")]
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        words.append((rng.choice(_by_polarity(rng, POSITIVE_ADJ, NEGATIVE_ADJ, NEUTRAL_ADJ, neutral=0.6)), "ADJ"))
    if rng.random() < 0.2:
        topic = rng.choice(list(TOPIC_NOUNS))
    return words + [(rng.choice(TOPIC_NOUNS[topic]), "NOUN")]


def _by_polarity(
    rng: random.Random,
    positive: tuple[str, ...],
    negative: tuple[str, ...],
    neutral_words: tuple[str, ...],
    neutral: float = 0.2,
) -> tuple[str, ...]:
    """One of the three word lists: neutral with probability ``neutral``, else +/- evenly."""
    r = rng.random()
    if r < neutral:
        return neutral_words
    return positive if r < neutral + (1 - neutral) / 2 else negative
