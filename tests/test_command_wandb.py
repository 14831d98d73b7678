"""W&B never holds a run up: with credentials but no reachable server (a compute node
after ``wandb login``) the run goes offline within seconds, with one warning line;
``WANDB_MODE=disabled`` writes no W&B files. Only 127.0.0.1 is ever contacted."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from command import TINY

from mtl.tracking import WandbTracker, wandb_unreachable

FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, like a real one


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_with_credentials_and_no_server_the_run_goes_offline_and_finishes(tmp_path: Path) -> None:
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}  # conftest's WANDB_MODE=offline too
    env |= {
        "WANDB_API_KEY": FAKE_KEY,
        "WANDB_BASE_URL": f"http://127.0.0.1:{port}",
        "WANDB_DIR": str(tmp_path / "wandb-dir"),
        "HOME": str(tmp_path / "home"),
    }
    command = [
        sys.executable, "-m", "mtl", "fit", "-c", str(TINY), "--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1", "--trainer.enable_checkpointing=false",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "val results after 2 steps" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.startswith("W&B: ")]
    assert len(warnings) == 1, done.stderr[-3000:]
    assert f"http://127.0.0.1:{port} is unreachable" in warnings[0] and "logging offline" in warnings[0]
    assert "wandb sync runs/wandb/offline-run-*" in warnings[0]
    assert list((tmp_path / "runs" / "wandb").glob("offline-run-*/run-*.wandb"))


def test_a_refused_connection_is_unreachable_at_once() -> None:
    reason = wandb_unreachable(f"http://127.0.0.1:{_closed_port()}", timeout=60)
    assert reason is not None and "refused" in reason.lower(), reason  # the refusal, not the time limit


def test_a_server_that_never_answers_is_unreachable_after_the_timeout() -> None:
    with socket.socket() as listening:  # accepts connections (the backlog), answers nothing
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        reason = wandb_unreachable(f"http://127.0.0.1:{listening.getsockname()[1]}", timeout=0.5)
    assert reason == "no answer within 0.5 s"  # the request is left waiting; the run is not


def test_a_server_that_answers_is_reachable_whatever_the_status() -> None:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert wandb_unreachable(f"http://127.0.0.1:{server.server_address[1]}") is None
    finally:
        server.shutdown()


@pytest.mark.parametrize("credentials", [False, True])
def test_wandb_mode_disabled_writes_no_wandb_files(credentials: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    if credentials:
        monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    else:
        monkeypatch.delenv("WANDB_API_KEY", raising=False)
    tracker = WandbTracker(name="disabled", save_dir=str(tmp_path / "runs"))
    try:
        tracker.log_metrics({"a": 1.0}, step=0)
        tracker.finalize("success")
    finally:
        wandb.finish()
    assert os.environ["WANDB_MODE"] == "disabled"
    assert not [p for p in (tmp_path / "runs").rglob("*")] and not (tmp_path / "wandb-dir").exists()


def test_the_offline_run_holds_the_whole_config_its_group_job_type_learning_rate_and_files(tmp_path: Path) -> None:
    from command import mtl, small_tiny_config
    from wandb_records import records

    small_tiny_config(tmp_path)
    fit = mtl(
        "fit", "-c", "tiny.yaml", "--trainer.max_epochs=1", "--run_name", "tiny/seed3", "--seed_everything", "3", cwd=tmp_path
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    (run_file,) = (tmp_path / "runs" / "wandb").glob("offline-run-*/run-*.wandb")
    found = list(records(run_file))
    (run,) = [r.run for r in found if r.WhichOneof("record_type") == "run"]
    assert (run.display_name, run.run_group, run.job_type) == ("tiny/seed3", "tiny", "fit")
    config = {
        item.key: json.loads(item.value_json)
        for r in found
        if r.WhichOneof("record_type") == "config"
        for item in r.config.update
    }
    assert config["model"]["encoder"]["class_path"].rsplit(".", 1)[-1] == "LSTMEncoder"  # as the parser names it: mtl.LSTMEncoder
    assert config["built"] == {
        "encoder": "LSTMEncoder", "balancer": "Sum",
        "heads": {"tags": "TaggingHead", "sentiment": "ClassificationHead", "topic": "ClassificationHead"},
    }  # fmt: skip
    assert config["seed_everything"] == 3 and config["data"]["batch_size"] == 16 and config["trainer"]["max_epochs"] == 1
    assert [t["name"] for t in config["data"]["tasks"]] == ["tags", "sentiment", "topic"]
    (artifact,) = [r.artifact for r in found if r.WhichOneof("record_type") == "artifact"]
    assert artifact.type == "run-files" and artifact.name == f"run-{run.run_id}"
    assert sorted(entry.path for entry in artifact.manifest.contents) == ["config.yaml", "tokenizer.json"]
    history = [
        json.loads(item.value_json)
        for r in found
        if r.WhichOneof("record_type") == "history"
        for item in r.history.item
        if (item.key or "/".join(item.nested_key)).startswith("lr-")
    ]
    assert history and all(0 < lr <= 0.02 for lr in history)  # tiny.yaml's lr 0.02 after warm-up

    test = mtl("test", "-c", "tiny.yaml", "--ckpt_path", str(next((tmp_path / "runs" / "tiny" / "seed3").glob("version_0/checkpoints/last.ckpt"))),
               "--run_name", "tiny/seed3", cwd=tmp_path)  # fmt: skip
    assert test.returncode == 0, test.stderr[-3000:]
    jobs = [
        r.run.job_type
        for f in (tmp_path / "runs" / "wandb").glob("offline-run-*/run-*.wandb")
        for r in records(f)
        if r.WhichOneof("record_type") == "run"
    ]
    assert sorted(jobs) == ["fit", "test"]
