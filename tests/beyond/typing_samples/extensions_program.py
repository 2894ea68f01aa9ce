"""The asyncpg-rs extensions as typed user code (checked by mypy --strict, never run)."""

from __future__ import annotations

from typing import Any

import asyncpg_rs
from asyncpg_rs._named import NamedPreparedStatement
from asyncpg_rs._stats import ConnectionStats, PoolStats, QueryStarted
from asyncpg_rs.connection import LoggedQuery


async def use_connection(dsn: str) -> int:
    con = await asyncpg_rs.connect(dsn, json_objects=True, row_format="dict")
    rows: list[Any] = await con.named.fetch("SELECT :a::int AS a", {"a": 1})
    row: Any = await con.named.fetchrow("SELECT :a::int", {"a": 1}, timeout=5)
    value: Any = await con.named.fetchval("SELECT :a::int", {"a": 1}, column=0)
    status: str = await con.named.execute("SELECT 1")
    await con.named.executemany("SELECT :a::int", [{"a": 1}, {"a": 2}])
    stmt: NamedPreparedStatement = await con.named.prepare("SELECT :a::int")
    names: tuple[str, ...] = stmt.names
    print(rows, row, value, status, names, await stmt.fetchval({"a": 3}))

    def tracer(started: QueryStarted) -> Any:
        def end(logged: LoggedQuery) -> None:
            print(started.query, logged.elapsed, logged.rows)

        return end

    con.add_query_tracer(tracer)
    con.remove_query_tracer(tracer)
    stats: ConnectionStats = con.get_stats()
    await con.close()
    return stats.bytes_sent + stats.bytes_received + stats.rows + stats.errors + stats.queries


async def use_pool(pool: asyncpg_rs.Pool) -> float:
    stats: PoolStats = pool.get_stats()
    print(await pool.named.fetchval("SELECT :x::int", {"x": 1}))
    return stats.wait_time + stats.waits + stats.size
