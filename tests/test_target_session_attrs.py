"""target_session_attrs against a real primary/hot-standby pair, through asyncpg and asyncpg_rs.

The pair is ``tls_cluster`` (the primary) and ``tls_standby`` (``pg_basebackup -R`` of it), see
tests/fixtures/tls.py. Connections go as ``postgres`` without TLS.
"""

from __future__ import annotations

import os
import unittest.mock

import pytest

from asyncpg_rs.cluster import find_available_port

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120), pytest.mark.managed_cluster]


@pytest.fixture
def pair(tls_cluster, tls_standby):
    return tls_cluster.port, int(tls_standby.get_connection_spec()["port"])


async def _connected_port(driver, ports, attrs, **kw):
    con = await driver.connect(
        host=["127.0.0.1"] * len(ports),
        port=list(ports),
        user="postgres",
        database="postgres",
        ssl=False,
        target_session_attrs=attrs,
        **kw,
    )
    try:
        assert await con.fetchval("SELECT 42") == 42
        return con._transport.get_extra_info("peername")[1]
    finally:
        await con.close()


@pytest.mark.parametrize(
    "attrs,want",
    [
        ("any", "first"),
        ("primary", "primary"),
        ("standby", "standby"),
        ("prefer-standby", "standby"),
        ("read-write", "primary"),
        ("read-only", "standby"),
    ],
)
@pytest.mark.parametrize("order", ["primary-first", "standby-first"])
async def test_target_session_attrs(driver, pair, attrs, want, order):
    primary, standby = pair
    ports = (primary, standby) if order == "primary-first" else (standby, primary)
    expected = {"first": ports[0], "primary": primary, "standby": standby}[want]
    assert await _connected_port(driver, ports, attrs) == expected


@pytest.mark.parametrize(
    "attrs,only",
    [
        ("primary", "standby"),
        ("standby", "primary"),
        ("read-write", "standby"),
        ("read-only", "primary"),
    ],
)
async def test_target_attribute_not_matched(driver, pair, attrs, only):
    port = pair[0] if only == "primary" else pair[1]
    with pytest.raises(driver.exceptions.TargetServerAttributeNotMatched):
        await _connected_port(driver, [port], attrs)


async def test_prefer_standby_falls_back_to_the_primary(driver, pair):
    primary, _ = pair
    down = find_available_port()
    assert await _connected_port(driver, [primary, down], "prefer-standby") == primary


async def test_target_session_attrs_from_env_and_dsn(driver, pair):
    primary, standby = pair
    with unittest.mock.patch.dict(os.environ, {"PGTARGETSESSIONATTRS": "standby"}):
        assert await _connected_port(driver, [primary, standby], None) == standby
    dsn = (
        f"postgresql://postgres@127.0.0.1:{primary},127.0.0.1:{standby}/postgres"
        "?target_session_attrs=read-only&sslmode=disable"
    )
    con = await driver.connect(dsn)
    try:
        assert con._transport.get_extra_info("peername")[1] == standby
    finally:
        await con.close()


async def test_rejected_host_is_terminated(driver, pair):
    primary, standby = pair
    seen = []

    class Connection(driver.Connection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self)

    con = await driver.connect(
        host=["127.0.0.1"] * 2,
        port=[standby, primary],
        user="postgres",
        database="postgres",
        ssl=False,
        target_session_attrs="primary",
        connection_class=Connection,
    )
    try:
        assert len(seen) == 2 and seen[1] is con
        assert seen[0].is_closed()
        assert await con.fetchval("SELECT 1") == 1
    finally:
        await con.close()


@pytest.mark.parametrize("attrs,want", [("primary", "primary"), ("read-only", "standby")])
async def test_pool_target_session_attrs(driver, pair, attrs, want):
    primary, standby = pair
    pool = await driver.create_pool(
        host=["127.0.0.1"] * 2,
        port=[standby, primary] if want == "primary" else [primary, standby],
        user="postgres",
        database="postgres",
        ssl=False,
        target_session_attrs=attrs,
        min_size=2,
        max_size=3,
    )
    try:
        expected = primary if want == "primary" else standby
        for _ in range(3):
            async with pool.acquire() as con:
                assert con._transport.get_extra_info("peername")[1] == expected
                assert await con.fetchval("SELECT pg_is_in_recovery()") is (want == "standby")
    finally:
        await pool.close()


async def test_load_balance_hosts_random(pair):
    """libpq 16's load_balance_hosts=random (beyond asyncpg): hosts are tried in random order."""
    import asyncpg_rs

    primary, standby = pair
    seen = set()
    for _ in range(40):
        seen.add(
            await _connected_port(
                asyncpg_rs, [primary, standby], "any", load_balance_hosts="random"
            )
        )
        if len(seen) == 2:
            break
    assert seen == {primary, standby}
    # disable (the default) keeps the order
    assert (
        await _connected_port(asyncpg_rs, [standby, primary], "any", load_balance_hosts="disable")
        == standby
    )
    with pytest.raises(asyncpg_rs.exceptions.ClientConfigurationError):
        await _connected_port(asyncpg_rs, [primary], "any", load_balance_hosts="sometimes")
