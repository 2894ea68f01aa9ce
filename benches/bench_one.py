"""Time one workload at one concurrency with one driver, under pyperf.

``benches/run.py`` calls this once per (workload, concurrency, driver); it can also be run alone:

    python benches/bench_one.py --workload select1 --driver asyncpg_rs --dsn DSN -o out.json
    python benches/bench_one.py --workload select1 --driver asyncpg_rs --dsn DSN --check

``--check`` runs the workload's setup and one operation, validates the result and prints a JSON
line (``{"ok": ..., "op_seconds": ..., "error": ...}``) instead of benchmarking.

pyperf runs the timing in worker processes; each worker keeps one event loop and the workload's
connections for all its batches, times ``loops`` operations per batch and, with ``--latency-dir``,
writes the latency of every operation of its measured batches (not warmups, not calibration) to
``<dir>/<key>.<driver>.<pid>.f64`` (float64 seconds, native byte order), and the process's CPU
time over those batches (``time.process_time()``) and their operation count to
``<dir>/<key>.<driver>.<pid>.cpu.json``.
"""

from __future__ import annotations

import array
import asyncio
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pyperf


def _python_path() -> str:
    """Where to import asyncpg_rs from: --python-path (run.py passes a snapshot of the package,
    so that a rebuild during the run does not change what is measured), else the working tree's
    python/ if it holds the .so that tools/build_inplace.sh puts there."""
    if "--python-path" in sys.argv[:-1]:
        return sys.argv[sys.argv.index("--python-path") + 1]
    repo_python = Path(__file__).resolve().parent.parent / "python"
    # Without a built .so there, asyncpg_rs comes from the environment (e.g. `make dev`'s wheel).
    return str(repo_python) if any((repo_python / "asyncpg_rs").glob("_native*.so")) else ""


if _python_path():
    sys.path.insert(0, _python_path())

import workloads  # benches/ is on sys.path: this script lives there

CHECK_TIMEOUT = 60.0
# Driver names whose module is an adapter in benches/ (psycopg's API differs from asyncpg's).
DRIVER_MODULES = {"psycopg": "psycopg_async"}
CLOSE_TIMEOUT = 10.0


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:200] if first else type(exc).__name__


class Case:
    """One workload at one concurrency on one driver, set up lazily in the process that runs it."""

    def __init__(self, workload: str, concurrency: int, driver_name: str, dsn: str) -> None:
        self.spec = workloads.WORKLOADS[workload]
        self.concurrency = concurrency
        self.driver_name = driver_name
        self.dsn = dsn
        self.loop: asyncio.AbstractEventLoop | None = None
        self.env: workloads.Env | None = None
        self.bench: workloads.Bench | None = None
        self.batches: list[array.array] = []
        # (client process CPU seconds, operations) per batch: time.process_time() counts every
        # thread of this process, user and system time.
        self.cpu: list[tuple[float, int]] = []

    async def _setup(self) -> workloads.Bench:
        driver = importlib.import_module(DRIVER_MODULES.get(self.driver_name, self.driver_name))
        self.env = workloads.Env(driver, self.dsn, self.concurrency)
        return await self.spec.func(self.env)

    def start(self) -> workloads.Bench:
        if self.bench is None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.bench = self.loop.run_until_complete(self._setup())
        return self.bench

    def time_batch(self, loops: int) -> float:
        """pyperf's time function: run ``loops`` operations, return the elapsed seconds."""
        bench = self.start()
        assert self.loop is not None
        if bench.reset is not None:
            self.loop.run_until_complete(bench.reset())
        latencies = array.array("d")
        cpu = time.process_time()
        elapsed = self.loop.run_until_complete(self._run(bench.op, loops, latencies))
        self.cpu.append((time.process_time() - cpu, loops))
        self.batches.append(latencies)
        return elapsed

    async def _run(self, op: workloads.Op, loops: int, latencies: array.array) -> float:
        clock = time.perf_counter
        record = latencies.append
        if self.concurrency == 1:
            start = clock()
            for i in range(loops):
                t = clock()
                await op(0, i)
                record(clock() - t)
            return clock() - start

        numbers = iter(range(loops))  # shared: each task takes the next operation number

        async def task(index: int) -> None:
            for i in numbers:
                t = clock()
                await op(index, i)
                record(clock() - t)

        start = clock()
        await asyncio.gather(*(task(k) for k in range(self.concurrency)))
        return clock() - start

    def close(self) -> None:
        if self.loop is None:
            return
        if self.env is not None:
            try:
                self.loop.run_until_complete(asyncio.wait_for(self.env.aclose(), CLOSE_TIMEOUT))
            except Exception as exc:  # best effort: the server drops what is left
                print(f"warning: closing failed: {describe_error(exc)}", file=sys.stderr)
        self.loop.close()

    async def check(self) -> dict[str, Any]:
        """Set up; validate one operation, then 4 per task (at once); time one more; close."""
        bench = await self._setup()
        try:
            if bench.reset is not None:
                await bench.reset()
            workloads.check_result(self.spec.name, await bench.op(0, 0))
            c = self.concurrency
            answers: list[Any] = [None] * (4 * c)

            async def task(t: int) -> None:  # like the timed run: tasks at once, each in turn
                for k in range(t, 4 * c, c):
                    answers[k] = await bench.op(t, k)

            await asyncio.gather(*(task(t) for t in range(c)))
            workloads.check_concurrent(self.spec.name, answers)
            if bench.reset is not None:
                await bench.reset()
            # Serial time of one operation (mean of up to 20, ~50 ms): run.py sizes batches by it.
            n = 0
            start = time.perf_counter()
            while n < 20 and (n == 0 or time.perf_counter() - start < 0.05):
                await bench.op(0, 1 + n)
                n += 1
            op_seconds = (time.perf_counter() - start) / n
        finally:
            assert self.env is not None
            await asyncio.wait_for(self.env.aclose(), CLOSE_TIMEOUT)
        driver = sys.modules[DRIVER_MODULES.get(self.driver_name, self.driver_name)]
        return {
            "ok": True,
            "op_seconds": op_seconds,
            "note": bench.note,
            "driver_version": getattr(driver, "__version__", "?"),
            "driver_file": getattr(driver, "__file__", "?"),
        }


def run_check(case: Case) -> dict[str, Any]:
    try:
        return asyncio.run(asyncio.wait_for(case.check(), CHECK_TIMEOUT))
    except asyncio.TimeoutError:
        return {"ok": False, "error": f"timeout: no result within {CHECK_TIMEOUT:.0f} s"}
    except BaseException as exc:  # any failure is a result to report
        return {
            "ok": False,
            "error": describe_error(exc),
            "traceback": traceback.format_exc(limit=8),
        }


def add_worker_args(cmd: list[str], args: Any) -> None:
    cmd.extend(["--workload", args.workload, "--concurrency", str(args.concurrency)])
    cmd.extend(["--driver", args.driver, "--dsn", args.dsn])
    if args.latency_dir:
        cmd.extend(["--latency-dir", args.latency_dir])
    if args.python_path:
        cmd.extend(["--python-path", args.python_path])


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=add_worker_args)
    parser = runner.argparser
    parser.add_argument("--workload", required=True, choices=sorted(workloads.WORKLOADS))
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--driver", required=True, help="asyncpg, asyncpg_rs or psycopg")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--latency-dir", default="")
    parser.add_argument("--python-path", default="", help="directory to import asyncpg_rs from")
    parser.add_argument("--check", action="store_true", help="validate one operation, print JSON")
    args = runner.parse_args()
    concurrency = args.concurrency or workloads.WORKLOADS[args.workload].concurrencies[0]
    args.concurrency = concurrency
    case = Case(args.workload, concurrency, args.driver, args.dsn)

    if args.check:
        print(json.dumps(run_check(case)))
        return

    key = workloads.bench_key(args.workload, concurrency)
    runner.metadata.update(
        {"workload": args.workload, "concurrency": concurrency, "driver": args.driver}
    )
    runner.bench_time_func(f"{key} {args.driver}", case.time_batch)

    if args.worker:
        case.close()
        calibrating = (
            args.calibrate_loops
            or args.recalibrate_loops
            or args.calibrate_warmups
            or args.recalibrate_warmups
        )
        measured = not calibrating
        if args.latency_dir and measured:
            skip = args.warmups or 0
            path = Path(args.latency_dir) / f"{key}.{args.driver}.{os.getpid()}.f64"
            with open(path, "wb") as f:
                for batch in case.batches[skip:]:
                    batch.tofile(f)
            measured_cpu = case.cpu[skip:]
            cpu_path = path.with_suffix(".cpu.json")
            cpu_path.write_text(
                json.dumps(
                    {
                        "cpu_s": sum(c for c, _ in measured_cpu),
                        "ops": sum(n for _, n in measured_cpu),
                    }
                )
            )


if __name__ == "__main__":
    main()
