"""Named query parameters (``:name`` with a mapping), an opt-in beside asyncpg's ``$1``.

``con.named.fetch("SELECT * FROM t WHERE id = :id", {"id": 5})``: the query text is translated to
``$n`` placeholders once (an LRU cache keyed by the text), then runs through the ordinary
``Connection``/``Pool`` method, so the server-side statement cache works as for ``$1`` queries.

The scanner follows PostgreSQL's lexical rules for what can never hold a parameter: string
literals ('' doubling, ``E''`` backslash escapes), quoted identifiers, ``--`` and nested ``/* */``
comments, dollar-quoted bodies (``$$ ... $$``, ``$tag$ ... $tag$``) and ``::type`` casts.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import AsyncIterable, Iterable, Mapping

from . import exceptions

if typing.TYPE_CHECKING:
    from . import cursor as cursor_mod
    from . import prepared_stmt
    from ._native import Record

__all__ = ("ConnectionNamedQueries", "NamedPreparedStatement", "NamedQueries", "translate")

#: Query texts whose translation is kept (most recently used first out of the cache last).
TRANSLATION_CACHE_SIZE = 1024

# Characters after which the scanner has something to decide; everything else is copied.
_SPECIAL = re.compile(r"['\"$:/-]")
# A parameter name, or a dollar-quote tag: PostgreSQL identifier rules (no `$` in names here).
_NAME = re.compile(r"[^\W\d]\w*")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_POSITIONAL = re.compile(r"\$\d")


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c == "_" or c == "$"


def _skip_string(query: str, i: int, backslash_escapes: bool) -> int:
    """Index after the literal whose opening quote is at ``i - 1``."""
    n = len(query)
    while i < n:
        c = query[i]
        if c == "\\" and backslash_escapes:
            i += 2
            continue
        if c == "'":
            if i + 1 < n and query[i + 1] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return n  # unterminated: the server reports it


def _skip_quoted_identifier(query: str, i: int) -> int:
    n = len(query)
    while True:
        j = query.find('"', i)
        if j < 0:
            return n
        if j + 1 < n and query[j + 1] == '"':
            i = j + 2
            continue
        return j + 1


def _skip_block_comment(query: str, i: int) -> int:
    """Index after the ``/* */`` comment starting at ``i``; they nest in PostgreSQL."""
    n = len(query)
    depth = 0
    while i < n:
        if query.startswith("/*", i):
            depth += 1
            i += 2
        elif query.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


@functools.lru_cache(maxsize=TRANSLATION_CACHE_SIZE)
def translate(query: str) -> tuple[str, tuple[str, ...]]:
    """``(sql with $n placeholders, parameter names in $n order)`` for a query with ``:name``s.

    A name used twice gets one number. ``$1``-style placeholders cannot be mixed in.
    """
    pieces: list[str] = []
    numbers: dict[str, int] = {}
    n = len(query)
    start = 0
    i = 0
    while True:
        m = _SPECIAL.search(query, i)
        if m is None:
            break
        i = m.start()
        c = query[i]
        if c == "'":
            escapes = i > 0 and query[i - 1] in "eE" and (i < 2 or not _is_ident_char(query[i - 2]))
            i = _skip_string(query, i + 1, escapes)
        elif c == '"':
            i = _skip_quoted_identifier(query, i + 1)
        elif c == "-":
            if query.startswith("--", i):
                j = query.find("\n", i)
                i = n if j < 0 else j + 1
            else:
                i += 1
        elif c == "/":
            i = _skip_block_comment(query, i) if query.startswith("/*", i) else i + 1
        elif c == "$":
            if i > 0 and _is_ident_char(query[i - 1]):
                i += 1  # part of an identifier such as foo$1
                continue
            tag = _DOLLAR_TAG.match(query, i)
            if tag is not None:
                j = query.find(tag.group(0), tag.end())
                i = n if j < 0 else j + len(tag.group(0))
            elif _POSITIONAL.match(query, i):
                raise exceptions.InterfaceError(
                    f"positional parameter {query[i : i + 2]}... in a query with named parameters",
                    hint="use :name placeholders only, or the plain methods for $1-style queries",
                )
            else:
                i += 1
        else:  # ":"
            if query.startswith("::", i):
                i += 2  # a cast: the type name that follows is not a parameter
                continue
            name = _NAME.match(query, i + 1)
            if name is None:
                i += 1
                continue
            number = numbers.setdefault(name.group(0), len(numbers) + 1)
            pieces.append(query[start:i])
            pieces.append(f"${number}")
            start = i = name.end()
    if not numbers:
        return query, ()
    pieces.append(query[start:])
    return "".join(pieces), tuple(numbers)


def _names_list(names: tuple[str, ...]) -> str:
    return ", ".join(f":{n}" for n in names) if names else "none"


def bind(names: tuple[str, ...], params: Mapping[str, typing.Any]) -> tuple[typing.Any, ...]:
    """The argument tuple for ``$1..$n`` from ``params``; a missing or unused key is an error."""
    if not isinstance(params, Mapping):
        raise exceptions.InterfaceError(
            f"named parameters are passed as a mapping, got {type(params).__name__}",
            hint="e.g. con.named.fetch('SELECT :x::int', {'x': 1})",
        )
    try:
        values = tuple([params[name] for name in names])
    except KeyError:
        missing = [name for name in names if name not in params]
        raise exceptions.InterfaceError(
            f"named parameter :{missing[0]} is missing from the mapping "
            f"(the query uses {_names_list(names)})"
        ) from None
    if len(params) != len(names):
        extra = [key for key in params if key not in names]
        if extra:
            raise exceptions.InterfaceError(
                f"the mapping has a key {extra[0]!r} that the query does not use "
                f"(the query uses {_names_list(names)})"
            )
    return values


def _bind_many(names: tuple[str, ...], params_seq: typing.Any) -> typing.Any:
    """Argument tuples for executemany/fetchmany: a list for a list or tuple (sent at once), a
    (async) generator otherwise, so that streaming is kept."""
    if isinstance(params_seq, (list, tuple)):
        return [bind(names, p) for p in params_seq]
    if isinstance(params_seq, AsyncIterable):

        async def agen() -> typing.AsyncIterator[tuple[typing.Any, ...]]:
            async for p in params_seq:
                yield bind(names, p)

        return agen()
    if isinstance(params_seq, Iterable) and not isinstance(params_seq, (str, bytes, Mapping)):
        return (bind(names, p) for p in params_seq)
    raise TypeError(f"expected an iterable of parameter mappings, got {type(params_seq).__name__}")


_EMPTY: Mapping[str, typing.Any] = {}


class NamedQueries:
    """``:name`` parameters with a mapping, for a Connection or a Pool (``con.named``,
    ``pool.named``). Each method takes the query, then one mapping, then asyncpg's keyword
    arguments unchanged; the result is that of the plain method."""

    __slots__ = ("_target",)

    def __init__(self, target: typing.Any) -> None:
        self._target = target

    async def execute(
        self,
        query: str,
        params: Mapping[str, typing.Any] = _EMPTY,
        /,
        *,
        timeout: float | None = None,
    ) -> str:
        """``execute()`` with named parameters. Without any, several commands are allowed."""
        sql, names = translate(query)
        result: str = await self._target.execute(sql, *bind(names, params), timeout=timeout)
        return result

    async def executemany(
        self,
        command: str,
        params_seq: Iterable[Mapping[str, typing.Any]] | AsyncIterable[Mapping[str, typing.Any]],
        /,
        *,
        timeout: float | None = None,
    ) -> None:
        """``executemany()`` with one mapping per execution (a list, or a lazy iterable)."""
        sql, names = translate(command)
        await self._target.executemany(sql, _bind_many(names, params_seq), timeout=timeout)

    async def fetch(
        self,
        query: str,
        params: Mapping[str, typing.Any] = _EMPTY,
        /,
        *,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> list[typing.Any]:
        """``fetch()`` with named parameters."""
        sql, names = translate(query)
        result: list[typing.Any] = await self._target.fetch(
            sql, *bind(names, params), timeout=timeout, record_class=record_class
        )
        return result

    async def fetchrow(
        self,
        query: str,
        params: Mapping[str, typing.Any] = _EMPTY,
        /,
        *,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> typing.Any:
        """``fetchrow()`` with named parameters."""
        sql, names = translate(query)
        return await self._target.fetchrow(
            sql, *bind(names, params), timeout=timeout, record_class=record_class
        )

    async def fetchval(
        self,
        query: str,
        params: Mapping[str, typing.Any] = _EMPTY,
        /,
        *,
        column: int = 0,
        timeout: float | None = None,
    ) -> typing.Any:
        """``fetchval()`` with named parameters."""
        sql, names = translate(query)
        return await self._target.fetchval(
            sql, *bind(names, params), column=column, timeout=timeout
        )

    async def fetchmany(
        self,
        query: str,
        params_seq: Iterable[Mapping[str, typing.Any]] | AsyncIterable[Mapping[str, typing.Any]],
        /,
        *,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> list[typing.Any]:
        """``fetchmany()`` with one mapping per execution."""
        sql, names = translate(query)
        result: list[typing.Any] = await self._target.fetchmany(
            sql, _bind_many(names, params_seq), timeout=timeout, record_class=record_class
        )
        return result


class ConnectionNamedQueries(NamedQueries):
    """``con.named``: the query methods plus ``prepare()`` and ``cursor()``."""

    __slots__ = ()

    async def prepare(
        self,
        query: str,
        /,
        *,
        name: str | None = None,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> NamedPreparedStatement:
        """``prepare()`` a ``:name`` query; the statement takes a mapping on each run."""
        sql, names = translate(query)
        stmt = await self._target.prepare(
            sql, name=name, timeout=timeout, record_class=record_class
        )
        return NamedPreparedStatement(stmt, names)

    def cursor(
        self,
        query: str,
        params: Mapping[str, typing.Any] = _EMPTY,
        /,
        *,
        prefetch: int | None = None,
        timeout: float | None = None,
        record_class: type[Record] | None = None,
    ) -> cursor_mod.CursorFactory:
        """``cursor()`` with named parameters."""
        sql, names = translate(query)
        factory: cursor_mod.CursorFactory = self._target.cursor(
            sql,
            *bind(names, params),
            prefetch=prefetch,
            timeout=timeout,
            record_class=record_class,
        )
        return factory


class NamedPreparedStatement:
    """A prepared statement whose runs take a mapping of ``:name`` parameters.

    ``statement`` is the underlying :class:`PreparedStatement` (for ``get_parameters()``,
    ``get_attributes()``, ``get_statusmsg()``, ...); ``names`` lists the parameters in ``$n`` order.
    """

    __slots__ = ("names", "statement")

    def __init__(self, statement: prepared_stmt.PreparedStatement, names: tuple[str, ...]) -> None:
        self.statement = statement
        self.names = names

    def get_query(self) -> str:
        """The query as sent to the server (with ``$n`` placeholders)."""
        return self.statement.get_query()

    async def fetch(
        self, params: Mapping[str, typing.Any] = _EMPTY, /, *, timeout: float | None = None
    ) -> list[typing.Any]:
        """Run the statement and return all rows."""
        return await self.statement.fetch(*bind(self.names, params), timeout=timeout)

    async def fetchrow(
        self, params: Mapping[str, typing.Any] = _EMPTY, /, *, timeout: float | None = None
    ) -> typing.Any:
        """Run the statement and return the first row, or None."""
        return await self.statement.fetchrow(*bind(self.names, params), timeout=timeout)

    async def fetchval(
        self,
        params: Mapping[str, typing.Any] = _EMPTY,
        /,
        *,
        column: int = 0,
        timeout: float | None = None,
    ) -> typing.Any:
        """Run the statement and return a value of the first row, or None."""
        return await self.statement.fetchval(
            *bind(self.names, params), column=column, timeout=timeout
        )

    async def executemany(
        self, params_seq: Iterable[Mapping[str, typing.Any]], /, *, timeout: float | None = None
    ) -> None:
        """Run the statement once per mapping, atomically."""
        await self.statement.executemany([bind(self.names, p) for p in params_seq], timeout=timeout)

    async def fetchmany(
        self, params_seq: Iterable[Mapping[str, typing.Any]], /, *, timeout: float | None = None
    ) -> list[typing.Any]:
        """Run the statement once per mapping and return all the rows."""
        return await self.statement.fetchmany(
            [bind(self.names, p) for p in params_seq], timeout=timeout
        )

    def __repr__(self) -> str:
        return f"<NamedPreparedStatement {self.names!r} {self.statement!r}>"
