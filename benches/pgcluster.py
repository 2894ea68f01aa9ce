"""A throwaway PostgreSQL cluster for the benchmarks (initdb + pg_ctl in a temp directory).

``start_cluster()`` uses ``asyncpg_rs.cluster.TempCluster`` when asyncpg_rs imports, else the
small ``BenchCluster`` below (so that asyncpg can still be measured while asyncpg_rs is broken).
As root, the server programs run as the ``postgres`` user (``runuser -u postgres --``), on a
directory that user owns.  The server is tuned for benchmarking the client, not for durability:
fsync, full_page_writes and synchronous_commit are off so that disk flushes do not add noise.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
}


def find_bindir() -> Path:
    """The newest PostgreSQL server binaries: $PG_BINDIR, pg_config --bindir, or Debian's layout."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2].split(".")[0])
    )
    candidates.extend(Path(p) for p in reversed(debian))
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BINDIR")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchCluster:
    """``start()`` -> DSN; ``stop()`` stops the server and deletes its directory."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="asyncpg-rs-bench-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd: str) -> None:
        proc = subprocess.run([*self._as_user, *cmd], capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")

    def start(self) -> str:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
        options += f" -p {self.port} -k {self.dir}"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return self.dsn

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class _TempClusterAdapter:
    """asyncpg_rs.cluster.TempCluster behind BenchCluster's start()/stop()/dsn."""

    def __init__(self, cluster_class: Any) -> None:
        self.cluster = cluster_class(data_dir_prefix="asyncpg-rs-bench-")
        self.bindir = self.cluster.get_bindir()
        self.port = 0

    def start(self) -> str:
        self.cluster.init()
        settings = {k: v for k, v in SERVER_SETTINGS.items() if k != "listen_addresses"}
        self.cluster.start(server_settings=settings)
        self.port = int(self.cluster.get_connection_spec()["port"])
        return self.dsn

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self.cluster.stop()
        finally:
            self.cluster.destroy()


def start_cluster() -> tuple[Any, str]:
    """Start a throwaway cluster; returns (cluster with .stop(), DSN over TCP)."""
    try:
        from asyncpg_rs.cluster import TempCluster
    except Exception:  # asyncpg_rs not importable (yet): use our own
        candidates: list[Any] = [BenchCluster]
    else:
        candidates = [lambda: _TempClusterAdapter(TempCluster), BenchCluster]
    for make in candidates:
        cluster = make()
        try:
            return cluster, cluster.start()
        except Exception as exc:
            cluster.stop()
            if make is candidates[-1]:
                raise
            print(f"TempCluster failed ({exc!r:.200}); using BenchCluster", file=sys.stderr)
    raise AssertionError("unreachable")
