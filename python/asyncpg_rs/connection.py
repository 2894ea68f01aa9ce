"""connect() and Connection: asyncpg's connection API over the Rust protocol core."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sys
import time
import traceback
import typing
import warnings
import weakref

from . import _copy, _named, _stats, connect_utils, exceptions, prepared_stmt, serverversion
from . import cursor as cursor_mod
from . import transaction as transaction_mod
from ._native import Record
from ._typing import OtherRecordT, RecordT
from .protocol import (
    MODE_ALL,
    MODE_NONE,
    MODE_ROW,
    MODE_STATUS,
    MODE_VAL,
    Protocol,
)
from .utils import _quote_ident

__all__ = ("Connection", "connect")

_LoggedQueryTuple = collections.namedtuple(  # type: ignore[name-match]  # repr says LoggedQuery, as asyncpg
    "LoggedQuery", ["query", "args", "timeout", "elapsed", "exception", "conn_addr", "conn_params"]
)


class LoggedQuery(_LoggedQueryTuple):
    """asyncpg's LoggedQuery (the same seven fields). asyncpg-rs adds ``rows`` outside the tuple
    (unpacking is unchanged): the rows returned or affected when the call's result tells it
    (``fetch`` and ``fetchmany`` lists, ``fetchrow``, a command status such as ``INSERT 0 5``),
    else None."""

    rows: int | None = None


def _row_count(result: typing.Any) -> int | None:
    if isinstance(result, list):
        return len(result)
    if isinstance(result, str):
        tail = result.rpartition(" ")[2]
        return int(tail) if tail.isdigit() else None
    if isinstance(result, (Record, dict, tuple)):
        return 1
    return None


#: Bound on sending a CancelRequest and waiting for the cancelled request, without command_timeout.
_CANCEL_TIMEOUT = 10.0

#: json, jsonb and their array types, given the object codec by ``json_objects=True``.
_JSON_TYPES = ((114, "json"), (3802, "jsonb"), (199, "_json"), (3807, "_jsonb"))
_JSON_OBJECTS_CODEC = "asyncpg_rs.json_objects"

_RESET_QUERY = "SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;"


class ConnectionSettings:
    """Server parameters reported at startup and on change, read as attributes."""

    __slots__ = ("_settings",)

    def __init__(self, settings: dict[str, str]) -> None:
        self._settings = settings

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._settings[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"<ConnectionSettings {self._settings!r}>"


class _StatementCache:
    """``Connection._stmt_cache``: the connection's statement cache (the one in the protocol) as
    asyncpg's ``LRUCache`` is read and tuned. Not a second cache: every call goes to the protocol.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Protocol) -> None:
        self._protocol = protocol

    def __len__(self) -> int:
        return int(self._protocol.statement_cache_len())

    def get_max_size(self) -> int:
        return int(self._protocol.statement_cache_max_size())

    def set_max_size(self, new_size: int) -> None:
        """Change ``statement_cache_size``; 0 turns named statements off for later queries."""
        if new_size < 0:
            raise ValueError("max_size must be non-negative")
        self._protocol.set_statement_cache_max_size(new_size)

    def get_max_lifetime(self) -> float:
        return float(self._protocol.statement_cache_max_lifetime())

    def set_max_lifetime(self, new_lifetime: float) -> None:
        """Change ``max_cached_statement_lifetime`` (seconds; 0: forever)."""
        if new_lifetime < 0:
            raise ValueError("max_lifetime must be non-negative")
        self._protocol.set_statement_cache_max_lifetime(float(new_lifetime))

    def get(self, query: typing.Any, promote: bool = True) -> typing.Any:
        """The ``StatementState`` cached for `query`, or None. asyncpg's own keys
        ``(query, record_class, ignore_custom_codec)`` are accepted: the cache here is by query."""
        if isinstance(query, tuple) and query:
            query = query[0]
        if not isinstance(query, str):
            return None
        return self._protocol.cached_statement(query, promote)

    def __contains__(self, query: object) -> bool:
        return isinstance(query, str) and self._protocol.cached_statement(query, False) is not None

    def iter_statements(self) -> typing.Iterator[typing.Any]:
        """The cached statements' states, least recently used first."""
        return iter(self._protocol.cached_statements())

    def clear(self) -> None:
        """Forget every cached statement (closed on the server with the next request)."""
        self._protocol.clear_statement_cache()


class ServerCapabilities(typing.NamedTuple):
    """What the server supports, as asyncpg detects it (``Connection._server_caps``)."""

    advisory_locks: bool
    notifications: bool
    plpgsql: bool
    sql_reset: bool
    sql_close_all: bool
    sql_copy_from_where: bool
    jit: bool


def _detect_server_capabilities(
    version: serverversion.ServerVersion, settings: dict[str, str]
) -> ServerCapabilities:
    """PostgreSQL, or one of the look-alikes asyncpg knows by their startup parameters."""
    if "padb_revision" in settings:  # Amazon Redshift
        return ServerCapabilities(False, False, False, True, False, False, False)
    if "crdb_version" in settings or "crate_version" in settings:  # CockroachDB, CrateDB
        return ServerCapabilities(False, False, False, False, False, False, False)
    return ServerCapabilities(
        advisory_locks=True,
        notifications=True,
        plpgsql=True,
        sql_reset=True,
        sql_close_all=True,
        sql_copy_from_where=version.major >= 12,
        jit=version >= (11, 0),
    )


class _ConnectionConfig(typing.NamedTuple):
    command_timeout: float | None
    statement_cache_size: int
    max_cached_statement_lifetime: float
    max_cacheable_statement_size: int
    json_objects: bool = False


class _Callback(typing.NamedTuple):
    cb: typing.Callable[..., typing.Any]
    is_async: bool

    @classmethod
    def from_callable(cls, cb: typing.Callable[..., typing.Any]) -> _Callback:
        if asyncio.iscoroutinefunction(cb):
            return cls(cb, True)
        if callable(cb):
            return cls(cb, False)
        raise exceptions.InterfaceError(
            f"expected a callable or an `async def` function,got {cb!r}"
        )


def _weak_method(method: typing.Callable[..., None]) -> typing.Callable[..., None]:
    """A callable that calls ``method`` while its object is alive and does nothing after."""
    ref = weakref.WeakMethod(method)  # type: ignore[arg-type]

    def call(*args: typing.Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*args)

    return call


class ConnectionMeta(type):
    def __instancecheck__(cls, instance: object) -> bool:
        mro = type(instance).__mro__
        return Connection in mro or _ConnectionProxy in mro


class _ConnectionProxy:
    """Base of objects that stand for a Connection (the pool's proxy)."""

    __slots__ = ()


class Connection(typing.Generic[RecordT], metaclass=ConnectionMeta):
    """A connection to PostgreSQL. Create it with :func:`connect`."""

    def __init__(
        self,
        protocol: Protocol,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        addr: typing.Any,
        config: _ConnectionConfig,
        params: connect_utils.ConnectParams,
    ) -> None:
        self._protocol = protocol
        self._transport = transport
        self._loop = loop
        self._addr = addr
        self._config = config
        self._params = params
        self._command_timeout = config.command_timeout
        self._top_xact = None
        self._aborted = False
        self._listeners: dict[str, set[_Callback]] = {}
        self._log_listeners: set[_Callback] = set()
        self._termination_listeners: set[_Callback] = set()
        self._query_loggers: set[_Callback] = set()
        self._query_tracers: list[typing.Callable[[_stats.QueryStarted], typing.Any]] = []
        # True while a query logger or tracer is set: the query methods then go through _logged.
        self._observed = False
        self._cancellations: set[asyncio.Task[None]] = set()
        self._cancel_barrier: asyncio.Future[None] | None = None
        self._stmt_exclusive_section = None
        self._server_version = serverversion.split_server_version_string(
            protocol.get_settings().get("server_version", "0")
        )
        self._server_caps = _detect_server_capabilities(
            self._server_version, protocol.get_settings()
        )
        self._proxy = None
        # As asyncpg: in asyncio debug mode a connection dropped unclosed says where it was made.
        self._source_traceback = _extract_stack() if loop.get_debug() else None
        self._closed_callbacks_called = False
        self._pool_release_ctr = 0
        self._closed_waiter: asyncio.Future[None] = loop.create_future()
        if config.json_objects:
            for oid, name in _JSON_TYPES:
                protocol.set_builtin_type_codec(oid, name, _JSON_OBJECTS_CODEC)
        # The protocol outlives nothing it serves: it calls back through weak references, so a
        # Connection that nobody holds any more is freed (and warns if left open) at once.
        protocol.notification_callback = _weak_method(self._on_notification)
        protocol.notice_callback = _weak_method(self._on_notice)
        protocol.lost_callback = _weak_method(self._on_connection_lost)
        protocol.stale_callback = _weak_method(self._on_stale_statement)

    def __del__(self) -> None:
        if not self.is_closed() and getattr(self, "_protocol", None) is not None:
            try:
                if self._source_traceback:
                    msg = f"unclosed connection {self!r}; created at:\n {self._source_traceback}"
                else:
                    msg = (
                        f"unclosed connection {self!r}; run in asyncio debug mode "
                        "to show the traceback of connection origin"
                    )
                warnings.warn(msg, ResourceWarning, stacklevel=2)
                if not self._loop.is_closed():
                    self.terminate()
            except Exception:
                pass

    # ----- running queries -----

    async def _wait(self, fut: asyncio.Future[typing.Any], timeout: float | None) -> typing.Any:
        if timeout is None:
            timeout = self._command_timeout
        try:
            if timeout is None:
                return await fut
            try:
                timeout = _check_timeout(timeout)
            except ValueError:
                fut.cancel()  # already sent; nobody will await it, so drop its result
                raise
            if timeout <= 0:
                fut.cancel()
                raise asyncio.TimeoutError
            return await asyncio.wait_for(fut, timeout)
        except (asyncio.CancelledError, asyncio.TimeoutError):
            if fut.cancelled() or not fut.done():
                fut.cancel()
                self._cancel_request(fut)
            raise

    async def _barrier(self, timeout: float | None = None) -> float | None:
        """Wait until a cancellation in progress (or a streamed executemany) is over; returns
        what is left of `timeout` (else command_timeout) for the command that waited.

        As asyncpg 0.32, a command's deadline includes a pending cancellation: when it runs out
        while the CancelRequest is still unanswered, the connection is closed.
        """
        barrier = self._cancel_barrier
        if barrier is None:
            return timeout
        if timeout is None:
            timeout = self._command_timeout
        if timeout is None:
            await asyncio.shield(barrier)
            return None
        start = self._loop.time()
        try:
            await asyncio.wait_for(asyncio.shield(barrier), _check_timeout(timeout))
        except asyncio.TimeoutError:
            if self._cancellations:
                self.terminate()
            raise
        return max(timeout - (self._loop.time() - start), 0.0)

    async def execute(self, query: str, *args: typing.Any, timeout: float | None = None) -> str:
        """Execute an SQL command (or commands).

        Without arguments the simple query protocol is used, so several commands separated by
        semicolons are allowed; the status of the last one is returned.
        """
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        if self._observed:
            return await self._logged(query, args, timeout, self._execute, query, args, timeout)
        return await self._execute(query, args, timeout)

    # NOTE: the query fast path (ask the protocol, await its future, cancel the request on
    # CancelledError, else _wait for timeouts) is written out in _execute, fetch, fetchval and
    # fetchrow instead of shared through one helper coroutine: the extra coroutine frame costs
    # ~180 ns per call (paired in-process measurement, Python 3.11, 2026-12-02: 1005 vs 1182 ns
    # over a completed future), ~1.4% of select1's client CPU at 10 tasks. Keep the copies alike.
    async def _execute(
        self, query: str, args: tuple[typing.Any, ...], timeout: float | None
    ) -> str:
        if args:
            fut = self._protocol.query(query, args, MODE_STATUS)
        else:
            fut = self._protocol.simple_query(query)
        if timeout is None and self._command_timeout is None:
            try:
                return await fut
            except asyncio.CancelledError:
                self._cancel_request(fut)
                raise
        return await self._wait(fut, timeout)

    async def executemany(
        self,
        command: str,
        args: typing.Iterable[typing.Sequence[typing.Any]],
        *,
        timeout: float | None = None,
    ) -> None:
        """Execute an SQL command for each sequence of arguments in `args`, atomically."""
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        args_list = _as_list(args)
        if self._observed:
            return await self._logged(
                command,
                args_list,
                timeout,
                self._many,
                command,
                args_list,
                MODE_NONE,
                None,
                timeout,
            )
        return await self._many(command, args_list, MODE_NONE, None, timeout)

    async def _many(self, query, args_list, mode, record_class, timeout):  # type: ignore[no-untyped-def]
        if not isinstance(args_list, (list, tuple)):
            return await self._many_streamed(query, args_list, mode, record_class, timeout)
        if not args_list:
            # Still prepare, so that an invalid query is reported.
            await self._wait(self._protocol.prepare(query, ""), timeout)
            return [] if mode == MODE_ALL else None
        _check_record_class(record_class)
        return await self._wait(
            self._protocol.query_many(query, args_list, mode, record_class), timeout
        )

    async def _many_streamed(self, query, args, mode, record_class, timeout):  # type: ignore[no-untyped-def]
        """executemany/fetchmany over a generator or other lazy iterable: the argument sets are
        sent in batches as they are produced, under one Sync, with write flow control. Other
        calls on this connection wait meanwhile. A failure of the iterable rolls the batch back
        outside a transaction block, and leaves what was sent inside one, as asyncpg does."""
        _check_record_class(record_class)
        protocol = self._protocol
        state = await self._wait(protocol.statement_for(query), timeout)
        barrier = self._loop.create_future()
        self._cancel_barrier = barrier
        try:
            # Nothing else may write between the batches: let the requests in flight (and the
            # steps they still have to send) finish first.
            while protocol.is_busy():
                await protocol.sync()
            in_transaction = self.is_in_transaction()
            fut = protocol.many_start(state, mode, record_class)
            sent = 0
            try:
                # One argument set at a time, as asyncpg pulls them: a server error reported
                # while a group is in flight stops the source early, and a failure of the source
                # drops only the group being filled.
                async for item in _arg_items(args):
                    written = protocol.many_batch(state, [item], sent == 0, sent)
                    if not written:
                        break  # the server already failed this request
                    sent += 1
                    if written == 2:
                        await protocol.drain()
                        await asyncio.sleep(0)  # let a server error arrive
                        if not protocol.many_batch(state, [], False, sent):
                            break
            except BaseException as source_error:
                protocol.many_abort(in_transaction)
                try:
                    await fut
                except exceptions.PostgresError as server_error:
                    # The server refused an argument set already written: as in asyncpg, its
                    # error is the outcome, not the source's that came after.
                    if isinstance(source_error, Exception):
                        raise server_error from None
                except Exception:
                    pass
                raise
            protocol.many_end()
        finally:
            if self._cancel_barrier is barrier:
                self._cancel_barrier = None
            barrier.set_result(None)
        return await self._wait(fut, timeout)

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
        """Run a query and return the results as a list of :class:`Record`."""
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        if record_class is not None:
            _check_record_class(record_class)
        if self._observed:
            return await self._logged(
                query, args, timeout, self._query, query, args, MODE_ALL, 0, record_class, timeout
            )
        fut = self._protocol.query(query, args, MODE_ALL, 0, record_class)
        if timeout is None and self._command_timeout is None:
            try:
                return await fut
            except asyncio.CancelledError:
                self._cancel_request(fut)
                raise
        return await self._wait(fut, timeout)

    async def fetchval(
        self, query: str, *args: typing.Any, column: int = 0, timeout: float | None = None
    ) -> typing.Any:
        """Run a query and return a value in the first row (column `column`), or None."""
        if not isinstance(column, int):
            # A column name (asyncpg indexes the first Record with it): fetch the row.
            row = await self.fetchrow(query, *args, timeout=timeout, record_class=Record)
            return None if row is None else row[column]
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        if self._observed:
            return await self._logged(
                query, args, timeout, self._query, query, args, MODE_VAL, column, Record, timeout
            )
        # Record, whatever row_format says: the value is taken from the row in Rust.
        fut = self._protocol.query(query, args, MODE_VAL, column, Record)
        if timeout is None and self._command_timeout is None:
            try:
                return await fut
            except asyncio.CancelledError:
                self._cancel_request(fut)
                raise
        return await self._wait(fut, timeout)

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
        """Run a query and return the first row, or None when there are no rows."""
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        if record_class is not None:
            _check_record_class(record_class)
        if self._observed:
            return await self._logged(
                query, args, timeout, self._query, query, args, MODE_ROW, 0, record_class, timeout
            )
        fut = self._protocol.query(query, args, MODE_ROW, 0, record_class)
        if timeout is None and self._command_timeout is None:
            try:
                return await fut
            except asyncio.CancelledError:
                self._cancel_request(fut)
                raise
        return await self._wait(fut, timeout)

    async def _query(self, query, args, mode, column, record_class, timeout):  # type: ignore[no-untyped-def]
        return await self._wait(
            self._protocol.query(query, args, mode, column, record_class), timeout
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
        """Run a query for each sequence of arguments in `args` and return all the rows."""
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        args_list = _as_list(args)
        if self._observed:
            return await self._logged(
                query,
                args_list,
                timeout,
                self._many,
                query,
                args_list,
                MODE_ALL,
                record_class,
                timeout,
            )
        return await self._many(query, args_list, MODE_ALL, record_class, timeout)

    async def _logged(self, query, args, timeout, fn, *fn_args):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        ends = self._start_tracers(query, args, timeout, started) if self._query_tracers else ()
        exc: BaseException | None = None
        result = None
        try:
            result = await fn(*fn_args)
            return result
        except BaseException as e:
            exc = e
            raise
        finally:
            record = LoggedQuery(
                query=query,
                args=args,
                timeout=timeout,
                elapsed=time.monotonic() - started,
                exception=exc,
                conn_addr=self._addr,
                conn_params=self._params,
            )
            record.rows = None if exc is not None else _row_count(result)
            for end in ends:
                self._call_hook(end, record)
            for cb in list(self._query_loggers):
                if cb.is_async:
                    self._loop.create_task(cb.cb(record))
                else:
                    self._loop.call_soon(cb.cb, record)

    @typing.overload
    async def prepare(
        self,
        query: str,
        *,
        name: str | None = None,
        timeout: float | None = None,
        record_class: None = None,
    ) -> prepared_stmt.PreparedStatement[RecordT]: ...
    @typing.overload
    async def prepare(
        self,
        query: str,
        *,
        name: str | None = None,
        timeout: float | None = None,
        record_class: type[OtherRecordT],
    ) -> prepared_stmt.PreparedStatement[OtherRecordT]: ...
    async def prepare(
        self,
        query: str,
        *,
        name: str | None = None,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> prepared_stmt.PreparedStatement[typing.Any]:
        """Create a prepared statement for `query`."""
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        if record_class is not None:
            _check_record_class(record_class)
        state = await self._wait(self._protocol.prepare(query, name), timeout)
        return prepared_stmt.PreparedStatement(self, query, state, record_class)

    async def _prepare(
        self,
        query: str,
        *,
        name: str | None = None,
        timeout: float | None = None,
        use_cache: bool = False,
        record_class: type[Record] | None = None,
    ) -> prepared_stmt.PreparedStatement:
        """asyncpg's internal prepare: with ``use_cache``, the statement the connection's cache
        holds for `query` (prepared and cached now if it has none), as ``fetch()`` would use."""
        if not use_cache:
            return await self.prepare(query, name=name, timeout=timeout, record_class=record_class)
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        if record_class is not None:
            _check_record_class(record_class)
        state = await self._wait(self._protocol.statement_for(query), timeout)
        return prepared_stmt.PreparedStatement(self, query, state, record_class)

    @typing.overload
    def cursor(
        self,
        query: str,
        *args: typing.Any,
        prefetch: int | None = None,
        timeout: float | None = None,
        record_class: None = None,
    ) -> cursor_mod.CursorFactory[RecordT]: ...
    @typing.overload
    def cursor(
        self,
        query: str,
        *args: typing.Any,
        prefetch: int | None = None,
        timeout: float | None = None,
        record_class: type[OtherRecordT],
    ) -> cursor_mod.CursorFactory[OtherRecordT]: ...
    def cursor(
        self,
        query: str,
        *args: typing.Any,
        prefetch: int | None = None,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> cursor_mod.CursorFactory[typing.Any]:
        """Return a cursor factory for `query` (iterate it, or await it inside a transaction)."""
        self._check_open()
        if record_class is not None:
            _check_record_class(record_class)
        return cursor_mod.CursorFactory(self, query, None, args, prefetch, timeout, record_class)

    @property
    def named(self) -> _named.ConnectionNamedQueries:
        """The query methods with ``:name`` parameters and a mapping (an asyncpg-rs extension):
        ``await con.named.fetch("SELECT * FROM t WHERE id = :id", {"id": 5})``."""
        return _named.ConnectionNamedQueries(self._proxy if self._proxy is not None else self)

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False, deferrable: bool = False
    ) -> transaction_mod.Transaction:
        """Create a :class:`Transaction` to use with ``async with`` or start/commit/rollback."""
        self._check_open()
        return transaction_mod.Transaction(self, isolation, readonly, deferrable)

    def is_in_transaction(self) -> bool:
        """True while the connection is inside a transaction block."""
        return self._protocol.transaction_status() != "I"

    # ----- cancellation -----

    def _cancel_request(self, fut: asyncio.Future[typing.Any] | None = None) -> None:
        """Ask the server to cancel the statement in progress, from a second connection.

        Given `fut`, only if that request is the one the server is working on: requests are
        pipelined, and a CancelRequest stops whatever runs, which may be another task's query.
        """
        if self.is_closed():
            return
        if fut is not None and not self._protocol.is_current(fut):
            return
        barrier = self._loop.create_future()
        self._cancel_barrier = barrier
        self._protocol._cancel_barrier = barrier  # for Protocol._is_cancelling()
        task = self._loop.create_task(self._send_cancel(barrier))
        self._cancellations.add(task)
        task.add_done_callback(self._cancellations.discard)

    def _cancel_current_command(
        self, waiter: asyncio.Future[None], cancel_waiter: typing.Any = None
    ) -> None:
        """asyncpg's hook: send a CancelRequest for whatever the server runs now; `waiter` is
        resolved once it has been sent and the connection is in step again."""
        self._cancel_request()
        barrier = self._cancel_barrier

        def done(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        if barrier is None:
            done()
        else:
            barrier.add_done_callback(done)

    async def _send_cancel(self, barrier: asyncio.Future[None]) -> None:
        # Bounded like asyncpg 0.32 (by command_timeout, else a few seconds): a server or network
        # that does not answer must not stall the connection; then the connection is terminated.
        budget = self._command_timeout or _CANCEL_TIMEOUT
        try:
            try:
                await asyncio.wait_for(self._cancel_and_resync(), budget)
            except (OSError, asyncio.TimeoutError):
                self.terminate()
            except Exception:
                pass
        finally:
            if self._cancel_barrier is barrier:
                self._cancel_barrier = None
            if not barrier.done():
                barrier.set_result(None)

    async def _cancel_and_resync(self) -> None:
        await connect_utils._cancel(
            loop=self._loop,
            addr=self._addr,
            params=self._params,
            backend_pid=self._protocol.get_backend_pid(),
            backend_secret=self._protocol.get_backend_secret(),
        )
        if not self.is_closed():
            # Later calls wait until the cancelled request is over, so that the cancel cannot
            # hit them.
            await self._protocol.sync()

    # ----- listeners -----

    async def add_listener(self, channel: str, callback: typing.Callable[..., typing.Any]) -> None:
        """Listen on `channel`; `callback(connection, pid, channel, payload)` is called per NOTIFY."""
        self._check_open()
        cbs = self._listeners.get(channel)
        if cbs is None:
            await self.execute(f"LISTEN {_quote_ident(channel)}")
            cbs = self._listeners[channel] = set()
        cbs.add(_Callback.from_callable(callback))

    async def remove_listener(
        self, channel: str, callback: typing.Callable[..., typing.Any]
    ) -> None:
        """Remove a listening callback; UNLISTEN when it was the last one for `channel`."""
        if self.is_closed():
            return
        cbs = self._listeners.get(channel)
        if cbs is None:
            return
        cbs.discard(_Callback.from_callable(callback))
        if not cbs:
            del self._listeners[channel]
            await self.execute(f"UNLISTEN {_quote_ident(channel)}")

    def add_log_listener(self, callback: typing.Callable[..., typing.Any]) -> None:
        """Call `callback(connection, message)` for each NOTICE or WARNING the server sends."""
        if self.is_closed():
            raise exceptions.InterfaceError("connection is closed")
        self._log_listeners.add(_Callback.from_callable(callback))

    def remove_log_listener(self, callback: typing.Callable[..., typing.Any]) -> None:
        self._log_listeners.discard(_Callback.from_callable(callback))

    def add_termination_listener(self, callback: typing.Callable[..., typing.Any]) -> None:
        """Call `callback(connection)` once when the connection is closed."""
        self._termination_listeners.add(_Callback.from_callable(callback))

    def remove_termination_listener(self, callback: typing.Callable[..., typing.Any]) -> None:
        self._termination_listeners.discard(_Callback.from_callable(callback))

    def add_query_logger(self, callback: typing.Callable[..., typing.Any]) -> None:
        """Call `callback(LoggedQuery)` after each query."""
        self._query_loggers.add(_Callback.from_callable(callback))
        self._observed = True

    def remove_query_logger(self, callback: typing.Callable[..., typing.Any]) -> None:
        self._query_loggers.discard(_Callback.from_callable(callback))
        self._observed = bool(self._query_loggers or self._query_tracers)

    def add_query_tracer(self, tracer: typing.Callable[[_stats.QueryStarted], typing.Any]) -> None:
        """Call ``tracer(QueryStarted)`` just before each query is sent (an asyncpg-rs extension).

        If it returns a callable, that is called with the query's :class:`LoggedQuery` (elapsed
        time, exception, ``rows``) when the query ends. Both calls are synchronous, on the loop,
        so a tracing library can open a span at the start and close it at the end; an exception
        from either goes to the loop's exception handler, never to the query.
        """
        if not callable(tracer):
            raise exceptions.InterfaceError(f"expected a callable, got {tracer!r}")
        self._query_tracers.append(tracer)
        self._observed = True

    def remove_query_tracer(
        self, tracer: typing.Callable[[_stats.QueryStarted], typing.Any]
    ) -> None:
        with contextlib.suppress(ValueError):
            self._query_tracers.remove(tracer)
        self._observed = bool(self._query_loggers or self._query_tracers)

    def _start_tracers(
        self, query: str, args: typing.Any, timeout: float | None, started: float
    ) -> list[typing.Callable[[LoggedQuery], typing.Any]]:
        event = _stats.QueryStarted(query, args, timeout, self._addr, self._params, started)
        ends = []
        for tracer in list(self._query_tracers):
            end = self._call_hook(tracer, event)
            if callable(end):
                ends.append(end)
        return ends

    def _call_hook(
        self, hook: typing.Callable[[typing.Any], typing.Any], arg: typing.Any
    ) -> typing.Any:
        try:
            return hook(arg)
        except Exception as exc:
            self._loop.call_exception_handler(
                {"message": f"Exception in query tracer {hook!r}", "exception": exc}
            )
            return None

    def get_stats(self) -> _stats.ConnectionStats:
        """Counters of this connection since it was opened: queries, errors, rows, bytes sent
        and received (an asyncpg-rs extension; always on)."""
        return _stats.ConnectionStats._from_protocol(self._protocol)

    def query_logger(self, callback: typing.Callable[..., typing.Any]) -> _QueryLoggerContext:
        """Context manager that logs the queries run inside it with `callback`."""
        return _QueryLoggerContext(self, callback)

    # The protocol calls _on_notification/_on_notice through loop.call_soon() when the message
    # arrives, so plain callbacks run right here: like asyncpg, they have run before the
    # query that produced the message returns.

    def _on_notification(self, pid: int, channel: str, payload: str) -> None:
        con = self._proxy if self._proxy is not None else self
        for cb in list(self._listeners.get(channel, ())):
            self._run_listener(cb, con, pid, channel, payload)

    def _on_notice(self, message: exceptions.PostgresLogMessage) -> None:
        con = self._proxy if self._proxy is not None else self
        for cb in list(self._log_listeners):
            self._run_listener(cb, con, message)

    def _run_listener(self, cb: _Callback, *args: typing.Any) -> None:
        if cb.is_async:
            self._loop.create_task(cb.cb(*args))
            return
        try:
            cb.cb(*args)
        except Exception as exc:
            self._loop.call_exception_handler(
                {"message": f"Exception in callback {cb.cb!r}", "exception": exc}
            )

    def _on_stale_statement(self, types: bool) -> None:
        # A cached statement was stale: the schema changed, so as asyncpg, a pool drops the
        # statement caches (or, when a type changed, the type caches) of all its connections:
        # they would all hit it.
        proxy = self._proxy
        holder = getattr(proxy, "_holder", None) if proxy is not None else None
        pool = getattr(holder, "_pool", None)
        if pool is None:
            return
        if types:
            pool._drop_type_cache()
        else:
            pool._drop_statement_cache()

    def _on_connection_lost(self) -> None:
        self._drop_cancellations()
        drain = self._protocol._drain_waiter
        if drain is not None and not drain.done():
            drain.set_exception(exceptions.ConnectionDoesNotExistError("connection was closed"))
        if not self._closed_waiter.done():
            self._closed_waiter.set_result(None)
        self._call_termination_listeners()

    def _call_termination_listeners(self) -> None:
        if self._closed_callbacks_called:
            return
        self._closed_callbacks_called = True
        con = self._proxy if self._proxy is not None else self
        for cb in list(self._termination_listeners):
            if cb.is_async:
                self._loop.create_task(cb.cb(con))
            else:
                self._loop.call_soon(cb.cb, con)
        self._termination_listeners.clear()
        self._log_listeners.clear()

    # ----- information -----

    def get_server_pid(self) -> int:
        """The process ID of the server backend of this connection."""
        return self._protocol.get_backend_pid()

    def get_server_version(self) -> serverversion.ServerVersion:
        """The server version as a :class:`ServerVersion` named tuple."""
        return self._server_version

    def get_settings(self) -> ConnectionSettings:
        """Server settings reported by the server (``server_version``, ``TimeZone``, ...)."""
        return ConnectionSettings(self._protocol.get_settings())

    def get_reset_query(self) -> str:
        """The SQL that :meth:`reset` runs."""
        return _RESET_QUERY

    async def reset(self, *, timeout: float | None = None) -> None:
        """Bring the connection back to a clean state (as the pool does on release).

        ``timeout`` bounds the whole reset, waiting for a cancellation in progress included.
        """
        self._check_open()
        if timeout is not None and self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        await self._reset_now(timeout)

    async def _reset_now(self, timeout: float | None) -> None:
        if self._cancel_barrier is not None:
            timeout = await self._barrier(timeout)
        reset_query = self._reset_prologue() + self.get_reset_query()
        if reset_query:
            await self.execute(reset_query, timeout=timeout)

    def _reset_prologue(self) -> str:
        """Clear listeners and end an open transaction: what every reset does before its query."""
        self._listeners.clear()
        self._log_listeners.clear()
        if self._protocol.transaction_status() != "I" or self._top_xact is not None:
            if self._top_xact is None or not getattr(self._top_xact, "_managed", False):
                self._loop.call_exception_handler(
                    {"message": f"Resetting connection with an active transaction {self!r}"}
                )
            self._top_xact = None
            if self._protocol.transaction_status() != "I":
                return "ROLLBACK;\n"
        return ""

    async def _reset(self) -> None:
        """The part of reset() that runs before a pool's own ``reset=`` callback."""
        self._check_open()
        if self._cancel_barrier is not None:
            await self._barrier()
        prologue = self._reset_prologue()
        if prologue:
            await self.execute(prologue)

    def _reset_nowait(self, flush_later: bool = True) -> bool:
        """Pool release: send the reset query without waiting for its answer.

        Requests on a connection run in order, so whoever acquires the connection next has their
        queries run after the reset. A failed reset closes the connection. Returns False when a
        waiting reset is needed (a cancellation in progress, an open transaction). With
        `flush_later` false the caller schedules the write itself (`_flush_soon()`).
        """
        if (
            self._cancel_barrier is not None
            or self._protocol.transaction_status() != "I"
            or self._top_xact is not None
            or self.is_closed()
        ):
            return False
        self._listeners.clear()
        self._log_listeners.clear()
        query = self.get_reset_query()
        if query:
            # NOTE: the reset rides in the same write as the next user's first query when that
            # comes within two loop iterations: one send() instead of two. send() to a local
            # server costs more than the rest of a pool round trip on a 2-core machine
            # (profiled 2026-11-25: half of pool.fetchrow's time with 100 tasks). It has no
            # future: only a failure calls back (terminate), so a reset that succeeds schedules
            # nothing (profiled 2026-12-02: a future, its done-callback and that callback's loop
            # turn were a twentieth of a pool.fetchrow shortcut).
            self._protocol.reset_nowait(query, self.terminate)
            if flush_later:
                self._loop.call_soon(self._loop.call_soon, self._protocol.flush_output)
        return True

    def _flush_soon(self) -> None:
        """Write what waits in the output buffer at the next loop iteration."""
        self._loop.call_soon(self._protocol.flush_output)

    # ----- pool hooks -----

    @property
    def _queries_count(self) -> int:
        return self._protocol.queries_count

    def _set_proxy(self, proxy: typing.Any) -> None:
        self._proxy = proxy

    def _on_release(self, stacklevel: int = 1) -> None:
        self._pool_release_ctr += 1
        for what, count in (
            ("notification", sum(len(cbs) for cbs in self._listeners.values())),
            ("log", len(self._log_listeners)),
        ):
            if count:
                warnings.warn(
                    exceptions.InterfaceWarning(
                        f"{self!r} is being released to the pool but has {count} active "
                        f"{what} listener{'s' if count > 1 else ''}"
                    ),
                    stacklevel=stacklevel + 1,
                )

    @property
    def _stmt_cache(self) -> _StatementCache:
        """asyncpg's private view of the statement cache (size, lifetime, cached states)."""
        return _StatementCache(self._protocol)

    @property
    def _stmts_to_close(self) -> list[typing.Any]:
        """States of statements evicted from the cache and used by nothing, to be closed on the
        server with the next request (asyncpg's private ``_stmts_to_close``)."""
        return list(self._protocol.statements_to_close())

    async def reload_schema_state(self) -> None:
        """Drop cached statements and type information; they are rebuilt on next use."""
        self._protocol.clear_type_cache()

    # ----- closing -----

    def is_closed(self) -> bool:
        """True once the connection is closed."""
        return self._aborted or self._protocol.is_closed()

    async def close(self, *, timeout: float | None = None) -> None:
        """Close the connection gracefully.

        As asyncpg 0.32: one deadline (``timeout``, else ``command_timeout``) covers waiting for
        cancellations in progress, cancelling a statement still running (it fails with
        QueryCanceledError, and the server session ends now rather than when it would have
        finished) and the Terminate handshake. When it runs out, or anything fails, the
        connection is terminated and the error raised.
        """
        if self.is_closed():
            self._call_termination_listeners()
            return
        if timeout is None:
            timeout = self._command_timeout
        try:
            if timeout is None:
                await self._close_gracefully()
            else:
                await asyncio.wait_for(self._close_gracefully(), _check_timeout(timeout))
        except BaseException:
            self.terminate()
            raise
        finally:
            self._call_termination_listeners()

    async def _close_gracefully(self) -> None:
        await self._protocol._drain_cancels()
        await self._drain_cancellations()
        if self.is_closed():
            return
        if self._protocol.is_busy():
            self._cancel_request()
            await self._drain_cancellations()
            if self.is_closed():
                return
        self._protocol.terminate(False)
        await asyncio.shield(self._closed_waiter)

    async def _drain_cancellations(self) -> None:
        """Wait for the CancelRequests in progress (each is bounded on its own)."""
        while self._cancellations:
            await asyncio.wait(list(self._cancellations))

    def terminate(self) -> None:
        """Close the connection at once, without waiting."""
        self._aborted = True
        self._drop_cancellations()
        try:
            self._protocol.abort_transport()
        except Exception:
            pass
        self._call_termination_listeners()

    def _drop_cancellations(self) -> None:
        """The connection is gone: CancelRequests still in progress have nothing left to stop."""
        if self._cancellations and not self._loop.is_closed():
            try:
                current = asyncio.current_task()
            except RuntimeError:
                current = None
            for task in list(self._cancellations):
                if task is not current:
                    task.cancel()

    def _check_open(self) -> None:
        if self.is_closed():
            raise exceptions.InterfaceError("connection is closed")

    # ----- COPY -----

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
        """Copy the contents of a table to `output` (a path, a file-like object or a coroutine function)."""
        opts = _copy.format_options(
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
        sql = f"COPY {_copy.table_spec(table_name, schema_name, columns)} TO STDOUT {opts}"
        return await _copy.copy_out(self, sql.rstrip(), output, timeout)

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
        """Copy the results of a query to `output` (a path, a file-like object or a coroutine function)."""
        if args:
            query = await _copy.mogrify(self, query, args)
        opts = _copy.format_options(
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
        sql = f"COPY ({query}) TO STDOUT {opts}"
        return await _copy.copy_out(self, sql.rstrip(), output, timeout)

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
        """Copy data from `source` (a path, a file-like object, an async iterable or bytes) into a table."""
        opts = _copy.format_options(
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
        )
        where_sql = await _copy._check_where(self, where)
        sql = (
            f"COPY {_copy.table_spec(table_name, schema_name, columns)} FROM STDIN {opts}".rstrip()
        )
        return await _copy.copy_in(self, sql + where_sql, _copy._source_chunks(source), timeout)

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
        """Copy a list (or async iterable) of tuples into a table, in binary COPY format."""
        return await _copy.copy_records(
            self, table_name, records, columns, schema_name, timeout, where
        )

    # ----- type codecs -----

    async def set_type_codec(
        self,
        typename: str,
        *,
        schema: str = "public",
        encoder: typing.Callable[[typing.Any], typing.Any],
        decoder: typing.Callable[[typing.Any], typing.Any],
        format: str = "text",
    ) -> None:
        """Set an encoder/decoder pair for a type on this connection (asyncpg's rules)."""
        from . import _codecs_api

        await _codecs_api.set_type_codec(
            self, typename, schema=schema, encoder=encoder, decoder=decoder, format=format
        )

    async def reset_type_codec(self, typename: str, *, schema: str = "public") -> None:
        """Reset a type's codec to the default one."""
        from . import _codecs_api

        await _codecs_api.reset_type_codec(self, typename, schema=schema)

    async def set_builtin_type_codec(
        self,
        typename: str,
        *,
        schema: str = "public",
        codec_name: str,
        format: str | None = None,
    ) -> None:
        """Use a builtin codec (e.g. ``'int4'``, ``'pg_contrib.hstore'``) for a type."""
        from . import _codecs_api

        await _codecs_api.set_builtin_type_codec(
            self, typename, schema=schema, codec_name=codec_name, format=format
        )

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} object at 0x{id(self):x}>"


class _QueryLoggerContext:
    def __init__(self, con: Connection, callback: typing.Callable[..., typing.Any]) -> None:
        self._con = con
        self._cb = callback

    def __enter__(self) -> None:
        self._con.add_query_logger(self._cb)

    def __exit__(self, *exc: object) -> None:
        self._con.remove_query_logger(self._cb)


def _extract_stack(limit: int = 10) -> str:
    """The caller's stack outside this package, newest last, for the unclosed-connection warning."""
    frame = sys._getframe().f_back
    try:
        stack = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
    finally:
        del frame
    package = os.path.dirname(__file__)
    i = 0
    while i < len(stack) and stack[i].filename.startswith(package):
        i += 1
    frames = list(stack[i : i + limit])
    frames.reverse()
    return "".join(traceback.format_list(frames))


def _check_timeout(timeout: typing.Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(f"invalid timeout value: expected non-negative float (got {timeout!r})")
    return float(timeout)


def _check_record_class(record_class: typing.Any) -> None:
    if record_class is None:
        return
    if not (isinstance(record_class, type) and issubclass(record_class, Record)):
        raise exceptions.InterfaceError(
            f"record_class is expected to be a subclass of asyncpg.Record, got {record_class!r}"
        )
    if record_class is not Record and (
        record_class.__new__ is not Record.__new__ or record_class.__init__ is not Record.__init__
    ):
        raise exceptions.InterfaceError("record_class must not redefine __new__ or __init__")


def _as_list(args: typing.Any) -> typing.Any:
    """Lists and tuples are sent at once; anything else (generators, async iterables) is
    streamed in batches by Connection._many_streamed."""
    if isinstance(args, (list, tuple)):
        return list(args)
    if isinstance(args, (str, bytes)) or not (
        hasattr(args, "__iter__") or hasattr(args, "__aiter__")
    ):
        raise TypeError(f"expected an iterable of argument sequences, got {type(args).__name__}")
    return args


async def _arg_items(args: typing.Any) -> typing.AsyncIterator[typing.Any]:
    if hasattr(args, "__aiter__"):
        async for item in args:
            yield item
    else:
        for item in args:
            yield item


_ROW_FORMATS: dict[str, type[typing.Any] | None] = {"record": None, "dict": dict, "tuple": tuple}


def _row_class(row_format: typing.Any, record_class: type[Record]) -> type[typing.Any]:
    """The class rows are made of: the record class, or dict/tuple for ``row_format``."""
    if not isinstance(row_format, str) or row_format not in _ROW_FORMATS:
        raise exceptions.InterfaceError(
            f"row_format is expected to be 'record', 'dict' or 'tuple', got {row_format!r}"
        )
    plain = _ROW_FORMATS[row_format]
    if plain is None:
        return record_class
    if record_class is not Record:
        raise exceptions.InterfaceError(
            f"row_format={row_format!r} and record_class={record_class!r} both choose the row type"
        )
    return plain


def _check_cache_arg(name: str, value: typing.Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} is expected to be greater or equal to 0, got {value!r}")


async def connect(
    dsn: str | None = None,
    *,
    host: typing.Any = None,
    port: typing.Any = None,
    user: str | None = None,
    password: typing.Any = None,
    passfile: typing.Any = None,
    service: str | None = None,
    servicefile: typing.Any = None,
    database: str | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    timeout: float = 60,
    statement_cache_size: int = 100,
    max_cached_statement_lifetime: float = 300,
    max_cacheable_statement_size: int = 1024 * 15,
    command_timeout: float | None = None,
    ssl: typing.Any = None,
    direct_tls: bool | None = None,
    connection_class: type[Connection[typing.Any]] = Connection,
    record_class: type[RecordT] = Record,  # type: ignore[assignment]  # RecordT defaults to Record
    server_settings: dict[str, str] | None = None,
    target_session_attrs: str | None = None,
    krbsrvname: str | None = None,
    gsslib: str | None = None,
    channel_binding: str | None = None,
    load_balance_hosts: str | None = None,
    json_objects: bool = False,
    row_format: typing.Literal["record", "dict", "tuple"] = "record",
) -> Connection[RecordT]:
    """Open a connection to a PostgreSQL server, with asyncpg's arguments and rules.

    asyncpg-rs extension (off by default): ``json_objects=True`` decodes json/jsonb values (and
    their arrays) into Python objects in Rust, as ``json.loads`` would, and encodes parameters of
    those types from Python objects, as ``json.dumps`` would. ``row_format='dict'`` (or
    ``'tuple'``) makes fetch/fetchrow/fetchmany/cursors return plain dicts (tuples) built in Rust
    instead of Records, unless a call passes its own ``record_class``.
    """
    if not (isinstance(connection_class, type) and issubclass(connection_class, Connection)):
        raise exceptions.InterfaceError(
            "connection_class is expected to be a subclass of asyncpg.Connection, "
            f"got {connection_class!r}"
        )
    if not (isinstance(record_class, type) and issubclass(record_class, Record)):
        raise exceptions.InterfaceError(
            f"record_class is expected to be a subclass of asyncpg.Record, got {record_class!r}"
        )
    _check_record_class(record_class)
    row_class = _row_class(row_format, record_class)
    _check_cache_arg("statement_cache_size", statement_cache_size)
    _check_cache_arg("max_cached_statement_lifetime", max_cached_statement_lifetime)
    _check_cache_arg("max_cacheable_statement_size", max_cacheable_statement_size)
    if command_timeout is not None:
        # As asyncpg: converted with float() first (so "5" is accepted and 0 is shown as 0.0).
        try:
            if isinstance(command_timeout, bool):
                raise ValueError
            command_timeout = float(command_timeout)
            if command_timeout <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(
                "invalid command_timeout value: expected greater than 0 float "
                f"(got {command_timeout!r})"
            ) from None
    if loop is None:
        loop = asyncio.get_running_loop()

    config = _ConnectionConfig(
        command_timeout=command_timeout,
        statement_cache_size=int(statement_cache_size),
        max_cached_statement_lifetime=float(max_cached_statement_lifetime),
        max_cacheable_statement_size=int(max_cacheable_statement_size),
        json_objects=bool(json_objects),
    )
    connecting = connect_utils._connect(
        loop=loop,
        connection_class=connection_class,
        record_class=row_class,
        config=config,
        dsn=dsn,
        host=host,
        port=port,
        user=user,
        password=password,
        passfile=passfile,
        database=database,
        ssl=ssl,
        direct_tls=direct_tls,
        server_settings=server_settings,
        target_session_attrs=target_session_attrs,
        service=service,
        servicefile=servicefile,
        krbsrvname=krbsrvname,
        gsslib=gsslib,
        connect_timeout=timeout,
        channel_binding=channel_binding,
        load_balance_hosts=load_balance_hosts,
    )
    if timeout is None:
        return typing.cast("Connection[RecordT]", await connecting)
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return typing.cast("Connection[RecordT]", await connecting)
    return typing.cast("Connection[RecordT]", await asyncio.wait_for(connecting, timeout))


def __getattr__(name: str) -> typing.Any:
    # asyncpg's ``connection._uid``: how many named statements connections have created.
    if name == "_uid":
        return Protocol.statement_uid()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
