#!/usr/bin/env bash
# Release wheels for Linux x86_64: one manylinux2014 (glibc 2.17) wheel per local CPython 3.9+,
# stripped, plus the sdist, into dist/. Run through `make wheels` (which installs maturin,
# ziglang and auditwheel from the pyproject `release` extra into the venv).
#
# Portability comes from zig as the linker (maturin --zig, the `ziglang` PyPI package): it links
# against glibc 2.17 symbol versions on any host, no manylinux container needed, no download
# beyond the package registries. Per-version wheels, not abi3: docs/release.md has the benchmark.
#
# Interpreters: $WHEEL_PYTHONS (space-separated paths) if set, else every python3.X (X >= 9) on
# PATH and under pyenv, one per minor version. Each one is a full release (fat LTO) build, about a
# minute of CPU each: build once, then test with tools/test_wheels.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
OUT="${WHEEL_OUT:-dist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/wheels-build}"
# maturin finds zig as `python3 -m ziglang`: make python3 the interpreter that has ziglang.
pybin="$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")"
[ -x "$pybin/python3" ] && export PATH="$pybin:$PATH"

find_pythons() {
    local candidates=() root
    root="${PYENV_ROOT:-$HOME/.pyenv}"
    for exe in "$root"/versions/3.*/bin/python3; do
        [ -x "$exe" ] && candidates+=("$exe")
    done
    for minor in 9 10 11 12 13 14; do
        command -v "python3.$minor" >/dev/null 2>&1 && candidates+=("$(command -v "python3.$minor")")
    done
    declare -A seen=()
    for exe in "${candidates[@]}"; do
        local ver
        # CPython 3.9+ with the GIL (free-threaded builds need gil_used = false first).
        ver=$("$exe" -c 'import platform, sys, sysconfig
ok = sys.version_info >= (3, 9) and platform.python_implementation() == "CPython"
ok = ok and not sysconfig.get_config_var("Py_GIL_DISABLED")
print("%d.%d" % sys.version_info[:2] if ok else "")' 2>/dev/null) || continue
        [ -n "$ver" ] || continue
        [ -z "${seen[$ver]:-}" ] || continue
        seen[$ver]=1
        echo "$ver $exe"
    done
}

if [ -n "${WHEEL_PYTHONS:-}" ]; then
    read -r -a pythons <<<"$WHEEL_PYTHONS"
else
    mapfile -t pythons < <(find_pythons | sort -V | cut -d' ' -f2-)
fi
[ "${#pythons[@]}" -gt 0 ] || { echo "no CPython 3.9+ found" >&2; exit 1; }

interp_args=()
for exe in "${pythons[@]}"; do
    interp_args+=(-i "$exe")
done
echo "building for: ${pythons[*]}"

mkdir -p "$OUT"
rm -f "$OUT"/asyncpg_rs-*.whl "$OUT"/asyncpg_rs-*.tar.gz
"$PYTHON" -m maturin build --release --strip --zig --compatibility manylinux2014 \
    --target x86_64-unknown-linux-gnu -o "$OUT" "${interp_args[@]}"
"$PYTHON" -m maturin sdist -o "$OUT"

echo
echo "== wheels (auditwheel show must agree with the manylinux_2_17 tag)"
status=0
for whl in "$OUT"/asyncpg_rs-*.whl; do
    report=$("$PYTHON" -m auditwheel show "$whl" 2>&1)
    if ! grep -q '"manylinux_2_17_x86_64"' <<<"$report"; then
        echo "$report"
        echo "ERROR: $whl is not manylinux_2_17 compatible" >&2
        status=1
    fi
    printf '%-80s %8s bytes  auditwheel: %s\n' "$(basename "$whl")" "$(stat -c %s "$whl")" \
        "$(grep -o '"manylinux_[0-9_]*x86_64"' <<<"$report" | head -1)"
done
for sdist in "$OUT"/asyncpg_rs-*.tar.gz; do
    printf '%-80s %8s bytes\n' "$(basename "$sdist")" "$(stat -c %s "$sdist")"
done
exit $status
