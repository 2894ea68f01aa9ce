"""Short ASCII text repeated within a result comes back as one shared `str` object.

The values are unchanged (a `str` is immutable); only their identity is shared, which saves the
allocation for low-cardinality columns and catalogue names.
"""

from __future__ import annotations

import pytest

from asyncpg_rs import _native

TEXT = 25

pytestmark = pytest.mark.timeout(60)


def _resume_cache():
    """The cache pauses itself for a few thousand values after a run of unique ones (earlier
    tests); enough repeats bring it back whatever came before."""
    for _ in range(6000):
        _native._codec_decode(TEXT, b"warm up")


def test_repeated_values_share_one_object():
    _resume_cache()
    first = _native._codec_decode(TEXT, b"array_in")
    second = _native._codec_decode(TEXT, b"array_in")
    assert first == "array_in"
    assert first is second


def test_many_distinct_values_keep_their_text():
    values = [f"value {i}".encode() for i in range(3000)] * 2
    decoded = [_native._codec_decode(TEXT, v) for v in values]
    assert decoded == [v.decode() for v in values]


def test_values_that_are_not_cached_decode_as_before():
    for raw in [b"", b"a", b"x" * 33, b"x" * 5000, "h\u00e9llo".encode(), "\u65e5\u672c".encode()]:
        assert _native._codec_decode(TEXT, raw) == raw.decode()
        assert type(_native._codec_decode(TEXT, raw)) is str


def test_invalid_utf8_still_fails():
    with pytest.raises(UnicodeDecodeError):
        _native._codec_decode(TEXT, b"\xff\xfe")


async def test_low_cardinality_column_shares_objects(pg_dsn):
    import asyncpg_rs

    con = await asyncpg_rs.connect(pg_dsn)
    _resume_cache()
    try:
        rows = await con.fetch(
            "SELECT (ARRAY['red', 'green', 'blue'])[1 + i % 3] AS colour, "
            "ARRAY['tag ' || (i % 2), 'tag ' || (i % 2)] AS tags "
            "FROM generate_series(0, 299) AS i"
        )
    finally:
        await con.close()
    assert [r["colour"] for r in rows] == ["red", "green", "blue"] * 100
    assert len({id(r["colour"]) for r in rows}) == 3
    assert rows[0]["tags"] == ["tag 0", "tag 0"]
    assert rows[0]["tags"][0] is rows[0]["tags"][1]


async def test_strings_are_not_kept_past_the_result(pg_dsn):
    """The cache lets go of its strings when a result is complete: a later result makes its own
    objects (so a freed result's memory is not pinned by a few cached strings)."""
    import asyncpg_rs

    con = await asyncpg_rs.connect(pg_dsn)
    _resume_cache()
    try:
        query = "SELECT 'shared value' AS v FROM generate_series(1, 3)"
        first = await con.fetch(query)
        second = await con.fetch(query)
    finally:
        await con.close()
    assert first[0]["v"] is first[2]["v"]
    assert second[0]["v"] is second[1]["v"]
    assert first[0]["v"] == second[0]["v"]
    assert first[0]["v"] is not second[0]["v"]
