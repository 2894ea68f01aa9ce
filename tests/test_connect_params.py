"""connect() argument parsing: DSN, keywords, environment, passfile, service file.

Most cases are differential: the same input goes through asyncpg 0.32's parser and ours, and
the addresses, parameters, warnings and exceptions (class name and message) must agree. No
server is needed.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import ssl
import stat
import subprocess
import sys
import types
import warnings

import pytest

from tests.fixtures.tools import require_tool

asyncpg_connect_utils = pytest.importorskip("asyncpg.connect_utils")

_PKG_DIR = pathlib.Path(__file__).resolve().parent.parent / "python" / "asyncpg_rs"


def _stub_exceptions(name: str) -> types.ModuleType:
    mod = types.ModuleType(name)

    class InterfaceError(Exception):
        def __init__(self, msg, *, detail=None, hint=None):
            super().__init__(msg)
            self.detail = detail
            self.hint = hint

    class ClientConfigurationError(InterfaceError, ValueError):
        pass

    class InternalClientError(Exception):
        pass

    mod.InterfaceError = InterfaceError
    mod.ClientConfigurationError = ClientConfigurationError
    mod.InternalClientError = InternalClientError
    return mod


def _load_connect_utils() -> types.ModuleType:
    """The package's module if the package imports, else the file loaded on its own."""
    try:
        from asyncpg_rs import connect_utils, exceptions

        exceptions.ClientConfigurationError  # noqa: B018
        return connect_utils
    except Exception:
        pass

    # The package is not importable yet: load connect_utils.py inside a private package whose
    # `exceptions` is the real module if that loads alone, or a stub with the same class names.
    pkg_name = "_asyncpg_rs_connect_utils_under_test"
    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = [str(_PKG_DIR)]
    sys.modules[pkg_name] = pkg
    exc_mod = None
    exc_init = _PKG_DIR / "exceptions" / "__init__.py"
    if exc_init.exists():
        try:
            spec = importlib.util.spec_from_file_location(
                f"{pkg_name}.exceptions",
                exc_init,
                submodule_search_locations=[str(exc_init.parent)],
            )
            exc_mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = exc_mod
            spec.loader.exec_module(exc_mod)
            exc_mod.ClientConfigurationError  # noqa: B018
        except Exception:
            exc_mod = None
    if exc_mod is None:
        exc_mod = _stub_exceptions(f"{pkg_name}.exceptions")
        sys.modules[exc_mod.__name__] = exc_mod
    pkg.exceptions = exc_mod

    spec = importlib.util.spec_from_file_location(
        f"{pkg_name}.connect_utils", _PKG_DIR / "connect_utils.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


cu = _load_connect_utils()

_ENV_VARS = [
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "PGSSLNEGOTIATION",
    "PGSSLROOTCERT",
    "PGSSLCRL",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGTARGETSESSIONATTRS",
    "PGKRBSRVNAME",
    "PGGSSLIB",
    "SSLKEYLOGFILE",
]

_ARG_NAMES = (
    "dsn",
    "host",
    "port",
    "user",
    "password",
    "passfile",
    "database",
    "ssl",
    "direct_tls",
    "server_settings",
    "target_session_attrs",
    "service",
    "servicefile",
    "krbsrvname",
    "gsslib",
)

_SYSTEM_CA = ssl.get_default_verify_paths().cafile


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A clean environment, HOME in a temporary directory, and the files the cases use."""
    for var in _ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USER", "osuser")
    monkeypatch.setenv("LOGNAME", "osuser")

    def write(path: pathlib.Path, text: str, mode: int = 0o600) -> None:
        path.write_text(text)
        os.chmod(path, mode)

    pgpass = (
        "# comment line\n"
        "\n"
        "abc:*:*:user:password from pgpass for user@abc\n"
        "localhost:*:*:*:password from pgpass for localhost\n"
        "cde:5433:*:*:password from pgpass for cde:5433\n"
        "*:*:*:testuser:password from pgpass for testuser\n"
        "*:*:testdb:*:password from pgpass for testdb\n"
        "*:*:test\\:db:test\\\\:password with escapes\n"
        "h2:5433:*:*:password for the second host\n"
    )
    write(tmp_path / "pgpass", pgpass)
    write(tmp_path / "pgpass_open", pgpass, 0o644)
    (tmp_path / "pgpass_dir").mkdir()
    write(home / ".pgpass", "homehost:*:*:*:password from home pgpass\n")
    write(
        tmp_path / "services.conf",
        "[svc]\n"
        "host=svchost\n"
        "port=6000\n"
        "user=svcuser\n"
        "dbname=svcdb\n"
        "password=svcpass\n"
        "sslmode=disable\n"
        "target_session_attrs=primary\n"
        "krbsrvname=svckrb\n"
        "application_name=ignored\n"
        "[multi]\n"
        "host=m1,m2\n"
        "port=7001,7002\n"
        "[socket]\n"
        "host=/var/svc\n"
        "database=sockdb\n"
        "sslmode=require\n"
        "ssl_min_protocol_version=TLSv1.3\n",
    )
    return tmp_path


def _expand(value, tmp):
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, list):
        return [_expand(v, tmp) for v in value]
    if isinstance(value, tuple):
        return tuple(_expand(v, tmp) for v in value)
    if isinstance(value, dict):
        return {k: _expand(v, tmp) for k, v in value.items()}
    return value


def _describe_ssl(value):
    if isinstance(value, ssl.SSLContext):
        return (
            "SSLContext",
            value.verify_mode,
            value.check_hostname,
            value.minimum_version,
            value.maximum_version,
            bool(value.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN),
        )
    return value


def _run(parse, kwargs):
    """Call a parser; return a comparable outcome (result or exception) and the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            addrs, params = parse(**kwargs)
        except Exception as e:
            outcome = ("raises", type(e).__name__, e.args[0] if e.args else None)
        else:
            outcome = (
                "ok",
                list(addrs),
                {
                    "user": params.user,
                    "password": params.password,
                    "database": params.database,
                    "server_settings": dict(params.server_settings or {}),
                    "ssl": _describe_ssl(params.ssl),
                    "sslmode": int(params.sslmode),
                    "ssl_negotiation": str(params.ssl_negotiation.value),
                    "target_session_attrs": str(params.target_session_attrs.value),
                    "krbsrvname": params.krbsrvname,
                    "gsslib": params.gsslib,
                },
            )
    return outcome, [(w.category.__name__, str(w.message)) for w in caught]


def _both(case, files, monkeypatch):
    for var, value in _expand(case.get("env", {}), files).items():
        monkeypatch.setenv(var, value)
    kwargs = dict.fromkeys(_ARG_NAMES)
    kwargs.update(_expand(case.get("args", {}), files))
    theirs = _run(asyncpg_connect_utils._parse_connect_dsn_and_args, kwargs)
    ours = _run(cu.parse_connect_arguments, kwargs)
    return theirs, ours


# Each case: env (PG* variables), args (keyword arguments; `{tmp}` is the temporary directory).
CASES = {
    # -- environment and keywords
    "env_only": {
        "env": {
            "PGUSER": "user",
            "PGDATABASE": "testdb",
            "PGPASSWORD": "passw",
            "PGHOST": "host",
            "PGPORT": "123",
        }
    },
    "keywords_override_env": {
        "env": {"PGUSER": "user", "PGDATABASE": "testdb", "PGHOST": "host", "PGPORT": "123"},
        "args": {"host": "host2", "port": "456", "user": "u2", "password": "p2", "database": "d"},
    },
    "defaults_only": {},
    "defaults_with_pgport": {"env": {"PGPORT": "5555"}},
    "defaults_with_pgport_list_mismatch": {"env": {"PGPORT": "5555,5556"}},
    "database_defaults_to_user": {"args": {"host": "h", "user": "alice"}},
    "pguser_empty_falls_back_to_os_user": {"env": {"PGUSER": ""}, "args": {"host": "h"}},
    "port_as_str": {"args": {"host": "h", "port": "6543"}},
    "port_invalid": {"args": {"host": "h", "port": "abc"}},
    "pgport_invalid": {"env": {"PGPORT": "x"}, "args": {"host": "h"}},
    "host_list_single_port": {"args": {"host": ["h1", "h2"], "port": 5433}},
    "host_list_port_list": {"args": {"host": ["h1", "h2"], "port": [1, "2"]}},
    "host_tuple_port_tuple": {"args": {"host": ("h1", "h2"), "port": (1, 2)}},
    "host_list_one_port_list": {"args": {"host": ["h1", "h2", "h3"], "port": [7]}},
    "host_list_port_mismatch": {"args": {"host": ["h1", "h2"], "port": [1, 2, 3]}},
    "host_string_with_comma_is_one_host": {"args": {"host": "h1,h2"}},
    "pghost_list": {"env": {"PGHOST": "host1:1111,host2:2222", "PGUSER": "foo"}},
    "pghost_list_with_pgport_list": {"env": {"PGHOST": "a,b", "PGPORT": "1,2"}},
    "pghost_list_pgport_mismatch": {"env": {"PGHOST": "a,b,c", "PGPORT": "1,2"}},
    "pghost_unix": {"env": {"PGHOST": "/var/run/pg", "PGPORT": "5433"}},
    "pghost_with_keyword_port": {"env": {"PGHOST": "a:1,b:2"}, "args": {"port": 9}},
    "unix_socket_dir": {"args": {"host": "/tmp"}},
    "unix_socket_file": {"args": {"host": "/tmp/.s.PGSQL.7777", "port": 1}},
    "unix_and_tcp": {"args": {"host": ["/tmp", "localhost"]}},
    # -- URIs
    "uri_full": {"args": {"dsn": "postgres://user3:123123@localhost:5555/abcdef"}},
    "uri_postgresql_scheme": {"args": {"dsn": "postgresql://u@h/d"}},
    "uri_bad_scheme": {"args": {"dsn": "mysql://u@h/d"}},
    "uri_no_scheme": {"args": {"dsn": "localhost"}},
    "uri_keywords_win": {
        "env": {"PGSSLMODE": "prefer", "PGHOST": "envhost"},
        "args": {
            "dsn": "postgres://user3:123123@localhost/abcdef",
            "host": "host2",
            "port": "456",
            "user": "user2",
            "password": "passw2",
            "database": "db2",
            "ssl": False,
        },
    },
    "uri_env_ignored_when_uri_has_values": {
        "env": {"PGUSER": "envuser", "PGHOST": "envhost", "PGPORT": "1"},
        "args": {"dsn": "postgres://user3:pw@localhost:5555/abcdef"},
    },
    "uri_multi_host": {"args": {"dsn": "postgresql://user@host1,host2/db"}},
    "uri_multi_host_ports": {"args": {"dsn": "postgresql://user@host1:1111,host2:2222/db"}},
    "uri_multi_host_mixed_ports_pgport": {
        "env": {"PGPORT": "4444"},
        "args": {"dsn": "postgresql://user@host1:1111,host2/db"},
    },
    "uri_multi_host_keyword_port": {"args": {"dsn": "postgresql://h1:1,h2:2/db", "port": 99}},
    "uri_multi_host_keyword_port_mismatch": {
        "args": {"dsn": "postgresql://h1,h2,h3/db", "port": [1, 2]}
    },
    "uri_no_host_uses_pghost": {
        "env": {"PGHOST": "host1:1111,host2:2222", "PGUSER": "foo"},
        "args": {"dsn": "postgresql:///db"},
    },
    "uri_host_keyword_list": {
        "env": {"PGUSER": "foo"},
        "args": {"dsn": "postgresql:///db", "host": ["host1", "host2"]},
    },
    "uri_query_host_list": {
        "env": {"PGUSER": "foo"},
        "args": {"dsn": "postgresql:///db?host=host1:1111,host2:2222"},
    },
    "uri_query_everything_overridden": {
        "args": {
            "dsn": "postgresql://user3:123123@localhost:5555/abcdef?param=sss&param=123"
            "&host=testhost&user=testuser&port=2222&database=testdb&sslmode=require",
            "host": "127.0.0.1",
            "port": "888",
            "user": "me",
            "password": "ask",
            "database": "db",
        }
    },
    "uri_query_server_settings_merge": {
        "args": {
            "dsn": "postgresql://h/db?param=sss&aa=uri&sslmode=disable",
            "server_settings": {"aa": "bb"},
            "ssl": True,
        }
    },
    "uri_query_values_used": {
        "args": {
            "dsn": "postgresql:///?host=qh&port=7&user=qu&password=qp&dbname=qd"
            "&application_name=app&search_path=a,b"
        }
    },
    # a "/" path gives database '' (asyncpg's quirk), so these need a URI without a path
    "uri_query_dbname_before_database": {"args": {"dsn": "postgresql://h?database=x&dbname=y"}},
    "uri_query_values_without_path": {
        "args": {"dsn": "postgresql://?host=qh&port=7&user=qu&password=qp&dbname=qd&x=y"}
    },
    "uri_query_bad_port_used": {"args": {"dsn": "postgresql:///d?port=x"}},
    "uri_query_port_list_and_host_list": {"args": {"dsn": "postgresql:///d?port=1,2&host=a,b"}},
    "uri_query_port_list_mismatch": {"args": {"dsn": "postgresql:///d?port=1,2&host=a,b,c"}},
    "uri_query_port_without_host": {"args": {"dsn": "postgresql:///d?port=6000"}},
    "uri_query_bad_port": {"args": {"dsn": "postgresql://h/d?port=x"}},
    "uri_query_unix_host": {"args": {"dsn": "postgresql:///dbname?host=/unix_sock/test&user=spam"}},
    "uri_query_bad_field": {"args": {"dsn": "postgresql://h/d?x"}},
    "uri_query_empty": {"args": {"dsn": "postgresql://h/d?"}},
    "uri_percent_decoding": {
        "args": {"dsn": "postgresql://us%40r:p%40ss@h%40st1,h%40st2:543%33/d%62"}
    },
    "uri_percent_decoding_query": {
        "args": {"dsn": "postgresql:///d%62?user=us%40r&host=h%40st&port=543%33"}
    },
    "uri_unquoted_at_in_password": {"args": {"dsn": "postgresql://user:p@ss@host/db"}},
    "uri_password_with_colon": {"args": {"dsn": "postgresql://user:a:b@host/db"}},
    "uri_empty_password": {"args": {"dsn": "postgresql://user:@host/db"}},
    "uri_unix_socket_netloc": {"args": {"dsn": "postgresql://%2Fvar%2Frun%2Fpg/db"}},
    "uri_unix_socket_netloc_port": {"args": {"dsn": "postgresql://u@%2Ftmp:5433/db"}},
    "uri_ipv6": {"args": {"dsn": "postgresql://[::1]/db"}},
    "uri_ipv6_port": {"args": {"dsn": "postgresql://[::1]:5433,[2001:db8::2]:5434/db"}},
    "uri_ipv6_scoped": {"args": {"dsn": "postgresql://[fe80::1%25eth0]:5432/db"}},
    "uri_ipv6_unclosed": {"args": {"dsn": "postgresql://[::1/db"}},
    "uri_ipv6_invalid": {"args": {"dsn": "postgresql://[zz]/db"}},
    "uri_ipv6_in_query": {"args": {"dsn": "postgresql:///db?host=[::1]:6000"}},
    "uri_bad_port": {"args": {"dsn": "postgresql://h:abc/db"}},
    "uri_root_path_empty_database": {"args": {"dsn": "postgresql://h/"}},
    "uri_no_path": {"args": {"dsn": "postgresql://h"}, "env": {"PGDATABASE": "envdb"}},
    "uri_database_keyword_wins": {"args": {"dsn": "postgresql://h/uridb", "database": "kw"}},
    "uri_empty_string_dsn": {"args": {"dsn": ""}},
    "uri_unknown_params_to_settings": {
        "args": {"dsn": "postgresql://h/d?application_name=a%20b&connect_timeout=10&foo=bar"}
    },
    "uri_krbsrvname_gsslib": {"args": {"dsn": "postgresql://h/d?krbsrvname=k&gsslib=sspi"}},
    "uri_gsslib_keyword_wins": {"args": {"dsn": "postgresql://h/d?gsslib=bad", "gsslib": "sspi"}},
    # -- TLS
    "ssl_default_tcp_prefer": {"args": {"host": "h"}},
    "ssl_unix_only_none": {"args": {"host": "/tmp"}},
    "ssl_pgsslmode_unix": {"env": {"PGSSLMODE": "allow"}, "args": {"host": "/tmp"}},
    "ssl_disable": {"args": {"host": "h", "ssl": "disable"}},
    "ssl_allow": {"args": {"host": "h", "ssl": "allow"}},
    "ssl_prefer": {"args": {"host": "h", "ssl": "prefer"}},
    "ssl_require_without_root": {"args": {"host": "h", "ssl": "require"}},
    "ssl_verify_ca_without_root": {"args": {"host": "h", "ssl": "verify-ca"}},
    "ssl_verify_full_without_root": {"args": {"host": "h", "ssl": "verify-full"}},
    "ssl_underscore_name": {"args": {"host": "h", "ssl": "verify_full"}},
    "ssl_bogus_mode": {"args": {"host": "h", "ssl": "sometimes"}},
    "ssl_uppercase_mode": {"args": {"host": "h", "ssl": "REQUIRE"}},
    "ssl_true": {"args": {"host": "h", "ssl": True}},
    "ssl_false": {"args": {"host": "h", "ssl": False}},
    "ssl_pgsslmode": {"env": {"PGSSLMODE": "require"}, "args": {"host": "h"}},
    "ssl_pgsslmode_bogus": {"env": {"PGSSLMODE": "x"}, "args": {"host": "h"}},
    "ssl_keyword_wins_over_uri": {
        "args": {"dsn": "postgres://h/d?sslmode=require", "ssl": "allow"}
    },
    "ssl_rootcert_query": {
        "args": {"dsn": f"postgres://h/d?sslmode=verify-full&sslrootcert={_SYSTEM_CA}"}
    },
    "ssl_rootcert_env": {
        "env": {"PGSSLROOTCERT": _SYSTEM_CA, "PGSSLMODE": "verify-ca"},
        "args": {"host": "h"},
    },
    "ssl_rootcert_require": {
        "env": {"PGSSLROOTCERT": _SYSTEM_CA},
        "args": {"host": "h", "ssl": "require"},
    },
    "ssl_rootcert_missing": {
        "args": {"dsn": "postgres://h/d?sslmode=verify-ca&sslrootcert={tmp}/nope.crt"}
    },
    "ssl_crl_missing": {
        "args": {"dsn": f"postgres://h/d?sslmode=require&sslrootcert={_SYSTEM_CA}&sslcrl=/nope"}
    },
    "ssl_cert_missing": {"args": {"dsn": "postgres://h/d?sslmode=prefer&sslcert=/nope.crt"}},
    "ssl_min_version": {"args": {"dsn": "postgres://h/d?ssl_min_protocol_version=TLSv1.3"}},
    "ssl_max_version": {"args": {"dsn": "postgres://h/d?ssl_max_protocol_version=TLSv1.2"}},
    "ssl_min_version_sslv3": {"args": {"dsn": "postgres://h/d?ssl_min_protocol_version=SSLv3"}},
    "ssl_min_version_bogus": {"args": {"dsn": "postgres://h/d?ssl_min_protocol_version=TLSv9"}},
    "ssl_version_env": {
        "env": {"PGSSLMINPROTOCOLVERSION": "TLSv1.1", "PGSSLMAXPROTOCOLVERSION": "TLSv1.3"},
        "args": {"host": "h"},
    },
    "ssl_version_ignored_when_disabled": {
        "args": {"dsn": "postgres://h/d?ssl_min_protocol_version=bogus&sslmode=disable"}
    },
    "direct_tls_prefer": {"args": {"host": "h", "direct_tls": True}},
    "direct_tls_require": {"args": {"host": "h", "direct_tls": True, "ssl": "require"}},
    "direct_tls_false": {"args": {"host": "h", "direct_tls": False, "ssl": "require"}},
    "direct_tls_ssl_true": {"args": {"host": "h", "direct_tls": True, "ssl": True}},
    "sslnegotiation_query_direct": {"args": {"dsn": "postgres://h/d?sslnegotiation=direct"}},
    "sslnegotiation_query_direct_require": {
        "args": {"dsn": "postgres://h/d?sslnegotiation=direct&sslmode=require"}
    },
    "sslnegotiation_env_bogus": {"env": {"PGSSLNEGOTIATION": "maybe"}, "args": {"host": "h"}},
    "sslnegotiation_bogus_with_direct_tls": {
        "env": {"PGSSLNEGOTIATION": "maybe"},
        "args": {"host": "h", "direct_tls": False},
    },
    # -- server settings, session attributes, GSS
    "server_settings_keyword": {"args": {"host": "h", "server_settings": {"a": "b"}}},
    "server_settings_bad_value": {"args": {"host": "h", "server_settings": {"a": 1}}},
    "server_settings_bad_key": {"args": {"host": "h", "server_settings": {1: "a"}}},
    "server_settings_not_dict": {"args": {"host": "h", "server_settings": [("a", "b")]}},
    "target_session_attrs_keyword": {"args": {"host": "h", "target_session_attrs": "standby"}},
    "target_session_attrs_query": {
        "args": {"dsn": "postgres://h/d?target_session_attrs=read-write"}
    },
    "target_session_attrs_keyword_wins": {
        "args": {"dsn": "postgres://h/d?target_session_attrs=x", "target_session_attrs": "primary"}
    },
    "target_session_attrs_env": {"env": {"PGTARGETSESSIONATTRS": "prefer-standby"}},
    "krbsrvname_env": {"env": {"PGKRBSRVNAME": "kerb"}, "args": {"host": "h"}},
    "gsslib_env": {"env": {"PGGSSLIB": "sspi"}, "args": {"host": "h"}},
    "gsslib_invalid": {"args": {"host": "h", "gsslib": "krb"}},
    "gsslib_env_invalid": {"env": {"PGGSSLIB": ""}, "args": {"host": "h"}},
    # -- password file
    "pgpass_env": {
        "env": {"PGPASSFILE": "{tmp}/pgpass"},
        "args": {"host": "abc", "user": "user", "database": "db"},
    },
    "pgpass_keyword": {
        "args": {"host": "abc", "user": "user", "database": "db", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_query": {"args": {"dsn": "postgres://user@abc/db?passfile={tmp}/pgpass"}},
    "pgpass_localhost": {
        "args": {"host": "localhost", "user": "u", "database": "db", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_unix_socket_is_localhost": {
        "args": {"host": "/tmp", "user": "u", "database": "db", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_default_hosts_are_localhost": {
        "args": {"user": "u", "database": "db", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_port_match": {
        "args": {
            "host": "cde",
            "port": 5433,
            "user": "u",
            "database": "db",
            "passfile": "{tmp}/pgpass",
        }
    },
    "pgpass_port_no_match": {
        "args": {
            "host": "cde",
            "port": 5434,
            "user": "u",
            "database": "db",
            "passfile": "{tmp}/pgpass",
        }
    },
    "pgpass_user_match": {
        "args": {"host": "def", "user": "testuser", "database": "db", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_database_match": {
        "args": {"host": "efg", "user": "u", "database": "testdb", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_escapes": {
        "args": {
            "host": "fgh",
            "user": "test\\\\",
            "database": "test\\:db",
            "passfile": "{tmp}/pgpass",
        }
    },
    "pgpass_second_host": {
        "args": {"host": ["zzz", "h2"], "port": [5432, 5433], "user": "u", "database": "d"},
        "env": {"PGPASSFILE": "{tmp}/pgpass"},
    },
    "pgpass_not_used_with_password": {
        "args": {"host": "abc", "user": "user", "password": "given", "passfile": "{tmp}/pgpass"}
    },
    "pgpass_not_used_with_empty_pgpassword": {
        "env": {"PGPASSWORD": ""},
        "args": {"host": "abc", "user": "user", "passfile": "{tmp}/pgpass"},
    },
    "pgpass_group_readable_warns": {
        "args": {"host": "abc", "user": "user", "passfile": "{tmp}/pgpass_open"}
    },
    "pgpass_directory_warns": {
        "args": {"host": "abc", "user": "user", "passfile": "{tmp}/pgpass_dir"}
    },
    "pgpass_missing": {"args": {"host": "abc", "user": "user", "passfile": "{tmp}/nope"}},
    "pgpass_home_default": {"args": {"host": "homehost", "user": "u"}},
    "pgpass_env_empty_is_cwd": {"env": {"PGPASSFILE": ""}, "args": {"host": "abc", "user": "u"}},
    # -- service file
    "service_keyword_with_dsn": {
        "args": {"dsn": "postgres://", "service": "svc", "servicefile": "{tmp}/services.conf"}
    },
    "service_in_query": {"args": {"dsn": "postgres:///?service=svc&servicefile=x"}},
    "service_in_query_with_file": {
        "env": {"PGSERVICEFILE": "{tmp}/services.conf"},
        "args": {"dsn": "postgres:///?service=svc"},
    },
    "service_keyword_beats_query": {
        "env": {"PGSERVICEFILE": "{tmp}/services.conf"},
        "args": {"dsn": "postgres:///?service=socket", "service": "multi"},
    },
    "service_values_lose_to_uri_and_keywords": {
        "args": {
            "dsn": "postgres://uriuser@urihost/uridb?sslmode=allow",
            "service": "svc",
            "servicefile": "{tmp}/services.conf",
            "password": "kwpass",
        }
    },
    "service_multi_host": {
        "args": {"dsn": "postgres://", "service": "multi", "servicefile": "{tmp}/services.conf"}
    },
    "service_socket_tls_options": {
        "args": {"dsn": "postgres://", "service": "socket", "servicefile": "{tmp}/services.conf"}
    },
    "service_unknown_section": {
        "args": {"dsn": "postgres://h", "service": "nope", "servicefile": "{tmp}/services.conf"}
    },
    "service_missing_file": {
        "args": {"dsn": "postgres://h", "service": "svc", "servicefile": "{tmp}/nope.conf"}
    },
    "service_home_default": {"args": {"dsn": "postgres://h", "service": "svc"}},
    "service_without_dsn_is_ignored": {
        "args": {"host": "h", "service": "svc", "servicefile": "{tmp}/services.conf"}
    },
    "pgservice_env_is_ignored": {
        "env": {"PGSERVICE": "svc", "PGSERVICEFILE": "{tmp}/services.conf"},
        "args": {"dsn": "postgres://h"},
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_asyncpg(name, files, monkeypatch):
    theirs, ours = _both(CASES[name], files, monkeypatch)
    assert ours == theirs


# Where our message deliberately differs from asyncpg's: asyncpg formats the repr of a bound
# method (with a memory address) into its target_session_attrs message; we list the values.
@pytest.mark.parametrize(
    "case",
    [
        {"args": {"host": "h", "target_session_attrs": "bogus"}},
        {"env": {"PGTARGETSESSIONATTRS": "bogus"}, "args": {"host": "h"}},
    ],
)
def test_bad_target_session_attrs(case, files, monkeypatch):
    (theirs, _), (ours, _) = _both(case, files, monkeypatch)
    assert theirs[:2] == ours[:2] == ("raises", "ClientConfigurationError")
    assert theirs[2].startswith("target_session_attrs is expected to be one of ")
    assert ours[2] == (
        "target_session_attrs is expected to be one of ['any', 'primary', 'standby', "
        "'prefer-standby', 'read-write', 'read-only'], got 'bogus'"
    )


@pytest.fixture
def client_cert(tmp_path):
    """A self-signed certificate and its key, encrypted with the password 'secret'."""
    openssl = require_tool("openssl")
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-keyout", str(key), "-out", str(cert)]
        + ["-days", "1", "-subj", "/CN=client", "-passout", "pass:secret"],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_client_certificate_with_key_password(client_cert, files, monkeypatch):
    cert, key = client_cert
    dsn = f"postgres://h/d?sslmode=require&sslcert={cert}&sslkey={key}&sslpassword=secret"
    theirs, ours = _both({"args": {"dsn": dsn}}, files, monkeypatch)
    assert ours == theirs
    assert ours[0][0] == "ok"


def test_client_certificate_wrong_key_password(client_cert, files, monkeypatch):
    cert, key = client_cert
    dsn = f"postgres://h/d?sslmode=require&sslcert={cert}&sslkey={key}&sslpassword=nope"
    theirs, ours = _both({"args": {"dsn": dsn}}, files, monkeypatch)
    assert ours == theirs
    assert ours[0][:2] == ("raises", "SSLError")


def test_default_client_certificate_in_home(client_cert, files, monkeypatch):
    cert, key = client_cert
    dot = files / "home" / ".postgresql"
    dot.mkdir()
    shutil.copy(cert, dot / "postgresql.crt")
    shutil.copy(key, dot / "postgresql.key")
    shutil.copy(_SYSTEM_CA, dot / "root.crt")
    case = {"args": {"dsn": "postgres://h/d?sslmode=verify-ca&sslpassword=secret"}}
    theirs, ours = _both(case, files, monkeypatch)
    assert ours == theirs
    assert ours[0][2]["ssl"][1] == ssl.CERT_REQUIRED


# -- our own interface ----------------------------------------------------------------------------


def _parse(**kwargs):
    args = dict.fromkeys(_ARG_NAMES)
    args.update(kwargs)
    return cu.parse_connect_arguments(**args)


def test_connect_params_fields(files):
    ctx = ssl.create_default_context()
    addrs, params = _parse(
        dsn="postgres://u:pw@h1:1,[::1]:2/db?application_name=app",
        ssl=ctx,
        direct_tls=True,
        connect_timeout=12.5,
    )
    assert addrs == [("h1", 1), ("::1", 2)]
    assert params.ssl is ctx
    assert params.sslmode == cu.SSLMode.require
    assert params.direct_tls is True
    assert params.ssl_negotiation is cu.SSLNegotiation.direct
    assert params.connect_timeout == 12.5
    assert params.server_settings == {"application_name": "app"}
    assert params.target_session_attrs is cu.SessionAttribute.any
    assert params._asdict()["user"] == "u"


def test_server_settings_is_a_copy(files):
    settings = {"a": "b"}
    _, params = _parse(host="h", server_settings=settings)
    assert params.server_settings == settings
    assert params.server_settings is not settings
    _, params = _parse(host="h")
    assert params.server_settings is None  # as asyncpg: not given -> None


def test_password_callable_passes_through(files):
    def get_password():
        return "x"

    _, params = _parse(host="abc", user="user", password=get_password, passfile=None)
    assert params.password is get_password


def test_asyncpg_sslmode_enum_is_accepted(files):
    _, params = _parse(host="h", ssl=asyncpg_connect_utils.SSLMode.allow)
    assert params.sslmode == cu.SSLMode.allow


def test_errors_are_client_configuration_errors(files):
    with pytest.raises(ValueError) as info:
        _parse(dsn="mysql://h/d")
    assert type(info.value).__name__ == "ClientConfigurationError"
    assert info.value.args[0] == (
        'invalid DSN: scheme is expected to be either "postgresql" or "postgres", got \'mysql\''
    )


def test_root_certificate_error_has_hint(files):
    with pytest.raises(ValueError) as info:
        _parse(host="h", ssl="verify-full")
    root = (files / "home" / ".postgresql" / "root.crt").resolve()
    assert (
        info.value.args[0] == f'root certificate file "{root}" does not exist or cannot be accessed'
    )
    assert getattr(info.value, "hint", None) == (
        f'Provide the certificate file directly or make sure "{root}" exists and is readable.'
    )


# Deliberate differences: asyncpg fails with IndexError / a tuple-unpacking ValueError here.
def test_empty_host_in_list_is_a_configuration_error(files):
    with pytest.raises(ValueError) as info:
        _parse(dsn="postgres://h1,/db")
    assert type(info.value).__name__ == "ClientConfigurationError"


def test_short_pgpass_lines_are_skipped(files):
    passfile = files / "short_pgpass"
    passfile.write_text("only:three:fields\nabc:*:*:*:found\n")
    os.chmod(passfile, stat.S_IRUSR | stat.S_IWUSR)
    _, params = _parse(host="abc", user="u", passfile=str(passfile))
    assert params.password == "found"


def test_address_to_str():
    assert cu.address_to_str(("localhost", 5432)) == "localhost:5432"
    assert cu.address_to_str("/tmp/.s.PGSQL.5432") == "/tmp/.s.PGSQL.5432"


def test_asyncpg_private_name(files):
    addrs, params = cu._parse_connect_dsn_and_args(
        dsn="postgres://u@h/d",
        host=None,
        port=None,
        user=None,
        password=None,
        passfile=None,
        database=None,
        ssl=None,
        service=None,
        servicefile=None,
        direct_tls=None,
        server_settings=None,
        target_session_attrs=None,
        krbsrvname=None,
        gsslib=None,
    )
    assert addrs == [("h", 5432)]
    assert (params.user, params.database) == ("u", "d")
