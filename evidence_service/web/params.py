"""Integer parameters, bounded where they enter.

Rows, sequence numbers and log indexes are 64-bit integers in SQLite and PostgreSQL; Python's
int is unbounded, so ``/api/log/entries/99999999999999999999`` used to reach the driver and
fail there (``OverflowError``, a 500 and a traceback). Every integer a route takes is one of
these types: out of range is a 422 naming the parameter, before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["DB_INT_MAX", "Count", "Index", "Offset", "OptionalIndex", "OptionalRowId", "RowId"]

#: The largest value a BIGINT column (and SQLite's INTEGER) holds.
DB_INT_MAX = 2**63 - 1

#: A row id or sequence number in the path (ids start at 1).
RowId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
#: A zero-based index in the path (log entries).
Index = Annotated[int, Path(ge=0, le=DB_INT_MAX)]
#: A tree size or other count in the path.
Count = Annotated[int, Path(ge=0, le=DB_INT_MAX)]
#: How many rows of a list to skip.
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX)]
#: An optional index or size in the query string.
OptionalIndex = Annotated[int | None, Query(ge=0, le=DB_INT_MAX)]
#: An optional row id or sequence number in the query string (``?v=``).
OptionalRowId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
