"""Values on the decoding fast paths come out exactly as asyncpg makes them.

Text is copied straight into a `str` when it is ASCII, and arrays of the common element types
(int2/int4/int8/oid, float4/float8, bool, text/varchar/name/json) are decoded by a loop of their
own; every other path stays the generic one. Each query runs through both drivers.
"""

from __future__ import annotations

import asyncpg
import pytest

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60), pytest.mark.differential]

QUERIES = {
    "text_shapes": "SELECT '' AS empty, 'a' AS one, 'ab' AS two, repeat('x', 5000) AS long, "
    "'héllo wörld' AS latin, '日本語テキスト' AS cjk, 'a😀b' AS emoji, E'tab\\there\\nnl' AS ctrl, "
    "'x'::varchar AS vc, 'y'::name AS nm, 'z  '::char(3) AS bp, '{\"k\": [1, 2]}'::json AS js",
    "text_rows": "SELECT 'row ' || i AS ascii, 'rów ' || i AS utf8, "
    "CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('ab', i) END AS maybe "
    "FROM generate_series(1, 200) AS i",
    "int_arrays": "SELECT ARRAY[1, -2, NULL, 2147483647, -2147483648]::int4[] AS i4, "
    "ARRAY[1, NULL, -32768, 32767]::int2[] AS i2, "
    "ARRAY[9223372036854775807, NULL, -9223372036854775808]::int8[] AS i8, "
    "ARRAY[0, 4294967295, NULL]::oid[] AS o, '{}'::int4[] AS empty, "
    "ARRAY[[1, 2], [3, NULL]]::int4[] AS nested, '[0:1]={7,8}'::int4[] AS bounds",
    "float_bool_arrays": "SELECT ARRAY[1.5, NULL, 'NaN', 'Infinity', '-Infinity', -0.0]::float8[] AS f8, "
    "ARRAY[1.25, NULL, 'NaN']::float4[] AS f4, ARRAY[true, NULL, false]::bool[] AS b",
    "text_arrays": "SELECT ARRAY['', 'a', 'ab', NULL, 'héllo', '日本', 'q\"uote', 'back\\slash']::text[] AS t, "
    "ARRAY['x', NULL]::varchar[] AS vc, ARRAY['n1', 'n2']::name[] AS nm, "
    "ARRAY['{\"a\": 1}', NULL]::json[] AS js, ARRAY[['a', 'b'], ['c', 'd']]::text[] AS t2",
    "other_arrays": "SELECT ARRAY[1.5, NULL]::numeric[] AS n, ARRAY['2024-01-02'::date, NULL] AS d, "
    "ARRAY['\\x0102'::bytea, NULL] AS by, ARRAY['a'::\"char\", 'b'::\"char\"] AS ch",
    "array_rows": "SELECT ARRAY[i, i + 1, NULL]::int4[] AS ints, "
    "ARRAY['item ' || i, NULL, 'ítem ' || i]::text[] AS texts "
    "FROM generate_series(1, 300) AS i",
    "catalogue": "SELECT * FROM pg_type ORDER BY oid",
}


@pytest.mark.parametrize("name", list(QUERIES))
async def test_same_values(pg_dsn, name):
    results = []
    for mod in (asyncpg, asyncpg_rs):
        con = await mod.connect(pg_dsn)
        try:
            rows = await con.fetch(QUERIES[name])
        finally:
            await con.close()
        results.append([list(r.items()) for r in rows])
    theirs, ours = results
    # repr: NaN compares unequal to itself, and -0.0 == 0.0 would hide a sign.
    assert repr(ours) == repr(theirs)
    # Same types too (== would let 1 == 1.0 or a list equal a tuple through).
    for their_row, our_row in zip(theirs, ours):
        for (_, a), (_, b) in zip(their_row, our_row):
            assert type(a) is type(b)
            if isinstance(a, list):
                assert [type(x) for x in a] == [type(x) for x in b]
