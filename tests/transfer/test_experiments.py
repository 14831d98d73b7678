"""The transfer experiments fit their sources: the same encoder, the source's run directory
and tokenizer. (tests/test_cli.py instantiates every experiment.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from mtl.transfer.transfer import STRATEGIES, Transfer

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
PAIRS = [
    ("glue_dae", "glue_from_dae"),
    ("nsmc_dae", "nsmc_from_dae"),
    ("ud_ewt", "ud_to_cola"),
]
UD_TO_COLA = sorted((EXPERIMENTS / "ud_to_cola").glob("*.yaml"))


def load(name: str) -> dict:
    return yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text())


@pytest.mark.parametrize("source, target", PAIRS, ids=[t for _, t in PAIRS])
def test_transfer_experiment_reads_its_source_run_with_the_same_encoder(source: str, target: str) -> None:
    src, tgt = load(source), load(target)
    assert tgt["model"]["encoder"] == src["model"]["encoder"]
    assert tgt["model"]["transfer"]["checkpoint"] == f"runs/{source}/version_0/checkpoints/last.ckpt"
    assert "tokenizer" not in tgt["data"]  # the source run's tokenizer.json, filled in by the CLI


def test_the_pretraining_configs_are_self_supervised_over_the_target_text() -> None:
    glue, dae = load("glue"), load("glue_dae")
    assert [t["type"] for t in dae["data"]["tasks"]] == ["denoising", "mlm", "mlm", "mlm", "mlm"]
    assert [t["local_source"] for t in dae["data"]["tasks"]] == [t["local_source"] for t in glue["data"]["tasks"]]
    assert dae["data"]["tokenizer"] == glue["data"]["tokenizer"]
    nsmc, nsmc_dae = load("nsmc"), load("nsmc_dae")
    assert nsmc_dae["data"]["tasks"][0]["source"] == nsmc["data"]["tasks"][0]["source"]
    assert nsmc_dae["data"]["tasks"][0]["type"] == "denoising"


@pytest.mark.parametrize("fragment", UD_TO_COLA, ids=[p.stem for p in UD_TO_COLA])
def test_every_ud_to_cola_fragment_sets_one_valid_strategy(fragment: Path) -> None:
    """Each fragment changes only ``model.transfer`` and names its own file's strategy."""
    settings = yaml.safe_load(fragment.read_text())
    assert list(settings) == ["model"] and list(settings["model"]) == ["transfer"]
    merged = load("ud_to_cola")["model"]["transfer"] | settings["model"]["transfer"]
    assert set(merged) <= {f.name for f in dataclasses.fields(Transfer)}, "a key Transfer does not take"
    assert merged["strategy"] == fragment.stem and fragment.stem in STRATEGIES
    assert merged["checkpoint"] == "runs/ud_ewt/version_0/checkpoints/last.ckpt"


def test_ud_to_cola_has_a_scratch_baseline_beside_the_transfer_strategies() -> None:
    assert {p.stem for p in UD_TO_COLA} == {"scratch", "freeze", "freeze_lower", "finetune"}
