"""requirements.lock pins every dependency pyproject.toml names, within its bounds, as installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        names += extra
    return [Requirement(spec) for spec in names]


def test_every_declared_dependency_is_pinned_within_its_bounds():
    pins = _locked()
    declared = _declared()
    assert len(declared) >= 15
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: regenerate it"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_the_installed_dependencies_are_the_locked_ones():
    pins = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert metadata.version(name) == pins[name], f"{name}: run make test to reinstall"
