#!/usr/bin/env bash
# Build the native module and drop it next to the Python sources, so that
# `PYTHONPATH=python` imports the working tree (what `maturin develop` does, without a venv).
# Usage: tools/build_inplace.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
flags=()
if [ "${1:-}" = "--release" ]; then profile=release; flags=(--release); fi
export CARGO_TARGET_DIR=target/inplace
cargo build --quiet --features extension-module "${flags[@]}"
suffix=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
cp "target/inplace/$profile/lib_native.so" "python/asyncpg_rs/_native$suffix.tmp"
mv "python/asyncpg_rs/_native$suffix.tmp" "python/asyncpg_rs/_native$suffix"
echo "built python/asyncpg_rs/_native$suffix ($profile)"
