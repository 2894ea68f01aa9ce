"""Builtin type codecs, checked against asyncpg 0.32 on a live server (differential).

For every type: literals decoded by the server's binary output, parameters sent by our encoders
and read back, and the messages of rejected parameters. asyncpg is the oracle: each value must come
back from asyncpg_rs with the same type and the same repr as from asyncpg.
"""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import math
import uuid

import asyncpg
import pytest
import pytest_asyncio

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

D = decimal.Decimal
UTC = datetime.timezone.utc


def tz(hours: float) -> datetime.timezone:
    return datetime.timezone(datetime.timedelta(hours=hours))


# type -> SQL literals (cast to the type by the test)
LITERALS = {
    "bool": ["true", "false"],
    "int2": ["0", "'-32768'", "32767"],
    "int4": ["'-2147483648'", "42"],
    "int8": ["9223372036854775807", "'-1'"],
    "oid": ["'4294967295'", "0"],
    "xid": ["'12'"],
    "cid": ["'3'"],
    "xid8": ["'18446744073709551615'"],
    "pg_lsn": ["'FFFFFFFF/FFFFFFFF'", "'1/0'"],
    "float4": ["1.1", "'NaN'", "'-Infinity'", "3.4e38", "1e-45"],
    "float8": ["1e308", "'nan'", "'inf'", "'-0.0'", "0.1"],
    "numeric": [
        "0",
        "0.000",
        "1e20",
        "10000",
        "123.4500",
        "'-0.0001'",
        "'1e-20'",
        "1.5e3",
        "'NaN'",
        "'Infinity'",
        "'-Infinity'",
        "12345678901234567890.12345678901234567890",
        "99999999",
        "100000000",
        "0.00010000",
        "'-12.5'",
        "'1e-16383'",
        "'1e1000'",
    ],
    "text": ["'héllo'", "''"],
    "varchar": ["'x'"],
    "bpchar": ["'ab  '"],
    '"char"': ["'a'", "''"],
    "name": ["'nm'"],
    "xml": ["'<a>x</a>'"],
    "bytea": ["'\\x00ff'", "''"],
    "uuid": ["'6ba7b810-9dad-11d1-80b4-00c04fd430c8'", "'00000000-0000-0000-0000-000000000000'"],
    "date": [
        "'2000-01-01'",
        "'1999-12-31'",
        "'0001-01-01'",
        "'9999-12-31'",
        "'infinity'",
        "'-infinity'",
        "'2024-02-29'",
    ],
    "time": ["'00:00'", "'23:59:59.999999'", "'12:34:56.789'"],
    "timetz": ["'12:00:01.5+05:30'", "'01:02-08'", "'00:00+00'"],
    "timestamp": [
        "'2000-01-01'",
        "'1999-12-31 23:59:59.999999'",
        "'0001-01-01'",
        "'9999-12-31 23:59:59.999999'",
        "'infinity'",
        "'-infinity'",
        "'2024-02-29 12:00'",
    ],
    "timestamptz": [
        "'2000-01-01 00:00+00'",
        "'2024-06-01 12:34:56.5+02'",
        "'infinity'",
        "'-infinity'",
        "'0001-01-01 00:00+00'",
    ],
    "interval": [
        "'1 year 13 months 2 days 3 hours'",
        "'-1 year -13 months'",
        "'-1 microsecond'",
        "'0'",
        "'1000000 days'",
        "'-5 months 3 seconds'",
    ],
    "json": ["'{\"a\": [1, 2]}'", "'null'"],
    "jsonb": ['\'{"b": 1, "a": [1, 2]}\''],
    "jsonpath": ["'$.a[*] ? (@ > 1)'"],
    "inet": ["'1.2.3.4'", "'1.2.3.4/24'", "'::1'", "'fe80::1/64'", "'0.0.0.0/0'"],
    "cidr": ["'10.0.0.0/8'", "'2001:db8::/32'", "'1.2.3.4/32'"],
    "tid": ["'(1,2)'"],
    "int2vector": ["'1 2 3'"],
    "oidvector": ["'23 25'"],
    "money": ["'12.34'"],
    "regtype": ["'int4'"],
    "macaddr": ["'08:00:2b:01:02:03'"],
    "int4[]": [
        "'{1,NULL,3}'",
        "'{{1,2},{3,4}}'",
        "'[0:1]={1,2}'",
        "'{}'",
        "'{{{{{{1}}}}}}'",
        "'[-3:-2][5:5]={{1},{2}}'",
    ],
    "text[]": ["'{a,NULL,\"\"}'", "'{{a,b},{c,d}}'", '\'{"x,y","q\\""}\''],
    "numeric[]": ["'{1.50,NaN,-3}'"],
    "uuid[]": ["'{6ba7b810-9dad-11d1-80b4-00c04fd430c8,NULL}'"],
    "timestamptz[]": ["'{2000-01-01 00:00+00,infinity}'"],
    "date[]": ["'{2020-01-01,NULL}'"],
    "bool[]": ["'{t,f}'"],
    "float8[]": ["'{1.5,NaN}'"],
    "bytea[]": ["'{\"\\\\x00\",NULL}'"],
    "jsonb[]": ["array['{}'::jsonb, '[1]']"],
    "inet[]": ["'{1.2.3.4/8}'"],
    "interval[]": ["'{1 day}'"],
    '"char"[]': ["'{a,b}'"],
    "name[]": ["'{a}'"],
    "oid[]": ["'{1,2}'"],
    "int8[]": ["'{}'"],
    "time[]": ["'{01:02}'"],
    "timetz[]": ["'{01:02+01}'"],
    "xml[]": ["array['<a/>'::xml]"],
    "json[]": ["array['1'::json]"],
    "cidr[]": ["'{10.0.0.0/8}'"],
    "tid[]": ["'{\"(1,2)\"}'"],
    "pg_lsn[]": ["'{0/1}'"],
}

# type -> Python values sent as $1 and read back
PARAMS = {
    "bool": [True, False],
    "int2": [5, 1.9, D("-2.5")],
    "int4": [2**31 - 1, True],
    "int8": [-(2**63)],
    "oid": [2**32 - 1],
    "xid8": [2**64 - 1],
    "float4": [0.1, math.inf],
    "float8": [0.1, 3, D("1.5"), -math.inf],
    "numeric": [
        D("1.50"),
        D("-0.0001"),
        10**30,
        D("1E+5"),
        0.1,
        "1.50",
        D("sNaN"),
        D("-Infinity"),
        D("0E-7"),
        D("123456789.987654321"),
        7,
        D("1E-16383"),
    ],
    "text": ["héllo", ""],
    "varchar": ["v"],
    "bytea": [b"\x00", bytearray(b"ab"), memoryview(b"xyz")],
    '"char"': [b"a"],
    "uuid": [
        uuid.UUID(int=7),
        "6ba7b8109dad11d180b400c04fd430c8",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    ],
    "date": [
        datetime.date(2020, 2, 29),
        datetime.date.max,
        datetime.date.min,
        datetime.datetime(2020, 1, 1, 5),
    ],
    "time": [datetime.time(1, 2, 3, 4), datetime.time(1, 2, tzinfo=UTC)],
    "timetz": [datetime.time(1, 2, tzinfo=tz(-3.5)), datetime.time(23, 0, tzinfo=UTC)],
    "timestamp": [
        datetime.datetime(2020, 1, 2, 3, 4, 5, 6),
        datetime.datetime.max,
        datetime.datetime.min,
        datetime.date(2020, 1, 2),
        datetime.datetime(1, 1, 1, 0, 0, 1),
    ],
    "timestamptz": [
        datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=tz(5)),
        datetime.datetime(2020, 1, 2),
        datetime.date(2021, 3, 4),
        datetime.datetime.max,
        datetime.datetime.max.replace(tzinfo=UTC),
    ],
    "interval": [
        datetime.timedelta(days=-1, microseconds=5),
        datetime.timedelta(days=40, hours=30),
    ],
    "json": ['{"a": 1}'],
    "jsonb": ['{"a": 1}'],
    "jsonpath": ["$.a"],
    "inet": [
        "1.2.3.4/24",
        ipaddress.ip_address("::1"),
        ipaddress.ip_network("10.0.0.0/8"),
        1,
        ipaddress.ip_interface("1.2.3.4/16"),
    ],
    "cidr": ["10.0.0.0/8", ipaddress.ip_address("1.2.3.4"), ipaddress.ip_network("2001:db8::/32")],
    "tid": [(1, 2), [3, 4]],
    "void": [None],
    "int4[]": [[1, None, 3], [[1, 2], [3, 4]], [], [[]], (1, 2), range(3), {5}],
    "text[]": [["a", None, ""], [["x,y", 'q"'], ["{", "}"]]],
    "numeric[]": [[D("1.5"), 2, None]],
    "uuid[]": [[uuid.UUID(int=1), "6ba7b810-9dad-11d1-80b4-00c04fd430c8"]],
    "int8[]": [[[[[[[1]]]]]]],
    "timestamptz[]": [[datetime.datetime(2020, 1, 2, tzinfo=UTC), None]],
    "bytea[]": [[b"x", None, b""]],
}

# type -> parameters every driver must reject, with the same class and message
BAD_PARAMS = {
    "int4": ["x", 2**31, 1.5e20],
    "int2": [2**15],
    "int8": [2**63],
    "oid": [-1],
    "float4": [1e39, "x"],
    "float8": ["x"],
    "bool": [1],
    "text": [b"x", 1],
    "bytea": ["x", 1],
    '"char"': ["a"],
    "uuid": ["x", 1],
    "numeric": [b"1", D("1E-20000")],
    "date": ["x"],
    "time": ["x"],
    "timetz": [datetime.time(1, 2)],
    "timestamp": ["x", datetime.datetime(2020, 1, 2, tzinfo=UTC)],
    "timestamptz": ["x"],
    "interval": ["x"],
    "json": [{}],
    "jsonb": [1],
    "inet": ["x"],
    "cidr": ["10.0.0.1/8"],
    "tid": [5, (1, 2, 3), (2**32, 2)],
    "int4[]": [
        [1, "x"],
        [[1, 2], [3]],
        [[1, 2], 3],
        5,
        "ab",
        {1: 2},
        ((1, 2), (3, 4)),
        [[[[[[[1]]]]]]],
        [[1, 2], [3, "x"]],
    ],
    "text[]": [["a", 1]],
}


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


def assert_same(ours, ref, context):
    """Same type and repr (NaN-aware), recursing into lists."""
    assert type(ours) is type(ref) or (
        isinstance(ours, uuid.UUID) and isinstance(ref, uuid.UUID)
    ), f"{context}: {ours!r} ({type(ours).__name__}) != {ref!r} ({type(ref).__name__})"
    if isinstance(ref, list):
        assert len(ours) == len(ref), f"{context}: {ours!r} != {ref!r}"
        for a, b in zip(ours, ref):
            assert_same(a, b, context)
    elif isinstance(ref, uuid.UUID):
        assert ours == ref and hash(ours) == hash(ref) and str(ours) == str(ref), context
    else:
        assert repr(ours) == repr(ref), f"{context}: {ours!r} != {ref!r}"


async def both(cons, query, *args):
    ref, ours = cons
    return await ours.fetchval(query, *args), await ref.fetchval(query, *args)


@pytest.mark.parametrize("typ", sorted(LITERALS))
async def test_decodes_literals_like_asyncpg(cons, typ):
    for lit in LITERALS[typ]:
        query = f"SELECT {lit}::{typ}"
        ours, ref = await both(cons, query)
        assert_same(ours, ref, query)


@pytest.mark.parametrize("typ", sorted(PARAMS))
async def test_round_trips_parameters_like_asyncpg(cons, typ):
    for value in PARAMS[typ]:
        query = f"SELECT $1::{typ}"
        ours, ref = await both(cons, query, value)
        assert_same(ours, ref, f"{query} with {value!r}")
        # what the server received, as text, must agree too
        if typ != "void":
            text_query = f"SELECT $1::{typ}::text"
            ours, ref = await both(cons, text_query, value)
            assert ours == ref, f"{text_query} with {value!r}"


@pytest.mark.parametrize("typ", sorted(BAD_PARAMS))
async def test_rejects_bad_parameters_like_asyncpg(cons, typ):
    ref, ours = cons
    query = f"SELECT $1::{typ}"
    for value in BAD_PARAMS[typ]:
        with pytest.raises(Exception) as ref_exc:
            await ref.fetchval(query, value)
        with pytest.raises(Exception) as our_exc:
            await ours.fetchval(query, value)
        assert type(our_exc.value).__name__ == type(ref_exc.value).__name__, (
            f"{query} with {value!r}"
        )
        assert str(our_exc.value) == str(ref_exc.value), f"{query} with {value!r}"


async def test_decodes_null_as_none(cons):
    for typ in ["int4", "text", "numeric", "uuid", "timestamptz", "int4[]"]:
        ours, ref = await both(cons, f"SELECT NULL::{typ}")
        assert ours is None and ref is None


async def test_uuid_is_a_uuid_instance(cons):
    ours, _ = await both(cons, "SELECT '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid")
    assert isinstance(ours, uuid.UUID)
    assert ours == uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    assert {ours: 1}[uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")] == 1


async def test_timestamptz_is_utc_whatever_the_session_time_zone(cons):
    ref, ours = cons
    for con in cons:
        await con.execute("SET TimeZone = 'America/New_York'")
    query = "SELECT '2024-06-01 12:00+02'::timestamptz"
    value = await ours.fetchval(query)
    assert value == datetime.datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert value.tzinfo is UTC
    assert_same(value, await ref.fetchval(query), query)


async def test_numeric_keeps_the_scale(cons):
    ours, _ = await both(cons, "SELECT 1.00000::numeric")
    assert str(ours) == "1.00000"


async def test_many_rows_decode_like_asyncpg(cons):
    ref, ours = cons
    query = """
        SELECT i, i::int8 * 1000003, (i / 7.0)::numeric(12, 4), md5(i::text), i % 3 = 0,
               ('2000-01-01'::timestamptz + i * interval '1 hour'),
               ('2000-01-01'::date + i), gen_random_uuid() IS NOT NULL,
               CASE WHEN i % 5 = 0 THEN NULL ELSE array[i, i + 1] END,
               (i * 1.5)::float8, i * interval '1 minute'
        FROM generate_series(1, 1000) AS s(i)
    """
    ours_rows = await ours.fetch(query)
    ref_rows = await ref.fetch(query)
    assert len(ours_rows) == len(ref_rows) == 1000
    for a, b in zip(ours_rows, ref_rows):
        assert_same(list(a), list(b), query)


async def test_text_format_arrays_decode_to_lists_like_asyncpg(cons):
    for query in [
        "SELECT '{1.5,NULL}'::money[]",
        "SELECT '{int4,text}'::regtype[]",
        "SELECT '{08:00:2b:01:02:03}'::macaddr[]",
    ]:
        ours, ref = await both(cons, query)
        assert_same(ours, ref, query)
