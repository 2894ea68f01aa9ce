"""Turn ``connect()`` arguments into the addresses to try and the session parameters.

The rules follow asyncpg 0.32 (``asyncpg.connect_utils``): a ``postgres://`` URI, explicit
keyword arguments, the ``PG*`` environment variables, the service file, the password file and
the built-in defaults, in that order of precedence, with asyncpg's quirks kept where user code
could notice them (see ``docs/compatibility.md`` for the few places where we differ).

This is the cold path of ``connect()``: it stays plain Python so it is easy to read and to
compare with asyncpg.
"""

from __future__ import annotations

import configparser
import enum
import getpass
import os
import pathlib
import platform
import re
import ssl as ssl_module
import stat
import sys
import typing
import urllib.parse
import warnings
from typing import Any, Dict, List, Optional, Tuple, Union

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
    server_settings: Dict[str, str]
    target_session_attrs: SessionAttribute
    krbsrvname: Optional[str]
    gsslib: str
    #: True when TLS starts without an SSLRequest (``direct_tls=True`` or ``sslnegotiation=direct``)
    direct_tls: bool = False
    connect_timeout: Optional[float] = None


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

    params = ConnectParams(
        user=s.user,
        password=s.password,
        database=s.database,
        ssl=ssl_value,
        sslmode=sslmode,
        ssl_negotiation=negotiation,
        server_settings=dict(settings) if settings else {},
        target_session_attrs=attrs,
        krbsrvname=s.krbsrvname,
        gsslib=s.gsslib,
        direct_tls=negotiation is SSLNegotiation.direct,
        connect_timeout=connect_timeout,
    )
    return addrs, params


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
