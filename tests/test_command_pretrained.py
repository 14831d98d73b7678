"""``mtl fit/test/predict`` with a pretrained encoder, as users run them: tiny random models of
the RoBERTa family (byte-level BPE, pad id 1, no segment embeddings) and the DeBERTa-v2
family (a SentencePiece-style Unigram tokenizer) on the demo's three tasks. The data reads
with the model's own tokenizer (named once, by the encoder); predictions and test metrics
come from the checkpoint. A hub model that is not on disk is a one-line error, offline or
with the hub unreachable, and never a hang."""

from __future__ import annotations

import csv
import json
import signal
import socket
from pathlib import Path

import pytest
from command import mtl, small_tiny_config

from mtl.data.pretrained_tokenizer import pretrained_tokenizer
from mtl.data.tokenizer import load_tokenizer, tokenizer_digest

QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")
INPUTS = "the coach loved the great match .\ni never liked this terrible phone .\nmy band played a song in the hotel .\n"


def encoder_config(directory: Path, model: str, **options: str) -> Path:
    extra = "".join(f", {k}: {v}" for k, v in options.items())
    path = directory / "pretrained.yaml"
    path.write_text(
        "model:\n  encoder:\n    class_path: mtl.encoders.PretrainedEncoder\n"
        f"    init_args: {{model: '{model}'{extra}}}\n  lr: 0.005\ntrainer:\n  max_epochs: 3\n"
    )
    return path


@pytest.mark.parametrize("kind", ["roberta", "deberta"])
def test_fit_test_and_predict_with_a_pretrained_encoder(tiny_pretrained, tmp_path: Path, kind: str) -> None:
    model = tiny_pretrained(kind)
    env = {"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    configs = ["-c", str(small_tiny_config(tmp_path)), "-c", str(encoder_config(tmp_path, str(model)))]
    fit = mtl("fit", *configs, *QUIET, cwd=tmp_path, env=env, timeout=300)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "runs" / "pretrained" / "version_0"
    # the run reads text with the model's own tokenizer, named once (by the encoder)
    assert tokenizer_digest(load_tokenizer(run / "tokenizer.json")) == tokenizer_digest(pretrained_tokenizer(str(model)))
    assert f"pretrained: {model}" in (run / "config.yaml").read_text()
    results = json.loads((run / "results-fit.json").read_text())
    assert set(results["tasks"]) == {"tags", "sentiment", "topic"}
    assert results["tasks"]["tags"]["accuracy"] > 0.15  # 11 tags, a tiny random model: above chance (0.09)
    losses = [float(row["val/tags/loss"]) for row in csv.DictReader((run / "metrics.csv").open()) if row.get("val/tags/loss")]
    assert len(losses) == 3 and losses[-1] < losses[0]  # one validation an epoch; it learns

    inputs = tmp_path / "inputs.txt"
    inputs.write_text(INPUTS)
    out = tmp_path / "predictions.jsonl"
    ckpt = run / "checkpoints" / "last.ckpt"
    predict = mtl(
        "predict", *configs, *QUIET, "--ckpt_path", str(ckpt), "--data.predict_file", str(inputs),
        "--predictions.output", str(out), cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert predict.returncode == 0, predict.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3
    for record, line in zip(records, INPUTS.splitlines()):
        assert len(record["tags"]) == len(line.split())  # one tag per word, on its first sub-word
        assert record["sentiment"] in ("positive", "negative", "neutral")
        assert record["topic"] in ("sports", "food", "tech", "music", "travel")

    test = mtl("test", *configs, *QUIET, "--trainer.logger=false", "--ckpt_path", str(ckpt), f"--trainer.default_root_dir={tmp_path / 'test'}",
               cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert test.returncode == 0, test.stderr[-3000:]
    tested = json.loads((tmp_path / "test" / "results-test.json").read_text())["tasks"]
    assert set(tested) == {"tags", "sentiment", "topic"}


def _no_run_made(root: Path) -> None:
    runs = root / "runs"
    assert not runs.exists() or not any(p.name != "wandb" for p in runs.iterdir()), "a run directory was made"


def test_a_hub_model_offline_is_a_one_line_error(tmp_path: Path) -> None:
    config = small_tiny_config(tmp_path)
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "MTL_CACHE": str(tmp_path / "cache")}
    done = mtl("fit", "-c", str(config), "-c", str(encoder_config(tmp_path, "some-org/no-such-model")), *QUIET,
               cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert done.returncode != 0
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert error and "pretrained model 'some-org/no-such-model' is not on this machine" in error[0], done.stderr[-2000:]
    assert "HF_HUB_OFFLINE=1" in error[0] and "hf download some-org/no-such-model" in error[0]
    assert "Traceback" not in done.stderr
    _no_run_made(tmp_path)


def test_an_unreachable_hub_is_a_one_line_error_not_a_hang(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf"),
        "MTL_CACHE": str(tmp_path / "cache"),
    }  # fmt: skip
    done = mtl("fit", "-c", str(small_tiny_config(tmp_path)), "-c", str(encoder_config(tmp_path, "some-org/no-such-model")),
               *QUIET, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert f"the hub at http://127.0.0.1:{port} cannot be reached" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_another_tokenizer_model_than_the_encoders_is_refused(tiny_pretrained, tmp_path: Path) -> None:
    config = encoder_config(tmp_path, str(tiny_pretrained("roberta")))
    done = mtl("fit", "-c", str(small_tiny_config(tmp_path)), "-c", str(config), *QUIET,
               f"--data.tokenizer.pretrained={tiny_pretrained('bert')}", cwd=tmp_path,
               env={"MTL_CACHE": str(tmp_path / "cache")}, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "a model reads text only with its own tokenizer" in done.stderr, done.stderr[-2000:]


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tiny_pretrained, tmp_path: Path) -> None:
    """A run of a tiny pretrained RoBERTa (its dropout on) killed at step 13 of 36 and
    resumed from last.ckpt ends with the uninterrupted run's weights and metrics, bit for bit."""
    from test_command_resume import EPOCHS, assert_same_metrics, assert_same_weights, fit, kill_at

    config = small_tiny_config(tmp_path)
    encoder = encoder_config(tmp_path, str(tiny_pretrained("roberta")))
    cache = tmp_path / "cache"
    runs = {}
    for name in ("uninterrupted", "killed"):
        (tmp_path / name).mkdir()
        args = ("-c", str(encoder), *EPOCHS, "--trainer.max_epochs=2") + ((kill_at(13),) if name == "killed" else ())
        runs[name] = fit(tmp_path / name, config, cache, *args)
    assert runs["uninterrupted"].returncode == 0, runs["uninterrupted"].stderr[-3000:]
    assert runs["killed"].returncode == -signal.SIGKILL, runs["killed"].stderr[-3000:]
    resumed = fit(
        tmp_path / "killed", config, cache, "-c", str(encoder), *EPOCHS, "--trainer.max_epochs=2", "--ckpt_path", "last"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, actual = (tmp_path / name / "runs" / "pretrained" / "version_0" for name in ("uninterrupted", "killed"))
    assert_same_weights(expected / "checkpoints" / "last.ckpt", actual / "checkpoints" / "last.ckpt")
    assert_same_metrics(expected, actual)


def test_bf16_mixed_precision_trains_a_pretrained_encoder(tiny_pretrained, tmp_path: Path) -> None:
    config = encoder_config(tmp_path, str(tiny_pretrained("deberta")))
    done = mtl("fit", "-c", str(small_tiny_config(tmp_path)), "-c", str(config), *QUIET, "--trainer.precision=bf16-mixed",
               "--trainer.max_steps=6", cwd=tmp_path, env={"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"},
               timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "runs" / "pretrained" / "version_0" / "metrics.csv").open()))
    losses = [float(r["train/loss_step"]) for r in rows if r.get("train/loss_step")]
    assert losses and all(loss == loss and loss < 1e4 for loss in losses)
