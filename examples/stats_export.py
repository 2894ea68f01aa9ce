"""Export asyncpg-rs counters: Prometheus text format from a pool, and query tracing to logging.

    python examples/stats_export.py DSN

`prometheus_text(pool)` is what a `/metrics` handler would return; `log_slow_queries(con)` shows the
query tracer hook (start and end of every query, with its duration and row count).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys

import asyncpg_rs

log = logging.getLogger("sql")

# PoolStats fields that only grow (counters); the others are gauges.
_COUNTERS = {
    "acquisitions",
    "waits",
    "wait_time",
    "waits_failed",
    "connections_opened",
    "reconnects",
    "queries",
    "errors",
    "rows",
    "bytes_sent",
    "bytes_received",
}


def prometheus_text(pool: asyncpg_rs.Pool, name: str = "main") -> str:
    """The pool's statistics in Prometheus' text exposition format."""
    lines = []
    for field, value in dataclasses.asdict(pool.get_stats()).items():
        metric = f"asyncpg_pool_{field}" + ("_total" if field in _COUNTERS else "")
        kind = "counter" if field in _COUNTERS else "gauge"
        lines.append(f"# TYPE {metric} {kind}")
        lines.append(f'{metric}{{pool="{name}"}} {value}')
    return "\n".join(lines) + "\n"


def log_slow_queries(con: asyncpg_rs.Connection, threshold: float = 0.1) -> None:
    """Log every query that takes longer than `threshold` seconds, with its row count."""

    def tracer(started):  # called just before the query is sent
        def end(logged):  # called when it is over, with elapsed, exception and rows
            if logged.elapsed >= threshold or logged.exception is not None:
                log.warning(
                    "%.3fs %s rows=%s %s",
                    logged.elapsed,
                    started.query,
                    logged.rows,
                    logged.exception or "",
                )

        return end

    con.add_query_tracer(tracer)


async def main(dsn: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    async with asyncpg_rs.create_pool(dsn, min_size=2, max_size=4) as pool:
        await asyncio.gather(
            *(pool.fetchval("SELECT pg_sleep(0.05), $1::int", i) for i in range(8))
        )
        async with pool.acquire() as con:
            log_slow_queries(con, threshold=0.01)
            await con.fetch("SELECT pg_sleep(0.02), g FROM generate_series(1, 3) AS g")
        print(prometheus_text(pool), end="")
        con = await asyncpg_rs.connect(dsn)
        print(con.get_stats())
        await con.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
