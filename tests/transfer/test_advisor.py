"""The strategy advisor: four constructed cases land in their quadrants, from numbers it
measures itself; `mtl advise` prints them; `strategy: auto` applies the advice."""

from __future__ import annotations

from pathlib import Path

import pytest
from command import mtl

from mtl.cli import main
from mtl.data.tokenizer import load_tokenizer
from mtl.transfer import Thresholds, Transfer, load_source_run, recommend
from mtl.transfer.advise_command import source_encoder
from mtl.transfer.advisor import Measures
from mtl.transfer.measure import advise_for_datamodule, datamodule_from_config, representation_distances
from tests.transfer.test_strategies import fit, target_data, target_model

THRESHOLDS = Thresholds(small_data=100, max_unk_rate=0.05, max_distance=0.5)


def test_recommend_maps_the_four_cases_to_their_strategies() -> None:
    def measures(size: int, unk: float, distance: float) -> Measures:
        return Measures(size, unk, 1.2, 1.1, distance, 0.1)

    cases = {
        (50, 0.0, 0.1): ("freeze", True, True),
        (500, 0.0, 0.1): ("finetune", False, True),
        (50, 0.4, 0.1): ("freeze_lower", True, False),  # many unknown tokens
        (50, 0.0, 2.0): ("freeze_lower", True, False),  # far representations
        (500, 0.4, 2.0): ("gradual_unfreeze", False, False),
    }
    for (size, unk, distance), (strategy, small, similar) in cases.items():
        advice = recommend(measures(size, unk, distance), THRESHOLDS)
        assert (advice.strategy, advice.small, advice.similar) == (strategy, small, similar)
    table = recommend(measures(50, 0.0, 0.1), THRESHOLDS).table()
    assert "| target training rows | 50 | small below 100 | small |" in table
    assert "case: small data, similar -> strategy: freeze" in table


def test_representation_distance_is_zero_for_equal_sets_and_grows_with_a_shift() -> None:
    import torch

    x = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    assert representation_distances(x, x) == pytest.approx((0.0, 0.0), abs=1e-6)
    near, _ = representation_distances(x, x + 0.1)
    far, _ = representation_distances(x, x * 3 + 2)
    assert 0 < near < 0.05 < 1 < far


@pytest.mark.parametrize(
    "target, strategy",
    [("english_20", "freeze"), ("english_300", "finetune"), ("korean_20", "freeze_lower"), ("korean_300", "gradual_unfreeze")],
)
def test_measured_cases_land_in_their_quadrants(source_run: Path, korean_and_english: dict, target: str, strategy: str) -> None:
    source = load_source_run(source_run)
    data = {"tasks": [{"name": "t", "type": "classification", "source": {"path": "json", "data_files": {"train": str(korean_and_english[target])}}, "splits": {"train": "train"}}]}  # fmt: skip
    target_module = datamodule_from_config(data, str(source.tokenizer_path))
    advice = advise_for_datamodule(source, source_encoder(source), target_module, THRESHOLDS, sample=300)
    assert advice.strategy == strategy, advice.table()
    if target.startswith("korean"):
        assert advice.measures.unk_rate > 0.9  # Hangul is unknown to an English tokenizer
        assert advice.measures.distance > 2 * THRESHOLDS.max_distance  # and far in representation
    else:
        assert advice.measures.unk_rate < 0.01 and advice.measures.distance < THRESHOLDS.max_distance


@pytest.mark.parametrize("declared", ["type: classification", "head: {class_path: ClassificationHead}"])  # type or head
def test_mtl_advise_prints_the_table(source_run: Path, korean_and_english: dict, tmp_path: Path, capsys, declared: str) -> None:
    config = tmp_path / "target.yaml"
    config.write_text(
        f"data:\n  tasks:\n    - name: reviews\n      {declared}\n      splits: {{train: train}}\n"
        f"      source: {{path: json, data_files: {{train: {korean_and_english['korean_300']}}}}}\n"
    )
    main(["advise", "--source", str(source_run), "-c", str(config), "--small_data", "100", "--sample", "200"])
    out = capsys.readouterr().out
    assert "| [UNK] rate of target tokens |" in out and "| target training rows | 300 |" in out
    assert "case: large data, dissimilar -> strategy: gradual_unfreeze" in out
    assert "--model.transfer.strategy gradual_unfreeze" in out


def test_strategy_auto_applies_the_advice_before_training(source_run: Path) -> None:
    data = target_data(source_run, rows=48)
    model = target_model(data, Transfer(str(source_run), strategy="auto", advice=THRESHOLDS))
    assert model.transfer.chosen is None and all(p.requires_grad for p in model.encoder.parameters())
    fit(model, data)
    assert model.transfer.chosen == "freeze"  # 48 rows of the source's own kind of text
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert load_tokenizer(data.tokenizer_path).get_vocab_size() == data.vocab_size


def test_mtl_advise_for_some_of_the_tasks(source_run: Path, korean_and_english: dict, tmp_path: Path, capsys) -> None:
    config = tmp_path / "target.yaml"
    task = "    - name: {}\n      type: classification\n      splits: {{train: train}}\n      source: {{path: json, data_files: {{train: {}}}}}\n"
    config.write_text(
        "data:\n  tasks:\n"
        + task.format("a", korean_and_english["korean_300"])
        + task.format("b", korean_and_english["korean_300"])
    )
    common = ["advise", "--source", str(source_run), "-c", str(config), "--small_data", "100", "--sample", "200"]
    main(common)
    assert "| target training rows | 600 |" in capsys.readouterr().out  # both tasks
    main([*common, "--tasks", "b"])
    assert "| target training rows | 300 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"unknown task\(s\) \['c'\]; the config's tasks are \['a', 'b'\]"):
        main([*common, "--tasks", "c"])


def test_mtl_advise_command_recommends_a_strategy(source_run: Path, korean_and_english: dict, tmp_path: Path) -> None:
    """The README's `mtl advise --source CKPT -c target.yaml --tasks T` as a user runs it."""
    config = tmp_path / "target.yaml"
    task = "    - name: {}\n      type: classification\n      splits: {{train: train}}\n      source: {{path: json, data_files: {{train: {}}}}}\n"
    config.write_text(
        "data:\n  tasks:\n"
        + task.format("a", korean_and_english["english_20"])
        + task.format("b", korean_and_english["korean_300"])
    )
    done = mtl(
        "advise",
        "--source",
        str(source_run),
        "-c",
        str(config),
        "--tasks",
        "a",
        "--small_data",
        "100",
        "--sample",
        "200",
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| target training rows | 20 |" in done.stdout
    assert "case: small data, similar -> strategy: freeze" in done.stdout
