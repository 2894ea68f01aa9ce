"""Paired, alternating timing of a few workloads in one process: asyncpg and asyncpg_rs take
turns round after round, so that a busy machine slows both sides of each ratio alike.

    PYTHONPATH=python python benches/paired.py [--rounds 15] [--loops 20] [workload ...]

Defaults to the workloads of the asyncpg-rs extensions (``jsonb_1k_objects``,
``fetch_1000_dicts``). Prints, per workload, the median time per operation of each driver and the
median, min and max of the per-round ratios (asyncpg time / asyncpg_rs time; above 1 means
asyncpg_rs is faster). pyperf-based ``run.py`` remains the tool for the published table; this is
for quick A/B figures on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pgcluster
import workloads

DEFAULT = ["jsonb_1k_objects", "fetch_1000_dicts"]


async def _time(bench: workloads.Bench, loops: int) -> float:
    if bench.reset is not None:
        await bench.reset()
    start = time.perf_counter()
    for i in range(loops):
        await bench.op(0, i)
    return (time.perf_counter() - start) / loops


async def measure(dsn: str, name: str, rounds: int, loops: int) -> dict[str, object]:
    spec = workloads.WORKLOADS[name]
    drivers = {d: importlib.import_module(d) for d in ("asyncpg", "asyncpg_rs")}
    envs = {d: workloads.Env(m, dsn, 1) for d, m in drivers.items()}
    benches = {d: await spec.func(envs[d]) for d in drivers}
    try:
        for b in benches.values():
            workloads.check_result(name, await b.op(0, 0))
            await _time(b, max(loops // 4, 1))  # warm up
        times: dict[str, list[float]] = {d: [] for d in drivers}
        ratios = []
        for r in range(rounds):
            order = list(drivers) if r % 2 == 0 else list(reversed(drivers))
            for d in order:
                times[d].append(await _time(benches[d], loops))
            ratios.append(times["asyncpg"][-1] / times["asyncpg_rs"][-1])
    finally:
        for env in envs.values():
            await env.aclose()
    return {
        "asyncpg_ms": statistics.median(times["asyncpg"]) * 1e3,
        "asyncpg_rs_ms": statistics.median(times["asyncpg_rs"]) * 1e3,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--dsn", help="an existing server (default: a throwaway cluster)")
    args = parser.parse_args()
    cluster = None
    dsn = args.dsn
    if dsn is None:
        cluster, dsn = pgcluster.start_cluster()
    try:
        print(f"{'workload':<22} {'asyncpg ms':>11} {'asyncpg_rs ms':>14} {'ratio':>6} (min-max)")
        for name in args.workloads:
            res = asyncio.run(measure(dsn, name, args.rounds, args.loops))
            print(
                f"{name:<22} {res['asyncpg_ms']:>11.3f} {res['asyncpg_rs_ms']:>14.3f} "
                f"{res['ratio_median']:>6.2f} ({res['ratio_min']:.2f}-{res['ratio_max']:.2f})",
                flush=True,
            )
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
