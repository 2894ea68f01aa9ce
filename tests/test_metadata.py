"""Package metadata: one version number, the mirrored asyncpg version apart, classifiers."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re

import pytest

import asyncpg_rs

ROOT = pathlib.Path(__file__).resolve().parent.parent

try:
    import tomllib
except ImportError:  # Python < 3.11: pip's vendored copy (every venv has pip)
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]


def _cargo_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert match
    return match.group(1)


def test_version_is_the_distribution_version():
    assert asyncpg_rs.__version__ == _cargo_version()
    assert asyncpg_rs.__version__ != asyncpg_rs.asyncpg_version
    try:
        installed = importlib.metadata.version("asyncpg-rs")
    except importlib.metadata.PackageNotFoundError:
        return  # imported from the source tree (PYTHONPATH=python), not installed
    if pathlib.Path(asyncpg_rs.__file__).resolve().is_relative_to(ROOT):
        # `maturin develop` (editable) or the source tree: the metadata is this checkout's.
        assert installed == asyncpg_rs.__version__


def test_asyncpg_version_is_the_mirrored_release():
    asyncpg = pytest.importorskip("asyncpg")
    assert asyncpg_rs.asyncpg_version == "0.32.0"
    assert asyncpg_rs.asyncpg_version == asyncpg.__version__  # the test extra pins asyncpg


def test_classifiers_cover_supported_pythons():
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert project["requires-python"] == ">=3.9"
    classifiers = set(project["classifiers"])
    for minor in range(9, 15):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert project["license"] == "Apache-2.0"
    assert {"Homepage", "Repository", "Changelog"} <= set(project["urls"])
    assert (ROOT / "python" / "asyncpg_rs" / "py.typed").exists()
