"""asyncpg_rs.types, serverversion and utils compared with asyncpg's."""

import asyncio
import copy
import itertools
import os
import pickle

import asyncpg
import asyncpg.serverversion
import asyncpg.types
import asyncpg.utils
import pytest

from asyncpg_rs import serverversion, types, utils

OURS = types
THEIRS = asyncpg.types


def canon(value):
    """A driver-neutral form of a value, so results of the two modules can be compared."""
    if isinstance(value, (OURS.Path, THEIRS.Path)):
        return ("Path", type(value).__name__, canon(value.points), value.is_closed)
    if isinstance(value, (OURS.Range, THEIRS.Range, OURS.BitString, THEIRS.BitString)):
        return (type(value).__name__, repr(value))
    if isinstance(value, tuple) and type(value) is not tuple:
        return (type(value).__name__, tuple(canon(v) for v in value), _repr(value))
    if isinstance(value, tuple):
        return tuple(canon(v) for v in value)
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def _repr(value):
    return repr(value).replace("asyncpg.pgproto.types.", "asyncpg_rs.types.")


def outcome(fn):
    """('ok', canonical value) or ('raise', exception class name)."""
    try:
        return ("ok", canon(fn()))
    except Exception as exc:
        return ("raise", type(exc).__name__)


def same(fn):
    """Run `fn(module)` against both modules and check the outcomes agree."""
    ours = outcome(lambda: fn(OURS))
    theirs = outcome(lambda: fn(THEIRS))
    assert ours == theirs
    return ours


def test_all_names_match():
    assert set(OURS.__all__) == set(THEIRS.__all__)
    for name in THEIRS.__all__:
        assert hasattr(OURS, name)


# --- Type, Attribute, ServerVersion -----------------------------------------------------------


def test_named_tuples_match():
    for name in ("Type", "Attribute", "ServerVersion"):
        assert getattr(OURS, name)._fields == getattr(THEIRS, name)._fields
        assert issubclass(getattr(OURS, name), tuple)
    same(lambda m: repr(m.Type(23, "int4", "scalar", "pg_catalog")))
    same(lambda m: repr(m.Attribute("a", m.Type(23, "int4", "scalar", "pg_catalog"))))
    same(lambda m: repr(m.ServerVersion(15, 0, 3, "final", 0)))
    same(lambda m: m.ServerVersion(15, 0, 3, "final", 0) > (14, 9))
    same(lambda m: m.Type(23, "int4", "scalar", "pg_catalog").kind)
    assert OURS.ServerVersion(15, 0, 3, "final", 0) == THEIRS.ServerVersion(15, 0, 3, "final", 0)


# --- Range ------------------------------------------------------------------------------------

BOUNDS = [None, 1, 2, 3]
FLAGS = [True, False]


def _range_specs():
    specs = [{"empty": True}, {}]
    for lower, upper in itertools.product(BOUNDS, BOUNDS):
        if lower is not None and upper is not None and lower > upper:
            continue
        for lower_inc, upper_inc in itertools.product(FLAGS, FLAGS):
            specs.append(
                {"lower": lower, "upper": upper, "lower_inc": lower_inc, "upper_inc": upper_inc}
            )
    return specs


RANGES = _range_specs()


def _make_range(m, spec):
    spec = dict(spec)
    args = (spec.pop("lower", None), spec.pop("upper", None)) if "lower" in spec else ()
    return m.Range(*args, **spec)


@pytest.mark.parametrize("spec", RANGES, ids=str)
def test_range_matches_asyncpg(spec):
    same(lambda m: repr(_make_range(m, spec)))
    same(lambda m: str(_make_range(m, spec)))
    for prop in ("lower", "upper", "lower_inc", "upper_inc", "lower_inf", "upper_inf", "isempty"):
        same(lambda m, p=prop: getattr(_make_range(m, spec), p))
    same(lambda m: bool(_make_range(m, spec)))
    same(lambda m: hash(_make_range(m, spec)) == hash(_make_range(m, spec)))
    assert hash(_make_range(OURS, spec)) == hash(_make_range(THEIRS, spec))


@pytest.mark.parametrize("spec", RANGES, ids=str)
def test_range_set_operations_match_asyncpg(spec):
    for other in RANGES:
        same(lambda m, o=other: _make_range(m, spec).issubset(_make_range(m, o)))
        same(lambda m, o=other: _make_range(m, spec).issuperset(_make_range(m, o)))
        same(lambda m, o=other: _make_range(m, spec) == _make_range(m, o))
        same(lambda m, o=other: _make_range(m, spec) != _make_range(m, o))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.Range(1, 5, lower_inc=0),
        lambda m: m.Range(1, 5, upper_inc=1),
        lambda m: m.Range(empty=1),
        lambda m: m.Range(1, 2, empty=0),
        lambda m: m.Range(None, 5, lower_inc=True),
        lambda m: m.Range(1, None, upper_inc=True),
        lambda m: m.Range(empty=True, lower_inc=True),
        lambda m: m.Range("a'", "b"),
        lambda m: m.Range(1.5, 2),
        lambda m: m.Range(lower=1, upper=2),
        lambda m: m.Range(1, 2, 3),
        lambda m: m.Range([1], [2]),
    ],
)
def test_range_odd_arguments_match_asyncpg(build):
    same(lambda m: repr(build(m)))
    for prop in ("lower", "upper", "lower_inc", "upper_inc", "lower_inf", "upper_inf", "isempty"):
        same(lambda m, p=prop: getattr(build(m), p))
    same(lambda m: hash(build(m)) == hash(build(m)))
    same(lambda m: build(m) == build(m))


def test_range_comparisons_with_other_types():
    same(lambda m: m.Range(1, 5) == (1, 5))
    same(lambda m: m.Range(1, 5).__eq__(1))
    same(lambda m: m.Range(1, 5) < m.Range(2, 3))
    same(lambda m: m.Range(1, 5).issubset((1, 5)))


def test_range_is_generic_and_has_slots():
    assert OURS.Range[int] is not None
    assert set(OURS.Range.__slots__) == set(THEIRS.Range.__slots__)
    with pytest.raises(AttributeError):
        OURS.Range(1, 2).foo = 1


def test_range_subclass_equality_and_repr():
    class MyRange(OURS.Range):
        pass

    assert MyRange(1, 2) == OURS.Range(1, 2)
    assert repr(MyRange(1, 2)) == "<Range [1, 2)>"


# --- BitString ------------------------------------------------------------------------------

BITSTRINGS = ["", " ", "0", "1", "1010", "10101", "1010 1", "10 10 10", "101010101", "1" * 32]
BITSTRINGS += ["1" * 33, "0" * 9, "1" * 70, "100000001", "110", "0101"]


@pytest.mark.parametrize("bits", BITSTRINGS)
def test_bitstring_matches_asyncpg(bits):
    same(lambda m: repr(m.BitString(bits)))
    same(lambda m: str(m.BitString(bits)))
    same(lambda m: m.BitString(bits).bytes)
    same(lambda m: m.BitString(bits).as_string())
    same(lambda m: len(m.BitString(bits)))
    same(lambda m: bool(m.BitString(bits)))
    same(lambda m: list(m.BitString(bits)))
    for i in range(len(bits) + 2):
        same(lambda m, i=i: m.BitString(bits)[i])
    for order in ("big", "little", "middle"):
        for signed in (False, True):
            same(lambda m, o=order, s=signed: m.BitString(bits).to_int(o, signed=s))
    assert hash(OURS.BitString(bits)) == hash(THEIRS.BitString(bits))
    for other in BITSTRINGS:
        same(lambda m, o=other: m.BitString(bits) == m.BitString(o))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.BitString(),
        lambda m: m.BitString(None),
        lambda m: m.BitString("2"),
        lambda m: m.BitString("1 2"),
        lambda m: m.BitString("11 x"),
        lambda m: m.BitString(b"101"),
        lambda m: m.BitString(101),
        lambda m: m.BitString(["1", "0"]),
        lambda m: m.BitString.frombytes(b"\xff\x01"),
        lambda m: m.BitString.frombytes(b"\xff\x01", 12),
        lambda m: m.BitString.frombytes(b"\xff\x01", 9),
        lambda m: m.BitString.frombytes(b"\xff\x01", 16),
        lambda m: m.BitString.frombytes(b"\xff\x01", 17),
        lambda m: m.BitString.frombytes(b"\xff\x01", 8),
        lambda m: m.BitString.frombytes(b"\xff\x01", 7),
        lambda m: m.BitString.frombytes(b"\xff\x01", 0),
        lambda m: m.BitString.frombytes(b"\xff", -1),
        lambda m: m.BitString.frombytes(),
        lambda m: m.BitString.frombytes(None, 3),
        lambda m: m.BitString.frombytes(b"", 0),
        lambda m: m.BitString.frombytes(b"\x80", 1),
        lambda m: m.BitString.frombytes(b"\xff\xff", 9),
        lambda m: m.BitString.frombytes(b"\xff\x80", 9),
        lambda m: m.BitString.frombytes(memoryview(b"\x80")),
        lambda m: m.BitString.from_int(5, 8),
        lambda m: m.BitString.from_int(5, 3),
        lambda m: m.BitString.from_int(5, 2),
        lambda m: m.BitString.from_int(-1, 8),
        lambda m: m.BitString.from_int(-1, 8, signed=True),
        lambda m: m.BitString.from_int(-1, 8, "middle"),
        lambda m: m.BitString.from_int(5, 8, "little"),
        lambda m: m.BitString.from_int(5, 8, bitorder="little"),
        lambda m: m.BitString.from_int(5, 8, "middle"),
        lambda m: m.BitString.from_int(5, 0),
        lambda m: m.BitString.from_int(0, 0),
        lambda m: m.BitString.from_int(5, -1),
        lambda m: m.BitString.from_int(5, -1, "middle"),
        lambda m: m.BitString.from_int(128, 8, signed=True),
        lambda m: m.BitString.from_int(-128, 8, signed=True),
        lambda m: m.BitString.from_int(-129, 8, signed=True),
        lambda m: m.BitString.from_int(300, 8, signed=True),
        lambda m: m.BitString.from_int(-300, 8, signed=True),
        lambda m: m.BitString.from_int(-1000, 8),
        lambda m: m.BitString.from_int(1, 12, "little"),
        lambda m: m.BitString.from_int(6, 3, "little"),
        lambda m: m.BitString.from_int(2**70, 71),
        lambda m: m.BitString.from_int(5.0, 8),
        lambda m: m.BitString.from_int(1.5, -1),
        lambda m: m.BitString.from_int(True, 3),
        lambda m: m.BitString.from_int(x=1, length=2),
        lambda m: m.BitString.from_int(300, 9, "little"),
        lambda m: m.BitString.from_int(-300, 11, "little", signed=True),
    ],
)
def test_bitstring_constructors_match_asyncpg(build):
    same(lambda m: repr(build(m)))
    same(lambda m: build(m).bytes)
    same(lambda m: len(build(m)))
    for order in ("big", "little"):
        for signed in (False, True):
            same(lambda m, o=order, s=signed: build(m).to_int(o, signed=s))


def test_bitstring_from_int_to_int_match_asyncpg():
    for length in range(10):
        for x in range(-(2**length) - 1, 2**length + 1):
            for order, signed in itertools.product(("big", "little"), (False, True)):

                def build(m, x=x, n=length, o=order, s=signed):
                    return m.BitString.from_int(x, n, o, signed=s)

                if same(build)[0] == "raise":
                    continue
                same(lambda m, b=build, o=order, s=signed: b(m).to_int(o, signed=s))
                low, high = (-(2 ** (length - 1)), 2 ** (length - 1)) if signed else (0, 2**length)
                if length and low <= x < high:
                    assert build(OURS).to_int(order, signed=signed) == x


def test_bitstring_indexing_errors():
    same(lambda m: m.BitString("10101")[1:2])
    same(lambda m: m.BitString("10101")["a"])
    same(lambda m: m.BitString("10101")[True])
    same(lambda m: m.BitString("101")[2**70])


def test_bitstring_negative_index_counts_from_the_end():
    # Deliberate difference: asyncpg indexes the zero-padded byte buffer from its end.
    b = OURS.BitString("10101")
    assert [b[-i] for i in range(1, 6)] == [1, 0, 1, 0, 1]
    with pytest.raises(IndexError):
        b[-6]


def test_bitstring_equality_with_other_types():
    same(lambda m: m.BitString("101") == "101")
    same(lambda m: m.BitString("101").__eq__("101"))
    same(lambda m: m.BitString("101") < m.BitString("11"))
    assert hash(OURS.BitString("101")) == hash((b"\xa0", 3))


# --- geometry ---------------------------------------------------------------------------------

GEOMETRY = [
    lambda m: m.Point(1, 2),
    lambda m: m.Point("1.5", b"2"),
    lambda m: m.Point(x=1, y=2),
    lambda m: m.Point((1, 2)),
    lambda m: m.Point(1),
    lambda m: m.Point("a", 1),
    lambda m: m.Point(None, 1),
    lambda m: m.Box((1, 2), (3, 4)),
    lambda m: m.Box(m.Point(1, 2), [3, 4]),
    lambda m: m.Box((1, 2)),
    lambda m: m.Box((1, 2, 3), (3, 4)),
    lambda m: m.Box(1, 2),
    lambda m: m.Line(1, 2, 3),
    lambda m: m.Line("1", 2, 3),
    lambda m: m.Line(1, 2),
    lambda m: m.LineSegment((1, 2), (3, 4)),
    lambda m: m.LineSegment([1, 2], [3, 4]),
    lambda m: m.Circle((1, 2), 3),
    lambda m: m.Circle(m.Point(1, 2), 3),
    lambda m: m.Circle((1, 2), "3"),
    lambda m: m.Circle(1),
    lambda m: m.Path((1, 2), (3, 4)),
    lambda m: m.Path((1, 2), (3, 4), is_closed=True),
    lambda m: m.Path(),
    lambda m: m.Path([1, 2]),
    lambda m: m.Path(1),
    lambda m: m.Path((1, 2, 3)),
    lambda m: m.Path(m.Point(1, 2)),
    lambda m: m.Path(is_closed=1),
    lambda m: m.Polygon((1, 2), (3, 4)),
    lambda m: m.Polygon((1, 2), is_closed=False),
    lambda m: m.Polygon(),
]

ATTRIBUTES = ["x", "y", "high", "low", "A", "B", "C", "p1", "p2", "center", "radius"]
ATTRIBUTES += ["points", "is_closed"]


@pytest.mark.parametrize("build", GEOMETRY)
def test_geometry_matches_asyncpg(build):
    result = same(build)
    if result[0] == "raise":
        return
    if not isinstance(build(OURS), OURS.Path):
        same(lambda m: _repr(build(m)))
        same(lambda m: _repr(str(build(m))))
    for attr in ATTRIBUTES:
        same(lambda m, a=attr: getattr(build(m), a))
    same(lambda m: len(build(m)))
    same(lambda m: list(build(m)))
    same(lambda m: build(m)[0])
    same(lambda m: build(m)[-1])
    same(lambda m: build(m)[0:1])
    same(lambda m: build(m)[5])
    same(lambda m: (1, 2) in build(m))
    same(lambda m: (1.0, 2.0) in build(m))
    same(lambda m: hash(build(m)))
    same(lambda m: isinstance(build(m), tuple))
    same(lambda m: build(m).__dict__)
    for other in GEOMETRY:
        same(lambda m, o=other: build(m) == o(m))
    same(lambda m: build(m) == ((1.0, 2.0), (3.0, 4.0)))
    same(lambda m: build(m) == (1.0, 2.0))
    same(lambda m: build(m).__eq__(1))


def test_geometry_reprs():
    assert repr(OURS.Point(1, 2)) == "asyncpg_rs.types.Point((1.0, 2.0))"
    assert repr(OURS.Line(1, 2, 3)) == "(1, 2, 3)"
    assert repr(OURS.Circle((1, 2), 3)) == "((1, 2), 3)"
    assert repr(OURS.Box((1, 2), (3, 4))) == (
        "asyncpg_rs.types.Box((asyncpg_rs.types.Point((1.0, 2.0)), "
        "asyncpg_rs.types.Point((3.0, 4.0))))"
    )

    class MyPoint(OURS.Point):
        pass

    assert repr(MyPoint(1, 2)) == f"{__name__}.MyPoint((1.0, 2.0))"


def test_path_and_polygon_equality():
    p = OURS.Path((1, 2), (3, 4), is_closed=True)
    assert p == OURS.Polygon((1, 2), (3, 4))
    assert OURS.Polygon((1, 2), (3, 4)) == p
    assert hash(p) == hash(OURS.Polygon((1, 2), (3, 4)))
    assert hash(OURS.Path((1, 2))) == hash(THEIRS.Path((1, 2)))
    assert set(OURS.Path.__slots__) == set(THEIRS.Path.__slots__)


@pytest.mark.parametrize(
    "value",
    [
        OURS.Point(1, 2),
        OURS.Box((1, 2), (3, 4)),
        OURS.Line(1, 2, 3),
        OURS.LineSegment((1, 2), (3, 4)),
        OURS.Circle(OURS.Point(1, 2), 3.0),
        OURS.Path((1, 2), (3, 4)),
        OURS.Polygon((1, 2), (3, 4)),
        OURS.Range(1, 2, upper_inc=True),
        OURS.Range(empty=True),
        OURS.BitString("10101"),
        OURS.Type(23, "int4", "scalar", "pg_catalog"),
        OURS.ServerVersion(15, 0, 3, "final", 0),
    ],
    ids=repr,
)
def test_values_pickle_and_copy(value):
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(value, protocol))
        assert type(back) is type(value)
        assert back == value
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value


# --- serverversion ----------------------------------------------------------------------------

VERSIONS = [
    "15.3",
    "15.3 (Debian 15.3-1.pgdg110+1)",
    "9.6.24",
    "10beta1",
    "16devel",
    "14rc1",
    "9.4beta2",
    "13.0",
    "PostgreSQL 12.1",
    "11.2-YB-2.1.0.0-b0",
    "EnterpriseDB 9.6.1.2",
    "8.4.22",
    "10",
    "17",
    "9.6rc1",
    "foo",
    "",
    "15.",
    "9.6.24.1",
    "10.1.2",
    "9.6.x",
    "10alpha2",
    "10beta",
    "10.0beta1",
    "9.5 ",
    " 9.5",
    "9.5devel",
    "100.1",
    "15,3",
    "10.5-custom",
    "16.1+x",
    "1.2.3.4.5",
    "9.0.0beta3",
    "9.6.devel",
    "15.3 devel",
    "v15.3",
    "16.0devel",
    "PostgreSQL9x 10.1",
    "Postgres 15.1",
]


@pytest.mark.parametrize("version", VERSIONS)
def test_split_server_version_string_matches_asyncpg(version):
    ours = outcome(lambda: serverversion.split_server_version_string(version))
    theirs = outcome(lambda: asyncpg.serverversion.split_server_version_string(version))
    assert ours == theirs
    if ours[0] == "raise":
        with pytest.raises(ValueError, match="Unable to parse Postgres version from"):
            serverversion.split_server_version_string(version)
    else:
        assert isinstance(serverversion.split_server_version_string(version), OURS.ServerVersion)


# --- utils ------------------------------------------------------------------------------------

STRINGS = ["abc", "ABC", "a b", 'a"b', "", "select", "é", "a.b", "a'b", "a\\b", "a\\'b", "a\nb"]


@pytest.mark.parametrize("text", [*STRINGS, None, 1])
def test_quoting_matches_asyncpg(text):
    for name in ("_quote_ident", "_quote_literal"):
        ours = outcome(lambda n=name: getattr(utils, n)(text))
        theirs = outcome(lambda n=name: getattr(asyncpg.utils, n)(text))
        assert ours == theirs


def test_quoting_examples():
    assert utils._quote_ident('we "ird"') == '"we ""ird"""'
    assert utils._quote_literal("it's") == "'it''s'"


@pytest.fixture
def dsn(request):
    try:
        return request.getfixturevalue("pg_dsn")
    except pytest.FixtureLookupError:
        pass
    value = os.environ.get("ASYNCPG_RS_TEST_DSN")
    if not value:
        pytest.skip("no PostgreSQL server (pg_dsn fixture or ASYNCPG_RS_TEST_DSN)")
    return value


MOGRIFY = [
    ("select $1::int, $2::text, $1", [1, "it's"]),
    ("select $1::int[]", [[1, 2]]),
    ("select $1", ["x"]),
    ("select $1::int", [None]),
    ("select $1::jsonb, $2::numeric", ['{"a":1}', 1]),
]


def test_mogrify_matches_asyncpg(dsn):
    # Both run over an asyncpg connection: only the query building is compared.
    async def run():
        conn = await asyncpg.connect(dsn)
        try:
            for query, args in MOGRIFY:
                ours = await utils._mogrify(conn, query, args)
                theirs = await asyncpg.utils._mogrify(conn, query, args)
                assert ours == theirs
        finally:
            await conn.close()

    asyncio.run(run())
