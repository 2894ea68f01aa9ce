"""GSSAPI (Kerberos) authentication against a real KDC. Differential: asyncpg 0.32 is the oracle.

The ``kerberos`` fixture (module scope, ~3 s) starts an MIT ``krb5kdc`` for a throwaway realm in
a temporary directory, creates a user principal and ``postgres/localhost`` with a keytab, gets the
user a ticket (``kinit`` into a temporary ``KRB5CCNAME``), and starts a PostgreSQL cluster whose
pg_hba.conf authenticates that user with ``gss include_realm=0``. The client side needs the
optional ``gssapi`` package, as asyncpg does. Without krb5kdc or gssapi the tests skip with the
install command (and fail under CI=true, where .ci/run installs both).
"""

from __future__ import annotations

import importlib.abc
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

import pytest

from tests.fixtures import tools
from tests.fixtures.cluster import SERVER_SETTINGS, load_cluster_module

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90), pytest.mark.managed_cluster]

REALM = "ASYNCPGRS.TEST"
USER = "gss_user"
USER_PASSWORD = "gss-user-pw"
_INSTALL = "apt-get install krb5-kdc krb5-admin-server krb5-user libkrb5-dev && pip install gssapi"


def _require(what: str, found: bool) -> None:
    if found:
        return
    message = f"{what} is not available; install it with: {_INSTALL}"
    if tools.in_ci():
        pytest.fail(f"{message} (CI=true: .ci/run must install it)", pytrace=False)
    pytest.skip(message)


def _krb_tool(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    _require(name, path is not None)
    assert path is not None
    return path


def _run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    proc = subprocess.run(
        argv, check=False, env=env, input=stdin, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr or proc.stdout}")


@pytest.fixture(scope="module")
def kerberos() -> Iterator[Any]:
    try:
        import gssapi  # noqa: F401
    except ImportError:
        _require("the gssapi package", False)
    krb5kdc, kdb5_util = _krb_tool("krb5kdc"), _krb_tool("kdb5_util")
    kadmin, kinit = _krb_tool("kadmin.local"), _krb_tool("kinit")
    module = load_cluster_module()

    tmp = tempfile.mkdtemp(prefix="asyncpg_rs_krb5_")
    os.chmod(tmp, 0o755)  # the server (postgres user) reads its keytab here
    kdc_port = module.find_available_port()
    conf = os.path.join(tmp, "krb5.conf")
    with open(conf, "w") as f:
        f.write(
            f"[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n"
            " dns_lookup_realm = false\n dns_canonicalize_hostname = false\n rdns = false\n"
            " udp_preference_limit = 1\n"
            f"[realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{kdc_port}\n }}\n"
            f"[domain_realm]\n localhost = {REALM}\n"
        )
    os.chmod(conf, 0o644)
    kdc_conf = os.path.join(tmp, "kdc.conf")
    with open(kdc_conf, "w") as f:
        f.write(
            f"[kdcdefaults]\n kdc_ports = {kdc_port}\n kdc_tcp_ports = {kdc_port}\n"
            f"[realms]\n {REALM} = {{\n  database_name = {tmp}/principal\n"
            f"  key_stash_file = {tmp}/stash\n  acl_file = {tmp}/kadm5.acl\n }}\n"
            f"[logging]\n kdc = FILE:{tmp}/kdc.log\n"
        )
    env = dict(os.environ, KRB5_CONFIG=conf, KRB5_KDC_PROFILE=kdc_conf)
    env["KRB5CCNAME"] = f"FILE:{tmp}/ccache"
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5_KDC_PROFILE", "KRB5CCNAME")}
    kdc = None
    cluster = None
    try:
        _run([kdb5_util, "-r", REALM, "create", "-s", "-P", "master-pw"], env)
        _run([kadmin, "-r", REALM, "-q", f"addprinc -pw {USER_PASSWORD} {USER}"], env)
        _run([kadmin, "-r", REALM, "-q", "addprinc -randkey postgres/localhost"], env)
        keytab = os.path.join(tmp, "server.keytab")
        _run([kadmin, "-r", REALM, "-q", f"ktadd -k {keytab} postgres/localhost"], env)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(keytab, pw.pw_uid, pw.pw_gid)
        kdc = subprocess.Popen(
            [krb5kdc, "-n", "-r", REALM], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while True:  # kinit retries until the KDC listens
            try:
                _run([kinit, f"{USER}@{REALM}"], env, stdin=USER_PASSWORD + "\n")
                break
            except RuntimeError:
                if time.monotonic() > deadline or kdc.poll() is not None:
                    raise
                time.sleep(0.2)
        # The test process and the server see the realm (the server through the inherited
        # environment, runuser keeps it).
        os.environ.update({k: env[k] for k in saved})

        cluster = module.TempCluster(data_dir_prefix="asyncpg_rs_gss_")
        cluster.init()
        cluster.reset_hba()
        cluster.add_hba_entry(type="local", database="all", user="all", auth_method="trust")
        cluster.add_hba_entry(
            type="host",
            database="all",
            user=USER,
            address="127.0.0.1/32",
            auth_method="gss",
            auth_options={"include_realm": 0},
        )
        cluster.add_hba_entry(
            type="host",
            database="all",
            user="postgres",
            address="127.0.0.1/32",
            auth_method="trust",
        )
        settings = dict(SERVER_SETTINGS, krb_server_keyfile=f"FILE:{keytab}", max_connections="20")
        settings["shared_buffers"] = "16MB"
        cluster.start(server_settings=settings)
        port = int(cluster.get_connection_spec()["port"])
        _run(
            [
                sys.executable,
                "-c",
                (
                    "import asyncio, asyncpg\n"
                    "async def main():\n"
                    f"    c = await asyncpg.connect(host='127.0.0.1', port={port}, user='postgres')\n"
                    f"    await c.execute('CREATE ROLE {USER} LOGIN')\n"
                    "    await c.close()\n"
                    "asyncio.run(main())\n"
                ),
            ],
            env,
        )
        yield {"port": port, "host": "localhost", "user": USER}
    finally:
        if cluster is not None:
            cluster.stop()
            cluster.destroy()
        if kdc is not None:
            kdc.terminate()
            try:
                kdc.wait(10)
            except subprocess.TimeoutExpired:
                kdc.kill()
                kdc.wait(10)
            if kdc.stderr is not None:
                kdc.stderr.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


async def test_gss_authentication(driver, kerberos):
    con = await driver.connect(
        host=kerberos["host"], port=kerberos["port"], user=kerberos["user"], database="postgres"
    )
    try:
        assert await con.fetchval("SELECT current_user") == USER
        # The server recorded a GSS-authenticated session for the ticket's principal.
        row = await con.fetchrow(
            "SELECT gss_authenticated, principal FROM pg_stat_gssapi WHERE pid = pg_backend_pid()"
        )
        assert row["gss_authenticated"] is True
        assert row["principal"] == f"{USER}@{REALM}"
    finally:
        await con.close()


async def test_gss_wrong_service_name(driver, kerberos):
    """No principal for ``krbsrvname``: asyncpg's InternalClientError around gssapi's error."""
    import gssapi.exceptions

    with pytest.raises(driver.exceptions.InternalClientError) as info:
        await driver.connect(
            host=kerberos["host"],
            port=kerberos["port"],
            user=kerberos["user"],
            database="postgres",
            krbsrvname="nosuchservice",
        )
    assert str(info.value).startswith("unexpected error while performing authentication: ")
    assert "nosuchservice/localhost@" in str(info.value)
    assert isinstance(info.value.__cause__, gssapi.exceptions.GSSError)


async def test_gss_without_gssapi_package(driver, kerberos, monkeypatch):
    """asyncpg's error when the optional package is missing, word for word."""

    class NoGssapi(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "gssapi" or name.startswith("gssapi."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    for name in [m for m in sys.modules if m == "gssapi" or m.startswith("gssapi.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoGssapi(), *sys.meta_path])
    with pytest.raises(driver.exceptions.InternalClientError) as info:
        await driver.connect(
            host=kerberos["host"], port=kerberos["port"], user=kerberos["user"], database="postgres"
        )
    assert str(info.value) == (
        "unexpected error while performing authentication: gssapi module not found; please "
        "install asyncpg[gssauth] to use asyncpg with Kerberos/GSSAPI/SSPI authentication"
    )
    assert isinstance(info.value.__cause__, driver.exceptions.InterfaceError)


async def test_gss_sspi_gsslib_is_refused(kerberos):
    """SSPI (Windows' gsslib) is not implemented: a clear error, whether sspilib is there or not."""
    import asyncpg_rs

    with pytest.raises(asyncpg_rs.exceptions.InternalClientError, match="sspi"):
        await asyncpg_rs.connect(
            host=kerberos["host"],
            port=kerberos["port"],
            user=kerberos["user"],
            database="postgres",
            gsslib="sspi",
        )
