"""Beyond asyncpg: several tasks share one connection, their queries pipelined."""

from __future__ import annotations

import asyncio

import asyncpg_rs


async def test_gathered_queries_on_one_connection_each_get_their_own_result(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        results = await asyncio.gather(
            *(con.fetchval("SELECT $1::int * 10", i) for i in range(200))
        )
        assert results == [i * 10 for i in range(200)]
    finally:
        await con.close()


async def test_an_error_in_one_pipelined_query_does_not_disturb_the_others(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        results = await asyncio.gather(
            con.fetchval("SELECT 1"),
            con.fetchval("SELECT 1/0"),
            con.fetchval("SELECT 3"),
            return_exceptions=True,
        )
        assert results[0] == 1
        assert isinstance(results[1], asyncpg_rs.DivisionByZeroError)
        assert results[2] == 3
    finally:
        await con.close()


async def test_mixed_operations_interleave_correctly(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:

        async def worker(n: int) -> list[int]:
            out = []
            for i in range(20):
                rows = await con.fetch("SELECT g FROM generate_series(1, $1) g", n + i)
                out.append(len(rows))
            return out

        results = await asyncio.gather(*(worker(n) for n in range(10)))
        assert results == [[n + i for i in range(20)] for n in range(10)]
    finally:
        await con.close()
