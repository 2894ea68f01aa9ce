"""Cursors: ``async for`` over a portal with prefetch, and ``await con.cursor()`` in a transaction."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

QUERY = "SELECT g FROM generate_series(1, $1::int) g"


# ----- iteration -----


@pytest.mark.parametrize("prefetch", [None, 1, 7, 50, 1000])
async def test_iterate_with_prefetch(con, prefetch):
    async with con.transaction():
        got = [r[0] async for r in con.cursor(QUERY, 120, prefetch=prefetch)]
    assert got == list(range(1, 121))


async def test_iterate_empty_result(con):
    async with con.transaction():
        got = [r async for r in con.cursor("SELECT 1 WHERE false")]
    assert got == []


async def test_iterate_exact_multiple_of_prefetch(con):
    async with con.transaction():
        got = [r[0] async for r in con.cursor(QUERY, 20, prefetch=5)]
    assert got == list(range(1, 21))


async def test_iterate_stops_early_and_connection_stays_usable(con):
    async with con.transaction():
        got = []
        async for r in con.cursor(QUERY, 1000, prefetch=10):
            got.append(r[0])
            if len(got) == 15:
                break
        assert got == list(range(1, 16))
        assert await con.fetchval("SELECT 7") == 7
    assert await con.fetchval("SELECT 8") == 8


async def test_iterate_records_and_record_class(driver, con):
    class MyRecord(driver.Record):
        pass

    async with con.transaction():
        rows = [r async for r in con.cursor("SELECT 1 AS a, 'x' AS b", record_class=MyRecord)]
    assert len(rows) == 1
    assert type(rows[0]) is MyRecord
    assert rows[0]["b"] == "x"


async def test_iterate_outside_transaction_raises(driver, con):
    with pytest.raises(
        driver.NoActiveSQLTransactionError,
        match="cursor cannot be created outside of a transaction",
    ):
        async for _ in con.cursor(QUERY, 3):
            pass
    assert await con.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("prefetch", [0, -1])
async def test_iterate_bad_prefetch(driver, con, prefetch):
    async with con.transaction():
        with pytest.raises(
            driver.InterfaceError, match="^prefetch argument must be greater than zero$"
        ):
            async for _ in con.cursor(QUERY, 3, prefetch=prefetch):
                pass


async def test_iterate_prepared_statement_cursor(con):
    stmt = await con.prepare(QUERY)
    async with con.transaction():
        got = [r[0] async for r in stmt.cursor(30, prefetch=4)]
    assert got == list(range(1, 31))


async def test_two_cursors_interleaved(con):
    async with con.transaction():
        a = con.cursor(QUERY, 10, prefetch=3).__aiter__()
        b = con.cursor("SELECT g * 100 FROM generate_series(1, 10) g", prefetch=2).__aiter__()
        got = []
        for _ in range(10):
            got.append(((await a.__anext__())[0], (await b.__anext__())[0]))
    assert got == [(i, i * 100) for i in range(1, 11)]


async def test_server_error_during_iteration(driver, con):
    tr = con.transaction()
    await tr.start()
    try:
        with pytest.raises(driver.DivisionByZeroError):
            async for _ in con.cursor(
                "SELECT 1 / (g - 5) FROM generate_series(1, 10) g", prefetch=2
            ):
                pass
    finally:
        await tr.rollback()
    assert await con.fetchval("SELECT 1") == 1


# ----- awaited cursor -----


async def test_cursor_fetch_fetchrow_forward(con):
    async with con.transaction():
        cur = await con.cursor(QUERY, 20)
        assert [r[0] for r in await cur.fetch(3)] == [1, 2, 3]
        assert (await cur.fetchrow())[0] == 4
        assert await cur.forward(5) == 5
        assert (await cur.fetchrow())[0] == 10
        assert [r[0] for r in await cur.fetch(4)] == [11, 12, 13, 14]
        assert await cur.forward(100) == 6
        assert await cur.fetch(5) == []
        assert await cur.fetchrow() is None


async def test_cursor_fetch_past_end(con):
    async with con.transaction():
        cur = await con.cursor(QUERY, 5)
        assert [r[0] for r in await cur.fetch(10)] == [1, 2, 3, 4, 5]
        assert await cur.fetch(10) == []
        assert await cur.fetchrow() is None


async def test_cursor_on_empty_result(con):
    async with con.transaction():
        cur = await con.cursor("SELECT 1 WHERE false")
        assert await cur.fetchrow() is None
        assert await cur.fetch(3) == []


async def test_cursor_record_class(driver, con):
    class MyRecord(driver.Record):
        pass

    async with con.transaction():
        cur = await con.cursor(QUERY, 3, record_class=MyRecord)
        rows = await cur.fetch(2)
        assert [type(r) for r in rows] == [MyRecord, MyRecord]
        assert type(await cur.fetchrow()) is MyRecord


async def test_cursor_from_prepared_statement(con):
    stmt = await con.prepare(QUERY)
    async with con.transaction():
        cur = await stmt.cursor(10)
        assert [r[0] for r in await cur.fetch(2)] == [1, 2]
        assert await cur.forward(3) == 3
        assert (await cur.fetchrow())[0] == 6


async def test_awaited_cursor_outside_transaction_raises(driver, con):
    with pytest.raises(driver.NoActiveSQLTransactionError) as info:
        await con.cursor(QUERY, 3)
    assert str(info.value) == "cursor cannot be created outside of a transaction"
    assert await con.fetchval("SELECT 1") == 1


async def test_awaited_cursor_with_prefetch_raises(driver, con):
    async with con.transaction():
        with pytest.raises(
            driver.InterfaceError,
            match="^prefetch argument can only be specified for iterable cursor$",
        ):
            await con.cursor(QUERY, 3, prefetch=5)


@pytest.mark.parametrize("n", [0, -3])
async def test_cursor_bad_n(driver, con, n):
    async with con.transaction():
        cur = await con.cursor(QUERY, 3)
        with pytest.raises(driver.InterfaceError, match="^n must be greater than zero$"):
            await cur.fetch(n)
        with pytest.raises(driver.InterfaceError, match="^n must be greater than zero$"):
            await cur.forward(n)
        assert [r[0] for r in await cur.fetch(3)] == [1, 2, 3]


async def test_cursor_repr(con):
    async with con.transaction():
        cur = await con.cursor(QUERY, 3)
        assert repr(cur).startswith('<asyncpg.Cursor "SELECT g FROM generate_series')


async def test_cursor_with_bad_argument(driver, con):
    async with con.transaction():
        with pytest.raises(
            driver.DataError, match=r"invalid input for query argument \$1: 'three'"
        ):
            await con.cursor(QUERY, "three")
        # The rejected Bind must not leave anything behind on the wire.
        assert await con.fetchval("SELECT 1") == 1
    assert await con.fetchval("SELECT 2") == 2


async def test_iterate_with_bad_argument(driver, con):
    async with con.transaction():
        with pytest.raises(driver.DataError):
            async for _ in con.cursor(QUERY, "three"):
                pass
        assert await con.fetchval("SELECT 1") == 1


async def test_cursor_with_invalid_query(driver, con):
    tr = con.transaction()
    await tr.start()
    try:
        with pytest.raises(driver.UndefinedTableError):
            await con.cursor("SELECT * FROM no_such_table_c")
    finally:
        await tr.rollback()
