"""Record: behaviour compared with asyncpg 0.32's Record.

Rows are built without a server through the hidden `_native._make_record` hook and, on the asyncpg
side, through its internal `_create_record`. Tests that need a real server (duplicate column names,
`record_class=` through a query) use the `pg_dsn` fixture when the suite has one, else the
ASYNCPG_RS_TEST_DSN environment variable, and are skipped otherwise.
"""

import asyncio
import collections
import copy
import gc
import os
import pickle
import weakref

import pytest

from asyncpg_rs import _native

asyncpg = pytest.importorskip("asyncpg")
try:
    from asyncpg.protocol.protocol import _create_record as _asyncpg_create_record
except ImportError:  # pragma: no cover - a newer asyncpg may move it
    _asyncpg_create_record = None

Record = _native.Record
make = _native._make_record

# asyncpg names its class after its C module; ours lives in asyncpg_rs.
_THEIR_NAMES = ("asyncpg.protocol.record.Record", "asyncpg.protocol.record.")
_OUR_NAMES = ("asyncpg_rs.Record", "asyncpg_rs.")


def _normalise(text):
    for theirs, ours in zip(_THEIR_NAMES, _OUR_NAMES):
        text = text.replace(theirs, ours)
    return text


def outcome(fn):
    """What calling `fn` gives: ('ok', value) or ('raise', exception class name, args)."""
    try:
        value = fn()
    except Exception as exc:
        return ("raise", type(exc).__name__, tuple(_normalise(str(a)) for a in exc.args))
    if isinstance(value, (tuple, list)):
        value = type(value)(value)
    return ("ok", value)


def both(names, values):
    """The same row as ours and asyncpg's Record (asyncpg's built without a server)."""
    if _asyncpg_create_record is None:
        pytest.skip("asyncpg._create_record is not available")
    ours = make(list(names), list(values))
    theirs = _asyncpg_create_record({n: i for i, n in enumerate(names)}, tuple(values))
    return ours, theirs


ROWS = [
    ((), ()),
    (("a",), (1,)),
    (("a", "b", "c", "d"), (1, "x", None, 2.5)),
    (("we ird", "n", "arr"), ("it's", 1.5, [1, 2])),
    (("é", "b"), ("ünï", b"\x00")),
]


class Unhashable:
    __hash__ = None

    def __repr__(self):
        return "Unhashable()"


class HashRaises:
    def __hash__(self):
        raise ValueError("boom")

    def __repr__(self):
        return "HashRaises()"


class Index:
    def __index__(self):
        return 1


KEYS = [
    0,
    1,
    -1,
    -4,
    -5,
    3,
    4,
    True,
    False,
    2**70,
    -(2**70),
    Index(),
    "a",
    "b",
    "zz",
    "",
    b"a",
    1.0,
    None,
    (1, 2),
    (),
    Ellipsis,
    HashRaises(),
    slice(1, 3),
    slice(None, None, -1),
    slice(5, 9),
    slice(-1, None),
    slice(None, None, 2),
    slice(0, 2, 0),
    slice(None),
]


@pytest.mark.parametrize(("names", "values"), ROWS)
def test_repr_str_len_bool_match_asyncpg(names, values):
    ours, theirs = both(names, values)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert len(ours) == len(theirs)
    assert bool(ours) == bool(theirs)


def test_repr_of_empty_record():
    assert repr(make([], [])) == "<Record>"


def test_repr_shows_names_raw_and_values_by_repr():
    assert repr(make(["a", "b"], [1, "x"])) == "<Record a=1 b='x'>"
    assert repr(make(["we ird"], ["it's"])) == '<Record we ird="it\'s">'


@pytest.mark.parametrize(("names", "values"), ROWS)
@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_matches_asyncpg(names, values, key):
    ours, theirs = both(names, values)
    assert outcome(lambda: ours[key]) == outcome(lambda: theirs[key])


@pytest.mark.parametrize(("names", "values"), ROWS)
@pytest.mark.parametrize("key", [k for k in KEYS if not isinstance(k, slice)], ids=repr)
def test_contains_and_get_match_asyncpg(names, values, key):
    ours, theirs = both(names, values)
    assert outcome(lambda: key in ours) == outcome(lambda: key in theirs)
    assert outcome(lambda: ours.get(key)) == outcome(lambda: theirs.get(key))
    sentinel = object()
    assert outcome(lambda: ours.get(key, sentinel)) == outcome(lambda: theirs.get(key, sentinel))


def test_getitem_unhashable_key_is_keyerror():
    ours, theirs = both(("a",), (1,))
    key = Unhashable()
    assert outcome(lambda: ours[key]) == outcome(lambda: theirs[key])
    assert outcome(lambda: ours[[]]) == outcome(lambda: theirs[[]])
    assert ([] in ours) is False
    assert ours.get([], 3) == 3


def test_missing_key_and_bad_index_errors():
    r = make(["a", "b"], [1, 2])
    with pytest.raises(KeyError) as exc:
        r["zz"]
    assert exc.value.args == ("zz",)
    with pytest.raises(IndexError, match="^record index out of range$"):
        r[2]
    with pytest.raises(IndexError, match="^record index out of range$"):
        r[-3]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a", 1, 2), {}),
        (("a",), {"default": 1}),
        ((), {"key": "a"}),
        (("a", 1), {"x": 1}),
    ],
)
def test_get_argument_errors_match_asyncpg(args, kwargs):
    ours, theirs = both(("a",), (1,))
    assert outcome(lambda: ours.get(*args, **kwargs)) == outcome(
        lambda: theirs.get(*args, **kwargs)
    )


def test_get_is_by_name_only():
    r = make(["a", "b"], [1, 2])
    assert r.get("a") == 1
    assert r.get("zz") is None
    assert r.get("zz", 5) == 5
    assert r.get(0) is None


@pytest.mark.parametrize(("names", "values"), ROWS)
def test_iteration_and_conversions_match_asyncpg(names, values):
    ours, theirs = both(names, values)
    assert list(ours) == list(theirs)
    assert tuple(ours) == tuple(theirs)
    assert dict(ours) == dict(theirs)
    assert list(dict(ours)) == list(dict(theirs))
    assert collections.OrderedDict(ours) == collections.OrderedDict(theirs)
    assert list(ours.keys()) == list(theirs.keys())
    assert list(ours.values()) == list(theirs.values())
    assert list(ours.items()) == list(theirs.items())


def test_keys_values_items_are_iterators():
    r = make(["a", "b"], [1, 2])
    assert type(r.keys()).__name__ == "tuple_iterator"
    for it in (iter(r), r.values(), r.items()):
        assert iter(it) is it
        assert it.__length_hint__() == 2
        next(it)
        assert it.__length_hint__() == 1
        list(it)
        assert it.__length_hint__() == 0
        assert list(it) == []
    assert type(iter(r)).__name__ == "RecordIterator"
    assert type(r.items()).__name__ == "RecordItemsIterator"


def test_contains_tests_names_not_values():
    r = make(["a", "b"], [1, "a"])
    assert "a" in r
    assert "zz" not in r
    assert 1 not in r


def test_unpacking():
    a, b = make(["a", "b"], [1, 2])
    assert (a, b) == (1, 2)


OTHERS = [
    (),
    (1,),
    (1, "x"),
    (1, "x", None, 2.5),
    (1, "x", None, 2.5, 0),
    (0, "z"),
    (2,),
    (1, 2),
    [1, "x", None, 2.5],
    [2],
    1,
    None,
    "abc",
    collections.namedtuple("NT", "a b c d")(1, "x", None, 2.5),
]

OPS = ["==", "!=", "<", "<=", ">", ">="]


@pytest.mark.parametrize(("names", "values"), ROWS[:3])
@pytest.mark.parametrize("other", OTHERS, ids=repr)
@pytest.mark.parametrize("op", OPS)
def test_comparisons_match_asyncpg(names, values, other, op):
    ours, theirs = both(names, values)
    env_ours = {"r": ours, "o": other}
    env_theirs = {"r": theirs, "o": other}
    for expr in (f"r {op} o", f"o {op} r"):
        assert outcome(lambda e=expr: eval(e, env_ours)) == outcome(
            lambda e=expr: eval(e, env_theirs)
        )


@pytest.mark.parametrize(("names", "values"), ROWS[:3])
@pytest.mark.parametrize(("names2", "values2"), ROWS[:3])
@pytest.mark.parametrize("op", OPS)
def test_record_to_record_comparisons_match_asyncpg(names, values, names2, values2, op):
    ours1, theirs1 = both(names, values)
    ours2, theirs2 = both(names2, values2)
    expr = f"a {op} b"
    assert outcome(lambda: eval(expr, {"a": ours1, "b": ours2})) == outcome(
        lambda: eval(expr, {"a": theirs1, "b": theirs2})
    )


def test_equality_ignores_names_and_uses_identity_first():
    nan = float("nan")
    assert make(["a"], [1]) == make(["b"], [1])
    assert make(["a"], [nan]) == (nan,)
    assert make(["a"], [nan]) != (float("nan"),)


def test_comparison_errors_propagate():
    class EqRaises:
        def __eq__(self, other):
            raise ValueError("eq")

        __hash__ = object.__hash__

    with pytest.raises(ValueError, match="eq"):
        make(["a"], [1]) == (EqRaises(),)  # noqa: B015
    with pytest.raises(TypeError):
        make(["a", "b"], [1, "x"]) < (1, 2)  # noqa: B015


@pytest.mark.parametrize(
    ("names", "values"), [row for row in ROWS if row[0] != ("we ird", "n", "arr")]
)
def test_hash_is_tuple_hash(names, values):
    ours, theirs = both(names, values)
    assert hash(ours) == hash(tuple(values)) == hash(theirs)
    assert {ours: 1}[tuple(values)] == 1


def test_hash_of_many_values_is_tuple_hash():
    for n in range(40):
        values = list(range(-n, n * 3, 3)) + ["s" * n, None, 1.5]
        r = make([f"c{i}" for i in range(len(values))], values)
        assert hash(r) == hash(tuple(values))


def test_hash_of_unhashable_value_raises():
    ours, theirs = both(("a",), ([1],))
    assert outcome(lambda: hash(ours)) == outcome(lambda: hash(theirs))


def test_record_is_immutable_and_has_no_attribute_access():
    r = make(["a"], [1])
    with pytest.raises(TypeError, match="does not support item assignment"):
        r[0] = 2
    with pytest.raises(TypeError):
        r["a"] = 2
    with pytest.raises(AttributeError):
        r.a  # noqa: B018
    with pytest.raises(AttributeError):
        r.x = 1


def test_record_is_not_a_dict_or_tuple():
    r = make(["a"], [1])
    assert not isinstance(r, (dict, tuple, list))
    assert Record.__mro__ == (Record, object)


def test_record_cannot_be_instantiated():
    with pytest.raises(TypeError, match="^cannot create 'asyncpg_rs.Record' instances$"):
        Record()
    with pytest.raises(TypeError, match="cannot create"):
        Record(1, 2, x=3)
    with pytest.raises(TypeError, match="cannot create"):
        Record.__new__(Record)


class MyRecord(Record):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def test_subclass_instances_made_from_rust():
    r = make(["a", "b"], [1, "2"], MyRecord)
    assert type(r) is MyRecord
    assert isinstance(r, Record)
    assert r.a == 1
    assert r.b == "2"
    assert r["b"] == "2"
    assert r == (1, "2")
    assert repr(r) == "<MyRecord a=1 b='2'>"
    with pytest.raises(AttributeError):
        r.zz  # noqa: B018


def test_subclass_cannot_be_instantiated_by_users():
    with pytest.raises(TypeError, match="cannot create"):
        MyRecord()


def test_subclass_init_and_new_are_not_run():
    calls = []

    class Sneaky(Record):
        def __init__(self, *args):
            calls.append(args)

    r = make(["a"], [1], Sneaky)
    assert type(r) is Sneaky
    assert calls == []


def test_record_class_base_gives_plain_record():
    assert type(make(["a"], [1], Record)) is Record
    assert type(make(["a"], [1])) is Record


def test_record_class_must_subclass_record():
    with pytest.raises(TypeError, match="subclass"):
        make(["a"], [1], dict)


def test_make_record_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        make(["a", "b"], [1])


def test_subclass_can_hold_instance_attributes():
    class WithDict(Record):
        pass

    r = make(["a"], [1], WithDict)
    r.extra = 5
    assert r.extra == 5
    weakref.ref(r)


def test_recursive_repr():
    value = [1]
    r = make(["a", "b"], [value, 3])
    value.append(r)
    assert repr(r) == "<Record a=[1, <Record ...>] b=3>"
    s = make(["a"], [[]], MyRecord)
    s["a"].append(s)
    assert repr(s) == "<MyRecord a=[<MyRecord ...>]>"


def test_reference_cycles_are_collected():
    class Marker:
        pass

    value = [Marker()]
    ref = weakref.ref(value[0])
    r = make(["a"], [value])
    value.append(r)
    del r, value
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("cls", [None, MyRecord])
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(cls, protocol):
    r = make(["a", "b", "a"], [1, "x", [2]], cls)
    back = pickle.loads(pickle.dumps(r, protocol))
    assert type(back) is type(r)
    assert back == r
    assert list(back.items()) == list(r.items())
    assert back["a"] == [2]


def test_copy():
    r = make(["a"], [[1]])
    assert copy.copy(r) == r
    d = copy.deepcopy(r)
    assert d == r
    assert d["a"] is not r["a"]


def test_duplicate_names_last_wins_for_lookup():
    r = make(["a", "a"], [1, 2])
    assert r["a"] == 2
    assert list(r.keys()) == ["a", "a"]
    assert list(r.items()) == [("a", 1), ("a", 2)]
    assert repr(r) == "<Record a=1 a=2>"


# ---------------------------------------------------------------------------------------------
# Against rows fetched by asyncpg from a server.


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


def _fetch(dsn, query, record_class=None):
    async def run():
        conn = await asyncpg.connect(dsn)
        try:
            kwargs = {"record_class": record_class} if record_class else {}
            return await conn.fetchrow(query, **kwargs)
        finally:
            await conn.close()

    return asyncio.run(run())


QUERIES = [
    "select 1 as a, 'x' as b, null as c, 2.5::float8 as d",
    "select",
    "select 1 as a, 2 as a",
    """select 'it''s' as "we ird", 1.5::numeric as n, array[1,2] as arr""",
    "select row(1, 'a') as x, 'é' as \"ü\"",
]


@pytest.mark.parametrize("query", QUERIES)
def test_server_rows_match(dsn, query):
    theirs = _fetch(dsn, query)
    ours = make(list(theirs.keys()), list(theirs.values()))
    assert repr(ours) == repr(theirs)
    assert ours == tuple(theirs)
    assert tuple(theirs) == ours
    assert outcome(lambda: hash(ours)) == outcome(lambda: hash(theirs))
    assert list(ours.items()) == list(theirs.items())
    assert dict(ours) == dict(theirs)
    assert ours[1:] == theirs[1:]
    assert ours[::-1] == theirs[::-1]
    for key in [*theirs.keys(), "zz", 0, -1, len(theirs), 5]:
        assert outcome(lambda k=key: ours[k]) == outcome(lambda k=key: theirs[k])
        assert outcome(lambda k=key: ours.get(k)) == outcome(lambda k=key: theirs.get(k))
        assert (key in ours) == (key in theirs)


def test_server_subclass_row_matches(dsn):
    class TheirRecord(asyncpg.Record):
        def __getattr__(self, name):
            return self[name]

    theirs = _fetch(dsn, "select 1 as a, '2' as b", TheirRecord)
    ours = make(list(theirs.keys()), list(theirs.values()), MyRecord)
    assert repr(ours).replace("MyRecord", "TheirRecord") == repr(theirs)
    assert ours.a == theirs.a
    assert ours == tuple(theirs)
    assert type(ours).__name__ == "MyRecord"
