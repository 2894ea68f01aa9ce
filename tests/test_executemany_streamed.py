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


@pytest.mark.parametrize("driver_name", ["asyncpg", "asyncpg_rs"])
async def test_failing_generator_inside_a_transaction_keeps_the_groups_written(pg_dsn, driver_name):
    # As asyncpg (its test_executemany_client_failure_in_transaction): argument sets go out in
    # groups of four packets of at least 32 KB; the group being filled when the source fails is
    # dropped, the groups written before stay in the user's transaction block. With 32 KB rows a
    # group is four rows: the failure at the 11th row keeps 8.
    import importlib

    driver = importlib.import_module(driver_name)
    c = await driver.connect(pg_dsn)
    try:
        await c.execute("DROP TABLE IF EXISTS em_g; CREATE TABLE em_g(a text, b int PRIMARY KEY)")
        async with c.transaction():
            with pytest.raises(ZeroDivisionError):
                await c.executemany(
                    "INSERT INTO em_g VALUES($1, $2)",
                    (("a" * 32768, y + y / y) for y in range(10, -1, -1)),
                )
            # The block is the user's: still usable, and holding what was written.
            rows = await c.fetch("SELECT b FROM em_g")
            assert [r[0] for r in rows] == [y + 1 for y in range(10, 2, -1)]
        assert await c.fetchval("SELECT count(*) FROM em_g") == 8

        # Small rows: the source fails before the first group is full, nothing was written.
        def small():
            for i in range(2500):
                if i == 2100:
                    raise RuntimeError("source failed")
                yield ("z", 100 + i)

        async with c.transaction():
            with pytest.raises(RuntimeError):
                await c.executemany("INSERT INTO em_g VALUES($1, $2)", small())
            assert await c.fetchval("SELECT count(*) FROM em_g") == 8
    finally:
        await c.execute("DROP TABLE IF EXISTS em_g")
        await c.close()


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


@pytest.mark.parametrize("driver_name", ["asyncpg", "asyncpg_rs"])
async def test_server_error_in_a_written_group_wins_and_stops_the_source(pg_dsn, driver_name):
    # asyncpg's test_executemany_server_failure_during_writes / _client_server_failure_conflict:
    # the source is pulled one argument set at a time, so a server error reported while a group
    # is in flight stops it early, and is the outcome even when the source fails afterwards.
    import importlib

    driver = importlib.import_module(driver_name)
    c = await driver.connect(pg_dsn)
    try:
        await c.execute("DROP TABLE IF EXISTS em_s; CREATE TABLE em_s(a text, b int PRIMARY KEY)")
        pos = 0

        def gen():
            nonlocal pos
            while pos < 128:
                pos += 1
                yield ("a", 0) if pos < 3 else ("a" * 32768, pos)

        with pytest.raises(driver.UniqueViolationError):
            await c.executemany("INSERT INTO em_s VALUES($1, $2)", gen())
        assert await c.fetch("SELECT b FROM em_s") == []
        assert pos < 128

        with pytest.raises(driver.UniqueViolationError):
            await c.executemany(
                "INSERT INTO em_s VALUES($1, 0)",
                (("a" * 32768,) for y in range(4, -1, -1) if y / y),
            )
        assert await c.fetch("SELECT b FROM em_s") == []
    finally:
        await c.execute("DROP TABLE IF EXISTS em_s")
        await c.close()
