"""Channel binding (beyond asyncpg): SCRAM-SHA-256-PLUS with ``tls-server-end-point`` and
libpq's ``channel_binding=disable|prefer|require``, against the TLS test server.

asyncpg 0.32 never binds (it answers ``n``, "client does not support channel binding"), so these
tests run through asyncpg_rs only. The server checks the binding data: a wrong certificate hash
fails the SCRAM exchange, so a successful ``-PLUS`` login proves the hash is right.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import unittest.mock

import pytest

import asyncpg_rs
from asyncpg_rs import connect_utils

pytestmark = [pytest.mark.timeout(60), pytest.mark.managed_cluster]


async def _mechanism(**kwargs):
    con = await asyncpg_rs.connect(**kwargs)
    try:
        assert await con.fetchval("SELECT 1") == 1
        return con._protocol._sasl_mechanism
    finally:
        await con.close()


def _kw(tls, user="scram_ssl_user", **kw):
    base = {"host": "localhost", "port": tls.port, "user": user, "database": "postgres"}
    base["password"] = "scrampass"
    base.update(kw)
    return base


@pytest.mark.parametrize("binding", ["prefer", "require"])
async def test_scram_plus_over_tls(tls_cluster, binding):
    kw = _kw(tls_cluster, ssl="require", channel_binding=binding)
    assert await _mechanism(**kw) == "SCRAM-SHA-256-PLUS"


async def test_no_binding_unless_asked(tls_cluster):
    # asyncpg never binds: without channel_binding (or PGCHANNELBINDING) neither do we.
    assert await _mechanism(**_kw(tls_cluster, ssl="require")) == "SCRAM-SHA-256"


async def test_channel_binding_disable(tls_cluster):
    kw = _kw(tls_cluster, ssl="require", channel_binding="disable")
    assert await _mechanism(**kw) == "SCRAM-SHA-256"


async def test_channel_binding_from_dsn_and_env(tls_cluster):
    dsn = (
        f"postgresql://scram_ssl_user:scrampass@localhost:{tls_cluster.port}/postgres"
        "?sslmode=require&channel_binding=disable"
    )
    assert await _mechanism(dsn=dsn) == "SCRAM-SHA-256"
    with unittest.mock.patch.dict(os.environ, {"PGCHANNELBINDING": "disable"}):
        assert await _mechanism(**_kw(tls_cluster, ssl="require")) == "SCRAM-SHA-256"
    with pytest.raises(asyncpg_rs.exceptions.ClientConfigurationError, match="channel_binding"):
        await asyncpg_rs.connect(**_kw(tls_cluster, ssl="require", channel_binding="maybe"))


async def test_plain_connection_does_not_bind(tls_cluster):
    kw = _kw(tls_cluster, user="scram_any_user", ssl="disable")
    assert await _mechanism(**kw) == "SCRAM-SHA-256"


async def test_require_refuses_a_plain_connection(tls_cluster):
    kw = _kw(tls_cluster, user="scram_any_user", ssl="disable", channel_binding="require")
    with pytest.raises(asyncpg_rs.InterfaceError, match="does not use TLS"):
        await asyncpg_rs.connect(**kw)


@pytest.mark.parametrize("user", ["md5_ssl_user", "ssl_user"])
async def test_require_refuses_authentication_without_binding(tls_cluster, user):
    # md5 and trust authenticate without SCRAM: nothing proves the server holds the certificate.
    kw = _kw(tls_cluster, user=user, ssl="require", channel_binding="require")
    kw["password"] = "md5pass"
    with pytest.raises(asyncpg_rs.InterfaceError, match="without channel binding"):
        await asyncpg_rs.connect(**kw)
    kw["channel_binding"] = "prefer"
    assert await _mechanism(**kw) is None


async def test_require_refuses_a_server_that_does_not_offer_plus(tls_cluster, startup_proxy):
    # Behind a TLS-terminating gateway the server sees a plain connection and offers only
    # SCRAM-SHA-256: the client's TLS session is not the server's, so binding is impossible.
    async with startup_proxy(direct=True) as (port, _):
        kw = _kw(tls_cluster, user="scram_any_user", port=port, ssl="require", direct_tls=True)
        # prefer: SCRAM without binding, flag "y" (the client could bind, the server did not
        # offer it); the server accepts that on a connection it does not see as TLS
        assert await _mechanism(**kw, channel_binding="prefer") == "SCRAM-SHA-256"
        with pytest.raises(asyncpg_rs.InterfaceError, match="did not offer"):
            await asyncpg_rs.connect(**kw, channel_binding="require")


async def test_wrong_binding_data_is_refused_by_the_server(tls_cluster):
    # The hash of another certificate: the server's SCRAM check must fail.
    with (
        unittest.mock.patch.object(connect_utils, "_tls_server_end_point", return_value=b"\0" * 32),
        pytest.raises(
            asyncpg_rs.InvalidAuthorizationSpecificationError,
            match="channel binding check failed",
        ),
    ):
        await asyncpg_rs.connect(**_kw(tls_cluster, ssl="require", channel_binding="prefer"))


# ----- RFC 5929: which hash of the certificate -----


@pytest.mark.parametrize(
    "hash_name,expected",
    [("SHA224", "sha224"), ("SHA256", "sha256"), ("SHA384", "sha384"), ("SHA512", "sha512")],
)
@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_certificate_signature_hash(hash_name, expected, key_type):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509 import CertificateBuilder, Name, NameAttribute
    from cryptography.x509.oid import NameOID

    key = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    name = Name([NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, getattr(hashes, hash_name)())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    assert connect_utils.certificate_signature_hash(der) == expected


def test_certificate_signature_hash_unusable():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509 import CertificateBuilder, Name, NameAttribute
    from cryptography.x509.oid import NameOID

    key = ed25519.Ed25519PrivateKey.generate()
    name = Name([NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None)
    )
    assert (
        connect_utils.certificate_signature_hash(cert.public_bytes(serialization.Encoding.DER))
        is None
    )
    for junk in (b"", b"\x30", b"\x30\x85\0\0\0\0\0", b"\x04\x00", os.urandom(64)):
        assert connect_utils.certificate_signature_hash(junk) is None


async def test_end_point_is_the_sha256_of_the_test_certificate(tls_cluster):
    # The test server's certificate is ECDSA with SHA-256: the binding data is SHA-256(DER).
    con = await asyncpg_rs.connect(**_kw(tls_cluster, ssl="require"))
    try:
        der = con._transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert connect_utils._tls_server_end_point(con._transport) == hashlib.sha256(der).digest()
    finally:
        await con.close()
