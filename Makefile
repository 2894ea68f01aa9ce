# The asyncpg-rs developer workflow; `make help` lists the targets.
# .ci/run, pre-commit hooks and the README all call these targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter to build for and test with: .venv's if there is one, else python3.
ifndef PYTHON
  ifneq ($(wildcard .venv/bin/python),)
    PYTHON := $(CURDIR)/.venv/bin/python
  else
    PYTHON := python3
  endif
endif
PY_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
PY_LIBDIR := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
MATURIN ?= $(PYTHON) -m maturin
RUFF ?= $(PYTHON) -m ruff
PYTEST_ARGS ?= $(if $(CI),-ra,)

# PyO3 builds against this interpreter; one fixed value keeps cargo from rebuilding pyo3 when
# cargo test, clippy and maturin alternate. Without the extension-module feature, cargo test
# links libpython: point the loader at this interpreter's copy, not some other libpython3.x.
export PYO3_PYTHON := $(PY_EXE)
CARGO_TEST_ENV := LD_LIBRARY_PATH="$(PY_LIBDIR)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}"

WHEEL_DIR := target/wheels
INSTALLED := $(WHEEL_DIR)/.installed
SOURCES := Cargo.toml Cargo.lock pyproject.toml $(shell find src python -type f \( -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name 'py.typed' \) 2>/dev/null)

.PHONY: help dev test test-rust test-python lint fmt gen bench demo clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

# Build the release extension and install it: `maturin develop` into .venv, otherwise a wheel
# installed into $(PYTHON)'s site-packages (works without a virtualenv, e.g. in CI).
define build-and-install
	@mkdir -p $(WHEEL_DIR)
	@if [ -x .venv/bin/python ] && [ "$(PY_EXE)" = "$$(.venv/bin/python -c 'import sys; print(sys.executable)')" ]; then \
		echo "maturin develop --release (.venv)"; \
		VIRTUAL_ENV="$(CURDIR)/.venv" $(MATURIN) develop --release; \
	else \
		rm -f $(WHEEL_DIR)/asyncpg_rs-*.whl; \
		$(MATURIN) build --release -o $(WHEEL_DIR) -i "$(PY_EXE)" && \
		$(PYTHON) -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/asyncpg_rs-*.whl; \
	fi
	@touch $(INSTALLED)
endef

dev: ## build the extension (release) and install it into .venv or the current python
	$(build-and-install)

# `make test` rebuilds first only if a source changed since the last install.
$(INSTALLED): $(SOURCES)
	$(build-and-install)

test: test-rust test-python ## cargo test + pytest (the README's command); builds first if stale

test-rust: ## cargo test (links libpython)
	$(CARGO_TEST_ENV) cargo test

test-python: $(INSTALLED) ## pytest against a temporary cluster (or the server in ASYNCPG_RS_TEST_DSN)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: ## cargo fmt --check, clippy -D warnings, ruff check, ruff format --check, generated files --check
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	$(RUFF) check .
	$(RUFF) format --check .
	@for gen in tools/gen_*.py; do \
		[ -e "$$gen" ] || continue; \
		echo "$(PYTHON) $$gen --check"; $(PYTHON) "$$gen" --check || exit 1; \
	done

fmt: ## cargo fmt + ruff format + ruff check --fix
	cargo fmt --all
	$(RUFF) format .
	$(RUFF) check --fix .

gen: ## regenerate generated files (exceptions, OIDs) from their pinned inputs in tools/
	@for gen in tools/gen_*.py; do \
		[ -e "$$gen" ] || continue; \
		echo "$(PYTHON) $$gen"; $(PYTHON) "$$gen" || exit 1; \
	done

bench: $(INSTALLED) ## pyperf workloads, asyncpg vs asyncpg_rs (benches/run.py)
	$(PYTHON) benches/run.py $(BENCH_ARGS)

demo: $(INSTALLED) ## run examples/demo.py (the README example)
	$(PYTHON) examples/demo.py

clean: ## remove build output (cargo target/, wheels, caches, in-tree extension copies)
	cargo clean
	rm -rf $(WHEEL_DIR) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
	rm -f python/asyncpg_rs/_native*.so
