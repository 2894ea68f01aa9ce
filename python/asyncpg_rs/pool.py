"""Connection pool with asyncpg's semantics: create_pool(), Pool, and what acquire() yields.

The pool's connections are instances of Connection (or a subclass, as ``connection_class`` must
be): besides the public API it calls Connection's pool hooks directly: ``_on_release()``,
``_set_proxy()``, ``_reset()``, ``_reset_nowait()``, ``_queries_count`` and
``add_termination_listener()``.

Shape: a pool owns ``max_size`` holders.  A holder is a seat that holds at most one connection.
Free holders sit in a LIFO list (connected ones first); acquirers that find none wait in FIFO
order and are handed a holder directly by the next release.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import logging
import sys
import types
import typing
import warnings
import weakref

from . import _named, _stats
from ._compat import public_class_name
from ._typing import OtherRecordT, RecordT
from .exceptions import ConnectionDoesNotExistError, InterfaceError

try:  # The core may not be importable yet (or may be mid-import); resolved again on use.
    from .connection import Connection as _Connection
    from .connection import _ConnectionProxy
except ImportError:  # pragma: no cover
    _Connection = None  # type: ignore[assignment,misc]

    class _ConnectionProxy:  # type: ignore[no-redef]
        """Stand-in marker base while connection.py cannot be imported."""

        __slots__ = ()


try:
    from ._native import Record as _Record
except ImportError:  # pragma: no cover
    _Record = None  # type: ignore[assignment,misc]

if typing.TYPE_CHECKING:
    from ._native import Record
    from .connection import Connection

    _Callback = typing.Callable[[Connection[typing.Any]], typing.Awaitable[typing.Any]]

__all__ = ("Pool", "PoolAcquireContext", "PoolConnectionProxy", "create_pool")

# asyncpg's logger name, so that logging set up for asyncpg keeps receiving the pool's warnings.
logger = logging.getLogger("asyncpg.pool")


def _connection_class():
    global _Connection
    if _Connection is None:
        from .connection import Connection

        _Connection = Connection
    return _Connection


def _record_class():
    global _Record
    if _Record is None:
        from ._native import Record

        _Record = Record
    return _Record


if sys.version_info >= (3, 11):
    _timeout = asyncio.timeout
else:  # pragma: no cover

    class _timeout:
        """asyncio.timeout() for Python < 3.11: cancel the task at the deadline."""

        def __init__(self, delay):
            self._delay = delay
            self._handle = None
            self._expired = False

        async def __aenter__(self):
            if self._delay is not None:
                task = asyncio.current_task()
                loop = asyncio.get_running_loop()
                self._handle = loop.call_later(max(self._delay, 0), self._expire, task)
            return self

        def _expire(self, task):
            self._expired = True
            task.cancel()

        async def __aexit__(self, exc_type, exc, tb):
            if self._handle is not None:
                self._handle.cancel()
            if self._expired and exc_type is asyncio.CancelledError:
                raise asyncio.TimeoutError from exc
            return False


def _mark_coroutine_function(func):
    if hasattr(inspect, "markcoroutinefunction"):  # Python >= 3.12
        return inspect.markcoroutinefunction(func)
    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is not None:  # makes asyncio.iscoroutinefunction() agree
        func._is_coroutine = marker
    return func


# -- the acquired object ---------------------------------------------------------------------


class PoolConnectionProxy(_ConnectionProxy):
    """What ``pool.acquire()`` yields: a Connection that stops working once released.

    Public Connection methods are wrapped (same name, docstring and signature); after the
    connection goes back to the pool, calling one raises ``InterfaceError`` right away.
    Other attributes are read from the connection.
    """

    __slots__ = ("_con", "_holder")

    def __init__(self, holder, con):
        self._con = con
        self._holder = holder
        con._set_proxy(self)  # listener callbacks then receive the proxy

    def __getattr__(self, attr):
        return getattr(self._con, attr)

    def _detach(self):
        con = self._con
        if con is None:
            return None
        self._con = None
        con._set_proxy(None)
        return con

    def __repr__(self):
        if self._con is None:
            return f"<{type(self).__name__} [released] {id(self):#x}>"
        return f"<{type(self).__name__} {self._con!r} {id(self):#x}>"


def _make_forwarder(name, template):
    """A proxy method that calls ``type(con).<name>(con, ...)`` while the proxy is attached."""

    def forward(self, *args, **kwargs):
        con = self._con
        if con is None:
            raise InterfaceError(
                f"cannot call Connection.{name}(): connection has been released back to the pool"
            )
        result = getattr(type(con), name)(con, *args, **kwargs)
        if name == "close":
            return self._holder._after_close(con, result)
        if name == "terminate":
            self._holder._connection_lost(con)
        return result

    functools.update_wrapper(forward, template)
    if inspect.iscoroutinefunction(template):
        _mark_coroutine_function(forward)
    return forward


_proxy_installed_for: set[type] = set()


def _install_proxy_methods(con_cls, *, take_doc=False):
    """Give PoolConnectionProxy a forwarder for each public method of ``con_cls``."""
    if con_cls in _proxy_installed_for:
        return
    for name in dir(con_cls):
        if name.startswith("_") or name in vars(PoolConnectionProxy):
            continue
        raw = inspect.getattr_static(con_cls, name)
        # Plain functions (Python) and method descriptors (Rust #[pymethods]); not
        # classmethods, staticmethods or properties.
        if isinstance(raw, (types.FunctionType, types.MethodDescriptorType)):
            setattr(PoolConnectionProxy, name, _make_forwarder(name, raw))
    if take_doc and con_cls.__doc__:
        PoolConnectionProxy.__doc__ = con_cls.__doc__
    _proxy_installed_for.add(con_cls)


# -- one seat of the pool --------------------------------------------------------------------


class _FreeSeats:
    """``Pool._queue``: the free seats as asyncpg's ``asyncio.LifoQueue`` is read."""

    __slots__ = ("_free",)

    def __init__(self, free):
        self._free = free

    def qsize(self):
        return len(self._free)

    def empty(self):
        return not self._free

    def __len__(self):
        return len(self._free)


def _seat_connection_lost(seat_ref, con_ref, _con_or_proxy):
    # The listener gets the pool's proxy while the connection is acquired: use the connection.
    seat, con = seat_ref(), con_ref()
    if seat is not None and con is not None:
        seat._connection_lost(con)


class PoolConnectionHolder:
    """A seat in the pool: at most one connection, acquired by at most one user."""

    __slots__ = (
        "__weakref__",
        "_con",
        "_generation",
        "_idle_handle",
        "_idle_since",
        "_in_use",
        "_pool",
        "_proxy",
        "_releasing",
        "_timeout",
    )

    def __init__(self, pool):
        self._pool = pool
        self._con = None
        self._proxy = None
        self._generation = None
        self._in_use = None  # a Future while acquired; close() waits on it
        self._releasing = False
        self._timeout = None  # the acquire timeout, reused by release()
        self._idle_handle = None
        self._idle_since = None  # loop time of the last release while idle, else None

    def is_connected(self):
        return self._con is not None and not self._con.is_closed()

    def is_idle(self):
        return self._in_use is None

    def _query_count(self):
        return self._con._queries_count

    async def connect(self):
        pool = self._pool
        generation = pool._generation
        con = await pool._get_new_connection()
        pool._counters.connections_opened += 1
        if self._generation is not None:  # this seat had a connection before
            pool._counters.reconnects += 1
        if pool.is_closing():
            await con.close()
            raise InterfaceError("pool is closing")
        if con.is_closed():
            raise ConnectionDoesNotExistError("connection was closed during pool initialization")
        self._con = con
        self._generation = generation
        # Through a weak reference: a closed connection that the loop still holds (its
        # connection_lost is scheduled) must not keep the seat, and so the pool, alive.
        con.add_termination_listener(
            functools.partial(_seat_connection_lost, weakref.ref(self), weakref.ref(con))
        )
        self._arm_idle_timer()

    async def acquire(self):
        pool = self._pool
        con = self._con
        if con is None or con.is_closed():
            self._drop_connection()
            await self.connect()
        elif self._generation != pool._generation:
            # Expired by Pool.expire_connections(): replace it, closing the old one aside.
            self._drop_connection()
            pool._close_in_background(con)
            await self.connect()
        self._mark_in_use()

        con = self._con
        proxy = PoolConnectionProxy(self, con)
        self._proxy = proxy
        if pool._setup is not None:
            try:
                await pool._setup(proxy)
            except BaseException as ex:
                # The connection's state is unknown after a failed setup: do not reuse it. The
                # proxy the setup saw stays on it, so it reads is_closed() as asyncpg's does.
                self._proxy = None
                self._drop_connection()
                await _close_quietly(con, cancelled=isinstance(ex, asyncio.CancelledError))
                raise
        self._in_use = asyncio.get_running_loop().create_future()
        return proxy

    async def release(self, proxy, timeout):
        # The caller set `_releasing` synchronously, so a connection loss reported meanwhile
        # leaves the freeing of this seat to us.
        try:
            if self._proxy is proxy:
                await self._release(timeout)
        finally:
            self._releasing = False

    async def _release(self, timeout):
        pool = self._pool
        con = self._con
        self._timeout = None
        if con is None or con.is_closed():
            self._drop_connection()
            self._free()
            pool._schedule_maintenance()  # back to min_size (as asyncpg)
            return

        if self._query_count() >= pool._max_queries or self._generation != pool._generation:
            # Worn out (max_queries) or expired: close instead of resetting.
            self._drop_connection()
            try:
                await con.close(timeout=timeout)
            finally:
                self._free()
                pool._schedule_maintenance()
            return

        try:
            if con._cancel_barrier is not None:
                # A cancellation is in progress: wait for it within the budget (as asyncpg). If
                # it failed, it terminated the connection, and this seat gets a new one.
                now = asyncio.get_running_loop().time
                deadline = None if timeout is None else now() + timeout
                # Not bounded by command_timeout: the cancellation has its own deadline.
                await asyncio.wait_for(asyncio.shield(con._cancel_barrier), timeout)
                if con.is_closed():
                    self._drop_connection()
                    self._free()
                    return
                if deadline is not None:
                    timeout = max(deadline - now(), 0.0)
            if pool._reset is not None:
                async with _timeout(timeout):
                    await con._reset()
                    await pool._reset(con)
            elif timeout is not None or not (_default_reset(con) and con._reset_nowait()):
                # With a deadline the reset is awaited, so that a dead network shows as
                # asyncpg's TimeoutError; without one it rides with the next user's query.
                await con.reset(timeout=timeout)
        except BaseException:
            # Most likely an I/O error: the connection cannot be trusted any more.
            self._drop_connection()
            con.terminate()
            self._free()
            raise
        self._free()
        self._arm_idle_timer()

    async def wait_until_released(self):
        if self._in_use is not None:
            await self._in_use

    async def close(self):
        con = self._con
        if con is not None:
            self._drop_connection()
            await con.close()

    def terminate(self):
        con = self._con
        if con is not None:
            self._drop_connection()
            con.terminate()
        # As asyncpg: a connection still held is detached, so its later release() is a no-op.
        if self._proxy is not None:
            self._proxy._detach()
            self._proxy = None
        if self._in_use is not None and not self._in_use.done():
            self._in_use.set_result(None)
        self._in_use = None

    # -- reacting to the connection going away --

    def _connection_lost(self, con):
        """The connection closed (server, network, user): free this seat if it held it."""
        if self._con is not con:
            return
        self._drop_connection()
        if self._in_use is not None and not self._releasing:
            self._free()
        self._pool._schedule_maintenance()

    async def _after_close(self, con, close_coro):
        try:
            return await close_coro
        finally:
            self._connection_lost(con)

    def _drop_connection(self):
        self._cancel_idle_timer()
        if self._con is not None:
            self._pool._counters.retire(self._con)
        self._con = None

    def _free(self):
        """Detach the proxy and give this seat back to the pool."""
        if self._in_use is None:
            return
        if not self._in_use.done():
            self._in_use.set_result(None)
        self._in_use = None
        if self._proxy is not None:
            self._proxy._detach()
            self._proxy = None
        self._pool._put_holder(self)

    # -- max_inactive_connection_lifetime --

    @property
    def _inactive_callback(self):
        """asyncpg's name for the pending idle-expiry timer (``None`` when none is armed)."""
        return self._idle_handle if self._idle_since is not None else None

    # NOTE: one timer per idle period, not one per use. A release records the time and arms a
    # timer only if none is pending; an acquire just clears the time. When the timer fires on a
    # connection that was used meanwhile, it waits again for what is left of the lifetime since
    # the last release. asyncpg arms and cancels a TimerHandle per use (a Python-level call_later,
    # a heap push with Python comparisons, a cancel): profiled 2026-12-02, a tenth of a
    # pool.fetchrow shortcut at 10 tasks.
    def _arm_idle_timer(self):
        lifetime = self._pool._max_inactive_connection_lifetime
        if not lifetime:
            return
        loop = asyncio.get_running_loop()
        self._idle_since = now = loop.time()
        if self._idle_handle is None:
            self._idle_handle = loop.call_at(now + lifetime, self._idle_expired)

    def _mark_in_use(self):
        self._idle_since = None

    def _cancel_idle_timer(self):
        self._idle_since = None
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    def _idle_expired(self):
        self._idle_handle = None
        if self._in_use is not None or self._con is None or self._idle_since is None:
            return  # in use: the release arms the timer again
        loop = asyncio.get_running_loop()
        deadline = self._idle_since + self._pool._max_inactive_connection_lifetime
        if loop.time() < deadline:
            # Used and released again since this timer was armed: wait for the rest.
            self._idle_handle = loop.call_at(deadline, self._idle_expired)
            return
        pool = self._pool
        if self.is_connected() and not pool.is_closing() and pool.get_size() <= pool._minsize:
            return  # part of the min_size floor: keep it
        self.terminate()


async def _close_quietly(con, *, cancelled=False):
    if cancelled:
        con.terminate()
        return
    with contextlib.suppress(Exception):
        await con.close()
    if not con.is_closed():
        con.terminate()


async def _shielded(coro):
    """Run `coro` to its end even if the caller is cancelled (a release must finish); its
    outcome is always retrieved, so a failure after the caller left is not reported as lost."""
    task = asyncio.ensure_future(coro)
    task.add_done_callback(_retrieve_outcome)
    return await asyncio.shield(task)


def _retrieve_outcome(task):
    if not task.cancelled():
        task.exception()


def _default_reset(con):
    """True when `con` uses Connection.reset() as is (so its reset may be pipelined)."""
    # NOTE: no import statement here: a function-level import costs an AttributeError or two per
    # call inside the import machinery (profiled 2026-12-02: 13% of a pool.fetchrow shortcut).
    return type(con).reset is _connection_class().reset


# -- the pool --------------------------------------------------------------------------------


class Pool(typing.Generic[RecordT]):
    """A connection pool.

    Connections are acquired from the pool, used, and released back to it.  A released
    connection is reset (open transaction rolled back, session state reset, listeners removed)
    before the next user gets it; prepared statements stay cached.

    Pools are created by calling :func:`~asyncpg_rs.pool.create_pool`.
    """

    __slots__ = (
        "_closed",
        "_closing",
        "_connect",
        "_connect_args",
        "_connect_kwargs",
        "_connection_class",
        "_counters",
        "_free",
        "_generation",
        "_holders",
        "_init",
        "_initialized",
        "_initializing",
        "_initsize",
        "_loop",
        "_maintenance_task",
        "_max_inactive_connection_lifetime",
        "_max_queries",
        "_maxsize",
        "_minsize",
        "_record_class",
        "_reset",
        "_setup",
        "_waiters",
    )

    def __init__(
        self,
        *connect_args,
        init_size=None,
        min_size,
        max_size,
        max_queries,
        max_inactive_connection_lifetime,
        connect=None,
        setup=None,
        init=None,
        reset=None,
        loop,
        connection_class,
        record_class,
        **connect_kwargs,
    ):
        if len(connect_args) > 1:
            warnings.warn(
                "Passing multiple positional arguments to Pool is deprecated; "
                "use Pool(<dsn>, **kwargs)",
                DeprecationWarning,
                stacklevel=2,
            )
        if max_size <= 0:
            raise ValueError("max_size is expected to be greater than zero")
        if min_size < 0:
            raise ValueError("min_size is expected to be greater or equal to zero")
        if min_size > max_size:
            raise ValueError("min_size is greater than max_size")
        if init_size is None:
            init_size = min_size
        if init_size < 0:
            raise ValueError("init_size is expected to be greater or equal to zero")
        if init_size > max_size:
            raise ValueError("init_size is greater than max_size")
        if init_size < min_size:
            raise ValueError("init_size is smaller than min_size")
        if max_queries <= 0:
            raise ValueError("max_queries is expected to be greater than zero")
        if max_inactive_connection_lifetime < 0:
            raise ValueError(
                "max_inactive_connection_lifetime is expected to be greater or equal to zero"
            )
        base = _connection_class()
        if connection_class is None:
            connection_class = base
        if not (isinstance(connection_class, type) and issubclass(connection_class, base)):
            raise TypeError(
                "connection_class is expected to be a subclass of "
                f"asyncpg.Connection, got {connection_class!r}"
            )
        record_base = _record_class()
        if record_class is None:
            record_class = record_base
        if not (isinstance(record_class, type) and issubclass(record_class, record_base)):
            raise TypeError(
                f"record_class is expected to be a subclass of asyncpg.Record, got {record_class!r}"
            )
        _install_proxy_methods(base, take_doc=True)
        _install_proxy_methods(connection_class)

        self._loop = loop
        self._initsize = init_size
        self._minsize = min_size
        self._maxsize = max_size
        self._max_queries = max_queries
        self._max_inactive_connection_lifetime = max_inactive_connection_lifetime
        self._connection_class = connection_class
        self._record_class = record_class
        self._connect = connect
        self._connect_args = connect_args
        self._connect_kwargs = connect_kwargs
        self._setup = setup
        self._init = init
        self._reset = reset

        self._holders = []
        self._free = []  # LIFO: the end is handed out first
        self._waiters = collections.deque()  # FIFO of futures waiting for a holder
        self._initialized = False
        self._initializing = False
        self._closing = False
        self._closed = False
        self._generation = 0
        self._maintenance_task = None
        self._counters = _stats._PoolCounters()

    # -- initialisation --

    async def _async__init__(self):
        if self._initialized:
            return self
        if self._initializing:
            raise InterfaceError("pool is being initialized in another task")
        if self._closed:
            raise InterfaceError("pool is closed")
        self._initializing = True
        try:
            await self._initialize()
            return self
        except BaseException:
            # A failed start must not leave warm connections behind.
            self._closed = True
            for holder in self._holders:
                holder.terminate()
            raise
        finally:
            self._initializing = False
            self._initialized = True
            self._schedule_maintenance()

    async def _initialize(self):
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._holders = [PoolConnectionHolder(self) for _ in range(self._maxsize)]
        self._free = list(self._holders)
        if not self._initsize:
            return
        # The end of the free list is handed out first, so warm the holders from the end.
        warm = self._free[-self._initsize :]
        # The first connects alone, so a bad DSN fails fast with one clean error.
        await warm[-1].connect()
        if len(warm) > 1:
            results = await asyncio.gather(
                *(holder.connect() for holder in warm[:-1]), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    def _check_init(self):
        if not self._initialized:
            if self._initializing:
                raise InterfaceError(
                    "pool is being initialized, but not yet ready: "
                    "likely there is a race between creating a pool and using it"
                )
            raise InterfaceError("pool is not initialized")
        if self._closed:
            raise InterfaceError("pool is closed")

    async def _get_new_connection(self):
        connect = self._connect
        if connect is None:
            from . import connection as connection_mod

            connect = connection_mod.connect
        con = await connect(
            *self._connect_args,
            loop=self._loop,
            connection_class=self._connection_class,
            record_class=self._record_class,
            **self._connect_kwargs,
        )
        if not isinstance(con, self._connection_class):
            good = self._connection_class
            bad = type(con)
            bad_name = (
                bad.__name__ if bad.__module__ == "builtins" else f"{bad.__module__}.{bad.__name__}"
            )
            raise InterfaceError(
                "expected pool connect callback to return an instance of "
                f"'{public_class_name(good)}', got '{bad_name}'"
            )
        if self._init is not None:
            try:
                await self._init(con)
            except BaseException as ex:
                await _close_quietly(con, cancelled=isinstance(ex, asyncio.CancelledError))
                raise
        return con

    @property
    def _queue(self):
        """asyncpg's queue of idle seats, as a read-only view of the free list (``qsize()``,
        ``empty()``): asyncpg's own tests and monitoring code read it."""
        return _FreeSeats(self._free)

    # -- the free list --

    def _take_free(self):
        free = self._free
        for i in range(len(free) - 1, -1, -1):
            if free[i].is_connected():
                return free.pop(i)
        return free.pop() if free else None

    def _put_holder(self, holder):
        if self.is_closing():
            # Nobody will get a connection any more; wake the waiters with the reason.
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(
                        InterfaceError("pool is closed" if self._closed else "pool is closing")
                    )
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(holder)
                return
        self._free.append(holder)

    async def _get_holder(self):
        counters = self._counters
        holder = self._take_free()
        if holder is not None:
            counters.acquisitions += 1
            return holder
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        started = self._loop.time()
        try:
            holder = await waiter
            counters.acquisitions += 1
            counters.waits += 1
            counters.wait_time += self._loop.time() - started
            return holder
        except BaseException:
            counters.waits_failed += 1
            counters.wait_time += self._loop.time() - started
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a holder just as we were cancelled: pass it on.
                self._put_holder(waiter.result())
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    # -- min_size floor --

    def _schedule_maintenance(self):
        if (
            not self._initialized
            or self._initializing
            or self.is_closing()
            or not self._minsize
            or self._maintenance_task is not None
        ):
            return
        if self.get_size() < self._minsize:
            self._maintenance_task = self._loop.create_task(self._maintain_min_size())

    def _take_disconnected_free(self):
        free = self._free
        for i in range(len(free) - 1, -1, -1):
            if not free[i].is_connected():
                return free.pop(i)
        return None

    async def _maintain_min_size(self):
        delay = 1.0
        try:
            while not self.is_closing() and self.get_size() < self._minsize:
                holder = self._take_disconnected_free()
                if holder is None:
                    return  # acquirers are connecting the rest
                failed = False
                try:
                    holder.terminate()
                    await holder.connect()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    if self.is_closing():
                        return
                    failed = True
                    logger.warning(
                        "Failed to restore the pool connection floor; retrying", exc_info=True
                    )
                finally:
                    self._put_holder(holder)
                if failed:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60.0)
                else:
                    delay = 1.0
        finally:
            self._maintenance_task = None

    def _close_in_background(self, con):
        async def close():
            with contextlib.suppress(Exception):
                await con.close()
            if not con.is_closed():
                con.terminate()

        self._loop.create_task(close())

    # -- sizes and state --

    def is_closing(self) -> bool:
        """Return ``True`` if the pool is closing or is closed."""
        return self._closed or self._closing

    def get_size(self) -> int:
        """Return the current number of connections in this pool."""
        return sum(holder.is_connected() for holder in self._holders)

    def get_init_size(self) -> int:
        """Return the initial number of connections in this pool."""
        return self._initsize

    def get_min_size(self) -> int:
        """Return the minimum number of connections kept in this pool."""
        return self._minsize

    def get_max_size(self) -> int:
        """Return the maximum allowed number of connections in this pool."""
        return self._maxsize

    def get_idle_size(self) -> int:
        """Return the current number of idle connections in this pool."""
        return sum(holder.is_connected() and holder.is_idle() for holder in self._holders)

    def get_stats(self) -> _stats.PoolStats:
        """Size, waiters, acquisitions, time spent waiting for a connection, reconnects and the
        connections' query/row/byte counters (an asyncpg-rs extension; always on)."""
        return self._counters.snapshot(self, (h._con for h in self._holders if h._con is not None))

    @property
    def named(self) -> _named.NamedQueries:
        """The shortcuts with ``:name`` parameters and a mapping (an asyncpg-rs extension):
        ``await pool.named.fetch("SELECT * FROM t WHERE id = :id", {"id": 5})``."""
        return _named.NamedQueries(self)

    def set_connect_args(self, dsn: str | None = None, **connect_kwargs: typing.Any) -> None:
        """Set the connection arguments used for all new connections of this pool.

        Existing connections stay until they expire; call :meth:`expire_connections` to
        replace them sooner.
        """
        self._connect_args = [dsn]
        self._connect_kwargs = connect_kwargs

    # -- acquire and release --

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext[RecordT]:
        """Acquire a database connection from the pool.

        Use it as ``async with pool.acquire() as con:`` or ``con = await pool.acquire()``
        (then ``await pool.release(con)``).

        :param float timeout: a timeout for acquiring a connection.
        :return: a proxy for a :class:`~asyncpg_rs.connection.Connection`.
        """
        return PoolAcquireContext(self, timeout)

    async def _acquire(self, timeout):
        if self._closing:
            raise InterfaceError("pool is closing")
        self._check_init()
        async with _timeout(timeout):
            holder = await self._get_holder()
            try:
                proxy = await holder.acquire()
            except BaseException:
                self._put_holder(holder)
                self._schedule_maintenance()
                raise
        holder._timeout = timeout
        return proxy

    async def release(
        self, connection: Connection[typing.Any], *, timeout: float | None = None
    ) -> None:
        """Release a database connection back to the pool.

        :param connection: a connection acquired from this pool.
        :param float timeout: a timeout for the reset; defaults to the acquire timeout.
        """
        if type(connection) is not PoolConnectionProxy or connection._holder._pool is not self:
            raise InterfaceError(
                f"Pool.release() received invalid connection: "
                f"{connection!r} is not a member of this pool"
            )
        holder = connection._holder
        if connection._con is None or holder._releasing:
            return  # already released
        self._check_init()
        connection._con._on_release()
        if timeout is None:
            timeout = holder._timeout
        holder._releasing = True
        # Shielded: cancelling the releasing task must still return the connection.
        await _shielded(holder.release(connection, timeout))

    # -- shutdown --

    async def close(self) -> None:
        """Gracefully close all connections in the pool.

        Waits until every acquired connection is released, then closes them all.  Any error
        (including cancellation) terminates the pool instead.  Use ``asyncio.wait_for()`` to
        bound the wait.
        """
        if self._closed:
            return
        self._check_init()
        self._closing = True
        warn_handle = None
        try:
            self._fail_waiters("pool is closing")
            await self._stop_maintenance()
            warn_handle = self._loop.call_later(60, self._warn_on_long_close)
            await asyncio.gather(*(holder.wait_until_released() for holder in self._holders))
            await asyncio.gather(*(holder.close() for holder in self._holders))
        except BaseException:
            self.terminate()
            raise
        finally:
            if warn_handle is not None:
                warn_handle.cancel()
            self._closed = True
            self._closing = False

    def _warn_on_long_close(self):
        logger.warning(
            "Pool.close() is taking over 60 seconds to complete. "
            "Check if you have any unreleased connections left. "
            "Use asyncio.wait_for() to set a timeout for Pool.close()."
        )

    async def _stop_maintenance(self):
        task = self._maintenance_task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._maintenance_task = None

    def _fail_waiters(self, message):
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(InterfaceError(message))

    def terminate(self) -> None:
        """Terminate all connections in the pool."""
        if self._closed:
            return
        self._check_init()
        self._closed = True
        if self._maintenance_task is not None:
            self._maintenance_task.cancel()
        self._fail_waiters("pool is closed")
        for holder in self._holders:
            holder.terminate()

    def _drop_statement_cache(self):
        """Forget the cached statements of every connection (asyncpg's name)."""
        for holder in self._holders:
            con = holder._con
            if con is not None and not con.is_closed():
                con._protocol.clear_statement_cache()

    def _drop_type_cache(self):
        """Forget the introspected types (and so the statements) of every connection."""
        for holder in self._holders:
            con = holder._con
            if con is not None and not con.is_closed():
                con._protocol.clear_type_cache()

    async def expire_connections(self) -> None:
        """Expire all currently open connections.

        They are replaced by new ones on their next acquire or release.
        """
        self._generation += 1

    # -- shortcuts: acquire, run one call, release --

    async def _shortcut(self, method, *args, **kwargs):
        """Acquire, run one Connection method, release: without a proxy or an acquire context,
        since no user code ever sees the connection, and with the reset sent without waiting."""
        if self._setup is not None or self._closing or self._closed or not self._initialized:
            async with self.acquire() as con:
                return await getattr(con, method)(*args, **kwargs)
        holder = await self._get_holder()
        con = holder._con
        if con is None or con.is_closed() or holder._generation != self._generation:
            # Reconnect or replace through the full path.
            try:
                proxy = await holder.acquire()
            except BaseException:
                self._put_holder(holder)
                self._schedule_maintenance()
                raise
            try:
                return await getattr(proxy, method)(*args, **kwargs)
            finally:
                await self.release(proxy)
        holder._mark_in_use()
        holder._in_use = self._loop.create_future()
        try:
            return await getattr(type(con), method)(con, *args, **kwargs)
        finally:
            if holder._con is not con:
                pass  # the connection was lost; its seat has been given back already
            elif (
                holder._query_count() < self._max_queries
                and holder._generation == self._generation
                and _default_reset(con)
                and con._reset_nowait(False)
            ):
                holder._free()
                # After _free(): a waiter it woke runs first at the next iteration and sends its
                # query with the reset in one write; this flush sends the reset when none did.
                con._flush_soon()
                holder._arm_idle_timer()
            else:
                holder._releasing = True
                try:
                    await _shielded(holder._release(None))
                finally:
                    holder._releasing = False

    async def execute(self, query: str, *args: typing.Any, timeout: float | None = None) -> str:
        """Execute an SQL command (or commands) on a pooled connection.

        Behaves like :meth:`Connection.execute() <asyncpg_rs.connection.Connection.execute>`.
        """
        return await self._shortcut("execute", query, *args, timeout=timeout)

    async def executemany(
        self,
        command: str,
        args: typing.Iterable[typing.Sequence[typing.Any]],
        *,
        timeout: float | None = None,
    ) -> None:
        """Execute an SQL *command* for each sequence of arguments in *args*.

        Behaves like :meth:`Connection.executemany()`.
        """
        return await self._shortcut("executemany", command, args, timeout=timeout)

    @typing.overload
    async def fetch(
        self,
        query: str,
        *args: typing.Any,
        timeout: float | None = None,
        record_class: None = None,
    ) -> list[RecordT]: ...
    @typing.overload
    async def fetch(
        self,
        query: str,
        *args: typing.Any,
        timeout: float | None = None,
        record_class: type[OtherRecordT],
    ) -> list[OtherRecordT]: ...
    async def fetch(
        self,
        query: str,
        *args: typing.Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> list[typing.Any]:
        """Run a query and return the results as a list of Record.

        Behaves like :meth:`Connection.fetch()`.
        """
        return await self._shortcut(
            "fetch", query, *args, timeout=timeout, record_class=record_class
        )

    async def fetchval(
        self, query: str, *args: typing.Any, column: int = 0, timeout: float | None = None
    ) -> typing.Any:
        """Run a query and return a value in the first row.

        Behaves like :meth:`Connection.fetchval()`.
        """
        return await self._shortcut("fetchval", query, *args, column=column, timeout=timeout)

    @typing.overload
    async def fetchrow(
        self,
        query: str,
        *args: typing.Any,
        timeout: float | None = None,
        record_class: None = None,
    ) -> RecordT | None: ...
    @typing.overload
    async def fetchrow(
        self,
        query: str,
        *args: typing.Any,
        timeout: float | None = None,
        record_class: type[OtherRecordT],
    ) -> OtherRecordT | None: ...
    async def fetchrow(
        self,
        query: str,
        *args: typing.Any,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> typing.Any:
        """Run a query and return the first row.

        Behaves like :meth:`Connection.fetchrow()`.
        """
        return await self._shortcut(
            "fetchrow", query, *args, timeout=timeout, record_class=record_class
        )

    @typing.overload
    async def fetchmany(
        self,
        query: str,
        args: typing.Iterable[typing.Sequence[typing.Any]],
        *,
        timeout: float | None = None,
        record_class: None = None,
    ) -> list[RecordT]: ...
    @typing.overload
    async def fetchmany(
        self,
        query: str,
        args: typing.Iterable[typing.Sequence[typing.Any]],
        *,
        timeout: float | None = None,
        record_class: type[OtherRecordT],
    ) -> list[OtherRecordT]: ...
    async def fetchmany(
        self,
        query: str,
        args: typing.Iterable[typing.Sequence[typing.Any]],
        *,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> list[typing.Any]:
        """Run a query for each sequence of arguments in *args* and return all rows.

        Behaves like :meth:`Connection.fetchmany()`.
        """
        return await self._shortcut(
            "fetchmany", query, args, timeout=timeout, record_class=record_class
        )

    async def copy_from_table(
        self,
        table_name: str,
        *,
        output: typing.Any,
        columns: typing.Iterable[str] | None = None,
        schema_name: str | None = None,
        timeout: float | None = None,
        format: str | None = None,
        oids: typing.Any = None,
        delimiter: str | None = None,
        null: str | None = None,
        header: typing.Any = None,
        quote: str | None = None,
        escape: str | None = None,
        force_quote: typing.Any = None,
        encoding: str | None = None,
    ) -> str:
        """Copy table contents to a file or file-like object.

        Behaves like :meth:`Connection.copy_from_table()`.
        """
        async with self.acquire() as con:
            return await con.copy_from_table(
                table_name,
                output=output,
                columns=columns,
                schema_name=schema_name,
                timeout=timeout,
                format=format,
                oids=oids,
                delimiter=delimiter,
                null=null,
                header=header,
                quote=quote,
                escape=escape,
                force_quote=force_quote,
                encoding=encoding,
            )

    async def copy_from_query(
        self,
        query: str,
        *args: typing.Any,
        output: typing.Any,
        timeout: float | None = None,
        format: str | None = None,
        oids: typing.Any = None,
        delimiter: str | None = None,
        null: str | None = None,
        header: typing.Any = None,
        quote: str | None = None,
        escape: str | None = None,
        force_quote: typing.Any = None,
        encoding: str | None = None,
    ) -> str:
        """Copy the results of a query to a file or file-like object.

        Behaves like :meth:`Connection.copy_from_query()`.
        """
        async with self.acquire() as con:
            return await con.copy_from_query(
                query,
                *args,
                output=output,
                timeout=timeout,
                format=format,
                oids=oids,
                delimiter=delimiter,
                null=null,
                header=header,
                quote=quote,
                escape=escape,
                force_quote=force_quote,
                encoding=encoding,
            )

    async def copy_to_table(
        self,
        table_name: str,
        *,
        source: typing.Any,
        columns: typing.Iterable[str] | None = None,
        schema_name: str | None = None,
        timeout: float | None = None,
        format: str | None = None,
        oids: typing.Any = None,
        freeze: typing.Any = None,
        delimiter: str | None = None,
        null: str | None = None,
        header: typing.Any = None,
        quote: str | None = None,
        escape: str | None = None,
        force_quote: typing.Any = None,
        force_not_null: typing.Any = None,
        force_null: typing.Any = None,
        encoding: str | None = None,
        where: str | None = None,
    ) -> str:
        """Copy data to the specified table.

        Behaves like :meth:`Connection.copy_to_table()`.
        """
        async with self.acquire() as con:
            return await con.copy_to_table(
                table_name,
                source=source,
                columns=columns,
                schema_name=schema_name,
                timeout=timeout,
                format=format,
                oids=oids,
                freeze=freeze,
                delimiter=delimiter,
                null=null,
                header=header,
                quote=quote,
                escape=escape,
                force_quote=force_quote,
                force_not_null=force_not_null,
                force_null=force_null,
                encoding=encoding,
                where=where,
            )

    async def copy_records_to_table(
        self,
        table_name: str,
        *,
        records: typing.Any,
        columns: typing.Iterable[str] | None = None,
        schema_name: str | None = None,
        timeout: float | None = None,
        where: str | None = None,
    ) -> str:
        """Copy a list of records to the specified table using binary COPY.

        Behaves like :meth:`Connection.copy_records_to_table()`.
        """
        async with self.acquire() as con:
            return await con.copy_records_to_table(
                table_name,
                records=records,
                columns=columns,
                schema_name=schema_name,
                timeout=timeout,
                where=where,
            )

    # -- await / async with --

    def __await__(self) -> typing.Generator[typing.Any, None, Pool[RecordT]]:
        return self._async__init__().__await__()

    async def __aenter__(self) -> Pool[RecordT]:
        await self._async__init__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class PoolAcquireContext(typing.Generic[RecordT]):
    """What ``Pool.acquire()`` returns: await it, or use it with ``async with``."""

    __slots__ = ("connection", "done", "pool", "timeout")

    def __init__(self, pool: Pool[RecordT], timeout: float | None) -> None:
        self.pool = pool
        self.timeout = timeout
        self.connection: typing.Any = None
        self.done = False

    async def __aenter__(self) -> Connection[RecordT]:
        if self.connection is not None or self.done:
            raise InterfaceError("a connection is already acquired")
        self.connection = await self.pool._acquire(self.timeout)
        return self.connection

    async def __aexit__(
        self, exc_type: object = None, exc_val: object = None, exc_tb: object = None
    ) -> None:
        self.done = True
        con = self.connection
        self.connection = None
        await self.pool.release(con)

    def __await__(self) -> typing.Generator[typing.Any, None, Connection[RecordT]]:
        self.done = True
        return self.pool._acquire(self.timeout).__await__()


def create_pool(
    dsn: str | None = None,
    *,
    init_size: int | None = None,
    min_size: int = 10,
    max_size: int = 10,
    max_queries: int = 50000,
    max_inactive_connection_lifetime: float = 300.0,
    connect: typing.Callable[..., typing.Awaitable[Connection[typing.Any]]] | None = None,
    setup: _Callback | None = None,
    init: _Callback | None = None,
    reset: _Callback | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    connection_class: type[Connection[typing.Any]] = _Connection,
    record_class: type[RecordT] = _Record,  # type: ignore[assignment]  # RecordT defaults to Record
    **connect_kwargs: typing.Any,
) -> Pool[RecordT]:
    """Create a connection pool.

    Use it with ``async with``::

        async with asyncpg_rs.create_pool(dsn) as pool:
            await pool.fetch("SELECT 1")

    or ``pool = await asyncpg_rs.create_pool(dsn)`` (then ``await pool.close()``).

    :param str dsn: connection arguments as a ``postgres://...`` URI.
    :param int init_size: connections opened at start (default *min_size*).
    :param int min_size: connections kept open when idle; replaced in the background.
    :param int max_size: maximum number of connections.
    :param int max_queries: queries after which a connection is replaced.
    :param float max_inactive_connection_lifetime: seconds after which idle connections above
        *min_size* are closed; ``0`` disables this.
    :param connect: coroutine called instead of :func:`connect` to make a connection.
    :param setup: coroutine run on the proxy before each ``acquire()`` returns.
    :param init: coroutine run once on each new connection.
    :param reset: coroutine run on release instead of ``Connection.reset()``.
    :param connection_class: a subclass of Connection to use.
    :param record_class: a subclass of Record to use for rows.
    :param connect_kwargs: keyword arguments for :func:`connect`.
    :return: a :class:`Pool`, to be awaited or used with ``async with``.
    """
    return Pool(
        dsn,
        connection_class=connection_class,
        record_class=record_class,
        init_size=init_size,
        min_size=min_size,
        max_size=max_size,
        max_queries=max_queries,
        loop=loop,
        connect=connect,
        setup=setup,
        init=init,
        reset=reset,
        max_inactive_connection_lifetime=max_inactive_connection_lifetime,
        **connect_kwargs,
    )
