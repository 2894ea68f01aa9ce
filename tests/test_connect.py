"""connect() and the Connection life cycle, run through asyncpg and asyncpg_rs alike.

Every test takes the `driver` fixture (the asyncpg module or asyncpg_rs), so asyncpg 0.32 is the
oracle: a test that passes for asyncpg and fails for asyncpg_rs is a parity bug.
"""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.parse

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest.fixture(scope="session")
def server(pg_cluster):
    """Where the test server listens (from the session's cluster fixture)."""
    return {
        "host": pg_cluster.host,
        "port": pg_cluster.port,
        "sockdir": pg_cluster.unix_socket_dir,
        "user": pg_cluster.user,
        "database": pg_cluster.database,
        "password": pg_cluster.password,
    }


@pytest.fixture(params=["md5", "scram-sha-256", "password"])
def auth_user(request, pg_auth_users):
    """A role that must authenticate with the pg_hba.conf method in the test id, over TCP."""
    return pg_auth_users[request.param]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----- addresses and authentication -----


async def test_connect_with_dsn(driver, pg_dsn, server):
    con = await driver.connect(pg_dsn)
    try:
        assert await con.fetchval("SELECT current_user") == server["user"]
        assert await con.fetchval("SELECT current_database()") == server["database"]
        assert not con.is_closed()
    finally:
        await con.close()


async def test_connect_with_keywords(driver, server):
    con = await driver.connect(
        host=server["host"],
        port=server["port"],
        user=server["user"],
        database=server["database"],
        password=server["password"],
    )
    try:
        assert await con.fetchval("SELECT 1") == 1
        assert await con.fetchval("SELECT inet_server_port()") == server["port"]
    finally:
        await con.close()


async def test_keywords_override_dsn(driver, server):
    dsn = f"postgresql://nobody@{server['host']}:{server['port']}/nodb"
    con = await driver.connect(
        dsn, user=server["user"], database=server["database"], password=server["password"]
    )
    try:
        assert await con.fetchval("SELECT current_user") == server["user"]
        assert await con.fetchval("SELECT current_database()") == server["database"]
    finally:
        await con.close()


async def test_connect_over_unix_socket(driver, server):
    if not server["sockdir"]:
        pytest.skip("the server has no unix socket directory")
    con = await driver.connect(
        host=server["sockdir"],
        port=server["port"],
        user=server["user"],
        database=server["database"],
    )
    try:
        # inet_server_addr() is NULL for a unix-domain connection.
        assert await con.fetchval("SELECT inet_server_addr()") is None
        assert await con.fetchval("SELECT 2") == 2
    finally:
        await con.close()


async def test_connect_over_unix_socket_dsn(driver, server):
    if not server["sockdir"]:
        pytest.skip("the server has no unix socket directory")
    query = urllib.parse.urlencode({"host": server["sockdir"], "port": server["port"]})
    dsn = f"postgresql://{server['user']}@/{server['database']}?{query}"
    con = await driver.connect(dsn)
    try:
        assert await con.fetchval("SELECT inet_server_addr()") is None
    finally:
        await con.close()


async def test_password_auth(driver, server, auth_user):
    con = await driver.connect(
        host=server["host"],
        port=server["port"],
        user=auth_user.user,
        password=auth_user.password,
        database=server["database"],
    )
    try:
        assert await con.fetchval("SELECT current_user") == auth_user.user
    finally:
        await con.close()


async def test_password_auth_in_dsn(driver, server, auth_user):
    dsn = (
        f"postgresql://{auth_user.user}:{auth_user.password}@{server['host']}:{server['port']}"
        f"/{server['database']}"
    )
    con = await driver.connect(dsn)
    try:
        assert await con.fetchval("SELECT session_user") == auth_user.user
    finally:
        await con.close()


async def test_password_as_async_callable(driver, server, auth_user):
    async def get_password():
        return auth_user.password

    con = await driver.connect(
        host=server["host"],
        port=server["port"],
        user=auth_user.user,
        password=get_password,
        database=server["database"],
    )
    try:
        assert await con.fetchval("SELECT current_user") == auth_user.user
    finally:
        await con.close()


async def test_password_auth_without_tls(driver, server, auth_user):
    con = await driver.connect(
        host=server["host"],
        port=server["port"],
        user=auth_user.user,
        password=auth_user.password,
        database=server["database"],
        ssl=False,
    )
    try:
        assert await con.fetchval("SELECT 1") == 1
    finally:
        await con.close()


async def test_wrong_password_raises_invalid_password(driver, server, auth_user):
    with pytest.raises(driver.InvalidPasswordError) as info:
        await driver.connect(
            host=server["host"],
            port=server["port"],
            user=auth_user.user,
            password="wrong",
            database=server["database"],
        )
    assert f'password authentication failed for user "{auth_user.user}"' in str(info.value)
    assert info.value.sqlstate == "28P01"
    assert isinstance(info.value, driver.PostgresError)


async def test_missing_password_raises_invalid_password(driver, server, pg_auth_users):
    with pytest.raises(driver.InvalidPasswordError):
        await driver.connect(
            host=server["host"],
            port=server["port"],
            user=pg_auth_users["md5"].user,
            database=server["database"],
            passfile="/nonexistent/pgpass",
        )


async def test_unknown_database_raises_invalid_catalog_name(driver, server):
    with pytest.raises(driver.InvalidCatalogNameError):
        await driver.connect(
            host=server["host"], port=server["port"], user=server["user"], database="no_such_db_x"
        )


async def test_refused_port_raises_connection_refused(driver):
    port = _free_port()
    with pytest.raises(ConnectionRefusedError) as info:
        await driver.connect(host="127.0.0.1", port=port, user="postgres", ssl=False, timeout=5)
    assert isinstance(info.value, OSError)


async def test_refused_port_with_default_ssl_prefer(driver):
    port = _free_port()
    with pytest.raises(OSError):
        await driver.connect(host="127.0.0.1", port=port, user="postgres", timeout=5)


@pytest.mark.parametrize("ssl", [False, None])
async def test_connect_timeout_on_silent_server(driver, ssl):
    """A server that accepts the TCP connection but never answers: timeout= bounds connect()."""
    accepted = []

    async def silent(reader, writer):
        accepted.append(writer)
        await reader.read()  # hold the socket open until the client goes away

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await driver.connect(host="127.0.0.1", port=port, user="postgres", timeout=0.3, ssl=ssl)
        elapsed = time.monotonic() - started
        assert elapsed < 3.0, elapsed
        assert accepted, "the client never reached the server"
    finally:
        for w in accepted:
            w.close()
        srv.close()
        await srv.wait_closed()


# ----- connection options -----


async def test_server_settings_application_name(driver, pg_dsn):
    con = await driver.connect(pg_dsn, server_settings={"application_name": "core-tests-app"})
    try:
        assert await con.fetchval("SHOW application_name") == "core-tests-app"
        assert con.get_settings().application_name == "core-tests-app"
    finally:
        await con.close()


async def test_server_settings_other_parameter(driver, pg_dsn):
    con = await driver.connect(
        pg_dsn, server_settings={"search_path": "pg_catalog", "work_mem": "7MB"}
    )
    try:
        assert await con.fetchval("SHOW search_path") == "pg_catalog"
        assert await con.fetchval("SHOW work_mem") == "7MB"
    finally:
        await con.close()


async def test_server_settings_in_dsn_query(driver, server):
    dsn = (
        f"postgresql://{server['user']}@{server['host']}:{server['port']}/{server['database']}"
        "?application_name=from-dsn"
    )
    con = await driver.connect(dsn)
    try:
        assert await con.fetchval("SHOW application_name") == "from-dsn"
    finally:
        await con.close()


async def test_invalid_server_setting_value_is_a_server_error(driver, pg_dsn):
    with pytest.raises(driver.PostgresError):
        await driver.connect(pg_dsn, server_settings={"work_mem": "not a size"})


async def test_command_timeout_applies_to_every_query(driver, pg_dsn):
    con = await driver.connect(pg_dsn, command_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await con.fetchval("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2.5
        assert await con.fetchval("SELECT 42") == 42
        # An explicit timeout wins over command_timeout.
        assert await con.execute("SELECT pg_sleep(0.4)", timeout=5) == "SELECT 1"
    finally:
        await con.close()


async def test_statement_cache_size_zero_leaves_no_prepared_statements(driver, pg_dsn):
    con = await driver.connect(pg_dsn, statement_cache_size=0)
    try:
        for i in range(5):
            assert await con.fetchval("SELECT $1::int + 1", i) == i + 1
            assert await con.fetchrow("SELECT $1::text AS t", str(i)) is not None
        assert await con.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
    finally:
        await con.close()


async def test_default_statement_cache_prepares_named_statements(driver, pg_dsn):
    con = await driver.connect(pg_dsn)
    try:
        for i in range(3):
            assert await con.fetchval("SELECT $1::int * 2", i) == i * 2
        names = await con.fetch("SELECT name, statement FROM pg_prepared_statements")
        assert any("$1::int * 2" in r["statement"] for r in names), names
        # The same query text reuses one statement.
        assert sum("$1::int * 2" in r["statement"] for r in names) == 1
    finally:
        await con.close()


async def test_statement_cache_size_bounds_the_cache(driver, pg_dsn):
    con = await driver.connect(pg_dsn, statement_cache_size=3)
    try:
        for i in range(10):
            assert await con.fetchval(f"SELECT $1::int + {i}", 1) == 1 + i
        # Evicted statements are closed lazily (with a later request).
        await con.fetchval("SELECT 1")
        await con.fetchval("SELECT 1")
        count = await con.fetchval("SELECT count(*) FROM pg_prepared_statements")
        assert count <= 4, count
    finally:
        await con.close()


# ----- information -----


async def test_get_server_pid(con):
    pid = con.get_server_pid()
    assert isinstance(pid, int)
    assert pid == await con.fetchval("SELECT pg_backend_pid()")


async def test_get_server_version(con):
    version = con.get_server_version()
    num = int(await con.fetchval("SHOW server_version_num"))
    assert version.major == num // 10000
    assert version.micro == num % 10000
    assert version.minor == 0
    assert version.releaselevel == "final"
    assert tuple(version)[:3] == (version.major, version.minor, version.micro)


async def test_get_settings(con):
    settings = con.get_settings()
    assert settings.server_version == await con.fetchval("SHOW server_version")
    assert settings.client_encoding == "UTF8"
    assert settings.integer_datetimes == "on"
    with pytest.raises(AttributeError):
        settings.no_such_setting  # noqa: B018
    assert repr(settings).startswith("<ConnectionSettings ")


async def test_settings_follow_set_commands(con):
    await con.execute("SET TimeZone = 'Europe/Paris'")
    assert con.get_settings().TimeZone == "Europe/Paris"


# ----- closing -----


async def test_close_then_is_closed(driver, pg_dsn):
    con = await driver.connect(pg_dsn)
    assert not con.is_closed()
    await con.close()
    assert con.is_closed()
    await con.close()  # closing twice is fine
    assert con.is_closed()


async def test_terminate_then_is_closed(driver, pg_dsn):
    con = await driver.connect(pg_dsn)
    con.terminate()
    assert con.is_closed()
    con.terminate()
    await con.close()
    assert con.is_closed()


async def test_close_ends_the_server_session(driver, pg_dsn):
    con = await driver.connect(pg_dsn)
    admin = await driver.connect(pg_dsn)
    try:
        pid = con.get_server_pid()
        await con.close()
        for _ in range(100):
            gone = not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid
            )
            if gone:
                break
            await asyncio.sleep(0.02)
        assert gone
    finally:
        await admin.close()


@pytest.mark.parametrize("how", ["close", "terminate"])
async def test_closed_connection_raises_interface_error(driver, pg_dsn, how):
    con = await driver.connect(pg_dsn)
    if how == "close":
        await con.close()
    else:
        con.terminate()
    calls = [
        lambda: con.execute("SELECT 1"),
        lambda: con.execute("SELECT $1::int", 1),
        lambda: con.fetch("SELECT 1"),
        lambda: con.fetchrow("SELECT 1"),
        lambda: con.fetchval("SELECT 1"),
        lambda: con.executemany("SELECT $1::int", [(1,)]),
        lambda: con.fetchmany("SELECT $1::int", [(1,)]),
        lambda: con.prepare("SELECT 1"),
    ]
    for call in calls:
        with pytest.raises(driver.InterfaceError, match="^connection is closed$"):
            await call()


async def test_prepared_statement_of_closed_connection(driver, pg_dsn):
    con = await driver.connect(pg_dsn)
    stmt = await con.prepare("SELECT 1")
    await con.close()
    with pytest.raises(driver.InterfaceError):
        await stmt.fetchval()


async def test_connection_is_instance_of_connection_class(driver, pg_dsn):
    class MyConnection(driver.Connection):
        pass

    con = await driver.connect(pg_dsn, connection_class=MyConnection)
    try:
        assert isinstance(con, MyConnection)
        assert isinstance(con, driver.Connection)
        assert await con.fetchval("SELECT 1") == 1
    finally:
        await con.close()


async def test_record_class_at_connect(driver, pg_dsn):
    class MyRecord(driver.Record):
        pass

    con = await driver.connect(pg_dsn, record_class=MyRecord)
    try:
        row = await con.fetchrow("SELECT 1 AS a")
        assert type(row) is MyRecord
        assert row["a"] == 1
        rows = await con.fetch("SELECT $1::int AS a", 5)
        assert type(rows[0]) is MyRecord
    finally:
        await con.close()


# ----- argument validation -----


@pytest.mark.parametrize(
    ("kwargs", "exc_name", "match"),
    [
        (
            {"statement_cache_size": -1},
            "ValueError",
            "statement_cache_size is expected to be greater or equal to 0",
        ),
        ({"statement_cache_size": None}, "ValueError", "statement_cache_size is expected"),
        ({"statement_cache_size": True}, "ValueError", "statement_cache_size is expected"),
        (
            {"max_cached_statement_lifetime": -1},
            "ValueError",
            "max_cached_statement_lifetime is expected to be greater or equal to 0",
        ),
        (
            {"max_cacheable_statement_size": -5},
            "ValueError",
            "max_cacheable_statement_size is expected to be greater or equal to 0",
        ),
        (
            {"command_timeout": 0},
            "ValueError",
            "invalid command_timeout value: expected greater than 0 float",
        ),
        ({"command_timeout": -1}, "ValueError", "invalid command_timeout value"),
        ({"command_timeout": "x"}, "ValueError", "invalid command_timeout value"),
        (
            {"connection_class": object},
            "InterfaceError",
            "connection_class is expected to be a subclass of",
        ),
        ({"record_class": dict}, "InterfaceError", "record_class is expected to be a subclass of"),
        (
            {"server_settings": {"application_name": 1}},
            "ClientConfigurationError",
            "server_settings",
        ),
        ({"server_settings": "x"}, "ClientConfigurationError", "server_settings"),
    ],
)
async def test_connect_argument_validation(driver, pg_dsn, kwargs, exc_name, match):
    exc_class = ValueError if exc_name == "ValueError" else getattr(driver, exc_name)
    with pytest.raises(exc_class, match=match):
        await driver.connect(pg_dsn, **kwargs)


async def test_record_class_redefining_new_is_refused(driver, pg_dsn):
    class BadRecord(driver.Record):
        def __new__(cls):
            return super().__new__(cls)

    with pytest.raises(driver.InterfaceError, match="must not redefine __new__ or __init__"):
        await driver.connect(pg_dsn, record_class=BadRecord)


# ----- the connect path (connect_utils, patched by asyncpg's own tests) -----


@pytest.mark.parametrize("outcome", ["matched", "unmatched", "error"])
async def test_connect_path_seams_terminate_rejected_hosts(driver, outcome):
    """``connect_utils._connect_addr`` and ``_can_use_connection`` are the seams asyncpg's tests
    patch: the address loop must go through them and terminate every host it does not return."""
    import importlib
    import unittest.mock

    cu = importlib.import_module(f"{driver.__name__}.connect_utils")
    conn_cls = importlib.import_module(f"{driver.__name__}.connection").Connection
    rejected = unittest.mock.Mock(spec=conn_cls)
    candidate = unittest.mock.Mock(spec=conn_cls)
    result = {"matched": True, "unmatched": False, "error": RuntimeError("check failed")}[outcome]
    with (
        unittest.mock.patch.object(cu, "_connect_addr", side_effect=[rejected, candidate]),
        unittest.mock.patch.object(cu, "_can_use_connection", side_effect=[False, result]),
    ):
        coro = driver.connect(
            host=["first", "second"],
            user="postgres",
            database="postgres",
            ssl=False,
            target_session_attrs="primary",
        )
        if outcome == "matched":
            assert await coro is candidate
        else:
            expected = (
                driver.exceptions.TargetServerAttributeNotMatched
                if outcome == "unmatched"
                else RuntimeError
            )
            with pytest.raises(expected):
                await coro
    rejected.terminate.assert_called_once_with()
    rejected.close.assert_not_called()
    assert candidate.terminate.call_count == (0 if outcome == "matched" else 1)


@pytest.mark.parametrize("method", ["transaction", "cursor"])
async def test_closed_connection_refuses_transaction_and_cursor(driver, pg_dsn, method):
    con = await driver.connect(pg_dsn)
    await con.close()
    with pytest.raises(driver.InterfaceError, match="connection is closed"):
        if method == "transaction":
            con.transaction()
        else:
            await con.cursor("SELECT 1")


async def test_unclosed_connection_warning_names_its_origin_in_debug_mode(driver, pg_dsn):
    import gc
    import warnings

    loop = asyncio.get_running_loop()
    old = loop.get_debug()
    loop.set_debug(True)
    try:
        con = await driver.connect(pg_dsn)
    finally:
        loop.set_debug(old)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del con
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert any("unclosed connection" in m and "created at:\n" in m for m in messages), messages
    assert any(__file__.rsplit("/", 1)[-1] in m for m in messages), messages
