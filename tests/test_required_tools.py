"""tests/fixtures/tools.py: a missing optional tool skips with the install command, fails under CI."""

from __future__ import annotations

import pytest

from tests.fixtures import tools


@pytest.fixture
def no_pgbouncer(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(tools.os, "access", lambda path, mode: False)


def test_missing_tool_skips_with_install_command(no_pgbouncer, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install pgbouncer"):
        tools.require_tool("pgbouncer")


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_tool_fails_under_ci(no_pgbouncer, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"pgbouncer is not installed.*CI=true"):
        tools.require_tool("pgbouncer")


def test_ci_false_still_skips(no_pgbouncer, monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        tools.require_tool("pgbouncer")


def test_present_tool_is_found(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert tools.require_tool("pgbouncer") == "/opt/bin/pgbouncer"
