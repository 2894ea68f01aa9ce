"""asyncpg-rs: a drop-in, Rust-powered replacement for the asyncpg PostgreSQL driver.

``import asyncpg_rs as asyncpg`` and keep your code.
"""

from . import connection as connection
from . import cursor as cursor
from . import exceptions as exceptions
from . import pool as pool
from . import prepared_stmt as prepared_stmt
from . import serverversion as serverversion
from . import transaction as transaction
from . import types as types
from . import utils as utils
from ._compat import install_as_asyncpg as install_as_asyncpg
from ._native import Record as Record
from ._native import __version__ as _native_version
from .connection import Connection as Connection
from .connection import connect as connect
from .exceptions import *
from .pool import Pool as Pool
from .pool import create_pool as create_pool
from .types import Attribute as Attribute
from .types import BitString as BitString
from .types import Box as Box
from .types import Circle as Circle
from .types import Line as Line
from .types import LineSegment as LineSegment
from .types import Path as Path
from .types import Point as Point
from .types import Polygon as Polygon
from .types import Range as Range
from .types import ServerVersion as ServerVersion
from .types import Type as Type

#: This distribution's version (``asyncpg-rs`` on the package index; Cargo.toml's, as maturin builds it).
__version__: str = _native_version

#: The asyncpg release whose API and behaviour asyncpg-rs mirrors (what ``asyncpg.__version__``
#: would say for the driver you replaced).
asyncpg_version: str = "0.32.0"

# What `from asyncpg_rs import *` gives, as asyncpg's: the entry points and every exception.
# (The names themselves are explicit re-exports above; this form of __all__ is one that type
# checkers evaluate.)
__all__ = [
    "Connection",
    "Pool",
    "Record",
    "connect",
    "create_pool",
    "install_as_asyncpg",
]
__all__ += exceptions.__all__
