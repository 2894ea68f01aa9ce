"""Typing as a user sees it: ``mypy --strict`` on a realistic program reports nothing, and on
wrong uses it reports exactly the expected errors (so the types are not ``Any``)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (it is in the test extra)")

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _mypy(program: str) -> tuple[int, str]:
    env = dict(os.environ, MYPYPATH=str(ROOT / "python"))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(HERE / "mypy.ini")]
        + ["--cache-dir", str(ROOT / ".mypy_cache"), "--no-error-summary", "--show-error-codes"]
        + [str(HERE / program)],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.slow
def test_user_program_is_clean_under_mypy_strict():
    code, output = _mypy("user_program.py")
    assert code == 0, output


@pytest.mark.slow
def test_wrong_uses_are_rejected():
    code, output = _mypy("bad_program.py")
    source = (HERE / "bad_program.py").read_text().splitlines()
    expected = {
        (lineno, m.group(1))
        for lineno, line in enumerate(source, 1)
        if (m := re.search(r"# E: ([a-z-]+)$", line))
    }
    found = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(
            r"bad_program\.py:(\d+): error: .*\[([a-z-]+)\]$", output, re.MULTILINE
        )
    }
    assert code == 1
    assert found == expected, output
