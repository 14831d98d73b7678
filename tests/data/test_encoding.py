"""Encoding rows into token ids and label indices, for every task type.

A WordPiece tokenizer with a fixed, hand-written vocabulary makes every id below
computable by hand: ``foxes`` -> ``fox ##es``, ``unlikely`` -> ``un ##like ##ly``.
"""

from __future__ import annotations

import math
from typing import Any

import datasets
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from mtl.contracts import IGNORE_INDEX
from mtl.data.encoding import InputEncoder, encode_split, word_bytes
from mtl.data.errors import DataError
from mtl.data.source import infer_labels
from mtl.data.task import Task
from mtl.data.tokenizer import SPECIAL_TOKENS, add_templates

VOCAB = SPECIAL_TOKENS + ["the", "dog", "fox", "##es", "un", "##like", "##ly", "a", "runs", "."]
# ids:                 0..4    5      6      7      8      9      10        11     12    13     14
CLS, SEP, X = 2, 3, IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    add_templates(tok)
    return tok


def task(type_: str, **fields: Any) -> Task:
    return Task(name=fields.pop("name", "t"), type=type_, source={"path": "json"}, **fields)  # type: ignore[arg-type]


def encode(rows: dict[str, list[Any]], t: Task, tokenizer: Tokenizer, labels: list[str], role: str = "train") -> dict:
    encoded = encode_split(datasets.Dataset.from_dict(rows), t, tokenizer, labels, role)
    return {name: encoded[name][:] for name in encoded.column_names}


def test_vocabulary_splits_as_intended(tokenizer: Tokenizer) -> None:
    assert tokenizer.encode("The foxes, unlikely.").tokens == [
        "[CLS]", "the", "fox", "##es", "[UNK]", "un", "##like", "##ly", ".", "[SEP]"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "labels", "expected"),
    [
        ([1, 0, 1], ["0", "1"], [1, 0, 1]),
        (["good", "bad", "good"], ["bad", "good"], [1, 0, 1]),
        ([2, 10, 2], ["2", "10"], [0, 1, 0]),
    ],
)
def test_classification(tokenizer: Tokenizer, values: list[Any], labels: list[str], expected: list[int]) -> None:
    rows = {"text": ["the dog", "a fox runs", "The Foxes"], "label": values}
    out = encode(rows, task("classification"), tokenizer, labels)
    assert set(out) == {"input_ids", "token_type_ids", "length", "index", "labels"}
    assert out["input_ids"] == [[CLS, 5, 6, SEP], [CLS, 12, 7, 13, SEP], [CLS, 5, 7, 8, SEP]]
    assert out["token_type_ids"] == [[0] * 4, [0] * 5, [0] * 5]
    assert out["length"] == [4, 5, 5]
    assert out["index"] == [0, 1, 2]
    assert out["labels"] == expected


def test_classification_sentence_pair(tokenizer: Tokenizer) -> None:
    rows = {"premise": ["the dog", "a fox"], "hypothesis": ["a fox runs", "the foxes"], "label": ["no", "yes"]}
    out = encode(rows, task("classification", text="premise", text_pair="hypothesis"), tokenizer, ["no", "yes"])
    assert out["input_ids"] == [[CLS, 5, 6, SEP, 12, 7, 13, SEP], [CLS, 12, 7, SEP, 5, 7, 8, SEP]]
    assert out["token_type_ids"] == [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1]]
    assert out["labels"] == [0, 1]


def test_regression_labels_are_floats(tokenizer: Tokenizer) -> None:
    out = encode({"text": ["the dog", "a fox"], "label": [0.25, 3.0]}, task("regression"), tokenizer, [])
    assert out["labels"] == [0.25, 3.0]
    out = encode({"text": ["the dog", "a fox"], "label": [2, 5]}, task("regression"), tokenizer, [])
    assert out["labels"] == [2.0, 5.0] and all(isinstance(v, float) for v in out["labels"])


def test_regression_rejects_infinite_values(tokenizer: Tokenizer) -> None:
    with pytest.raises(DataError, match=r"task 'stsb': column 'label' in split 'train' has value inf"):
        encode({"text": ["the dog"], "label": [float("inf")]}, task("regression", name="stsb"), tokenizer, [])


def test_missing_labels_are_marked_per_kind(tokenizer: Tokenizer) -> None:
    """NaN (a CSV's empty number), None, blank and ``missing_value`` mean no label: -100 for a
    class or a word's tag, NaN for a regression target and across a multi-hot row."""
    texts = ["the dog", "a fox", "runs", "the fox"]
    classes = encode(
        {"text": texts, "label": ["b", None, " ", "-"]}, task("classification", missing_value="-"), tokenizer, ["a", "b"]
    )
    assert classes["labels"] == [1, X, X, X]
    scores = encode({"text": texts, "label": ["2.5", "", None, "?"]}, task("regression", missing_value="?"), tokenizer, [])
    assert scores["labels"][0] == 2.5 and all(math.isnan(v) for v in scores["labels"][1:])
    nan = encode({"text": texts[:2], "label": [1.0, float("nan")]}, task("regression"), tokenizer, [])
    assert nan["labels"][0] == 1.0 and math.isnan(nan["labels"][1])
    hot = encode({"text": texts[:3], "label": [["a"], None, []]}, task("multilabel"), tokenizer, ["a", "b"])
    assert hot["labels"][0] == [1.0, 0.0] and all(math.isnan(v) for v in hot["labels"][1]) and hot["labels"][2] == [0.0, 0.0]
    rows = {"tokens": [["the", "foxes", "runs"], ["the", "dog"]], "tags": [["DET", "-", "VERB"], None]}
    tags = encode(rows, task("tagging", text="tokens", label="tags", missing_value="-"), tokenizer, ["DET", "NOUN", "VERB"])
    assert tags["labels"] == [[X, 0, X, X, 2, X], [X, X, X, X]]
    assert tags["word_starts"] == [[0, 1, 1, 0, 1, 0], [0, 1, 1, 0]]  # still decoded at every word


def test_multilabel_multi_hot(tokenizer: Tokenizer) -> None:
    rows = {"text": ["the dog", "a fox", "runs"], "label": [["c", "a"], [], ["b"]]}
    out = encode(rows, task("multilabel"), tokenizer, ["a", "b", "c"])
    assert out["labels"] == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_tagging_labels_first_subword_only(tokenizer: Tokenizer) -> None:
    rows = {
        "tokens": [["the", "foxes", "runs"], ["unlikely", "dog", "."]],
        "tags": [["DET", "NOUN", "VERB"], ["ADJ", "NOUN", "PUNCT"]],
    }
    labels = ["ADJ", "DET", "NOUN", "PUNCT", "VERB"]
    out = encode(rows, task("tagging", text="tokens", label="tags"), tokenizer, labels)
    assert out["input_ids"] == [[CLS, 5, 7, 8, 13, SEP], [CLS, 9, 10, 11, 6, 14, SEP]]
    assert out["labels"] == [[X, 1, 2, X, 4, X], [X, 0, X, X, 2, 3, X]]
    assert out["word_starts"] == [[0, 1, 1, 0, 1, 0], [0, 1, 0, 0, 1, 1, 0]]
    assert [sum(s) for s in out["word_starts"]] == [3, 3]  # one start per word
    assert out["length"] == [6, 7]
    # each word's spelling (UTF-8 bytes + 1) at its first sub-word, nothing elsewhere
    spelled = lambda w: [b + 1 for b in w.encode()]  # noqa: E731
    assert out["word_bytes"] == [
        [[], spelled("the"), spelled("foxes"), [], spelled("runs"), []],
        [[], spelled("unlikely"), [], [], spelled("dog"), spelled("."), []],
    ]


def test_word_bytes_keep_head_and_tail_of_long_words() -> None:
    word = "Überwürdigkeitsnachweise"  # 26 UTF-8 bytes (two of its letters take 2 bytes)
    (bytes_,) = [b for b in word_bytes([None, 0, None], [word]) if b]
    raw = word.encode()
    assert len(raw) == 26 and bytes_ == [b + 1 for b in raw[:4] + raw[-12:]]
    assert word_bytes([None, 0, 0, 1], ["ab", "c"]) == [[], [98, 99], [], [100]]


def test_tagging_word_split_by_pre_tokenizer_keeps_one_label(tokenizer: Tokenizer) -> None:
    """A word such as ``dog.`` becomes two pre-tokens; it is still one word with one label."""
    rows = {"tokens": [["the", "dog."]], "tags": [[0, 1]]}
    out = encode(rows, task("tagging", text="tokens", label="tags"), tokenizer, ["0", "1"])
    assert out["input_ids"] == [[CLS, 5, 6, 14, SEP]]
    assert out["labels"] == [[X, 0, 1, X, X]]
    assert out["word_starts"] == [[0, 1, 1, 0, 0]]


def test_tagging_truncation(tokenizer: Tokenizer) -> None:
    rows = {"tokens": [["unlikely", "dog", "."]], "tags": [["ADJ", "NOUN", "PUNCT"]]}
    t = task("tagging", text="tokens", label="tags", max_length=5)
    out = encode(rows, t, tokenizer, ["ADJ", "NOUN", "PUNCT"])
    assert out["input_ids"] == [[CLS, 9, 10, 11, SEP]]
    assert out["labels"] == [[X, 0, X, X, X]]
    assert out["word_starts"] == [[0, 1, 0, 0, 0]]
    assert out["length"] == [5]
    assert tokenizer.truncation is None  # the shared tokenizer is left untouched


def test_classification_truncation(tokenizer: Tokenizer) -> None:
    out = encode(
        {"text": ["a fox runs", "the dog"], "label": [0, 1]}, task("classification", max_length=3), tokenizer, ["0", "1"]
    )
    assert out["input_ids"] == [[CLS, 12, SEP], [CLS, 5, SEP]]
    assert out["length"] == [3, 3]


def test_split_without_label_column_has_no_labels(tokenizer: Tokenizer) -> None:
    out = encode({"tokens": [["the", "foxes"]]}, task("tagging", text="tokens", label="tags"), tokenizer, ["a"], "test")
    assert set(out) == {"input_ids", "token_type_ids", "length", "index", "word_starts", "word_bytes"}
    assert out["word_starts"] == [[0, 1, 1, 0, 0]]
    out = encode({"text": ["the dog"]}, task("classification"), tokenizer, ["0", "1"], "test")
    assert set(out) == {"input_ids", "token_type_ids", "length", "index"}


def test_unknown_label_names_task_column_split_and_value(tokenizer: Tokenizer) -> None:
    t = task("classification", name="sst2", label="sentiment")
    rows = {"text": ["the dog", "a fox"], "sentiment": ["good", "meh"]}
    with pytest.raises(DataError) as error:
        encode(rows, t, tokenizer, ["bad", "good"], "validation")
    assert str(error.value) == (
        "task 'sst2': column 'sentiment' in split 'validation' has value 'meh' not in labels ['bad', 'good']; "
        "add it to `labels:` or fix the data"
    )


def test_unknown_tag_and_unknown_multilabel_raise(tokenizer: Tokenizer) -> None:
    t = task("tagging", name="pos", text="tokens", label="tags")
    with pytest.raises(DataError, match=r"task 'pos': column 'tags' in split 'test' has value 'X' not in labels \['DET'\]"):
        encode({"tokens": [["the", "dog"]], "tags": [["DET", "X"]]}, t, tokenizer, ["DET"], "test")
    t = task("multilabel", name="topics")
    with pytest.raises(DataError, match=r"task 'topics': column 'label' in split 'train' has value 'z' not in labels"):
        encode({"text": ["the dog"], "label": [["a", "z"]]}, t, tokenizer, ["a", "b"])


def test_classlabel_column_encodes_with_inferred_labels(tokenizer: Tokenizer) -> None:
    """Hub datasets store classes as ``ClassLabel`` indices; labels are their names."""
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    split = datasets.Dataset.from_dict({"text": ["the dog", "a fox"], "label": [1, 0]}, features=features)
    t = task("classification")
    labels = infer_labels(t, split)
    assert labels == ["neg", "pos"]
    assert encode_split(split, t, tokenizer, labels, "train")["labels"][:] == [1, 0]
    # declared labels in another order map by name, not by stored index
    assert encode_split(split, t, tokenizer, ["pos", "neg"], "train")["labels"][:] == [0, 1]


def test_classlabel_tag_column_encodes_by_name(tokenizer: Tokenizer) -> None:
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "tags": datasets.Sequence(datasets.ClassLabel(names=["DET", "NOUN"])),
        }
    )
    split = datasets.Dataset.from_dict({"tokens": [["the", "foxes"]], "tags": [[0, 1]]}, features=features)
    t = task("tagging", text="tokens", label="tags")
    assert infer_labels(t, split) == ["DET", "NOUN"]
    assert encode_split(split, t, tokenizer, ["NOUN", "DET"], "train")["labels"][:] == [[X, 1, 0, X, X]]


def test_integer_valued_float_labels_encode_with_inferred_labels(tokenizer: Tokenizer) -> None:
    """A JSON ``1.0`` (or a CSV column read as floats) is label ``"1"``, as ``infer_labels`` names it."""
    split = datasets.Dataset.from_dict({"text": ["the dog", "a fox"], "label": [1.0, 0.0]})
    t = task("classification")
    labels = infer_labels(t, split)
    assert labels == ["0", "1"]
    assert encode_split(split, t, tokenizer, labels, "train")["labels"][:] == [1, 0]


def input_encode(tokenizer: Tokenizer, rows: dict[str, list[str]], pair: str | None, max_length: int = 64) -> dict:
    return InputEncoder(tokenizer, "text", pair, max_length)(rows, list(range(len(rows["text"]))))


def test_input_encoder_single_text(tokenizer: Tokenizer) -> None:
    out = input_encode(tokenizer, {"text": ["the foxes", "unlikely dog."]}, None)
    assert out["input_ids"] == [[CLS, 5, 7, 8, SEP], [CLS, 9, 10, 11, 6, 14, SEP]]
    assert out["word_starts"] == [[0, 1, 1, 0, 0], [0, 1, 0, 0, 1, 0, 0]]  # "dog." is one word
    assert out["token_type_ids"] == [[0] * 5, [0] * 7]
    assert out["length"] == [5, 7]
    assert out["index"] == [0, 1]


def test_input_encoder_pair_marks_words_of_first_segment_only(tokenizer: Tokenizer) -> None:
    out = input_encode(tokenizer, {"text": ["the foxes", "a dog"], "second": ["a dog", "unlikely fox"]}, "second")
    assert out["input_ids"] == [[CLS, 5, 7, 8, SEP, 12, 6, SEP], [CLS, 12, 6, SEP, 9, 10, 11, 7, SEP]]
    assert out["token_type_ids"] == [[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1, 1]]
    assert out["word_starts"] == [[0, 1, 1, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0, 0]]
    # spellings of the first segment's words only, where they start
    assert out["word_bytes"][0] == [[], [117, 105, 102], [103, 112, 121, 102, 116], [], [], [], [], []]
    # a second segment longer than the first: its word ids must not index the first's words
    out = input_encode(tokenizer, {"text": ["dog"], "second": ["the unlikely foxes"]}, "second")
    assert [b for b in out["word_bytes"][0] if b] == [[101, 112, 104]]


def test_input_encoder_truncates(tokenizer: Tokenizer) -> None:
    out = input_encode(tokenizer, {"text": ["unlikely dog runs"]}, None, max_length=4)
    assert out["input_ids"] == [[CLS, 9, 10, SEP]]
    assert out["word_starts"] == [[0, 1, 0, 0]]


def test_words_without_a_subword_are_counted_with_examples(tokenizer: Tokenizer) -> None:
    """A space and an empty word give no pre-token, so no token and no label; a word the
    vocabulary lacks is ``[UNK]`` and keeps its label. Words cut at ``max_length`` are not counted."""
    from mtl.data.words_without_subword import count_words_without_subword

    rows = {
        "tokens": [["the", " ", "dog", ""], ["a", "fox"], ["", "€", "runs"], ["the", "dog", " ", "runs", "fox", " "]],
        "tags": [["A", "B", "A", "B"], ["A", "A"], ["B", "A", "A"], ["A", "A", "B", "A", "A", "B"]],
    }
    t = task("tagging", text="tokens", label="tags", max_length=5)  # the last row: [CLS] the dog runs [SEP]
    encoded = encode_split(datasets.Dataset.from_dict(rows), t, tokenizer, ["A", "B"], "train")
    assert encoded["words_without_subword"] == [2, 0, 1, 1]
    assert encoded["word_without_subword"] == [" ", "", "", " "]
    assert encoded["labels"][0] == [X, 0, 0, X]  # ' ' and '' have no position for their label 'B'
    found = count_words_without_subword(encoded, "t", "train")
    assert (found.count, found.total, found.examples) == (4, 4 + 2 + 3 + 4, (" ", ""))  # not 'fox' nor the ' ' after it: cut
    assert found.line().startswith("task 't': 4 of 13 labelled words in split 'train' produce no sub-word token (e.g. ' ', '')")
    assert found.metric == "data/t/train/words_without_subword"
    clean = encode_split(
        datasets.Dataset.from_dict({"tokens": [["a", "fox"]], "tags": [["A", "A"]]}), t, tokenizer, ["A", "B"], "train"
    )
    assert count_words_without_subword(clean, "t", "train") is None


def test_input_encoder_splits_words_as_asked_and_reads_word_lists_as_given(tokenizer: Tokenizer) -> None:
    from mtl.data.predict_inputs import input_words

    assert input_words("the dog runs.") == ["the", "dog", "runs."]
    assert input_words("the dog runs.", "punctuation") == ["the", "dog", "runs", "."]
    assert input_words(["the", "dog runs", "."], "punctuation") == ["the", "dog runs", "."]  # as given
    assert input_words(None, "punctuation") == []
    rows = {"text": ["the dog."]}
    assert InputEncoder(tokenizer, "text", None, None)(rows, [0])["words"] == [2]
    split = InputEncoder(tokenizer, "text", None, None, "punctuation")(rows, [0])
    assert split["words"] == [3] and split["word_starts"] == [[0, 1, 1, 1, 0]]
    given = InputEncoder(tokenizer, "text", None, None, "punctuation")({"text": [["the", "dog."]]}, [0])
    assert given["words"] == [2] and given["word_starts"] == [[0, 1, 1, 0, 0]]
