"""The supported threading model (docs/free-threading.md): one event loop per thread, each with its
own connections, running at the same time; results shared between threads."""

from __future__ import annotations

import asyncio
import concurrent.futures

import asyncpg_rs


def _worker(dsn: str, n: int) -> list[asyncpg_rs.Record]:
    async def run() -> list[asyncpg_rs.Record]:
        con = await asyncpg_rs.connect(dsn, json_objects=n % 2 == 0)
        try:
            rows = []
            for i in range(50):
                rows.extend(
                    await con.fetch("SELECT $1::int AS n, $2::int AS i, '[1]'::jsonb", n, i)
                )
            return rows
        finally:
            await con.close()

    return asyncio.run(run())


def test_threads_with_their_own_loops_and_connections(pg_dsn):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_worker, [pg_dsn] * 4, range(4)))
    # Records made on the worker threads are read here, on another thread.
    for n, rows in enumerate(results):
        assert [(r["n"], r["i"]) for r in rows] == [(n, i) for i in range(50)]
        assert rows[0][2] == ([1] if n % 2 == 0 else "[1]")
