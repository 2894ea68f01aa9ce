"""The cluster helper (asyncpg_rs.cluster) and the session fixtures, checked with asyncpg."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import asyncpg.serverversion
import pytest

from tests.fixtures.cluster import AUTH_USERS, PgCluster, load_cluster_module
from tests.fixtures.drivers import DRIVERS

cluster_module = load_cluster_module()

METHODS = sorted(AUTH_USERS)


async def test_pg_dsn_connects_as_the_superuser(pg_dsn: str, pg_cluster: PgCluster) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == pg_cluster.user
        assert await conn.fetchval("SHOW server_version") == pg_cluster.server_version
    finally:
        await conn.close()


async def test_pg_connect_kwargs_are_a_fresh_dict(pg_connect_kwargs: dict) -> None:
    assert set(pg_connect_kwargs) >= {"host", "port", "user", "database"}
    conn = await asyncpg.connect(**pg_connect_kwargs)
    try:
        assert await conn.fetchval("SELECT current_database()") == pg_connect_kwargs["database"]
    finally:
        await conn.close()
    pg_connect_kwargs["port"] = 1  # must not leak into other tests


def test_pg_connect_kwargs_not_shared(pg_connect_kwargs: dict, pg_cluster: PgCluster) -> None:
    assert pg_connect_kwargs["port"] == pg_cluster.port


def test_pg_dsn_format(pg_dsn: str, pg_cluster: PgCluster) -> None:
    if pg_cluster.managed:
        assert pg_dsn == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/postgres"
    else:
        assert pg_dsn == os.environ["ASYNCPG_RS_TEST_DSN"]


@pytest.mark.managed_cluster
def test_unix_socket_is_in_the_socket_dir(pg_cluster: PgCluster) -> None:
    assert pg_cluster.unix_socket_dir is not None
    assert os.path.exists(os.path.join(pg_cluster.unix_socket_dir, f".s.PGSQL.{pg_cluster.port}"))


@pytest.mark.managed_cluster
async def test_unix_socket_trusts_postgres(pg_cluster: PgCluster) -> None:
    assert pg_cluster.unix_socket_dir is not None
    conn = await asyncpg.connect(
        host=pg_cluster.unix_socket_dir, port=pg_cluster.port, user="postgres", database="postgres"
    )
    try:
        # inet_server_addr() is NULL on a unix-domain socket.
        assert await conn.fetchval("SELECT inet_server_addr()") is None
    finally:
        await conn.close()


@pytest.mark.managed_cluster
async def test_server_settings_for_tests(pg_connect_kwargs: dict) -> None:
    conn = await asyncpg.connect(**pg_connect_kwargs)
    try:
        assert await conn.fetchval("SHOW fsync") == "off"
        assert await conn.fetchval("SHOW max_connections") == "200"
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
    finally:
        await conn.close()


@pytest.mark.managed_cluster
@pytest.mark.parametrize("method", METHODS)
async def test_password_role_connects_with_its_method(
    method: str, pg_auth_users: dict, pg_cluster: PgCluster, pg_connect_kwargs: dict
) -> None:
    auth = pg_auth_users[method]
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=pg_cluster.port,
        user=auth.user,
        password=auth.password,
        database="postgres",
    )
    try:
        assert await conn.fetchval("SELECT current_user") == auth.user
    finally:
        await conn.close()

    # The server's own view: the first pg_hba.conf rule for this user, and how it is stored.
    admin = await asyncpg.connect(**pg_connect_kwargs)
    try:
        rule = await admin.fetchval(
            "SELECT auth_method FROM pg_hba_file_rules WHERE $1 = ANY(user_name) "
            "AND type = 'host' ORDER BY line_number LIMIT 1",
            auth.user,
        )
        stored = await admin.fetchval(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1", auth.user
        )
    finally:
        await admin.close()
    assert rule == method
    expected_prefix = "md5" if method == "md5" else "SCRAM-SHA-256$"
    assert stored.startswith(expected_prefix)


@pytest.mark.managed_cluster
@pytest.mark.parametrize("method", METHODS)
async def test_wrong_password_is_rejected(
    method: str, pg_auth_users: dict, pg_cluster: PgCluster
) -> None:
    auth = pg_auth_users[method]
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host="127.0.0.1",
            port=pg_cluster.port,
            user=auth.user,
            password=auth.password + "-wrong",
            database="postgres",
        )


def test_driver_fixture_gives_the_module(driver, request: pytest.FixtureRequest) -> None:
    assert driver.__name__ == request.node.callspec.id
    assert driver.__name__ in DRIVERS


def test_finds_server_binaries() -> None:
    bindir = cluster_module.find_pg_bindir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        assert os.access(os.path.join(bindir, tool), os.X_OK)


def test_bad_pg_config_path_is_a_cluster_error(tmp_path) -> None:
    with pytest.raises(cluster_module.ClusterError):
        cluster_module.find_pg_bindir(str(tmp_path / "no-such-pg_config"))


@pytest.mark.parametrize(
    "text",
    ["15.18 (Debian 15.18-0+deb12u1)", "9.6.24", "16beta2", "17rc1", "10.1", "14devel"],
)
def test_version_parsing_matches_asyncpg(text: str) -> None:
    ours = cluster_module._parse_version(text)
    theirs = asyncpg.serverversion.split_server_version_string(text)
    assert tuple(ours) == tuple(theirs)


def _fetchval(spec: dict, sql: str) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(**spec)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.slow
def test_temp_cluster_lifecycle_and_hba() -> None:
    cluster = cluster_module.TempCluster(data_dir_prefix="asyncpg_rs_lifecycle_")
    base = cluster.get_base_dir()
    try:
        assert cluster.get_status() == "not-initialized"
        with pytest.raises(cluster_module.ClusterError):
            cluster.start()
        cluster.init()
        assert cluster.get_status() == "stopped"
        assert cluster.get_pg_version().major >= 10

        cluster.trust_local_connections()
        with pytest.raises(ValueError, match="address"):
            cluster.add_hba_entry(
                type="local", database="all", user="all", address="1.2.3.4/32", auth_method="trust"
            )
        with pytest.raises(ValueError, match="type"):
            cluster.add_hba_entry(type="bogus", database="all", user="all", auth_method="trust")

        cluster.start(server_settings={"application_name": "lifecycle test", "fsync": "off"})
        assert cluster.get_status() == "running"
        spec = cluster.get_connection_spec()
        assert spec["host"] == "127.0.0.1"
        assert spec == {"host": "127.0.0.1", "port": spec["port"]}  # as asyncpg's
        assert isinstance(spec["port"], str)
        spec.update(user="postgres", database="postgres")
        assert _fetchval(spec, "SHOW application_name") == "lifecycle test"
        assert _fetchval(spec, "SHOW port") == str(spec["port"])

        # Only md5 over TCP: trust is gone, so a password-less connect fails after reload().
        cluster.reset_hba()
        cluster.add_hba_entry(database="all", user="all", address="127.0.0.1/32", auth_method="md5")
        cluster.reload()
        with pytest.raises(
            (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
        ):
            _fetchval(spec, "SELECT 1")

        cluster.override_connection_spec(host="::1")
        assert cluster.get_connection_spec()["host"] == "::1"

        cluster.stop()
        assert cluster.get_status() == "stopped"
        cluster.stop()  # stopping twice is a no-op
    finally:
        cluster.destroy()
    assert not os.path.exists(base)
