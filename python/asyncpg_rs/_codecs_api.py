"""Connection.set_type_codec, reset_type_codec and set_builtin_type_codec, with asyncpg's rules.

The type is resolved here (a name map for ``pg_catalog``, else one catalog query) and checked as
asyncpg checks it; the codec itself is built and installed by the Rust protocol.
"""

from __future__ import annotations

import typing

from . import exceptions
from ._native import Record
from .utils import _quote_ident

__all__ = ()

# Builtin type names and their OIDs (PostgreSQL's pg_type.dat; stable across versions), resolved
# without a query when the schema is pg_catalog, as asyncpg does.
_CORE_TYPE_OIDS: dict[str, int] = {
    "abstime": 702, "aclitem": 1033, "any": 2276, "anyarray": 2277, "anycompatible": 5077,
    "anycompatiblearray": 5078, "anycompatiblemultirange": 4538, "anycompatiblenonarray": 5079,
    "anycompatiblerange": 5080, "anyelement": 2283, "anyenum": 3500, "anymultirange": 4537,
    "anynonarray": 2776, "anyrange": 3831, "bit": 1560, "bool": 16, "box": 603, "bpchar": 1042,
    "bytea": 17, "cid": 29, "cidr": 650, "circle": 718, "cstring": 2275, "date": 1082,
    "event_trigger": 3838, "fdw_handler": 3115, "float4": 700, "float8": 701, "gtsvector": 3642,
    "index_am_handler": 325, "inet": 869, "int2": 21, "int4": 23, "int8": 20, "internal": 2281,
    "interval": 1186, "json": 114, "jsonb": 3802, "jsonpath": 4072, "language_handler": 2280,
    "line": 628, "lseg": 601, "macaddr": 829, "macaddr8": 774, "money": 790, "name": 19,
    "numeric": 1700, "oid": 26, "oid8": 6437, "opaque": 2282, "path": 602,
    "pg_brin_bloom_summary": 4600, "pg_brin_minmax_multi_summary": 4601, "pg_ddl_command": 32,
    "pg_dependencies": 3402, "pg_lsn": 3220, "pg_mcv_list": 5017, "pg_ndistinct": 3361,
    "pg_node_tree": 194, "pg_snapshot": 5038, "point": 600, "polygon": 604, "record": 2249,
    "refcursor": 1790, "regclass": 2205, "regcollation": 4191, "regconfig": 3734,
    "regdatabase": 6490, "regdictionary": 3769, "regnamespace": 4089, "regoper": 2203,
    "regoperator": 2204, "regproc": 24, "regprocedure": 2202, "regrole": 4096, "regtype": 2206,
    "reltime": 703, "smgr": 210, "table_am_handler": 269, "text": 25, "tid": 27, "time": 1083,
    "timestamp": 1114, "timestamptz": 1184, "timetz": 1266, "tinterval": 704, "trigger": 2279,
    "tsm_handler": 3310, "tsquery": 3615, "tsvector": 3614, "txid_snapshot": 2970,
    "unknown": 705, "uuid": 2950, "varbit": 1562, "varchar": 1043, "void": 2278, "xid": 28,
    "xid8": 5069, "xml": 142,
}  # fmt: skip

# SQL spellings accepted for builtin types, and the catalog name each stands for.
_ALIASES: dict[str, str] = {
    "char": "bpchar",
    "character": "bpchar",
    "character varying": "varchar",
    "smallint": "int2",
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "decimal": "numeric",
    "real": "float4",
    "double precision": "float8",
    "timestamp with timezone": "timestamptz",
    "timestamp without timezone": "timestamp",
    "time with timezone": "timetz",
    "time without timezone": "time",
    "bit varying": "varbit",
    "oid[]": "_oid",
    "text[]": "_text",
}

# Core codecs that exist in text format only, and those that exist in both formats (asyncpg 0.32);
# every other core codec is binary only.
_TEXT_ONLY_CODECS = frozenset(
    [
        "abstime",
        "aclitem",
        "anyenum",
        "gtsvector",
        "macaddr",
        "macaddr8",
        "money",
        "pg_dependencies",
        "pg_ndistinct",
        "pg_node_tree",
        "refcursor",
        "regclass",
        "regcollation",
        "regconfig",
        "regdatabase",
        "regdictionary",
        "regnamespace",
        "regoper",
        "regoperator",
        "regproc",
        "regprocedure",
        "regrole",
        "regtype",
        "reltime",
        "smgr",
        "tinterval",
        "tsquery",
        "tsvector",
        "unknown",
    ]
)
_TEXT_AND_BINARY_CODECS = frozenset(["bpchar", "name", "numeric", "text", "varchar", "xml"])

_HSTORE = "pg_contrib.hstore"

# pg_type.typtype values asyncpg treats as scalar: base, domain, enum.
_SCALAR_KINDS = ("b", "d", "e")

# One cstring column: user codecs (set_type_codec on int8, text, ...) must not change what this
# query returns, and nobody sets a codec on cstring.
_TYPE_BY_NAME = """\
SELECT (t.oid::pg_catalog.text || ' ' || t.typelem::pg_catalog.text || ' '
        || t.typtype::pg_catalog.text)::pg_catalog.cstring
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS ns ON ns.oid = t.typnamespace
WHERE t.typname = $1 AND ns.nspname = $2
LIMIT 1"""


class _TypeInfo(typing.NamedTuple):
    oid: int
    elemtype: int
    kind: str

    @property
    def is_scalar(self) -> bool:
        return self.kind in _SCALAR_KINDS and not self.elemtype


async def _introspect_type(con: typing.Any, typename: str, schema: str) -> _TypeInfo:
    if schema == "pg_catalog" and not typename.endswith("[]"):
        name = typename.lower()
        oid = _CORE_TYPE_OIDS.get(_ALIASES.get(name, name))
        if oid is not None:
            return _TypeInfo(oid, 0, "b")
    row = await con.fetchrow(_TYPE_BY_NAME, typename, schema, record_class=Record)
    if row is None:
        raise ValueError(f"unknown type: {schema}.{typename}")
    oid, elemtype, kind = row[0].split(" ")
    return _TypeInfo(int(oid), int(elemtype), kind)


async def set_type_codec(
    con: typing.Any,
    typename: str,
    *,
    schema: str,
    encoder: typing.Callable[[typing.Any], typing.Any],
    decoder: typing.Callable[[typing.Any], typing.Any],
    format: str,
) -> None:
    """Use `encoder`/`decoder` for the type on this connection (see asyncpg's docs)."""
    con._check_open()
    info = await _introspect_type(con, typename, schema)
    composite = False
    if info.is_scalar:
        pass
    elif info.kind == "c":
        if format != "tuple":
            raise exceptions.UnsupportedClientFeatureError(
                "only tuple-format codecs can be used on composite types",
                hint="Use `set_type_codec(..., format='tuple')` and "
                "pass/interpret data as a Python tuple.  See an "
                "example at https://magicstack.github.io/asyncpg/"
                "current/usage.html#example-decoding-complex-types",
            )
        composite = True
    else:
        raise exceptions.InterfaceError(
            f"cannot use custom codec on type {schema}.{typename}: "
            f"it is neither a scalar type nor a composite type"
        )
    if info.kind == "d":
        raise exceptions.UnsupportedClientFeatureError(
            "custom codecs on domain types are not supported",
            hint="Set the codec on the base type.",
            detail="PostgreSQL does not distinguish domains from "
            "their base types in query results at the protocol level.",
        )
    if format not in ("text", "binary", "tuple"):
        raise exceptions.InterfaceError(
            f"invalid `format` argument, expected 'text', 'binary' or 'tuple', got {format!r}"
        )
    protocol = con._protocol
    if composite:
        # The tuple format needs the composite's own codec: drop an earlier override, then let
        # the protocol introspect the type (it does so for unknown column types on prepare).
        protocol.reset_type_codec(info.oid)
        await con.fetchval(f"SELECT NULL::{_quote_ident(schema)}.{_quote_ident(typename)}")
    protocol.set_type_codec(info.oid, typename, encoder, decoder, format)
    _remember_type(protocol, info, typename, schema)


def _remember_type(protocol: typing.Any, info: _TypeInfo, typename: str, schema: str) -> None:
    """Name, kind and schema of a type with a user codec, for ``get_parameters()`` and
    ``get_attributes()``: such a type is never introspected, so the protocol does not know them."""
    kind = "composite" if info.kind == "c" else "scalar"
    try:
        known = protocol._codec_type_info
    except AttributeError:
        known = protocol._codec_type_info = {}
    known[info.oid] = (typename, kind, schema)


async def reset_type_codec(con: typing.Any, typename: str, *, schema: str) -> None:
    """Go back to the default codec for the type on this connection."""
    info = await _introspect_type(con, typename, schema)
    con._protocol.reset_type_codec(info.oid)
    getattr(con._protocol, "_codec_type_info", {}).pop(info.oid, None)


async def set_builtin_type_codec(
    con: typing.Any,
    typename: str,
    *,
    schema: str,
    codec_name: str,
    format: str | None,
) -> None:
    """Exchange the type with a builtin codec (a core type's, or 'pg_contrib.hstore')."""
    con._check_open()
    info = await _introspect_type(con, typename, schema)
    if not info.is_scalar:
        raise exceptions.InterfaceError(f"cannot alias non-scalar type {schema}.{typename}")
    if format not in (None, "text", "binary"):
        raise exceptions.InterfaceError(
            f"invalid `format` argument, expected 'text' or 'binary', got {format!r}"
        )
    if codec_name == _HSTORE:
        name: str | None = codec_name
        formats: tuple[str, ...] = ("binary",)
    else:
        name = _ALIASES.get(codec_name, codec_name)
        if name not in _CORE_TYPE_OIDS and codec_name not in _ALIASES:
            name = None
        if name in _TEXT_ONLY_CODECS:
            formats = ("text",)
        elif name in _TEXT_AND_BINARY_CODECS:
            formats = ("binary", "text")
        else:
            formats = ("binary",)
    wanted = format or "text"
    if name is None or (format is not None and format not in formats):
        raise exceptions.InterfaceError(
            f"cannot alias {typename} to {codec_name}: there is no {wanted} codec for {codec_name}"
        )
    try:
        con._protocol.set_builtin_type_codec(info.oid, typename, name)
    except exceptions.InterfaceError:
        raise exceptions.InterfaceError(
            f"cannot alias {typename} to {codec_name}: there is no {wanted} codec for {codec_name}"
        ) from None
    _remember_type(con._protocol, info, typename, schema)
