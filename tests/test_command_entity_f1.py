"""Character-level named-entity tagging from a two-column file with ``##`` comments, by
config alone through ``mtl fit`` and ``mtl test``, scored by entity (span F1).

The file is made from UD English-EWT: every character of a sentence (its words joined by
spaces, the spaces kept as tokens) on its own line, tagged B-/I-PROPN inside runs of
proper nouns and O elsewhere, as character-level Korean and Chinese NER sets are written.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from command import mtl

from mtl.data.conllu import read_conllu


def characters_with_propn_spans(words: list[str], upos: list[str]) -> list[tuple[str, str]]:
    """(character, tag) of the sentence ``" ".join(words)``: a run of PROPN words, with the
    spaces inside it, is one entity."""
    pairs: list[tuple[str, str]] = []
    for i, (word, tag) in enumerate(zip(words, upos)):
        inside = tag == "PROPN"
        continues = inside and i > 0 and upos[i - 1] == "PROPN"
        if i > 0:
            pairs.append((" ", "I-PROPN" if continues else "O"))
        for j, char in enumerate(word):
            pairs.append((char, "O" if not inside else "I-PROPN" if continues or j > 0 else "B-PROPN"))
    return pairs


def write_character_file(conllu: Path, path: Path, sentences: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in list(read_conllu(conllu))[:sentences]:
            out.write(f"## {row['sent_id']}\n")
            out.writelines(f"{char}\t{tag}\n" for char, tag in characters_with_propn_spans(row["tokens"], row["upos"]))
            out.write("\n")


def test_characters_with_propn_spans_marks_runs_with_their_spaces() -> None:
    pairs = characters_with_propn_spans(["I", "saw", "New", "York", "."], ["PRON", "VERB", "PROPN", "PROPN", "PUNCT"])
    tags = "".join({"O": "o", "B-PROPN": "B", "I-PROPN": "i"}[t] for _, t in pairs)
    assert "".join(c for c, _ in pairs) == "I saw New York ."
    assert tags == "oooooo" + "Bii" + "i" + "iiii" + "oo"


def test_character_level_bio_file_trains_and_reports_entity_f1(tmp_path: Path, shared_data: Path) -> None:
    ewt = shared_data / "ud_english_ewt"
    write_character_file(ewt / "en_ewt-ud-train.conllu", tmp_path / "train.tsv", 1200)
    write_character_file(ewt / "en_ewt-ud-dev.conllu", tmp_path / "dev.tsv", 300)
    config = {
        "seed_everything": 0,
        "trainer": {"max_epochs": 6, "enable_progress_bar": False, "deterministic": True, "log_every_n_steps": 10},
        "model": {
            "encoder": {"class_path": "mtl.encoders.LSTMEncoder", "init_args": {"embed_dim": 32, "hidden_dim": 64}},
            "lr": 0.02,
        },
        "data": {
            "batch_size": 32,
            "tokenizer": {"kind": "wordpiece", "vocab_size": 200, "min_frequency": 1, "lowercase": False},  # capitals matter
            "tasks": [
                {
                    "name": "names",
                    "head": {"class_path": "mtl.heads.TaggingHead", "init_args": {"metrics": ["span_f1", "span_precision", "span_recall", "accuracy"]}},
                    "source": {
                        "path": "columns", "columns": ["chars", "ner"], "comment": "##",
                        "data_files": {"train": "train.tsv", "validation": "dev.tsv"},
                    },
                    "text": "chars",
                    "label": "ner",
                    "max_length": 512,
                    "splits": {"train": "train", "validation": "validation[:150]", "test": "validation[150:]"},
                }
            ],
        },
    }  # fmt: skip
    (tmp_path / "names.yaml").write_text(yaml.safe_dump(config))
    fit = mtl("fit", "-c", "names.yaml", "--test_after_fit=true", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "names" / "version_0"
    scores = json.loads((run / "results-test.json").read_text())["tasks"]["names"]
    precision, recall, f1 = scores["span_precision"], scores["span_recall"], scores["span_f1"]
    assert abs(f1 - 2 * precision * recall / (precision + recall)) < 1e-6  # F1 from the entity counts
    assert f1 > 0.2, scores  # proper-noun runs found by spelling and context, from 1,200 sentences (0.32 here)
    assert scores["accuracy"] > f1  # most characters are O: token accuracy over-reports
    assert "| names | " in (run / "results-test.md").read_text()
