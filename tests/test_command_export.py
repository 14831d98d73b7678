"""``mtl export --run``: a trained run as files a serving stack loads without mtl. The
exported program, run in a process where ``import mtl`` fails, reads text with the exported
``tokenizer.json`` alone and gives the module's outputs (to float tolerance) and the labels
``mtl.load_run(...).predict`` gives; a pretrained encoder is also a Hugging Face directory
that ``transformers`` loads with the fine-tuned weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from command import mtl, small_tiny_config
from test_command_pretrained import QUIET, encoder_config

import mtl as toolkit
from mtl.export import ServedModel

TEXTS = ["the coach loved the great match .", "i never liked this terrible phone !", "my band played a song"]

# Serving without mtl: tokenizers + torch only. Words split on whitespace and encoded as
# pre-split words; each word's tag is the one at its first token.
SERVE = r"""
import json, sys
sys.modules["mtl"] = None  # any import of mtl fails
import torch
from tokenizers import Tokenizer

folder, texts = sys.argv[1], json.loads(sys.argv[2])
spec = json.load(open(f"{folder}/model.json"))
tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
encodings = tokenizer.encode_batch([t.split() for t in texts], is_pretokenized=True)
T = spec["tokens"] or max(len(e.ids) for e in encodings)
ids = torch.full((len(texts), T), spec["pad_id"], dtype=torch.long)
mask = torch.zeros(len(texts), T, dtype=torch.bool)
for i, e in enumerate(encodings):
    ids[i, : len(e.ids)] = torch.tensor(e.ids)
    mask[i, : len(e.ids)] = True
types = torch.zeros_like(ids)
outputs = torch.export.load(f"{folder}/program.pt2").module()(ids, mask, types)
decoded = []
for i, e in enumerate(encodings):
    record = {}
    for task, about in spec["tasks"].items():
        logits = outputs[task][i]
        if about["kind"] == "class":
            record[task] = about["labels"][int(logits.argmax())]
        elif about["kind"] == "tags":
            first = {}
            for position, word in enumerate(e.word_ids):
                if word is not None and word not in first:
                    first[word] = position
            record[task] = [about["labels"][int(logits[first[w]].argmax())] for w in sorted(first)]
    decoded.append(record)
torch.save({"inputs": (ids, mask, types), "outputs": outputs}, f"{folder}/served.pt")
print(json.dumps(decoded))
"""


def serve(folder: Path, cwd: Path) -> list[dict]:
    """Run the exported program in a fresh Python that cannot import mtl."""
    done = subprocess.run(
        [sys.executable, "-c", SERVE, str(folder), json.dumps(TEXTS)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def assert_served_as_trained(run: Path, folder: Path, tmp_path: Path) -> None:
    decoded = serve(folder, tmp_path)
    loaded = toolkit.load_run(run)
    served = torch.load(folder / "served.pt")
    with torch.no_grad():
        eager = ServedModel(loaded.module.model)(*served["inputs"])
    assert set(eager) == set(served["outputs"]) == {"tags", "sentiment", "topic"}
    for task, logits in eager.items():
        assert logits.shape == served["outputs"][task].shape
        real = served["inputs"][1] if logits.dim() == 3 else torch.ones(logits.shape[0], dtype=torch.bool)
        torch.testing.assert_close(served["outputs"][task][real], logits[real], atol=1e-5, rtol=1e-5)
    predicted = loaded.predict(TEXTS)
    for record, ours in zip(decoded, predicted, strict=True):
        assert record == {task: ours[task] for task in ("tags", "sentiment", "topic")}


def test_an_lstm_run_exports_a_program_that_serves_without_mtl(tmp_path: Path) -> None:
    small_tiny_config(tmp_path)
    fit = mtl("fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    export = mtl("export", "--run", "runs/tiny/version_0", "--tokens", "24", cwd=tmp_path)
    assert export.returncode == 0, export.stderr[-3000:]
    folder = tmp_path / "runs" / "tiny" / "version_0" / "export"
    assert f"to {folder.relative_to(tmp_path)}" in export.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "program.pt2", "tokenizer.json"]
    spec = json.loads((folder / "model.json").read_text())
    assert spec["tokens"] == 24 and spec["tasks"]["sentiment"] == {
        "kind": "class", "labels": ["negative", "neutral", "positive"], "output": "(B, C)",
    }  # fmt: skip
    assert spec["tasks"]["tags"]["output"] == "(B, T, C)" and len(spec["tasks"]["tags"]["labels"]) == 11
    assert_served_as_trained(tmp_path / "runs" / "tiny" / "version_0", folder, tmp_path)


def test_a_pretrained_run_exports_its_encoder_as_a_hugging_face_directory(tiny_pretrained, tmp_path: Path) -> None:
    from transformers import AutoModel

    model = tiny_pretrained("roberta")  # pad id 1, byte-level BPE
    env = {"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    configs = ["-c", str(small_tiny_config(tmp_path)), "-c", str(encoder_config(tmp_path, str(model)))]
    fit = mtl("fit", *configs, *QUIET, "--trainer.max_epochs=1", cwd=tmp_path, env=env, timeout=300)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "pretrained" / "version_0"
    folder = tmp_path / "served"
    export = mtl("export", "--run", str(run), "--output", str(folder), cwd=tmp_path, env=env, timeout=300)
    assert export.returncode == 0, export.stderr[-3000:]
    spec = json.loads((folder / "model.json").read_text())
    assert spec["tokens"] is None and spec["pad_id"] == 1  # any length; the model's own pad id
    assert_served_as_trained(run, folder, tmp_path)

    # the fine-tuned encoder, loaded by transformers alone, gives the module's hidden states
    hub = AutoModel.from_pretrained(folder / "encoder").eval()
    encoder = toolkit.load_run(run).module.model.encoder
    ids = torch.tensor([[0, 45, 46, 47, 2, 1, 1]])  # (1, T): <s> ... </s> then padding
    mask = ids != 1
    with torch.no_grad():
        ours = encoder(ids, mask).hidden[mask]
        theirs = hub(input_ids=ids, attention_mask=mask.long()).last_hidden_state[mask]
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
    assert (folder / "encoder" / "tokenizer.json").is_file()
