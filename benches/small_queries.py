"""Small-query cases as paired, in-process ratios: the drivers alternate short batches of one case
in one process, on the stock loop or uvloop, at the case's concurrency (benches/paired.py does
the same for one task and the extension workloads).

    python benches/small_queries.py --dsn DSN [--loop uvloop] [--cases select1,pool_fetchrow_10] [--rounds 30]

Each round times one batch per driver, in alternating order, on the same event loop; the figure
per case is the median over rounds of each driver's ops/s and of the ratio asyncpg_rs / other
driver within a round. A machine whose speed drifts (other processes, the vCPU's idle states)
moves both sides of a pair together, so the ratio holds still where separate pyperf processes
disagree. Batches are sized to about `--batch-ms` for asyncpg_rs after a warm-up.
Prints a table and, with -o, writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
sys.path.insert(0, str(HERE))

import workloads

DRIVER_MODULES = {"psycopg": "psycopg_async"}


def cases() -> dict[str, tuple[Any, int]]:
    out = {}
    for spec in workloads.WORKLOADS.values():
        for c in spec.concurrencies:
            out[workloads.bench_key(spec.name, c)] = (spec.func, c)
    return out


async def run_batch(bench: Any, concurrency: int, loops: int) -> float:
    per_task = max(1, loops // concurrency)

    async def task(t: int) -> None:
        for i in range(per_task):
            await bench.op(t, i)

    if bench.reset is not None:
        await bench.reset()
    start = time.perf_counter()
    await asyncio.gather(*(task(t) for t in range(concurrency)))
    return per_task * concurrency / (time.perf_counter() - start)


async def measure(case: str, drivers: list[str], dsn: str, rounds: int, batch_ms: float) -> dict:
    func, concurrency = cases()[case]
    envs, benches = {}, {}
    for name in drivers:
        module = importlib.import_module(DRIVER_MODULES.get(name, name))
        envs[name] = workloads.Env(module, dsn, concurrency)
        benches[name] = await func(envs[name])
    try:
        # Warm-up, and the batch size from asyncpg_rs's speed.
        for name in drivers:
            await run_batch(benches[name], concurrency, concurrency * 4)
        rate = await run_batch(benches["asyncpg_rs"], concurrency, concurrency * 20)
        loops = max(concurrency, int(rate * batch_ms / 1000))
        rates: dict[str, list[float]] = {name: [] for name in drivers}
        for r in range(rounds):
            order = drivers if r % 2 == 0 else list(reversed(drivers))
            for name in order:
                rates[name].append(await run_batch(benches[name], concurrency, loops))
    finally:
        for env in envs.values():
            await env.aclose()
    result = {
        "case": case,
        "loops": loops,
        "ops": {n: statistics.median(v) for n, v in rates.items()},
    }
    result["ratio"] = {
        n: statistics.median(a / b for a, b in zip(rates["asyncpg_rs"], rates[n]))
        for n in drivers
        if n != "asyncpg_rs"
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument(
        "--cases", default="select1,prepared_fetchrow,pool_fetchrow_10,pool_fetchrow_100"
    )
    ap.add_argument("--drivers", default="asyncpg,asyncpg_rs")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch-ms", type=float, default=40.0)
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    drivers = args.drivers.split(",")
    if "asyncpg_rs" not in drivers:
        raise SystemExit("--drivers must include asyncpg_rs")
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    results = []
    others = [d for d in drivers if d != "asyncpg_rs"]
    print(
        f"loop: {args.loop}; ratios are asyncpg_rs / driver, median of {args.rounds} paired rounds"
    )
    print(
        f"{'case':26} "
        + " ".join(f"{d + ' ops/s':>18}" for d in drivers)
        + " "
        + " ".join(f"{'rs/' + d:>12}" for d in others)
    )
    for case in args.cases.split(","):
        res = asyncio.run(measure(case, drivers, args.dsn, args.rounds, args.batch_ms))
        results.append(res)
        print(
            f"{case:26} "
            + " ".join(f"{res['ops'][d]:18,.0f}" for d in drivers)
            + " "
            + " ".join(f"{res['ratio'][d]:11.2f}x" for d in others),
            flush=True,
        )
    if args.output:
        Path(args.output).write_text(json.dumps({"loop": args.loop, "results": results}, indent=1))


if __name__ == "__main__":
    main()
