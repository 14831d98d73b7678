"""``mtl fit`` on a column file from a config alone: UPOS tagging of UD English-EWT read
from CoNLL-U and from a two-column copy of the same sentences trains to the same result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from command import TINY, mtl

from mtl.data.conllu import read_conllu

TRAIN, VALIDATION = 400, 150  # sentences of the dev file written as each split


def write_splits(dev: Path, directory: Path) -> dict[str, dict[str, str]]:
    """The first sentences of ``dev`` as train and validation files in both formats."""
    blocks = dev.read_text(encoding="utf-8").strip("\n").split("\n\n")
    parts = {"train": blocks[:TRAIN], "validation": blocks[TRAIN : TRAIN + VALIDATION]}
    files: dict[str, dict[str, str]] = {"conllu": {}, "columns": {}}
    for split, sentences in parts.items():
        conllu = directory / f"{split}.conllu"
        conllu.write_text("\n\n".join(sentences) + "\n\n", encoding="utf-8")
        columns = directory / f"{split}.tsv"
        with columns.open("w", encoding="utf-8", newline="\n") as out:
            for row in read_conllu(conllu):
                out.write("".join(f"{token}\t{tag}\n" for token, tag in zip(row["tokens"], row["upos"])) + "\n")
        files["conllu"][split], files["columns"][split] = str(conllu), str(columns)
    return files


def fit(directory: Path, source: dict) -> dict:
    """One epoch of UPOS tagging with the tiny BiLSTM; the run's validation results."""
    config = yaml.safe_load(TINY.read_text())
    config["trainer"]["max_epochs"] = 1
    config["data"]["tasks"] = [
        {
            "name": "upos",
            "head": {"class_path": "mtl.heads.TaggingHead"},
            "source": source,
            "text": "tokens",
            "label": "upos",
            "max_train_examples": 300,
        }
    ]
    directory.mkdir()
    (directory / "upos.yaml").write_text(yaml.safe_dump(config))
    done = mtl("fit", "-c", "upos.yaml", "--trainer.logger=false", cwd=directory)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((directory / "runs" / "results-fit.json").read_text())["tasks"]["upos"]


def test_column_file_trains_like_the_conllu_file(shared_data: Path, tmp_path: Path) -> None:
    dev = shared_data / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    if not dev.is_file():
        pytest.skip(f"UD English-EWT dev file not found at {dev}")
    files = write_splits(dev, tmp_path)
    from_conllu = fit(tmp_path / "conllu", {"path": "conllu", "data_files": files["conllu"]})
    from_columns = fit(tmp_path / "columns", {"path": "columns", "data_files": files["columns"], "columns": ["tokens", "upos"]})
    print(f"UPOS validation from CoNLL-U {from_conllu}, from columns {from_columns}")
    assert from_columns["accuracy"] == pytest.approx(from_conllu["accuracy"], abs=1e-6)
    assert from_columns["loss"] == pytest.approx(from_conllu["loss"], abs=1e-6)
    assert from_conllu["accuracy"] > 0.25, from_conllu  # it learned: the most frequent tag (NOUN) is about 17%
