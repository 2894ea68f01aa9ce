"""``mypy --strict`` on user code of the extensions (tests/beyond/typing_samples/extensions_program.py):
named parameters, json_objects/row_format, stats and tracers are typed, not ``Any``."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (it is in the test extra)")

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _mypy(source: pathlib.Path) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent"]
        + ["--no-error-summary", "--show-error-codes", "--cache-dir", str(ROOT / ".mypy_cache")]
        + ["--config-file", os.devnull, str(source)],
        capture_output=True,
        check=False,
        text=True,
        env=dict(os.environ, MYPYPATH=str(ROOT / "python")),
        cwd=ROOT,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_extensions_are_clean_under_mypy_strict():
    code, output = _mypy(HERE / "typing_samples" / "extensions_program.py")
    assert code == 0, output


def test_a_wrong_use_is_reported(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import asyncpg_rs\n"
        "async def f(con: asyncpg_rs.Connection) -> None:\n"
        "    n: str = con.get_stats().rows\n"
        "    await con.named.fetch('SELECT :a', [1])\n"
    )
    code, output = _mypy(bad)
    assert code == 1
    assert "[assignment]" in output and "[arg-type]" in output, output
