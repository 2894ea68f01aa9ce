"""set_type_codec, reset_type_codec and set_builtin_type_codec, against asyncpg.

Each scenario is an async function run once through asyncpg and once through asyncpg_rs on fresh
connections; what it returns (values in a driver-neutral form, or the exception class and message)
must be the same.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
import pytest_asyncio

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60), pytest.mark.differential]


def normalize(value):
    """A driver-neutral form of a value: class name plus contents."""
    name = type(value).__name__
    if name == "Record":
        return ("Record", tuple(value.keys()), tuple(normalize(v) for v in value.values()))
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, tuple):
        return (name, tuple(normalize(v) for v in value))
    if isinstance(value, dict):
        return ("dict", sorted((k, normalize(v)) for k, v in value.items()))
    return (name, repr(value))


async def outcome(awaitable):
    """The normalized result, or ('raised', class name, message)."""
    try:
        return normalize(await awaitable)
    except Exception as e:
        return ("raised", type(e).__name__, str(e))


@pytest_asyncio.fixture
async def schema(pg_dsn):
    """A fresh schema with an enum, a composite and a domain; dropped afterwards."""
    name = "uc_" + uuid.uuid4().hex[:10]
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute(
            f"CREATE SCHEMA {name};"
            f"CREATE TYPE {name}.mood AS ENUM ('sad', 'ok', 'happy');"
            f"CREATE TYPE {name}.comp AS (a int, b text);"
            f"CREATE TYPE {name}.holder AS (c {name}.comp, n int);"
            f"CREATE DOMAIN {name}.posint AS int CHECK (VALUE > 0);"
            f"CREATE TYPE {name}.floatrange AS RANGE (subtype = float8);"
            f"CREATE TYPE {name}.stamped AS (t timestamptz, n int);"
        )
        yield name
    finally:
        await con.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await con.close()


async def both(pg_dsn, scenario):
    """Run `scenario(con, driver)` through asyncpg and asyncpg_rs; return (ref, ours)."""
    results = []
    for driver in (asyncpg, asyncpg_rs):
        con = await driver.connect(pg_dsn)
        try:
            results.append(await scenario(con, driver))
        finally:
            await con.close()
    return results[0], results[1]


async def assert_same(pg_dsn, scenario):
    ref, ours = await both(pg_dsn, scenario)
    assert ours == ref


# ----- json / jsonb: the most common use -----


async def test_json_and_jsonb_with_json_module(pg_dsn):
    async def scenario(con, driver):
        for typ in ("json", "jsonb"):
            await con.set_type_codec(
                typ, schema="pg_catalog", encoder=json.dumps, decoder=json.loads
            )
        return [
            await outcome(con.fetchval("""SELECT '{"a": [1, 2.5, null]}'::json""")),
            await outcome(con.fetchval("""SELECT '{"b": {"c": true}}'::jsonb""")),
            await outcome(con.fetchval("SELECT $1::json", {"x": [1, "y"]})),
            await outcome(con.fetchval("SELECT $1::jsonb", [1, {"z": None}])),
            await outcome(con.fetchval("SELECT $1::jsonb::text", {"k": "v"})),
            await outcome(con.fetchval("SELECT $1::jsonb", "just a string")),
            await outcome(con.fetchval("SELECT ARRAY['1'::jsonb, '{}', NULL]")),
            await outcome(con.fetchval("SELECT $1::jsonb[]", [{"a": 1}, None])),
            await outcome(con.fetchval("SELECT $1::jsonb", {1, 2})),  # not JSON serializable
            await outcome(con.fetchrow("SELECT '1'::json AS j, 2 AS n")),
        ]

    await assert_same(pg_dsn, scenario)


async def test_json_codec_on_a_pool_through_init(pg_dsn):
    async def init(con):
        await con.set_type_codec(
            "jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )

    results = []
    for driver in (asyncpg, asyncpg_rs):
        async with driver.create_pool(pg_dsn, min_size=2, max_size=2, init=init) as pool:
            values = [await pool.fetchval("SELECT $1::jsonb", {"n": i}) for i in range(4)]
            async with pool.acquire() as con:
                values.append(await con.fetchval("""SELECT '{"in": "acquire"}'::jsonb"""))
        results.append(values)
    assert results[1] == results[0] == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}, {"in": "acquire"}]


async def test_codecs_are_per_connection(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    other = await asyncpg_rs.connect(pg_dsn)
    try:
        await con.set_type_codec(
            "json", schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )
        assert await con.fetchval("SELECT '[1]'::json") == [1]
        assert await other.fetchval("SELECT '[1]'::json") == "[1]"
    finally:
        await other.close()
        await con.close()


async def test_reset_type_codec_restores_the_default(pg_dsn):
    async def scenario(con, driver):
        out = [await outcome(con.fetchval("SELECT '[1]'::json"))]
        await con.set_type_codec(
            "json", schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )
        out.append(await outcome(con.fetchval("SELECT '[1]'::json")))
        await con.reset_type_codec("json", schema="pg_catalog")
        out.append(await outcome(con.fetchval("SELECT '[1]'::json")))
        out.append(await outcome(con.fetchval("SELECT $1::json", "[2]")))
        out.append(await outcome(con.reset_type_codec("nosuch", schema="pg_catalog")))
        return out

    await assert_same(pg_dsn, scenario)


# ----- text and binary formats -----


async def test_text_format_codec_on_an_enum_and_its_arrays(pg_dsn, schema):
    async def scenario(con, driver):
        await con.set_type_codec(
            "mood", schema=schema, encoder=lambda v: v.lower(), decoder=lambda s: s.upper()
        )
        return [
            await outcome(con.fetchval(f"SELECT 'ok'::{schema}.mood")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.mood", "HAPPY")),
            await outcome(con.fetchval(f"SELECT '{{ok,sad,NULL}}'::{schema}.mood[]")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.mood[]", ["OK", None])),
            await outcome(con.fetchval(f"SELECT $1::{schema}.mood", 5)),
        ]

    await assert_same(pg_dsn, scenario)


async def test_text_format_codec_on_a_builtin_scalar(pg_dsn):
    async def scenario(con, driver):
        await con.set_type_codec(
            "int4", schema="pg_catalog", encoder=str, decoder=lambda s: "I:" + s, format="text"
        )
        return [
            await outcome(con.fetchval("SELECT 5::int4")),
            await outcome(con.fetchval("SELECT $1::int4", 7)),
            await outcome(con.fetchval("SELECT '{1,NULL}'::int4[]")),
            await outcome(con.fetchval("SELECT $1::int4[]", [[1, 2], [3, 4]])),
            await outcome(con.fetchval("SELECT 5::int8")),
        ]

    await assert_same(pg_dsn, scenario)


async def test_binary_format_codec_exchanges_wire_bytes(pg_dsn):
    async def scenario(con, driver):
        await con.set_type_codec(
            "int8", schema="pg_catalog", encoder=bytes, decoder=bytes, format="binary"
        )
        return [
            await outcome(con.fetchval("SELECT 5::int8")),
            await outcome(con.fetchval("SELECT $1::int8", b"\x00" * 7 + b"\x09")),
            await outcome(con.fetchval("SELECT $1::int8::text", b"\x00" * 7 + b"\x09")),
            await outcome(con.fetchval("SELECT '{5}'::int8[]")),
            await outcome(con.fetchval("SELECT $1::int8", 5)),  # bytes(5) is 5 zero bytes
        ]

    await assert_same(pg_dsn, scenario)


async def test_encoder_results_of_the_wrong_type_are_data_errors(pg_dsn):
    async def scenario(con, driver):
        await con.set_type_codec("int2", schema="pg_catalog", encoder=lambda x: 5, decoder=str)
        await con.set_type_codec(
            "float4", schema="pg_catalog", encoder=lambda x: 5, decoder=bytes, format="binary"
        )
        return [
            await outcome(con.fetchval("SELECT $1::int2", 1)),
            await outcome(con.fetchval("SELECT $1::float4", 1.0)),
        ]

    await assert_same(pg_dsn, scenario)


async def test_encoder_exceptions_become_data_errors(pg_dsn):
    def boom(value):
        raise ZeroDivisionError("boom")

    async def scenario(con, driver):
        await con.set_type_codec("float8", schema="pg_catalog", encoder=boom, decoder=float)
        return await outcome(con.fetchval("SELECT $1::float8", 1.0))

    await assert_same(pg_dsn, scenario)


async def test_decoder_exceptions_propagate(pg_dsn):
    def boom(value):
        raise ZeroDivisionError("boom")

    async def scenario(con, driver):
        await con.set_type_codec("float8", schema="pg_catalog", encoder=str, decoder=boom)
        return await outcome(con.fetchval("SELECT 5::float8"))

    await assert_same(pg_dsn, scenario)


# ----- tuple format -----


def record_calls(calls):
    def identity(value):
        calls.append(normalize(value))
        return value

    return identity


TUPLE_CASES = [
    ("interval", "'1 mon 2 days 3 us'::interval", (1, 2, 4)),
    ("interval", "'-1 year -3 hours'::interval", (-12, 0, -5)),
    ("date", "'2000-01-05'::date", (3,)),
    ("date", "'infinity'::date", (2**31 - 1,)),
    ("timestamp", "'2000-01-01 00:00:01'::timestamp", (5,)),
    ("timestamp", "'-infinity'::timestamp", (-(2**63),)),
    ("timestamptz", "'2000-01-01 00:00:01+00'::timestamptz", (5,)),
    ("time", "'00:00:01'::time", (7,)),
    ("timetz", "'00:00:01+02'::timetz", (7, 3600)),
]


@pytest.mark.parametrize(("typ", "literal", "param"), TUPLE_CASES)
async def test_tuple_format_on_datetime_types(pg_dsn, typ, literal, param):
    async def scenario(con, driver):
        calls = []
        codec = record_calls(calls)
        await con.set_type_codec(
            typ, schema="pg_catalog", encoder=codec, decoder=codec, format="tuple"
        )
        out = [
            await outcome(con.fetchval(f"SELECT {literal}")),
            await outcome(con.fetchval(f"SELECT $1::{typ}", param)),
            await outcome(con.fetchval(f"SELECT $1::{typ}::text", param)),
            await outcome(con.fetchval(f"SELECT $1::{typ}", (1, 2, 3, 4))),
        ]
        return out, calls

    await assert_same(pg_dsn, scenario)


async def test_tuple_format_interval_with_a_real_python_type(pg_dsn):
    """asyncpg's documented use: intervals as (months, days, µs) for calendar-aware types."""

    def encoder(v):
        months, days, seconds = v
        return (months, days, seconds * 1_000_000)

    def decoder(t):
        return (t[0], t[1], t[2] / 1_000_000)

    async def scenario(con, driver):
        await con.set_type_codec(
            "interval", schema="pg_catalog", encoder=encoder, decoder=decoder, format="tuple"
        )
        return [
            await outcome(con.fetchval("SELECT '2 years 3 mons 1 day 1.5 seconds'::interval")),
            await outcome(con.fetchval("SELECT $1::interval::text", (14, 3, 2))),
            await outcome(con.fetchval("SELECT ARRAY['1 mon'::interval]")),
        ]

    await assert_same(pg_dsn, scenario)


async def test_tuple_format_on_a_composite(pg_dsn, schema):
    async def scenario(con, driver):
        calls = []
        await con.set_type_codec(
            "comp",
            schema=schema,
            encoder=lambda v: (v["a"], v["b"]),
            decoder=lambda r: calls.append(normalize(r)) or {"a": r[0], "b": r[1]},
            format="tuple",
        )
        out = [
            await outcome(con.fetchval(f"SELECT ROW(1, 'x')::{schema}.comp")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.comp", {"a": 2, "b": "y"})),
            await outcome(con.fetchval(f"SELECT $1::{schema}.comp::text", {"a": 3, "b": None})),
            await outcome(con.fetchval(f"SELECT ARRAY[ROW(4, 'z')::{schema}.comp, NULL]")),
            await outcome(con.fetchval(f"SELECT ROW(ROW(5, 'w'), 6)::{schema}.holder")),
        ]
        # Setting it again (the type is known by now) and resetting it.
        await con.set_type_codec(
            "comp", schema=schema, encoder=tuple, decoder=tuple, format="tuple"
        )
        out.append(await outcome(con.fetchval(f"SELECT ROW(7, 'v')::{schema}.comp")))
        await con.reset_type_codec("comp", schema=schema)
        out.append(await outcome(con.fetchval(f"SELECT ROW(8, 'u')::{schema}.comp")))
        return out, calls

    await assert_same(pg_dsn, scenario)


# ----- what set_type_codec refuses -----


async def test_set_type_codec_refuses_what_asyncpg_refuses(pg_dsn, schema):
    cases = [
        ("comp", schema, "text"),
        ("comp", schema, "binary"),
        ("posint", schema, "text"),
        ("floatrange", schema, "text"),
        ("nope", "public", "text"),
        ("nope", schema, "text"),
        ("_int4", "pg_catalog", "text"),
        ("int4[]", "pg_catalog", "text"),
        ("int4", "pg_catalog", "bogus"),
        ("int4multirange", "pg_catalog", "text"),
        ("int4", "pg_catalog", "tuple"),
        ("numeric", "pg_catalog", "tuple"),
        ("text", "pg_catalog", "tuple"),
        ("mood", schema, "tuple"),
        ("int", "pg_catalog", "text"),
        ("double precision", "pg_catalog", "binary"),
        ("INTEGER", "pg_catalog", "text"),
    ]

    async def scenario(con, driver):
        out = []
        for typename, typeschema, fmt in cases:
            out.append(
                await outcome(
                    con.set_type_codec(
                        typename, schema=typeschema, encoder=str, decoder=str, format=fmt
                    )
                )
            )
        return out

    await assert_same(pg_dsn, scenario)


async def test_set_type_codec_on_a_closed_connection(pg_dsn):
    async def scenario(con, driver):
        await con.close()
        return await outcome(
            con.set_type_codec("json", schema="pg_catalog", encoder=str, decoder=str)
        )

    await assert_same(pg_dsn, scenario)


# ----- set_builtin_type_codec -----


@pytest_asyncio.fixture
async def hstore(pg_dsn):
    """The hstore extension, created in the test database if the server has it."""
    con = await asyncpg.connect(pg_dsn)
    try:
        try:
            await con.execute("CREATE EXTENSION IF NOT EXISTS hstore")
        except (asyncpg.UndefinedFileError, asyncpg.FeatureNotSupportedError) as e:
            pytest.skip(f"hstore is not available: {e}")
        except asyncpg.UniqueViolationError:
            pass  # created concurrently by another test
    finally:
        await con.close()


async def test_hstore_through_pg_contrib_hstore(pg_dsn, hstore):
    async def scenario(con, driver):
        out = [await outcome(con.fetchval("SELECT 'a=>1'::hstore"))]
        await con.set_builtin_type_codec("hstore", codec_name="pg_contrib.hstore")
        out += [
            await outcome(con.fetchval("""SELECT 'a=>1, b=>NULL, ""=>""'::hstore""")),
            await outcome(con.fetchval("SELECT $1::hstore", {"a": "1", "b": None})),
            await outcome(con.fetchval("SELECT $1::hstore", {})),
            await outcome(con.fetchval("SELECT $1::hstore", [("k", "v")])),
            await outcome(con.fetchval("SELECT $1::hstore::text", {"x y": 'q"'})),
            await outcome(con.fetchval("""SELECT '{"a=>1", NULL}'::hstore[]""")),
            await outcome(con.fetchval("SELECT $1::hstore[]", [{"a": "b"}])),
        ]
        for bad in [{"a": 1}, {1: "a"}, {None: "a"}, "x", 5, [("a",)], {"a": b"x"}]:
            out.append(await outcome(con.fetchval("SELECT $1::hstore", bad)))
        await con.reset_type_codec("hstore")
        out.append(await outcome(con.fetchval("SELECT 'a=>1'::hstore")))
        return out

    await assert_same(pg_dsn, scenario)


async def test_builtin_codec_aliases(pg_dsn, schema):
    async def scenario(con, driver):
        await con.set_builtin_type_codec("mood", schema=schema, codec_name="text")
        out = [
            await outcome(con.fetchval(f"SELECT 'ok'::{schema}.mood")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.mood[]", ["sad"])),
        ]
        await con.set_builtin_type_codec("posint", schema=schema, codec_name="int")
        out.append(await outcome(con.fetchval(f"SELECT 5::{schema}.posint")))
        await con.set_builtin_type_codec("mood", schema=schema, codec_name="varchar", format="text")
        out.append(await outcome(con.fetchval(f"SELECT 'happy'::{schema}.mood")))
        return out

    await assert_same(pg_dsn, scenario)


async def test_set_builtin_type_codec_refuses_what_asyncpg_refuses(pg_dsn, schema):
    cases = [
        ("comp", schema, "text", None),
        ("floatrange", schema, "text", None),
        ("xx", schema, "text", None),
        ("mood", schema, "nosuch", None),
        ("mood", schema, "nosuch", "binary"),
        ("mood", schema, "int4", "text"),
        ("mood", schema, "macaddr", "binary"),
        ("mood", schema, "money", "text"),
        ("mood", schema, "text", "bogus"),
        ("mood", schema, "_int4", None),
        ("mood", schema, "INT4", None),
        ("mood", schema, "int4range", None),
        ("mood", schema, "pg_contrib.hstore", "text"),
    ]

    async def scenario(con, driver):
        out = []
        for typename, typeschema, codec_name, fmt in cases:
            out.append(
                await outcome(
                    con.set_builtin_type_codec(
                        typename, schema=typeschema, codec_name=codec_name, format=fmt
                    )
                )
            )
        return out

    await assert_same(pg_dsn, scenario)


async def test_codec_changes_drop_cached_statements(pg_dsn):
    async def scenario(con, driver):
        query = "SELECT '{\"a\": 1}'::json, now()::date = current_date"
        first = await outcome(con.fetchrow(query))
        await con.set_type_codec(
            "json", schema="pg_catalog", encoder=json.dumps, decoder=json.loads
        )
        second = await outcome(con.fetchrow(query))
        await con.reset_type_codec("json", schema="pg_catalog")
        third = await outcome(con.fetchrow(query))
        return first, second, third

    await assert_same(pg_dsn, scenario)


async def test_datetime_tuple_codec_then_timestamps_in_a_composite(pg_dsn, schema):
    """A tuple codec on timestamptz is used for composite fields and arrays too."""

    async def scenario(con, driver):
        await con.set_type_codec(
            "timestamptz", schema="pg_catalog", encoder=tuple, decoder=tuple, format="tuple"
        )
        return [
            await outcome(
                con.fetchval(f"SELECT ROW('2000-01-01 00:00:01+00', 1)::{schema}.stamped")
            ),
            await outcome(con.fetchval("SELECT ARRAY['2000-01-01 00:00:02+00'::timestamptz]")),
            await outcome(con.fetchval(f"SELECT $1::{schema}.stamped", ((10,), 2))),
        ]

    ref, ours = await both(pg_dsn, scenario)
    assert ours == ref
    assert ref[0][0] == "Record"
