"""Limits of the wire format are refused on the client, with asyncpg's class and message, before
anything is sent, and the connection stays usable (differential: asyncpg 0.32 is the oracle)."""

from __future__ import annotations

import pytest

from tests.differential.test_vs_asyncpg import run_both

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120), pytest.mark.differential]


def _placeholders(n: int) -> str:
    return "SELECT array_length(ARRAY[" + ",".join(f"${i}::int" for i in range(1, n + 1)) + "], 1)"


async def _too_many_then_usable(con, mod, n: int, params: int):
    try:
        await con.fetchval(_placeholders(params), *range(n))
    except Exception as exc:  # the outcome compared is the class and message, then the connection
        return (type(exc).__name__, str(exc).split("\n", 1)[0], await con.fetchval("SELECT 41 + 1"))
    return ("no error", None, await con.fetchval("SELECT 41 + 1"))


@pytest.mark.parametrize(("args", "params"), [(70_000, 70_000), (40_000, 1), (32_768, 32_768)])
async def test_too_many_arguments(pg_dsn, args: int, params: int) -> None:
    results = await run_both(pg_dsn, lambda c, m: _too_many_then_usable(c, m, args, params))
    assert results[0] == results[1]
    assert results[1] == (
        "ok",
        ("InterfaceError", "the number of query arguments cannot exceed 32767", 42),
    )


async def test_prepare_statement_with_70000_parameters(pg_dsn) -> None:
    """The server's ParameterDescription wraps the int16 count (70000 -> 4464): the body's length
    decides. This used to be "parameters is not drained" and a lost connection. asyncpg reads the
    wrapped count (4464 parameters) and ignores the rest of the message; we report all 70000."""

    async def scenario(con, mod):
        stmt = await con.prepare(_placeholders(70_000))
        return (len(stmt.get_parameters()), await con.fetchval("SELECT 42"))

    results = await run_both(pg_dsn, scenario)
    assert results == [("ok", (4464, 42)), ("ok", (70_000, 42))]
