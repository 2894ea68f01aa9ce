# The asyncpg-rs developer workflow; `make help` lists the targets.
# .ci/run, CONTRIBUTING.md and the README all call these targets.
#
# Which Python: PYTHON=/path/to/python if given (used as is: nothing but the built module is
# installed into it); otherwise the active virtualenv ($VIRTUAL_ENV); otherwise the project's
# .venv, created on first use with $(BOOTSTRAP_PYTHON) -m venv. In a virtualenv the targets
# install the pyproject extras they need (dev + test; bench for `make bench`) once: a stamp
# file named after pyproject.toml's checksum skips the install until pyproject.toml changes.
#
# Build profile: PROFILE=debug (default: seconds to rebuild, for the edit loop, `make test`,
# `make demo`) or PROFILE=release (fat LTO, a minute or more: `make release`, benches, wheels, CI).

SHELL := /bin/bash
.DEFAULT_GOAL := help

BOOTSTRAP_PYTHON ?= python3
ifdef PYTHON
  VENV :=
  PY_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
else ifdef VIRTUAL_ENV
  VENV := $(VIRTUAL_ENV)
  PYTHON := $(VENV)/bin/python
  PY_EXE := $(PYTHON)
else
  VENV := $(CURDIR)/.venv
  PYTHON := $(VENV)/bin/python
  PY_EXE := $(PYTHON)
endif

PROFILE ?= debug
ifeq ($(filter $(PROFILE),debug release),)
  $(error PROFILE must be debug or release, not "$(PROFILE)")
endif
MATURIN_PROFILE := $(if $(filter release,$(PROFILE)),--release,)

MATURIN ?= $(PYTHON) -m maturin
RUFF ?= $(PYTHON) -m ruff
PYTEST_ARGS ?= $(if $(CI),-ra,)

# PyO3 builds against this interpreter; one fixed value keeps cargo from rebuilding pyo3 when
# cargo test, clippy and maturin alternate. Without the extension-module feature, cargo test
# links libpython: point the loader at this interpreter's copy, not some other libpython3.x.
export PYO3_PYTHON := $(PY_EXE)
CARGO_TEST_ENV = LD_LIBRARY_PATH="$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}"

WHEEL_DIR := target/wheels
SOURCES := Cargo.toml Cargo.lock pyproject.toml $(shell find src python -type f \( -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name 'py.typed' \) 2>/dev/null)

# Stamps: what is installed where. In a virtualenv they live inside it, so another venv (or a
# fresh .venv) starts from scratch.
ifdef VENV
  STAMP_DIR := $(VENV)
  PYPROJECT_KEY := $(firstword $(shell cksum < pyproject.toml))
  deps_stamp = $(VENV)/.asyncpg-rs-deps-$(1)-$(PYPROJECT_KEY)
  DEPS := $(call deps_stamp,dev-test)
  BENCH_DEPS := $(call deps_stamp,dev-test-bench)
  SUITE_DEPS := $(call deps_stamp,dev-test-suite)
  RELEASE_DEPS := $(call deps_stamp,dev-release)
else
  STAMP_DIR := $(WHEEL_DIR)
  DEPS :=
  BENCH_DEPS :=
  SUITE_DEPS :=
  RELEASE_DEPS :=
endif
INSTALLED := $(STAMP_DIR)/.asyncpg-rs-installed-$(PROFILE)

.PHONY: help venv dev release test test-rust test-python lint typecheck fmt gen bench demo wheels test-wheels clean asyncpg-suite

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

ifdef VENV
$(VENV)/bin/python:
	@$(BOOTSTRAP_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null || { \
		echo "asyncpg-rs needs Python 3.9+ to create $(VENV): run with BOOTSTRAP_PYTHON=python3.X" >&2; exit 1; }
	@$(BOOTSTRAP_PYTHON) -c 'import ensurepip' 2>/dev/null || { \
		echo "$(BOOTSTRAP_PYTHON) cannot create a virtualenv (no ensurepip); on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
	$(BOOTSTRAP_PYTHON) -m venv "$(VENV)"

# Installs the extras named in the stamp (dev-test -> dev and test) from pyproject.toml.
$(VENV)/.asyncpg-rs-deps-%-$(PYPROJECT_KEY): | $(VENV)/bin/python
	@rm -f "$(VENV)"/.asyncpg-rs-deps-$*-*
	$(PYTHON) tools/pyproject_extras.py $(subst -, ,$*) > "$(VENV)/.asyncpg-rs-requirements-$*.txt"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r "$(VENV)/.asyncpg-rs-requirements-$*.txt"
	@touch "$@"
endif

venv: $(DEPS) ## create .venv (unless a virtualenv is active) and install the dev + test extras

# Build the extension ($(PROFILE)) and install it: `maturin develop` into the virtualenv, or a
# wheel installed into an explicit PYTHON's site-packages.
define build-and-install
	@mkdir -p $(WHEEL_DIR) $(STAMP_DIR)
	@if [ -n "$(VENV)" ]; then \
		echo "maturin develop $(MATURIN_PROFILE) ($(VENV))"; \
		VIRTUAL_ENV="$(VENV)" $(MATURIN) develop --quiet $(MATURIN_PROFILE) || exit 1; \
	else \
		rm -f $(WHEEL_DIR)/asyncpg_rs-*.whl; \
		$(MATURIN) build $(MATURIN_PROFILE) -o $(WHEEL_DIR) -i "$(PY_EXE)" && \
		$(PYTHON) -m pip install --quiet --force-reinstall --no-deps $(WHEEL_DIR)/asyncpg_rs-*.whl || exit 1; \
	fi
	@rm -f $(STAMP_DIR)/.asyncpg-rs-installed-*
	@touch $(INSTALLED)
endef

dev: $(DEPS) ## build the extension (PROFILE=debug: seconds) and install it into the venv
	$(build-and-install)

release: ## build the release extension (fat LTO) and install it: `make dev PROFILE=release`
	@$(MAKE) --no-print-directory dev PROFILE=release

# `make test` / `make demo` rebuild first only if a source changed since the last install of
# this profile.
$(INSTALLED): $(SOURCES) | $(DEPS)
	$(build-and-install)

test: test-rust test-python ## cargo test + pytest (the README's command); builds first if stale

test-rust: $(DEPS) ## cargo test (links libpython)
	$(CARGO_TEST_ENV) cargo test

test-python: $(INSTALLED) ## pytest against a temporary cluster (or the server in ASYNCPG_RS_TEST_DSN)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: $(DEPS) ## cargo fmt --check, clippy -D warnings, ruff check, ruff format --check, generated files --check
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	$(RUFF) check .
	$(RUFF) format --check .
	@for gen in tools/gen_*.py; do \
		[ -e "$$gen" ] || continue; \
		echo "$(PYTHON) $$gen --check"; $(PYTHON) "$$gen" --check || exit 1; \
	done

# Needs the built module (stubtest imports it), so CI runs it after the build, not in `lint`.
typecheck: $(INSTALLED) ## mypy over the package + stubtest against the built module (allowlist in tools/)
	$(PYTHON) -m mypy
	$(PYTHON) -m mypy.stubtest asyncpg_rs --mypy-config-file pyproject.toml \
		--allowlist tools/stubtest-allowlist.txt

fmt: $(DEPS) ## cargo fmt + ruff format + ruff check --fix
	cargo fmt --all
	$(RUFF) format .
	$(RUFF) check --fix .

gen: $(DEPS) ## regenerate generated files (exceptions, OIDs) from their pinned inputs in tools/
	@for gen in tools/gen_*.py; do \
		[ -e "$$gen" ] || continue; \
		echo "$(PYTHON) $$gen"; $(PYTHON) "$$gen" || exit 1; \
	done

asyncpg-suite: $(INSTALLED) | $(SUITE_DEPS) ## asyncpg 0.32's own suite through asyncpg_rs, per-file counts (minutes; SUITE_ARGS=...)
	$(PYTHON) tools/asyncpg_suite.py --installed $(SUITE_ARGS)

bench: $(BENCH_DEPS) ## pyperf workloads, asyncpg vs asyncpg_rs (benches/run.py), release build
	@$(MAKE) --no-print-directory $(STAMP_DIR)/.asyncpg-rs-installed-release PROFILE=release
	$(PYTHON) benches/run.py $(BENCH_ARGS)

wheels: $(RELEASE_DEPS) ## manylinux2014 x86_64 wheels (zig) for each local CPython 3.9+, and the sdist, into dist/
	PYTHON=$(PYTHON) tools/build_wheels.sh

test-wheels: ## install each wheel in dist/ into a fresh venv of its Python; run the demo and a query
	tools/test_wheels.sh

demo: $(INSTALLED) ## run examples/demo.py (the README example)
	$(PYTHON) examples/demo.py

clean: ## remove build output (cargo target/, wheels, caches, in-tree extension copies); keeps .venv
	cargo clean
	rm -rf $(WHEEL_DIR) .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
	rm -f python/asyncpg_rs/_native*.so
	rm -f $(STAMP_DIR)/.asyncpg-rs-installed-*
