"""Types found by introspection: composites (nested, with NULLs, in arrays, with ranges inside),
enums and their arrays, domains (also over arrays and composites), user-defined ranges and
multiranges, table row types, types created after connecting, and reload_schema_state.

Differential: each value must come back from asyncpg_rs equal to asyncpg's (driver-neutral normal
form), and rejected parameters must fail with the same class and message.
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
import pytest_asyncio

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60), pytest.mark.differential]


def normalize(value):
    """A driver-neutral form of a decoded value: class name plus contents."""
    name = type(value).__name__
    if name == "Record":
        return ("Record", tuple(value.keys()), tuple(normalize(v) for v in value.values()))
    if name == "Range":
        return (
            "Range",
            normalize(value.lower),
            normalize(value.upper),
            value.lower_inc,
            value.upper_inc,
            value.isempty,
        )
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, tuple):
        return (name, tuple(normalize(v) for v in value))
    return (name, repr(value))


SCHEMA_DDL = """
CREATE SCHEMA {s};
CREATE TYPE {s}.mood AS ENUM ('sad', 'ok', 'happy', 'très "bien"');
CREATE TYPE {s}.comp AS (a int, b text);
CREATE TYPE {s}.floatrange AS RANGE (subtype = float8);
CREATE TYPE {s}.outer AS (x {s}.comp, y int[], r int4range, m {s}.mood, f {s}.floatrange);
CREATE TYPE {s}.deep AS (o {s}.outer, cs {s}.comp[]);
CREATE DOMAIN {s}.posint AS int CHECK (VALUE > 0);
CREATE DOMAIN {s}.intarr AS int[];
CREATE DOMAIN {s}.compdom AS {s}.comp;
CREATE TYPE {s}.withdom AS (p {s}.posint, d {s}.intarr);
CREATE TABLE {s}.tbl (id int, c {s}.comp, moods {s}.mood[]);
INSERT INTO {s}.tbl VALUES (1, ROW(1, 'x'), '{{ok,sad}}'), (2, NULL, NULL);
"""


@pytest_asyncio.fixture
async def schema(pg_dsn):
    """A fresh schema holding the test types; dropped afterwards."""
    name = "ct_" + uuid.uuid4().hex[:10]
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute(SCHEMA_DDL.format(s=name))
        yield name
    finally:
        await con.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await con.close()


@pytest_asyncio.fixture
async def cons(pg_dsn, schema):
    """(asyncpg connection, asyncpg_rs connection), both made after the schema exists."""
    ref = await asyncpg.connect(pg_dsn)
    ours = await asyncpg_rs.connect(pg_dsn)
    try:
        yield ref, ours
    finally:
        await ours.close()
        await ref.close()


LITERALS = [
    "ROW(1, 'a')::{s}.comp",
    "ROW(NULL, NULL)::{s}.comp",
    "NULL::{s}.comp",
    "ROW(ROW(1, 'a'), '{{1,2}}', '[1,3)', 'happy', '[1.5,2.5]')::{s}.outer",
    "ROW(NULL, NULL, 'empty', NULL, '(,)')::{s}.outer",
    "ROW(ROW(ROW(1, 'a'), '{{}}', NULL, 'ok', NULL), array[ROW(2, 'b')::{s}.comp, NULL])::{s}.deep",
    "array[ROW(1, 'a')::{s}.comp, NULL, ROW(NULL, 'c')::{s}.comp]",
    "'{{}}'::{s}.comp[]",
    "'ok'::{s}.mood",
    "'très \"bien\"'::{s}.mood",
    "'{{ok,sad,NULL}}'::{s}.mood[]",
    "'{{{{ok}},{{happy}}}}'::{s}.mood[]",
    "5::{s}.posint",
    "'{{1,2}}'::{s}.intarr",
    "ROW(3, 'd')::{s}.compdom",
    "ROW(5, '{{1}}')::{s}.withdom",
    "'[1.5,2)'::{s}.floatrange",
    "'empty'::{s}.floatrange",
    "'{{[1,2), [3,)}}'::{s}.floatmultirange",
    "array['[1,2]'::{s}.floatrange]",
]


async def test_decodes_introspected_types_like_asyncpg(cons, schema):
    ref, ours = cons
    for literal in LITERALS:
        query = "SELECT " + literal.format(s=schema)
        assert normalize(await ours.fetchval(query)) == normalize(await ref.fetchval(query)), query


async def test_decodes_table_rows_and_columns_like_asyncpg(cons, schema):
    ref, ours = cons
    for query in [
        f"SELECT * FROM {schema}.tbl ORDER BY id",
        f"SELECT t FROM {schema}.tbl t ORDER BY id",
        f"SELECT (t.c).a, (t.c).b FROM {schema}.tbl t ORDER BY id",
    ]:
        got = [normalize(r) for r in await ours.fetch(query)]
        assert got == [normalize(r) for r in await ref.fetch(query)], query


# (SQL type, parameter) pairs; parameters that hold Ranges are made from the driver's types module
PARAMS = [
    ("{s}.comp", lambda T: (1, "x")),
    ("{s}.comp", lambda T: [1, "x"]),
    ("{s}.comp", lambda T: {"a": 1, "b": "x"}),
    ("{s}.comp", lambda T: {"b": "q"}),
    ("{s}.comp", lambda T: (1, None)),
    ("{s}.comp", lambda T: (None, None)),
    ("{s}.outer", lambda T: ((1, "a"), [1, 2], T.Range(1, 3), "ok", T.Range(0.5, None))),
    ("{s}.outer", lambda T: ((1, "a"), [1, 2], (1, 3), None, ())),
    ("{s}.deep", lambda T: (((1, "a"), [], None, "sad", None), [(2, "b"), None])),
    ("{s}.comp[]", lambda T: [(1, "a"), None, {"a": 2}]),
    ("{s}.mood", lambda T: "happy"),
    ("{s}.mood[]", lambda T: ["happy", None, 'très "bien"']),
    ("{s}.posint", lambda T: 5),
    ("{s}.intarr", lambda T: [1, 2]),
    ("{s}.compdom", lambda T: (1, "a")),
    ("{s}.withdom", lambda T: (1, [2, 3])),
    ("{s}.floatrange", lambda T: T.Range(1.5, 2)),
    ("{s}.floatrange", lambda T: (1.5, 2)),
    ("{s}.floatmultirange", lambda T: [T.Range(1, 2), (3, None)]),
]


async def test_round_trips_parameters_like_asyncpg(cons, schema):
    ref, ours = cons
    for typ, make in PARAMS:
        typ = typ.format(s=schema)
        for query in (f"SELECT $1::{typ}", f"SELECT $1::{typ}::text"):
            expected = normalize(await ref.fetchval(query, make(asyncpg.types)))
            got = normalize(await ours.fetchval(query, make(asyncpg_rs.types)))
            assert got == expected, f"{query} with {make(asyncpg_rs.types)!r}"


BAD_PARAMS = [
    ("{s}.comp", (1, "x", 3)),
    ("{s}.comp", 5),
    ("{s}.comp", "ab"),
    ("{s}.comp", ("x", "y")),
    ("{s}.comp", (1,)),  # the server counts the columns
    ("{s}.mood", 1),
    ("{s}.mood", "nope"),
    ("{s}.posint", -1),  # the domain's CHECK
    ("{s}.comp[]", [(1, "a"), 5]),
]


async def test_rejects_bad_parameters_like_asyncpg(cons, schema):
    ref, ours = cons
    for typ, value in BAD_PARAMS:
        query = f"SELECT $1::{typ.format(s=schema)}"
        with pytest.raises(Exception) as ref_exc:
            await ref.fetchval(query, value)
        with pytest.raises(Exception) as our_exc:
            await ours.fetchval(query, value)
        shown = f"{query} with {value!r}"
        assert type(our_exc.value).__name__ == type(ref_exc.value).__name__, shown
        assert str(our_exc.value) == str(ref_exc.value), shown


async def test_mapping_with_an_unknown_field_names_the_type_like_asyncpg(cons, schema):
    ref, ours = cons
    query = f"SELECT $1::{schema}.comp"
    messages = []
    for con in (ref, ours):
        with pytest.raises(Exception) as exc:
            await con.fetchval(query, {"a": 1, "zz": 2})
        messages.append(str(exc.value))
    assert messages[0] == messages[1]


async def test_composite_values_are_records(cons, schema):
    _, ours = cons
    value = await ours.fetchval(f"SELECT ROW(1, 'a')::{schema}.comp")
    assert isinstance(value, asyncpg_rs.Record)
    assert value["a"] == 1 and value[1] == "a" and list(value.keys()) == ["a", "b"]
    assert value == (1, "a")
    # A decoded composite is accepted back as a parameter.
    assert await ours.fetchval(f"SELECT $1::{schema}.comp = ROW(1, 'a')::{schema}.comp", value)


async def test_types_created_after_connecting_are_found(cons, schema):
    ref, ours = cons
    await ours.fetchval("SELECT 1")
    await ref.execute(
        f"CREATE TYPE {schema}.later AS ENUM ('x', 'y');"
        f"CREATE TYPE {schema}.later_comp AS (l {schema}.later, n numeric)"
    )
    for query in [
        f"SELECT 'x'::{schema}.later",
        f"SELECT ARRAY['x', 'y']::{schema}.later[]",
        f"SELECT ROW('y', 1.5)::{schema}.later_comp",
    ]:
        assert normalize(await ours.fetchval(query)) == normalize(await ref.fetchval(query))


async def test_reload_schema_state_picks_up_altered_types(cons, schema):
    ref, ours = cons
    query = f"SELECT c FROM {schema}.tbl WHERE id = 1"
    assert normalize(await ours.fetchval(query)) == (
        "Record",
        ("a", "b"),
        (("int", "1"), ("str", "'x'")),
    )
    await ref.execute(f"ALTER TYPE {schema}.comp ADD ATTRIBUTE z int")
    await ours.reload_schema_state()
    value = await ours.fetchval(query)
    assert list(value.keys()) == ["a", "b", "z"] and value["z"] is None


async def test_enum_labels_added_later_decode(cons, schema):
    _, ours = cons
    assert await ours.fetchval(f"SELECT 'ok'::{schema}.mood") == "ok"
    await ours.execute(f"ALTER TYPE {schema}.mood ADD VALUE 'meh'")
    assert await ours.fetchval(f"SELECT 'meh'::{schema}.mood") == "meh"
    assert await ours.fetchval(f"SELECT $1::{schema}.mood[]", ["meh"]) == ["meh"]


async def test_many_composite_rows_decode_like_asyncpg(cons, schema):
    ref, ours = cons
    query = (
        f"SELECT ROW(i, md5(i::text))::{schema}.comp,"
        f" ARRAY[ROW(i, NULL)::{schema}.comp],"
        f" (ARRAY['sad', 'ok', 'happy'])[i % 3 + 1]::{schema}.mood,"
        f" int4range(i, i + 10)"
        " FROM generate_series(1, 500) AS s(i)"
    )
    assert [normalize(r) for r in await ours.fetch(query)] == [
        normalize(r) for r in await ref.fetch(query)
    ]
