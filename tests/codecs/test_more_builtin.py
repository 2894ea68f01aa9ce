"""Builtin types beyond the scalars: geometry, bit strings, snapshots, builtin ranges and
multiranges, anonymous records, and the types asyncpg reads as text (tsvector, money, macaddr...).

Differential: every value must come back from asyncpg_rs equal to what asyncpg gives (compared by
a driver-neutral normal form, since each driver has its own classes), and rejected parameters must
fail with the same class and message.
"""

from __future__ import annotations

import datetime
import decimal

import asyncpg
import pytest
import pytest_asyncio

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60), pytest.mark.differential]

D = decimal.Decimal


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
    if name == "BitString":
        return ("BitString", value.as_string())
    if name in ("Path", "Polygon"):
        return (name, tuple(normalize(p) for p in value.points), value.is_closed)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, tuple):
        return (name, tuple(normalize(v) for v in value))
    return (name, repr(value))


@pytest_asyncio.fixture
async def cons(pg_dsn):
    """(asyncpg connection, asyncpg_rs connection) to the same server."""
    ref = await asyncpg.connect(pg_dsn)
    ours = await asyncpg_rs.connect(pg_dsn)
    try:
        yield ref, ours
    finally:
        await ours.close()
        await ref.close()


# type -> SQL literals (cast to the type by the test)
LITERALS = {
    "point": ["'(1,2)'", "'(-1.5,1e300)'", "'(NaN,Infinity)'"],
    "line": ["'{1,2,3}'"],
    "lseg": ["'[(1,2),(3,4)]'"],
    "box": ["'(3,4),(1,2)'", "'(1,2),(3,4)'"],
    "path": ["'[(1,2),(3,4)]'", "'((1,2),(3,4))'", "'[(0,0)]'"],
    "polygon": ["'((1,2),(3,4),(5,6))'", "'((0,0))'"],
    "circle": ["'<(1,2),3>'"],
    "bit(3)": ["B'101'"],
    "bit": ["B'1'"],
    "varbit": ["B'101'", "''", "B'1111000011'", "B'11111111'"],
    "txid_snapshot": ["'10:20:10,14,15'", "'10:20:'"],
    "pg_snapshot": ["'10:20:10,14,15'", "'1:1:'"],
    "int4range": ["'empty'", "'[1,5)'", "'(,)'", "'(,5]'", "'[3,)'"],
    "int8range": ["'[1,9223372036854775806]'", "'empty'"],
    "numrange": ["'[1.5,)'", "'(,2.25]'", "'[1.0,1.0]'"],
    "daterange": [
        "'[2020-01-01,2021-01-01)'",
        "'[2020-01-01,infinity)'",
        "'[-infinity,2020-01-01)'",
    ],
    "tsrange": ["'[2020-01-01 00:00,2021-01-01)'", "'(,2021-01-01)'"],
    "tstzrange": ["'[2020-01-01 00:00+00,2021-01-01+02)'"],
    "int4multirange": ["'{}'", "'{[1,5), [7,8)}'", "'{(,)}'"],
    "int8multirange": ["'{[1,2]}'"],
    "nummultirange": ["'{[1,3), [4.5,)}'"],
    "datemultirange": ["'{[2020-01-01,2020-02-01)}'"],
    "tsmultirange": ["'{[2020-01-01,2020-02-01)}'"],
    "tstzmultirange": ["'{[2020-01-01+00,2020-02-01+00)}'"],
    "point[]": ["array['(1,2)'::point, NULL]"],
    "box[]": ["'{(1,2),(3,4);(5,6),(7,8)}'"],
    "varbit[]": ["array[B'1', B'0101']"],
    "int4range[]": ["array['[1,2)'::int4range, 'empty']", "'{}'"],
    "int4multirange[]": ["array['{[1,2)}'::int4multirange]"],
    "pg_snapshot[]": ["array['1:2:'::pg_snapshot]"],
    "tsvector": ["'a fat cat'"],
    "tsquery": ["'a & b'"],
    "macaddr": ["'08:00:2b:01:02:03'"],
    "macaddr8": ["'08:00:2b:01:02:03:04:05'"],
    "money": ["'12.34'"],
    "regclass": ["'pg_class'"],
    "refcursor": ["'c'"],
    "record": [
        "ROW(1, 'a', NULL)",
        "ROW()",
        "ROW(1, ROW(2, 'x'))",
        "ROW('(1,2)'::point, B'1', '1:2:'::pg_snapshot)",
        "ROW(1.5::numeric, '2020-01-01'::date, 'x'::varchar)",
    ],
    "record[]": ["array[ROW(1, 'a'), NULL]"],
}

# type -> functions of the driver's `types` module giving the parameter to send as $1
PARAMS = {
    "point": [lambda T: (1, 2), lambda T: T.Point(1.5, -2), lambda T: [3, 4]],
    "line": [lambda T: (1, 2, 3), lambda T: T.Line(1, 2, 3)],
    "lseg": [lambda T: ((1, 2), (3, 4)), lambda T: T.LineSegment((1, 2), (3, 4))],
    "box": [lambda T: ((3, 4), (1, 2)), lambda T: T.Box((1, 2), (3, 4))],
    "path": [
        lambda T: T.Path((1, 2), (3, 4)),
        lambda T: T.Path((1, 2), (3, 4), is_closed=True),
        lambda T: [(1, 2), (3, 4)],
        lambda T: ((1, 2), (3, 4)),
    ],
    "polygon": [lambda T: T.Polygon((1, 2), (3, 4), (5, 6)), lambda T: [(1, 2), (3, 4)]],
    "circle": [lambda T: ((1, 2), 3), lambda T: T.Circle((1, 2), 3)],
    "varbit": [
        lambda T: T.BitString("101"),
        lambda T: T.BitString(""),
        lambda T: b"\x05",
        lambda T: T.BitString.from_int(1000, 12),
    ],
    "bit(3)": [lambda T: T.BitString("101")],
    "txid_snapshot": [lambda T: (1, 5, (2, 3))],
    "pg_snapshot": [lambda T: (1, 5, [2, 3]), lambda T: [7, 7, ()]],
    "int4range": [
        lambda T: T.Range(1, 5),
        lambda T: T.Range(empty=True),
        lambda T: (1, 5),
        lambda T: [1, 5],
        lambda T: (None, 5),
        lambda T: (1,),
        lambda T: (),
        lambda T: T.Range(None, None),
        lambda T: T.Range(1, 5, lower_inc=False, upper_inc=True),
    ],
    "numrange": [lambda T: T.Range(D("1.5"), None), lambda T: (1, 2.5)],
    "daterange": [lambda T: T.Range(datetime.date(2020, 1, 1), datetime.date.max)],
    "tstzrange": [
        lambda T: T.Range(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc), None)
    ],
    "int4multirange": [
        lambda T: [T.Range(1, 5), (7, 9)],
        lambda T: [],
        lambda T: (T.Range(1, 2),),
    ],
    "point[]": [lambda T: [T.Point(1, 2), None]],
    "int4range[]": [lambda T: [T.Range(1, 2), T.Range(empty=True)]],
    "varbit[]": [lambda T: [T.BitString("1"), None]],
    "tsvector": [lambda T: "a b"],
    "macaddr": [lambda T: "08:00:2b:01:02:03"],
    "money": [lambda T: "12.3"],
}

# type -> parameters both drivers must reject with the same class and message
BAD_PARAMS = {
    "point": [lambda T: "ab", lambda T: (1,), lambda T: 5],
    "box": [lambda T: (1, 2)],
    "line": [lambda T: (1, 2)],
    "circle": [lambda T: (1, 2)],
    "path": [lambda T: 5, lambda T: "x"],
    "polygon": [lambda T: 5],
    "varbit": [lambda T: "101", lambda T: 5],
    "pg_snapshot": [lambda T: "1:5:2,3", lambda T: 5],
    "int4range": [
        lambda T: 5,
        lambda T: "x",
        lambda T: (1, 2, 3),
        lambda T: T.Range("a", 2),
    ],
    "int4multirange": [lambda T: 5, lambda T: [5]],
}


def ids(table):
    return sorted(table)


@pytest.mark.parametrize("typ", ids(LITERALS))
async def test_decodes_literals_like_asyncpg(cons, typ):
    ref, ours = cons
    for lit in LITERALS[typ]:
        query = f"SELECT {lit}::{typ}"
        expected = normalize(await ref.fetchval(query))
        assert normalize(await ours.fetchval(query)) == expected, query


@pytest.mark.parametrize("typ", ids(PARAMS))
async def test_round_trips_parameters_like_asyncpg(cons, typ):
    ref, ours = cons
    for make in PARAMS[typ]:
        for query in (f"SELECT $1::{typ}", f"SELECT $1::{typ}::text"):
            expected = normalize(await ref.fetchval(query, make(asyncpg.types)))
            got = normalize(await ours.fetchval(query, make(asyncpg_rs.types)))
            assert got == expected, f"{query} with {make(asyncpg_rs.types)!r}"


@pytest.mark.parametrize("typ", ids(BAD_PARAMS))
async def test_rejects_bad_parameters_like_asyncpg(cons, typ):
    ref, ours = cons
    query = f"SELECT $1::{typ}"
    for make in BAD_PARAMS[typ]:
        with pytest.raises(Exception) as ref_exc:
            await ref.fetchval(query, make(asyncpg.types))
        with pytest.raises(Exception) as our_exc:
            await ours.fetchval(query, make(asyncpg_rs.types))
        shown = f"{query} with {make(asyncpg_rs.types)!r}"
        assert type(our_exc.value).__name__ == type(ref_exc.value).__name__, shown
        assert str(our_exc.value) == str(ref_exc.value), shown


async def test_decoded_values_are_the_types_module_classes(cons):
    _, ours = cons
    T = asyncpg_rs.types
    row = await ours.fetchrow(
        "SELECT '(1,2)'::point, '(3,4),(1,2)'::box, '[(1,2),(3,4)]'::path, '((1,2))'::polygon,"
        " '<(1,2),3>'::circle, '{1,2,3}'::line, '[(1,2),(3,4)]'::lseg, B'1'::varbit,"
        " '[1,2)'::int4range"
    )
    classes = (T.Point, T.Box, T.Path, T.Polygon, T.Circle, T.Line, T.LineSegment)
    classes += (T.BitString, T.Range)
    for value, cls in zip(row, classes):
        assert type(value) is cls
    assert row[0].x == 1.0 and row[1].high == T.Point(3, 4) and row[4].radius == 3.0
    assert not row[2].is_closed and row[3].is_closed


async def test_ranges_compare_equal_to_what_was_sent(cons):
    _, ours = cons
    T = asyncpg_rs.types
    for value in [T.Range(1, 5), T.Range(empty=True), T.Range(None, 3), T.Range(2, None)]:
        assert await ours.fetchval("SELECT $1::int4range", value) == value


async def test_server_sees_the_same_geometry_as_the_literal(cons):
    _, ours = cons
    T = asyncpg_rs.types
    checks = [
        ("point", T.Point(1, 2), "'(1,2)'"),
        ("box", T.Box((3, 4), (1, 2)), "'(3,4),(1,2)'"),
        ("circle", T.Circle((1, 2), 3), "'<(1,2),3>'"),
        ("lseg", T.LineSegment((1, 2), (3, 4)), "'[(1,2),(3,4)]'"),
        ("path", T.Path((1, 2), (3, 4), is_closed=True), "'((1,2),(3,4))'"),
    ]
    for typ, value, literal in checks:
        assert await ours.fetchval(f"SELECT $1::{typ}::text = {literal}::{typ}::text", value)


async def test_anonymous_record_fields_of_builtin_arrays_and_ranges_decode(cons):
    # asyncpg introspects arrays and ranges, so a fresh connection cannot decode them inside an
    # anonymous record; asyncpg_rs has builtin codecs for them.
    _, ours = cons
    value = await ours.fetchval("SELECT ROW(array[1, NULL], '[1,2)'::int4range, '{}'::text[])")
    assert value == ([1, None], asyncpg_rs.types.Range(1, 2), [])


async def test_anonymous_record_with_an_unknown_field_type_fails_like_asyncpg(cons):
    for con in cons:
        await con.execute("CREATE TYPE pg_temp.anon_enum AS ENUM ('e')")
    query = "SELECT ROW(1, 'e'::pg_temp.anon_enum)"
    for con in cons:
        with pytest.raises(Exception, match="no decoder for composite type element in position 1"):
            await con.fetchval(query)


async def test_anonymous_record_parameters_are_refused(cons):
    for con in cons:
        with pytest.raises(Exception, match="input of anonymous composite types is not supported"):
            await con.fetchval("SELECT $1::record", (1, 2))
