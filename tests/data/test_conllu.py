"""CoNLL-U reading: a hand-written file with the tricky line kinds, errors, and real EWT."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from mtl.data.conllu import FEATURES, load_conllu, read_conllu
from mtl.data.errors import DataError

# Sentence 1: a multi-word token (2-3) and an empty node (4.1). Sentence 2: no comments, a
# multi-word token, SpaceAfter=No, and no blank line at the end of the file.
TINY = """\
# newdoc id = doc1
# sent_id = s1
# text = I don't know.
1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1|PronType=Prs\t4\tnsubj\t4:nsubj\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\tMood=Ind\t4\taux\t4:aux\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t4:advmod\t_
4\tknow\tknow\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\tSpaceAfter=No
4.1\tknow\tknow\tVERB\tVB\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t4:punct\t_

1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVB\tMood=Imp\t3\taux\t3:aux\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t3:advmod\t_
3\tgo\tgo\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\tSpaceAfter=No
4\t!\t!\tPUNCT\t.\t_\t3\tpunct\t3:punct\t_"""

EXPECTED = [
    {
        "sent_id": "s1",
        "text": "I don't know.",
        "tokens": ["I", "do", "n't", "know", "."],
        "lemmas": ["I", "do", "not", "know", "."],
        "upos": ["PRON", "AUX", "PART", "VERB", "PUNCT"],
        "xpos": ["PRP", "VBP", "RB", "VB", "."],
        "feats": ["Case=Nom|Number=Sing|Person=1|PronType=Prs", "Mood=Ind", "_", "VerbForm=Inf", "_"],
        "head": [4, 4, 4, 0, 4],
        "deprel": ["nsubj", "aux", "advmod", "root", "punct"],
    },
    {
        "sent_id": "tiny.conllu:2",
        "text": "Don't go!",
        "tokens": ["Do", "n't", "go", "!"],
        "lemmas": ["do", "not", "go", "!"],
        "upos": ["AUX", "PART", "VERB", "PUNCT"],
        "xpos": ["VB", "RB", "VB", "."],
        "feats": ["Mood=Imp", "_", "VerbForm=Inf", "_"],
        "head": [3, 3, 0, 3],
        "deprel": ["aux", "advmod", "root", "punct"],
    },
]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.conllu"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_read_conllu_skips_multiword_tokens_and_empty_nodes(tiny: Path) -> None:
    assert list(read_conllu(tiny)) == EXPECTED


def test_load_conllu_columns_and_features(tiny: Path) -> None:
    loaded = load_conllu({"train": str(tiny), "validation": [str(tiny), str(tiny)]})
    assert list(loaded) == ["train", "validation"]
    assert loaded["train"].features == FEATURES
    assert loaded["train"].column_names == list(EXPECTED[0])
    assert loaded["train"].to_list() == EXPECTED
    assert len(loaded["validation"]) == 4
    assert isinstance(loaded["train"].features["head"].feature, datasets.Value)
    assert loaded["train"].features["head"].feature.dtype == "int32"


def test_load_conllu_rereads_an_edited_file(tiny: Path) -> None:
    assert len(load_conllu({"train": str(tiny)})["train"]) == 2
    tiny.write_text(TINY.split("\n\n")[0] + "\n", encoding="utf-8")
    assert len(load_conllu({"train": str(tiny)})["train"]) == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t4:nsubj", "10 tab-separated fields, found 9"),
        ("x\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t4:nsubj\t_", "an integer ID, found 'x'"),
        ("1\tI\tI\tPRON\tPRP\t_\tfour\tnsubj\t4:nsubj\t_", "an integer HEAD (column 7), found 'four'"),
        ("1 I I PRON PRP _ 4 nsubj 4:nsubj _", "10 tab-separated fields, found 1"),
    ],
)
def test_malformed_line_names_file_line_and_expectation(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "bad.conllu"
    lines = TINY.split("\n")
    lines[4] = line  # the 5th line of the file
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as error:
        list(read_conllu(path))
    message = str(error.value)
    assert f"{path}:5:" in message
    assert repr(line) in message
    assert f"expected {expected}" in message


def test_malformed_line_is_truncated_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "long.conllu"
    path.write_text("1\t" + "x" * 500 + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"long\.conllu:1: .*\.\.\.': expected 10") as error:
        list(read_conllu(path))
    assert len(str(error.value)) < 250


def test_load_conllu_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"CoNLL-U file not found: .*nope\.conllu \(split 'train'\)"):
        load_conllu({"train": str(tmp_path / "nope.conllu")})
    (tmp_path / "empty.conllu").write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"split 'dev' \(from .*empty\.conllu\) has no rows"):
        load_conllu({"dev": str(tmp_path / "empty.conllu")})


def test_real_english_ewt(shared_data: Path) -> None:
    root = shared_data / "ud_english_ewt"
    loaded = load_conllu({s: str(root / f"en_ewt-ud-{s}.conllu") for s in ("train", "dev", "test")})
    assert {s: len(d) for s, d in loaded.items()} == {"train": 12544, "dev": 2001, "test": 2077}
    train = loaded["train"]
    upos = {tag for tags in train["upos"][:] for tag in tags}
    assert len(upos) == 17
    assert sum(len(tokens) for tokens in train["tokens"][:]) == 204577
    first = train[0]
    assert first["sent_id"] == "weblog-juancole.com_juancole_20051126063000_ENG_20051126_063000-0001"
    assert first["tokens"][:3] == ["Al", "-", "Zaman"]
    assert first["head"][:3] == [0, 3, 1]
    assert all(len(row["tokens"]) == len(row["head"]) == len(row["deprel"]) for row in loaded["dev"])
