#!/usr/bin/env bash
# Install each wheel in dist/ (tools/build_wheels.sh, `make wheels`) into a fresh virtualenv of
# the Python it was built for, then run examples/demo.py and a smoke query there, each against
# a temporary PostgreSQL cluster. Runs outside the source tree, so the installed wheel is what
# gets imported. Not part of `make test` (it needs the release wheels). Usage:
#   tools/test_wheels.sh [dist/asyncpg_rs-...whl ...]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

python_for() {  # cp311 -> an interpreter for 3.11
    local minor="${1#cp3}" root="${PYENV_ROOT:-$HOME/.pyenv}" exe
    for exe in "$root"/versions/3."$minor".*/bin/python3 "$(command -v "python3.$minor" || true)"; do
        [ -n "$exe" ] && [ -x "$exe" ] && { echo "$exe"; return 0; }
    done
    return 1
}

if [ "$#" -gt 0 ]; then wheels=("$@"); else wheels=(dist/asyncpg_rs-*.whl); fi
[ -e "${wheels[0]}" ] || { echo "no wheels: run make wheels first" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # the cluster runs as the postgres user when we are root
passed=0 failed=0
for whl in "${wheels[@]}"; do
    tag="$(basename "$whl" | cut -d- -f3)"  # cp311
    if ! py="$(python_for "$tag")"; then
        echo "SKIP $(basename "$whl"): no Python for $tag here"
        continue
    fi
    venv="$work/venv-$tag"
    echo "== $(basename "$whl") with $py"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --no-deps "$repo/$whl"
    if (
        cd "$work"
        "$venv/bin/python" - <<'PY'
import pathlib, sys
import asyncpg_rs
where = pathlib.Path(asyncpg_rs.__file__).resolve()
assert sys.prefix in str(where), f"imported {where}, not the wheel in {sys.prefix}"
print("asyncpg_rs", asyncpg_rs.__version__, "(mirrors asyncpg", asyncpg_rs.asyncpg_version + ")",
      "from", where.parent)
PY
        "$venv/bin/python" "$repo/examples/demo.py" >"$work/demo-$tag.log" 2>&1 || {
            cat "$work/demo-$tag.log"; exit 1; }
        tail -n 2 "$work/demo-$tag.log"
        "$venv/bin/python" - <<'PY'
import asyncio
from decimal import Decimal

import asyncpg_rs as asyncpg
from asyncpg_rs.cluster import TempCluster


async def smoke(dsn):
    con = await asyncpg.connect(dsn)
    try:
        assert await con.fetchval("SELECT $1::int + 1", 41) == 42
        row = await con.fetchrow("SELECT 'x'::text AS t, 1.5::numeric AS n, ARRAY[1, 2] AS a")
        assert (row["t"], row["n"], row["a"]) == ("x", Decimal("1.5"), [1, 2]), row
        try:
            await con.execute("SELECT 1/0")
        except asyncpg.DivisionByZeroError:
            pass
        else:
            raise AssertionError("no DivisionByZeroError")
    finally:
        await con.close()
    async with asyncpg.create_pool(dsn, min_size=1, max_size=2) as pool:
        assert await pool.fetchval("SELECT 7") == 7
    print("smoke query ok")


cluster = TempCluster()
cluster.init(username="postgres", auth="trust")
cluster.start(port="dynamic")
try:
    spec = cluster.get_connection_spec()
    asyncio.run(smoke(f"postgresql://postgres@{spec['host']}:{spec['port']}/postgres"))
finally:
    cluster.stop()
    cluster.destroy()
PY
    ); then
        passed=$((passed + 1))
    else
        echo "FAILED: $(basename "$whl")"
        failed=$((failed + 1))
    fi
done
echo "wheels: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
