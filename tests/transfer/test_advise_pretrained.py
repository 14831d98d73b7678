"""`mtl advise --source <pretrained model>`: the target's text read with the model's own
tokenizer, judged by unknown tokens and sub-words per word, or by the representation
distance to reference text (`--reference`); an unavailable model is one `error:` line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from command import TINY, mtl

from mtl.cli import main


def target_config(directory: Path, train: str | Path) -> Path:
    """A target experiment of one classification task on the JSON-lines file ``train``."""
    config = directory / "target.yaml"
    config.write_text(
        "data:\n  tasks:\n    - name: reviews\n      type: classification\n      splits: {train: train}\n"
        f"      source: {{path: json, data_files: {{train: {train}}}}}\n"
    )
    return config


def advise(capsys, *args: str) -> str:
    main(["advise", *args])
    return capsys.readouterr().out


def test_mtl_advise_command_with_a_pretrained_model_directory(tiny_pretrained, tmp_path: Path) -> None:
    """The demo's synthetic text is far from the tiny model's sixteen training words: its
    WordPiece tokenizer (75 pieces) spells most words out in several pieces."""
    done = mtl("advise", "--source", str(tiny_pretrained("bert")), "-c", str(TINY), "--small_data", "5000", cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "| target training rows | 1200 | small below 5000 | small |" in out  # 3 tasks x 400 rows
    assert "| representation distance (Frechet) | not measured |  |  |" in out
    assert "| CORAL distance (info) | not measured |  |  |" in out
    fertility = next(line for line in out.splitlines() if line.startswith("| sub-words per word"))
    assert fertility.endswith("| similar up to 2.0 | dissimilar |") and " / - |" in fertility
    assert float(fertility.split("|")[2].split("/")[0]) > 2.0
    assert (
        "similarity judged by: [UNK] rate and sub-words per word; the representation distance was not measured: "
        "a pretrained model has no source text of its own to compare with; give reference text of the kind it was "
        "trained on with --reference FILE"
    ) in out
    assert "case: small data, dissimilar -> strategy: freeze_lower" in out
    assert "apply it with: --model.transfer.strategy freeze_lower (" in out
    assert "--model.transfer.checkpoint" not in out  # the encoder names the model


@pytest.mark.parametrize(
    "small_data, max_fertility, case",
    [
        ("1000", "10", "small data, similar -> strategy: freeze"),
        ("100", "10", "large data, similar -> strategy: finetune"),
        ("1000", "1", "small data, dissimilar -> strategy: freeze_lower"),
        ("100", "1", "large data, dissimilar -> strategy: gradual_unfreeze"),
    ],
)
def test_small_or_large_and_near_or_far_by_the_thresholds(
    tiny_pretrained, tiny_corpus, tmp_path: Path, capsys, small_data: str, max_fertility: str, case: str
) -> None:
    """240 rows of the model's own words: no unknown token, but its 75 word pieces spell
    some of them out (cat: c ##a ##t), more than one sub-word per word."""
    config = target_config(tmp_path, tiny_corpus["train"])
    source = str(tiny_pretrained("bert"))
    out = advise(capsys, "--source", source, "-c", str(config), "--small_data", small_data, "--max_fertility", max_fertility)
    assert f"| target training rows | 240 | small below {small_data} |" in out
    assert "| [UNK] rate of target tokens | 0.0000 | similar up to 0.05 | similar |" in out
    assert f"case: {case}" in out


def test_unknown_share_counts_the_models_own_unknown_token_and_reference_text_measures_the_distance(
    tiny_pretrained, tmp_path: Path, capsys
) -> None:
    """RoBERTa's unknown token is ``<unk>`` (a WikiText-style text writes it literally):
    "<unk>", "the", "cat", "dog" are one token each, one of the four unknown."""
    texts = ["<unk>", "the", "cat", "dog"]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text": t, "label": str(i % 2)}) + "\n" for i, t in enumerate(texts)))
    config = target_config(tmp_path, train)
    common = ["--source", str(tiny_pretrained("roberta")), "-c", str(config), "--small_data", "100"]
    out = advise(capsys, *common)
    assert "| [UNK] rate of target tokens | 0.2500 | similar up to 0.05 | dissimilar |" in out
    assert "| sub-words per word, target / source | 1.00 / - | similar up to 2.0 | similar |" in out
    assert "case: small data, dissimilar -> strategy: freeze_lower" in out

    same, other = tmp_path / "same.txt", tmp_path / "other.txt"
    same.write_text("\n".join(reversed(texts)) + "\n\n")  # the target's own texts: no distance at all
    other.write_text("the big red dog runs quickly\na small blue cat sleeps\ngood dog\nbad cat slowly\n")
    out = advise(capsys, *common, "--reference", str(same))
    assert "| representation distance (Frechet) | 0.0000 | similar up to 0.5 | similar |" in out
    assert "| CORAL distance (info) | 0.0000 |  |  |" in out
    assert "| sub-words per word, target / source | 1.00 / 1.00 |  |  |" in out
    assert "similarity judged by: [UNK] rate and representation distance\n" in out and "not measured" not in out
    assert "case: small data, dissimilar -> strategy: freeze_lower" in out  # the <unk> share still decides
    out = advise(capsys, *common, "--reference", str(other), "--max_unk_rate", "0.3")
    frechet = next(line for line in out.splitlines() if line.startswith("| representation distance"))
    assert float(frechet.split("|")[2]) > 0.0


def test_english_text_is_close_to_all_minilm_l6_v2(minilm: str, tiny_corpus, tmp_path: Path, capsys) -> None:
    """The installed package's model by ``package:`` name: its 30,522 English word pieces
    know every word of the corpus whole."""
    out = advise(capsys, "--source", minilm, "-c", str(target_config(tmp_path, tiny_corpus["train"])), "--small_data", "100")
    assert "| [UNK] rate of target tokens | 0.0000 | similar up to 0.05 | similar |" in out
    assert "| sub-words per word, target / source | 1.00 / - | similar up to 2.0 | similar |" in out
    assert "case: large data, similar -> strategy: finetune" in out


def test_a_directory_that_is_no_model_and_too_little_reference_text_are_refused(
    tiny_pretrained, tiny_corpus, tmp_path: Path
) -> None:
    config = target_config(tmp_path, tiny_corpus["train"])
    run_dir = tmp_path / "runs" / "a" / "version_0"  # a run's folder given instead of its checkpoint
    run_dir.mkdir(parents=True)
    with pytest.raises(SystemExit, match="is a directory without config.json, not a pretrained model"):
        main(["advise", "--source", str(run_dir), "-c", str(config)])
    reference = tmp_path / "reference.txt"
    reference.write_text("one line\n\n")
    with pytest.raises(SystemExit, match="the reference text has 1 non-empty line"):
        main(["advise", "--source", str(tiny_pretrained("bert")), "-c", str(config), "--reference", str(reference)])


def test_an_unavailable_hub_model_is_one_error_line(tmp_path: Path) -> None:
    done = mtl("advise", "--source", "some-org/no-such-model", "-c", str(TINY), cwd=tmp_path, timeout=300, env={"HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "'some-org/no-such-model' is not on this machine" in last, done.stderr[-3000:]


def test_reference_text_is_for_a_pretrained_source_only(source_run: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference.txt"
    reference.write_text("a text\nanother text\n")
    with pytest.raises(SystemExit, match="--reference is for a pretrained source"):
        main(["advise", "--source", str(source_run), "-c", str(TINY), "--reference", str(reference)])
