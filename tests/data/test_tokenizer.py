"""Sub-word tokenizers: training, special tokens, templates, saving, loading, cache keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from mtl.contracts import SpecialIds
from mtl.data.tokenizer import (
    SPECIAL_TOKENS,
    TokenizerSpec,
    cache_key,
    load_tokenizer,
    save_atomically,
    special_ids,
    train_tokenizer,
)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A quick movie about a brown dog and a lazy fox.",
    "Dogs and foxes are not the same animals.",
    "The film was wonderful and the acting was great.",
    "The film was terrible and the acting was awful.",
    "Nobody expected the unexpected ending of the story.",
    "She reads a book while he watches the film.",
    "We walked along the river in the quiet morning.",
] * 4  # 32 sentences

KINDS = ["wordpiece", "bpe"]


@pytest.fixture(scope="module", params=KINDS)
def trained(request: pytest.FixtureRequest) -> Tokenizer:
    return train_tokenizer(SENTENCES, TokenizerSpec(kind=request.param, vocab_size=100, min_frequency=1))


def test_special_tokens_come_first_with_pad_at_zero(trained: Tokenizer) -> None:
    assert [trained.id_to_token(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert SPECIAL_TOKENS == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert trained.token_to_id("[PAD]") == 0
    assert trained.get_vocab_size() == 100


def test_single_text_is_wrapped_in_cls_and_sep(trained: Tokenizer) -> None:
    encoding = trained.encode("the dog and the fox")
    assert encoding.tokens == ["[CLS]", "the", "dog", "and", "the", "fox", "[SEP]"]
    assert encoding.ids[0] == 2 and encoding.ids[-1] == 3
    assert encoding.type_ids == [0] * 7
    assert encoding.word_ids == [None, 0, 1, 2, 3, 4, None]


def test_rare_words_split_into_continuation_pieces(trained: Tokenizer) -> None:
    tokens = trained.encode("foxes").tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    pieces = tokens[1:-1]
    assert len(pieces) > 1
    assert not pieces[0].startswith("##") and all(p.startswith("##") for p in pieces[1:])
    assert pieces[0] + "".join(p[2:] for p in pieces[1:]) == "foxes"


def test_pair_has_segment_ids_and_sep_at_each_end(trained: Tokenizer) -> None:
    encoding = trained.encode("the dog", "a lazy fox")
    assert encoding.tokens == ["[CLS]", "the", "dog", "[SEP]", "a", "lazy", "fox", "[SEP]"]
    assert encoding.type_ids == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [encoding.ids[i] for i in (0, 3, 7)] == [2, 3, 3]


@pytest.mark.parametrize("kind", KINDS)
def test_lowercase_option(kind: str) -> None:
    lower = train_tokenizer(SENTENCES, TokenizerSpec(kind=kind, vocab_size=100, min_frequency=1, lowercase=True))
    cased = train_tokenizer(SENTENCES, TokenizerSpec(kind=kind, vocab_size=100, min_frequency=1, lowercase=False))
    assert lower.normalizer.normalize_str("The FOX") == "the fox"
    assert cased.normalizer.normalize_str("The FOX") == "The FOX"
    assert lower.encode("THE DOG").ids == lower.encode("the dog").ids
    assert cased.encode("THE DOG").ids != cased.encode("the dog").ids
    assert not any(c.isupper() for token in lower.get_vocab() if token not in SPECIAL_TOKENS for c in token)
    assert "T" in cased.get_vocab()  # "The" starts sentences; its first character is a piece


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="tokenizer kind 'unigram' is not one of"):
        train_tokenizer(SENTENCES, TokenizerSpec(kind="unigram", vocab_size=100, min_frequency=1))  # type: ignore[arg-type]


def test_save_and_load_round_trip(trained: Tokenizer, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "tokenizer.json"
    save_atomically(trained, path)
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["tokenizer.json"]  # no temporary file left
    loaded = load_tokenizer(path)
    for text in SENTENCES[:8] + ["unexpected zebras QUICKLY"]:
        assert loaded.encode(text).ids == trained.encode(text).ids
    pair_loaded, pair_trained = loaded.encode("the dog", "a fox"), trained.encode("the dog", "a fox")
    assert (pair_loaded.ids, pair_loaded.type_ids) == (pair_trained.ids, pair_trained.type_ids)
    assert loaded.get_vocab() == trained.get_vocab()


def test_save_replaces_an_existing_file(trained: Tokenizer, tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text("old", encoding="utf-8")
    save_atomically(trained, path)
    assert load_tokenizer(path).get_vocab_size() == 100


def test_load_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "tokenizer.json"
    with pytest.raises(FileNotFoundError) as error:
        load_tokenizer(path)
    assert str(path) in str(error.value)
    assert "does not exist" in str(error.value)


def word_level(vocab: list[str]) -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token=vocab[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def test_load_tokenizer_without_specials_names_path_and_missing_tokens(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    word_level(["[UNK]", "a", "b"]).save(str(path))
    with pytest.raises(ValueError) as error:
        load_tokenizer(path)
    message = str(error.value)
    assert str(path) in message
    assert "no pad ([PAD] or <pad>), cls ([CLS] or <s>), sep ([SEP] or </s>), mask ([MASK] or <mask>) token" in message
    assert "unk (" not in message  # [UNK] is there


def test_load_tokenizer_with_pad_elsewhere_reads_its_special_ids(tmp_path: Path) -> None:
    path = tmp_path / "pad1.json"
    word_level(["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]", "a"]).save(str(path))
    loaded = load_tokenizer(path)
    assert special_ids(loaded) == SpecialIds(pad=1, unk=0, cls=2, sep=3, mask=4)
    assert loaded.encode("a").ids == [2, 5, 3]


def test_load_tokenizer_without_post_processor_gets_templates(tmp_path: Path) -> None:
    path = tmp_path / "bare.json"
    word_level(SPECIAL_TOKENS + ["a", "b"]).save(str(path))
    loaded = load_tokenizer(path)
    assert loaded.encode("a b").ids == [2, 5, 6, 3]
    pair = loaded.encode("a", "b")
    assert (pair.ids, pair.type_ids) == ([2, 5, 3, 6, 3], [0, 0, 0, 1, 1])


def test_cache_key_depends_on_settings_and_corpora_not_path() -> None:
    base = TokenizerSpec(kind="wordpiece", vocab_size=100, min_frequency=1, lowercase=True)
    corpora = ["sst2:abc", "pos:def"]
    key = cache_key(base, corpora)
    assert len(key) == 16 and all(c in "0123456789abcdef" for c in key)
    assert cache_key(TokenizerSpec(kind="wordpiece", vocab_size=100, min_frequency=1), list(corpora)) == key
    assert cache_key(TokenizerSpec(path="/x/tok.json", vocab_size=100, min_frequency=1), corpora) == key
    assert cache_key(TokenizerSpec(path="other.json", vocab_size=100, min_frequency=1), corpora) == key
    changed = [
        TokenizerSpec(kind="bpe", vocab_size=100, min_frequency=1),
        TokenizerSpec(vocab_size=101, min_frequency=1),
        TokenizerSpec(vocab_size=100, min_frequency=2),
        TokenizerSpec(vocab_size=100, min_frequency=1, lowercase=False),
    ]
    keys = {cache_key(spec, corpora) for spec in changed}
    assert len(keys) == 4 and key not in keys
    assert cache_key(base, ["sst2:abc", "pos:xyz"]) != key
    assert cache_key(base, ["sst2:abc"]) != key
    assert cache_key(base, ["pos:def", "sst2:abc"]) != key  # task order is part of the key


@pytest.mark.parametrize("kind", KINDS)
def test_training_gives_the_same_tokenizer_every_time(kind: str, tmp_path: Path) -> None:
    """The processes of a DDP run (or of two nodes) each train the tokenizer: they must agree.
    Without declaring the continuation sub-words first, ties between equally frequent merges
    are broken in hash-map order, which differs from one training to the next, in one process
    too (huggingface/tokenizers#1794): 6 trainings gave 6 vocabularies."""
    import json

    from mtl.data.synthetic import write_corpus

    write_corpus(str(tmp_path), train=2000, validation=0, test=0, seed=0)
    texts = [json.loads(line)["text"] for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    spec = TokenizerSpec(kind=kind, vocab_size=200, min_frequency=1)
    assert len({train_tokenizer(texts, spec).to_str() for _ in range(4)}) == 1


def test_continuation_sub_words_are_ordinary_vocabulary(trained: Tokenizer) -> None:
    """Declared as special tokens during training only: '##s' in the text is not one token."""
    assert trained.token_to_id("##s") is not None
    assert "##s" not in [t.content for t in trained.get_added_tokens_decoder().values()]
    assert trained.encode("##s").tokens[1:-1] != ["##s"]


def test_word_tokenizer_keeps_the_most_frequent_whole_words_in_lower_case() -> None:
    tokenizer = train_tokenizer(SENTENCES, TokenizerSpec(kind="word", vocab_size=12, min_frequency=1, lowercase=True))
    vocabulary = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
    # counts over the 4 copies: the 48, '.' 32, then a/and/was 16 (ties alphabetical), film 12, acting 8 (first of 6 at 8)
    assert vocabulary == [*SPECIAL_TOKENS, "the", ".", "a", "and", "was", "film", "acting"]
    assert tokenizer.encode("The FILM, the dog!").tokens == ["[CLS]", "the", "film", "[UNK]", "the", "[UNK]", "[UNK]", "[SEP]"]
    assert tokenizer.encode("a", "was").type_ids == [0, 0, 0, 1, 1]
    assert special_ids(tokenizer) == SpecialIds()


def test_word_tokenizer_respects_min_frequency_and_case() -> None:
    cased = train_tokenizer(SENTENCES, TokenizerSpec(kind="word", vocab_size=1000, min_frequency=5, lowercase=False))
    words = set(cased.get_vocab()) - set(SPECIAL_TOKENS)  # the words seen at least 5 times (8 or more)
    assert words == {"the", ".", "and", "was", "The", "a", "film", "acting", "brown", "dog", "fox", "lazy", "quick"}
    assert cased.encode("The the").tokens == ["[CLS]", "The", "the", "[SEP]"]


def test_word_tokenizer_is_the_same_in_every_process(tmp_path: Path) -> None:
    """Trained in two fresh interpreters (other hash seeds): the same JSON."""
    import os
    import subprocess
    import sys

    script = (
        "import sys; from mtl.data.tokenizer import TokenizerSpec, train_tokenizer; "
        "from tests.data.test_tokenizer import SENTENCES; "
        "print(train_tokenizer(SENTENCES, TokenizerSpec(kind='word', vocab_size=20, min_frequency=1)).to_str())"
    )
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ | {"PYTHONPATH": str(root), "PYTHONHASHSEED": str(seed)},
        )  # fmt: skip
        for seed in (1, 2)
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
