"""Statistics of connections and pools (``con.get_stats()``, ``pool.get_stats()``) and the query
tracer hook: asyncpg-rs extensions, always on and cheap.

A connection's counters are plain integers in the Rust protocol, bumped where the bytes, rows and
failures already pass; ``get_stats()`` reads them in one call. A pool's counters are bumped by the
pool's own acquire path. Both are snapshots: read them again for fresh figures.
"""

from __future__ import annotations

import dataclasses
import typing

__all__ = ("ConnectionStats", "PoolStats", "QueryStarted")


@dataclasses.dataclass(frozen=True)
class ConnectionStats:
    """What a connection has done since it was opened."""

    #: Executions sent to the server (queries, prepared statement runs, cursor fetches, COPY, the
    #: pool's reset); a query rejected before execution (a syntax error) counts in ``errors`` only.
    queries: int
    #: Requests that failed (server errors, values that could not be decoded).
    errors: int
    #: Rows received (queries, prepared statements, cursors).
    rows: int
    #: Bytes written to and read from the socket (protocol messages, TLS excluded).
    bytes_sent: int
    bytes_received: int

    @classmethod
    def _from_protocol(cls, protocol: typing.Any) -> ConnectionStats:
        return cls(*protocol.stats())


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """A pool's size now and what it has done since it was created."""

    #: Connections open now, idle among them, and tasks waiting for one.
    size: int
    idle: int
    waiters: int
    min_size: int
    max_size: int
    #: Connections handed out (``acquire()`` and the shortcuts ``pool.fetch()``, ...).
    acquisitions: int
    #: Acquisitions that had to wait for a free connection, the seconds they waited in total,
    #: and waits that ended without a connection (timeout, cancellation, pool closing).
    waits: int
    wait_time: float
    waits_failed: int
    #: Connections opened, and those among them that replaced one lost, expired or closed.
    connections_opened: int
    reconnects: int
    #: The counters of ConnectionStats summed over the pool's connections, including the ones it
    #: has dropped since it was created.
    queries: int
    errors: int
    rows: int
    bytes_sent: int
    bytes_received: int


class _PoolCounters:
    """The mutable counters behind PoolStats."""

    __slots__ = (
        "acquisitions",
        "connections_opened",
        "reconnects",
        "retired",
        "wait_time",
        "waits",
        "waits_failed",
    )

    def __init__(self) -> None:
        self.acquisitions = 0
        self.waits = 0
        self.wait_time = 0.0
        self.waits_failed = 0
        self.connections_opened = 0
        self.reconnects = 0
        # queries, errors, rows, bytes_sent, bytes_received of dropped connections
        self.retired = [0, 0, 0, 0, 0]

    def retire(self, con: typing.Any) -> None:
        protocol = getattr(con, "_protocol", None)
        stats = getattr(protocol, "stats", None)
        if stats is None:
            return
        for i, v in enumerate(stats()):
            self.retired[i] += v

    def snapshot(self, pool: typing.Any, cons: typing.Iterable[typing.Any]) -> PoolStats:
        totals = list(self.retired)
        for con in cons:
            stats = getattr(getattr(con, "_protocol", None), "stats", None)
            if stats is not None:
                for i, v in enumerate(stats()):
                    totals[i] += v
        return PoolStats(
            size=pool.get_size(),
            idle=pool.get_idle_size(),
            waiters=len(pool._waiters),
            min_size=pool.get_min_size(),
            max_size=pool.get_max_size(),
            acquisitions=self.acquisitions,
            waits=self.waits,
            wait_time=self.wait_time,
            waits_failed=self.waits_failed,
            connections_opened=self.connections_opened,
            reconnects=self.reconnects,
            queries=totals[0],
            errors=totals[1],
            rows=totals[2],
            bytes_sent=totals[3],
            bytes_received=totals[4],
        )


@dataclasses.dataclass(frozen=True)
class QueryStarted:
    """Handed to a query tracer (``Connection.add_query_tracer``) just before a query is sent."""

    query: str
    args: typing.Any
    timeout: float | None
    conn_addr: typing.Any
    conn_params: typing.Any
    #: ``time.monotonic()`` when the query started.
    started: float
