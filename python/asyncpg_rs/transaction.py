"""Transaction: a BEGIN ... COMMIT block, or a SAVEPOINT when nested.

Everything here is plain SQL sent through ``Connection.execute``; the only state kept on the
connection is ``connection._top_xact``, the outermost open ``Transaction`` (or ``None``).
"""

from __future__ import annotations

import enum
import itertools
import typing

from .exceptions import InterfaceError

__all__ = ("Transaction", "TransactionState")


class TransactionState(enum.Enum):
    NEW = 0
    STARTED = 1
    COMMITTED = 2
    ROLLEDBACK = 3
    FAILED = 4


# The set (not a tuple) is what asyncpg prints in its ValueError, so the message matches.
ISOLATION_LEVELS = {"read_committed", "read_uncommitted", "serializable", "repeatable_read"}

# `SHOW transaction_isolation` answers in PostgreSQL's spelling.
_ISOLATION_FROM_SERVER = {
    "read committed": "read_committed",
    "read uncommitted": "read_uncommitted",
    "repeatable read": "repeatable_read",
    "serializable": "serializable",
}

_BEGIN_ISOLATION = {
    "read_committed": " ISOLATION LEVEL READ COMMITTED",
    "read_uncommitted": " ISOLATION LEVEL READ UNCOMMITTED",
    "repeatable_read": " ISOLATION LEVEL REPEATABLE READ",
    "serializable": " ISOLATION LEVEL SERIALIZABLE",
}

# Savepoint names only need to be unique within a session; a process-wide counter is enough.
_savepoint_ids = itertools.count(1)

# What a finished transaction reports when asked to do something again.
_FINISHED = {
    TransactionState.COMMITTED: "cannot {}; the transaction is already committed",
    TransactionState.ROLLEDBACK: "cannot {}; the transaction is already rolled back",
    TransactionState.FAILED: "cannot {}; the transaction is in error state",
}


class Transaction:
    """Represents a transaction or savepoint block.

    Transactions are created by calling
    :meth:`Connection.transaction() <asyncpg_rs.connection.Connection.transaction>`.
    Use it as ``async with con.transaction(): ...`` (commit on normal exit, rollback when an
    exception escapes), or call :meth:`start`, :meth:`commit` and :meth:`rollback` by hand.
    A transaction started inside another one becomes a ``SAVEPOINT``.
    """

    __slots__ = (
        "_con_release_ctr",
        "_connection",
        "_deferrable",
        "_id",
        "_isolation",
        "_managed",
        "_nested",
        "_readonly",
        "_state",
    )

    def __init__(
        self,
        connection: typing.Any,
        isolation: str | None,
        readonly: bool,
        deferrable: bool,
    ) -> None:
        if isolation and isolation not in ISOLATION_LEVELS:
            raise ValueError(
                f"isolation is expected to be either of {ISOLATION_LEVELS}, got {isolation!r}"
            )
        self._connection = connection
        # A pool bumps this counter on release; a stale value means the connection moved on.
        self._con_release_ctr = getattr(connection, "_pool_release_ctr", 0)
        self._isolation = isolation
        self._readonly = readonly
        self._deferrable = deferrable
        self._state = TransactionState.NEW
        self._nested = False
        self._id: str | None = None
        self._managed = False

    # -- guards ----------------------------------------------------------------------------

    def _check_conn_validity(self, opname):
        con = self._connection
        if getattr(con, "_pool_release_ctr", 0) != self._con_release_ctr:
            raise InterfaceError(
                f"cannot call Transaction.{opname}(): "
                "the underlying connection has been released back to the pool"
            )
        if con.is_closed():
            raise InterfaceError(
                f"cannot call Transaction.{opname}(): the underlying connection is closed"
            )

    def _check_not_finished(self, opname):
        message = _FINISHED.get(self._state)
        if message is not None:
            raise InterfaceError(message.format(opname))

    def _check_started(self, opname):
        if self._state is TransactionState.NEW:
            raise InterfaceError(f"cannot {opname}; the transaction is not yet started")
        self._check_not_finished(opname)

    # -- async with ------------------------------------------------------------------------

    async def __aenter__(self) -> None:
        if self._managed:
            raise InterfaceError("cannot enter context: already in an `async with` block")
        self._managed = True
        await self.start()

    async def __aexit__(self, extype: object, ex: object, tb: object) -> None:
        try:
            self._check_conn_validity("__aexit__")
        except InterfaceError:
            if extype is GeneratorExit:
                # An abandoned async generator is being closed after its pool connection was
                # already released; the release rolled the transaction back for us.
                return
            raise
        try:
            if extype is None:
                await self._finish("commit")
            else:
                await self._finish("rollback")
        finally:
            self._managed = False

    # -- public API ------------------------------------------------------------------------

    # The public methods check the connection when called (not when awaited), as asyncpg's
    # guarded methods do: a transaction of a connection released to a pool refuses at once.

    def start(self) -> typing.Coroutine[typing.Any, typing.Any, None]:
        """Enter the transaction or savepoint block."""
        self._check_conn_validity("start")
        return self._start()

    async def _start(self) -> None:
        self._check_conn_validity("start")
        self._check_not_finished("start")
        if self._state is TransactionState.STARTED:
            raise InterfaceError("cannot start; the transaction is already started")

        con = self._connection
        top = con._top_xact
        if top is None:
            if con.is_in_transaction():
                raise InterfaceError(
                    "cannot use Connection.transaction() in a manually started transaction"
                )
            con._top_xact = self
        else:
            if self._isolation:
                outer = top._isolation
                if outer is None:
                    shown = await con.fetchval("SHOW transaction_isolation;")
                    outer = _ISOLATION_FROM_SERVER[shown]
                if self._isolation != outer:
                    raise InterfaceError(
                        "nested transaction has a different isolation level: "
                        f"current {self._isolation!r} != outer {outer!r}"
                    )
            self._nested = True

        if self._nested:
            self._id = f"__asyncpg_savepoint_{next(_savepoint_ids):x}__"
            query = f"SAVEPOINT {self._id};"
        else:
            query = "BEGIN" + _BEGIN_ISOLATION.get(self._isolation or "", "")
            if self._readonly:
                query += " READ ONLY"
            if self._deferrable:
                query += " DEFERRABLE"
            query += ";"

        await self._run(query, TransactionState.STARTED)

    def commit(self) -> typing.Coroutine[typing.Any, typing.Any, None]:
        """Exit the transaction or savepoint block and commit changes."""
        self._check_conn_validity("commit")
        return self._commit()

    async def _commit(self) -> None:
        self._check_conn_validity("commit")
        if self._managed:
            raise InterfaceError("cannot manually commit from within an `async with` block")
        await self._finish("commit")

    def rollback(self) -> typing.Coroutine[typing.Any, typing.Any, None]:
        """Exit the transaction or savepoint block and rollback changes."""
        self._check_conn_validity("rollback")
        return self._rollback()

    async def _rollback(self) -> None:
        self._check_conn_validity("rollback")
        if self._managed:
            raise InterfaceError("cannot manually rollback from within an `async with` block")
        await self._finish("rollback")

    # -- internals -------------------------------------------------------------------------

    async def _finish(self, opname):
        self._check_started(opname)
        con = self._connection
        if con._top_xact is self:
            con._top_xact = None
        if opname == "commit":
            query = f"RELEASE SAVEPOINT {self._id};" if self._nested else "COMMIT;"
            await self._run(query, TransactionState.COMMITTED)
        else:
            query = f"ROLLBACK TO {self._id};" if self._nested else "ROLLBACK;"
            await self._run(query, TransactionState.ROLLEDBACK)

    async def _run(self, query, success_state):
        try:
            await self._connection.execute(query)
        except BaseException:
            # Includes cancellation: the server state is unknown, so the block is unusable.
            self._state = TransactionState.FAILED
            raise
        self._state = success_state

    def __repr__(self) -> str:
        attrs = [f"state:{self._state.name.lower()}"]
        if self._isolation is not None:
            attrs.append(self._isolation)
        if self._readonly:
            attrs.append("readonly")
        if self._deferrable:
            attrs.append("deferrable")
        cls = type(self)
        mod = "asyncpg" if cls.__module__.startswith("asyncpg_rs.") else cls.__module__
        return f"<{mod}.{cls.__name__} {' '.join(attrs)} {id(self):#x}>"
