"""The server's own ceiling: pgbench's select-only TPS next to the drivers' select1 figures.

    python benches/ceiling.py [--dsn DSN] [--fast] [--results benches/results/X-normal.json]

pgbench (PostgreSQL's C benchmark client, from the server's bin directory) runs with prepared
statements (``-M prepared``) against the same kind of throwaway cluster as run.py, at 1 and 10
clients, for ``--seconds`` (10; --fast: 5) each, two scripts:

- ``-S``: the built-in select-only script (``SELECT abalance FROM pgbench_accounts WHERE aid =
  :aid`` on a ``pgbench -i -s 1`` database);
- ``SELECT 1``: a one-line script, the query of run.py's ``select1`` workload.

pgbench's transactions per second are the most this machine's server answers through a lean C
client; its CPU per transaction (the pgbench process's user + system time) is that client's
share.  The drivers' ``select1`` ops/s come from a run.py results file (default: the newest).
If that file has client CPU per operation (``cpu_us_per_op``), a second table shows, for every
workload, how much of each operation's wall time the client process spent on CPU: where it is a
small part, the workload is bound by the server (and the round trips), and a wall-clock ratio
near 1.0 says little about the drivers.

With --dsn the server's database gets pgbench's tables (``pgbench -i`` drops and recreates
pgbench_*).  Writes benches/results/<UTC time>-ceiling.json.  About 1 minute; --fast 30 s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
CLIENTS = (1, 10)


def find_pgbench(bindir: Path | None) -> Path:
    import pgcluster

    for d in [bindir, pgcluster.find_bindir()]:
        if d is not None and (Path(d) / "pgbench").exists():
            return Path(d) / "pgbench"
    raise SystemExit("pgbench not found (set PG_BINDIR to PostgreSQL's bin directory)")


def pgbench(exe: Path, dsn: str, args: list[str], timeout: float) -> tuple[str, float]:
    """Run pgbench; return its stdout and the CPU seconds (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [str(exe), *args, dsn], capture_output=True, text=True, timeout=timeout, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"pgbench {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, cpu


def parse_pgbench(out: str) -> dict[str, float]:
    def number(pattern: str) -> float:
        m = re.search(pattern, out)
        if not m:
            raise RuntimeError(f"unexpected pgbench output (no {pattern!r}): {out[-400:]}")
        return float(m.group(1))

    return {
        "tps": number(r"tps = ([0-9.]+) \(without initial connection time\)"),
        "latency_ms": number(r"latency average = ([0-9.]+) ms"),
        "transactions": number(r"number of transactions actually processed: (\d+)"),
    }


def run_pgbench(exe: Path, dsn: str, seconds: int, scratch: Path) -> list[dict[str, Any]]:
    script = scratch / "select1.sql"
    script.write_text("SELECT 1;\n")
    # Warm-up, not reported: right after `pgbench -i` the first seconds can run far slower.
    pgbench(exe, dsn, ["-S", "-M", "prepared", "-n", "-c", "2", "-T", "2"], timeout=60)
    runs = []
    for name, script_args in (("-S", ["-S"]), ("SELECT 1", ["-f", str(script)])):
        for clients in CLIENTS:
            args = [
                *script_args,
                "-M",
                "prepared",
                "-n",  # no vacuum before the run (nothing to vacuum: select-only)
                "-c",
                str(clients),
                "-j",
                str(min(clients, os.cpu_count() or 1)),
                "-T",
                str(seconds),
            ]
            out, cpu = pgbench(exe, dsn, args, timeout=seconds + 60)
            r = {"script": name, "clients": clients, "args": args, **parse_pgbench(out)}
            r["cpu_us_per_tx"] = cpu / r["transactions"] * 1e6 if r["transactions"] else None
            runs.append(r)
            print(f"pgbench {name:8} -c {clients:<2} {r['tps']:>10,.0f} tps", file=sys.stderr)
    return runs


def driver_figures(results_file: Path) -> dict[str, Any]:
    data = json.loads(results_file.read_text())
    return {
        "file": str(results_file),
        "created": data.get("created"),
        "mode": data.get("mode"),
        "rows": {row["key"]: row for row in data["results"]},
        "order": [row["key"] for row in data["results"]],
    }


def ops(row: dict[str, Any] | None, driver: str) -> float | None:
    entry = (row or {}).get("drivers", {}).get(driver) or {}
    return entry.get("ops_per_s")


def cpu_per_op(row: dict[str, Any] | None, driver: str) -> float | None:
    entry = (row or {}).get("drivers", {}).get(driver) or {}
    return entry.get("cpu_us_per_op")


def fmt(n: float | None, spec: str = ",.0f") -> str:
    return "-" if n is None else format(n, spec)


def table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )
            + " |"
        )

    sep = "|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths))
    return "\n".join([line(header), sep + "|", *(line(b) for b in body)])


def render(runs: list[dict[str, Any]], drivers: dict[str, Any] | None) -> str:
    by = {(r["script"], r["clients"]): r for r in runs}
    rows = drivers["rows"] if drivers else {}
    body = []
    for clients in CLIENTS:
        key = "select1" if clients == 1 else f"select1_c{clients}"
        s, one = by[("-S", clients)], by[("SELECT 1", clients)]
        a, rs = ops(rows.get(key), "asyncpg"), ops(rows.get(key), "asyncpg_rs")
        body.append(
            [
                str(clients),
                fmt(s["tps"]),
                fmt(one["tps"]),
                fmt(one["cpu_us_per_tx"], ".1f"),
                fmt(a),
                fmt(rs),
                fmt(rs / one["tps"] if rs else None, ".2f"),
                fmt(cpu_per_op(rows.get(key), "asyncpg"), ".1f"),
                fmt(cpu_per_op(rows.get(key), "asyncpg_rs"), ".1f"),
            ]
        )
    out = [
        "pgbench -M prepared against the drivers' select1 (tasks = pgbench clients):",
        "",
        table(
            [
                "clients",
                "pgbench -S tps",
                "pgbench SELECT 1 tps",
                "pgbench CPU us/tx",
                "asyncpg select1 ops/s",
                "asyncpg_rs select1 ops/s",
                "asyncpg_rs / pgbench",
                "asyncpg CPU us/op",
                "asyncpg_rs CPU us/op",
            ],
            body,
        ),
    ]
    if drivers:
        out += ["", f"(drivers: {drivers['file']}, {drivers['mode']} mode)"]
    cpu_body = []
    for key in drivers["order"] if drivers else []:
        row = rows[key]
        cells = [row["workload"], str(row["concurrency"])]
        known = False
        for driver in ("asyncpg", "asyncpg_rs"):
            o, c = ops(row, driver), cpu_per_op(row, driver)
            wall = 1e6 / o if o else None
            known = known or c is not None
            cells += [
                fmt(wall, ",.1f"),
                fmt(c, ",.1f"),
                fmt(c / wall if c and wall else None, ".0%"),
            ]
        if known:
            cpu_body.append(cells)
    if cpu_body:
        out += [
            "",
            "Client CPU in each operation's wall time (wall = 1 / ops/s; CPU = the client",
            "process's CPU time over the timed batches / operations); a low share = server-bound:",
            "",
            table(
                [
                    "workload",
                    "tasks",
                    "asyncpg wall us",
                    "asyncpg CPU us",
                    "share",
                    "asyncpg_rs wall us",
                    "asyncpg_rs CPU us",
                    "share",
                ],
                cpu_body,
            ),
        ]
    return "\n".join(out)


# Connections a small-query case uses: pgbench runs with that many clients to compare with it.
_PAIRED_CONNECTIONS = {
    "select1": 1,
    "prepared_fetchrow": 1,
    "select1_c10": 10,
    "pool_fetchrow_10": 10,
    "pool_fetchrow_100": 10,
}


def render_paired(runs: list[dict[str, Any]], paired: list[dict[str, Any]]) -> str:
    """Small-query cases from benches/small_queries.py outputs as a share of pgbench's `SELECT 1` tps
    at the same number of connections, per event loop."""
    by = {(r["script"], r["clients"]): r for r in runs}
    drivers: list[str] = []
    for p in paired:
        for res in p["results"]:
            drivers += [d for d in res["ops"] if d not in drivers]
    body = []
    for p in paired:
        for res in p["results"]:
            clients = _PAIRED_CONNECTIONS.get(res["case"])
            one = by.get(("SELECT 1", clients))
            if one is None:
                continue
            cells = [res["case"], p["loop"], str(clients), fmt(one["tps"])]
            for d in drivers:
                o = res["ops"].get(d)
                cells += [fmt(o), fmt(o / one["tps"] if o else None, ".0%")]
            body.append(cells)
    header = ["case", "loop", "connections", "pgbench SELECT 1 tps"]
    for d in drivers:
        header += [f"{d} ops/s", "share"]
    return "\n".join(
        [
            "Small queries as a share of pgbench's C client at the same number of connections",
            "(drivers: paired in-process rounds, benches/small_queries.py):",
            "",
            table(header, body),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dsn", help="server to use (default: start a throwaway cluster)")
    p.add_argument("--fast", action="store_true", help="5 s per pgbench run instead of 10")
    p.add_argument("--seconds", type=int, help="seconds per pgbench run (default 10)")
    p.add_argument("--results", help="run.py results to compare with (default: the newest)")
    p.add_argument(
        "--paired",
        help="comma-separated benches/small_queries.py JSON outputs (e.g. one per event loop): adds the\n"
        "small-query cases as a share of pgbench at the same number of connections",
    )
    p.add_argument("-o", "--output", help="JSON (default benches/results/<time>-ceiling.json)")
    args = p.parse_args(argv)
    args.seconds = args.seconds or (5 if args.fast else 10)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.path.insert(0, str(HERE))
    import chart
    import run  # the cluster and the metadata, as in run.py

    created = datetime.datetime.now(datetime.timezone.utc)
    started = time.monotonic()
    load_before = os.getloadavg()
    cluster = None
    with tempfile.TemporaryDirectory(prefix="asyncpg-rs-ceiling-") as scratch:
        try:
            dsn = args.dsn
            if not dsn:
                cluster, dsn = run.pgcluster.start_cluster()
                print(f"throwaway cluster: {dsn}", file=sys.stderr)
            exe = find_pgbench(getattr(cluster, "bindir", None))
            version = run.server_version(dsn)
            pgbench(exe, dsn, ["-i", "-s", "1", "-q"], timeout=300)
            runs = run_pgbench(exe, dsn, args.seconds, Path(scratch))
        finally:
            if cluster is not None:
                cluster.stop()
    results_file = Path(args.results) if args.results else None
    if results_file is None:
        try:
            results_file = chart.newest_results()
        except SystemExit:
            print("no run.py results to compare with", file=sys.stderr)
    drivers = driver_figures(results_file) if results_file else None
    elapsed = time.monotonic() - started
    print()
    print(render(runs, drivers))
    paired = (
        [json.loads(Path(f).read_text()) for f in args.paired.split(",")] if args.paired else []
    )
    if paired:
        print()
        print(render_paired(runs, paired))
    print(
        f"\n{elapsed:.0f} s; load average before/after: "
        f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}"
    )
    data = {
        "schema": 1,
        "kind": "ceiling",
        "created": created.isoformat(timespec="seconds"),
        "seconds_per_run": args.seconds,
        "server": {"version": version, "throwaway_cluster": cluster is not None},
        "server_settings": run.pgcluster.SERVER_SETTINGS if cluster is not None else None,
        "pgbench": str(exe),
        "machine": run.machine_info(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "pgbench_runs": runs,
        "paired": paired or None,
        "drivers_from": drivers["file"] if drivers else None,
        "drivers_select1": {
            key: {d: ops(drivers["rows"].get(key), d) for d in ("asyncpg", "asyncpg_rs")}
            for key in ("select1", "select1_c10")
        }
        if drivers
        else None,
    }
    output = (
        Path(args.output) if args.output else RESULTS_DIR / f"{created:%Y%m%dT%H%M%SZ}-ceiling.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1) + "\n")
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
