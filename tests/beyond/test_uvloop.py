"""asyncpg users often run uvloop: the Rust protocol must work with its transports too."""

from __future__ import annotations

import asyncio
import io

import pytest

import asyncpg_rs

# uvloop has no Windows build (the test extra skips it there).
uvloop = pytest.importorskip("uvloop")


async def _scenario(dsn: str) -> list[object]:
    out: list[object] = []
    con = await asyncpg_rs.connect(dsn)
    try:
        out.append(await con.fetchval("SELECT 1"))
        out.append(len(await con.fetch("SELECT generate_series(1, 50000)")))
        out.append(await asyncio.gather(*(con.fetchval("SELECT $1::int", i) for i in range(5))))
        try:
            await con.fetchval("SELECT pg_sleep(5)", timeout=0.1)
        except asyncio.TimeoutError:
            out.append("timeout")
        out.append(await con.fetchval("SELECT 2"))
        await con.execute("CREATE TEMP TABLE uv (a int)")
        out.append(await con.copy_records_to_table("uv", records=[(i,) for i in range(1000)]))
        buf = io.BytesIO()
        await con.copy_from_table("uv", output=buf)
        out.append(len(buf.getvalue().splitlines()))
    finally:
        await con.close()
    async with asyncpg_rs.create_pool(dsn, min_size=2, max_size=2) as pool:
        out.append(await pool.fetchval("SELECT 3"))
    return out


def test_driver_runs_on_uvloop(pg_dsn):
    result = uvloop.run(_scenario(pg_dsn))
    assert result == [1, 50000, [0, 1, 2, 3, 4], "timeout", 2, "COPY 1000", 1000, 3]
