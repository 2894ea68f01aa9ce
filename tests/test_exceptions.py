"""asyncpg_rs.exceptions against asyncpg.exceptions, and the factories the Rust core calls.

No database needed: server messages are built from protocol field dicts.
"""

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from asyncpg_rs import exceptions as exc
from asyncpg_rs.exceptions import _base

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tools" / "gen_exceptions.py"

apg = pytest.importorskip("asyncpg.exceptions")


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_exceptions", GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _base_names(cls):
    return [b.__name__ for b in cls.__bases__]


def _mro_names(cls):
    return [c.__name__ for c in cls.__mro__]


UNIQUE_VIOLATION = {
    "S": "ERROR",
    "V": "ERROR",
    "C": "23505",
    "M": 'duplicate key value violates unique constraint "t_pkey"',
    "D": "Key (id)=(1) already exists.",
    "s": "public",
    "t": "t",
    "n": "t_pkey",
    "F": "nbtinsert.c",
    "L": "664",
    "R": "_bt_check_unique",
}

ALL_FIELDS = {
    "S": "ERREUR",
    "V": "ERROR",
    "C": "42703",
    "M": 'column "x" does not exist',
    "D": "some detail",
    "H": "some hint",
    "P": "8",
    "p": "3",
    "q": "select x",
    "W": "PL/pgSQL function f() line 1",
    "s": "public",
    "t": "tab",
    "c": "x",
    "d": "int4",
    "n": "tab_x_check",
    "F": "parse_relation.c",
    "L": "3651",
    "R": "errorMissingColumn",
}


# --- (a) same classes as asyncpg -----------------------------------------------------------


def test_all_names_match_asyncpg():
    assert set(exc.__all__) == set(apg.__all__)
    assert len(exc.__all__) == len(set(exc.__all__)) == 276


def test_every_asyncpg_class_has_same_sqlstate_and_bases():
    for name in apg.__all__:
        theirs = getattr(apg, name)
        ours = getattr(exc, name)
        assert isinstance(ours, type), name
        assert ours.__dict__.get("sqlstate") == theirs.__dict__.get("sqlstate"), name
        assert _base_names(ours) == _base_names(theirs), name
        assert _mro_names(ours) == _mro_names(theirs), name


def test_base_module_exports_match_asyncpg():
    assert set(_base.__all__) == set(apg._base.__all__)


def test_postgres_message_is_not_exported():
    assert "PostgresMessage" not in exc.__all__
    assert "PostgresMessage" not in _base.__all__


def test_each_sqlstate_maps_to_its_class():
    for name in exc.__all__:
        cls = getattr(exc, name)
        code = cls.__dict__.get("sqlstate")
        if code is not None:
            assert _base.PostgresMessageMeta.get_message_class_for_sqlstate(code) is cls


def test_class_level_codes_are_bases_of_their_codes():
    assert issubclass(exc.DivisionByZeroError, exc.DataError)
    assert issubclass(exc.UniqueViolationError, exc.IntegrityConstraintViolationError)
    assert issubclass(exc.DeadlockDetectedError, exc.TransactionRollbackError)
    assert issubclass(exc.NoAdditionalDynamicResultSetsReturned, exc.NoData)
    assert issubclass(exc.NoData, exc.PostgresWarning)
    assert issubclass(exc.PostgresWarning, Warning)
    assert issubclass(exc.DataError, exc.PostgresError)
    assert issubclass(exc.ClientConfigurationError, ValueError)
    assert issubclass(exc.InterfaceWarning, UserWarning)


def test_name_map_holds_only_irregular_names():
    gen = _load_generator()
    codes = {
        c.sqlstate: c for c in gen.parse(gen.ERRCODES.read_text()) + gen.parse(gen.LATER_CODES)
    }
    name_map = dict(gen.NAME_MAP)
    gen.NAME_MAP.clear()  # a private copy of the module: only the rule applies now
    for sqlstate, name in name_map.items():
        assert gen.class_name(codes[sqlstate]) != name, f"{sqlstate} follows the rule"


# --- (b) _make_server_error ------------------------------------------------------------------


def test_make_server_error_picks_class_and_fills_attributes():
    err = exc._make_server_error(UNIQUE_VIOLATION, "INSERT INTO t VALUES (1)")
    assert type(err) is exc.UniqueViolationError
    assert isinstance(err, exc.IntegrityConstraintViolationError)
    assert err.sqlstate == "23505"
    assert err.severity == err.severity_en == "ERROR"
    assert err.message == UNIQUE_VIOLATION["M"]
    assert err.detail == "Key (id)=(1) already exists."
    assert err.hint is None
    assert err.schema_name == "public"
    assert err.table_name == "t"
    assert err.constraint_name == "t_pkey"
    assert err.column_name is None
    assert err.server_source_line == "664"
    assert err.query == "INSERT INTO t VALUES (1)"
    assert err.args == (UNIQUE_VIOLATION["M"],)
    with pytest.raises(exc.UniqueViolationError):
        raise err


def test_every_protocol_field_becomes_an_attribute():
    err = exc._make_server_error(ALL_FIELDS)
    assert type(err) is exc.UndefinedColumnError
    for key, attr in _base.FIELDS.items():
        assert getattr(err, attr) == ALL_FIELDS[key], attr
    assert err.position == "8"  # a str, as in asyncpg
    assert err.as_dict() == {attr: ALL_FIELDS[key] for key, attr in _base.FIELDS.items()}
    assert err.query is None


def test_str_shows_detail_and_hint_like_psql():
    err = exc._make_server_error(ALL_FIELDS)
    assert str(err) == 'column "x" does not exist\nDETAIL:  some detail\nHINT:  some hint'
    plain = exc._make_server_error({"C": "22012", "M": "division by zero"})
    assert str(plain) == "division by zero"


def test_as_dict_omits_missing_fields():
    err = exc._make_server_error({"C": "22012", "M": "division by zero", "S": "ERROR"})
    assert err.as_dict() == {
        "sqlstate": "22012",
        "message": "division by zero",
        "severity": "ERROR",
    }


@pytest.mark.parametrize(
    "fields",
    [
        UNIQUE_VIOLATION,
        ALL_FIELDS,
        {"S": "FATAL", "V": "FATAL", "C": "57P01", "M": "terminating connection"},
        {"S": "FATAL", "C": "28P01", "M": 'password authentication failed for user "x"'},
        {"S": "ERROR", "C": "40P01", "M": "deadlock detected", "D": "Process 1 waits"},
        {
            "C": "0A000",
            "M": "cached plan must not change result type",
            "R": "RevalidateCachedQuery",
        },
        {"C": "0A000", "M": "not supported", "R": "somewhere_else"},
        {"C": "ZZ999", "M": "who knows"},
        {"M": "no code at all"},
        {},
    ],
)
def test_same_class_attributes_and_str_as_asyncpg(fields):
    ours = exc._make_server_error(fields, "SELECT 1")
    theirs = apg.PostgresError.new(fields, "SELECT 1")
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.as_dict() == theirs.as_dict()
    assert str(ours) == str(theirs)
    assert ours.args == theirs.args
    assert ours.query == theirs.query == "SELECT 1"


def test_unknown_code_falls_back_to_its_sqlstate_class():
    # asyncpg gives UnknownPostgresError here; the class root is more useful and still a
    # PostgresError.
    err = exc._make_server_error({"C": "22ZZZ", "M": "new kind of data error"})
    assert type(err) is exc.DataError
    assert err.sqlstate == "22ZZZ"


def test_unknown_code_and_class_is_unknown_postgres_error():
    err = exc._make_server_error({"C": "ZZ999", "M": "?"})
    assert type(err) is exc.UnknownPostgresError
    assert isinstance(err, exc.FatalPostgresError)
    assert err.sqlstate == "ZZ999"


def test_fatal_severity_keeps_the_sqlstate_class():
    err = exc._make_server_error({"S": "FATAL", "V": "FATAL", "C": "57P01", "M": "bye"})
    assert type(err) is exc.AdminShutdownError
    assert err.severity == "FATAL"


def test_revalidate_cached_query_becomes_invalid_cached_statement_error():
    fields = {"C": "0A000", "M": "cached plan must not change result type"}
    fields["R"] = "RevalidateCachedQuery"
    err = exc._make_server_error(fields)
    assert type(err) is exc.InvalidCachedStatementError
    assert isinstance(err, exc.FeatureNotSupportedError)
    assert str(err) == (
        "cached statement plan is invalid due to a database schema or configuration change"
    )
    assert err.message == "cached plan must not change result type"
    assert err.sqlstate == "0A000"


@pytest.mark.parametrize(
    ("code", "cls"),
    [("42P05", "DuplicatePreparedStatementError"), ("26000", "InvalidSQLStatementNameError")],
)
def test_prepared_statement_errors_hint_at_poolers(code, cls):
    err = exc._make_server_error({"C": code, "M": 'prepared statement "s1" does not exist'})
    assert type(err).__name__ == cls
    assert "pgbouncer" in err.hint
    assert "statement_cache_size=0" in err.hint
    with_hint = exc._make_server_error({"C": code, "M": "x", "H": "original hint"})
    assert with_hint.hint.startswith("original hint\n")


def test_user_constructed_errors_work_like_asyncpg():
    err = exc.UniqueViolationError("boom")
    assert str(err) == "boom"
    assert err.sqlstate == "23505"
    assert err.detail is None
    assert err.as_dict() == {"sqlstate": "23505"}
    assert str(exc.PostgresError()) == ""


def test_new_classmethod_matches_make_server_error():
    err = exc.PostgresError.new(UNIQUE_VIOLATION, "q")
    assert type(err) is exc.UniqueViolationError
    assert err.query == "q"


def test_duplicate_sqlstate_is_rejected():
    with pytest.raises(TypeError, match="duplicate SQLSTATE"):

        class Again(exc.PostgresError):
            sqlstate = "23505"


# --- _make_log_message ---------------------------------------------------------------------


def test_notice_is_a_plain_log_message():
    msg = exc._make_log_message({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hello"})
    assert type(msg) is exc.PostgresLogMessage
    assert not isinstance(msg, BaseException)
    assert str(msg) == "PostgresLogMessage: hello"
    assert msg.severity == "NOTICE"
    assert msg.as_dict() == {
        "severity": "NOTICE",
        "severity_en": "NOTICE",
        "sqlstate": "00000",
        "message": "hello",
    }


def test_warning_without_its_own_class_is_postgres_warning():
    msg = exc._make_log_message({"S": "WARNUNG", "V": "WARNING", "C": "XX999", "M": "careful"})
    assert type(msg) is exc.PostgresWarning
    assert isinstance(msg, Warning)
    assert str(msg) == "PostgresWarning: careful"


def test_warning_code_picks_its_warning_class():
    msg = exc._make_log_message({"S": "WARNING", "C": "01P01", "M": "deprecated"})
    assert type(msg) is exc.DeprecatedFeature
    assert isinstance(msg, exc.PostgresWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(msg, stacklevel=1)
    assert caught[0].category is exc.DeprecatedFeature


def test_log_messages_are_immutable():
    msg = exc._make_log_message({"S": "NOTICE", "C": "00000", "M": "hello"})
    with pytest.raises(TypeError, match="immutable"):
        msg.message = "changed"


@pytest.mark.parametrize(
    "fields",
    [
        {"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hi"},
        {"S": "WARNING", "V": "WARNING", "C": "01000", "M": "w"},
        {"S": "WARNING", "V": "WARNING", "C": "XX999", "M": "w"},
        {"S": "NOTICE", "V": "NOTICE", "C": "42P07", "M": 'relation "t" already exists, skipping'},
        {"S": "WARNING", "C": "01P01", "M": "dep", "D": "d", "H": "h"},
        {"S": "NOTICE", "C": "0100C", "M": "x"},
        {"S": "INFO", "M": "no code"},
    ],
)
def test_log_message_same_as_asyncpg(fields):
    ours = exc._make_log_message(fields)
    theirs = apg.PostgresLogMessage.new(fields)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.as_dict() == theirs.as_dict()
    assert str(ours) == str(theirs)


# --- client-side errors --------------------------------------------------------------------


def test_interface_error_renders_detail_and_hint():
    err = exc.InterfaceError("bad call", detail="d", hint="h")
    assert str(err) == "bad call\nDETAIL:  d\nHINT:  h"
    assert str(exc.InterfaceError("plain")) == "plain"
    again = err.with_msg("other")
    assert type(again) is exc.InterfaceError
    assert (str(again), again.detail, again.hint) == ("other\nDETAIL:  d\nHINT:  h", "d", "h")


def test_client_errors_match_asyncpg_behaviour():
    for name in ("ClientConfigurationError", "UnsupportedClientFeatureError", "InterfaceWarning"):
        ours = getattr(exc, name)("m", detail="x")
        theirs = getattr(apg, name)("m", detail="x")
        assert str(ours) == str(theirs)
    outdated = exc.OutdatedSchemaCacheError("changed", schema="s", data_type="t", position=2)
    assert (outdated.schema_name, outdated.data_type_name, outdated.position) == ("s", "t", 2)
    assert str(outdated) == "changed"
    assert isinstance(exc.ProtocolError("x"), exc.InternalClientError)


# --- (c) the generated module is up to date ------------------------------------------------


def test_generated_module_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(GEN), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_generated_module_says_so_in_line_one():
    first = (ROOT / "python" / "asyncpg_rs" / "exceptions" / "__init__.py").read_text()
    assert first.splitlines()[0].startswith("# GENERATED by tools/gen_exceptions.py")
