"""LISTEN/NOTIFY callbacks, log (NOTICE/WARNING) listeners and termination listeners."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest_asyncio.fixture
async def other(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


async def _get(queue: asyncio.Queue, timeout: float = 5.0):
    return await asyncio.wait_for(queue.get(), timeout)


# ----- notifications -----


async def test_notification_to_plain_callback(con, other):
    queue: asyncio.Queue = asyncio.Queue()

    def callback(connection, pid, channel, payload):
        queue.put_nowait((connection, pid, channel, payload))

    await con.add_listener("chan_a", callback)
    await other.execute("NOTIFY chan_a, 'hello'")
    connection, pid, channel, payload = await _get(queue)
    assert connection is con
    assert pid == other.get_server_pid()
    assert channel == "chan_a"
    assert payload == "hello"


async def test_notification_to_async_callback(con, other):
    queue: asyncio.Queue = asyncio.Queue()

    async def callback(connection, pid, channel, payload):
        await asyncio.sleep(0)
        queue.put_nowait((connection, pid, channel, payload))

    await con.add_listener("chan_async", callback)
    await other.execute("SELECT pg_notify('chan_async', 'p1')")
    assert await _get(queue) == (con, other.get_server_pid(), "chan_async", "p1")


async def test_notification_from_the_same_connection(con):
    queue: asyncio.Queue = asyncio.Queue()
    await con.add_listener("chan_self", lambda *args: queue.put_nowait(args))
    await con.execute("NOTIFY chan_self")
    _, pid, channel, payload = await _get(queue)
    assert pid == con.get_server_pid()
    assert channel == "chan_self"
    assert payload == ""


async def test_notifications_in_order_and_to_every_callback(con, other):
    q1: asyncio.Queue = asyncio.Queue()
    q2: asyncio.Queue = asyncio.Queue()

    def cb1(*args):
        q1.put_nowait(args[3])

    async def cb2(*args):
        q2.put_nowait(args[3])

    await con.add_listener("chan_many", cb1)
    await con.add_listener("chan_many", cb2)
    for i in range(20):
        await other.execute(f"NOTIFY chan_many, '{i}'")
    got1 = [await _get(q1) for _ in range(20)]
    got2 = [await _get(q2) for _ in range(20)]
    assert got1 == [str(i) for i in range(20)]
    assert sorted(got2, key=int) == [str(i) for i in range(20)]


async def test_notification_arrives_while_idle(con, other):
    """No query runs on `con`: the notification is read from the socket anyway."""
    queue: asyncio.Queue = asyncio.Queue()
    await con.add_listener("chan_idle", lambda *args: queue.put_nowait(args[3]))
    await other.execute("NOTIFY chan_idle, 'x'")
    assert await _get(queue) == "x"


async def test_channel_names_are_quoted(con, other):
    queue: asyncio.Queue = asyncio.Queue()
    channel = 'Weird "Channel" name'
    await con.add_listener(channel, lambda *args: queue.put_nowait(args[2:]))
    await other.execute("SELECT pg_notify($1, 'q')", channel)
    assert await _get(queue) == (channel, "q")


async def test_remove_listener_stops_delivery(con, other):
    removed: list = []
    queue: asyncio.Queue = asyncio.Queue()

    def gone(*args):
        removed.append(args)

    await con.add_listener("chan_rm", gone)
    await con.add_listener("chan_keep", lambda *args: queue.put_nowait(args[2]))
    await con.remove_listener("chan_rm", gone)
    # The server no longer sends it: nothing LISTENs on chan_rm.
    assert "chan_rm" not in {r[0] for r in await con.fetch("SELECT pg_listening_channels()")}
    await other.execute("NOTIFY chan_rm, 'a'; NOTIFY chan_keep, 'b'")
    assert await _get(queue) == "chan_keep"
    await asyncio.sleep(0.05)
    assert removed == []


async def test_remove_one_of_two_callbacks(con, other):
    q: asyncio.Queue = asyncio.Queue()
    calls: list = []

    def cb1(*args):
        calls.append("cb1")

    def cb2(*args):
        q.put_nowait("cb2")

    await con.add_listener("chan_two", cb1)
    await con.add_listener("chan_two", cb2)
    await con.remove_listener("chan_two", cb1)
    await other.execute("NOTIFY chan_two")
    assert await _get(q) == "cb2"
    await asyncio.sleep(0.05)
    assert calls == []
    assert "chan_two" in {r[0] for r in await con.fetch("SELECT pg_listening_channels()")}


async def test_remove_unknown_listener_is_a_no_op(con):
    await con.remove_listener("never_added", lambda *a: None)
    assert await con.fetchval("SELECT 1") == 1


async def test_listener_must_be_callable(driver, con):
    with pytest.raises(driver.InterfaceError):
        await con.add_listener("chan_bad", 42)


async def test_add_listener_on_closed_connection(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    await c.close()
    with pytest.raises(driver.InterfaceError, match="connection is closed"):
        await c.add_listener("chan_closed", lambda *a: None)


async def test_notification_during_a_query_is_delivered(con, other):
    queue: asyncio.Queue = asyncio.Queue()
    await con.add_listener("chan_busy", lambda *args: queue.put_nowait(args[3]))
    task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(0.3)::text || 'done'"))
    await asyncio.sleep(0.05)
    await other.execute("NOTIFY chan_busy, 'while busy'")
    assert await task == "done"
    assert await _get(queue) == "while busy"


# ----- log listeners -----


async def test_log_listener_notice_and_warning(driver, con):
    queue: asyncio.Queue = asyncio.Queue()

    def on_log(connection, message):
        queue.put_nowait((connection, message))

    con.add_log_listener(on_log)
    await con.execute(
        "DO $$ BEGIN RAISE NOTICE 'hello %', 1; RAISE WARNING 'careful' USING HINT = 'hint!'; END $$"
    )
    connection, notice = await _get(queue)
    assert connection is con
    assert type(notice) is driver.exceptions.PostgresLogMessage
    assert notice.severity == "NOTICE"
    assert notice.sqlstate == "00000"
    assert notice.message == "hello 1"
    assert str(notice) == "PostgresLogMessage: hello 1"
    assert notice.as_dict()["message"] == "hello 1"
    assert not isinstance(notice, Warning)

    connection, warning = await _get(queue)
    assert isinstance(warning, driver.PostgresWarning)
    assert isinstance(warning, Warning)
    assert isinstance(warning, driver.exceptions.PostgresLogMessage)
    assert warning.severity == "WARNING"
    assert warning.sqlstate == "01000"
    assert warning.message == "careful"
    assert warning.hint == "hint!"


async def test_log_message_class_follows_sqlstate(driver, con):
    queue: asyncio.Queue = asyncio.Queue()
    con.add_log_listener(lambda c, m: queue.put_nowait(m))
    # DROP ... IF EXISTS reports a NOTICE with SQLSTATE 00000.
    await con.execute("DROP TABLE IF EXISTS surely_not_here_xyz")
    msg = await _get(queue)
    assert msg.severity == "NOTICE"
    assert "does not exist, skipping" in msg.message


async def test_async_log_listener(con):
    queue: asyncio.Queue = asyncio.Queue()

    async def on_log(connection, message):
        queue.put_nowait(message.message)

    con.add_log_listener(on_log)
    await con.execute("DO $$ BEGIN RAISE NOTICE 'async one'; END $$")
    assert await _get(queue) == "async one"


async def test_log_listener_with_extended_protocol(con):
    queue: asyncio.Queue = asyncio.Queue()
    con.add_log_listener(lambda c, m: queue.put_nowait(m.message))
    await con.execute(
        "CREATE FUNCTION pg_temp.noisy(x int) RETURNS int LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE NOTICE 'noisy %', x; RETURN x; END $$"
    )
    assert await con.fetchval("SELECT pg_temp.noisy($1)", 5) == 5
    assert await _get(queue) == "noisy 5"


async def test_remove_log_listener(con):
    got: list = []

    def on_log(c, m):
        got.append(m)

    con.add_log_listener(on_log)
    con.remove_log_listener(on_log)
    await con.execute("DO $$ BEGIN RAISE NOTICE 'unheard'; END $$")
    await asyncio.sleep(0.05)
    assert got == []


async def test_log_listener_on_closed_connection(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    await c.close()
    with pytest.raises(driver.InterfaceError, match="connection is closed"):
        c.add_log_listener(lambda *a: None)


async def test_notices_are_not_errors(con):
    """A NOTICE without a log listener does nothing visible."""
    assert await con.execute("DO $$ BEGIN RAISE NOTICE 'nobody listens'; END $$") == "DO"
    assert await con.fetchval("SELECT 1") == 1


# ----- termination listeners -----


async def test_termination_listener_on_close(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    calls: list = []
    c.add_termination_listener(lambda connection: calls.append(connection))
    await c.close()
    await asyncio.sleep(0.05)
    assert calls == [c]
    await c.close()
    await asyncio.sleep(0.05)
    assert calls == [c]


async def test_async_termination_listener_on_terminate(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    queue: asyncio.Queue = asyncio.Queue()

    async def on_term(connection):
        queue.put_nowait(connection)

    c.add_termination_listener(on_term)
    c.terminate()
    assert await _get(queue) is c
    await asyncio.sleep(0.05)
    assert queue.empty()


async def test_termination_listener_on_server_disconnect(driver, pg_dsn, other):
    c = await driver.connect(pg_dsn)
    queue: asyncio.Queue = asyncio.Queue()
    c.add_termination_listener(lambda connection: queue.put_nowait(connection))
    assert await other.fetchval("SELECT pg_terminate_backend($1)", c.get_server_pid()) is True
    assert await _get(queue) is c
    for _ in range(100):
        if c.is_closed():
            break
        await asyncio.sleep(0.02)
    assert c.is_closed()
    with pytest.raises((driver.InterfaceError, driver.ConnectionDoesNotExistError)):
        await c.fetchval("SELECT 1")
    await c.close()


async def test_remove_termination_listener(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    calls: list = []

    def on_term(connection):
        calls.append(connection)

    c.add_termination_listener(on_term)
    c.remove_termination_listener(on_term)
    await c.close()
    await asyncio.sleep(0.05)
    assert calls == []


async def test_query_logger(driver, con):
    logged: list = []
    with con.query_logger(logged.append):
        await con.fetchval("SELECT $1::int", 3)
        with pytest.raises(driver.DivisionByZeroError):
            await con.execute("SELECT 1/0")
    await con.fetchval("SELECT 2")
    await asyncio.sleep(0.05)
    assert [r.query for r in logged] == ["SELECT $1::int", "SELECT 1/0"]
    assert logged[0].args == (3,)
    assert logged[0].exception is None
    assert isinstance(logged[1].exception, driver.DivisionByZeroError)
    assert logged[0].elapsed >= 0
