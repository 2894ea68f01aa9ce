"""Type variables for the classes that are generic over the record class.

``Connection``, ``Pool``, ``PoolAcquireContext``, ``PreparedStatement``, ``Cursor``,
``CursorFactory`` and ``CursorIterator`` are generic over the class of the rows they return
(``record_class=``), as in asyncpg-stubs: ``Pool[MyRecord]``, ``Cursor[Record]``. A bare
``Pool`` means ``Pool[Record]`` (the type variable defaults to ``Record``, PEP 696; type
checkers read the ``typing_extensions`` stub, nothing is imported from it at run time).
"""

from __future__ import annotations

import typing

from ._native import Record

if typing.TYPE_CHECKING:
    from typing_extensions import TypeVar

    #: The record class of a connection, pool, statement or cursor.
    # Named for what users see in messages (Pool[RecordT]), not ruff's `_co` convention.
    RecordT = TypeVar("RecordT", bound=Record, covariant=True, default=Record)  # noqa: PLC0105
else:
    RecordT = typing.TypeVar("RecordT", bound=Record, covariant=True)  # noqa: PLC0105

#: A per-call ``record_class=`` that overrides the object's own record class.
OtherRecordT = typing.TypeVar("OtherRecordT", bound=Record)
