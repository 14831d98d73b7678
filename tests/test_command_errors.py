"""What the ``mtl`` command says about a bad config, a bad data file or a bad cache: one
``error: ...`` line naming the file (and line, task, key) and the fix, no traceback, and
nothing created before a config error is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mtl.config_check import config_errors
from mtl.data.file_check import find_problem
from tests.command import ROOT, TINY, mtl

CONFIG = """\
seed_everything: 0
trainer: {{max_epochs: 1, enable_progress_bar: false, enable_model_summary: false}}
model:
  encoder: {{class_path: mtl.encoders.LSTMEncoder, init_args: {{embed_dim: 8, hidden_dim: 8, num_layers: 1}}}}
  heads:
    sentiment: {{class_path: {head}}}
data:
  batch_size: 2
  tokenizer: {{kind: wordpiece, vocab_size: 60, min_frequency: 1}}
  tasks:
    - name: sentiment
      type: {type}
      source: {{path: {builder}, data_files: {{train: {train}, validation: {validation}}}}}
"""

ROWS = "text,label\nhello world,1\nbad day,0\ngood day,1\nnice one,0\n"


def write_config(
    directory: Path,
    train: str = "train.csv",
    validation: str = "train.csv",
    builder: str = "csv",
    head: str = "mtl.heads.ClassificationHead",
    task_type: str = "classification",
    name: str = "tiny.yaml",
) -> Path:
    """A one-task config over CSV files in ``directory``, with the default loggers (a
    ``runs/`` folder and a W&B run appear as soon as the trainer is built)."""
    (directory / "train.csv").write_text(ROWS, encoding="utf-8")
    config = directory / name
    config.write_text(
        CONFIG.format(head=head, type=task_type, builder=builder, train=train, validation=validation), encoding="utf-8"
    )
    return config


def fails(directory: Path, *args: str, code: int, env: dict[str, str] | None = None) -> str:
    """Run ``mtl fit ARGS`` in ``directory``, expect exit ``code`` and one ``error:`` line
    with no traceback; the error line."""
    done = mtl("fit", *args, cwd=directory, timeout=120, env=env)
    assert done.returncode == code, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-3000:]
    return errors[0]


def assert_nothing_created(directory: Path) -> None:
    assert not (directory / "runs").exists()
    assert not (directory / "wandb").exists()


# -- config errors: exit 2, before anything is created -----------------------------------
def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  lr: [0.1\n  warmup: 0.2\n", encoding="utf-8")
    error = fails(tmp_path, "-c", str(config), "-c", "bad.yaml", code=2)
    assert error.startswith("error: bad.yaml:3:9: YAML syntax error: expected ',' or ']', but got ':'")
    assert "while parsing a flow sequence at line 2, column 7" in error
    assert_nothing_created(tmp_path)


@pytest.mark.parametrize("subcommand", ["test", "predict"])
def test_test_and_predict_without_trained_weights_are_refused(tmp_path: Path, subcommand: str) -> None:
    config = write_config(tmp_path)
    (tmp_path / "inputs.txt").write_text("hello world\n", encoding="utf-8")
    done = mtl(subcommand, "-c", str(config), "--data.predict_file=inputs.txt", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: mtl {subcommand} needs trained weights and none were given: add --ckpt_path "
        "runs/<run>/version_N/checkpoints/last.ckpt (or a best-*.ckpt); without them it would "
        f"{'predict' if subcommand == 'predict' else 'score'} with random weights"
    ], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert_nothing_created(tmp_path)


def test_misspelt_task_key_names_file_line_task_and_the_right_key(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text() + "      lable: label\n", encoding="utf-8")
    error = fails(tmp_path, "-c", str(config), code=2)
    assert f"{config}:14: task 'sentiment' (data.tasks[0]): unknown key 'lable'; did you mean 'label'?" in error
    assert "(Task takes: corruption, head, label, labels, local_source," in error
    assert_nothing_created(tmp_path)


def test_misspelt_head_argument_names_the_head_and_its_arguments(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "model:\n  heads:\n    sentiment:\n      class_path: mtl.heads.ClassificationHead\n      init_args: {poolin: max}\n",
        encoding="utf-8",
    )
    error = fails(tmp_path, "-c", str(config), "-c", "typo.yaml", code=2)
    assert "typo.yaml:5: model.heads.sentiment.init_args: unknown key 'poolin'; did you mean 'pooling'?" in error
    assert (
        "(ClassificationHead takes: activation, class_weights, dropout, hidden_dim, label_smoothing, metrics, pooling)" in error
    )
    assert_nothing_created(tmp_path)


def test_short_class_names_of_known_subclasses_are_accepted_as_the_parser_accepts_them(tmp_path: Path) -> None:
    short = tmp_path / "short.yaml"
    short.write_text("model:\n  heads:\n    tags: {class_path: TaggingHead}\n", encoding="utf-8")
    done = mtl(
        "fit", "-c", str(TINY), "-c", str(short), "--model.balancer.class_path", "PCGrad", "--print_config",
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    assert config["model"]["balancer"]["class_path"].endswith(".PCGrad")  # resolved to an import path
    assert config["model"]["heads"]["tags"]["class_path"].endswith(".TaggingHead")
    short.write_text("model:\n  heads:\n    tags: {class_path: TaggingHead, init_args: {dropot: 0.1}}\n", encoding="utf-8")
    error = fails(tmp_path, "-c", str(TINY), "-c", str(short), code=2)
    assert "short.yaml:3: model.heads.tags.init_args: unknown key 'dropot'; did you mean 'dropout'?" in error
    assert_nothing_created(tmp_path)


def test_an_unknown_short_class_name_gets_a_did_you_mean(tmp_path: Path) -> None:
    error = fails(tmp_path, "-c", str(TINY), "--model.balancer.class_path", "PCGrd", code=2)
    assert "model.balancer.class_path = 'PCGrd' names no known class" in error and "did you mean PCGrad?" in error
    assert_nothing_created(tmp_path)


def test_a_classification_head_on_a_regression_task_names_the_head_to_use(tmp_path: Path) -> None:
    config = write_config(tmp_path, task_type="regression")
    # With labels declared the head builds, and the old check in the module's setup came
    # after the run directory and the W&B run.
    config.write_text(config.read_text() + "      labels: [low, high]\n", encoding="utf-8")
    error = fails(tmp_path, "-c", str(config), code=2)
    assert error == (
        "error: task 'sentiment' is a regression task, but model.heads.sentiment is ClassificationHead, a head for "
        "classification tasks; use mtl.heads.RegressionHead or mtl.heads.PairRegressionHead (or change the task's type:)"
    )
    assert_nothing_created(tmp_path)


# -- data errors: exit 1, the file and line ----------------------------------------------
def test_latin1_csv_names_file_line_and_the_encoding_option(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes(b"text,label\nhello world,1\ncaf\xe9 ol\xe9,0\n")
    config = write_config(tmp_path, train="latin.csv")
    error = fails(tmp_path, "-c", str(config), code=1)
    assert error.startswith("error: task 'sentiment': latin.csv:3 (split 'train'): not valid utf-8 (byte 0xe9 at column 4)")
    assert "iconv -f latin1 -t utf-8 latin.csv" in error
    assert "`encoding: latin-1`" in error


def test_latin1_json_lines_names_file_line_and_the_encoding_option(tmp_path: Path) -> None:
    (tmp_path / "good.jsonl").write_text('{"text": "hello", "label": 1}\n{"text": "bye", "label": 0}\n')
    (tmp_path / "latin.jsonl").write_bytes(b'{"text": "hello", "label": 1}\n{"text": "caf\xe9", "label": 0}\n')
    config = write_config(tmp_path, train="latin.jsonl", validation="good.jsonl", builder="json")
    error = fails(tmp_path, "-c", str(config), code=1)
    assert error.startswith("error: task 'sentiment': latin.jsonl:2 (split 'train'): not valid utf-8 (byte 0xe9")
    assert "`encoding: latin-1`" in error


def test_the_encoding_option_reads_a_latin1_file(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes(b"text,label\nhello world,1\ncaf\xe9 ol\xe9,0\nbad day,1\nnice one,0\n")
    config = write_config(tmp_path, train="latin.csv")
    config.write_text(config.read_text().replace("{path: csv,", "{path: csv, encoding: latin-1,"), encoding="utf-8")
    done = mtl("fit", "-c", str(config), "--trainer.fast_dev_run=true", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_header_only_file_is_named_with_task_and_split(tmp_path: Path, suffix: str) -> None:
    separator = "," if suffix == "csv" else "\t"
    (tmp_path / f"header.{suffix}").write_text(f"text{separator}label\n", encoding="utf-8")
    config = write_config(tmp_path, validation=f"header.{suffix}")
    if suffix == "tsv":
        config.write_text(config.read_text().replace("{path: csv,", '{path: csv, delimiter: "\\t",'), encoding="utf-8")
        (tmp_path / "train.csv").write_text(ROWS.replace(",", "\t"), encoding="utf-8")
    error = fails(tmp_path, "-c", str(config), code=1)
    assert error == (
        f"error: task 'sentiment': header.{suffix} (split 'validation'): the file has a header but no rows; "
        "add rows or remove it from `source.data_files`"
    )


def test_ragged_csv_row_is_named_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text("text,label\nhello world,1\nbad day,0,extra\ngood day,1\n", encoding="utf-8")
    config = write_config(tmp_path, validation="[train.csv, ragged.csv]")
    error = fails(tmp_path, "-c", str(config), code=1)
    assert error == (
        "error: task 'sentiment': ragged.csv:3 (split 'validation'): 3 fields where the header has 2: "
        "'bad day,0,extra'; quote a field that contains the delimiter ',', or fix the row"
    )


def test_empty_file_among_several_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    config = write_config(tmp_path, train="[train.csv, empty.csv]")
    error = fails(tmp_path, "-c", str(config), code=1)
    assert error == (
        "error: task 'sentiment': empty.csv (split 'train'): the file is empty; fill it or remove it from `source.data_files`"
    )


# -- the tokenizer cache -----------------------------------------------------------------
def test_a_damaged_cached_tokenizer_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    env = {"MTL_CACHE": str(tmp_path / "cache")}
    config = write_config(tmp_path)
    first = mtl("fit", "-c", str(config), "--trainer.fast_dev_run=true", cwd=tmp_path, timeout=120, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    [cached] = (tmp_path / "cache" / "tokenizers").glob("*.json")
    cached.write_text(cached.read_text()[:300], encoding="utf-8")  # as a full disk or a killed copy leaves it
    again = mtl("fit", "-c", str(config), "--trainer.fast_dev_run=true", cwd=tmp_path, timeout=120, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    warning = next(line for line in again.stderr.splitlines() if "cached tokenizer" in line)
    assert f"cached tokenizer {cached} is unusable (EOF while parsing" in warning
    assert warning.endswith("training a new one in its place")
    assert json.loads(cached.read_text())["model"]["vocab"]  # rebuilt: later runs read it


def test_a_damaged_tokenizer_given_by_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": {"vocab": {"[PAD]', encoding="utf-8")
    config = write_config(tmp_path)
    error = fails(tmp_path, "-c", str(config), "--data.tokenizer.path=tokenizer.json", code=1)
    assert error.startswith("error: tokenizer file 'tokenizer.json' cannot be read (EOF while parsing")
    assert "point data.tokenizer.path at a valid one, or delete this file" in error
    assert (tmp_path / "tokenizer.json").read_text().endswith("[PAD]")  # a user's file is never overwritten


# -- the checks themselves, in-process ----------------------------------------------------
@pytest.mark.parametrize("config", [*sorted((ROOT / "experiments").rglob("*.yaml")), TINY], ids=lambda p: p.name)
def test_every_shipped_config_passes_the_config_check(config: Path) -> None:
    assert config_errors(["fit", "-c", str(config)]) == []


def test_bad_json_is_named_with_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rows.jsonl").write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0\n', encoding="utf-8")
    Path("doc.json").write_text('[\n {"text": "a", "label": 1},\n {"text": "b" "label": 0}\n]\n', encoding="utf-8")
    assert find_problem({"path": "json"}, {"train": ["rows.jsonl"]}) == (
        "rows.jsonl:2 (split 'train'): not a valid JSON line at column 25 (Expecting ',' delimiter); "
        "write one JSON object per line"
    )
    assert find_problem({"path": "json"}, {"validation": ["doc.json"]}) == (
        "doc.json:3 (split 'validation'): not valid JSON at column 15 (Expecting ',' delimiter); fix the file"
    )


def test_a_conllu_file_in_latin1_is_named_with_the_iconv_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ud.conllu").write_bytes(b"# text = caf\xe9\n1\tcaf\xe9\t_\t_\t_\t_\t0\troot\t_\t_\n\n")
    assert find_problem({"path": "conllu"}, {"train": ["ud.conllu"]}) == (
        "ud.conllu:1 (split 'train'): not valid utf-8 (byte 0xe9 at column 13); "
        "re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8 ud.conllu > ud.utf8.conllu)"
    )


def test_a_valid_file_has_no_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("glue.tsv").write_text('sentence\tlabel\nit "works\t1\nfine\t0\n', encoding="utf-8")
    assert find_problem({"path": "csv", "delimiter": "\t", "quoting": 3}, {"train": ["glue.tsv"]}) is None
