"""Turn ``connect()`` arguments into the addresses to try and the session parameters.

The rules follow asyncpg 0.32 (``asyncpg.connect_utils``): a ``postgres://`` URI, explicit
keyword arguments, the ``PG*`` environment variables, the service file, the password file and
the built-in defaults, in that order of precedence, with asyncpg's quirks kept where user code
could notice them (see ``docs/compatibility.md`` for the few places where we differ).

It also holds the connect path itself, as asyncpg keeps it: the loop over the addresses and the
``target_session_attrs`` check (``_connect``), one address with the ``allow``/``prefer`` second
attempt (``_connect_addr``), the SSLRequest exchange (``_create_ssl_connection``) and the
CancelRequest (``_cancel``). The TLS policy is decided once, by ``_resolve_ssl``, when the
arguments are parsed; the connect path only follows ``params.ssl``/``params.sslmode``.

This is the cold path of ``connect()``: it stays plain Python so it is easy to read and to
compare with asyncpg (whose tests patch ``_connect_addr`` and ``_can_use_connection`` here).
"""

from __future__ import annotations

import asyncio
import configparser
import enum
import getpass
import importlib
import os
import pathlib
import platform
import random
import re
import socket
import ssl as ssl_module
import stat
import struct
import sys
import typing
import urllib.parse
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import protocol

__all__ = (
    "Address",
    "ConnectParams",
    "SSLMode",
    "SSLNegotiation",
    "SessionAttribute",
    "address_to_str",
    "parse_connect_arguments",
)

#: A TCP ``(host, port)`` pair, or the path of a Unix-domain socket file.
Address = Union[Tuple[str, int], str]

_IS_WINDOWS = platform.uname().system == "Windows"

_DEFAULT_PORT = 5432
_UNIX_DEFAULT_HOSTS = (
    "/run/postgresql",
    "/var/run/postgresql",
    "/tmp",
    "/private/tmp",
    "localhost",
)
_PASSFILE_NAME = "pgpass.conf" if _IS_WINDOWS else ".pgpass"
_SERVICEFILE_NAME = ".pg_service.conf"
# PostgreSQL 17 requires this ALPN protocol name for direct TLS.
_ALPN_PROTOCOLS = ["postgresql"]


class SSLMode(enum.IntEnum):
    """libpq's ``sslmode`` values, ordered from least to most strict."""

    disable = 0
    allow = 1
    prefer = 2
    require = 3
    verify_ca = 4
    verify_full = 5

    @classmethod
    def parse(cls, value: Any) -> SSLMode:
        """Return the mode for ``'verify-full'``-style strings or an enum member.

        Raises ``KeyError`` for an unknown name.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            name = value.replace("-", "_")
        else:
            # e.g. asyncpg's own SSLMode enum
            name = value.name
        return cls.__members__[name]


class SSLNegotiation(str, enum.Enum):
    """How TLS is started: with an SSLRequest (``postgres``) or straight away (``direct``)."""

    postgres = "postgres"
    direct = "direct"


class SessionAttribute(str, enum.Enum):
    """The ``target_session_attrs`` values."""

    any = "any"
    primary = "primary"
    standby = "standby"
    prefer_standby = "prefer-standby"
    read_write = "read-write"
    read_only = "read-only"


class ConnectParams(typing.NamedTuple):
    """Everything a connection attempt needs besides the address.

    The first ten fields have the names of asyncpg's ``ConnectionParameters``.
    """

    user: str
    #: a str, None, or a (possibly async) callable returning the password
    password: Any
    database: str
    #: ``False`` (no TLS), ``None`` (Unix sockets only and no sslmode), or an ``ssl.SSLContext``
    ssl: Any
    sslmode: SSLMode
    ssl_negotiation: SSLNegotiation
    server_settings: Optional[Dict[str, str]]
    target_session_attrs: SessionAttribute
    krbsrvname: Optional[str]
    gsslib: str
    #: True when TLS starts without an SSLRequest (``direct_tls=True`` or ``sslnegotiation=direct``)
    direct_tls: bool = False
    connect_timeout: Optional[float] = None
    #: libpq's ``channel_binding``: ``disable``, ``prefer`` (None: the default) or ``require``
    #: (beyond asyncpg)
    channel_binding: Optional[str] = None
    #: libpq 16's ``load_balance_hosts``: ``disable`` (None: the default) or ``random``
    #: (beyond asyncpg)
    load_balance_hosts: Optional[str] = None


def address_to_str(addr: Address) -> str:
    """Format an address the way asyncpg's messages do: ``host:port`` or the socket path."""
    if isinstance(addr, tuple):
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


def _config_error(msg: str, **kwargs: Any) -> Exception:
    from . import exceptions

    return exceptions.ClientConfigurationError(msg, **kwargs)


# The settings gathered from every source before defaults are filled in. Each source only fills
# what is still unset, except where asyncpg lets a later source win (noted in the tables below).
class _Settings:
    def __init__(self, **kwargs: Any) -> None:
        self.host: Any = None
        self.port: Any = None
        self.user: Any = None
        self.password: Any = None
        self.passfile: Any = None
        self.database: Any = None
        self.ssl: Any = None
        self.sslcert: Any = None
        self.sslkey: Any = None
        self.sslrootcert: Any = None
        self.sslnegotiation: Any = None
        self.sslcrl: Any = None
        self.sslpassword: Any = None
        self.ssl_min_protocol_version: Any = None
        self.ssl_max_protocol_version: Any = None
        self.target_session_attrs: Any = None
        self.krbsrvname: Any = None
        self.gsslib: Any = None
        self.channel_binding: Any = None
        self.load_balance_hosts: Any = None
        self.service: Any = None
        self.server_settings: Any = None
        # Hosts as the password file sees them: the default host list counts as 'localhost'.
        self.auth_hosts: Any = None
        for name, value in kwargs.items():
            setattr(self, name, value)


# key in a URI query or a service file section -> attribute of _Settings
_OPTION_ATTRS = {
    "dbname": "database",
    "database": "database",
    "user": "user",
    "password": "password",
    "passfile": "passfile",
    "sslmode": "ssl",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "sslrootcert": "sslrootcert",
    "sslnegotiation": "sslnegotiation",
    "sslcrl": "sslcrl",
    "sslpassword": "sslpassword",
    "ssl_min_protocol_version": "ssl_min_protocol_version",
    "ssl_max_protocol_version": "ssl_max_protocol_version",
    "target_session_attrs": "target_session_attrs",
    "krbsrvname": "krbsrvname",
    "gsslib": "gsslib",
    "channel_binding": "channel_binding",
    "load_balance_hosts": "load_balance_hosts",
}

# A URI query sets these unconditionally (no keyword argument can have set them first);
# the service file, like every other option, only fills them when they are still unset.
_QUERY_ALWAYS_SET = frozenset(
    {
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslnegotiation",
        "sslcrl",
        "sslpassword",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
    }
)


def _pg_home_directory() -> Optional[pathlib.Path]:
    """Where libpq looks for .pgpass and .pg_service.conf."""
    if _IS_WINDOWS:
        appdata = os.environ.get("APPDATA")
        return pathlib.Path(appdata) / "postgresql" if appdata else None
    try:
        return pathlib.Path.home()
    except (RuntimeError, KeyError):
        return None


def _dot_postgresql_file(filename: str) -> Optional[pathlib.Path]:
    try:
        home = pathlib.Path.home()
    except (RuntimeError, KeyError):
        return None
    return (home / ".postgresql" / filename).resolve()


# -- hosts and ports ----------------------------------------------------------------------------


def _ports_for_hosts(hosts: typing.Sequence[Any], port: Any) -> List[Any]:
    """One port per host: a single port (or a one-element list) applies to every host."""
    if isinstance(port, list):
        if len(port) > 1:
            if len(port) != len(hosts):
                raise _config_error(
                    f"could not match {len(port)} port numbers to {len(hosts)} hosts"
                )
            return port
        if len(port) == 1:
            return [port[0]] * len(hosts)
    return [port] * len(hosts)


def _port_from_env() -> Union[int, List[int]]:
    spec = os.environ.get("PGPORT")
    if not spec:
        return _DEFAULT_PORT
    if "," in spec:
        return [int(p) for p in spec.split(",")]
    return int(spec)


_BRACKETED_HOST = re.compile(r"\[([^\]]+)\](?::([0-9]+))?")


def _split_hostspec(spec: str) -> Tuple[str, str]:
    """``host[:port]``, ``[v6addr][:port]`` or ``/socket/dir`` -> (host, port text)."""
    if not spec:
        raise _config_error("invalid connection URI: empty host in the host list")
    if spec.startswith("/"):
        return spec, ""
    if spec.startswith("["):
        m = _BRACKETED_HOST.match(spec)
        if m is None:
            raise _config_error(f"invalid IPv6 address in the connection URI: {spec!r}")
        return m.group(1), m.group(2) or ""
    host, _, port_text = spec.partition(":")
    return host, port_text


def _parse_host_list(
    hostlist: str, port: Any, *, unquote: bool = False
) -> Tuple[List[str], List[Any]]:
    """Parse ``h1[:p1],h2[:p2]`` (a URI netloc, a ``host=`` option or ``PGHOST``).

    A port given elsewhere (``port``) wins over the ports in the list; hosts without a port get
    ``PGPORT`` or 5432.
    """
    specs = hostlist.split(",")
    if port:
        ports = _ports_for_hosts(specs, port)
    else:
        fallback_ports = _ports_for_hosts(specs, _port_from_env())
        ports = []

    hosts = []
    for i, spec in enumerate(specs):
        host, port_text = _split_hostspec(spec)
        if unquote:
            host = urllib.parse.unquote(host)
        hosts.append(host)
        if not port:
            if port_text:
                if unquote:
                    port_text = urllib.parse.unquote(port_text)
                ports.append(int(port_text))
            else:
                ports.append(fallback_ports[i])
    return hosts, ports


def _set_port_option(s: _Settings, value: str) -> None:
    if not s.port and value:
        s.port = [int(p) for p in value.split(",")]


def _set_host_option(s: _Settings, value: str) -> None:
    if not s.host and value:
        s.host, s.port = _parse_host_list(value, s.port)


# -- the URI and the service file ---------------------------------------------------------------


def _apply_uri(s: _Settings, dsn: str, servicefile: Any) -> None:
    parsed = urllib.parse.urlparse(dsn)

    query: Dict[str, str] = {}
    if parsed.query:
        # a repeated key: the last value wins
        for key, values in urllib.parse.parse_qs(parsed.query, strict_parsing=True).items():
            query[key] = values[-1]
        uri_service = query.pop("service", None)
        if not s.service and uri_service:
            s.service = uri_service

    if servicefile is None:
        servicefile = os.getenv("PGSERVICEFILE")
    if servicefile is None:
        home = _pg_home_directory()
        service_path = home / _SERVICEFILE_NAME if home else None
    else:
        service_path = pathlib.Path(servicefile)

    if parsed.scheme not in ("postgresql", "postgres"):
        raise _config_error(
            'invalid DSN: scheme is expected to be either "postgresql" or "postgres", '
            f"got {parsed.scheme!r}"
        )

    userinfo, at, hostspec = parsed.netloc.partition("@")
    if not at:
        userinfo, hostspec = "", parsed.netloc
    uri_user, _, uri_password = userinfo.partition(":")

    if not s.host and hostspec:
        s.host, s.port = _parse_host_list(hostspec, s.port, unquote=True)

    if parsed.path and s.database is None:
        path = parsed.path.removeprefix("/")
        s.database = urllib.parse.unquote(path)

    if s.user is None and uri_user:
        s.user = urllib.parse.unquote(uri_user)
    if s.password is None and uri_password:
        s.password = urllib.parse.unquote(uri_password)

    if query:
        if "port" in query:
            _set_port_option(s, query.pop("port"))
        if "host" in query:
            _set_host_option(s, query.pop("host"))
        for key, attr in _OPTION_ATTRS.items():
            if key in query:
                value = query.pop(key)
                if key in _QUERY_ALWAYS_SET or getattr(s, attr) is None:
                    setattr(s, attr, value)
        # Whatever is left is a server setting; explicit server_settings win on a clash.
        if query:
            if s.server_settings is None:
                s.server_settings = query
            else:
                s.server_settings = {**query, **s.server_settings}

    if service_path is not None and s.service is not None:
        _apply_service_file(s, service_path)


def _apply_service_file(s: _Settings, path: pathlib.Path) -> None:
    conf = configparser.ConfigParser()
    conf.read(path)
    if s.service not in conf.sections():
        return
    section = conf[s.service]
    if "port" in section:
        _set_port_option(s, section["port"])
    if "host" in section:
        _set_host_option(s, section["host"])
    for key, attr in _OPTION_ATTRS.items():
        if key in section and getattr(s, attr) is None:
            setattr(s, attr, section[key])


# -- the password file --------------------------------------------------------------------------


def _read_passfile(path: pathlib.Path) -> List[Tuple[str, ...]]:
    """The entries of a .pgpass file, or [] if it is missing, unsafe or unreadable."""
    entries = []
    try:
        if not path.exists():
            return []
        if not path.is_file():
            warnings.warn(f"password file {path!r} is not a plain file", stacklevel=2)
            return []
        if not _IS_WINDOWS and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(
                f"password file {path!r} has group or world access; "
                "permissions should be u=rw (0600) or less",
                stacklevel=2,
            )
            return []
        with path.open("rt") as f:
            for raw in f:
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                # As in asyncpg, `\:` keeps a colon inside a field and `\\` is a backslash
                # before a separator; the escapes themselves stay in the field text.
                line = line.replace("\\\\", "\n")
                fields = re.split(r"(?<!\\):", line, maxsplit=4)
                if len(fields) == 5:
                    entries.append(tuple(f.replace("\n", "\\\\") for f in fields))
    except OSError:
        pass
    return entries


def _password_from_passfile(
    path: pathlib.Path,
    hosts: typing.Sequence[str],
    ports: typing.Sequence[int],
    database: str,
    user: str,
) -> Optional[str]:
    entries = _read_passfile(path)
    if not entries:
        return None
    for host, port in zip(hosts, ports):
        if host.startswith("/"):
            # a Unix socket matches as 'localhost'
            host = "localhost"
        for e_host, e_port, e_database, e_user, e_password in entries:
            if (
                e_host in ("*", host)
                and e_port in ("*", str(port))
                and e_database in ("*", database)
                and e_user in ("*", user)
            ):
                return e_password
    return None


# -- TLS ----------------------------------------------------------------------------------------


def _tls_version(text: str) -> ssl_module.TLSVersion:
    if text.startswith("SSL"):
        raise _config_error(f"Unsupported TLS version: {text}")
    try:
        return ssl_module.TLSVersion[text.replace(".", "_")]
    except KeyError:
        raise _config_error(f"No such TLS version: {text}") from None


def _load_trust_roots(ctx: ssl_module.SSLContext, mode: SSLMode, s: _Settings) -> None:
    rootcert = s.sslrootcert
    if rootcert is None:
        rootcert = os.getenv("PGSSLROOTCERT")
    if rootcert:
        ctx.load_verify_locations(cafile=rootcert)
        ctx.verify_mode = ssl_module.CERT_REQUIRED
    else:
        default_root = _dot_postgresql_file("root.crt")
        try:
            if default_root is None:
                raise FileNotFoundError
            ctx.load_verify_locations(cafile=default_root)
        except (FileNotFoundError, NotADirectoryError):
            if mode == SSLMode.require:
                # 'require' without a root certificate encrypts but does not verify
                ctx.verify_mode = ssl_module.CERT_NONE
            elif default_root is None:
                raise _config_error(
                    'root certificate file "~/.postgresql/root.crt" does not exist or '
                    "cannot be accessed",
                    hint="Provide the certificate file directly or make sure "
                    '"~/.postgresql/root.crt" exists and is readable.',
                    detail="Could not determine location of user home directory (HOME is "
                    "either unset, inaccessible, or does not point to a valid directory)",
                ) from None
            else:
                raise _config_error(
                    f'root certificate file "{default_root}" does not exist or cannot be accessed',
                    hint=f'Provide the certificate file directly or make sure "{default_root}" '
                    "exists and is readable.",
                    detail=None,
                ) from None
        else:
            ctx.verify_mode = ssl_module.CERT_REQUIRED

    crl = s.sslcrl
    if crl is None:
        crl = os.getenv("PGSSLCRL")
    if crl:
        ctx.load_verify_locations(cafile=crl)
        ctx.verify_flags |= ssl_module.VERIFY_CRL_CHECK_CHAIN
    else:
        default_crl = _dot_postgresql_file("root.crl")
        if default_crl is not None:
            try:
                ctx.load_verify_locations(cafile=default_crl)
            except (FileNotFoundError, NotADirectoryError):
                pass
            else:
                ctx.verify_flags |= ssl_module.VERIFY_CRL_CHECK_CHAIN


def _load_client_certificate(ctx: ssl_module.SSLContext, s: _Settings) -> None:
    key = s.sslkey
    if key is None:
        key = os.getenv("PGSSLKEY")
    if not key:
        key = _dot_postgresql_file("postgresql.key")
        if key is not None and not key.exists():
            key = None
    key_password = s.sslpassword or ""

    cert = s.sslcert
    if cert is None:
        cert = os.getenv("PGSSLCERT")
    if cert:
        ctx.load_cert_chain(cert, keyfile=key, password=lambda: key_password)
        return
    default_cert = _dot_postgresql_file("postgresql.crt")
    if default_cert is not None:
        try:
            ctx.load_cert_chain(default_cert, keyfile=key, password=lambda: key_password)
        except (FileNotFoundError, NotADirectoryError):
            pass


def _ssl_context_for_mode(mode: SSLMode, s: _Settings) -> ssl_module.SSLContext:
    """The context asyncpg builds for an sslmode of ``allow`` or stricter."""
    ctx = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = mode >= SSLMode.verify_full
    if mode < SSLMode.require:
        ctx.verify_mode = ssl_module.CERT_NONE
    else:
        _load_trust_roots(ctx, mode, s)

    _load_client_certificate(ctx, s)

    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment and hasattr(ctx, "keylog_filename"):
        ctx.keylog_filename = keylog

    min_version = s.ssl_min_protocol_version
    if min_version is None:
        min_version = os.getenv("PGSSLMINPROTOCOLVERSION")
    ctx.minimum_version = _tls_version(min_version or "TLSv1.2")

    max_version = s.ssl_max_protocol_version
    if max_version is None:
        max_version = os.getenv("PGSSLMAXPROTOCOLVERSION")
    if max_version:
        ctx.maximum_version = _tls_version(max_version)

    if ssl_module.HAS_ALPN:
        ctx.set_alpn_protocols(_ALPN_PROTOCOLS)
    return ctx


def _resolve_ssl(s: _Settings) -> Tuple[Any, SSLMode]:
    ssl = s.ssl
    if isinstance(ssl, (str, enum.Enum)):
        try:
            mode = SSLMode.parse(ssl)
        except (KeyError, AttributeError):
            modes = ", ".join(m.name.replace("_", "-") for m in SSLMode)
            raise _config_error(f"`sslmode` parameter must be one of: {modes}") from None
        if mode < SSLMode.allow:
            return False, mode
        return _ssl_context_for_mode(mode, s), mode
    if ssl is True:
        ctx = ssl_module.create_default_context()
        if ssl_module.HAS_ALPN:
            ctx.set_alpn_protocols(_ALPN_PROTOCOLS)
        return ctx, SSLMode.verify_full
    if isinstance(ssl, ssl_module.SSLContext):
        return ssl, SSLMode.require
    return ssl, SSLMode.disable


def _resolve_negotiation(s: _Settings, direct_tls: Any) -> SSLNegotiation:
    if direct_tls is not None:
        return SSLNegotiation.direct if direct_tls else SSLNegotiation.postgres
    value = s.sslnegotiation
    if value is None:
        value = os.environ.get("PGSSLNEGOTIATION")
    if value is None:
        return SSLNegotiation.postgres
    try:
        return SSLNegotiation(value)
    except ValueError:
        modes = ", ".join(m.value for m in SSLNegotiation)
        raise _config_error(f"`sslnegotiation` parameter must be one of: {modes}") from None


# -- the whole thing ----------------------------------------------------------------------------


def parse_connect_arguments(
    *,
    dsn: Optional[str],
    host: Any,
    port: Any,
    user: Optional[str],
    password: Any,
    passfile: Any,
    database: Optional[str],
    ssl: Any,
    direct_tls: Optional[bool],
    server_settings: Optional[Dict[str, str]],
    target_session_attrs: Optional[str],
    service: Optional[str] = None,
    servicefile: Any = None,
    krbsrvname: Optional[str] = None,
    gsslib: Optional[str] = None,
    connect_timeout: Optional[float] = None,
    channel_binding: Optional[str] = None,
    load_balance_hosts: Optional[str] = None,
) -> Tuple[List[Address], ConnectParams]:
    """Resolve ``connect()`` arguments into the addresses to try, in order, and the parameters.

    Explicit arguments win over the DSN, the DSN over the service file, and those over the
    ``PG*`` environment variables and the defaults, as in asyncpg 0.32. Raises
    ``ClientConfigurationError`` for invalid settings.
    """
    s = _Settings(
        host=host,
        port=port,
        user=user,
        password=password,
        passfile=passfile,
        database=database,
        ssl=ssl,
        service=service,
        server_settings=server_settings,
        target_session_attrs=target_session_attrs,
        krbsrvname=krbsrvname,
        gsslib=gsslib,
        channel_binding=channel_binding,
        load_balance_hosts=load_balance_hosts,
    )

    # asyncpg reads the service file only when a DSN is given.
    if dsn:
        _apply_uri(s, dsn, servicefile)

    if not s.host:
        env_hosts = os.environ.get("PGHOST")
        if env_hosts:
            s.host, s.port = _parse_host_list(env_hosts, s.port)
    if not s.host:
        s.auth_hosts = ["localhost"]
        s.host = ["localhost"] if _IS_WINDOWS else list(_UNIX_DEFAULT_HOSTS)
    if not isinstance(s.host, (list, tuple)):
        s.host = [s.host]
    if s.auth_hosts is None:
        s.auth_hosts = s.host

    if not s.port:
        ports: Any = _port_from_env()
    elif isinstance(s.port, (list, tuple)):
        ports = [int(p) for p in s.port]
    else:
        ports = int(s.port)
    ports = _ports_for_hosts(s.host, ports)

    if s.user is None:
        s.user = os.getenv("PGUSER") or getpass.getuser()
    if s.password is None:
        s.password = os.getenv("PGPASSWORD")
    if s.database is None:
        s.database = os.getenv("PGDATABASE")
    if s.database is None:
        s.database = s.user
    if s.user is None:
        raise _config_error("could not determine user name to connect with")
    if s.database is None:
        raise _config_error("could not determine database name to connect to")

    if s.password is None:
        passfile_path: Optional[pathlib.Path]
        if s.passfile is None:
            s.passfile = os.getenv("PGPASSFILE")
        if s.passfile is None:
            home = _pg_home_directory()
            passfile_path = home / _PASSFILE_NAME if home else None
        else:
            passfile_path = pathlib.Path(s.passfile)
        if passfile_path is not None:
            s.password = _password_from_passfile(
                passfile_path, s.auth_hosts, ports, s.database, s.user
            )

    addrs: List[Address] = []
    have_tcp = False
    for h, p in zip(s.host, ports):
        if h.startswith("/"):
            addrs.append(h if ".s.PGSQL." in h else os.path.join(h, f".s.PGSQL.{p}"))
        else:
            addrs.append((h, p))
            have_tcp = True
    if not addrs:
        from . import exceptions

        raise exceptions.InternalClientError(
            "could not determine the database address to connect to"
        )

    if s.ssl is None:
        s.ssl = os.getenv("PGSSLMODE")
    if s.ssl is None and have_tcp:
        s.ssl = "prefer"

    negotiation = _resolve_negotiation(s, direct_tls)
    ssl_value, sslmode = _resolve_ssl(s)
    if negotiation is SSLNegotiation.direct and sslmode < SSLMode.require:
        raise _config_error("direct TLS requires sslmode=require, verify-ca, or verify-full")

    settings = s.server_settings
    if settings is not None and (
        not isinstance(settings, dict)
        or not all(isinstance(k, str) for k in settings)
        or not all(isinstance(v, str) for v in settings.values())
    ):
        raise _config_error("server_settings is expected to be None or a Dict[str, str]")

    attrs = s.target_session_attrs
    if attrs is None:
        attrs = os.getenv("PGTARGETSESSIONATTRS", SessionAttribute.any)
    try:
        attrs = SessionAttribute(attrs)
    except ValueError:
        choices = [a.value for a in SessionAttribute]
        raise _config_error(
            f"target_session_attrs is expected to be one of {choices!r}, got {attrs!r}"
        ) from None

    if s.krbsrvname is None:
        s.krbsrvname = os.getenv("PGKRBSRVNAME")
    if s.gsslib is None:
        s.gsslib = os.getenv("PGGSSLIB")
        if s.gsslib is None:
            s.gsslib = "sspi" if _IS_WINDOWS else "gssapi"
    if s.gsslib not in ("gssapi", "sspi"):
        raise _config_error(f"gsslib parameter must be either 'gssapi' or 'sspi', got {s.gsslib!r}")

    channel_binding = _choice(
        "channel_binding",
        s.channel_binding,
        "PGCHANNELBINDING",
        ("disable", "prefer", "require"),
    )
    load_balance = _choice(
        "load_balance_hosts",
        s.load_balance_hosts,
        "PGLOADBALANCEHOSTS",
        ("disable", "random"),
    )
    if load_balance == "random":
        random.shuffle(addrs)

    params = ConnectParams(
        user=s.user,
        password=s.password,
        database=s.database,
        ssl=ssl_value,
        sslmode=sslmode,
        ssl_negotiation=negotiation,
        server_settings=dict(settings) if settings is not None else None,
        target_session_attrs=attrs,
        krbsrvname=s.krbsrvname,
        gsslib=s.gsslib,
        direct_tls=negotiation is SSLNegotiation.direct,
        connect_timeout=connect_timeout,
        channel_binding=channel_binding,
        load_balance_hosts=load_balance,
    )
    return addrs, params


def _choice(name: str, value: Any, env: str, choices: Tuple[str, ...]) -> Optional[str]:
    """A libpq keyword with a fixed set of values: the argument, else ``env``, else None (the
    default; kept as None so that the parameters compare equal to asyncpg's)."""
    if value is None:
        value = os.environ.get(env) or None
    if value is not None and value not in choices:
        raise _config_error(f"{name} must be one of: {', '.join(choices)}; got {value!r}")
    return value


def _parse_connect_dsn_and_args(
    *,
    dsn: Any,
    host: Any,
    port: Any,
    user: Any,
    password: Any,
    passfile: Any,
    database: Any,
    ssl: Any,
    service: Any,
    servicefile: Any,
    direct_tls: Any,
    server_settings: Any,
    target_session_attrs: Any,
    krbsrvname: Any,
    gsslib: Any,
) -> Tuple[List[Address], ConnectParams]:
    """asyncpg's private name for :func:`parse_connect_arguments`, for code that calls it."""
    return parse_connect_arguments(
        dsn=dsn,
        host=host,
        port=port,
        user=user,
        password=password,
        passfile=passfile,
        database=database,
        ssl=ssl,
        direct_tls=direct_tls,
        server_settings=server_settings,
        target_session_attrs=target_session_attrs,
        service=service,
        servicefile=servicefile,
        krbsrvname=krbsrvname,
        gsslib=gsslib,
    )


# -- connecting ---------------------------------------------------------------------------------

#: The protocol codes of the two "startup packets" that are not a StartupMessage.
_CANCEL_REQUEST_CODE = 80877102
_SSL_REQUEST_CODE = 80877103


class _RetryConnectSignal(Exception):
    """The first attempt of ``allow``/``prefer`` failed early enough to try the other transport.

    ``__cause__`` is the error of that first attempt.
    """


class _NextHostSignal(Exception):
    """The server refused before authentication with ``cannot_connect_now`` (starting up, shutting
    down, in recovery without hot standby): the next host is tried. ``__cause__`` is that error."""


class TLSUpgradeProto(asyncio.Protocol):
    """Reads the one-byte answer to an SSLRequest; the real protocol takes over afterwards.

    ``on_data`` resolves to True (``S``: start TLS), False (``N``, accepted only when TLS is
    advisory, i.e. ``sslmode=prefer`` with an unverified context) or fails with
    ``ConnectionError``. Anything else, including bytes after the answer byte, is refused: they
    would be unauthenticated data injected before the handshake (CVE-2021-23222). A pre-TLS
    ErrorResponse is never parsed or shown (CVE-2024-10977).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        ssl_context: ssl_module.SSLContext,
        ssl_is_advisory: bool,
    ) -> None:
        self.on_data: asyncio.Future[bool] = loop.create_future()
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.ssl_is_advisory = ssl_is_advisory

    def data_received(self, data: bytes) -> None:
        if self.on_data.done():
            return
        where = f'PostgreSQL server at "{self.host}:{self.port}"'
        if data == b"S":
            self.on_data.set_result(True)
        elif (
            data == b"N"
            and self.ssl_is_advisory
            and self.ssl_context.verify_mode == ssl_module.CERT_NONE
        ):
            self.on_data.set_result(False)
        elif data.startswith(b"E"):
            self.on_data.set_exception(
                ConnectionError(
                    f"{where}: server sent an error response during SSL exchange; "
                    "check the server logs for details"
                )
            )
        else:
            self.on_data.set_exception(ConnectionError(f"{where} rejected SSL upgrade"))

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self.on_data.done():
            self.on_data.set_exception(
                exc if exc is not None else ConnectionError("unexpected connection_lost() call")
            )
            # Nobody may be waiting any more: a task cancelled inside create_connection() (e.g.
            # a cancel request abandoned by close()) closes the transport before it sees this
            # protocol. A waiter still gets the exception; an orphan is not logged.
            self.on_data.exception()


async def _create_ssl_connection(
    protocol_factory: Callable[[], Any],
    host: str,
    port: int,
    *,
    loop: asyncio.AbstractEventLoop,
    ssl_context: ssl_module.SSLContext,
    ssl_is_advisory: bool = False,
    retry: bool = False,
) -> Tuple[asyncio.Transport, Any]:
    """Connect, send an SSLRequest and start TLS if the server agrees.

    Returns the transport and the protocol made by ``protocol_factory``, with ``is_ssl`` set.
    With ``retry`` (the first attempt of ``sslmode=prefer``), a failed handshake raises
    ``_RetryConnectSignal`` from the ``ssl.SSLError``/``OSError``, so that a plain connection is
    tried next.
    """
    tr, pr = await loop.create_connection(
        lambda: TLSUpgradeProto(loop, host, port, ssl_context, ssl_is_advisory), host, port
    )
    tr.write(struct.pack("!ii", 8, _SSL_REQUEST_CODE))
    try:
        do_ssl_upgrade = await pr.on_data
    except (Exception, asyncio.CancelledError):
        tr.close()
        raise

    new_tr: Any = tr
    if do_ssl_upgrade:
        try:
            new_tr = await loop.start_tls(tr, pr, ssl_context, server_hostname=host)
            if new_tr is None:
                raise ConnectionError("connection closed during TLS handshake")
        except (Exception, asyncio.CancelledError) as exc:
            tr.close()
            if retry and isinstance(exc, OSError) and not isinstance(exc, asyncio.TimeoutError):
                raise _RetryConnectSignal() from exc
            raise

    pg_proto = protocol_factory()
    pg_proto.is_ssl = do_ssl_upgrade
    new_tr.set_protocol(pg_proto)
    pg_proto.connection_made(new_tr)
    return new_tr, pg_proto


async def _resolve_password(password: Any) -> Any:
    """A password given as a callable (possibly async) is called once per address."""
    if callable(password):
        password = password()
        if hasattr(password, "__await__"):
            password = await password
    return password


async def _connect_addr(
    *,
    addr: Address,
    loop: asyncio.AbstractEventLoop,
    params: ConnectParams,
    config: Any,
    connection_class: type,
    record_class: type,
) -> Any:
    """Connect to one address, with libpq's second attempt for ``allow`` and ``prefer``.

    ``allow`` tries plain first and TLS second; ``prefer`` tries TLS first and plain second.
    The second attempt is made only when the first failed before authentication succeeded
    (a server error, a dropped connection, or, for ``prefer``, a failed handshake); its error is
    raised with the first one as ``__cause__``.
    """
    params_input = params
    if callable(params.password):
        params = params._replace(password=await _resolve_password(params.password))
    args = (addr, loop, config, connection_class, record_class, params_input)

    if isinstance(addr, str) or params.direct_tls:
        return await __connect_addr(params, False, *args)
    if params.sslmode == SSLMode.allow:
        params_retry = params
        params = params._replace(ssl=None)
    elif params.sslmode == SSLMode.prefer:
        params_retry = params._replace(ssl=None)
    else:
        return await __connect_addr(params, False, *args)

    try:
        return await __connect_addr(params, True, *args)
    except _RetryConnectSignal as retry:
        first_error = retry.__cause__
        assert first_error is not None

    try:
        return await __connect_addr(params_retry, False, *args)
    except _NextHostSignal as exc:
        # _connect unwraps this when no host is left; keep the first error in the chain.
        assert exc.__cause__ is not None
        exc.__cause__.__cause__ = first_error
        raise
    except (Exception, asyncio.CancelledError) as second_error:
        from . import exceptions

        # A wrong password on the preferred transport says more than a rejection of the other.
        if (
            isinstance(first_error, exceptions.InvalidPasswordError)
            and not isinstance(second_error, exceptions.InvalidPasswordError)
            and isinstance(
                second_error,
                (
                    exceptions.InvalidAuthorizationSpecificationError,
                    exceptions.ConnectionDoesNotExistError,
                ),
            )
        ):
            raise first_error from None
        raise second_error from first_error


def _tune_socket(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or getattr(sock, "family", None) == getattr(socket, "AF_UNIX", None):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except (OSError, AttributeError):
        pass


async def __connect_addr(
    params: ConnectParams,
    retry: bool,
    addr: Address,
    loop: asyncio.AbstractEventLoop,
    config: Any,
    connection_class: type,
    record_class: type,
    params_input: ConnectParams,
) -> Any:
    """One connection attempt with the transport ``params`` asks for."""
    from . import exceptions
    from ._native import Record

    def proto_factory() -> Any:
        # Looked up on the module at each connection, so that a test can swap the class in
        # (asyncpg's tests patch ``connect_utils.protocol.Protocol``).
        pr = protocol.Protocol(
            loop,
            config.statement_cache_size,
            config.max_cacheable_statement_size,
            config.max_cached_statement_lifetime,
            None if record_class is Record else record_class,
        )
        pr.is_ssl = False
        return pr

    connector: Any
    if isinstance(addr, str):
        connector = loop.create_unix_connection(proto_factory, addr)
    elif params.ssl and params.direct_tls:
        # TLS straight away, no SSLRequest (PostgreSQL 17's sslnegotiation=direct, or a
        # TLS-terminating gateway).
        connector = _create_direct_tls_connection(proto_factory, addr, loop, params.ssl)
    elif params.ssl:
        connector = _create_ssl_connection(
            proto_factory,
            addr[0],
            addr[1],
            loop=loop,
            ssl_context=params.ssl,
            ssl_is_advisory=params.sslmode == SSLMode.prefer,
            retry=retry and params.sslmode == SSLMode.prefer,
        )
    else:
        connector = loop.create_connection(proto_factory, addr[0], addr[1])

    tr, pr = await connector
    _tune_socket(tr)

    try:
        settings = list((params.server_settings or {}).items())
        end_point = _tls_server_end_point(tr) if pr.is_ssl else None
        await pr.startup(
            params.user,
            params.database,
            params.password,
            settings,
            params.channel_binding,
            end_point,
            _GssAuth(addr, params.krbsrvname, params.gsslib),
        )
    except exceptions.PostgresError as exc:
        tr.abort()
        auth_received = bool(getattr(pr, "_auth_received", False))
        if not auth_received and isinstance(exc, exceptions.CannotConnectNowError):
            raise _NextHostSignal() from exc
        # Retry only before AuthenticationOk, and only on the transport not tried yet.
        if (
            retry
            and not auth_received
            and (
                (params.sslmode == SSLMode.allow and not pr.is_ssl)
                or (params.sslmode == SSLMode.prefer and pr.is_ssl)
            )
        ):
            raise _RetryConnectSignal() from exc
        raise
    except (Exception, asyncio.CancelledError):
        tr.abort()
        raise

    return connection_class(pr, tr, loop, addr, config, params_input)


# Signature algorithm OID -> the hash tls-server-end-point uses (RFC 5929 section 4.1: the
# certificate's signature hash, except MD5 and SHA-1, which are replaced by SHA-256).
_SIGNATURE_HASHES = {
    "1.2.840.113549.1.1.4": "sha256",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": "sha256",  # sha1WithRSAEncryption
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.10045.4.1": "sha256",  # ecdsa-with-SHA1
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
    "1.2.840.10040.4.3": "sha256",  # dsa-with-sha1
    "2.16.840.1.101.3.4.3.1": "sha224",
    "2.16.840.1.101.3.4.3.2": "sha256",
}


def _der_header(data: bytes, pos: int) -> Tuple[int, int, int]:
    """(tag, start of the contents, end of the contents) of the DER element at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER element")
    return tag, pos, pos + length


def _oid_text(raw: bytes) -> str:
    parts = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def certificate_signature_hash(der: bytes) -> Optional[str]:
    """The hashlib name tls-server-end-point uses for this DER certificate, or None when its
    signature algorithm has no such hash (RSASSA-PSS, Ed25519: PostgreSQL cannot bind either)."""
    try:
        tag, pos, _ = _der_header(der, 0)  # Certificate ::= SEQUENCE
        if tag != 0x30:
            return None
        _, _, tbs_end = _der_header(der, pos)  # tbsCertificate
        tag, pos, _ = _der_header(der, tbs_end)  # signatureAlgorithm ::= SEQUENCE
        if tag != 0x30:
            return None
        tag, start, end = _der_header(der, pos)  # algorithm OBJECT IDENTIFIER
        if tag != 0x06 or start == end:
            return None
        return _SIGNATURE_HASHES.get(_oid_text(der[start:end]))
    except (IndexError, ValueError):
        return None


class _GssAuth:
    """GSSAPI (Kerberos) tokens for the protocol's authentication exchange, as asyncpg computes
    them: the optional ``gssapi`` package initiates a context with the service
    ``{krbsrvname}@{host}`` (``krbsrvname`` defaults to ``postgres``); the protocol calls this
    object with None for AuthenticationGSS, then with each AuthenticationGSSContinue token, and
    sends back what it returns (None: nothing to send)."""

    __slots__ = ("_ctx", "_gsslib", "_host", "_service")

    def __init__(self, addr: Any, krbsrvname: Optional[str], gsslib: Optional[str]) -> None:
        self._host = None if isinstance(addr, str) else addr[0]
        self._service = krbsrvname or "postgres"
        self._gsslib = gsslib or "gssapi"
        self._ctx: Any = None

    def _init_context(self) -> None:
        from . import exceptions

        module = "gssapi" if self._gsslib == "gssapi" else "sspilib"
        try:
            lib: Any = importlib.import_module(module)
        except ModuleNotFoundError:
            raise exceptions.InterfaceError(
                f"{module} module not found; please install asyncpg[gssauth] to "
                "use asyncpg with Kerberos/GSSAPI/SSPI authentication"
            ) from None
        if self._host is None:
            raise exceptions.InternalClientError(
                "GSSAPI/SSPI authentication is only supported for TCP/IP connections"
            )
        if module != "gssapi":
            raise exceptions.InterfaceError(
                "SSPI authentication (gsslib='sspi') is not supported by asyncpg_rs; use gsslib='gssapi'"
            )
        name = lib.Name(f"{self._service}@{self._host}", lib.NameType.hostbased_service)
        self._ctx = lib.SecurityContext(name=name, usage="initiate")

    def __call__(self, server_token: Optional[bytes]) -> Optional[bytes]:
        if self._ctx is None:
            self._init_context()
        token = self._ctx.step(server_token)
        return token or None


def _tls_server_end_point(transport: Any) -> Optional[bytes]:
    """RFC 5929 ``tls-server-end-point`` data of this TLS session, for SCRAM-SHA-256-PLUS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    name = certificate_signature_hash(der)
    if name is None:
        return None
    import hashlib

    return hashlib.new(name, der).digest()


async def _create_direct_tls_connection(
    proto_factory: Callable[[], Any],
    addr: Tuple[str, int],
    loop: asyncio.AbstractEventLoop,
    ssl_context: ssl_module.SSLContext,
) -> Tuple[asyncio.Transport, Any]:
    tr, pr = await loop.create_connection(proto_factory, addr[0], addr[1], ssl=ssl_context)
    pr.is_ssl = True
    return tr, pr


class SessionAttributeCheck(typing.Protocol):
    def __call__(self, connection: Any) -> typing.Awaitable[bool]: ...


def _accept_in_hot_standby(should_be_in_hot_standby: bool) -> SessionAttributeCheck:
    """``in_hot_standby`` as the server reported it (PostgreSQL 14+), else ask the server."""

    async def can_be_used(connection: Any) -> bool:
        hot = getattr(connection.get_settings(), "in_hot_standby", None)
        if hot is not None:
            is_standby = hot == "on"
        else:
            is_standby = await connection.fetchval("SELECT pg_catalog.pg_is_in_recovery()")
        return bool(is_standby) == should_be_in_hot_standby

    return can_be_used


def _accept_read_only(should_be_read_only: bool) -> SessionAttributeCheck:
    """Read-only when ``default_transaction_read_only`` is on or the server is a standby."""

    async def can_be_used(connection: Any) -> bool:
        if getattr(connection.get_settings(), "default_transaction_read_only", "off") == "on":
            return should_be_read_only
        return await _accept_in_hot_standby(should_be_read_only)(connection)

    return can_be_used


async def _accept_any(connection: Any) -> bool:
    return True


target_attrs_check: Dict[SessionAttribute, SessionAttributeCheck] = {
    SessionAttribute.any: _accept_any,
    SessionAttribute.primary: _accept_in_hot_standby(False),
    SessionAttribute.standby: _accept_in_hot_standby(True),
    SessionAttribute.prefer_standby: _accept_in_hot_standby(True),
    SessionAttribute.read_write: _accept_read_only(False),
    SessionAttribute.read_only: _accept_read_only(True),
}


async def _can_use_connection(connection: Any, attr: SessionAttribute) -> bool:
    return await target_attrs_check[attr](connection)


async def _connect(
    *,
    loop: asyncio.AbstractEventLoop,
    connection_class: type,
    record_class: type,
    config: Any,
    **kwargs: Any,
) -> Any:
    """Try the addresses in order; return the first connection whose session fits
    ``target_session_attrs`` (``prefer-standby`` falls back to any connected host).

    Connection failures (``OSError``) and ``cannot_connect_now`` move on to the next host; other
    server errors (a wrong password, an unknown database) end the search, as in libpq and asyncpg.
    Rejected connections are terminated without waiting.
    """
    from . import exceptions

    addrs, params = parse_connect_arguments(**kwargs)
    target_attr = params.target_session_attrs

    candidates: List[Any] = []
    chosen = None
    last_error: Optional[BaseException] = None
    try:
        for addr in addrs:
            try:
                conn = await _connect_addr(
                    addr=addr,
                    loop=loop,
                    params=params,
                    config=config,
                    connection_class=connection_class,
                    record_class=record_class,
                )
                candidates.append(conn)
                if await _can_use_connection(conn, target_attr):
                    chosen = conn
                    break
            except OSError as ex:
                last_error = ex
            except _NextHostSignal as ex:
                last_error = ex.__cause__
        else:
            if target_attr == SessionAttribute.prefer_standby and candidates:
                chosen = random.choice(candidates)
    finally:
        for c in candidates:
            if c is not chosen:
                c.terminate()

    if chosen is not None:
        return chosen
    raise last_error or exceptions.TargetServerAttributeNotMatched(
        f"None of the hosts match the target attribute requirement {target_attr!r}"
    )


async def _cancel(
    *,
    loop: asyncio.AbstractEventLoop,
    addr: Address,
    params: ConnectParams,
    backend_pid: int,
    backend_secret: int,
) -> None:
    """Send a CancelRequest on a new connection, over TLS when the session asked for TLS
    (except ``allow``, whose plain first attempt is what usually succeeded), and wait until the
    server closes it."""

    class CancelProto(asyncio.Protocol):
        def __init__(self) -> None:
            self.on_disconnect: asyncio.Future[bool] = loop.create_future()
            self.is_ssl = False

        def connection_lost(self, exc: Optional[Exception]) -> None:
            if not self.on_disconnect.done():
                self.on_disconnect.set_result(True)

    tr: Any = None
    try:
        if isinstance(addr, str):
            tr, pr = await loop.create_unix_connection(CancelProto, addr)
        elif params.ssl and params.direct_tls:
            tr, pr = await _create_direct_tls_connection(CancelProto, addr, loop, params.ssl)
        elif params.ssl and params.sslmode != SSLMode.allow:
            tr, pr = await _create_ssl_connection(
                CancelProto,
                addr[0],
                addr[1],
                loop=loop,
                ssl_context=params.ssl,
                ssl_is_advisory=params.sslmode == SSLMode.prefer,
            )
        else:
            tr, pr = await loop.create_connection(CancelProto, addr[0], addr[1])
            _tune_socket(tr)
        tr.write(struct.pack("!iiii", 16, _CANCEL_REQUEST_CODE, backend_pid, backend_secret))
        await pr.on_disconnect
    finally:
        # (a task still waiting when its loop is closed must not fail in its cleanup)
        if tr is not None and not loop.is_closed():
            tr.close()
