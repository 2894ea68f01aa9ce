"""executemany/fetchmany over generators and async iterables: sent in batches, atomic outside a
transaction block, and what asyncpg does when the iterable fails inside one."""

from __future__ import annotations

import asyncio

import pytest

import asyncpg_rs


@pytest.fixture
async def con(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    await con.execute("DROP TABLE IF EXISTS em_t; CREATE TABLE em_t(a int PRIMARY KEY, b text)")
    yield con
    await con.execute("DROP TABLE IF EXISTS em_t")
    await con.close()


async def test_generator_of_many_rows(con):
    await con.executemany("INSERT INTO em_t VALUES($1, $2)", ((i, str(i)) for i in range(5500)))
    assert await con.fetchval("SELECT count(*) FROM em_t") == 5500


async def test_async_iterable(con):
    async def rows():
        for i in range(1200):
            yield (i, "x")

    await con.executemany("INSERT INTO em_t VALUES($1, $2)", rows())
    assert await con.fetchval("SELECT count(*) FROM em_t") == 1200


async def test_fetchmany_over_a_generator(con):
    rows = await con.fetchmany(
        "INSERT INTO em_t VALUES($1, $2) RETURNING a", ((i, "y") for i in range(2500))
    )
    assert [r["a"] for r in rows] == list(range(2500))


async def test_failing_generator_outside_a_transaction_leaves_nothing(con):
    def rows():
        for i in range(2500):
            if i == 2100:
                raise RuntimeError("source failed")
            yield (i, "z")

    with pytest.raises(RuntimeError, match="source failed"):
        await con.executemany("INSERT INTO em_t VALUES($1, $2)", rows())
    assert await con.fetchval("SELECT count(*) FROM em_t") == 0


async def test_failing_generator_inside_a_transaction_keeps_what_was_sent(con):
    def rows():
        for i in range(2500):
            if i == 2100:
                raise RuntimeError("source failed")
            yield (i, "z")

    async with con.transaction():
        with pytest.raises(RuntimeError):
            await con.executemany("INSERT INTO em_t VALUES($1, $2)", rows())
        # The block is the user's: it is still usable and holds the batches sent before.
        assert await con.fetchval("SELECT count(*) FROM em_t") == 2000
    assert await con.fetchval("SELECT count(*) FROM em_t") == 2000


async def test_server_error_stops_consuming_the_generator_and_rolls_back(con):
    consumed = 0

    def rows():
        nonlocal consumed
        for i in range(100_000):
            consumed += 1
            yield (5 if i == 10 else i, "dup")

    with pytest.raises(asyncpg_rs.UniqueViolationError):
        await con.executemany("INSERT INTO em_t VALUES($1, $2)", rows())
    assert await con.fetchval("SELECT count(*) FROM em_t") == 0
    assert consumed < 100_000


async def test_bad_element_names_its_position_and_rolls_back(con):
    rows = ((i, "a") if i != 1500 else ("bad", "a") for i in range(3000))
    with pytest.raises(asyncpg_rs.DataError, match="element #1500"):
        await con.executemany("INSERT INTO em_t VALUES($1, $2)", rows)
    assert await con.fetchval("SELECT count(*) FROM em_t") == 0


async def test_other_calls_wait_for_a_streamed_executemany(con):
    async def rows():
        for i in range(3000):
            if i % 500 == 0:
                await asyncio.sleep(0)
            yield (i, "w")

    insert = asyncio.ensure_future(con.executemany("INSERT INTO em_t VALUES($1, $2)", rows()))
    await asyncio.sleep(0)
    assert await con.fetchval("SELECT 41 + 1") == 42
    await insert
    assert await con.fetchval("SELECT count(*) FROM em_t") == 3000
