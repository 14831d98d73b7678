"""``mtl test`` and ``mtl predict`` from a trained run, as a user runs them: the labels and
the tokenizer are the trained run's whatever the config says now (or the command refuses,
saying why), and every input line gets an honest output line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from command import TINY, mtl, one_task_config

from mtl.data.datamodule import MultiTaskDataModule
from mtl.data.errors import DataError
from mtl.data.task import Task
from mtl.data.tokenizer import TokenizerSpec

QUIET = ("--trainer.logger=false", "--trainer.enable_progress_bar=false")
INPUTS = "the coach loved the great match .\ni never liked this terrible phone .\nmy band played a song in the hotel .\n"
REORDERED = {  # every task's labels, in another order than the trained (alphabetical / generated) one
    "tags": ["VERB", "PUNCT", "PRON", "PART", "NOUN", "DET", "CONJ", "AUX", "ADV", "ADP", "ADJ"],
    "sentiment": ["positive", "neutral", "negative"],
    "topic": ["travel", "music", "tech", "food", "sports"],
}


def write_config(path: Path, **task_fields: dict[str, Any]) -> Path:
    """tiny.yaml with fields set per task: ``write_config(p, topic={"labels": [...]})``;
    ``all`` applies to every task."""
    config = yaml.safe_load(TINY.read_text())
    for task in config["data"]["tasks"]:
        task.update(task_fields.get("all", {}) | task_fields.get(task["name"], {}))
    path.write_text(yaml.safe_dump(config))
    return path


class Run:
    """A run of tiny.yaml fitted once, and its predictions and test metrics with the config
    it was trained with."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {"MTL_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
        self.dir = root / "runs" / "tiny" / "version_0"
        self.ckpt = self.dir / "checkpoints" / "last.ckpt"
        self.inputs = root / "inputs.txt"
        self.inputs.write_text(INPUTS)

    def predict(self, config: Path, out: str, *extra: str, ckpt: Path | None = None, inputs: Path | None = None):
        return mtl(
            "predict", "-c", str(config), "--ckpt_path", str(ckpt or self.ckpt), *QUIET,
            "--data.predict_file", str(inputs or self.inputs), "--predictions.output", str(self.root / out), *extra,
            cwd=self.root, env=self.env,
        )  # fmt: skip

    def test(self, config: Path, out: str, ckpt: Path | None = None):
        root = self.root / out
        done = mtl("test", "-c", str(config), "--ckpt_path", str(ckpt or self.ckpt), *QUIET,
                   f"--trainer.default_root_dir={root}", cwd=self.root, env=self.env)  # fmt: skip
        return done, root / "results-test.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    run = Run(tmp_path_factory.mktemp("trained"))
    fit = mtl("fit", "-c", str(TINY), *QUIET, f"--trainer.default_root_dir={run.dir}", cwd=run.root, env=run.env)
    assert fit.returncode == 0, fit.stderr[-3000:]
    for name in ("config.yaml", "tokenizer.json", "checkpoints/last.ckpt"):
        assert (run.dir / name).is_file(), name
    predicted = run.predict(TINY, "baseline.jsonl")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    run.predictions = (run.root / "baseline.jsonl").read_text()
    tested, results = run.test(TINY, "baseline-test")
    assert tested.returncode == 0, tested.stderr[-3000:]
    run.metrics = json.loads(results.read_text())["tasks"]
    assert run.metrics["tags"]["accuracy"] > 0.9 and run.metrics["topic"]["accuracy"] > 0.6  # a model worth checking
    run.tested = tested
    return run


def test_mtl_test_prints_one_table_of_every_task_not_one_column_per_dataloader(run: Run) -> None:
    out = run.tested.stdout
    assert "DataLoader 0" not in out and "Test metric" not in out  # Lightning's table repeated each metric per task
    table = out[out.index("test results") :]
    for task in ("tags", "sentiment", "topic"):
        assert table.count(f"| {task} | ") == 1, out[-3000:]


def refusal(done, *names: str) -> str:
    """The command failed with a message naming every one of ``names`` (no traceback needed)."""
    assert done.returncode != 0, "expected a refusal, the command succeeded:\n" + done.stderr[-2000:]
    for name in names:
        assert name in done.stderr, f"{name!r} not in the message:\n{done.stderr[-3000:]}"
    return done.stderr


def same_or_refused(done, produced: Path, expected: Any, read, *names: str) -> None:
    """Exactly the trained config's output, or a refusal naming ``names``: never other output."""
    if done.returncode == 0:
        assert read(produced) == expected, "silently different output"
    else:
        refusal(done, *names)


# -- the config changed since training -------------------------------------------------------
def test_reordered_labels_give_the_trained_runs_predictions_and_metrics(run: Run) -> None:
    config = write_config(run.root / "reordered.yaml", **{name: {"labels": labels} for name, labels in REORDERED.items()})
    predicted = run.predict(config, "reordered.jsonl")
    same_or_refused(predicted, run.root / "reordered.jsonl", run.predictions, Path.read_text, "topic", str(REORDERED["topic"]))
    tested, results = run.test(config, "reordered-test")
    same_or_refused(tested, results, run.metrics, lambda p: json.loads(p.read_text())["tasks"], "topic")
    # made right: say so
    assert predicted.returncode == 0 and "'topic': labels in the checkpoint's order" in predicted.stderr, predicted.stderr[-3000:]


def test_changed_training_data_does_not_retrain_the_tokenizer(run: Run) -> None:
    """A smaller training set (same test split) trains another tokenizer; the run's is used."""
    config = write_config(run.root / "changed.yaml", all={"max_train_examples": 150})
    predicted = run.predict(config, "changed.jsonl")
    same_or_refused(predicted, run.root / "changed.jsonl", run.predictions, Path.read_text, "tokenizer.json")
    tested, results = run.test(config, "changed-test")
    same_or_refused(tested, results, run.metrics, lambda p: json.loads(p.read_text())["tasks"], "tokenizer.json")
    assert predicted.returncode == 0 and str(run.dir / "tokenizer.json") in predicted.stderr, predicted.stderr[-3000:]


def test_renamed_labels_are_refused_naming_both_lists(run: Run) -> None:
    renamed = ["bad", "meh", "good"]
    config = write_config(run.root / "renamed.yaml", sentiment={"labels": renamed})
    done = run.predict(config, "renamed.jsonl")
    refusal(done, "'sentiment'", str(renamed), str(["negative", "neutral", "positive"]))
    assert not (run.root / "renamed.jsonl").exists()


def test_other_tasks_than_trained_are_refused(run: Run) -> None:
    done = run.predict(TINY, "one-task.jsonl", "--tasks", "[tags]")
    refusal(done, str(run.ckpt), "['tags']", "'sentiment'")


def test_a_missing_or_different_tokenizer_is_refused_naming_the_paths(run: Run, tmp_path: Path) -> None:
    copy = tmp_path / "copied_run"
    shutil.copytree(run.dir / "checkpoints", copy / "checkpoints")
    ckpt = copy / "checkpoints" / "last.ckpt"
    done = run.predict(TINY, "no-tokenizer.jsonl", ckpt=ckpt)
    refusal(done, str(copy / "tokenizer.json"), "does not exist")

    other = json.loads((run.dir / "tokenizer.json").read_text())  # another vocabulary: two tokens swapped
    vocab = other["model"]["vocab"]
    a, b = [token for token in vocab if not token.startswith("[")][:2]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (copy / "tokenizer.json").write_text(json.dumps(other))
    done = run.predict(TINY, "other-tokenizer.jsonl", ckpt=ckpt)
    refusal(done, str(copy / "tokenizer.json"), "another tokenizer")

    # the configured tokenizer is taken when it is the trained one
    done = run.predict(TINY, "configured.jsonl", "--data.tokenizer.path", str(run.dir / "tokenizer.json"), ckpt=ckpt)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run.root / "configured.jsonl").read_text() == run.predictions


# -- what predict writes -------------------------------------------------------------------
def test_blank_and_long_lines(run: Run) -> None:
    long = (["the", "coach", "loved", "the", "great", "match", "."] * 43)[:300]
    inputs = run.root / "mixed.txt"
    inputs.write_text(f"the coach loved the great match .\n\n{' '.join(long)}\n   \ni never liked this terrible phone .\n")
    done = run.predict(TINY, "mixed.jsonl", inputs=inputs)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (run.root / "mixed.jsonl").read_text().splitlines()]
    assert len(records) == 5
    baseline = [json.loads(line) for line in run.predictions.splitlines()]
    assert records[0] | {"index": 0} == baseline[0] and records[4] | {"index": 1} == baseline[1]
    for blank in (records[1], records[3]):  # no prediction, and a note
        assert blank["tags"] is None and blank["sentiment"] is None and blank["topic"] is None, blank
        assert blank["sentiment_probability"] is None and blank["note"]
    assert "lines 2, 4 are blank" in done.stderr, done.stderr[-3000:]
    # every word of the long line gets a tag: the LSTM reads it whole
    assert len(records[2]["tags"]) == 300 and None not in records[2]["tags"], records[2]["tags"][-60:]
    assert "truncated" not in records[2] and "note" not in records[2]


def test_a_length_limit_is_never_silent(run: Run) -> None:
    inputs = run.root / "limit.txt"
    words = ("the coach loved the great match " * 8).split()  # 48 words
    inputs.write_text(f"{' '.join(words)}\nthe coach loved the great match .\n")
    done = run.predict(TINY, "limit.jsonl", "--data.predict_max_length", "32", inputs=inputs)
    assert done.returncode == 0, done.stderr[-3000:]
    cut, whole = [json.loads(line) for line in (run.root / "limit.jsonl").read_text().splitlines()]
    assert "line 1 is longer than the 32 sub-word tokens" in done.stderr, done.stderr[-3000:]
    read = cut["truncated"]["words_read"]
    assert cut["truncated"] == {"words": 48, "words_read": read} and 0 < read <= 30
    assert len(cut["tags"]) == 48 and None not in cut["tags"][:read] and cut["tags"][read:] == [None] * (48 - read)
    assert f"{read} of 48 words" in cut["note"]
    assert "truncated" not in whole and len(whole["tags"]) == 7


@pytest.mark.parametrize(("name", "text"), [("empty.txt", ""), ("empty.jsonl", ""), ("blank.txt", "\n  \n")])
def test_an_input_file_without_inputs_is_a_clear_error(run: Run, name: str, text: str) -> None:
    inputs = run.root / name
    inputs.write_text(text)
    done = run.predict(TINY, f"{name}.out", inputs=inputs)
    stderr = refusal(done, str(inputs))
    assert "DatasetGenerationError" not in stderr and "StopIteration" not in stderr
    assert not (run.root / f"{name}.out").exists()


# -- the data module's own check (resume, or the Python API) ------------------------------------
def small_data(labels: list[str] | None = None) -> MultiTaskDataModule:
    source = {"path": "synthetic", "train": 60, "validation": 10, "test": 0, "seed": 0}
    return MultiTaskDataModule(
        [Task("topic", "classification", source, label="topic", labels=labels)],
        tokenizer=TokenizerSpec(vocab_size=200, min_frequency=1),
    )


def test_the_data_module_refuses_a_checkpoint_of_another_tokenizer_or_label_order(tmp_path: Path) -> None:
    trained = small_data()
    trained.prepare()
    state = trained.state_dict()
    assert state["task_labels"] == {"topic": trained.labels["topic"]}
    assert state["tokenizer"]["sha256"] and json.loads(state["tokenizer"]["json"])["model"]["vocab"]
    same = small_data()
    same.load_state_dict(state)  # the same tokenizer (cached) and labels: fine

    reordered = small_data(list(reversed(trained.labels["topic"])))
    with pytest.raises(DataError, match="'topic'.*trained with labels"):
        reordered.load_state_dict(state)
    with pytest.raises(DataError, match="another tokenizer"):
        same.load_state_dict(state | {"tokenizer": state["tokenizer"] | {"sha256": "0" * 64}})


def test_encoders_state_their_length_limit_and_inputs_count_their_words() -> None:
    from mtl.data.encoding import InputEncoder
    from mtl.data.tokenizer import train_tokenizer
    from mtl.encoders import CNNEncoder, LSTMEncoder, TransformerEncoder

    assert TransformerEncoder(50, dim=8, num_heads=2, positions="learned", max_positions=16).max_length == 16
    assert TransformerEncoder(50, dim=8, num_heads=2).max_length is None  # sinusoidal: any length
    assert LSTMEncoder(50).max_length is None and CNNEncoder(50).max_length is None

    tokenizer = train_tokenizer(["the coach loved the great match ."] * 5, TokenizerSpec(vocab_size=60, min_frequency=1))
    rows = {"text": ["the coach loved the great match .", "", None, "the coach " * 20]}
    whole = InputEncoder(tokenizer, "text", None, None)(rows, [0, 1, 2, 3])
    assert whole["words"] == [7, 0, 0, 40] and whole["words_read"] == [7, 0, 0, 40] and whole["blank"] == [0, 1, 1, 0]
    cut = InputEncoder(tokenizer, "text", None, 12)(rows, [0, 1, 2, 3])
    assert cut["words_read"][3] < 40 and max(cut["length"]) == 12
    assert cut["word_has_token"][3] == [1] * cut["words_read"][3] + [0] * (40 - cut["words_read"][3])
    spaced = InputEncoder(tokenizer, "text", None, None)({"text": [["the", " ", "coach", " "]]}, [0])
    assert spaced["words"] == [4] and spaced["words_read"] == [4] and spaced["word_has_token"] == [[1, 0, 1, 0]]


# -- how inputs become words, and what the output shows of them ------------------------------
def test_pre_split_words_are_tagged_as_given(run: Run) -> None:
    inputs = run.root / "words.jsonl"
    given = [["the", "coach", "loved", "the", "great", "match."], ["i", "never", "liked", "this", "phone", "."]]
    inputs.write_text("".join(json.dumps({"text": words}) + "\n" for words in given))
    done = run.predict(TINY, "words.out.jsonl", inputs=inputs)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (run.root / "words.out.jsonl").read_text().splitlines()]
    assert [r["words"] for r in records] == given and [r["text"] for r in records] == given
    assert [len(r["tags"]) for r in records] == [6, 6]
    assert "punctuation attached" not in done.stderr  # the words are as the user split them

    spaced = [given[0][:2] + [" "] + given[0][2:], given[1]]  # a lone space produces no sub-word token
    inputs.write_text("".join(json.dumps({"text": words}) + "\n" for words in spaced))
    done = run.predict(TINY, "spaced.out.jsonl", inputs=inputs)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = [json.loads(line) for line in (run.root / "spaced.out.jsonl").read_text().splitlines()]
    assert first["tags"] == records[0]["tags"][:2] + [None] + records[0]["tags"][2:]  # the others' tags stay at their words
    assert first["no_token"] == [2] and "truncated" not in first and "no sub-word token" in first["note"]
    assert second["tags"] == records[1]["tags"] and "no_token" not in second
    assert done.stderr.count("row 1 has words that produce no sub-word token") == 1, done.stderr[-3000:]


def test_punctuation_is_split_off_when_asked_and_said_when_not(run: Run) -> None:
    inputs = run.root / "punctuated.txt"
    inputs.write_text("the coach played on Tuesday.\n")
    done = run.predict(TINY, "whitespace.jsonl", inputs=inputs)
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [json.loads(line) for line in (run.root / "whitespace.jsonl").read_text().splitlines()]
    assert record["words"][-1] == "Tuesday." and len(record["tags"]) == 5
    assert done.stderr.count("1 input has words with punctuation attached (e.g. 'Tuesday.')") == 1, done.stderr[-3000:]
    assert "data.predict_words: punctuation" in done.stderr

    done = run.predict(TINY, "punctuation.jsonl", "--data.predict_words", "punctuation", inputs=inputs)
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [json.loads(line) for line in (run.root / "punctuation.jsonl").read_text().splitlines()]
    assert record["text"] == "the coach played on Tuesday."
    assert record["words"][-3:] == ["on", "Tuesday", "."] and len(record["tags"]) == 6
    assert "punctuation attached" not in done.stderr


PAIR_TASK = {
    "name": "same",
    "type": "classification",
    "head": {"class_path": "mtl.heads.ClassificationHead"},
    "source": {"path": "json", "data_files": {"train": "pairs.jsonl", "validation": "pairs.jsonl"}},
    "text": "first",
    "text_pair": "second",
    "label": "label",
}


def test_pair_outputs_show_both_texts_and_word_lists_are_refused_without_tagging(tmp_path: Path) -> None:
    pairs = [("a cat sat", "a cat sat", "yes"), ("a dog ran", "the sun", "no")] * 4
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps({"first": a, "second": b, "label": y}) + "\n" for a, b, y in pairs))
    (tmp_path / "pair.yaml").write_text(one_task_config(PAIR_TASK, logger=False))
    env = {"MTL_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    fit = mtl("fit", "-c", "pair.yaml", "--trainer.default_root_dir=runs/pair", cwd=tmp_path, env=env)
    assert fit.returncode == 0, fit.stderr[-3000:]
    (ckpt,) = tmp_path.glob("runs/**/last.ckpt")
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(json.dumps({"q": "a cat", "p": "the sun"}) + "\n")
    predict = ("predict", "-c", "pair.yaml", "--ckpt_path", str(ckpt), *QUIET, "--data.predict_file", str(inputs))
    done = mtl(
        *predict, "--data.predict_text=q", "--data.predict_text_pair=p", "--predictions.output=out.jsonl", cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert record["text"] == "a cat" and record["text_pair"] == "the sun" and record["same"] in ("yes", "no")
    assert "words" not in record  # no task tags

    inputs.write_text(json.dumps({"q": "a cat", "p": "the sun"}) + "\n" + json.dumps({"q": ["a", "cat"], "p": "x"}) + "\n")
    done = mtl(*predict, "--data.predict_text=q", "--data.predict_text_pair=p", cwd=tmp_path, env=env)
    stderr = refusal(done, str(inputs), "row 2, column 'q'", "holds a list of words", "give the text as one string")
    assert "Traceback" not in stderr
