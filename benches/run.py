"""Run the benchmark workloads through asyncpg and asyncpg_rs against one server and compare.

    python benches/run.py [--dsn DSN] [--fast] [--workloads select1,arrays]

Without --dsn a throwaway PostgreSQL cluster is started (and removed) for the run.  For every
workload, concurrency and driver it first checks one operation (a failure is reported as
"error: ..." and the run goes on), then times it with pyperf (benches/bench_one.py, in worker
processes).  Prints a table (ops/s, ratio asyncpg_rs/asyncpg, median and p99 latency per
operation, the client process's CPU time per operation) and writes everything, pyperf's raw
values included, to benches/results/*.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import pyperf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The working tree's asyncpg_rs (for its TempCluster), as in bench_one.py.
if any((HERE.parent / "python" / "asyncpg_rs").glob("_native*.so")):
    sys.path.insert(0, str(HERE.parent / "python"))

import pgcluster  # (after the sys.path line: run.py may be started from anywhere)
import workloads


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# psycopg 3 (through benches/psycopg_async.py) is an extra column when it is installed.
DRIVERS = ("asyncpg", "asyncpg_rs", *(("psycopg",) if _has("psycopg_pool") else ()))
RESULTS_DIR = HERE / "results"

# pyperf settings per mode.  Each case is timed in `rounds` pyperf invocations per driver, the
# drivers alternating (A B C, C B A, A B C, ...) so that all see the same drifts in machine load;
# each invocation runs `processes` worker processes of `warmups` + `values` batches of about
# `min_time` seconds (at least 2 operations per task), fewer values when batches are longer than
# that (`batch_budget`: seconds of batches per process).  `timeout` bounds one invocation.
MODES = {
    "fast": {
        "rounds": 1,
        "processes": 1,
        "values": 3,
        "warmups": 1,
        "min_time": 0.1,
        "batch_budget": 0.8,
        "timeout": 60,
    },
    "normal": {
        "rounds": 3,
        "processes": 1,
        "values": 4,
        "warmups": 1,
        "min_time": 0.1,
        "batch_budget": 1.2,
        "timeout": 120,
    },
}
CHECK_TIMEOUT = 120
PYTHON_PATH = ""  # where bench_one.py imports asyncpg_rs from: set to a snapshot by main()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dsn", help="server to use (default: start a throwaway cluster)")
    p.add_argument("--fast", action="store_true", help="one round, fewer values (~2 min in all)")
    p.add_argument(
        "--workloads",
        help="comma-separated workload names (all concurrencies) or cases such as select1_c10; "
        f"default: all of {', '.join(workloads.WORKLOADS)}",
    )
    p.add_argument("--drivers", default=",".join(DRIVERS), help="default: %(default)s")
    p.add_argument("--rounds", type=int, help="override the alternating rounds per case")
    p.add_argument("--processes", type=int, help="override pyperf worker processes per round")
    p.add_argument("--values", type=int, help="override pyperf values per process")
    p.add_argument(
        "--native",
        help="asyncpg_rs native module to measure (default: the .so in python/asyncpg_rs, "
        "e.g. target/inplace/release/lib_native.so)",
    )
    p.add_argument("-o", "--output", help="results JSON (default: benches/results/<time>.json)")
    return p.parse_args(argv)


def select_cases(selection: str | None) -> list[tuple[str, int]]:
    """(workload, concurrency) pairs in WORKLOADS order, filtered by --workloads."""
    every = [(s.name, c) for s in workloads.WORKLOADS.values() for c in s.concurrencies]
    if not selection:
        return every
    wanted = {w.strip() for w in selection.split(",") if w.strip()}
    known = set(workloads.WORKLOADS) | {workloads.bench_key(n, c) for n, c in every}
    unknown = wanted - known
    if unknown:
        sys.exit(f"unknown workload(s): {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    return [(n, c) for n, c in every if n in wanted or workloads.bench_key(n, c) in wanted]


def snapshot_asyncpg_rs(scratch: Path, native_path: str | None) -> tuple[str, dict[str, Any]]:
    """Copy python/asyncpg_rs (with its built .so) aside, so that another engineer rebuilding the
    shared .so during the run does not change what is measured; say which build it is."""
    import hashlib

    source = HERE.parent / "python" / "asyncpg_rs"
    if not any(source.glob("_native*.so")) and not native_path:
        return "", {"snapshot_of": None}  # no in-place build: the installed asyncpg_rs is used
    target = scratch / "python" / "asyncpg_rs"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.tmp"))
    info: dict[str, Any] = {"snapshot_of": str(source)}
    native = next(iter(sorted(target.glob("_native*.so"))), None)
    if native_path:
        native = native or target / f"_native{sysconfig.get_config_var('EXT_SUFFIX')}"
        shutil.copyfile(native_path, native)
        info["native_from"] = str(Path(native_path).resolve())
    release_dirs = [HERE.parent / "target" / "inplace" / "release"]
    if native_path:  # e.g. a private copy's target/inplace/release/lib_native.so
        release_dirs.append(Path(native_path).resolve().parent)
    if native is not None:
        digest = hashlib.sha256(native.read_bytes()).hexdigest()
        info["native_sha256"] = digest
        info["native_bytes"] = native.stat().st_size
        info["build"] = "unknown"
        for profile in ("release", "debug"):  # the builds tools/build_inplace.sh copies from
            for built_dir in {d.parent / profile for d in release_dirs}:
                built = built_dir / "lib_native.so"
                if built.exists() and hashlib.sha256(built.read_bytes()).hexdigest() == digest:
                    info["build"] = profile
                    info["build_dir"] = str(built_dir)
    return str(scratch / "python"), info


def bench_one_cmd(name: str, concurrency: int, driver: str, dsn: str) -> list[str]:
    return [
        sys.executable,
        str(HERE / "bench_one.py"),
        "--workload",
        name,
        "--concurrency",
        str(concurrency),
        "--driver",
        driver,
        "--dsn",
        dsn,
        *(["--python-path", PYTHON_PATH] if PYTHON_PATH else []),
    ]


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def check_case(name: str, concurrency: int, driver: str, dsn: str) -> dict[str, Any]:
    cmd = [*bench_one_cmd(name, concurrency, driver, dsn), "--check"]
    try:
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=CHECK_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timeout: check did not finish in {CHECK_TIMEOUT} s"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        detail = last_line(proc.stderr) or f"exit status {proc.returncode}"
        return {"ok": False, "error": f"crashed: {detail}"}


def plan(
    mode: dict[str, Any], op_seconds: float, concurrency: int, args: argparse.Namespace
) -> tuple[int, int, int]:
    """Processes, values and loops (operations per batch) of one pyperf invocation.

    The loops come from the check's serial time per operation, so pyperf needs no calibration
    process: a batch lasts about ``min_time`` and gives each task at least 2 operations.  Slow
    batches get fewer values (at least 2), within ``batch_budget`` seconds per process."""
    processes = args.processes or mode["processes"]
    values = args.values or mode["values"]
    op_seconds = max(op_seconds, 1e-6)
    loops = max(1, round(mode["min_time"] / op_seconds), 2 * concurrency if concurrency > 1 else 1)
    per_value = loops * op_seconds
    if not args.values:
        fit = int(mode["batch_budget"] / per_value) - mode["warmups"]
        values = max(min(values, fit), 2)

    def estimate() -> float:
        return processes * ((values + mode["warmups"]) * per_value + 0.6)

    while estimate() > mode["timeout"] * 0.6 and (processes > 1 or values > 1):
        if processes > 1:
            processes -= 1
        else:
            values -= 1
    return processes, values, loops


def latency_summary(files: list[Path]) -> dict[str, Any]:
    samples = array("d")
    for path in files:
        with open(path, "rb") as f:
            samples.frombytes(f.read())
    if not samples:
        return {}
    ordered = sorted(samples)
    n = len(ordered)

    def pct(q: float) -> float:
        return ordered[min(n - 1, int(q * n))]

    return {"ops_sampled": n, "median_ms": pct(0.5) * 1e3, "p99_ms": pct(0.99) * 1e3}


def cpu_per_op(files: list[Path]) -> float | None:
    """Client CPU microseconds per operation over the workers' measured batches."""
    cpu = ops = 0.0
    for path in files:
        data = json.loads(path.read_text())
        cpu += data["cpu_s"]
        ops += data["ops"]
    return cpu / ops * 1e6 if ops else None


def run_pyperf(cmd: list[str], timeout: float) -> str:
    """Run one pyperf invocation; return an error message, or "" if it succeeded."""
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timeout: pyperf did not finish in {timeout} s"
    if proc.returncode:
        detail = last_line(proc.stderr) or last_line(proc.stdout) or f"exit {proc.returncode}"
        return f"pyperf run failed: {detail}"
    return ""


def time_case(
    name: str,
    concurrency: int,
    checks: dict[str, dict[str, Any]],
    dsn: str,
    mode: dict[str, Any],
    args: argparse.Namespace,
    scratch: Path,
) -> dict[str, dict[str, Any]]:
    """Time one case for every driver whose check passed, in alternating rounds."""
    key = workloads.bench_key(name, concurrency)
    drivers = list(checks)
    state: dict[str, dict[str, Any]] = {}
    for driver in drivers:
        processes, values, loops = plan(
            mode, checks[driver].get("op_seconds", 0.0), concurrency, args
        )
        state[driver] = {
            "output": scratch / f"{key}-{driver}.json",
            "latency_dir": scratch / f"lat-{key}-{driver}",
            "args": [
                *("--processes", str(processes), "--values", str(values)),
                *("--loops", str(loops)),
            ],
            "error": "",
        }
        state[driver]["latency_dir"].mkdir()
    for r in range(args.rounds or mode["rounds"]):
        for driver in drivers if r % 2 == 0 else drivers[::-1]:
            st = state[driver]
            if st["error"]:
                continue
            cmd = [
                *bench_one_cmd(name, concurrency, driver, dsn),
                *st["args"],
                "--warmups",
                str(mode["warmups"]),
                "--min-time",
                str(mode["min_time"]),
                "--latency-dir",
                str(st["latency_dir"]),
                "--append",
                str(st["output"]),
                "--quiet",
            ]
            st["error"] = run_pyperf(cmd, mode["timeout"])

    entries = {}
    for driver, st in state.items():
        if st["error"]:
            entries[driver] = {"error": st["error"]}
            continue
        bench = pyperf.Benchmark.load(str(st["output"]))
        median = bench.median()
        entries[driver] = {
            "ops_per_s": 1.0 / median,
            "seconds_per_op": {
                "median": median,
                "mean": bench.mean(),
                "stdev": bench.stdev() if bench.get_nvalue() > 1 else 0.0,
                "values": bench.get_nvalue(),
            },
            "latency": latency_summary(sorted(st["latency_dir"].glob("*.f64"))),
            "cpu_us_per_op": cpu_per_op(sorted(st["latency_dir"].glob("*.cpu.json"))),
            "pyperf": json.loads(st["output"].read_text()),
        }
    return entries


def fmt_ops(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    if "error" in entry:
        return "error: " + entry["error"].split(":")[0]
    return f"{entry['ops_per_s']:,.0f}"


def fmt_latency(entry: dict[str, Any] | None) -> str:
    if not entry or "error" in entry or not entry.get("latency"):
        return "-"
    lat = entry["latency"]
    return f"{lat['median_ms']:.3g} / {lat['p99_ms']:.3g}"


def fmt_cpu(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("cpu_us_per_op") is None:
        return "-"
    return (
        f"{entry['cpu_us_per_op']:,.3g}"
        if entry["cpu_us_per_op"] < 100
        else (f"{entry['cpu_us_per_op']:,.0f}")
    )


def ratio(row: dict[str, Any], base_driver: str = "asyncpg") -> float | None:
    """ops/s of asyncpg_rs / ops/s of ``base_driver`` in this row, if both were measured."""
    base, ours = row["drivers"].get(base_driver), row["drivers"].get("asyncpg_rs")
    if not base or not ours or "error" in base or "error" in ours:
        return None
    return ours["ops_per_s"] / base["ops_per_s"]


def render_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table (pastes into docs/benchmarks.md), followed by the full error messages.

    Per driver: ops/s, then asyncpg_rs's ratio to each other driver, p50 / p99 latency and CPU."""
    drivers = list(dict.fromkeys(d for row in rows for d in row["drivers"]))
    others = [d for d in drivers if d != "asyncpg_rs"] if "asyncpg_rs" in drivers else []
    short = {"asyncpg_rs": "rs"}
    header = [
        "workload",
        "tasks",
        *(f"{d} ops/s" for d in drivers),
        *(f"ratio rs/{d}" for d in others),
        *(f"{d} p50 / p99 ms" for d in drivers),
        *(f"{short.get(d, d)} CPU µs/op" for d in drivers),
    ]
    body = []
    notes = []
    for row in rows:
        entries = [row["drivers"].get(d) for d in drivers]
        ratios = [ratio(row, d) for d in others]
        body.append(
            [
                row["workload"],
                str(row["concurrency"]),
                *(fmt_ops(e) for e in entries),
                *(f"{r:.2f}x" if r is not None else "-" for r in ratios),
                *(fmt_latency(e) for e in entries),
                *(fmt_cpu(e) for e in entries),
            ]
        )
        for driver, entry in row["drivers"].items():
            if "error" in entry:
                notes.append(f"- {row['key']} / {driver}: error: {entry['error']}")
            elif entry.get("note"):
                notes.append(f"- {row['key']} / {driver}: {entry['note']}")
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "| " + " | ".join(padded) + " |"

    sep = (
        "|"
        + "|".join("-" * (w + 1) + ":" if i >= 2 else "-" * (w + 2) for i, w in enumerate(widths))
        + "|"
    )
    out = [line(header), sep, *(line(b) for b in body)]
    if notes:
        out += ["", *notes]
    return "\n".join(out)


def server_version(dsn: str) -> str:
    try:
        import asyncio

        import asyncpg

        async def ask() -> str:
            con = await asyncpg.connect(dsn)
            try:
                return await con.fetchval("SHOW server_version")
            finally:
                await con.close()

        return asyncio.run(ask())
    except Exception as exc:  # metadata only
        return f"unknown ({type(exc).__name__})"


def source_revision() -> str:
    """The commit the working tree is at, with "+dirty" if src/ or python/ have local changes."""

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(HERE.parent), *args], check=False, capture_output=True, text=True
        )
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "src", "python") else "")


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyperf": pyperf.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On SIGTERM, unwind like on Ctrl-C so that the throwaway cluster is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    mode_name = "fast" if args.fast else "normal"
    mode = MODES[mode_name]
    cases = select_cases(args.workloads)
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    started = time.monotonic()
    created = datetime.datetime.now(datetime.timezone.utc)

    RESULTS_DIR.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tmp-", dir=RESULTS_DIR))
    cluster = None
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    driver_info: dict[str, Any] = {}
    try:
        global PYTHON_PATH
        PYTHON_PATH, build_info = snapshot_asyncpg_rs(scratch, args.native)
        revision = source_revision()  # now, as the snapshot: others commit during the run
        if build_info.get("build") not in (None, "release"):  # None: no in-place build
            print(
                f"warning: asyncpg_rs native module is a {build_info['build']} build; "
                "run tools/build_inplace.sh --release first (or pass --native)",
                file=sys.stderr,
            )
        dsn = args.dsn
        if not dsn:
            cluster, dsn = pgcluster.start_cluster()
            print(
                f"throwaway cluster ({type(cluster).__name__}, {cluster.bindir}): {dsn}",
                file=sys.stderr,
            )
        version = server_version(dsn)
        for name, concurrency in cases:
            key = workloads.bench_key(name, concurrency)
            row: dict[str, Any] = {
                "key": key,
                "workload": name,
                "concurrency": concurrency,
                "drivers": {},
            }
            t0 = time.monotonic()
            checks = {}
            for driver in drivers:
                check = check_case(name, concurrency, driver, dsn)
                if check.get("ok"):
                    checks[driver] = check
                    info = {
                        "version": check.get("driver_version"),
                        "file": check.get("driver_file"),
                    }
                    driver_info.setdefault(driver, info)
                else:
                    row["drivers"][driver] = {"error": check.get("error", "unknown error")}
                    if check.get("traceback"):
                        row["drivers"][driver]["traceback"] = check["traceback"]
            for driver, entry in time_case(
                name, concurrency, checks, dsn, mode, args, scratch
            ).items():
                if checks[driver].get("note"):
                    entry["note"] = checks[driver]["note"]
                row["drivers"][driver] = entry
            row["drivers"] = {d: row["drivers"][d] for d in drivers}
            for driver, entry in row["drivers"].items():
                status = entry.get("error") or f"{entry['ops_per_s']:,.0f} ops/s"
                print(f"{key:24} {driver:11} {status}", file=sys.stderr)
            print(f"{'':24} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
            row["ratio"] = ratio(row)
            if "psycopg" in drivers:
                row["ratio_psycopg"] = ratio(row, "psycopg")
            rows.append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if cluster is not None:
            cluster.stop()

    elapsed = time.monotonic() - started
    table = render_table(rows)
    print()
    print(table)
    print(
        f"\n{mode_name} mode, {elapsed:.0f} s; load average before/after: "
        f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}"
    )

    result = {
        "schema": 1,
        "created": created.isoformat(timespec="seconds"),
        "mode": mode_name,
        "pyperf_settings": mode,
        "duration_s": round(elapsed, 1),
        "server": {"version": version, "throwaway_cluster": cluster is not None},
        "server_settings": pgcluster.SERVER_SETTINGS if cluster is not None else None,
        "machine": machine_info(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "drivers": driver_info,
        "asyncpg_rs_revision": revision,
        "asyncpg_rs_build": build_info,
        "results": rows,
    }
    output = (
        Path(args.output)
        if args.output
        else (RESULTS_DIR / f"{created:%Y%m%dT%H%M%SZ}-{mode_name}.json")
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
