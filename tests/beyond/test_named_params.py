"""Named parameters (``con.named`` / ``pool.named``): ``:name`` with a mapping, translated to
``$n`` once per query text; literals, identifiers, comments, dollar quotes and casts are left
alone."""

from __future__ import annotations

import pytest

import asyncpg_rs
from asyncpg_rs._named import translate

# -- the scanner (no server) -------------------------------------------------------------------


def test_names_become_numbered_placeholders_in_order_of_first_use():
    assert translate("SELECT :a, :b, :a") == ("SELECT $1, $2, $1", ("a", "b"))


def test_a_query_without_names_is_unchanged():
    q = "SELECT 1; SELECT 2"
    assert translate(q) == (q, ())


def test_casts_are_not_parameters():
    assert translate("SELECT :x::int, '1'::text, :y :: date") == (
        "SELECT $1::int, '1'::text, $2 :: date",
        ("x", "y"),
    )


def test_string_literals_are_not_scanned():
    assert translate("SELECT ':no', 'it''s :no', :yes") == (
        "SELECT ':no', 'it''s :no', $1",
        ("yes",),
    )


def test_escape_string_literals_honour_backslashes():
    assert translate(r"SELECT E'\' :no', e'\\', :yes") == (
        r"SELECT E'\' :no', e'\\', $1",
        ("yes",),
    )
    # A plain literal ending in a backslash is closed by the next quote.
    assert translate(r"SELECT '\', :yes") == (r"SELECT '\', $1", ("yes",))


def test_quoted_identifiers_are_not_scanned():
    assert translate('SELECT 1 AS ":no", 2 AS "a"":no", :yes') == (
        'SELECT 1 AS ":no", 2 AS "a"":no", $1',
        ("yes",),
    )


def test_line_comments_are_not_scanned():
    assert translate("SELECT :a -- :no\n, :b") == ("SELECT $1 -- :no\n, $2", ("a", "b"))


def test_block_comments_nest():
    assert translate("SELECT /* :no /* :no */ :no */ :yes") == (
        "SELECT /* :no /* :no */ :no */ $1",
        ("yes",),
    )


def test_dollar_quoted_bodies_are_not_scanned():
    q = "DO $$ BEGIN PERFORM ':no'; END $$; SELECT $fn$ :no $$ $fn$, :yes"
    assert translate(q) == (q.replace(":yes", "$1"), ("yes",))


def test_identifiers_containing_a_dollar_are_not_dollar_quotes():
    assert translate("SELECT foo$1, :a FROM t") == ("SELECT foo$1, $1 FROM t", ("a",))


def test_positional_placeholders_cannot_be_mixed_in():
    with pytest.raises(asyncpg_rs.InterfaceError, match=r"positional parameter \$1"):
        translate("SELECT $1, :a")


def test_translation_is_cached():
    translate.cache_clear()
    translate("SELECT :cached")
    translate("SELECT :cached")
    assert translate.cache_info().hits == 1


# -- through a connection and a pool -------------------------------------------------------------


@pytest.fixture
async def con(pg_dsn):
    c = await asyncpg_rs.connect(pg_dsn)
    yield c
    await c.close()


async def test_fetch_family(con):
    assert await con.named.fetchval("SELECT :a::int + :b::int", {"a": 1, "b": 2}) == 3
    row = await con.named.fetchrow("SELECT :x::text AS x, :x::text || '!' AS y", {"x": "hi"})
    assert (row["x"], row["y"]) == ("hi", "hi!")
    rows = await con.named.fetch("SELECT g FROM generate_series(1, :n) g", {"n": 3})
    assert [r["g"] for r in rows] == [1, 2, 3]
    assert await con.named.fetchval("SELECT :a::int, :b::int", {"a": 1, "b": 2}, column=1) == 2


async def test_execute_and_executemany(con):
    await con.named.execute("CREATE TEMP TABLE np (id int, name text)")
    await con.named.execute("INSERT INTO np VALUES (:id, :name)", {"id": 1, "name": "a"})
    await con.named.executemany(
        "INSERT INTO np VALUES (:id, :name)",
        [{"id": 2, "name": "b"}, {"name": "c", "id": 3}],
    )
    await con.named.executemany(
        "INSERT INTO np VALUES (:id, :name)", ({"id": i, "name": "g"} for i in (4, 5))
    )
    rows = await con.named.fetchmany(
        "SELECT name FROM np WHERE id = :id", [{"id": 1}, {"id": 3}, {"id": 5}]
    )
    assert [r["name"] for r in rows] == ["a", "c", "g"]


async def test_prepare_takes_a_mapping_per_run(con):
    stmt = await con.named.prepare("SELECT :a::int * :b::int")
    assert stmt.names == ("a", "b")
    assert stmt.get_query() == "SELECT $1::int * $2::int"
    assert await stmt.fetchval({"a": 6, "b": 7}) == 42
    assert [r[0] for r in await stmt.fetch({"a": 2, "b": 3})] == [6]
    assert len(stmt.statement.get_parameters()) == 2


async def test_cursor(con):
    async with con.transaction():
        rows = [
            r[0]
            async for r in con.named.cursor("SELECT generate_series(1, :n)", {"n": 4}, prefetch=2)
        ]
    assert rows == [1, 2, 3, 4]


async def test_missing_name_is_named_in_the_error(con):
    with pytest.raises(asyncpg_rs.InterfaceError, match=r":b is missing .*uses :a, :b"):
        await con.named.fetchval("SELECT :a::int + :b::int", {"a": 1})


async def test_extra_name_is_named_in_the_error(con):
    with pytest.raises(asyncpg_rs.InterfaceError, match=r"key 'c' that the query does not use"):
        await con.named.fetchval("SELECT :a::int", {"a": 1, "c": 2})


async def test_params_must_be_a_mapping(con):
    with pytest.raises(asyncpg_rs.InterfaceError, match="mapping, got tuple"):
        await con.named.fetchval("SELECT :a::int", (1,))  # type: ignore[arg-type]


async def test_keyword_arguments_keep_their_asyncpg_meaning(con):
    # A parameter called `timeout` or `column` is just a key of the mapping.
    assert (
        await con.named.fetchval(
            "SELECT :timeout::int + :column::int", {"timeout": 1, "column": 2}, timeout=5
        )
        == 3
    )


async def test_pool_shortcuts_and_proxies(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        assert await pool.named.fetchval("SELECT :v::int", {"v": 5}) == 5
        assert (await pool.named.fetchrow("SELECT :v::int AS v", {"v": 6}))["v"] == 6
        assert len(await pool.named.fetch("SELECT 1 WHERE :t::bool", {"t": True})) == 1
        assert await pool.named.execute("SELECT :v::int", {"v": 1}) == "SELECT 1"
        async with pool.acquire() as con:
            named = con.named
            assert await named.fetchval("SELECT :v::int", {"v": 7}) == 7
        with pytest.raises(asyncpg_rs.InterfaceError, match="released back to the pool"):
            await named.fetchval("SELECT :v::int", {"v": 7})
