"""Draw the asyncpg_rs / asyncpg throughput ratios of one results JSON as a bar chart.

    python benches/chart.py [results.json] [--svg] [-o PATH]

Default input: the newest benches/results/*.json.  With matplotlib installed it writes
docs/bench.png; without it (or with --svg) it writes docs/bench.svg, drawn by hand.
A ratio above 1 means asyncpg_rs did more operations per second than asyncpg.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from html import escape
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
DOCS_DIR = HERE.parent / "docs"

FASTER = "#2a9d8f"  # asyncpg_rs faster
SLOWER = "#e76f51"
MISSING = "#9a9a9a"


def newest_results() -> Path:
    """The newest run.py results (not memory.py's or ceiling.py's files, kept alongside)."""
    files = sorted(
        p for mode in ("normal", "fast") for p in RESULTS_DIR.glob(f"[0-9]*-{mode}.json")
    )
    if not files:
        sys.exit("no results in benches/results; run benches/run.py first")
    return files[-1]  # names start with the UTC time of the run, sorted by it


def load_bars(data: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    """(label, ratio or None, text shown next to the bar) per measured case, in run order."""
    bars = []
    for row in data["results"]:
        label = row["workload"] + (
            f" ({row['concurrency']} tasks)" if row["concurrency"] > 1 else ""
        )
        ratio = row.get("ratio")
        if ratio is not None:
            bars.append((label, ratio, f"{ratio:.2f}x"))
            continue
        errors = [
            f"{driver}: {entry['error'].split(':')[0]}"
            for driver, entry in row["drivers"].items()
            if "error" in entry
        ]
        bars.append((label, None, "error (" + "; ".join(errors) + ")" if errors else "no data"))
    return bars


def subtitle(data: dict[str, Any]) -> str:
    machine = data.get("machine", {})
    return (
        f"{data['created'][:10]}, {data['mode']} mode, {machine.get('cpu_count', '?')} cores, "
        f"PostgreSQL {data.get('server', {}).get('version', '?').split()[0]}, higher is better"
    )


TITLE = "asyncpg_rs throughput relative to asyncpg"


def color_of(ratio: float | None) -> str:
    if ratio is None:
        return MISSING
    return FASTER if round(ratio, 2) >= 1 else SLOWER


def log2_range(bars: list[tuple[str, float | None, str]]) -> tuple[float, float]:
    """Exponents of 2 bracketing every ratio and 1 (the chart's axis is log2: 2x and 0.5x are
    the same distance from parity)."""
    ratios = [b[1] for b in bars if b[1]]
    lo = math.floor(math.log2(min([*ratios, 1.0])) - 0.25)
    hi = math.ceil(math.log2(max([*ratios, 1.0])) + 0.25)
    return min(lo, -1), max(hi, 1)


def tick_label(exponent: int) -> str:
    value = 2.0**exponent
    return f"{value:g}x" if value >= 1 else f"1/{2**-exponent:g}x"


def psycopg_ratios(data: dict[str, Any]) -> list[float | None]:
    """asyncpg_rs / psycopg per case (run.py writes them when psycopg ran), in run order."""
    return [row.get("ratio_psycopg") for row in data["results"]]


def draw_png(
    bars: list[tuple[str, float | None, str]],
    sub: str,
    out: Path,
    others: list[float | None] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extra = [r for r in others or [] if r]
    lo, hi = log2_range([*bars, *(("", r, "") for r in extra)])
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(bars) + 1.4))
    y = range(len(bars))
    # Bars start at parity (1) and end at the ratio, to the left when asyncpg_rs is slower.
    ratios = [b[1] or 1.0 for b in bars]
    ax.barh(y, [r - 1 for r in ratios], left=1, color=[color_of(b[1]) for b in bars])
    ax.set_xscale("log", base=2)
    ax.set_xlim(2.0**lo, 2.0**hi)
    ticks = list(range(lo, hi + 1))
    ax.set_xticks([2.0**e for e in ticks], [tick_label(e) for e in ticks])
    ax.axvline(1.0, color="#333333", linewidth=1)
    for i, (_, ratio, text) in enumerate(bars):
        r = ratio or 1.0
        right = r >= 1
        ax.text(
            r * (1.04 if right else 0.96),
            i,
            text,
            va="center",
            ha="left" if right else "right",
            fontsize=8,
            color="#333333" if ratio else MISSING,
        )
    if extra:  # asyncpg_rs / psycopg as a marker on each row
        points = [(i, r) for i, r in enumerate(others or []) if r]
        ax.scatter(
            [r for _, r in points],
            [i for i, _ in points],
            marker="D",
            s=18,
            color="#264653",
            alpha=0.75,
            zorder=3,
            label="asyncpg_rs / psycopg 3",
        )
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_yticks(list(y), [b[0] for b in bars], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(
        "ops/s of asyncpg_rs / ops/s of asyncpg (log scale; line: parity)"
        + ("\ndiamonds: ops/s of asyncpg_rs / ops/s of psycopg 3" if extra else "")
    )
    ax.set_title(f"{TITLE}\n{sub}", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def draw_svg(bars: list[tuple[str, float | None, str]], sub: str, out: Path) -> None:
    label_w, plot_w, row_h, top_h, bottom_h = 230, 520, 26, 58, 44
    width = label_w + plot_w + 40
    height = top_h + row_h * len(bars) + bottom_h
    lo, hi = log2_range(bars)

    def x_of(v: float) -> float:
        return label_w + plot_w * (math.log2(v) - lo) / (hi - lo)

    one = x_of(1.0)
    axis_y = top_h + row_h * len(bars)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="12">'
        ),
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{escape(TITLE)}</text>',
        f'<text x="{width / 2}" y="42" text-anchor="middle" fill="#555">{escape(sub)}</text>',
    ]
    for e in range(lo, hi + 1):
        x = x_of(2.0**e)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top_h}" x2="{x:.1f}" y2="{axis_y}" stroke="#e4e4e4"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#555">'
            f"{escape(tick_label(e))}</text>"
        )
    for i, (label, ratio, text) in enumerate(bars):
        y = top_h + i * row_h
        baseline = f"{y + row_h * 0.65:.1f}"
        parts.append(
            f'<text x="{label_w - 8}" y="{baseline}" text-anchor="end">{escape(label)}</text>'
        )
        end = x_of(ratio) if ratio else one
        if ratio:
            left, right = min(one, end), max(one, end)
            parts.append(
                f'<rect x="{left:.1f}" y="{y + 4}" width="{right - left:.1f}" '
                f'height="{row_h - 8}" fill="{color_of(ratio)}"/>'
            )
        after = not ratio or ratio >= 1
        parts.append(
            f'<text x="{end + (5 if after else -5):.1f}" y="{baseline}" '
            f'text-anchor="{"start" if after else "end"}" '
            f'fill="{"#333" if ratio else MISSING}">{escape(text)}</text>'
        )
    parts += [
        f'<line x1="{one:.1f}" y1="{top_h}" x2="{one:.1f}" y2="{axis_y}" stroke="#333"/>',
        (
            f'<text x="{label_w + plot_w / 2}" y="{axis_y + 34}" text-anchor="middle" '
            'fill="#555">ops/s of asyncpg_rs / ops/s of asyncpg (log scale; line: parity)</text>'
        ),
        "</svg>",
    ]
    out.write_text("\n".join(parts) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", nargs="?", help="results JSON (default: newest in benches/results)")
    p.add_argument(
        "--svg", action="store_true", help="write the hand-drawn SVG even with matplotlib"
    )
    p.add_argument("-o", "--output", help="output file (default: docs/bench.png or docs/bench.svg)")
    args = p.parse_args(argv)

    source = Path(args.results) if args.results else newest_results()
    data = json.loads(source.read_text())
    bars = load_bars(data)
    sub = subtitle(data)
    use_png = not args.svg
    if use_png:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            use_png = False
    out = Path(args.output) if args.output else DOCS_DIR / ("bench.png" if use_png else "bench.svg")
    out.parent.mkdir(parents=True, exist_ok=True)
    if use_png:
        draw_png(bars, sub, out, psycopg_ratios(data))
    else:
        draw_svg(bars, sub, out)
    print(f"{out} (from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
