"""Measure two bridge designs between Rust and asyncio, with asyncpg as the reference.

Design A is ``bridge_proto`` (benches/bridge_proto/): tokio-postgres on a tokio runtime, each
coroutine a Rust future handed to ``pyo3_async_runtimes::tokio::future_into_py``.  Design D is
``asyncpg_rs`` itself: an asyncio Protocol written in Rust, fed by the event loop, no thread hop.
See docs/bridge.md for the designs and the recorded figures.

Workloads, one connection each:

* ``select1``     sequential ``fetchval('SELECT 1')`` round trips;
* ``fetch1000``   sequential fetches of 1,000 rows of (int4, text, float8);
* ``select1_x10`` 10 tasks each running ``fetchval('SELECT 1')`` in a loop on one shared
  connection.  asyncpg refuses concurrent operations on one connection, so its reference runs
  the same 10 tasks serialized by an ``asyncio.Lock``; ``asyncpg-pool10`` (10 connections) is
  printed too, for scale, and is not a ratio base.

Every repetition runs every (workload, driver) pair once, in interleaved order, on a fresh
connection after a warm-up, so that background load drifts over all drivers alike.  Reported:
median ops/s over the repetitions, min-max, the ratio of medians to asyncpg, the median of
the per-repetition ratios to asyncpg ("paired": less sensitive to load that drifts between
repetitions), and the client process's CPU time per operation (all its threads).

Build bridge_proto first (see docs/bridge.md), then for example::

    PYTHONPATH=/tmp/bridge-proto-site:python python3 benches/bridge_compare.py \
        --dsn postgresql://postgres@127.0.0.1:54399/postgres --reps 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any, Awaitable, Callable

FETCH_SQL = "SELECT i, 'row ' || i, i * 1.5::float8 FROM generate_series(1, 1000) AS i"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:54399/postgres"
TASKS = 10

Op = Callable[[], Awaitable[Any]]


class Driver:
    """How one design connects and runs the two queries."""

    name = ""

    async def connect(self, dsn: str) -> Any:
        raise NotImplementedError

    def select1(self, con: Any) -> Op:
        raise NotImplementedError

    def fetch(self, con: Any) -> Op:
        raise NotImplementedError

    def select1_shared(self, con: Any) -> Op:
        """The op 10 tasks run at once on one connection."""
        return self.select1(con)

    async def close(self, con: Any) -> None:
        await con.close()


class DesignA(Driver):
    name = "A bridge_proto"

    def __init__(self, workers: int) -> None:
        import bridge_proto

        if workers:
            bridge_proto.init_runtime(workers)
        self.mod = bridge_proto

    async def connect(self, dsn: str) -> Any:
        return await self.mod.connect(dsn)

    def select1(self, con: Any) -> Op:
        return con.fetchval_select1

    def fetch(self, con: Any) -> Op:
        return lambda: con.fetch_rows(FETCH_SQL)

    async def close(self, con: Any) -> None:
        pass  # dropping the object closes the client; its tokio task then ends


class DesignD(Driver):
    name = "D asyncpg_rs"

    def __init__(self) -> None:
        import asyncpg_rs

        self.mod = asyncpg_rs

    async def connect(self, dsn: str) -> Any:
        return await self.mod.connect(dsn)

    def select1(self, con: Any) -> Op:
        return lambda: con.fetchval("SELECT 1")

    def fetch(self, con: Any) -> Op:
        return lambda: con.fetch(FETCH_SQL)


class Asyncpg(Driver):
    name = "asyncpg"

    def __init__(self) -> None:
        import asyncpg

        self.mod = asyncpg

    async def connect(self, dsn: str) -> Any:
        return await self.mod.connect(dsn)

    def select1(self, con: Any) -> Op:
        return lambda: con.fetchval("SELECT 1")

    def fetch(self, con: Any) -> Op:
        return lambda: con.fetch(FETCH_SQL)

    def select1_shared(self, con: Any) -> Op:
        lock = asyncio.Lock()

        async def op() -> Any:
            async with lock:
                return await con.fetchval("SELECT 1")

        return op


class AsyncpgPool(Asyncpg):
    """Only for the concurrent workload: what asyncpg users do instead of sharing."""

    name = "asyncpg-pool10"

    async def connect(self, dsn: str) -> Any:
        return await self.mod.create_pool(dsn, min_size=TASKS, max_size=TASKS)

    def select1_shared(self, con: Any) -> Op:
        return lambda: con.fetchval("SELECT 1")


async def _run(op: Op, tasks: int, per_task: int) -> tuple[float, float]:
    """Await ``op`` ``per_task`` times in each of ``tasks`` tasks.

    Returns the wall-clock seconds and the CPU seconds of the whole process (every thread: the
    event loop's and, for design A, tokio's workers and blocking pool).
    """

    async def worker() -> None:
        for _ in range(per_task):
            await op()

    cpu = time.process_time()
    start = time.perf_counter()
    if tasks == 1:
        await worker()
    else:
        await asyncio.gather(*(worker() for _ in range(tasks)))
    return time.perf_counter() - start, time.process_time() - cpu


WORKLOADS: dict[str, tuple[str, int]] = {
    # name: (driver method making the op, tasks)
    "select1": ("select1", 1),
    "fetch1000": ("fetch", 1),
    "select1_x10": ("select1_shared", TASKS),
}


async def measure(driver: Driver, dsn: str, workload: str, ops: int) -> tuple[float, float]:
    """One timed run on a fresh connection after a warm-up; returns (ops/s, client CPU µs/op)."""
    method, tasks = WORKLOADS[workload]
    con = await driver.connect(dsn)
    try:
        op = getattr(driver, method)(con)
        await _run(op, tasks, max(1, ops // 10 // tasks))  # warm-up: statement cache, buffers
        per_task = max(1, ops // tasks)
        seconds, cpu = await _run(op, tasks, per_task)
        n = per_task * tasks
        return n / seconds, cpu / n * 1e6
    finally:
        await driver.close(con)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default=os.environ.get("BENCH_DSN", DEFAULT_DSN))
    ap.add_argument("--reps", type=int, default=7, help="repetitions of every pair (default 7)")
    ap.add_argument("--select1-ops", type=int, default=20000)
    ap.add_argument("--fetch-ops", type=int, default=1000)
    ap.add_argument("--x10-ops", type=int, default=20000)
    ap.add_argument(
        "--a-workers",
        type=int,
        default=0,
        help="tokio worker threads for design A (default: pyo3-async-runtimes' one per core)",
    )
    ap.add_argument("--only", nargs="*", help="workloads to run (default all)")
    ap.add_argument("--json", help="also write the raw figures to this file")
    args = ap.parse_args()

    drivers: list[Driver] = [Asyncpg(), DesignA(args.a_workers), DesignD()]
    pool = AsyncpgPool()
    ops = {"select1": args.select1_ops, "fetch1000": args.fetch_ops, "select1_x10": args.x10_ops}
    workloads = args.only or list(WORKLOADS)

    rates: dict[str, dict[str, list[float]]] = {w: {} for w in workloads}
    cpus: dict[str, dict[str, list[float]]] = {w: {} for w in workloads}
    load_before = _loadavg()
    for rep in range(args.reps):
        for w in workloads:
            # Rotate the order every repetition so that no driver always runs first.
            ds = drivers[rep % len(drivers) :] + drivers[: rep % len(drivers)]
            if w == "select1_x10":
                ds = [*ds, pool]
            for d in ds:
                rate, cpu = asyncio.run(measure(d, args.dsn, w, ops[w]))
                rates[w].setdefault(d.name, []).append(rate)
                cpus[w].setdefault(d.name, []).append(cpu)
        print(f"rep {rep + 1}/{args.reps} done (load {_loadavg()})", flush=True)
    load_after = _loadavg()

    print(f"\nload average before: {load_before}; after: {load_after}; reps: {args.reps}")
    if args.a_workers:
        print(f"design A tokio workers: {args.a_workers}")
    print(
        f"{'workload':<12} {'driver':<15} {'median ops/s':>12} {'min':>9} {'max':>9}"
        f" {'spread':>7} {'x asyncpg':>9} {'paired':>7} {'cpu us/op':>9}"
    )
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for w in workloads:
        base = statistics.median(rates[w]["asyncpg"])
        for name, rs in rates[w].items():
            med = statistics.median(rs)
            cpu = statistics.median(cpus[w][name])
            spread = (max(rs) - min(rs)) / med
            # Ratio within each repetition (drivers ran seconds apart), then the median.
            paired = statistics.median(r / b for r, b in zip(rs, rates[w]["asyncpg"]))
            summary.setdefault(w, {})[name] = {
                "ops_per_s": rs,
                "cpu_us_per_op": cpus[w][name],
                "median": med,
                "ratio": med / base,
                "paired_ratio": paired,
                "cpu_us_per_op_median": cpu,
            }
            print(
                f"{w:<12} {name:<15} {med:>12,.0f} {min(rs):>9,.0f} {max(rs):>9,.0f}"
                f" {spread:>6.0%} {med / base:>8.2f}x {paired:>6.2f}x {cpu:>9.1f}"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"load": [load_before, load_after], "args": vars(args), "results": summary},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
