"""asyncpg-rs: a drop-in, Rust-powered replacement for the asyncpg PostgreSQL driver.

``import asyncpg_rs as asyncpg`` and keep your code.
"""

from . import exceptions
from ._native import Record
from .connection import Connection, connect
from .exceptions import *  # noqa: F403  (asyncpg exports every exception class at top level)
from .pool import Pool, create_pool
from .types import (
    Attribute,
    BitString,
    Box,
    Circle,
    Line,
    LineSegment,
    Path,
    Point,
    Polygon,
    Range,
    ServerVersion,
    Type,
)

__version__ = "0.32.0"

__all__ = ("connect", "create_pool", "Pool", "Record", "Connection", *exceptions.__all__)  # noqa: PLE0604
