"""``mtl fit`` with word vectors from a config alone: a word tokenizer, a BiLSTM whose
frozen embeddings are a tiny GloVe file, the coverage line and metric; then the checkpoint
evaluates and loads with the vectors file gone."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import torch
import yaml
from command import mtl, small_tiny_config

from mtl.data.synthetic import DETERMINERS, NEGATIVE_ADJ, POSITIVE_ADJ
from mtl.module import MultiTaskModule

DIM = 4
WORDS = [*DETERMINERS, *POSITIVE_ADJ, *NEGATIVE_ADJ, "notaword"]  # some of the training words, and one never seen


def vector(i: int) -> list[float]:
    return [round(0.1 * (i + 1) * (-1) ** d + 0.01 * d, 4) for d in range(DIM)]


def test_fit_with_frozen_glove_vectors_reports_coverage_and_loads_without_them(tmp_path: Path) -> None:
    vectors = tmp_path / "glove.tiny.txt"
    vectors.write_text("".join(f"{w} {' '.join(map(str, vector(i)))}\n" for i, w in enumerate(WORDS)))
    config = yaml.safe_load(small_tiny_config(tmp_path).read_text())
    config["data"]["tokenizer"] = {"kind": "word", "vocab_size": 400, "min_frequency": 1, "lowercase": True}
    encoder = config["model"]["encoder"]["init_args"]
    encoder.update(embed_dim=DIM, word_vectors={"path": str(vectors), "freeze": True})
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))

    fit = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "tiny" / "version_0"
    vocabulary = json.loads((run / "tokenizer.json").read_text())["model"]["vocab"]
    found = sorted(w for w in WORDS if w in vocabulary)
    assert len(found) == len(WORDS) - 1  # every listed word occurs in the training text, 'notaword' not
    line = re.search(r"word vectors: found (\d+) of (\d+) word types, coverage ([\d.]+)% of training tokens", fit.stderr)
    assert line is not None, fit.stderr[-3000:]
    assert (int(line[1]), int(line[2])) == (len(found), len(vocabulary) - 5)
    rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    coverage = [float(r["word_vectors/coverage"]) for r in rows if r.get("word_vectors/coverage")]
    assert len(coverage) == 1 and 0.0 < coverage[0] < 1.0
    assert round(100 * coverage[0], 1) == float(line[3])
    assert [r["word_vectors/found_types"] for r in rows if r["word_vectors/found_types"]] == [str(len(found))]
    assert len([r for r in rows if r["train/loss_step"]]) >= 3 and (run / "results-fit.json").is_file()  # it trained

    vectors.unlink()  # a trained run needs no vectors: the checkpoint holds the embeddings
    ckpt = run / "checkpoints" / "last.ckpt"
    validate = mtl("validate", "-c", "tiny.yaml", f"--ckpt_path={ckpt}", "--trainer.logger=false", cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr[-3000:]
    model = MultiTaskModule.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True)
    table = model.encoder.embedding.embedding.weight
    for i, word in enumerate(WORDS[:-1]):
        assert table[vocabulary[word]].tolist() == torch.tensor(vector(i)).tolist(), word  # frozen: as loaded
    assert table[0].abs().sum() == 0  # padding
