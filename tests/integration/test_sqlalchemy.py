"""SQLAlchemy's ``postgresql+asyncpg`` dialect on asyncpg_rs, compared with the real asyncpg.

The scenarios live in ``sa_scenarios.py`` and run in two subprocesses at once, one per driver
(asyncpg_rs is put in place of ``asyncpg`` with ``asyncpg_rs.install_as_asyncpg()``), each in
its own schema. Every scenario checks its own expectations; the test for it then requires that
asyncpg_rs passed and that its summary equals the one the real asyncpg produced.
Subprocesses keep this process's ``sys.modules["asyncpg"]`` the real driver for other tests.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", minversion="2.0")
pytest.importorskip("greenlet")

HERE = pathlib.Path(__file__).parent
RUNNER = HERE / "sa_scenarios.py"
SCENARIOS = re.findall(r"^@scenario\nasync def (\w+)", RUNNER.read_text(), flags=re.MULTILINE)
DRIVERS = ("asyncpg", "asyncpg_rs")
RUN_TIMEOUT = 150


def _env() -> dict[str, str]:
    """This process's import path, so the subprocess finds the same asyncpg_rs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


@pytest.fixture(scope="module")
def reports(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{driver: {scenario: {"ok": summary} | {"error": text}}}`` from one run per driver."""
    out_dir = tmp_path_factory.mktemp("sqlalchemy")
    procs = {}
    for driver in DRIVERS:
        schema = f"sa_it_{driver}_{os.getpid()}"
        out = out_dir / f"{driver}.json"
        cmd = [sys.executable, str(RUNNER), driver, pg_dsn, schema, str(out)]
        procs[driver] = (
            subprocess.Popen(
                cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ),
            out,
        )
    result: dict[str, Any] = {}
    for driver, (proc, out) in procs.items():
        try:
            output, _ = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            output = f"timed out after {RUN_TIMEOUT} s\n{output}"
        if proc.returncode == 0 and out.exists():
            result[driver] = json.loads(out.read_text())
        else:
            # A crash (or hang) of the whole run fails every scenario with its output.
            failure = {"error": f"runner exited {proc.returncode}:\n{output[-6000:]}"}
            result[driver] = dict.fromkeys(SCENARIOS, failure)
    return result


def test_scenarios_found() -> None:
    assert len(SCENARIOS) >= 15, SCENARIOS


@pytest.mark.differential
@pytest.mark.parametrize("name", SCENARIOS)
def test_sqlalchemy_scenario(reports: dict[str, Any], name: str) -> None:
    ours = reports["asyncpg_rs"].get(name, {"error": "scenario did not run"})
    ref = reports["asyncpg"].get(name, {"error": "scenario did not run"})
    assert "error" not in ours, f"asyncpg_rs failed {name}:\n{ours['error']}"
    assert "error" not in ref, f"the reference asyncpg failed {name}:\n{ref['error']}"
    assert ours["ok"] == ref["ok"], (
        f"{name}: asyncpg_rs and asyncpg differ\n"
        f"asyncpg_rs: {json.dumps(ours['ok'], sort_keys=True)}\n"
        f"asyncpg:    {json.dumps(ref['ok'], sort_keys=True)}"
    )


ALIAS_CHECK = textwrap.dedent(
    """
    import sys, uuid
    import asyncpg as real            # imported first on purpose: the alias must still win
    import asyncpg.cluster
    import asyncpg_rs
    asyncpg_rs.install_as_asyncpg()
    asyncpg_rs.install_as_asyncpg()   # idempotent
    import asyncpg
    assert asyncpg is asyncpg_rs and real is not asyncpg_rs
    # The alias is asyncpg_rs itself, so it reports asyncpg-rs's own version (docs/migrating.md)
    assert asyncpg.__version__ == asyncpg_rs.__version__ != real.__version__
    import asyncpg.exceptions, asyncpg.pool, asyncpg.connection, asyncpg.types
    import asyncpg.cursor, asyncpg.prepared_stmt, asyncpg.transaction, asyncpg.utils
    import asyncpg.serverversion, asyncpg.cluster, asyncpg.connect_utils
    for name in ("exceptions", "pool", "connection", "types", "cursor", "prepared_stmt",
                 "transaction", "utils", "serverversion", "cluster", "connect_utils"):
        assert sys.modules["asyncpg." + name] is sys.modules["asyncpg_rs." + name], name
        assert getattr(asyncpg, name) is sys.modules["asyncpg_rs." + name], name
    from asyncpg.exceptions import UniqueViolationError, PostgresError
    assert UniqueViolationError is asyncpg_rs.UniqueViolationError
    from asyncpg.pool import Pool
    assert Pool is asyncpg_rs.Pool
    import asyncpg.pgproto.pgproto
    from asyncpg.pgproto import pgproto
    assert asyncpg.pgproto.pgproto is pgproto and pgproto.UUID is uuid.UUID
    assert isinstance(uuid.uuid4(), asyncpg.pgproto.pgproto.UUID)
    from asyncpg.pgproto.types import Point
    assert Point is asyncpg_rs.Point
    try:
        import asyncpg._testbase
    except ImportError:
        pass
    else:
        assert asyncpg._testbase is sys.modules["asyncpg_rs._testbase"]
    try:
        import asyncpg.no_such_module
    except ImportError:
        pass
    else:
        raise AssertionError("asyncpg.no_such_module imported")
    print("alias ok")
    """
)


def test_install_as_asyncpg_aliases_submodules() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", ALIAS_CHECK],
        check=False,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "alias ok" in proc.stdout, proc.stdout + proc.stderr


def test_this_process_keeps_the_real_asyncpg() -> None:
    import asyncpg

    assert asyncpg.__name__ == "asyncpg" and "asyncpg_rs" not in asyncpg.__file__
