"""``json_objects=True``: json/jsonb decoded into Python objects in Rust and encoded from them,
with the values asyncpg gives with ``set_type_codec(..., decoder=json.loads, encoder=json.dumps)``;
off by default (``str`` as in asyncpg)."""

from __future__ import annotations

import json
import math
import random

import asyncpg
import pytest

import asyncpg_rs

DOCUMENTS = [
    "null",
    "true",
    "false",
    "0",
    "-0",
    "12345678901234567890123456789012345678901234567890",
    "-9223372036854775809",
    "9223372036854775807",
    "0.1",
    "1e-7",
    "1.7976931348623157e308",
    "5e-324",
    "-0.0",
    "2.5E+3",
    "123456789.123456789123456789",
    '""',
    '"plain"',
    '"quote \\" backslash \\\\ slash \\/ controls \\b\\f\\n\\r\\t \\u0001"',
    '"unicode é ß 中文 \\u00e9 \\ud83d\\ude00 😀"',
    "[]",
    "{}",
    "[1, [2, [3, [4, []]]], {}]",
    '{"a": {"b": {"c": [1, 2.5, "x", null, true]}}}',
    '{"dup": 1, "other": 2, "dup": 3}',
    '[{"k": "v"}, [[]], [{}], 1e10, -1E-10]',
    '  {  "spaced"  :  [ 1 , 2 ]  }  ',
    "[" * 40 + "]" * 40,
    "[" * 600 + "]" * 600,
]


@pytest.fixture
async def both(pg_dsn):
    ours = await asyncpg_rs.connect(pg_dsn, json_objects=True)
    theirs = await asyncpg.connect(pg_dsn)
    for typ in ("json", "jsonb"):
        await theirs.set_type_codec(
            typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
    yield ours, theirs
    await ours.close()
    await theirs.close()


def _same(a, b, depth=0):
    """Equal values of the same types, floats bit for bit, dict key order included."""
    if depth > 100:
        return a == b  # the deep nesting case: plain equality, without Python recursion
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return (
            type(b) is dict and list(a) == list(b) and all(_same(a[k], b[k], depth + 1) for k in a)
        )
    if isinstance(a, list):
        return (
            type(b) is list
            and len(a) == len(b)
            and all(_same(x, y, depth + 1) for x, y in zip(a, b))
        )
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("typ", ["json", "jsonb"])
async def test_decoded_values_match_asyncpg_with_json_loads(both, typ):
    ours, theirs = both
    for doc in DOCUMENTS:
        q = f"SELECT $1::text::{typ}"
        mine, expected = await ours.fetchval(q, doc), await theirs.fetchval(q, doc)
        assert _same(mine, expected), (doc[:60], mine, expected)
        assert _same(
            mine,
            json.loads(
                doc
                if typ == "json"
                else await theirs.fetchval(f"SELECT $1::text::{typ}::text", doc)
            ),
        )


@pytest.mark.parametrize("typ", ["json", "jsonb"])
async def test_arrays_and_composites_hold_objects(both, typ):
    ours, theirs = both
    await ours.execute(f"CREATE TYPE jo_{typ} AS (i int, j {typ})")
    q = f"""SELECT ARRAY['{{"a": 1}}', '[1, 2.5]', NULL]::{typ}[],
               ROW(1, '{{"b": [true]}}')::jo_{typ}"""
    try:
        mine = await ours.fetchrow(q)
    finally:
        await ours.execute(f"DROP TYPE jo_{typ}")
    # (asyncpg cannot read a composite holding a text-format codec's type; arrays it can.)
    expected = await theirs.fetchval(q.split(",\n")[0])
    assert mine[0] == expected == [{"a": 1}, [1, 2.5], None]
    assert tuple(mine[1]) == (1, {"b": [True]})


@pytest.mark.parametrize("typ", ["json", "jsonb"])
async def test_encoded_values_read_back_as_with_json_dumps(both, typ):
    ours, theirs = both
    values = [
        {"a": [1, 2.5, None, True, False], "b": {"c": 'é " \\ \n \x01'}},
        [1, (2, 3), []],
        "just a string",
        12345678901234567890123456789,
        0.1,
        -0.0,
        None,
        {1: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    ]
    for value in values:
        q = f"SELECT $1::{typ}, $2::{typ}::text"
        mine = await ours.fetchrow(q, value, value)
        expected = await theirs.fetchrow(q, value, value)
        assert _same(mine[0], expected[0]), (value, mine[0], expected[0])
        if typ == "jsonb" and value is not None:  # (None is SQL NULL)
            # The server reads our text and json.dumps' text as the same document.
            assert await ours.fetchval(
                "SELECT $1::jsonb = $2::text::jsonb", value, json.dumps(value)
            )


async def test_values_that_json_dumps_refuses_are_refused(both):
    ours, _ = both
    with pytest.raises(asyncpg_rs.DataError, match="not JSON serializable"):
        await ours.fetchval("SELECT $1::jsonb", {"s": {1, 2}})
    with pytest.raises(asyncpg_rs.DataError, match="keys must be str"):
        await ours.fetchval("SELECT $1::jsonb", {(1, 2): 1})
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(asyncpg_rs.DataError, match="Circular reference"):
        await ours.fetchval("SELECT $1::jsonb", cyclic)


async def test_off_by_default_and_per_pool(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        assert await con.fetchval("SELECT '{\"a\": 1}'::jsonb") == '{"a": 1}'
    finally:
        await con.close()
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=2, json_objects=True) as pool:
        assert await pool.fetchval("SELECT '{\"a\": 1}'::jsonb") == {"a": 1}
        assert await pool.fetchval("SELECT $1::json", {"b": [1]}) == {"b": [1]}
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT '[1]'::json") == [1]


async def test_a_users_codec_still_wins(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn, json_objects=True)
    try:
        await con.set_type_codec(
            "jsonb", encoder=str, decoder=lambda s: ("mine", s), schema="pg_catalog"
        )
        assert await con.fetchval("SELECT '1'::jsonb") == ("mine", "1")
    finally:
        await con.close()


async def test_explain_still_returns_the_plan(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn, json_objects=True)
    try:
        stmt = await con.prepare("SELECT 1")
        plan = await stmt.explain()
        assert plan[0]["Plan"]["Node Type"] == "Result"
    finally:
        await con.close()


def _random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(10**30), 10**30) if rng.random() < 0.3 else rng.randint(-999, 999)
    if kind == 3:
        return rng.choice([rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-300, 300)])
    if kind in (4, 5):
        return "".join(rng.choice('ab"\\/\n\t\x01é中😀 ') for _ in range(rng.randrange(12)))
    if kind in (6, 7):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {_random_value(rng, 9).__str__(): _random_value(rng, depth + 1) for _ in range(4)}


def test_decoder_agrees_with_json_loads_on_random_documents():
    rng = random.Random(15)
    from asyncpg_rs import _native

    for n in range(2000):
        value = _random_value(rng)
        text = json.dumps(value, ensure_ascii=n % 2 == 0, indent=None if n % 3 else 1)
        assert _same(_native._json_decode(text.encode()), json.loads(text)), text


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', '["\\udc00x"]', "NaN", "[-Infinity, Infinity]", '{"a": 1}  x', "[1,]", "01"],
)
def test_what_the_fast_parser_leaves_gets_json_loads_behaviour(text):
    from asyncpg_rs import _native

    try:
        expected = json.loads(text)
    except ValueError as e:
        with pytest.raises(type(e)):
            _native._json_decode(text.encode())
        return
    got = _native._json_decode(text.encode())
    assert repr(got) == repr(expected)


def test_encoder_output_reads_back_as_the_value():
    rng = random.Random(16)
    from asyncpg_rs import _native

    for _ in range(1000):
        value = _random_value(rng)
        assert _same(json.loads(_native._json_encode(value)), json.loads(json.dumps(value)))


async def test_without_a_statement_cache(pg_dsn):
    # The pgbouncer mode (unnamed statements, descriptions kept client-side) uses the same codecs.
    con = await asyncpg_rs.connect(pg_dsn, json_objects=True, statement_cache_size=0)
    try:
        for _ in range(3):
            assert await con.fetchval("SELECT $1::jsonb", {"k": [1, None]}) == {"k": [1, None]}
    finally:
        await con.close()
