"""``requirements.lock``: every dependency of ``pyproject.toml`` (and of the extras ``make
setup`` installs) at one version inside its range, and the environment ``make setup`` built
holds exactly those versions."""

from __future__ import annotations

import tomllib
from importlib import metadata

from command import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EXTRAS = ("test", "pretrained", "vectors")  # the Makefile's EXTRAS


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(p) == 2 for p in pins), [p for p in pins if len(p) != 2]  # name==version only
    return {canonicalize_name(name): version for name, version in pins}


def test_every_dependency_is_locked_inside_its_range_and_torch_is_not() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for extra in EXTRAS for r in project["optional-dependencies"][extra]]
    pins = locked()
    assert "torch" not in pins  # pinned in one place: constraints.txt
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name == "torch":
            continue
        assert name in pins, f"{requirement.name} is not in requirements.lock; run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])


def test_the_environment_holds_the_locked_versions() -> None:
    different = {}
    for name, version in locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            different[name] = (version, installed)
    assert not different, f"locked vs installed (make setup installs the lock): {different}"
