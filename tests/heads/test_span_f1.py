"""SpanF1 and entity_spans: seqeval strict-mode entity scoring, by hand and against seqeval."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from mtl.contracts import IGNORE_INDEX
from mtl.data.conllu import read_conllu
from mtl.heads import TaggingHead
from mtl.heads.span_f1 import SpanF1, entity_spans, span_scheme

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),  # entity at sentence end
        (["B-PER", "I-PER", "I-PER"], [(0, 3, "PER")]),
        (["I-PER", "I-PER", "O"], []),  # I- without B- starts nothing
        (["O", "I-PER", "B-PER", "I-PER"], [(2, 4, "PER")]),
        (["B-PER", "I-LOC", "I-LOC", "B-ORG", "B-ORG"], [(0, 1, "PER"), (3, 4, "ORG"), (4, 5, "ORG")]),  # type change
        ([], []),
    ],
)
def test_bio_spans_by_hand(tags: list[str], spans: list[tuple[int, int, str]]) -> None:
    assert entity_spans(tags, "BIO") == spans


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"], [(0, 1, "PER"), (2, 5, "LOC")]),  # entity at sentence end
        (["B-PER", "E-PER", "E-PER"], [(0, 2, "PER")]),
        (["B-PER", "E-LOC"], []),  # B-X E-Y is no entity
        (["B-PER"], []),  # lone B at the end
        (["B-PER", "O", "S-LOC"], [(2, 3, "LOC")]),  # lone B before O
        (["B-PER", "B-PER", "E-PER"], [(1, 3, "PER")]),
        (["B-PER", "I-PER", "S-PER"], [(2, 3, "PER")]),
        (["I-PER", "E-PER", "S-LOC"], [(2, 3, "LOC")]),  # I-/E- without B- start nothing
    ],
)
def test_bioes_spans_by_hand(tags: list[str], spans: list[tuple[int, int, str]]) -> None:
    assert entity_spans(tags, "BIOES") == spans


def test_scores_of_a_bio_batch_by_hand() -> None:
    # Row 1 words (positions 1-4): gold B-PER I-PER O B-LOC  -> PER(0,2) LOC(3,4)
    #                              pred B-PER I-PER O B-PER  -> PER(0,2) PER(3,4)   tp 1, fp 1, fn 1
    # Row 2 words (positions 1, 3, 4): gold B-LOC I-LOC O    -> LOC(0,2)
    #                                  pred B-LOC O B-PER    -> LOC(0,1) PER(2,3)   tp 0, fp 2, fn 1
    # (position 2 of row 2 is an unlabelled sub-word: its predicted B-PER is no word.)
    # Total tp 1, fp 3, fn 2: precision 1/4, recall 1/3, F1 2 * (1/12) / (7/12) = 2/7.
    target = torch.tensor([[-100, 1, 2, 0, 3, -100], [-100, 3, -100, 4, 0, -100]])
    preds = torch.tensor([[4, 1, 2, 0, 1, 3], [0, 3, 1, 0, 1, 2]])
    expected = {"precision": 1 / 4, "recall": 1 / 3, "f1": 2 / 7}
    for value, number in expected.items():
        metric = SpanF1(BIO, value=value)
        metric.update(preds[:1], target[:1])  # two updates add up
        metric.update(preds[1:], target[1:])
        assert (metric.tp.item(), metric.fp.item(), metric.fn.item()) == (1, 3, 2)
        assert metric.compute().item() == pytest.approx(number, rel=1e-6)


def test_scores_of_a_bioes_batch_by_hand() -> None:
    # gold B-PER I-PER E-PER O S-PER -> PER(0,3) PER(4,5)
    # pred B-PER I-PER I-PER O S-PER -> PER(4,5): the unclosed B-PER is none.   tp 1, fp 0, fn 1
    # precision 1, recall 1/2, F1 2/3.
    target = torch.tensor([[1, 2, 3, 0, 4]])
    preds = torch.tensor([[1, 2, 2, 0, 4]])
    assert SpanF1(BIOES).scheme == "BIOES"  # auto: E-/S- labels
    for value, number in {"precision": 1.0, "recall": 0.5, "f1": 2 / 3}.items():
        metric = SpanF1(BIOES, value=value)
        metric.update(preds, target)
        assert metric.compute().item() == pytest.approx(number, rel=1e-6)


def test_no_entities_scores_zero() -> None:
    metric = SpanF1(BIO)
    metric.update(torch.zeros(2, 3, dtype=torch.long), torch.tensor([[0, 0, -100], [-100, -100, -100]]))
    assert metric.compute().item() == 0.0
    assert SpanF1.higher_is_better is True


def _seqeval(gold: list[list[str]], pred: list[list[str]], scheme: str) -> dict[str, float]:
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    seqeval_scheme = pytest.importorskip("seqeval.scheme")
    kwargs = {"mode": "strict", "scheme": {"BIO": seqeval_scheme.IOB2, "BIOES": seqeval_scheme.IOBES}[scheme]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns when a score's denominator is 0
        return {
            "f1": seqeval_metrics.f1_score(gold, pred, **kwargs),
            "precision": seqeval_metrics.precision_score(gold, pred, **kwargs),
            "recall": seqeval_metrics.recall_score(gold, pred, **kwargs),
        }


def _batch(
    gold: list[list[str]], pred: list[list[str]], labels: list[str], rng: random.Random
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, T)`` preds and target as a tagging head sees them: a leading special token and
    some unlabelled sub-words (random predictions there), padding at the end."""
    index = {tag: i for i, tag in enumerate(labels)}
    rows_p, rows_t = [], []
    for gold_tags, pred_tags in zip(gold, pred):
        row_p, row_t = [rng.randrange(len(labels))], [IGNORE_INDEX]
        for g, p in zip(gold_tags, pred_tags):
            row_p.append(index[p])
            row_t.append(index[g])
            for _ in range(rng.choice([0, 0, 0, 1, 2])):  # the word's other sub-words
                row_p.append(rng.randrange(len(labels)))
                row_t.append(IGNORE_INDEX)
        rows_p.append(row_p)
        rows_t.append(row_t)
    width = max(len(r) for r in rows_t) + 1
    preds = torch.tensor([r + [0] * (width - len(r)) for r in rows_p])  # (B, T)
    target = torch.tensor([r + [IGNORE_INDEX] * (width - len(r)) for r in rows_t])  # (B, T)
    return preds, target


def _span_scores(batches: list[tuple[torch.Tensor, torch.Tensor]], labels: list[str]) -> dict[str, float]:
    out = {}
    for value in ("f1", "precision", "recall"):
        metric = SpanF1(labels, value=value)
        for preds, target in batches:
            metric.update(preds, target)
        out[value] = metric.compute().item()
    return out


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_equals_seqeval_strict_on_random_sequences(scheme: str) -> None:
    tokens_mod = pytest.importorskip("seqeval.scheme")
    seqeval_scheme = {"BIO": tokens_mod.IOB2, "BIOES": tokens_mod.IOBES}[scheme]
    prefixes = "BI" if scheme == "BIO" else "BIES"
    labels = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC") for p in prefixes]
    rng = random.Random(0)
    for trial in range(60):
        n = rng.randint(1, 8)
        gold = [[rng.choice(labels) for _ in range(rng.randint(1, 12))] for _ in range(n)]
        pred = [[rng.choice(labels) if rng.random() < 0.5 else g for g in row] for row in gold]
        for tags in gold + pred:  # the spans themselves, as seqeval extracts them
            expected = [(e.start, e.end, e.tag) for e in tokens_mod.Tokens(tags, seqeval_scheme).entities]
            assert entity_spans(tags, scheme) == expected, tags
        got = _span_scores([_batch(gold, pred, labels, rng)], labels)
        assert got == pytest.approx(_seqeval(gold, pred, scheme), rel=1e-6, abs=1e-7), trial


def _propn_runs(upos: list[str], scheme: str) -> list[str]:
    """Runs of consecutive PROPN words as entities of type PROPN."""
    tags = []
    for i, pos in enumerate(upos):
        if pos != "PROPN":
            tags.append("O")
            continue
        first = i == 0 or upos[i - 1] != "PROPN"
        last = i == len(upos) - 1 or upos[i + 1] != "PROPN"
        if scheme == "BIO":
            tags.append("B-PROPN" if first else "I-PROPN")
        else:
            tags.append({(True, True): "S", (True, False): "B", (False, False): "I", (False, True): "E"}[first, last] + "-PROPN")
    return tags


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_equals_seqeval_strict_on_ud_english_ewt(shared_data: Path, scheme: str) -> None:
    path = shared_data / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    if not path.is_file():
        pytest.skip(f"UD English-EWT dev file not found at {path}")
    labels = ["O"] + [f"{p}-PROPN" for p in ("BI" if scheme == "BIO" else "BIES")]
    rng = random.Random(1)
    gold = [_propn_runs(row["upos"], scheme) for row in read_conllu(path)]
    pred = [[rng.choice(labels) if rng.random() < 0.08 else g for g in row] for row in gold]
    assert len(gold) > 2000 and sum(t.startswith(("B-", "S-")) for row in gold for t in row) > 1000
    batches = [_batch(gold[i : i + 32], pred[i : i + 32], labels, rng) for i in range(0, len(gold), 32)]
    got = _span_scores(batches, labels)
    expected = _seqeval(gold, pred, scheme)
    assert 0.5 < expected["f1"] < 0.95  # the corruptions matter
    assert got == pytest.approx(expected, rel=1e-6)


def test_tagging_head_span_f1_and_unchanged_accuracy() -> None:
    """The BIO batch scored by hand above, through the head: span F1 2/7; token accuracy
    and macro F1 the same as over the old flattened labelled positions (accuracy 4/7)."""
    head = TaggingHead(8, BIO, metrics=["span_f1", "accuracy", "f1", "span_precision", "span_recall"])
    assert head.primary_metric == "span_f1"
    labels = torch.tensor([[-100, 1, 2, 0, 3, -100], [-100, 3, -100, 4, 0, -100]])
    pred_tags = torch.tensor([[4, 1, 2, 0, 1, 3], [0, 3, 1, 0, 1, 2]])
    logits = torch.nn.functional.one_hot(pred_tags, len(BIO)).float()  # (B, T, C)
    preds, target = head.metric_inputs(logits, {"labels": labels})
    out = head.make_metrics()(preds, target)
    assert out["span_f1"].item() == pytest.approx(2 / 7, rel=1e-6)
    assert out["span_precision"].item() == pytest.approx(1 / 4, rel=1e-6)
    assert out["span_recall"].item() == pytest.approx(1 / 3, rel=1e-6)
    keep = labels != IGNORE_INDEX
    flat_p, flat_t = pred_tags[keep], labels[keep]  # (N,) as metric_inputs returned before
    assert out["accuracy"].item() == pytest.approx(4 / 7, rel=1e-6)
    assert out["accuracy"].item() == MulticlassAccuracy(num_classes=5, average="micro")(flat_p, flat_t).item()
    assert out["f1"].item() == MulticlassF1Score(num_classes=5, average="macro")(flat_p, flat_t).item()


def test_non_entity_labels_are_refused_with_the_fix() -> None:
    upos = ["NOUN", "VERB", "ADJ", "ADV", "DET", "PRON", "O"]
    with pytest.raises(
        ValueError, match=r"span_f1 needs BIO tags like B-PER, I-PER, O; got \['NOUN', 'VERB', .*\.\.\.\].*'accuracy' or 'f1'"
    ):
        SpanF1(upos)
    with pytest.raises(ValueError, match=r"TaggingHead\(metrics=\['accuracy', 'span_f1'\]\): span_f1 needs .*got \['NOUN'"):
        TaggingHead(8, upos, metrics=["accuracy", "span_f1"])
    TaggingHead(8, upos, metrics=["accuracy", "f1"])  # token metrics take any tags
    with pytest.raises(ValueError, match=r"got \['S-PER'\]"):
        span_scheme(["O", "B-PER", "S-PER"], "BIO")
    with pytest.raises(ValueError, match=r"got \['B-', 'X-PER'\]"):
        span_scheme(["O", "B-", "X-PER", "I-PER"])
    with pytest.raises(ValueError, match="scheme must be"):
        span_scheme(BIO, "IOB1")  # type: ignore[arg-type]
    assert span_scheme(BIO) == "BIO" and span_scheme(BIOES) == "BIOES" and span_scheme(BIO, "BIOES") == "BIOES"
