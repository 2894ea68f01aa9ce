"""Arrays of element types exchanged in text format, against asyncpg.

asyncpg reads some builtin types as text (``money``, ``macaddr8``, ...) and every type without a
binary codec it knows (``citext``, ``hstore`` without a codec, user-defined types with only text
I/O) through its text codec; arrays of them travel as array literals in both directions:
a list parameter becomes ``{"a","b",NULL}``, and a result becomes a (nested) list of the
element's decoded values.
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
import pytest_asyncio

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90), pytest.mark.differential]

#: Strings that need every rule of array-literal quoting. asyncpg 0.32 cannot decode an empty
#: string element of a text array (the list it returns has a bad slot and reading it crashes the
#: interpreter), so "" is compared only on the way in (``EMPTY_TOO``) and checked on its own.
AWKWARD = [
    "plain",
    "NULL",
    "null",
    " lead and trail ",
    "with,comma",
    "with{brace}",
    'with"quote',
    "with\\backslash",
    "tab\there",
    "new\nline",
    "ünïcødé",
]
EMPTY_TOO = ["", *AWKWARD, ""]


async def outcome(awaitable):
    try:
        return ("ok", type_shape(await awaitable))
    except Exception as e:
        return ("raised", type(e).__name__, str(e))


def type_shape(value):
    if isinstance(value, list):
        return [type_shape(v) for v in value]
    if type(value).__name__ == "Record":
        return tuple(type_shape(v) for v in value.values())
    return (type(value).__name__, value)


@pytest_asyncio.fixture
async def text_types(pg_dsn):
    """citext and hstore (contrib) plus a user-defined base type with text I/O only."""
    schema = "ta_" + uuid.uuid4().hex[:8]
    con = await asyncpg.connect(pg_dsn)
    try:
        for ext in ("citext", "hstore"):
            try:
                await con.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
            except asyncpg.UniqueViolationError:
                pass  # created concurrently
            except (asyncpg.UndefinedFileError, asyncpg.FeatureNotSupportedError) as e:
                pytest.skip(f"{ext} is not available: {e}")
        # A base type whose I/O functions are textin/textout: no send/receive, so both drivers
        # exchange it in text format.
        await con.execute(
            f"""
            CREATE SCHEMA {schema};
            CREATE TYPE {schema}.tonly;
            CREATE FUNCTION {schema}.tonly_in(cstring) RETURNS {schema}.tonly
                AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
            CREATE FUNCTION {schema}.tonly_out({schema}.tonly) RETURNS cstring
                AS 'textout' LANGUAGE internal IMMUTABLE STRICT;
            CREATE TYPE {schema}.tonly (
                INPUT = {schema}.tonly_in, OUTPUT = {schema}.tonly_out,
                LIKE = text, CATEGORY = 'S'
            );
            CREATE TYPE {schema}.ccomp AS (a int, c citext);
            CREATE TYPE {schema}.crange AS RANGE (subtype = citext);
            CREATE TABLE {schema}.tab (
                id int, m money[], c citext[], h hstore[], t {schema}.tonly[]
            );
            """
        )
        yield schema
    finally:
        await con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await con.close()


async def both(pg_dsn, scenario):
    out = {}
    for drv in (asyncpg, asyncpg_rs):
        con = await drv.connect(pg_dsn)
        try:
            out[drv.__name__] = await scenario(con)
        finally:
            await con.close()
    return out["asyncpg"], out["asyncpg_rs"]


async def assert_same(pg_dsn, scenario):
    ref, ours = await both(pg_dsn, scenario)
    assert ours == ref


async def test_decode_builtin_text_element_arrays(pg_dsn):
    async def scenario(con):
        await con.execute("SET lc_monetary TO 'C'")
        return [
            await outcome(con.fetchval("SELECT '{1.5,NULL,-2}'::money[]")),
            await outcome(con.fetchval("SELECT '{{1,2},{3,4}}'::money[]")),
            await outcome(con.fetchval("SELECT '[0:1]={1,2}'::money[]")),
            await outcome(con.fetchval("SELECT '{}'::money[]")),
            await outcome(con.fetchval("SELECT ARRAY['08:00:2b:01:02:03:04:05'::macaddr8, NULL]")),
            await outcome(con.fetchval("SELECT '{{{1}},{{2}}}'::macaddr8[]", ())),
        ]

    await assert_same(pg_dsn, scenario)


async def test_encode_builtin_text_element_arrays(pg_dsn):
    async def scenario(con):
        await con.execute("SET lc_monetary TO 'C'")
        return [
            await outcome(con.fetchval("SELECT $1::money[]", ["1.5", None, "-2"])),
            await outcome(con.fetchval("SELECT $1::money[]", [["1", "2"], ["3", "4"]])),
            await outcome(con.fetchval("SELECT $1::money[]", [])),
            await outcome(con.fetchval("SELECT $1::money[]", ("7",))),
            await outcome(con.fetchval("SELECT $1::money[]::text", ["1", None])),
            await outcome(con.fetchval("SELECT $1::macaddr8[]", ["08:00:2b:01:02:03:04:05", None])),
            await outcome(con.fetchval("SELECT $1::macaddr8[]", [[["08:00:2b:01:02:03:04:05"]]])),
            # errors: a non-str element, a ragged array, a bare str
            await outcome(con.fetchval("SELECT $1::money[]", [1])),
            await outcome(con.fetchval("SELECT $1::money[]", [["1"], ["2", "3"]])),
            await outcome(con.fetchval("SELECT $1::money[]", "{1}")),
        ]

    await assert_same(pg_dsn, scenario)


async def test_citext_arrays_both_directions(pg_dsn, text_types):
    async def scenario(con):
        return [
            await outcome(con.fetchval("SELECT ARRAY['Aa'::citext, NULL, 'b c']")),
            await outcome(con.fetchval("SELECT $1::citext[]", AWKWARD + [None])),
            await outcome(con.fetchval("SELECT $1::citext[]", [["a", None], ["NULL", "b"]])),
            await outcome(
                con.fetchval("SELECT $1::citext[] = ARRAY['PLAIN']::citext[]", ["plain"])
            ),
            await outcome(con.fetchval("SELECT array_length($1::citext[], 1)", EMPTY_TOO)),
            await outcome(con.fetchval("SELECT $1::citext[]::text[]", EMPTY_TOO)),
            await outcome(con.fetchval("SELECT $1::citext[]", [])),
            await outcome(con.fetchval("SELECT $1::citext[]", [1])),
        ]

    await assert_same(pg_dsn, scenario)


async def test_empty_string_elements(pg_dsn, text_types):
    # Not differential: asyncpg crashes reading these back (see AWKWARD).
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        assert await con.fetchval("SELECT $1::citext[]", EMPTY_TOO) == EMPTY_TOO
        assert await con.fetchval("""SELECT '{"",NULL,""}'::citext[]""") == ["", None, ""]
        assert await con.fetchval("SELECT $1::money[]", [[""]][:0]) == []
        got = await con.fetchval(f"SELECT $1::{text_types}.tonly[]", [["", "x"], ["NULL", ""]])
        assert got == [["", "x"], ["NULL", ""]]
    finally:
        await con.close()


async def test_hstore_arrays_both_directions(pg_dsn, text_types):
    async def scenario(con):
        return [
            await outcome(con.fetchval("SELECT ARRAY['a=>1'::hstore]")),
            await outcome(
                con.fetchval("""SELECT '{"a=>1", NULL, "\\"x y\\"=>\\"q\\\\\\"\\""}'::hstore[]""")
            ),
            await outcome(con.fetchval("SELECT $1::hstore[]", ['"a"=>"1"', None, 'b=>"x,y"'])),
            await outcome(con.fetchval("SELECT $1::hstore[]", [["a=>1"], ["b=>NULL"]])),
            await outcome(con.fetchval("SELECT ($1::hstore[])[1] -> 'k'", ['k=>"{v}"'])),
        ]

    await assert_same(pg_dsn, scenario)


async def test_user_defined_text_only_type_arrays(pg_dsn, text_types):
    schema = text_types

    async def scenario(con):
        return [
            await outcome(con.fetchval(f"SELECT ARRAY['x'::{schema}.tonly, NULL, 'NULL']")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.tonly[]", AWKWARD + [None])),
            await outcome(con.fetchval(f"SELECT $1::{schema}.tonly[]::text", EMPTY_TOO)),
            await outcome(con.fetchval(f"SELECT $1::{schema}.tonly[]", [[["a"]], [["b"]]])),
            await outcome(con.fetchval(f"SELECT $1::{schema}.tonly", "scalar")),
        ]

    await assert_same(pg_dsn, scenario)


async def test_text_element_arrays_in_executemany_and_rows(pg_dsn, text_types):
    schema = text_types

    async def scenario(con):
        async with con.transaction():
            await con.execute("SET LOCAL lc_monetary TO 'C'")
            await con.executemany(
                f"INSERT INTO {schema}.tab VALUES ($1, $2, $3, $4, $5)",
                [
                    (1, ["1.25", None], ["Ab", "x,y"], ["a=>1"], ["t1", 'q"']),
                    (2, [], [None], [None, "b=>2"], [["u"], ["v"]]),
                    (3, None, None, None, None),
                ],
            )
            rows = await con.fetch(f"SELECT * FROM {schema}.tab ORDER BY id")
            stmt = await con.prepare(f"SELECT t FROM {schema}.tab WHERE c = $1")
            found = await stmt.fetchval(["AB", "X,Y"])
            await con.execute(f"DELETE FROM {schema}.tab")
            return [type_shape(list(rows)), type_shape(found)]

    await assert_same(pg_dsn, scenario)


async def test_composites_and_ranges_over_text_types_are_refused(pg_dsn, text_types):
    # asyncpg: composites and ranges travel in binary only, so one over a type read as text is
    # an UnsupportedClientFeatureError (not a str, not a hang), and the connection goes on.
    schema = text_types

    async def scenario(con):
        return [
            await outcome(con.fetchval(f"SELECT ROW(1, 'x')::{schema}.ccomp")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.ccomp", (1, "x"))),
            await outcome(con.fetchval(f"SELECT {schema}.crange('a', 'z')")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.crange", ["a", "z"])),
            await outcome(con.fetchval("SELECT 42")),
            await outcome(con.fetchval(f"SELECT ARRAY[ROW(1, 'x')::{schema}.ccomp]")),
            await outcome(con.fetchval("SELECT 43")),
        ]

    await assert_same(pg_dsn, scenario)
