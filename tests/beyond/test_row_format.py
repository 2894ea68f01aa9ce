"""``row_format='dict'`` / ``'tuple'``: rows built in Rust as plain dicts or tuples, for a
connection or a pool; a call's own ``record_class`` still gives Records; off by default."""

from __future__ import annotations

import pytest

import asyncpg_rs

Q = "SELECT 1 AS a, 'x' AS b, NULL::int AS c"


@pytest.mark.parametrize("fmt", ["dict", "tuple"])
async def test_every_row_returning_call(pg_dsn, fmt):
    con = await asyncpg_rs.connect(pg_dsn, row_format=fmt)
    expected = {"a": 1, "b": "x", "c": None} if fmt == "dict" else (1, "x", None)
    try:
        rows = await con.fetch(Q)
        assert rows == [expected] and type(rows[0]) is type(expected)
        assert await con.fetchrow(Q) == expected
        assert await con.fetchval(Q, column=1) == "x"
        assert await con.fetchval(Q, column="b") == "x"
        assert await con.fetchmany("SELECT $1::int AS a", [(1,), (2,)]) == (
            [{"a": 1}, {"a": 2}] if fmt == "dict" else [(1,), (2,)]
        )
        stmt = await con.prepare(Q)
        assert await stmt.fetchrow() == expected
        assert await stmt.fetchval(column="b") == await stmt.fetchval(column=1) == "x"
        async with con.transaction():
            assert [r async for r in con.cursor(Q)] == [expected]
        # A call's own record_class wins.
        row = await con.fetchrow(Q, record_class=asyncpg_rs.Record)
        assert isinstance(row, asyncpg_rs.Record)
        # Internal queries that need Records still work.
        await con.execute(f"CREATE TYPE rf_mood_{fmt} AS ENUM ('ok')")
        try:
            await con.set_type_codec(f"rf_mood_{fmt}", encoder=str, decoder=str.upper)
            assert await con.fetchval(f"SELECT 'ok'::rf_mood_{fmt}") == "OK"
        finally:
            await con.execute(f"DROP TYPE rf_mood_{fmt}")
    finally:
        await con.close()


async def test_duplicate_names_as_dict_of_a_record(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn, row_format="dict")
    try:
        row = await con.fetchrow("SELECT 1 AS a, 2 AS b, 3 AS a")
        rec = await con.fetchrow("SELECT 1 AS a, 2 AS b, 3 AS a", record_class=asyncpg_rs.Record)
        assert list(row.items()) == list(dict(rec).items()) == [("a", 3), ("b", 2)]
    finally:
        await con.close()


async def test_pool_and_default(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1, row_format="dict") as pool:
        assert await pool.fetch("SELECT 1 AS a") == [{"a": 1}]
        async with pool.acquire() as con:
            assert await con.fetchrow("SELECT 2 AS a") == {"a": 2}
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        assert isinstance(await con.fetchrow("SELECT 1"), asyncpg_rs.Record)
    finally:
        await con.close()


async def test_bad_values_are_refused(pg_dsn):
    with pytest.raises(asyncpg_rs.InterfaceError, match="row_format is expected"):
        await asyncpg_rs.connect(pg_dsn, row_format="list")

    class MyRecord(asyncpg_rs.Record):
        pass

    with pytest.raises(asyncpg_rs.InterfaceError, match="both choose the row type"):
        await asyncpg_rs.connect(pg_dsn, row_format="dict", record_class=MyRecord)


@pytest.mark.parametrize("fmt", ["dict", "tuple"])
async def test_mogrify_on_a_plain_row_connection(pg_dsn, fmt):
    from asyncpg_rs import utils

    con = await asyncpg_rs.connect(pg_dsn, row_format=fmt)
    plain = await asyncpg_rs.connect(pg_dsn)
    try:
        query = "SELECT $1::int, $2::text, $3::int"
        args = [1, "it's", None]
        assert await utils._mogrify(con, query, args) == await utils._mogrify(plain, query, args)
    finally:
        await con.close()
        await plain.close()
