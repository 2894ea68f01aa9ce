#!/usr/bin/env python3
"""Run asyncpg 0.32.0's own test suite against asyncpg_rs; print per-file counts.

What it does:

1. ``pip download --no-binary asyncpg asyncpg==0.32.0`` (once, cached) and unpacks the sdist's
   ``tests/`` and its pure-Python ``asyncpg/_testbase`` helpers.
2. Runs those tests under pytest in a child process where ``import asyncpg`` resolves to
   asyncpg_rs (``asyncpg_rs.install_as_asyncpg()``) and ``asyncpg._testbase`` is the sdist's own
   helper module (not asyncpg_rs's port of it).
3. Prints passed/failed/errors/skipped per test file, and how many of the tests real asyncpg
   passes on this machine ("the baseline") pass through asyncpg_rs, with the ones that do not.

The baseline is the same run with the real asyncpg (``--driver asyncpg``); it is computed on the
first run and cached (``--refresh-baseline`` recomputes it). Both runs use the same temporary
clusters: asyncpg's ``cluster.py`` refuses to run PostgreSQL as root, so when run as root the
binaries it finds through ``PGINSTALLATION`` are small wrappers that hand the data directory to
the ``postgres`` user and drop privileges (``setpriv``) before exec'ing the real binary.

Usage (after ``tools/build_inplace.sh``, which puts the extension into python/asyncpg_rs/)::

    python tools/asyncpg_suite.py                       # whole suite, table + baseline diff
    python tools/asyncpg_suite.py test_record.py test_pool.py   # some files
    python tools/asyncpg_suite.py test_pool.py -- -k pool_07 -x  # extra pytest arguments
    python tools/asyncpg_suite.py --driver asyncpg        # real asyncpg only
    python tools/asyncpg_suite.py --failures              # also list every failing test id

``make asyncpg-suite`` runs it against the installed (release) build. The cache directory is
``$ASYNCPG_SUITE_CACHE`` or ``$TMPDIR/asyncpg_rs-asyncpg-suite-<uid>``; the JUnit XML of each run is
kept there (``last-rs.xml``, ``last-asyncpg.xml``) for the full tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

ASYNCPG_VERSION = "0.32.0"
REPO = Path(__file__).resolve().parent.parent
PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin",)
#: Per-test bound (pytest-timeout) and the bound on one whole run, in seconds.
DEFAULT_TEST_TIMEOUT = 120
DEFAULT_RUN_TIMEOUT = 3600


def cache_dir() -> Path:
    # Not under ~/.cache: the server (the postgres user, when we are root) must read the test
    # certificates in tests/certs, and a home directory is often closed to other users.
    base = os.environ.get("ASYNCPG_SUITE_CACHE")
    path = (
        Path(base)
        if base
        else Path(tempfile.gettempdir()) / f"asyncpg_rs-asyncpg-suite-{os.geteuid()}"
    )
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def fetch_sdist(cache: Path) -> tuple[Path, Path]:
    """Download and unpack asyncpg's sdist once: return (its tests' parent, its _testbase).

    Only ``tests/`` and ``asyncpg/_testbase/`` are unpacked, and the helpers are moved out of an
    ``asyncpg`` directory: pytest puts the tests' parent on ``sys.path``, where an ``asyncpg``
    source package would shadow the driver under test.
    """
    src = cache / f"asyncpg-{ASYNCPG_VERSION}"
    testbase = cache / f"testbase-{ASYNCPG_VERSION}"
    if (src / "tests").is_dir() and (testbase / "__init__.py").is_file():
        return src, testbase
    dl = cache / "download"
    dl.mkdir(exist_ok=True)
    tarball = dl / f"asyncpg-{ASYNCPG_VERSION}.tar.gz"
    if not tarball.is_file():
        print(f"downloading asyncpg {ASYNCPG_VERSION} sdist ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                "asyncpg",
                "-d",
                str(dl),
                f"asyncpg=={ASYNCPG_VERSION}",
            ],
            check=True,
            timeout=600,
        )
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(testbase, ignore_errors=True)
    top = f"asyncpg-{ASYNCPG_VERSION}/"
    with tarfile.open(tarball) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith((top + "tests/", top + "asyncpg/_testbase/"))
        ]
        tar.extractall(cache, members=members, filter="data")
    shutil.move(str(src / "asyncpg" / "_testbase"), str(testbase))
    shutil.rmtree(src / "asyncpg")
    return src, testbase


def pg_bindir() -> str:
    for cand in PG_BIN_CANDIDATES:
        if os.path.isfile(os.path.join(cand, "pg_ctl")):
            return cand
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = out.stdout.strip()
        if bindir and os.path.isfile(os.path.join(bindir, "pg_ctl")):
            return bindir
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return os.path.dirname(pg_ctl)
    sys.exit("asyncpg_suite: cannot find the PostgreSQL server binaries (pg_ctl)")


_WRAPPER = """\
#!/bin/sh
# asyncpg_suite.py: run {tool} as the postgres user when called as root (asyncpg's cluster.py
# runs the binaries itself and PostgreSQL refuses root). The data directory (-D) is handed over.
if [ "$(id -u)" != 0 ]; then exec {real} "$@"; fi
prev=""
for a in "$@"; do
    if [ "$prev" = "-D" ] && [ -d "$a" ]; then chown -R postgres "$a"; chmod 700 "$a"; fi
    prev="$a"
done
exec setpriv --reuid=postgres --regid=postgres --init-groups -- {real} "$@"
"""


#: The binaries asyncpg's cluster.py and tests run on a data directory.
_WRAPPED = ("pg_ctl", "postgres", "pg_basebackup", "initdb", "pg_resetwal", "pg_controldata")


def make_pg_wrappers(cache: Path) -> str:
    """A directory for PGINSTALLATION: the server binaries, wrapped when we are root."""
    real = pg_bindir()
    if os.geteuid() != 0:
        return real
    wrap = cache / "pgbin"
    wrap.mkdir(exist_ok=True)
    for tool in os.listdir(real):
        target = wrap / tool
        if target.exists() or target.is_symlink():
            target.unlink()
        if tool in _WRAPPED:
            target.write_text(_WRAPPER.format(tool=tool, real=os.path.join(real, tool)))
            target.chmod(0o755)
        else:
            target.symlink_to(os.path.join(real, tool))
    return str(wrap)


_PLUGIN = '''\
"""pytest plugin written by tools/asyncpg_suite.py: pick the driver before the tests import it."""
import importlib.util
import os
import sys

_DRIVER = os.environ["ASYNCPG_SUITE_DRIVER"]
_TESTBASE = os.environ["ASYNCPG_SUITE_TESTBASE"]

if _DRIVER == "rs":
    import asyncpg_rs

    asyncpg_rs.install_as_asyncpg()
import asyncpg


def _load(name, path, package_dir=None):
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[package_dir] if package_dir else None
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# asyncpg's own test helpers from the sdist, for both drivers: first the fuzzer submodule (the
# alias finder would otherwise give asyncpg_rs's), then the package that imports it.
_fuzzer = _load("asyncpg._testbase.fuzzer", os.path.join(_TESTBASE, "fuzzer.py"))
_testbase = _load("asyncpg._testbase", os.path.join(_TESTBASE, "__init__.py"), _TESTBASE)
_testbase.fuzzer = _fuzzer
asyncpg._testbase = _testbase


def pytest_report_header(config):
    return "asyncpg_suite: driver {} ({}), _testbase from {}".format(
        _DRIVER, asyncpg.__file__, _TESTBASE
    )
'''


def run_suite(
    driver: str,
    src: Path,
    testbase: Path,
    cache: Path,
    pgbin: str,
    files: list[str],
    extra: list[str],
    *,
    pythonpath: str | None,
    test_timeout: int,
    run_timeout: int,
    quiet: bool,
) -> Path:
    """Run the suite with one driver; return the JUnit XML path."""
    work = Path(tempfile.mkdtemp(prefix=f"asyncpg-suite-{driver}-"))
    (work / "_asyncpg_suite_plugin.py").write_text(_PLUGIN)
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n")
    xml = cache / f"last-{driver}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.pop("ASYNCPG_RS_TEST_DSN", None)
    env["PGINSTALLATION"] = pgbin
    env["ASYNCPG_SUITE_DRIVER"] = driver
    env["ASYNCPG_SUITE_TESTBASE"] = str(testbase)
    # The tests import ``tests.*`` from the sdist root; our plugin and asyncpg_rs go first.
    paths = [str(work)]
    if driver == "rs" and pythonpath:
        paths.append(pythonpath)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    targets = [str(src / "tests" / f) for f in files] if files else [str(src / "tests")]
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--continue-on-collection-errors",
        "--rootdir",
        str(src),
        "-p",
        "_asyncpg_suite_plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "no:asyncio",
        f"--timeout={test_timeout}",
        "--timeout-method=signal",
        f"--junitxml={xml}",
        "-o",
        "junit_family=xunit1",
        "-q" if quiet else "-v",
        "-rN",
        *targets,
        *extra,
    ]
    print(f"== asyncpg {ASYNCPG_VERSION} suite, driver {driver} ==", flush=True)
    started = time.monotonic()
    if xml.exists():
        xml.unlink()
    try:
        subprocess.run(argv, env=env, cwd=str(work), timeout=run_timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"asyncpg_suite: the {driver} run exceeded {run_timeout}s and was stopped")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"== driver {driver}: {time.monotonic() - started:.0f}s ==", flush=True)
    return xml


def parse_junit(xml: Path) -> dict[str, str]:
    """Test id ``file.py::Class::test`` -> passed / failed / error / skipped."""
    results: dict[str, str] = {}
    if not xml.exists():
        return results
    for case in ET.parse(xml).getroot().iter("testcase"):
        file = case.get("file") or ""
        classname = case.get("classname") or ""
        name = case.get("name") or ""
        parts = classname.split(".")
        cls = parts[-1] if parts and parts[-1][:1].isupper() else ""
        if not file:
            mod = [p for p in parts if p.startswith("test_")]
            file = (mod[0] + ".py") if mod else classname
        test_id = f"{os.path.basename(file)}::{cls + '::' if cls else ''}{name}"
        outcome = "passed"
        for child in case:
            if child.tag == "skipped":
                outcome = "skipped"
            elif child.tag == "failure":
                outcome = "failed"
            elif child.tag == "error":
                # A teardown error after a failure keeps the failure.
                outcome = "failed" if outcome == "failed" else "error"
        if test_id in results and results[test_id] != "passed":
            continue
        results[test_id] = outcome
    return results


def in_files(test_id: str, files: set[str] | None) -> bool:
    return files is None or test_id.split("::", 1)[0] in files


def per_file_table(
    results: dict[str, str], baseline: dict[str, str] | None, files: set[str] | None = None
) -> str:
    """Counts per file; with a baseline, how many of its passes pass here. A baseline pass that
    did not run here (its file failed to import, say) counts as lost."""
    by_file: dict[str, Counter[str]] = defaultdict(Counter)
    base_pass: Counter[str] = Counter()
    both_pass: Counter[str] = Counter()
    for test_id, outcome in results.items():
        by_file[test_id.split("::", 1)[0]][outcome] += 1
    for test_id, outcome in (baseline or {}).items():
        if outcome != "passed" or not in_files(test_id, files):
            continue
        file = test_id.split("::", 1)[0]
        by_file.setdefault(file, Counter())  # listed even when nothing of it ran
        base_pass[file] += 1
        if results.get(test_id) == "passed":
            both_pass[file] += 1
    header = "| file | passed | failed | errors | skipped |"
    sep = "|---|---:|---:|---:|---:|"
    if baseline is not None:
        header += " of asyncpg's passes |"
        sep += "---:|"
    rows = [header, sep]
    total: Counter[str] = Counter()
    for file in sorted(by_file):
        c = by_file[file]
        total.update(c)
        row = f"| {file} | {c['passed']} | {c['failed']} | {c['error']} | {c['skipped']} |"
        if baseline is not None:
            row += f" {both_pass[file]}/{base_pass[file]} |"
        rows.append(row)
    row = (
        f"| **total** | {total['passed']} | {total['failed']} | {total['error']} "
        f"| {total['skipped']} |"
    )
    if baseline is not None:
        row += f" {sum(both_pass.values())}/{sum(base_pass.values())} |"
    rows.append(row)
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(__doc__.split("\n\n", 1)[1]),
    )
    parser.add_argument("files", nargs="*", help="test files of asyncpg's tests/ (default: all)")
    parser.add_argument("--driver", choices=("rs", "asyncpg"), default="rs")
    parser.add_argument(
        "--refresh-baseline", action="store_true", help="re-run the suite with the real asyncpg"
    )
    parser.add_argument(
        "--installed",
        action="store_true",
        help="test the installed asyncpg_rs, not the in-place build in python/",
    )
    parser.add_argument("--failures", action="store_true", help="list every non-passing test")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TEST_TIMEOUT, help="per test (s)")
    parser.add_argument("--run-timeout", type=int, default=DEFAULT_RUN_TIMEOUT, help="per run (s)")
    parser.add_argument("--verbose", "-v", action="store_true", help="pytest -v output")
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1 :]
    args, unknown = parser.parse_known_args(argv)
    extra = unknown + extra

    cache = cache_dir()
    src, testbase = fetch_sdist(cache)
    pgbin = make_pg_wrappers(cache)
    pythonpath = None
    if not args.installed:
        inplace = REPO / "python"
        if list((inplace / "asyncpg_rs").glob("_native*.so")):
            pythonpath = str(inplace)
        else:
            print("asyncpg_suite: no in-place build in python/asyncpg_rs/; using the installed one")
    common = {
        "test_timeout": args.timeout,
        "run_timeout": args.run_timeout,
        "quiet": not args.verbose,
    }

    base_file = cache / "baseline-asyncpg.json"
    baseline: dict[str, str] | None = None
    if args.driver == "asyncpg" and (args.files or extra):
        xml = run_suite(
            "asyncpg", src, testbase, cache, pgbin, args.files, extra, pythonpath=None, **common
        )
        print(per_file_table(parse_junit(xml), None))
        return 0
    if args.driver == "asyncpg" or args.refresh_baseline or not base_file.exists():
        # The baseline is always the whole suite, so that partial runs can compare against it.
        xml = run_suite("asyncpg", src, testbase, cache, pgbin, [], [], pythonpath=None, **common)
        baseline = parse_junit(xml)
        if baseline:
            base_file.write_text(json.dumps(baseline, indent=1, sort_keys=True))
    else:
        baseline = json.loads(base_file.read_text())
    if args.driver == "asyncpg":
        print(per_file_table(baseline or {}, None))
        return 0

    xml = run_suite(
        "rs", src, testbase, cache, pgbin, args.files, extra, pythonpath=pythonpath, **common
    )
    results = parse_junit(xml)
    if not results:
        print("asyncpg_suite: no results (see the output above)")
        return 1
    print()
    print(f"asyncpg {ASYNCPG_VERSION}'s suite through asyncpg_rs:")
    print(per_file_table(results, baseline, set(args.files) if args.files else None))
    if baseline:
        wanted = set(args.files) if args.files else None
        base_passes = {t for t, o in baseline.items() if o == "passed" and in_files(t, wanted)}
        lost = sorted(t for t in base_passes if results.get(t) != "passed")
        gained = sorted(
            t for t, o in results.items() if o == "passed" and baseline.get(t) != "passed"
        )
        print(
            f"\n{len(base_passes) - len(lost)} of the {len(base_passes)} tests real asyncpg passes "
            "(in the files run) pass through asyncpg_rs."
        )
        if lost:
            print("\nPass with asyncpg, not with asyncpg_rs:")
            for t in lost:
                print(f"  {results.get(t, 'missing'):8} {t}")
        if gained:
            print("\nPass with asyncpg_rs, not with asyncpg:")
            for t in gained:
                print(f"  {baseline.get(t, 'missing'):8} {t}")
    if args.failures:
        print("\nEvery non-passing test:")
        for t, o in sorted(results.items()):
            if o != "passed":
                print(f"  {o:8} {t}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
