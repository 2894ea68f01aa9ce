"""TLS against a real server: every sslmode, certificates, protocol versions, libpq's fallback
attempts, direct TLS, client certificates. Differential: asyncpg 0.32 is the oracle.

The server is ``tls_cluster`` (tests/fixtures/tls.py): each role has one pg_hba.conf rule
(``ssl_user`` hostssl, ``nossl_user`` hostnossl, ``cert_user`` client certificate, ...).
``startup_proxy`` sits in front of it to count connection attempts and inject startup faults.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import ssl
import tempfile
import unittest.mock
import urllib.parse

import pytest

from tests.fixtures.certs import CLIENT_CERT_USER, CLIENT_KEY_PASSWORD

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90), pytest.mark.managed_cluster]


async def _works(driver, *, expected_ssl=None, **kwargs):
    con = await driver.connect(**kwargs)
    try:
        assert await con.fetchval("SELECT 42") == 42
        if expected_ssl is not None:
            assert con._protocol.is_ssl is expected_ssl
        in_ssl = await con.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        return bool(in_ssl)
    finally:
        await con.close()


def _dsn(tls, user, **query):
    q = urllib.parse.urlencode(query)
    return f"postgresql://{user}@localhost:{tls.port}/postgres" + (f"?{q}" if q else "")


class _Home:
    """``~/.postgresql`` with the given files, through a patched ``Path.home``."""

    def __init__(self, tls, *, ca=True, crl=False, client=False, protected=False):
        self.dir = tempfile.TemporaryDirectory(prefix="asyncpg_rs_home_")
        pg = pathlib.Path(self.dir.name) / ".postgresql"
        pg.mkdir()
        c = tls.certs
        if ca:
            shutil.copyfile(c.ca, pg / "root.crt")
        if crl:
            shutil.copyfile(c.crl, pg / "root.crl")
        if client:
            shutil.copyfile(c.client_cert, pg / "postgresql.crt")
            key = c.client_key_protected if protected else c.client_key
            shutil.copyfile(key, pg / "postgresql.key")
            os.chmod(pg / "postgresql.key", 0o600)
        self.patch = unittest.mock.patch(
            "pathlib.Path.home", unittest.mock.Mock(return_value=pathlib.Path(self.dir.name))
        )

    def __enter__(self):
        self.patch.__enter__()
        return self

    def __exit__(self, *exc):
        self.patch.__exit__(*exc)
        self.dir.cleanup()


# ----- sslmode against a hostssl-only role, a hostnossl-only role -----


@pytest.mark.parametrize("mode", ["allow", "prefer", "require"])
async def test_sslmode_reaches_hostssl_only_role(driver, tls_cluster, mode):
    """``allow`` starts plain, is refused (no encryption) and retries with TLS."""
    with _Home(tls_cluster, ca=False):
        assert await _works(
            driver, dsn=_dsn(tls_cluster, "ssl_user", sslmode=mode), expected_ssl=True
        )


async def test_sslmode_disable_refused_by_hostssl_rule(driver, tls_cluster):
    with pytest.raises(driver.InvalidAuthorizationSpecificationError, match="no encryption"):
        await driver.connect(_dsn(tls_cluster, "ssl_user", sslmode="disable"))


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
async def test_sslmode_reaches_hostnossl_only_role(driver, tls_cluster, mode):
    """``prefer`` starts with TLS, is refused (SSL on) and retries plain."""
    dsn = _dsn(tls_cluster, "nossl_user", sslmode=mode)
    assert not await _works(driver, dsn=dsn, expected_ssl=False)


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
async def test_strict_sslmode_never_falls_back_to_plain(driver, tls_cluster, mode):
    with _Home(tls_cluster), pytest.raises(driver.InvalidAuthorizationSpecificationError):
        await driver.connect(_dsn(tls_cluster, "nossl_user", sslmode=mode))


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
async def test_verify_modes_need_a_root_certificate(driver, tls_cluster, mode):
    error = driver.exceptions.ClientConfigurationError
    with _Home(tls_cluster, ca=False), pytest.raises(error, match="root certificate"):
        await driver.connect(_dsn(tls_cluster, "ssl_user", sslmode=mode))


async def test_verify_modes_with_root_certificate(driver, tls_cluster):
    with _Home(tls_cluster):
        for mode in ("require", "verify-ca", "verify-full"):
            await _works(driver, dsn=_dsn(tls_cluster, "ssl_user", sslmode=mode), expected_ssl=True)
        # verify-ca does not look at the host name; verify-full does (the cert names localhost)
        dsn = _dsn(tls_cluster, "ssl_user", sslmode="verify-ca").replace("localhost", "127.0.0.1")
        await _works(driver, dsn=dsn, expected_ssl=True)
        dsn = _dsn(tls_cluster, "ssl_user", sslmode="verify-full").replace("localhost", "127.0.0.1")
        with pytest.raises(ssl.CertificateError):
            await driver.connect(dsn)


async def test_sslrootcert_keyword_env_and_wrong_ca(driver, tls_cluster):
    certs = tls_cluster.certs
    with _Home(tls_cluster, ca=False):
        dsn = _dsn(tls_cluster, "ssl_user", sslmode="verify-full", sslrootcert=certs.ca)
        await _works(driver, dsn=dsn, expected_ssl=True)
        with unittest.mock.patch.dict(os.environ, {"PGSSLROOTCERT": certs.ca}):
            await _works(driver, dsn=_dsn(tls_cluster, "ssl_user", sslmode="verify-full"))
        with unittest.mock.patch.dict(
            os.environ, {"PGSSLMODE": "verify-ca", "PGSSLROOTCERT": certs.ca}
        ):
            await _works(
                driver,
                host="localhost",
                port=tls_cluster.port,
                user="ssl_user",
                database="postgres",
                expected_ssl=True,
            )
        dsn = _dsn(tls_cluster, "ssl_user", sslmode="verify-ca", sslrootcert=certs.other_ca)
        with pytest.raises(ssl.SSLCertVerificationError):
            await driver.connect(dsn)


async def test_crl_revokes_the_server_certificate(driver, tls_cluster):
    certs = tls_cluster.certs
    with _Home(tls_cluster, ca=False):
        for mode in ("require", "verify-ca", "verify-full"):
            dsn = _dsn(
                tls_cluster, "ssl_user", sslmode=mode, sslrootcert=certs.ca, sslcrl=certs.crl
            )
            with pytest.raises(ssl.SSLError, match="revoked"):
                await driver.connect(dsn)
        with unittest.mock.patch.dict(os.environ, {"PGSSLCRL": certs.crl}):
            dsn = _dsn(tls_cluster, "ssl_user", sslmode="verify-ca", sslrootcert=certs.ca)
            with pytest.raises(ssl.SSLError, match="revoked"):
                await driver.connect(dsn)
    with _Home(tls_cluster, crl=True):
        # ~/.postgresql/root.crl is read too; allow/prefer do not verify, so they still work
        with pytest.raises(ssl.SSLError):
            await driver.connect(_dsn(tls_cluster, "ssl_user", sslmode="verify-ca"))
        await _works(driver, dsn=_dsn(tls_cluster, "ssl_user", sslmode="prefer"), expected_ssl=True)


async def test_ssl_true_uses_the_system_trust_store(driver, tls_cluster):
    kw = tls_cluster.kwargs(user="ssl_user", ssl=True)
    with pytest.raises(ssl.SSLCertVerificationError, match="verify failed"):
        await driver.connect(**kw)
    with unittest.mock.patch.dict(os.environ, {"SSL_CERT_FILE": tls_cluster.certs.ca}):
        await _works(driver, expected_ssl=True, **kw)


async def test_custom_ssl_context(driver, tls_cluster, pg_cluster):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(tls_cluster.certs.ca)
    await _works(driver, expected_ssl=True, **tls_cluster.kwargs(user="ssl_user", ssl=ctx))
    # a context is "require": a server that says N is refused
    with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
        await driver.connect(host="127.0.0.1", port=pg_cluster.port, user="postgres", ssl=ctx)


# ----- TLS protocol versions -----


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_protocol_versions(driver, tls_cluster):
    """The server allows TLS 1.2 only."""
    base = {"sslmode": "require"}
    with pytest.raises(ssl.SSLError, match="(protocol version)|(handshake failure)"):
        await driver.connect(
            _dsn(tls_cluster, "ssl_user", ssl_min_protocol_version="TLSv1.3", **base)
        )
    with pytest.raises(ssl.SSLError, match="no protocols"):
        await driver.connect(
            _dsn(
                tls_cluster,
                "ssl_user",
                ssl_min_protocol_version="TLSv1.2",
                ssl_max_protocol_version="TLSv1.1",
                **base,
            )
        )
    await _works(
        driver,
        dsn=_dsn(
            tls_cluster,
            "ssl_user",
            ssl_min_protocol_version="TLSv1.2",
            ssl_max_protocol_version="TLSv1.2",
            **base,
        ),
    )
    env = {"PGSSLMINPROTOCOLVERSION": "TLSv1.3"}
    with unittest.mock.patch.dict(os.environ, env), pytest.raises(ssl.SSLError):
        await driver.connect(_dsn(tls_cluster, "ssl_user", **base))
    with pytest.raises(driver.exceptions.ClientConfigurationError):
        await driver.connect(
            _dsn(tls_cluster, "ssl_user", ssl_min_protocol_version="SSLv3", **base)
        )


async def test_prefer_falls_back_to_plain_when_the_handshake_fails(
    driver, tls_cluster, startup_proxy
):
    async with startup_proxy() as (port, seen):
        dsn = (
            f"postgresql://nossl_user@127.0.0.1:{port}/postgres"
            "?sslmode=prefer&ssl_min_protocol_version=TLSv1.3"
        )
        assert not await _works(driver, dsn=dsn, expected_ssl=False)
        assert seen == [True, False]


@pytest.mark.parametrize("mode", ["prefer", "require"])
async def test_handshake_failure_cause(driver, tls_cluster, startup_proxy, mode):
    async with startup_proxy() as (port, seen):
        dsn = (
            f"postgresql://ssl_user@127.0.0.1:{port}/postgres"
            f"?sslmode={mode}&ssl_min_protocol_version=TLSv1.3"
        )
        expected = (
            driver.InvalidAuthorizationSpecificationError if mode == "prefer" else ssl.SSLError
        )
        with pytest.raises(expected) as raised:
            await driver.connect(dsn)
        if mode == "prefer":
            # the plain retry is refused; the failed handshake is its cause
            assert isinstance(raised.value.__cause__, ssl.SSLError)
            assert seen == [True, False]
        else:
            assert seen == [True]


# ----- libpq's second attempt: when it happens, what error is raised -----


@pytest.mark.parametrize("mode", ["allow", "prefer"])
async def test_fallback_error_cause(driver, tls_cluster, startup_proxy, mode):
    faults = ({"error": driver.InvalidCatalogNameError}, {"error": driver.TooManyConnectionsError})
    async with startup_proxy(*faults) as (port, seen):
        with pytest.raises(driver.TooManyConnectionsError) as raised:
            await driver.connect(host="127.0.0.1", port=port, user="nossl_user", ssl=mode)
        assert isinstance(raised.value.__cause__, driver.InvalidCatalogNameError)
        assert seen == [mode == "prefer", mode == "allow"]


@pytest.mark.parametrize("mode", ["allow", "prefer"])
async def test_disconnect_before_auth_retries_the_other_transport(
    driver, tls_cluster, startup_proxy, mode
):
    user = "ssl_user" if mode == "allow" else "nossl_user"
    async with startup_proxy({"disconnect": True}) as (port, seen):
        await _works(driver, host="127.0.0.1", port=port, user=user, ssl=mode, database="postgres")
        assert seen == [mode == "prefer", mode == "allow"]


async def test_declined_sslrequest_is_not_retried(driver, tls_cluster, startup_proxy):
    fault = {"response": b"N", "error": driver.InvalidAuthorizationSpecificationError}
    async with startup_proxy(fault) as (port, seen):
        with pytest.raises(driver.InvalidAuthorizationSpecificationError):
            await driver.connect(host="127.0.0.1", port=port, user="nossl_user", ssl="prefer")
        assert seen == [True]


@pytest.mark.parametrize("response", [b"E", b"X", b"Sextra", b"Nextra"])
async def test_bad_sslrequest_answers_are_terminal(driver, tls_cluster, startup_proxy, response):
    async with startup_proxy({"response": response}) as (port, seen):
        with pytest.raises(ConnectionError) as raised:
            await driver.connect(host="127.0.0.1", port=port, user="nossl_user", ssl="prefer")
        if response == b"E":
            assert str(raised.value) == (
                f'PostgreSQL server at "127.0.0.1:{port}": server sent an error response '
                "during SSL exchange; check the server logs for details"
            )
        assert seen == [True]


@pytest.mark.parametrize("mode", ["allow", "prefer"])
async def test_error_after_authentication_is_not_retried(driver, tls_cluster, startup_proxy, mode):
    async with startup_proxy() as (port, seen):
        with pytest.raises(driver.InvalidParameterValueError):
            await driver.connect(
                host="127.0.0.1",
                port=port,
                user="postgres",
                ssl=mode,
                server_settings={"work_mem": "invalid"},
            )
        assert seen == [mode == "prefer"]
    fault = {"auth_ok": True, "error": driver.InvalidCatalogNameError}
    async with startup_proxy(fault) as (port, seen):
        with pytest.raises(driver.InvalidCatalogNameError):
            await driver.connect(host="127.0.0.1", port=port, user="postgres", ssl=mode)
        assert seen == [mode == "prefer"]


@pytest.mark.parametrize("mode", ["allow", "prefer", "require", "disable"])
async def test_cannot_connect_now_moves_to_the_next_host(driver, tls_cluster, startup_proxy, mode):
    async with startup_proxy({"error": driver.CannotConnectNowError}) as (port, seen):
        await _works(
            driver,
            host=["127.0.0.1"] * 2,
            port=[port, port],
            user="postgres",
            ssl=mode,
            database="postgres",
        )
        assert seen == [mode in ("prefer", "require")] * 2
    faults = [{"error": driver.CannotConnectNowError}] * 2
    async with startup_proxy(*faults) as (port, seen):
        with pytest.raises(driver.CannotConnectNowError):
            await driver.connect(
                host=["127.0.0.1"] * 2, port=[port, port], user="postgres", ssl=mode
            )


# ----- direct TLS (no SSLRequest), through a TLS-terminating gateway -----


@pytest.mark.parametrize("how", ["require", "verify-ca", "verify-full", "true", "context"])
async def test_direct_tls(driver, tls_cluster, startup_proxy, how):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    mode = {"true": True, "context": ctx}.get(how, how)
    async with startup_proxy(direct=True) as (port, seen):
        with unittest.mock.patch.dict(os.environ, {"SSL_CERT_FILE": tls_cluster.certs.ca}):
            dsn = (
                f"postgresql://nossl_user@localhost:{port}/postgres"
                f"?sslrootcert={tls_cluster.certs.ca}"
            )
            # the gateway talks plain to the server: pg_stat_ssl says no, is_ssl says yes
            await _works(driver, dsn=dsn, ssl=mode, direct_tls=True, expected_ssl=True)
        # a context of ours announces ALPN "postgresql" (PostgreSQL 17 requires it)
        assert seen == [("direct", None if how == "context" else "postgresql")]


async def test_direct_tls_from_dsn_and_env(driver, tls_cluster, startup_proxy):
    async with startup_proxy(direct=True) as (port, seen):
        base = f"postgresql://nossl_user@localhost:{port}/postgres"
        await _works(driver, dsn=base + "?sslmode=require&sslnegotiation=direct", expected_ssl=True)
        with unittest.mock.patch.dict(
            os.environ, {"PGSSLMODE": "require", "PGSSLNEGOTIATION": "direct"}
        ):
            await _works(driver, dsn=base, expected_ssl=True)
        assert len(seen) == 2


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", None, False])
async def test_direct_tls_needs_a_strict_sslmode(driver, tls_cluster, startup_proxy, mode):
    async with startup_proxy(direct=True) as (port, seen):
        with pytest.raises(
            driver.exceptions.ClientConfigurationError, match="direct TLS requires sslmode"
        ):
            await driver.connect(
                host="localhost", port=port, user="nossl_user", ssl=mode, direct_tls=True
            )
        assert seen == []


# ----- client certificates -----


async def test_client_certificate_required(driver, tls_cluster):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls_cluster.certs.ca)
    with pytest.raises(
        driver.InvalidAuthorizationSpecificationError, match="requires a valid client certificate"
    ):
        await driver.connect(**tls_cluster.kwargs(user=CLIENT_CERT_USER, ssl=ctx))


async def test_client_certificate_in_context(driver, tls_cluster):
    c = tls_cluster.certs
    for key in (c.client_key, c.client_key_protected):
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=c.ca)
        ctx.load_cert_chain(c.client_cert, keyfile=key, password=CLIENT_KEY_PASSWORD)
        await _works(
            driver, expected_ssl=True, **tls_cluster.kwargs(user=CLIENT_CERT_USER, ssl=ctx)
        )


async def test_client_certificate_from_dsn_env_and_home(driver, tls_cluster):
    c = tls_cluster.certs
    with _Home(tls_cluster, ca=False):
        params = {
            "sslrootcert": c.ca,
            "sslcert": c.client_cert,
            "sslkey": c.client_key,
            "sslmode": "verify-full",
        }
        await _works(driver, dsn=_dsn(tls_cluster, CLIENT_CERT_USER, **params))
        params.update(sslkey=c.client_key_protected, sslpassword=CLIENT_KEY_PASSWORD)
        await _works(driver, dsn=_dsn(tls_cluster, CLIENT_CERT_USER, **params))
        env = {"PGSSLROOTCERT": c.ca, "PGSSLCERT": c.client_cert, "PGSSLKEY": c.client_key}
        with unittest.mock.patch.dict(os.environ, env):
            await _works(driver, dsn=_dsn(tls_cluster, CLIENT_CERT_USER, sslmode="verify-full"))
        env["PGSSLKEY"] = c.client_key_protected
        with unittest.mock.patch.dict(os.environ, env):
            await _works(
                driver,
                dsn=_dsn(
                    tls_cluster,
                    CLIENT_CERT_USER,
                    sslmode="verify-full",
                    sslpassword=CLIENT_KEY_PASSWORD,
                ),
            )
    with _Home(tls_cluster, client=True):
        await _works(driver, dsn=_dsn(tls_cluster, CLIENT_CERT_USER, sslmode="verify-full"))
    with _Home(tls_cluster, client=True, protected=True):
        await _works(
            driver,
            dsn=_dsn(
                tls_cluster,
                CLIENT_CERT_USER,
                sslmode="verify-full",
                sslpassword=CLIENT_KEY_PASSWORD,
            ),
        )


# ----- a session over TLS: cancellation, COPY-sized traffic, a pool -----


async def test_cancellation_over_tls(driver, tls_cluster):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(tls_cluster.certs.ca)
    con = await driver.connect(**tls_cluster.kwargs(user="ssl_user", ssl=ctx))
    try:
        with pytest.raises(asyncio.TimeoutError):
            await con.execute("SELECT pg_sleep(10)", timeout=0.5)
        assert await con.fetchval("SELECT 43") == 43
        rows = await con.fetch("SELECT repeat('x', 1000) FROM generate_series(1, 2000)")
        assert len(rows) == 2000
    finally:
        await con.close()


@pytest.mark.parametrize(
    "user,mode,expected", [("ssl_user", "allow", True), ("nossl_user", "prefer", False)]
)
async def test_pool_over_tls_and_fallback(driver, tls_cluster, user, mode, expected):
    pool = await driver.create_pool(
        min_size=2, max_size=4, **tls_cluster.kwargs(user=user, ssl=mode)
    )
    try:

        async def worker():
            async with pool.acquire() as con:
                assert con._protocol.is_ssl is expected
                assert await con.fetchval("SELECT 1") == 1

        await asyncio.gather(*(worker() for _ in range(10)))
    finally:
        await pool.close()


@pytest.mark.parametrize("phase", ["sslrequest", "handshake", "startup"])
async def test_timeout_in_each_tls_phase(driver, tls_cluster, startup_proxy, phase):
    """A server that stops answering during the SSLRequest, the handshake or the startup: the
    connect timeout applies and no second attempt is made."""
    async with startup_proxy({"hang": phase}) as (port, seen):
        with pytest.raises(asyncio.TimeoutError):
            await driver.connect(
                host="127.0.0.1", port=port, user="nossl_user", ssl="prefer", timeout=0.5
            )
        assert seen == [True]


@pytest.mark.parametrize("mode", ["allow", "prefer"])
async def test_password_error_survives_the_fallback(driver, tls_cluster, mode):
    """hostssl + scram with a wrong password: one transport is refused by pg_hba.conf, the other
    by the password check; the password error is the one raised, in either order."""
    kw = tls_cluster.kwargs(user="scram_ssl_user", password="wrong", ssl=mode)
    with pytest.raises(driver.InvalidPasswordError, match="password authentication failed"):
        await driver.connect(**kw)
    kw["password"] = "scrampass"
    await _works(driver, expected_ssl=True, **kw)


async def test_cancel_request_goes_through_the_direct_tls_endpoint(tls_cluster, startup_proxy):
    """asyncpg_rs only: the CancelRequest of a direct-TLS session uses direct TLS too (asyncpg
    sends an SSLRequest, which a direct-TLS-only endpoint does not answer)."""
    import asyncpg_rs

    async with startup_proxy(direct=True) as (port, seen):
        con = await asyncpg_rs.connect(
            host="localhost",
            port=port,
            user="nossl_user",
            database="postgres",
            ssl="require",
            direct_tls=True,
        )
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(asyncio.TimeoutError):
                await con.execute("SELECT pg_sleep(30)", timeout=0.5)
            assert await con.fetchval("SELECT 43") == 43
            # the server stopped the sleep: the cancel arrived
            assert asyncio.get_running_loop().time() - started < 20
            assert len(seen) == 2 and seen[1] == ("direct", "postgresql")
        finally:
            await con.close()
