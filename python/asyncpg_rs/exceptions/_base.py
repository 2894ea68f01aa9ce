"""Roots of the exception tree and the SQLSTATE -> class registry.

The per-SQLSTATE classes are generated into ``__init__.py``; this module holds what they
derive from, the client-side errors, and the two factories the Rust core calls to turn an
ErrorResponse or NoticeResponse into a Python object.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

__all__ = (
    "ClientConfigurationError",
    "FatalPostgresError",
    "InterfaceError",
    "InterfaceWarning",
    "InternalClientError",
    "OutdatedSchemaCacheError",
    "PostgresError",
    "PostgresLogMessage",
    "ProtocolError",
    "TargetServerAttributeNotMatched",
    "UnknownPostgresError",
    "UnsupportedClientFeatureError",
    "UnsupportedServerFeatureError",
)

# ErrorResponse / NoticeResponse field codes -> attribute names (protocol "Error and Notice
# Message Fields").
FIELDS = {
    "S": "severity",
    "V": "severity_en",
    "C": "sqlstate",
    "M": "message",
    "D": "detail",
    "H": "hint",
    "P": "position",
    "p": "internal_position",
    "q": "internal_query",
    "W": "context",
    "s": "schema_name",
    "t": "table_name",
    "c": "column_name",
    "d": "data_type_name",
    "n": "constraint_name",
    "F": "server_source_filename",
    "L": "server_source_line",
    "R": "server_source_function",
}

_PACKAGE = __name__.rpartition(".")[0]

_INVALID_CACHED_STATEMENT_MESSAGE = (
    "cached statement plan is invalid due to a database schema or configuration change"
)

# Appended to the hint of "prepared statement ... already exists / does not exist" errors:
# the usual cause is a transaction-mode pooler between the client and the server.
_POOLER_HINT = (
    "\nNOTE: this often means a connection pooler such as pgbouncer runs in "
    '"transaction" or "statement" pool_mode, where prepared statements do not survive '
    "between transactions. Use asyncpg_rs's own pool instead, or, if the pooler must "
    "stay, create connections with statement_cache_size=0."
)
_PREPARED_STATEMENT_CODES = frozenset({"42P05", "26000"})


class PostgresMessageMeta(type):
    """Metaclass that registers every class declaring ``sqlstate`` in one code -> class map."""

    _registry: ClassVar[dict[str, type]] = {}
    # Classes of this package by name, for the special cases in _server_message_args.
    _own: ClassVar[dict[str, type]] = {}

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]):
        cls = super().__new__(mcls, name, bases, namespace)
        code = namespace.get("sqlstate")
        if code is not None:
            existing = mcls._registry.get(code)
            if existing is not None:
                raise TypeError(
                    f"{name} has duplicate SQLSTATE code {code}, "
                    f"which is already defined by {existing.__name__}"
                )
            mcls._registry[code] = cls
        if cls.__module__ == _PACKAGE or cls.__module__ == __name__:
            mcls._own[name] = cls
        return cls

    @classmethod
    def get_message_class_for_sqlstate(cls, code: Optional[str]) -> type:
        """The class registered for ``code``, or UnknownPostgresError."""
        return cls._registry.get(code or "", UnknownPostgresError)

    @classmethod
    def get_error_class_for_sqlstate(cls, code: Optional[str]) -> type:
        """The class for ``code``, else for its SQLSTATE class (``22xxx`` -> 22000), else
        UnknownPostgresError. (asyncpg skips the middle step.)"""
        found = cls._registry.get(code or "")
        if found is None and code:
            found = cls._registry.get(code[:2] + "000")
        return found if found is not None else UnknownPostgresError


class PostgresMessage(metaclass=PostgresMessageMeta):
    """Common base of server errors and server log messages (not exported)."""

    # Every field is None unless the server sent it; instances fill them in.
    severity: Optional[str] = None
    severity_en: Optional[str] = None
    sqlstate: Optional[str] = None
    message: Optional[str] = None
    detail: Optional[str] = None
    hint: Optional[str] = None
    position: Optional[str] = None
    internal_position: Optional[str] = None
    internal_query: Optional[str] = None
    context: Optional[str] = None
    schema_name: Optional[str] = None
    table_name: Optional[str] = None
    column_name: Optional[str] = None
    data_type_name: Optional[str] = None
    constraint_name: Optional[str] = None
    server_source_filename: Optional[str] = None
    server_source_line: Optional[str] = None
    server_source_function: Optional[str] = None

    @classmethod
    def _server_message_args(
        cls, fields: dict[str, str], query: Optional[str], *, by_class: bool
    ) -> tuple[type, str, dict[str, Any]]:
        """(class, message, attributes) for a message with protocol ``fields``; ``by_class``
        falls back to the code's SQLSTATE class when the code itself is unknown."""
        attrs: dict[str, Any] = {"query": query}
        for key, value in fields.items():
            name = FIELDS.get(key)
            if name is not None:
                attrs[name] = value

        code = fields.get("C")
        if by_class:
            exccls = PostgresMessageMeta.get_error_class_for_sqlstate(code)
        else:
            exccls = PostgresMessageMeta.get_message_class_for_sqlstate(code)
        message = attrs.get("message") or ""

        # A plan cached before a schema change fails with 0A000 from RevalidateCachedQuery.
        # The function name, not the (translatable) message, identifies it.
        own = PostgresMessageMeta._own
        if code == "0A000" and fields.get("R") == "RevalidateCachedQuery":
            icse = own.get("InvalidCachedStatementError")
            if icse is not None:
                exccls = icse
                message = _INVALID_CACHED_STATEMENT_MESSAGE
        elif code in _PREPARED_STATEMENT_CODES:
            attrs["hint"] = (attrs.get("hint") or "") + _POOLER_HINT

        return exccls, message, attrs

    def as_dict(self) -> dict[str, str]:
        """The fields the server sent, by attribute name."""
        result = {}
        for name in FIELDS.values():
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        return result


def _with_detail_and_hint(msg: str, detail: Optional[str], hint: Optional[str]) -> str:
    # The layout of psql's error output.
    if detail:
        msg += f"\nDETAIL:  {detail}"
    if hint:
        msg += f"\nHINT:  {hint}"
    return msg


class PostgresError(PostgresMessage, Exception):
    """Base class for all Postgres errors."""

    def __str__(self) -> str:
        msg = str(self.args[0]) if self.args else ""
        return _with_detail_and_hint(msg, self.detail, self.hint)

    @classmethod
    def new(cls, fields: dict[str, str], query: Optional[str] = None) -> PostgresError:
        """An instance of the class for ``fields['C']``, with every field filled in."""
        exccls, message, attrs = cls._server_message_args(fields, query, by_class=True)
        exc = exccls(message)
        exc.__dict__.update(attrs)
        return exc


class FatalPostgresError(PostgresError):
    """A fatal error that should result in server disconnection."""


class UnknownPostgresError(FatalPostgresError):
    """An error with an unknown SQLSTATE code."""


class PostgresLogMessage(PostgresMessage):
    """A base class for non-error server messages (NOTICE, WARNING, ...); immutable."""

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.message}"

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"instances of {type(self).__name__} are immutable")

    @classmethod
    def new(cls, fields: dict[str, str], query: Optional[str] = None) -> PostgresMessage:
        """An instance of the class for ``fields['C']``: a per-code class when there is one,
        PostgresWarning for an unclassified WARNING, else PostgresLogMessage."""
        # Exact codes only: a notice with an unknown code must not become an error class.
        msgcls, message, attrs = cls._server_message_args(fields, query, by_class=False)
        if msgcls is UnknownPostgresError:
            msgcls = PostgresLogMessage
            severity = attrs.get("severity_en") or attrs.get("severity")
            if severity and severity.upper() == "WARNING":
                msgcls = PostgresMessageMeta._own.get("PostgresWarning", msgcls)
        # Warning classes are exceptions too and take the message as their argument.
        msg = msgcls(message) if issubclass(msgcls, BaseException) else msgcls()
        msg.__dict__.update(attrs)
        return msg  # type: ignore[no-any-return,return-value]  # a PostgresMessage subclass


class InterfaceMessage:
    """Base of client-side errors and warnings: a message, plus optional detail and hint."""

    args: tuple[Any, ...]

    def __init__(self, *, detail: Optional[str] = None, hint: Optional[str] = None) -> None:
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        msg = str(self.args[0]) if self.args else ""
        return _with_detail_and_hint(msg, self.detail, self.hint)


class InterfaceError(InterfaceMessage, Exception):
    """An error caused by improper use of the asyncpg_rs API."""

    def __init__(
        self, msg: str, *, detail: Optional[str] = None, hint: Optional[str] = None
    ) -> None:
        InterfaceMessage.__init__(self, detail=detail, hint=hint)
        Exception.__init__(self, msg)

    def with_msg(self, msg: str) -> InterfaceError:
        """A copy of this error with another message, keeping detail, hint and traceback."""
        return type(self)(msg, detail=self.detail, hint=self.hint).with_traceback(
            self.__traceback__
        )


class ClientConfigurationError(InterfaceError, ValueError):
    """An error caused by improper client configuration."""


class UnsupportedClientFeatureError(InterfaceError):
    """Requested feature is unsupported by asyncpg_rs."""


class UnsupportedServerFeatureError(InterfaceError):
    """Requested feature is unsupported by the PostgreSQL server."""


class InterfaceWarning(InterfaceMessage, UserWarning):
    """A warning caused by an improper use of the asyncpg_rs API."""

    def __init__(
        self, msg: str, *, detail: Optional[str] = None, hint: Optional[str] = None
    ) -> None:
        InterfaceMessage.__init__(self, detail=detail, hint=hint)
        UserWarning.__init__(self, msg)


class InternalClientError(Exception):
    """All unexpected errors not classified otherwise."""


class ProtocolError(InternalClientError):
    """Unexpected condition in the handling of PostgreSQL protocol input."""


class TargetServerAttributeNotMatched(InternalClientError):
    """Could not find a host that satisfies the target attribute requirement."""


class OutdatedSchemaCacheError(InternalClientError):
    """A value decoding error caused by a schema change before row fetching."""

    def __init__(
        self,
        msg: str,
        *,
        schema: Optional[str] = None,
        data_type: Optional[str] = None,
        position: Optional[int] = None,
    ) -> None:
        super().__init__(msg)
        self.schema_name = schema
        self.data_type_name = data_type
        self.position = position


def _make_server_error(fields: dict[str, str], query: Optional[str] = None) -> PostgresError:
    """Called by the Rust core for an ErrorResponse.

    ``fields`` maps single-character protocol field codes to values. Returns an instance of
    the class for ``fields['C']`` (or its SQLSTATE class, or UnknownPostgresError) with every
    attribute set, ready to raise. As in asyncpg, FATAL and PANIC severities do not change
    the class.
    """
    return PostgresError.new(fields, query)


def _make_log_message(fields: dict[str, str]) -> PostgresMessage:
    """Called by the Rust core for a NoticeResponse: the PostgresLogMessage (or per-code
    warning class) to hand to log listeners."""
    return PostgresLogMessage.new(fields)
