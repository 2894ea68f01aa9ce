"""Parse PostgreSQL's ``server_version`` setting into a :class:`~asyncpg_rs.types.ServerVersion`."""

from __future__ import annotations

import re

from .types import ServerVersion

__all__ = ("split_server_version_string",)

# What servers report: "15.3 (Debian 15.3-1.pgdg110+1)", "9.6.24", "16devel", "10beta1",
# "PostgreSQL 12.1", "11.2-YB-2.1.0.0-b0". The first version-like run of characters is used.
_VERSION = re.compile(
    r"""
    (?:Postgre\S*)?\s*          # optional product name
    (?P<major>[0-9]+)\.?
    (?:(?P<minor>[0-9]+)\.?)?
    (?P<micro>[0-9]+)?
    (?P<releaselevel>[a-z]+)?   # devel, alpha, beta, rc
    (?P<serial>[0-9]+)?
    """,
    re.VERBOSE,
)


def split_server_version_string(version_string: str) -> ServerVersion:
    """Split a ``server_version`` string into ``ServerVersion(major, minor, micro, ...)``.

    From PostgreSQL 10 on a version has two parts, major and minor; asyncpg reports the minor
    as ``micro`` and ``minor`` is always 0 (``"15.3"`` is ``ServerVersion(15, 0, 3, 'final', 0)``).
    """
    match = _VERSION.search(version_string)
    if match is None:
        raise ValueError(f'Unable to parse Postgres version from "{version_string}"')
    parts = match.groupdict()
    major = int(parts["major"])
    minor = int(parts["minor"] or 0)
    micro = int(parts["micro"] or 0)
    if major >= 10:
        minor, micro = 0, minor
    return ServerVersion(
        major, minor, micro, parts["releaselevel"] or "final", int(parts["serial"] or 0)
    )
