"""SQL quoting helpers (``asyncpg.utils``): used by real code to build statements safely."""

from __future__ import annotations

import re
import typing

__all__ = ()


def _quote_ident(ident: str) -> str:
    """Quote an SQL identifier: wrap in double quotes, doubling any inside."""
    return '"' + ident.replace('"', '""') + '"'


def _quote_literal(string: str) -> str:
    """Quote an SQL string literal: wrap in single quotes, doubling any inside."""
    return "'" + string.replace("'", "''") + "'"


_PARAM = re.compile(r"\$(\d+)\b")


def _type_reference(t: typing.Any) -> str:
    # Array types are reported as "elem[]"; the catalog name of the array type is "_elem".
    name = "_" + t.name[:-2] if t.name.endswith("[]") else t.name
    return f"{_quote_ident(t.schema)}.{_quote_ident(name)}"


async def _mogrify(conn: typing.Any, query: str, args: typing.Sequence[typing.Any]) -> str:
    """Return `query` with its ``$n`` parameters replaced by `args` as SQL literals.

    The server does the quoting: each argument is sent with its parameter's type, cast to text and
    passed through ``quote_literal()``; a NULL argument becomes ``NULL``.
    """
    statement = await conn.prepare(query)
    types = [_type_reference(t) for t in statement.get_parameters()]
    # Distinct column names, so that a row_format='dict' connection keeps every value; the conn
    # may also be asyncpg's own (whose fetchrow refuses our Record as record_class).
    columns = ", ".join(f'quote_literal(${i}::{t}::text) AS "p{i}"' for i, t in enumerate(types, 1))
    row = await conn.fetchrow(f"SELECT {columns}", *args)
    literals = list(row.values()) if isinstance(row, dict) else row

    def literal(match: re.Match[str]) -> str:
        value = literals[int(match.group(1)) - 1]
        return "NULL" if value is None else value

    return _PARAM.sub(literal, query)
