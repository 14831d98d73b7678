"""Column files: hand-written files with each kind of line, the errors, and real EWT read
back from a two-column copy."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from mtl.data.columns import column_features, load_columns, read_columns
from mtl.data.conllu import load_conllu, read_conllu
from mtl.data.errors import DataError
from mtl.data.source import load_task_splits
from mtl.data.task import Task

# A comment, a document marker, three blank lines in a row, a multi-word token, a token
# that is one space, and a last sentence without a blank line after it.
TAB = (
    "## file header\n"
    "-DOCSTART-\t-X-\tO\n"
    "\n"
    "EU\tNNP\tB-ORG\n"
    "rejects\tVBZ\tO\n"
    "New York\tNNP\tB-LOC\n"
    "\n"
    "\n"
    "\n"
    "## between sentences\n"
    "서\tX\tB-PER\n"
    " \tSP\tO\n"
    "울\tX\tB-LOC"
)
TAB_ROWS = [
    {"sent_id": "ner.tsv:1", "tokens": ["EU", "rejects", "New York"], "ner": ["B-ORG", "O", "B-LOC"]},
    {"sent_id": "ner.tsv:2", "tokens": ["서", " ", "울"], "ner": ["B-PER", "O", "B-LOC"]},
]

# CoNLL-2003 as distributed: space-separated, a line of spaces between two sentences.
SPACED = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects  VBZ\tB-VP O
   \t
Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

"""


def write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def test_tab_file_comments_breaks_marker_and_spaces_in_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, "ner.tsv", TAB)
    assert list(read_columns(path, ["tokens", "_", "ner"], comment="##")) == TAB_ROWS


def test_crlf_line_ends_and_a_byte_order_mark_are_not_part_of_the_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "ner.tsv", "\ufeff" + TAB, newline="\r\n")
    assert list(read_columns(path, ["tokens", "_", "ner"], comment="##")) == TAB_ROWS


def test_whitespace_separator_and_several_skipped_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "eng.train", SPACED)
    rows = list(read_columns(path, ["tokens", "_", "_", "ner"], separator=None))
    assert rows == [
        {"sent_id": "eng.train:1", "tokens": ["EU", "rejects"], "ner": ["B-ORG", "O"]},
        {"sent_id": "eng.train:2", "tokens": ["Peter", "Blackburn"], "ner": ["B-PER", "I-PER"]},
    ]
    kept = list(read_columns(path, ["tokens", "pos", "_", "ner"], separator=None, document_marker=None))
    assert kept[0] == {"sent_id": "eng.train:1", "tokens": ["-DOCSTART-"], "pos": ["-X-"], "ner": ["O"]}
    assert [row["tokens"] for row in kept[1:]] == [["EU", "rejects"], ["Peter", "Blackburn"]]


def test_load_columns_features_splits_and_cache(tmp_path: Path) -> None:
    path = write(tmp_path, "ner.tsv", TAB)
    columns = ["tokens", "_", "ner"]
    loaded = load_columns({"train": str(path), "validation": [str(path), str(path)]}, columns, comment="##")
    assert list(loaded) == ["train", "validation"]
    assert loaded["train"].features == column_features(columns)
    assert loaded["train"].column_names == ["sent_id", "tokens", "ner"]
    assert isinstance(loaded["train"].features["ner"], datasets.Sequence)
    assert loaded["train"].to_list() == TAB_ROWS
    assert len(loaded["validation"]) == 4
    assert len(load_columns(str(path), columns, comment="##", document_marker=None)["train"]) == 3  # option keys the cache
    path.write_text(TAB.split("\n\n\n\n")[0] + "\n", encoding="utf-8")  # an edited file is read again
    assert len(load_columns(str(path), columns, comment="##")["train"]) == 1


@pytest.mark.parametrize(
    ("text", "columns", "options", "found", "fix"),
    [
        ("a\tB\tO\n", ["tokens", "ner"], {}, "has 3 '\\t'-separated field(s), expected 2", "set `columns:` to 3 names"),
        ("# a note\n", ["tokens", "ner"], {}, "has 1 '\\t'-separated field(s), expected 2", "set `comment: '#'`"),
        ("EU B-ORG\n", ["tokens", "ner"], {}, "has 1 '\\t'-separated field(s), expected 2", "set `separator: null`"),
        ("EU NNP B-ORG\n", ["tokens", "ner"], {"separator": None}, "has 3 whitespace-separated", "to 3 names"),
    ],
)
def test_malformed_line_names_file_line_and_fix(
    tmp_path: Path, text: str, columns: list[str], options: dict, found: str, fix: str
) -> None:
    path = write(tmp_path, "bad.tsv", "EU\tB-ORG\n\nrejects\tO\n" + text)
    with pytest.raises(DataError) as error:
        list(read_columns(path, columns, **options))
    message = str(error.value)
    assert message.startswith(f"{path}:4: line {text.rstrip(chr(10))!r} ")
    assert found in message and fix in message


def test_malformed_line_is_cut_in_the_message(tmp_path: Path) -> None:
    path = write(tmp_path, "long.tsv", "x" * 500 + "\n")
    with pytest.raises(DataError, match=r"long\.tsv:1: line 'x+\.\.\.' has 1 ") as error:
        load_columns(str(path), ["tokens", "ner"])
    assert "x" * 80 + "..." in str(error.value) and "x" * 81 not in str(error.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"columns": []}, r"`columns:` names no field to keep"),
        ({"columns": ["_", "_"]}, r"`columns:` names no field to keep"),
        ({"columns": "tokens ner"}, r"`columns:` must be a list of names"),
        ({"columns": ["tokens", "ner", "ner"]}, r"`columns:` names \['ner'\] more than once"),
        ({"columns": ["sent_id", "ner"]}, r"may not name a field 'sent_id'.*rename the field or skip it with `_`"),
        ({"columns": ["tokens", "ner"], "separator": ""}, r"`separator:` must be a non-empty string or null"),
        ({"columns": ["tokens", "ner"], "comment": ""}, r"`comment:` must be a non-empty string or null"),
    ],
)
def test_bad_options_name_the_key(tmp_path: Path, options: dict, message: str) -> None:
    path = write(tmp_path, "ner.tsv", TAB)
    with pytest.raises(DataError, match=message):
        load_columns(str(path), **options)


def test_missing_file_and_empty_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"column file not found: .*nope\.tsv \(split 'train'\)"):
        load_columns({"train": str(tmp_path / "nope.tsv")}, ["tokens", "ner"])
    write(tmp_path, "empty.tsv", "-DOCSTART-\tO\n\n## nothing else\n")
    with pytest.raises(DataError, match=r"split 'dev' \(from .*empty\.tsv\) has no rows"):
        load_columns({"dev": str(tmp_path / "empty.tsv")}, ["tokens", "ner"], comment="##")


def ner_task(path: Path, **source) -> Task:
    return Task(
        name="ner",
        type="tagging",
        source={"path": "columns", "data_files": {"train": str(path), "validation": str(path)}, **source},
        text="tokens",
        label="ner",
    )


def test_task_reads_a_column_source(tmp_path: Path) -> None:
    path = write(tmp_path, "ner.tsv", TAB)
    splits = load_task_splits(ner_task(path, columns=["tokens", "_", "ner"], comment="##"))
    assert list(splits) == ["train", "validation"]
    assert splits["train"]["tokens"][:] == [row["tokens"] for row in TAB_ROWS]
    assert splits["validation"]["ner"][:] == [row["ner"] for row in TAB_ROWS]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"columns": ["tokens", "_", "ner"]}, r"ner\.tsv:1: line '## file header' has 1 .*set `comment: '#'`"),
        (
            {"columns": ["tokens", "ner"], "sep": " "},
            r"unknown key 'sep' in `source:` for path 'columns'; did you mean 'separator'\?",
        ),
        ({}, r"`source:` for path 'columns' needs `columns`"),
        ({"columns": ["tokens", "ner"], "comment": "##"}, r"ner\.tsv:4: line 'EU\\tNNP\\tB-ORG' has 3 .* to 3 names"),
    ],
)
def test_task_errors_name_the_task_and_the_fix(tmp_path: Path, source: dict, message: str) -> None:
    path = write(tmp_path, "ner.tsv", TAB)
    with pytest.raises(DataError, match=r"^task 'ner': .*" + message):
        load_task_splits(ner_task(path, **source))


def test_task_with_undecodable_bytes_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ner.tsv"
    path.write_bytes("EU\tB-ORG\n\nK\u00f6ln\tB-LOC\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"^task 'ner': .*ner\.tsv:3 \(split 'train'\): not valid utf-8.*`encoding: latin-1`"):
        load_task_splits(ner_task(path, columns=["tokens", "ner"]))
    splits = load_task_splits(ner_task(path, columns=["tokens", "ner"], encoding="latin-1"))
    assert splits["train"]["tokens"][:] == [["EU"], ["Köln"]]


def write_columns(rows: list[dict], path: Path, columns: tuple[str, ...]) -> None:
    """Rows of the CoNLL-U reader as a tab-separated file, one word a line."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            for fields in zip(*(row[c] for c in columns)):
                out.write("\t".join(fields) + "\n")
            out.write("\n")


def test_english_ewt_round_trip_matches_the_conllu_reader(shared_data: Path, tmp_path: Path) -> None:
    dev = shared_data / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    if not dev.is_file():
        pytest.skip(f"UD English-EWT dev file not found at {dev}")
    path = tmp_path / "ewt-dev.tsv"
    write_columns(list(read_conllu(dev)), path, ("tokens", "upos"))
    conllu = load_conllu({"validation": str(dev)})["validation"]
    columns = load_columns({"validation": str(path)}, ["tokens", "upos"])["validation"]
    assert len(columns) == len(conllu) == 2001
    assert columns["tokens"][:] == conllu["tokens"][:]
    assert columns["upos"][:] == conllu["upos"][:]
    assert "#audiobooks" in {t for tokens in columns["tokens"][:] for t in tokens}  # no `comment:`, so a token
