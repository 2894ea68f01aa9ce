"""Memory use of asyncpg and asyncpg_rs: one large result, and many small queries (leak check).

    python benches/memory.py [--dsn DSN] [--fast] [--diagnose]

Each measurement runs in a fresh Python process per driver, so that one driver's heap does not
hide or inflate the other's:

- ``fetch``: ``con.fetch()`` of 1,000,000 rows (int4, text, float8).  Reports the RSS after
  connecting (base), the peak RSS of the process (``ru_maxrss``), the RSS with the rows alive,
  after dropping them (``del`` + ``gc.collect()``), and after closing the connection.
- ``seq``: 1,000,000 sequential ``con.fetchval("SELECT 1")`` on one connection, bounded in time
  (``--time-limit``).  Every 100,000 queries it samples the RSS, ``sys.getallocatedblocks()``
  (Python's heap) and the number of objects the cycle collector tracks.  A leak shows as growth
  between the first sample (allocator pools warm) and the last one.  A growing RSS with a flat
  block count points at native (Rust/C) memory; a growing block count at Python objects.
  ``--diagnose`` adds, for that run, per-type object counts and a tracemalloc diff between the
  first and the last sample (slower: tracemalloc traces every allocation).

Without --dsn a throwaway cluster is started and removed, as in run.py.  asyncpg_rs is imported
from a copy of python/asyncpg_rs (as in run.py).  Prints two tables and writes
benches/results/<UTC time>-memory.json.  About 3-4 minutes; --fast about 1 minute.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
DRIVERS = ("asyncpg", "asyncpg_rs")
FETCH_SQL = (
    "SELECT i, 'row number ' || i AS t, i * 0.5::float8 AS f FROM generate_series(1, $1::int4) i"
)
MODES = {
    "normal": {"rows": 1_000_000, "queries": 1_000_000, "sample_every": 100_000, "limit": 90.0},
    "fast": {"rows": 1_000_000, "queries": 200_000, "sample_every": 50_000, "limit": 25.0},
}
MB = 1024 * 1024


# -- the child process: one driver, one measurement ------------------------------------------


def rss_bytes() -> int:
    """Resident set size now (from /proc; pages * page size)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def malloc_trim() -> int | None:
    """Ask glibc to return free heap memory to the system; the RSS afterwards (None: no glibc)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return None
    return rss_bytes()


def type_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        counts[name] = counts.get(name, 0) + 1
    return counts


async def child_fetch(driver: Any, dsn: str, rows: int) -> dict[str, Any]:
    con = await driver.connect(dsn)
    await con.fetch(FETCH_SQL, 10)  # statement cache, codecs, buffers: not part of the result
    gc.collect()
    base = rss_bytes()
    start = time.perf_counter()
    result = await con.fetch(FETCH_SQL, rows)
    seconds = time.perf_counter() - start
    if len(result) != rows or tuple(result[-1]) != (rows, f"row number {rows}", rows * 0.5):
        raise AssertionError(f"unexpected result: {len(result)} rows, last {result[-1]!r}")
    with_rows = rss_bytes()
    peak = peak_rss_bytes()
    del result
    gc.collect()
    after_free = rss_bytes()
    await con.close()
    del con
    gc.collect()
    after_close = rss_bytes()
    trimmed = malloc_trim()
    return {
        "rows": rows,
        "seconds": seconds,
        "base_rss": base,
        "peak_rss": peak,
        "rss_with_rows": with_rows,
        "rss_after_free": after_free,
        "rss_after_close": after_close,
        # After malloc_trim(0): what the C allocator held on to (freed, not returned) is gone,
        # so what remains above base is still in use.
        "rss_after_trim": trimmed,
    }


async def child_seq(
    driver: Any, dsn: str, queries: int, every: int, limit: float, diagnose: bool
) -> dict[str, Any]:
    con = await driver.connect(dsn)
    for _ in range(1000):  # warm up the statement cache and the buffers
        await con.fetchval("SELECT 1")
    gc.collect()

    def sample(done: int, elapsed: float) -> dict[str, Any]:
        return {
            "queries": done,
            "seconds": round(elapsed, 3),
            "rss": rss_bytes(),
            "py_blocks": sys.getallocatedblocks(),
            "gc_objects": len(gc.get_objects()),
        }

    samples = [sample(0, 0.0)]
    first_types: dict[str, int] = {}
    snapshot = None
    done = 0
    fetchval = con.fetchval
    cpu0 = time.process_time()
    start = time.perf_counter()
    while done < queries:
        for _ in range(every):
            if await fetchval("SELECT 1") != 1:
                raise AssertionError("SELECT 1 did not return 1")
        done += every
        samples.append(sample(done, time.perf_counter() - start))
        if diagnose and done == every:
            import tracemalloc

            gc.collect()
            first_types = type_counts()
            tracemalloc.start(10)
            snapshot = tracemalloc.take_snapshot()
        if time.perf_counter() - start > limit:
            break
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    await con.close()
    out: dict[str, Any] = {
        "queries": done,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stopped_by_time_limit": done < queries,
        "samples": samples,
    }
    if diagnose and snapshot is not None:
        import tracemalloc

        gc.collect()
        last_types = type_counts()
        grown = {
            t: last_types.get(t, 0) - first_types.get(t, 0)
            for t in set(last_types) | set(first_types)
        }
        out["type_growth"] = dict(
            sorted(((t, n) for t, n in grown.items() if n), key=lambda kv: -abs(kv[1]))[:15]
        )
        diff = tracemalloc.take_snapshot().compare_to(snapshot, "traceback")
        out["tracemalloc_growth"] = [
            {
                "bytes": stat.size_diff,
                "blocks": stat.count_diff,
                "where": [f"{fr.filename}:{fr.lineno}" for fr in stat.traceback[-4:]],
            }
            for stat in diff[:10]
            if stat.size_diff > 0
        ]
        tracemalloc.stop()
    return out


def child_main(args: argparse.Namespace) -> None:
    if args.python_path:
        sys.path.insert(0, args.python_path)
    try:
        driver = importlib.import_module(args.driver)
        if args.child == "fetch":
            result = asyncio.run(child_fetch(driver, args.dsn, args.rows))
        else:
            result = asyncio.run(
                child_seq(
                    driver,
                    args.dsn,
                    args.queries,
                    args.sample_every,
                    args.time_limit,
                    args.diagnose,
                )
            )
        result["ok"] = True
    except BaseException as exc:  # reported in the table
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result))


# -- the parent: runs the children, prints, saves ---------------------------------------------


def run_child(kind: str, driver: str, dsn: str, args: argparse.Namespace, py: str) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--driver",
        driver,
        "--dsn",
        dsn,
        "--rows",
        str(args.rows),
        "--queries",
        str(args.queries),
        "--sample-every",
        str(args.sample_every),
        "--time-limit",
        str(args.time_limit),
        *(["--python-path", py] if py else []),
        *(["--diagnose"] if args.diagnose else []),
    ]
    timeout = 180 + (args.time_limit * (3 if args.diagnose else 1.5) if kind == "seq" else 0)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timeout after {timeout:.0f} s"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {"ok": False, "error": f"crashed: {tail[0][:200]}"}


def mb(n: float) -> str:
    return f"{n / MB:,.1f}"


def seq_growth(r: dict[str, Any]) -> dict[str, float]:
    """RSS and Python-heap growth from the first sample after warm-up to the last one."""
    samples = r["samples"]
    warm = samples[1] if len(samples) > 2 else samples[0]
    last = samples[-1]
    span = max(1, last["queries"] - warm["queries"])
    return {
        "rss_growth": last["rss"] - warm["rss"],
        "rss_growth_per_100k": (last["rss"] - warm["rss"]) * 100_000 / span,
        "rss_growth_from_start": last["rss"] - samples[0]["rss"],
        "py_blocks_growth": last["py_blocks"] - warm["py_blocks"],
        "gc_objects_growth": last["gc_objects"] - warm["gc_objects"],
    }


def table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )
            + " |"
        )

    sep = (
        "|"
        + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), sep, *(line(b) for b in body)])


def render(results: dict[str, dict[str, Any]]) -> str:
    fetch_rows, seq_rows, errors, extra = [], [], [], []
    for driver, r in results.items():
        f = r["fetch"]
        if f.get("ok"):
            fetch_rows.append(
                [
                    driver,
                    f"{f['seconds']:.2f}",
                    mb(f["base_rss"]),
                    mb(f["peak_rss"]),
                    mb(f["peak_rss"] - f["base_rss"]),
                    f"{(f['rss_with_rows'] - f['base_rss']) / f['rows']:.0f}",
                    mb(f["rss_after_free"]),
                    mb(f["rss_after_close"]),
                    mb(f["rss_after_trim"]) if f.get("rss_after_trim") else "-",
                ]
            )
        elif f.get("error") != "not run":
            errors.append(f"- fetch / {driver}: {f.get('error')}")
        s = r["seq"]
        if s.get("ok"):
            g = seq_growth(s)
            s["growth"] = g
            seq_rows.append(
                [
                    driver,
                    f"{s['queries']:,}" + (" (time limit)" if s["stopped_by_time_limit"] else ""),
                    f"{s['queries'] / s['seconds']:,.0f}",
                    f"{s['cpu_seconds'] / s['queries'] * 1e6:.1f}",
                    mb(s["samples"][0]["rss"]),
                    mb(max(x["rss"] for x in s["samples"])),
                    f"{g['rss_growth'] / 1024:+,.0f}",
                    f"{g['py_blocks_growth']:+,}",
                    f"{g['gc_objects_growth']:+,}",
                ]
            )
            if "type_growth" in s:
                extra.append(f"{driver}: objects by type, growth after the first sample:")
                extra += [f"    {n:+,} {t}" for t, n in s["type_growth"].items()] or ["    none"]
                extra.append(f"{driver}: tracemalloc growth after the first sample (top):")
                extra += [
                    f"    {t['bytes']:+,} B in {t['blocks']:+,} blocks at {' < '.join(t['where'][::-1])}"
                    for t in s["tracemalloc_growth"]
                ] or ["    none"]
        elif s.get("error") != "not run":
            errors.append(f"- seq / {driver}: {s.get('error')}")
    out = []
    if fetch_rows:
        out += [
            "fetch of 1,000,000 rows (int4, text, float8); MB of RSS:",
            "",
            table(
                [
                    "driver",
                    "fetch s",
                    "base MB",
                    "peak MB",
                    "peak - base MB",
                    "bytes/row",
                    "after del MB",
                    "after close MB",
                    "after trim MB",
                ],
                fetch_rows,
            ),
            "",
        ]
    if seq_rows:
        out += [
            "sequential fetchval('SELECT 1') on one connection:",
            "",
            table(
                [
                    "driver",
                    "queries",
                    "queries/s",
                    "CPU us/query",
                    "RSS start MB",
                    "RSS max MB",
                    "RSS growth KB",
                    "py blocks growth",
                    "gc objects growth",
                ],
                seq_rows,
            ),
            "",
            "(growth: from the first sample after warm-up to the last sample)",
        ]
    out += errors + extra
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dsn", help="server to use (default: start a throwaway cluster)")
    p.add_argument("--fast", action="store_true", help="fewer sequential queries (~1 minute)")
    p.add_argument("--drivers", default=",".join(DRIVERS), help="default: %(default)s")
    p.add_argument("--rows", type=int, help="rows of the large fetch (default 1,000,000)")
    p.add_argument("--queries", type=int, help="sequential queries (default 1,000,000)")
    p.add_argument("--sample-every", type=int, help="queries between samples (default 100,000)")
    p.add_argument("--time-limit", type=float, help="seconds for the sequential queries (90)")
    p.add_argument("--only", choices=("fetch", "seq"), help="run one of the two measurements")
    p.add_argument("--diagnose", action="store_true", help="type counts and tracemalloc diff")
    p.add_argument("--native", help="asyncpg_rs native module to measure (as in run.py)")
    p.add_argument(
        "-o", "--output", help="results JSON (default benches/results/<time>-memory.json)"
    )
    p.add_argument("--child", choices=("fetch", "seq"), help=argparse.SUPPRESS)
    p.add_argument("--driver", help=argparse.SUPPRESS)
    p.add_argument("--python-path", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    mode = MODES["fast" if args.fast else "normal"]
    args.rows = args.rows or mode["rows"]
    args.queries = args.queries or mode["queries"]
    args.sample_every = args.sample_every or min(mode["sample_every"], args.queries)
    args.time_limit = args.time_limit or mode["limit"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.path.insert(0, str(HERE))
    import run  # the snapshot of asyncpg_rs, the cluster, the metadata: as in run.py

    kinds = [args.only] if args.only else ["fetch", "seq"]
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    created = datetime.datetime.now(datetime.timezone.utc)
    started = time.monotonic()
    load_before = os.getloadavg()
    RESULTS_DIR.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tmp-", dir=RESULTS_DIR))
    cluster = None
    results: dict[str, dict[str, Any]] = {d: {} for d in drivers}
    try:
        py, build_info = run.snapshot_asyncpg_rs(scratch, args.native)
        revision = run.source_revision()
        if build_info.get("build") not in (None, "release"):
            print(f"warning: asyncpg_rs is a {build_info['build']} build", file=sys.stderr)
        dsn = args.dsn
        if not dsn:
            cluster, dsn = run.pgcluster.start_cluster()
            print(f"throwaway cluster: {dsn}", file=sys.stderr)
        version = run.server_version(dsn)
        for kind in kinds:
            for driver in drivers:
                t0 = time.monotonic()
                results[driver][kind] = r = run_child(kind, driver, dsn, args, py)
                status = "ok" if r.get("ok") else f"error: {r.get('error')}"
                print(
                    f"{kind:6} {driver:11} {status} ({time.monotonic() - t0:.0f} s)",
                    file=sys.stderr,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if cluster is not None:
            cluster.stop()
    for r in results.values():  # --only: the other measurement is absent, not failed
        for kind in ("fetch", "seq"):
            r.setdefault(kind, {"ok": False, "error": "not run"})
    elapsed = time.monotonic() - started
    print()
    print(render(results))
    print(
        f"\n{elapsed:.0f} s; load average before/after: "
        f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}"
    )
    data = {
        "schema": 1,
        "kind": "memory",
        "created": created.isoformat(timespec="seconds"),
        "mode": "fast" if args.fast else "normal",
        "settings": {
            "rows": args.rows,
            "queries": args.queries,
            "sample_every": args.sample_every,
            "time_limit_s": args.time_limit,
            "diagnose": args.diagnose,
            "fetch_sql": FETCH_SQL,
        },
        "duration_s": round(elapsed, 1),
        "server": {"version": version, "throwaway_cluster": cluster is not None},
        "machine": run.machine_info(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "asyncpg_rs_revision": revision,
        "asyncpg_rs_build": build_info,
        "results": results,
    }
    output = (
        Path(args.output) if args.output else RESULTS_DIR / f"{created:%Y%m%dT%H%M%SZ}-memory.json"
    )
    output.write_text(json.dumps(data, indent=1) + "\n")
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
