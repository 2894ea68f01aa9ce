"""Throwaway PostgreSQL clusters for tests: initdb, pg_ctl start/stop, pg_hba.conf editing.

The API follows ``asyncpg.cluster`` (``Cluster``, ``TempCluster``, ``ClusterError``) so test
helpers written for asyncpg keep working. It needs the PostgreSQL server binaries (``initdb``,
``pg_ctl``, ``postgres``); they are looked up on ``PATH``, through ``pg_config --bindir``, and
under ``/usr/lib/postgresql/<version>/bin`` (highest version first).

PostgreSQL refuses to run as root. When this process is root, every server binary runs as the
``postgres`` system user (``runuser -u postgres --``) and the data directory is handed to it.

This module imports nothing from the rest of ``asyncpg_rs`` at import time, so it can be used
(and loaded by the test fixtures) before the native extension is built.
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any, Optional

__all__ = ("Cluster", "ClusterError", "HotStandbyCluster", "TempCluster", "find_available_port")

_SYSTEM_USER = "postgres"
_DEFAULT_SUPERUSER = "postgres"
_DEBIAN_PG_ROOT = "/usr/lib/postgresql"
_HBA_TYPES = ("local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
# pg_ctl status exit codes (see pg_ctl docs): 0 running, 3 not running, 4 no accessible data dir.
_PG_CTL_NOT_RUNNING = 3

ServerVersion = collections.namedtuple(
    "ServerVersion", ["major", "minor", "micro", "releaselevel", "serial"]
)


class ClusterError(Exception):
    """A cluster operation (initdb, start, stop, ...) failed."""


def find_available_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _parse_version(text: str) -> ServerVersion:
    """Parse ``postgres (PostgreSQL) 15.18 (Debian ...)`` or ``16beta2`` into a ServerVersion."""
    match = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc|devel)(\d*))?", text)
    if match is None:
        raise ClusterError(f"cannot parse a PostgreSQL version from {text!r}")
    major = int(match.group(1))
    second = int(match.group(2) or 0)
    third = int(match.group(3) or 0)
    level = match.group(4) or "final"
    serial = int(match.group(5) or 0)
    if major >= 10:
        # Since PostgreSQL 10 the second number is the patch release (15.18 -> 15.0.18).
        return ServerVersion(major, 0, second, level, serial)
    return ServerVersion(major, second, third, level, serial)


def _bindir_has_server(bindir: str) -> bool:
    return all(
        os.access(os.path.join(bindir, name), os.X_OK) for name in ("initdb", "pg_ctl", "postgres")
    )


def _bindir_from_pg_config(pg_config: str) -> Optional[str]:
    try:
        out = subprocess.run(
            [pg_config, "--bindir"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return out or None


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", os.path.basename(path)))


def find_pg_bindir(pg_config_path: Optional[str] = None) -> str:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Order: ``pg_config_path`` if given (must work), ``pg_ctl`` on ``PATH``, the ``pg_config`` on
    ``PATH``, then the highest ``/usr/lib/postgresql/*/bin``.
    """
    if pg_config_path is not None:
        bindir = _bindir_from_pg_config(pg_config_path)
        if bindir is None or not _bindir_has_server(bindir):
            raise ClusterError(
                f"{pg_config_path} --bindir does not name a PostgreSQL server install"
            )
        return bindir

    candidates: list[str] = []
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None:
        # Debian links /usr/local/bin/pg_ctl -> /usr/lib/postgresql/N/bin/pg_ctl; use the real dir.
        candidates.append(os.path.dirname(os.path.realpath(pg_ctl)))
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        bindir = _bindir_from_pg_config(pg_config)
        if bindir is not None:
            candidates.append(bindir)
    if os.path.isdir(_DEBIAN_PG_ROOT):
        versions = sorted(
            (os.path.join(_DEBIAN_PG_ROOT, name) for name in os.listdir(_DEBIAN_PG_ROOT)),
            key=_version_key,
            reverse=True,
        )
        candidates.extend(os.path.join(v, "bin") for v in versions)

    for bindir in candidates:
        if _bindir_has_server(bindir):
            return bindir
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, "
        f"via pg_config --bindir, or under {_DEBIAN_PG_ROOT}/*/bin"
    )


class Cluster:
    """A PostgreSQL cluster in ``data_dir``, managed with the server's own tools."""

    def __init__(self, data_dir: str, *, pg_config_path: Optional[str] = None) -> None:
        self._data_dir = os.path.abspath(data_dir)
        self._pg_config_path = pg_config_path
        self._bindir = find_pg_bindir(pg_config_path)
        self._as_root = _running_as_root()
        # Where the server puts its socket and log; TempCluster points these at its temp dir.
        self._socket_dir = self._data_dir
        self._log_file = os.path.join(self._data_dir, "postgres.log")
        self._connection_addr: Optional[dict[str, Any]] = None
        self._connection_spec_override: dict[str, Any] = {}
        self._superuser = _DEFAULT_SUPERUSER
        self._pg_version: Optional[ServerVersion] = None

    # -- introspection -----------------------------------------------------------------------

    def is_managed(self) -> bool:
        return True

    def get_data_dir(self) -> str:
        return self._data_dir

    def get_bindir(self) -> str:
        """The directory of the server binaries this cluster uses."""
        return self._bindir

    def get_log_file(self) -> str:
        return self._log_file

    def get_pg_version(self) -> ServerVersion:
        """The version of the server binaries (``postgres --version``)."""
        if self._pg_version is None:
            out = self._run_tool("postgres", "--version").stdout
            self._pg_version = _parse_version(out.partition(")")[2] or out)
        return self._pg_version

    def get_status(self) -> str:
        """``'not-initialized'``, ``'stopped'`` or ``'running'``."""
        if not os.path.exists(os.path.join(self._data_dir, "PG_VERSION")):
            return "not-initialized"
        proc = self._run_tool("pg_ctl", "status", "-D", self._data_dir, check=False)
        if proc.returncode == 0:
            return "running"
        if proc.returncode == _PG_CTL_NOT_RUNNING:
            return "stopped"
        raise ClusterError(f"pg_ctl status failed ({proc.returncode}): {proc.stderr.strip()}")

    # -- lifecycle ---------------------------------------------------------------------------

    def init(self, **settings: Any) -> str:
        """Run ``initdb``; each keyword becomes ``--name=value`` (underscores -> dashes).

        Defaults: ``username='postgres'``, ``auth='trust'``, ``encoding='UTF8'``,
        ``locale='C'``. Returns initdb's output.
        """
        status = self.get_status()
        if status != "not-initialized":
            raise ClusterError(f"cannot init: the cluster in {self._data_dir} is {status}")
        options = {"username": _DEFAULT_SUPERUSER, "auth": "trust", "encoding": "UTF8"}
        options["locale"] = "C"
        options.update(settings)
        self._superuser = str(options["username"])
        args = [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]
        self._prepare_dir(self._data_dir)
        proc = self._run_tool("initdb", "-D", self._data_dir, "--no-sync", *args, check=False)
        if proc.returncode != 0:
            raise ClusterError(f"initdb failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc.stdout + proc.stderr

    def start(
        self, wait: int = 60, *, server_settings: Optional[dict[str, Any]] = None, **opts: Any
    ) -> None:
        """Start the server and wait up to ``wait`` seconds until it accepts connections.

        ``port`` defaults to ``'dynamic'`` (a free port). ``server_settings`` are passed as
        ``-c name=value``; ``listen_addresses`` defaults to ``127.0.0.1`` and
        ``unix_socket_directories`` to the cluster's socket dir. Other keywords become
        ``--name=value`` options of ``postgres``.
        """
        status = self.get_status()
        if status == "running":
            raise ClusterError(f"the cluster in {self._data_dir} is already running")
        if status == "not-initialized":
            raise ClusterError(f"the cluster in {self._data_dir} has not been initialized")

        settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": self._socket_dir}
        settings.update(server_settings or {})
        ssl_key = settings.get("ssl_key_file")
        if ssl_key:
            # The server refuses a key that others can read: use a private copy (as asyncpg).
            keyfile = os.path.join(self._data_dir, "srvkey.pem")
            shutil.copy(str(ssl_key), keyfile)
            os.chmod(keyfile, 0o600)
            if self._as_root:
                shutil.chown(keyfile, user=_SYSTEM_USER)
            settings["ssl_key_file"] = keyfile
        port = opts.pop("port", "dynamic")
        dynamic = port in (None, "dynamic")
        extra = [f"--{key.replace('_', '-')}={value}" for key, value in opts.items()]

        attempts = 3 if dynamic else 1
        for attempt in range(attempts):
            chosen = find_available_port() if dynamic else int(port)
            args = [f"--port={chosen}", *extra]
            for key, value in settings.items():
                args += ["-c", f"{key}={value}"]
            proc = self._run_tool(
                "pg_ctl",
                "start",
                "-D",
                self._data_dir,
                "-l",
                self._log_file,
                "-w",
                "-t",
                str(int(wait)),
                # pg_ctl hands -o to /bin/sh, so each argument is shell-quoted.
                "-o",
                " ".join(shlex.quote(arg) for arg in args),
                check=False,
                # A Ctrl-C in the terminal must reach pytest, not the server: we stop it ourselves.
                start_new_session=True,
            )
            if proc.returncode == 0:
                break
            log = self._log_tail()
            port_taken = "could not bind" in log or "already in use" in log
            if not (dynamic and port_taken and attempt + 1 < attempts):
                raise ClusterError(
                    f"pg_ctl start failed ({proc.returncode}): {proc.stdout}{proc.stderr}\n"
                    f"server log ({self._log_file}):\n{log}"
                )
        self._connection_addr = self._connection_addr_from_pidfile()

    def reset_wal(self, *, oid: Optional[int] = None, xid: Optional[int] = None) -> None:
        """Set the next OID and/or transaction id of a stopped cluster (``pg_resetwal -o/-x``),
        e.g. to test types whose OIDs do not fit a signed 32-bit integer."""
        status = self.get_status()
        if status != "stopped":
            raise ClusterError(f"cannot modify WAL status: the cluster is {status}")
        args: list[str] = []
        if oid is not None:
            args += ["-o", str(int(oid))]
        if xid is not None:
            args += ["-x", str(int(xid))]
        if args:
            self._run_tool("pg_resetwal", *args, self._data_dir)

    def restart(self, wait: int = 60) -> None:
        """Restart the server (fast shutdown, then start with the same options and port)."""
        if self.get_status() != "running":
            raise ClusterError("cannot restart: the cluster is not running")
        self._run_tool(
            "pg_ctl",
            "restart",
            "-D",
            self._data_dir,
            "-l",
            self._log_file,
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(wait)),
            start_new_session=True,
        )
        self._connection_addr = self._connection_addr_from_pidfile()

    def reload(self) -> None:
        """Make the server re-read its configuration files (postgresql.conf, pg_hba.conf)."""
        if self.get_status() != "running":
            raise ClusterError("cannot reload: the cluster is not running")
        self._run_tool("pg_ctl", "reload", "-D", self._data_dir)
        # The postmaster re-reads pg_hba.conf asynchronously on SIGHUP; give it a moment so
        # a connection opened right after reload() sees the new rules.
        time.sleep(0.2)

    def stop(self, wait: int = 60) -> None:
        """Stop the server (fast shutdown); a no-op if it is not running."""
        if self.get_status() != "running":
            self._connection_addr = None
            return
        proc = self._run_tool(
            "pg_ctl",
            "stop",
            "-D",
            self._data_dir,
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(wait)),
            check=False,
        )
        if proc.returncode != 0 and self.get_status() == "running":
            proc = self._run_tool(
                "pg_ctl", "stop", "-D", self._data_dir, "-m", "immediate", "-w", check=False
            )
            if proc.returncode != 0:
                raise ClusterError(f"pg_ctl stop failed: {proc.stdout}{proc.stderr}")
        self._connection_addr = None

    def destroy(self) -> None:
        """Stop the server if needed and remove the data directory."""
        if os.path.exists(self._data_dir):
            self.stop()
        shutil.rmtree(self._data_dir, ignore_errors=True)

    # -- connecting --------------------------------------------------------------------------

    def get_connection_spec(self) -> dict[str, Any]:
        """``host`` and ``port`` (a string, as asyncpg's) of the running server, plus overrides.

        As in asyncpg, no user or database: ``connect()`` here defaults them to the superuser and
        ``postgres``."""
        if self._connection_addr is None:
            if self.get_status() != "running":
                raise ClusterError("the cluster is not running")
            self._connection_addr = self._connection_addr_from_pidfile()
        spec = dict(self._connection_addr)
        spec.update(self._connection_spec_override)
        return spec

    def override_connection_spec(self, **kwargs: Any) -> None:
        """Replace parts of what get_connection_spec() returns (e.g. ``host=``)."""
        self._connection_spec_override = kwargs

    def get_socket_dir(self) -> str:
        """The unix socket directory given to the server (unless overridden in start())."""
        return self._socket_dir

    def connect(self, loop: Any = None, **kwargs: Any) -> Any:
        """``asyncpg_rs.connect(**spec, **kwargs)``: returns the awaitable connect() returns."""
        import asyncpg_rs  # imported here so the module works before the extension is built

        del loop  # accepted for asyncpg compatibility; the running loop is used
        args = self.get_connection_spec()
        args.setdefault("user", self._superuser)
        args.setdefault("database", "postgres")
        args.update(kwargs)
        return asyncpg_rs.connect(**args)

    # -- pg_hba.conf -------------------------------------------------------------------------

    def _hba_path(self) -> str:
        return os.path.join(self._data_dir, "pg_hba.conf")

    def reset_hba(self) -> None:
        """Empty pg_hba.conf (no connection is allowed until entries are added)."""
        self._require_initialized("reset pg_hba.conf")
        with open(self._hba_path(), "w", encoding="utf-8"):
            pass

    def add_hba_entry(
        self,
        *,
        type: str = "host",  # asyncpg's keyword name
        database: str,
        user: str,
        address: Optional[str] = None,
        auth_method: str,
        auth_options: Optional[dict[str, Any]] = None,
    ) -> None:
        """Append one line to pg_hba.conf; call reload() for a running server to see it."""
        self._require_initialized("edit pg_hba.conf")
        if type not in _HBA_TYPES:
            raise ValueError(f"invalid pg_hba.conf connection type: {type!r}")
        if type == "local" and address is not None:
            raise ValueError("'local' pg_hba.conf entries take no address")
        if type != "local" and address is None:
            raise ValueError(f"{type!r} pg_hba.conf entries need an address")
        fields = [type, database, user]
        if address is not None:
            fields.append(str(address))  # str or an ipaddress network
        fields.append(auth_method)
        if auth_options:
            fields.extend(f"{key}={value}" for key, value in auth_options.items())
        with open(self._hba_path(), "a", encoding="utf-8") as hba:
            hba.write("\t".join(fields) + "\n")

    def trust_local_connections(self) -> None:
        """Let anyone in over the unix socket and loopback TCP without a password."""
        self.reset_hba()
        self.add_hba_entry(type="local", database="all", user="all", auth_method="trust")
        for address in ("127.0.0.1/32", "::1/128"):
            self.add_hba_entry(database="all", user="all", address=address, auth_method="trust")
        if self.get_status() == "running":
            self.reload()

    def trust_local_replication_by(self, user: str) -> None:
        """Let ``user`` stream WAL (``pg_basebackup``, a standby) over the socket and loopback."""
        self.add_hba_entry(type="local", database="replication", user=user, auth_method="trust")
        for address in ("127.0.0.1/32", "::1/128"):
            self.add_hba_entry(
                database="replication", user=user, address=address, auth_method="trust"
            )
        if self.get_status() == "running":
            self.reload()

    # -- internals ---------------------------------------------------------------------------

    def _require_initialized(self, what: str) -> None:
        if not os.path.exists(os.path.join(self._data_dir, "PG_VERSION")):
            raise ClusterError(f"cannot {what}: the cluster has not been initialized")

    def _command(self, tool: str, *args: str) -> list[str]:
        argv = [os.path.join(self._bindir, tool), *args]
        if self._as_root:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            argv = [runuser, "-u", _SYSTEM_USER, "--", *argv]
        return argv

    def _run_tool(
        self, tool: str, *args: str, check: bool = True, start_new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        argv = self._command(tool, *args)
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                # The postgres user may not be able to enter our cwd (e.g. /root).
                cwd="/",
                start_new_session=start_new_session,
                check=False,
            )
        except OSError as exc:
            raise ClusterError(f"cannot run {argv[0]}: {exc}") from exc
        if check and proc.returncode != 0:
            raise ClusterError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        return proc

    def _prepare_dir(self, path: str) -> None:
        """Create ``path`` if needed and make sure the server's user owns and can write it."""
        os.makedirs(path, exist_ok=True)
        if not self._as_root:
            return
        try:
            shutil.chown(path, user=_SYSTEM_USER, group=None)
        except LookupError as exc:
            raise ClusterError(
                f"running as root needs a {_SYSTEM_USER!r} system user to run PostgreSQL"
            ) from exc
        probe = subprocess.run(
            ["runuser", "-u", _SYSTEM_USER, "--", "test", "-w", path, "-a", "-x", path],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            raise ClusterError(
                f"the {_SYSTEM_USER!r} user cannot write to {path}; choose a data_dir_parent "
                "every user can enter (e.g. /tmp)"
            )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            with open(self._log_file, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _connection_addr_from_pidfile(self) -> dict[str, Any]:
        # postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, ...
        path = os.path.join(self._data_dir, "postmaster.pid")
        try:
            with open(path, encoding="utf-8") as pidfile:
                lines = pidfile.read().splitlines()
        except OSError as exc:
            raise ClusterError(f"cannot read {path}: {exc}") from exc
        if len(lines) < 6:
            raise ClusterError(f"unexpected contents in {path}: {lines!r}")
        port = int(lines[3])
        socket_dir = lines[4].strip()
        listen = lines[5].strip()
        host = socket_dir
        if listen and listen != "*":
            host = listen.split(",")[0].strip()
        elif listen == "*":
            host = "127.0.0.1"
        self._socket_dir = socket_dir or self._socket_dir
        return {"host": host, "port": str(port)}


class TempCluster(Cluster):
    """A cluster in a fresh temporary directory; destroy() removes the whole directory.

    The directory holds ``data/`` (the cluster), the server log and the unix socket.
    """

    def __init__(
        self,
        *,
        data_dir_suffix: Optional[str] = None,
        data_dir_prefix: Optional[str] = None,
        data_dir_parent: Optional[str] = None,
        pg_config_path: Optional[str] = None,
    ) -> None:
        base = tempfile.mkdtemp(
            suffix=data_dir_suffix,
            prefix=data_dir_prefix or "asyncpg_rs_cluster_",
            dir=data_dir_parent,
        )
        self._base_dir = base
        try:
            super().__init__(os.path.join(base, "data"), pg_config_path=pg_config_path)
            self._prepare_dir(base)
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        self._socket_dir = base
        self._log_file = os.path.join(base, "postgres.log")

    def get_base_dir(self) -> str:
        """The temporary directory that holds the data dir, the log and the socket."""
        return self._base_dir

    def destroy(self) -> None:
        super().destroy()
        shutil.rmtree(self._base_dir, ignore_errors=True)


class HotStandbyCluster(TempCluster):
    """A hot standby of a running cluster, made with ``pg_basebackup -R``.

    ``master`` is the primary's connection spec (``host``, ``port``); ``replication_user`` a role
    with REPLICATION that pg_hba.conf lets in (``trust_local_replication_by``). ``init()`` copies
    the primary; ``start()`` starts it in recovery, following the primary. As asyncpg's.
    """

    def __init__(
        self,
        *,
        master: dict[str, Any],
        replication_user: str,
        data_dir_suffix: Optional[str] = None,
        data_dir_prefix: Optional[str] = None,
        data_dir_parent: Optional[str] = None,
        pg_config_path: Optional[str] = None,
    ) -> None:
        self._master = master
        self._repl_user = replication_user
        super().__init__(
            data_dir_suffix=data_dir_suffix,
            data_dir_prefix=data_dir_prefix or "asyncpg_rs_standby_",
            data_dir_parent=data_dir_parent,
            pg_config_path=pg_config_path,
        )

    def init(self, timeout: float = 120, **settings: Any) -> str:
        """Copy the primary with ``pg_basebackup -R`` (writes standby.signal and
        primary_conninfo); ``settings`` are not used (the copy keeps the primary's)."""
        del settings
        status = self.get_status()
        if status != "not-initialized":
            raise ClusterError(f"cannot init: the cluster in {self._data_dir} is {status}")
        self._prepare_dir(self._data_dir)
        host = str(self._master.get("host") or "127.0.0.1")
        argv = self._command(
            "pg_basebackup",
            "-h",
            host,
            "-p",
            str(self._master["port"]),
            "-U",
            self._repl_user,
            "-D",
            self._data_dir,
            "-R",
            "--checkpoint=fast",
            "--no-sync",
        )
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd="/",
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"pg_basebackup failed: {exc}") from exc
        if proc.returncode != 0:
            raise ClusterError(
                f"pg_basebackup failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        # postgres refuses a data directory that others can read.
        os.chmod(self._data_dir, 0o700)
        return proc.stdout + proc.stderr

    def start(
        self, wait: int = 60, *, server_settings: Optional[dict[str, Any]] = None, **opts: Any
    ) -> None:
        settings = {"hot_standby": "on"}
        settings.update(server_settings or {})
        super().start(wait, server_settings=settings, **opts)


if __name__ == "__main__":
    # Print the server binaries this module would use; exit status 1 if there are none.
    try:
        print(find_pg_bindir())
    except ClusterError as exc:
        raise SystemExit(f"error: {exc}") from None
