"""Soak: RSS of asyncpg and asyncpg_rs over long runs of the workloads a service repeats for months.

    python benches/soak.py [--dsn DSN] [--scale 0.1] [--rows connect,pool,...] [--time-limit S]

Each row runs in a fresh Python process per driver (as memory.py does):

- ``connect``: 10,000 ``connect()`` / ``fetchval`` / ``close()`` cycles
- ``pool``: 10,000 ``pool.acquire()`` with ``max_queries=1`` (a new connection each time)
- ``cancel``: 10,000 queries cancelled by ``timeout=`` (``pg_sleep`` cut short by a CancelRequest)
- ``queries``: 1,000,000 ``fetchval("SELECT 1")`` on one connection
- ``fetch``: 100,000 ``fetch()`` of 10 rows on one connection

The RSS is sampled ten times per row. Growth is from the first sample after warm-up (10% of the
iterations) to the last one, after ``gc.collect()``; under 2 MB is flat. ``--scale`` multiplies
the counts (``--scale 0.1`` for a quick look); ``--time-limit`` bounds each row (the table says
when a row stopped early). Without ``--dsn`` a throwaway cluster is started and removed.
Prints a table and writes benches/results/<UTC time>-soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
DRIVERS = ("asyncpg", "asyncpg_rs")
MB = 1024 * 1024
FLAT_BYTES = 2 * MB

#: row name -> (iterations, what one iteration is)
ROWS = {
    "connect": (10_000, "connect() + fetchval + close()"),
    "pool": (10_000, "pool acquisitions, max_queries=1"),
    "cancel": (10_000, "queries cancelled by timeout=, then SELECT 1"),
    "queries": (1_000_000, "fetchval('SELECT 1')"),
    "fetch": (100_000, "fetch() of 10 rows"),
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the child: one driver, one row ---------------------------------------------------------


async def make_step(driver: Any, dsn: str, row: str) -> tuple[Callable[[], Awaitable[Any]], Any]:
    """The iteration of ``row`` and a coroutine function that releases what it set up."""
    if row == "connect":

        async def step() -> None:
            con = await driver.connect(dsn)
            await con.fetchval("SELECT 1")
            await con.close()

        async def done() -> None:
            pass

        return step, done
    if row == "pool":
        pool = await driver.create_pool(dsn, min_size=1, max_size=1, max_queries=1)

        async def step() -> None:
            async with pool.acquire() as con:
                await con.fetchval("SELECT 1")

        return step, pool.close
    con = await driver.connect(dsn)
    if row == "cancel":

        async def step() -> None:
            try:
                await con.execute("SELECT pg_sleep(10)", timeout=0.002)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError("pg_sleep(10) was not cancelled")
            # No timeout here: asyncpg 0.32 closes a connection whose next command's timeout
            # runs out while the previous cancellation is still pending.
            await con.fetchval("SELECT 1")

    elif row == "queries":

        async def step() -> None:
            if await con.fetchval("SELECT 1") != 1:
                raise AssertionError("SELECT 1 did not return 1")

    elif row == "fetch":

        async def step() -> None:
            if len(await con.fetch("SELECT i, 'x' || i AS t FROM generate_series(1, 10) i")) != 10:
                raise AssertionError("expected 10 rows")

    else:
        raise ValueError(row)
    return step, con.close


async def child_run(driver: Any, dsn: str, row: str, count: int, limit: float) -> dict[str, Any]:
    step, done = await make_step(driver, dsn, row)
    every = max(1, count // 10)
    samples: list[dict[str, Any]] = []
    start = time.perf_counter()
    n = 0
    try:
        while n < count:
            for _ in range(every):
                await step()
            n += every
            gc.collect()
            samples.append(
                {"n": n, "seconds": round(time.perf_counter() - start, 2), "rss": rss_bytes()}
            )
            if time.perf_counter() - start > limit:
                break
    finally:
        await done()
    return {"iterations": n, "seconds": time.perf_counter() - start, "samples": samples}


def child_main(args: argparse.Namespace) -> None:
    if args.python_path:
        sys.path.insert(0, args.python_path)
    try:
        driver = importlib.import_module(args.driver)
        result = asyncio.run(child_run(driver, args.dsn, args.child, args.count, args.time_limit))
        result["ok"] = True
    except BaseException as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result))


# -- the parent ------------------------------------------------------------------------------


def run_child(
    row: str, driver: str, dsn: str, count: int, args: argparse.Namespace, py: str
) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        row,
        "--driver",
        driver,
        "--dsn",
        dsn,
        "--count",
        str(count),
        "--time-limit",
        str(args.time_limit),
        *(["--python-path", py] if py else []),
    ]
    timeout = args.time_limit * 2 + 120
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timeout after {timeout:.0f} s"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {"ok": False, "error": f"crashed: {tail[0][:200]}"}


def growth(r: dict[str, Any]) -> tuple[int, int, int]:
    """(RSS after warm-up, RSS at the end, growth) in bytes."""
    samples = r["samples"]
    warm = samples[0]
    last = samples[-1]
    return warm["rss"], last["rss"], last["rss"] - warm["rss"]


def render(results: dict[str, dict[str, Any]], counts: dict[str, int]) -> str:
    header = [
        "row",
        "driver",
        "iterations",
        "seconds",
        "RSS after warm-up MB",
        "RSS end MB",
        "growth MB",
        "flat",
    ]
    body: list[list[str]] = []
    errors: list[str] = []
    for row, by_driver in results.items():
        for driver, r in by_driver.items():
            if not r.get("ok"):
                errors.append(f"- {row} / {driver}: {r.get('error')}")
                continue
            warm, last, grown = growth(r)
            done = f"{r['iterations']:,}"
            if r["iterations"] < counts[row]:
                done += f" of {counts[row]:,} (time limit)"
            body.append(
                [
                    f"{row}: {ROWS[row][1]}",
                    driver,
                    done,
                    f"{r['seconds']:.0f}",
                    f"{warm / MB:.1f}",
                    f"{last / MB:.1f}",
                    f"{grown / MB:+.2f}",
                    "yes" if grown < FLAT_BYTES else "NO",
                ]
            )
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(header, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(b, widths)) + " |" for b in body]
    return "\n".join(lines + errors)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dsn", help="server to use (default: start a throwaway cluster)")
    p.add_argument("--drivers", default=",".join(DRIVERS), help="default: %(default)s")
    p.add_argument("--rows", default=",".join(ROWS), help="default: %(default)s")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the iteration counts")
    p.add_argument("--time-limit", type=float, default=300.0, help="seconds per row and driver")
    p.add_argument("--native", help="asyncpg_rs native module to measure (as in run.py)")
    p.add_argument("-o", "--output", help="results JSON (default benches/results/<time>-soak.json)")
    p.add_argument("--child", choices=tuple(ROWS), help=argparse.SUPPRESS)
    p.add_argument("--driver", help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("--python-path", default="", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.path.insert(0, str(HERE))
    import run  # the snapshot of asyncpg_rs and the cluster, as in run.py

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    counts = {row: max(10, int(ROWS[row][0] * args.scale)) for row in rows}
    created = datetime.datetime.now(datetime.timezone.utc)
    started = time.monotonic()
    RESULTS_DIR.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tmp-", dir=RESULTS_DIR))
    cluster = None
    results: dict[str, dict[str, Any]] = {row: {} for row in rows}
    try:
        py, build_info = run.snapshot_asyncpg_rs(scratch, args.native)
        if build_info.get("build") not in (None, "release"):
            print(f"warning: asyncpg_rs is a {build_info['build']} build", file=sys.stderr)
        dsn = args.dsn
        if not dsn:
            cluster, dsn = run.pgcluster.start_cluster()
        for row in rows:
            for driver in drivers:
                t0 = time.monotonic()
                results[row][driver] = r = run_child(row, driver, dsn, counts[row], args, py)
                status = "ok" if r.get("ok") else f"error: {r.get('error')}"
                print(
                    f"{row:8} {driver:11} {status} ({time.monotonic() - t0:.0f} s)", file=sys.stderr
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if cluster is not None:
            cluster.stop()
    print()
    print(render(results, counts))
    elapsed = time.monotonic() - started
    print(f"\n{elapsed:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    data = {
        "schema": 1,
        "kind": "soak",
        "created": created.isoformat(timespec="seconds"),
        "counts": counts,
        "time_limit_s": args.time_limit,
        "duration_s": round(elapsed, 1),
        "machine": run.machine_info(),
        "asyncpg_rs_revision": run.source_revision(),
        "asyncpg_rs_build": build_info,
        "results": results,
    }
    output = (
        Path(args.output) if args.output else RESULTS_DIR / f"{created:%Y%m%dT%H%M%SZ}-soak.json"
    )
    output.write_text(json.dumps(data, indent=1) + "\n")
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
