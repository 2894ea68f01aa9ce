"""unittest helpers for code that talks to PostgreSQL through asyncpg_rs.

This module offers the names of ``asyncpg._testbase`` so test suites written against asyncpg's
helpers keep running with ``asyncpg_rs``:

- ``TestCase``: a ``unittest.TestCase`` whose ``async def test_*`` methods run on an event loop
  owned by the class; exceptions reported to the loop's exception handler during a test fail it.
- ``ClusterTestCase``: starts (once per process) a throwaway PostgreSQL cluster, or uses the
  server named by the ``PG*`` environment variables when ``PGHOST`` is set.
- ``ConnectedTestCase``: ``self.con`` is a fresh connection for every test
  (options come from ``@with_connection_options(...)``).
- ``ProxiedClusterTestCase``: connections go through a TCP proxy (``cls.proxy``) that can
  simulate a network outage.
- ``HotStandbyTestCase``: a primary and a streaming-replication standby.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import inspect
import logging
import os
import re
import shutil
import subprocess
import textwrap
import time
import traceback
import unittest
from typing import Any, Optional

import asyncpg_rs
from asyncpg_rs import cluster as pg_cluster
from asyncpg_rs import connection as pg_connection
from asyncpg_rs import pool as pg_pool

from . import fuzzer

__all__ = (
    "ClusterTestCase",
    "ConnectedTestCase",
    "HotStandbyTestCase",
    "ProxiedClusterTestCase",
    "TestCase",
    "create_pool",
    "silence_asyncio_long_exec_warning",
    "with_connection_options",
    "with_timeout",
)


# -- small decorators and context managers ----------------------------------------------------


@contextlib.contextmanager
def silence_asyncio_long_exec_warning():
    """Hide asyncio debug-mode "Executing <Handle ...> took N seconds" log records."""

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Executing ")

    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addFilter(keep)
    try:
        yield
    finally:
        asyncio_logger.removeFilter(keep)


def with_timeout(timeout: float):
    """Fail the decorated ``async`` test if it runs longer than ``timeout`` seconds."""

    def mark(func):
        func.__timeout__ = timeout
        return func

    return mark


def with_connection_options(**options: Any):
    """Keyword arguments for the ``connect()`` that ConnectedTestCase makes for this test."""
    if not options:
        raise ValueError("no connection options were specified")

    def mark(func):
        func.__connect_options__ = options
        return func

    return mark


# -- TestCase ---------------------------------------------------------------------------------


def _run_on_class_loop(method):
    """A plain method that runs the coroutine method ``method`` on ``self.loop``."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        awaitable = method(self, *args, **kwargs)
        limit = getattr(method, "__timeout__", type(self).TEST_TIMEOUT)
        if not limit:
            self.loop.run_until_complete(awaitable)
            return
        try:
            self.loop.run_until_complete(asyncio.wait_for(awaitable, limit))
        except asyncio.TimeoutError:
            raise self.failureException(f"test timed out after {limit} seconds") from None

    return run


class TestCaseMeta(type(unittest.TestCase)):
    """Turns every ``async def test_*`` (own or inherited from a mixin) into a sync method."""

    TEST_TIMEOUT: Optional[float] = None

    def __new__(mcls, name, bases, namespace):
        found = {}
        for base in bases:
            for attr in dir(base):
                if attr.startswith("test_"):
                    value = getattr(base, attr)
                    if inspect.iscoroutinefunction(value):
                        found[attr] = value
        for attr, value in namespace.items():
            if attr.startswith("test_") and inspect.iscoroutinefunction(value):
                found[attr] = value
        for attr, value in found.items():
            namespace[attr] = _run_on_class_loop(value)
        return super().__new__(mcls, name, bases, namespace)


class TestCase(unittest.TestCase, metaclass=TestCaseMeta):
    """A TestCase with an event loop per class (``cls.loop``), not set as the current loop."""

    loop: asyncio.AbstractEventLoop

    @classmethod
    def setUpClass(cls):
        if os.environ.get("USE_UVLOOP"):
            import uvloop

            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        asyncio.set_event_loop(None)
        cls.loop = loop

    @classmethod
    def tearDownClass(cls):
        cls.loop.close()
        asyncio.set_event_loop(None)

    def setUp(self):
        self._loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(self.loop_exception_handler)

    def tearDown(self):
        errors = [ctx for ctx in getattr(self, "_loop_errors", ()) if not _ignorable(ctx)]
        if errors:
            report = "\n".join(
                self._format_loop_exception(ctx, number)
                for number, ctx in enumerate(errors, start=1)
            )
            self.fail("unexpected exceptions in asynchronous code:\n" + report)

    def loop_exception_handler(self, loop, context):
        self._loop_errors.append(context)
        loop.default_exception_handler(context)

    @contextlib.contextmanager
    def assertRunUnder(self, delta: float):
        """Fail if the ``with`` block takes longer than ``delta`` seconds."""
        started = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - started
            if took > delta:
                raise AssertionError(
                    f"running block took {took:0.3f}s which is longer "
                    f"than the expected maximum of {delta:0.3f}s"
                )

    @contextlib.contextmanager
    def assertLoopErrorHandlerCalled(self, msg_re: str):
        """Fail unless the loop's exception handler gets a message matching ``msg_re``."""
        seen: list[dict[str, Any]] = []
        previous = self.loop.get_exception_handler()
        self.loop.set_exception_handler(lambda _loop, ctx: seen.append(ctx))
        try:
            yield
            if not any(re.search(msg_re, ctx.get("message") or "") for ctx in seen):
                raise AssertionError(
                    f"no message matching {msg_re!r} was logged with loop.call_exception_handler()"
                )
        finally:
            self.loop.set_exception_handler(previous)

    def _format_loop_exception(self, context: dict[str, Any], n: int) -> str:
        message = context.get("message", "Unhandled exception in event loop")
        parts = []
        for key in sorted(context):
            if key in ("message", "exception"):
                continue
            value = context[key]
            if key == "source_traceback":
                text = "Object created at (most recent call last):\n"
                text += "".join(traceback.format_list(value)).rstrip()
            else:
                try:
                    text = repr(value)
                except Exception as exc:  # a broken __repr__ must not hide the report
                    text = f"Exception in __repr__ {exc!r}; value type: {type(value)!r}"
            parts.append(f"[{key}]: {text}\n\n")
        exc = context.get("exception")
        if exc is not None:
            parts.append("[exception]:\n")
            formatted = traceback.format_exception(type(exc), exc, exc.__traceback__)
            parts.append(textwrap.indent("".join(formatted), "  "))
        return f"{n:02d}. {message}:\n{textwrap.indent(''.join(parts), '    ')}\n"


def _ignorable(context: dict[str, Any]) -> bool:
    """A ConnectionResetError raised while a transport finishes closing (seen on Windows)."""
    exc = context.get("exception")
    if not isinstance(exc, ConnectionResetError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].name == "_call_connection_lost"


# -- clusters ---------------------------------------------------------------------------------


class RunningCluster:
    """A server we do not manage (``PGHOST`` is set): the ``PG*`` variables say where it is."""

    def __init__(self, **conn_spec: Any) -> None:
        self.conn_spec = conn_spec
        self._pg_version = None

    def is_managed(self) -> bool:
        return False

    def get_connection_spec(self) -> dict[str, Any]:
        return dict(self.conn_spec)

    def override_connection_spec(self, **kwargs: Any) -> None:
        self.conn_spec.update(kwargs)

    def get_status(self) -> str:
        return "running"

    def get_pg_version(self):
        """The server's version, asked once over a short-lived connection."""
        if self._pg_version is None:

            async def ask():
                con = await self.connect()
                try:
                    return con.get_server_version()
                finally:
                    await con.close()

            loop = asyncio.new_event_loop()
            try:
                self._pg_version = loop.run_until_complete(ask())
            finally:
                loop.close()
        return self._pg_version

    def connect(self, loop: Any = None, **kwargs: Any):
        del loop
        spec = self.get_connection_spec()
        spec.update(kwargs)
        return asyncpg_rs.connect(**spec)

    def init(self, **settings: Any) -> None:
        pass

    def start(self, wait: int = 60, **settings: Any) -> None:
        pass

    def stop(self, wait: int = 60) -> None:
        pass

    def destroy(self) -> None:
        pass

    def reload(self) -> None:
        pass

    def reset_hba(self) -> None:
        raise pg_cluster.ClusterError("cannot modify HBA records of unmanaged cluster")

    def add_hba_entry(self, **kwargs: Any) -> None:
        raise pg_cluster.ClusterError("cannot modify HBA records of unmanaged cluster")

    def trust_local_connections(self) -> None:
        raise pg_cluster.ClusterError("cannot modify HBA records of unmanaged cluster")


def trust_local_replication_by(cluster: Any, user: str) -> None:
    """Let ``user`` open replication connections over the socket and loopback without a password."""
    cluster.add_hba_entry(type="local", database="replication", user=user, auth_method="trust")
    for address in ("127.0.0.1/32", "::1/128"):
        cluster.add_hba_entry(
            database="replication", user=user, address=address, auth_method="trust"
        )
    if cluster.get_status() == "running":
        cluster.reload()


class HotStandbyCluster(pg_cluster.TempCluster):
    """A standby made with ``pg_basebackup -R`` from a running primary (``master`` spec)."""

    def __init__(
        self,
        *,
        master: dict[str, Any],
        replication_user: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._master = master
        self._repl_user = replication_user

    def init(self, **settings: Any) -> str:
        if self.get_status() != "not-initialized":
            raise pg_cluster.ClusterError(f"the cluster in {self.get_data_dir()} exists")
        self._prepare_dir(self.get_data_dir())
        proc = self._run_tool(
            "pg_basebackup",
            "-D",
            self.get_data_dir(),
            "-h",
            str(self._master["host"]),
            "-p",
            str(self._master["port"]),
            "-U",
            self._repl_user,
            "-R",  # writes standby.signal and primary_conninfo
            "-X",
            "stream",
            check=False,
        )
        if proc.returncode != 0:
            raise pg_cluster.ClusterError(f"pg_basebackup failed:\n{proc.stdout}{proc.stderr}")
        if self._as_root:
            # The data directory must be private to the server's user.
            subprocess.run(["chmod", "700", self.get_data_dir()], check=False)
        return proc.stdout + proc.stderr

    def trust_local_connections(self) -> None:
        # The copy already carries the primary's pg_hba.conf, which trusts local users.
        pass


_default_cluster: Any = None


def _init_cluster(ClusterCls, cluster_kwargs, initdb_options=None):
    """Create and initdb a cluster that trusts local connections; removed at exit."""
    cluster = ClusterCls(**cluster_kwargs)
    cluster.init(**(initdb_options or {}))
    cluster.trust_local_connections()
    atexit.register(_shutdown_cluster, cluster)
    return cluster


def _get_initdb_options(initdb_options=None):
    options = dict(initdb_options or {})
    options.setdefault("username", "postgres")  # a stable superuser name
    return options


def _init_default_cluster(initdb_options=None):
    """The process-wide cluster: ``PGHOST``'s server, else a new temporary one (not started)."""
    global _default_cluster
    if _default_cluster is None:
        if os.environ.get("PGHOST"):
            _default_cluster = RunningCluster()
        else:
            _default_cluster = _init_cluster(
                pg_cluster.TempCluster,
                cluster_kwargs={"data_dir_suffix": ".apgtest"},
                initdb_options=_get_initdb_options(initdb_options),
            )
    return _default_cluster


def _start_default_cluster(server_settings=None, initdb_options=None):
    """The default cluster, started with ``server_settings`` if it is not running yet."""
    cluster = _init_default_cluster(initdb_options)
    if cluster.get_status() != "running":
        cluster.start(port="dynamic", server_settings=dict(server_settings or {}))
    return cluster


def _shutdown_cluster(cluster):
    if cluster.get_status() == "running":
        cluster.stop()
    if cluster.get_status() != "not-initialized":
        cluster.destroy()
    elif hasattr(cluster, "get_base_dir"):
        shutil.rmtree(cluster.get_base_dir(), ignore_errors=True)


def create_pool(
    dsn=None,
    *,
    init_size=None,
    min_size=10,
    max_size=10,
    max_queries=50000,
    max_inactive_connection_lifetime=60.0,
    connect=None,
    setup=None,
    init=None,
    loop=None,
    pool_class=pg_pool.Pool,
    connection_class=pg_connection.Connection,
    record_class=asyncpg_rs.Record,
    **connect_kwargs,
):
    """Build (not await) a pool: ``await`` the result, or use it with ``async with``."""
    return pool_class(
        dsn,
        init_size=init_size,
        min_size=min_size,
        max_size=max_size,
        max_queries=max_queries,
        max_inactive_connection_lifetime=max_inactive_connection_lifetime,
        connect=connect,
        setup=setup,
        init=init,
        loop=loop,
        connection_class=connection_class,
        record_class=record_class,
        **connect_kwargs,
    )


def _complete_spec(spec: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``spec`` updated with ``kwargs``; default user/database unless PGHOST or a dsn decide."""
    if kwargs.get("dsn"):
        spec.pop("host", None)
    spec.update(kwargs)
    if not os.environ.get("PGHOST") and not kwargs.get("dsn"):
        spec.setdefault("database", "postgres")
        spec.setdefault("user", "postgres")
    return spec


class ClusterTestCase(TestCase):
    """Tests against the default cluster (``cls.cluster``), started on first use."""

    cluster: Any = None

    @classmethod
    def get_server_settings(cls):
        settings = {"log_connections": "on"}
        if cls.cluster.get_pg_version() >= (11, 0):
            # JIT compilation makes query timings erratic; tests do not need it.
            settings["jit"] = "off"
        return settings

    @classmethod
    def new_cluster(cls, ClusterCls, *, cluster_kwargs=None, initdb_options=None):
        """An extra initialised cluster, destroyed in tearDownClass (start it yourself)."""
        made = _init_cluster(
            ClusterCls, dict(cluster_kwargs or {}), _get_initdb_options(initdb_options)
        )
        cls._clusters.append(made)
        return made

    @classmethod
    def start_cluster(cls, cluster, *, server_settings=None):
        cluster.start(port="dynamic", server_settings=dict(server_settings or {}))

    @classmethod
    def setup_cluster(cls):
        cls.cluster = _init_default_cluster()
        if cls.cluster.get_status() != "running":
            cls.cluster.start(port="dynamic", server_settings=cls.get_server_settings())

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._clusters = []
        cls.setup_cluster()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for extra in cls._clusters:
            if extra is not _default_cluster:
                extra.stop()
                extra.destroy()
        cls._clusters = []

    @classmethod
    def get_connection_spec(cls, kwargs=None):
        return _complete_spec(cls.cluster.get_connection_spec(), dict(kwargs or {}))

    @classmethod
    def connect(cls, **kwargs):
        """``asyncpg_rs.connect()`` to the cluster; ``kwargs`` override the connection spec."""
        return pg_connection.connect(**cls.get_connection_spec(kwargs), loop=cls.loop)

    def setUp(self):
        super().setUp()
        self._pools = []

    def tearDown(self):
        pending = []
        for made in self._pools:
            made.terminate()
            task = getattr(made, "_maintenance_task", None)
            if task is not None:
                pending.append(task)
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._pools = []
        super().tearDown()

    def create_pool(
        self, pool_class=pg_pool.Pool, connection_class=pg_connection.Connection, **kwargs
    ):
        """A pool on the cluster, terminated after the test; ``await`` it before use."""
        made = create_pool(
            loop=self.loop,
            pool_class=pool_class,
            connection_class=connection_class,
            **self.get_connection_spec(kwargs),
        )
        self._pools.append(made)
        return made


class ProxiedClusterTestCase(ClusterTestCase):
    """Connections go through ``cls.proxy`` (a ``fuzzer.TCPFuzzingProxy``) to the cluster."""

    @classmethod
    def get_server_settings(cls):
        settings = dict(super().get_server_settings())
        settings["listen_addresses"] = "127.0.0.1"
        return settings

    @classmethod
    def get_proxy_settings(cls):
        return {"fuzzing-mode": None}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        spec = cls.cluster.get_connection_spec()
        host = spec.get("host")
        if not host or str(host).startswith("/"):
            host = "127.0.0.1"
        cls.proxy = fuzzer.TCPFuzzingProxy(
            backend_host=host,
            backend_port=int(spec["port"]),
            settings=cls.get_proxy_settings(),
        )
        cls.proxy.start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        super().tearDownClass()

    @classmethod
    def get_connection_spec(cls, kwargs=None):
        spec = super().get_connection_spec(kwargs)
        spec["host"] = cls.proxy.listening_addr
        spec["port"] = cls.proxy.listening_port
        return spec

    def tearDown(self):
        self.proxy.reset()
        super().tearDown()


class ConnectedTestCase(ClusterTestCase):
    """``self.con``: a connection opened before each test and closed after it."""

    def setUp(self):
        super().setUp()
        test = getattr(self, self._testMethodName)
        options = getattr(getattr(test, "__func__", test), "__connect_options__", {})
        self.con = self.loop.run_until_complete(self.connect(**options))
        self.server_version = self.con.get_server_version()

    def tearDown(self):
        try:
            self.loop.run_until_complete(self.con.close())
            self.con = None
        finally:
            super().tearDown()


class HotStandbyTestCase(ClusterTestCase):
    """A primary (``cls.master_cluster``) and a hot standby (``cls.standby_cluster``)."""

    @classmethod
    def setup_cluster(cls):
        cls.master_cluster = cls.new_cluster(pg_cluster.TempCluster)
        cls.start_cluster(
            cls.master_cluster,
            server_settings={"max_wal_senders": 10, "wal_level": "hot_standby"},
        )

        async def add_replication_role():
            con = await cls.master_cluster.connect(database="postgres", user="postgres")
            try:
                await con.execute("CREATE ROLE replication WITH LOGIN REPLICATION")
            finally:
                await con.close()

        cls.loop.run_until_complete(add_replication_role())
        trust_local_replication_by(cls.master_cluster, "replication")

        cls.standby_cluster = cls.new_cluster(
            HotStandbyCluster,
            cluster_kwargs={
                "master": cls.master_cluster.get_connection_spec(),
                "replication_user": "replication",
            },
        )
        cls.start_cluster(cls.standby_cluster, server_settings={"hot_standby": "on"})

    @classmethod
    def get_cluster_connection_spec(cls, cluster, kwargs=None):
        return _complete_spec(cluster.get_connection_spec(), dict(kwargs or {}))

    @classmethod
    def get_connection_spec(cls, kwargs=None):
        kwargs = dict(kwargs or {})
        primary = cls.get_cluster_connection_spec(cls.master_cluster, kwargs)
        standby = cls.get_cluster_connection_spec(cls.standby_cluster, kwargs)
        return {
            "host": [primary["host"], standby["host"]],
            "port": [primary["port"], standby["port"]],
            "database": primary["database"],
            "user": primary["user"],
            **kwargs,
        }

    @classmethod
    def connect_primary(cls, **kwargs):
        spec = cls.get_cluster_connection_spec(cls.master_cluster, kwargs)
        return pg_connection.connect(**spec, loop=cls.loop)

    @classmethod
    def connect_standby(cls, **kwargs):
        spec = cls.get_cluster_connection_spec(cls.standby_cluster, kwargs)
        return pg_connection.connect(**spec, loop=cls.loop)
