"""COPY support for Connection: SQL rendering, sources and sinks. The wire work is in Rust."""

from __future__ import annotations

import asyncio
import collections.abc
import os
import re
import typing

from . import exceptions, utils
from ._native import Record

if typing.TYPE_CHECKING:
    from .connection import Connection

_CHUNK = 512 * 1024
_RECORDS_PER_CHUNK = 4096

# The COPY options in the order asyncpg renders them.
_OPTION_NAMES = (
    "format",
    "oids",
    "freeze",
    "delimiter",
    "null",
    "header",
    "quote",
    "escape",
    "force_quote",
    "force_not_null",
    "force_null",
    "encoding",
)


def format_options(**options: typing.Any) -> str:
    """Render COPY options as ``(FORMAT 'csv', HEADER True, ...)``, or '' when there are none."""
    rendered = []
    for name in _OPTION_NAMES:
        value = options.get(name)
        if value is None:
            continue
        if name in ("force_quote", "force_not_null", "force_null"):
            if value is True:
                text = "*"
            else:
                text = "(" + ", ".join(utils._quote_ident(c) for c in value) + ")"
        elif name in ("oids", "freeze", "header"):
            text = str(value)
        else:
            text = utils._quote_literal(value)
        rendered.append(f"{name.upper()} {text}")
    return "(" + ", ".join(rendered) + ")" if rendered else ""


def table_spec(
    table_name: str, schema_name: str | None, columns: typing.Iterable[str] | None
) -> str:
    tab = utils._quote_ident(table_name)
    if schema_name:
        tab = utils._quote_ident(schema_name) + "." + tab
    if columns:
        tab += "({})".format(", ".join(utils._quote_ident(c) for c in columns))
    return tab


async def _check_where(con: Connection, where: str | None) -> str:
    if not where:
        return ""
    if con.get_server_version() < (12, 0):
        raise exceptions.UnsupportedServerFeatureError(
            "the `where` parameter requires PostgreSQL 12 or later"
        )
    return f" WHERE {where}"


class _Sink:
    """Where COPY TO STDOUT data goes: a file, a file-like object, or an async callable."""

    def __init__(self, output: typing.Any, loop: asyncio.AbstractEventLoop) -> None:
        self._file = None
        self._close = False
        self._async = None
        self._queue: collections.deque[bytes] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        if isinstance(output, (str, bytes, os.PathLike)):
            self._file = open(output, "wb")  # noqa: SIM115  (closed in finish())
            self._close = True
        elif hasattr(output, "write"):
            self._file = output
        elif callable(output):
            self._async = output
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._pump())
        else:
            raise TypeError(
                "output is expected to be a file-like object, a path-like object or a "
                f"coroutine function, not {type(output).__name__}"
            )

    def __call__(self, chunk: bytes) -> None:
        if self._file is not None:
            self._file.write(chunk)
        else:
            if self._error is not None:
                raise self._error
            self._queue.append(chunk)
            assert self._wakeup is not None
            self._wakeup.set()

    async def _pump(self) -> None:
        assert self._wakeup is not None and self._async is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                # Hand over everything buffered so far in one call (one row per call would
                # make a slow output take a sleep per row); b"" marks the end.
                parts = []
                done = False
                while self._queue:
                    chunk = self._queue.popleft()
                    if not chunk:
                        done = True
                        break
                    parts.append(chunk)
                if parts:
                    try:
                        await self._async(b"".join(parts))
                    except BaseException as e:
                        self._error = e
                        raise
                if done:
                    return

    async def finish(self) -> None:
        if self._close and self._file is not None:
            self._file.close()
        if self._task is not None:
            self._queue.append(b"")
            assert self._wakeup is not None
            self._wakeup.set()
            await self._task

    def abort(self) -> None:
        if self._close and self._file is not None:
            self._file.close()
        if self._task is not None:
            self._task.cancel()


async def copy_out(con: Connection, sql: str, output: typing.Any, timeout: float | None) -> str:
    con._check_open()
    sink = _Sink(output, con._loop)
    started = con._loop.time()
    try:
        status = await con._wait(con._protocol.copy_out(sql, sink), timeout)
    except BaseException:
        sink.abort()
        raise
    # The server is done, but an async output may still be writing the buffered rows: the
    # timeout covers the whole copy, as in asyncpg, so it bounds that wait too.
    limit = timeout if timeout is not None else con._command_timeout
    if limit is None or sink._task is None:
        await sink.finish()
        return status
    try:
        await asyncio.wait_for(sink.finish(), max(float(limit) - (con._loop.time() - started), 0))
    except BaseException:
        sink.abort()
        raise
    return status


async def _source_chunks(source: typing.Any) -> typing.AsyncIterator[bytes]:
    if isinstance(source, (str, os.PathLike)):
        loop = asyncio.get_running_loop()
        f = await loop.run_in_executor(None, open, source, "rb")
        try:
            while True:
                chunk = await loop.run_in_executor(None, f.read, _CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            f.close()
    elif hasattr(source, "read"):
        while True:
            chunk = source.read(_CHUNK)
            if asyncio.iscoroutine(chunk):
                chunk = await chunk
            if not chunk:
                return
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
    elif isinstance(source, collections.abc.AsyncIterable):
        async for chunk in source:
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
    else:
        try:
            view = memoryview(source)
        except TypeError:
            raise TypeError(
                "source is expected to be a file-like object, a path-like object, an "
                f"asynchronous iterable or a bytes-like object, not {type(source).__name__}"
            ) from None
        yield bytes(view)


async def copy_in(
    con: Connection,
    sql: str,
    chunks: typing.AsyncIterator[bytes],
    timeout: float | None,
) -> str:
    """COPY ... FROM STDIN with raw data chunks (text, csv or binary as the SQL says)."""
    protocol = con._protocol

    async def send(chunk: typing.Any, header: bool, trailer: bool) -> None:
        if chunk:
            protocol.copy_data(chunk)
            await protocol.drain()

    return await copy_in_with(con, sql, chunks, send, timeout)


async def copy_in_with(
    con: Connection,
    sql: str,
    batches: typing.AsyncIterator[typing.Any],
    send: typing.Callable[[typing.Any, bool, bool], typing.Awaitable[None]],
    timeout: float | None,
) -> str:
    """COPY ... FROM STDIN: each item of `batches` goes through `send(item, first, last)`."""
    con._check_open()
    if timeout is not None:
        return await asyncio.wait_for(copy_in_with(con, sql, batches, send, None), timeout)
    protocol = con._protocol
    started, done = protocol.copy_in(sql)
    try:
        await started
    except BaseException:
        if not started.done():
            con._cancel_request()
        raise
    try:
        first = True
        pending: typing.Any = None
        async for batch in batches:
            if pending is not None:
                await send(pending, first, False)
                first = False
            pending = batch
        await send(pending or [], first, True)
    except BaseException as e:
        if not protocol.is_closed():
            protocol.copy_fail(f"COPY aborted by the client: {type(e).__name__}")
            try:
                await done
            except exceptions.PostgresError:
                pass
        raise
    protocol.copy_done()
    return await done


async def copy_records(
    con: Connection,
    table_name: str,
    records: typing.Any,
    columns: typing.Iterable[str] | None,
    schema_name: str | None,
    timeout: float | None,
    where: str | None,
) -> str:
    con._check_open()
    tab = table_spec(table_name, schema_name, None)
    cols = list(columns) if columns else None
    select_cols = ", ".join(utils._quote_ident(c) for c in cols) if cols else "*"
    # From the statement cache, as asyncpg: repeated copies skip the round trip.
    state = await con._wait(
        con._protocol.statement_for(f"SELECT {select_cols} FROM {tab} LIMIT 1"), timeout
    )
    if cols is None:
        cols = [name for name, _oid, _tname in state.attributes()]
    where_sql = await _check_where(con, where)
    sql = f"COPY {table_spec(table_name, schema_name, cols)} FROM STDIN (FORMAT binary){where_sql}"
    protocol = con._protocol

    async def send(batch: list[typing.Any], header: bool, trailer: bool) -> None:
        protocol.copy_records(state, batch, header, trailer)
        await protocol.drain()

    return await copy_in_with(con, sql, _record_batches(records), send, timeout)


async def _record_batches(records: typing.Any) -> typing.AsyncIterator[list[typing.Any]]:
    batch: list[typing.Any] = []
    if isinstance(records, collections.abc.AsyncIterable):
        async for rec in records:
            batch.append(rec)
            if len(batch) >= _RECORDS_PER_CHUNK:
                yield batch
                batch = []
    else:
        for rec in records:
            batch.append(rec)
            if len(batch) >= _RECORDS_PER_CHUNK:
                yield batch
                batch = []
    yield batch


_PLACEHOLDER = re.compile(r"\$(\d+)\b")


async def mogrify(con: Connection, query: str, args: tuple[typing.Any, ...]) -> str:
    """Inline `args` into `query` as SQL literals rendered by the server (COPY takes no parameters)."""
    if not args:
        return query
    state = await con._wait(con._protocol.prepare(query, ""), None)
    oids = [oid for oid, _name in state.parameters()]
    type_names = [await con.fetchval("SELECT $1::oid::regtype::text", oid) for oid in oids]
    select = ", ".join(
        f"quote_nullable(${i}::{tname}::text)" for i, tname in enumerate(type_names, 1)
    )
    literals = await con.fetchrow(f"SELECT {select}", *args, record_class=Record)
    assert literals is not None
    return _PLACEHOLDER.sub(lambda m: literals[int(m.group(1)) - 1], query)


__all__ = ("copy_in", "copy_out", "copy_records", "format_options", "mogrify", "table_spec")
