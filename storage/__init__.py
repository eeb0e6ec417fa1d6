"""Immutable evidence storage and the service's database.

- ``storage.objects`` / ``storage.fs`` / ``storage.s3``: content-addressed, write-once object
  stores that verify every read (a local directory, or S3 with Object Lock in COMPLIANCE mode).
- ``storage.db`` / ``storage.models`` / ``storage.jobs``: engines, schema and migrations, and
  the durable job queue kept in the same database.

A leaf package: it imports nothing else from this project and knows nothing of WARC.
"""

from .errors import (
    CorruptObjectError,
    ImmutableObjectError,
    ObjectNotFoundError,
    RetentionError,
    StorageError,
    StoreUnavailableError,
)
from .objects import ObjectStore, StoredObject
from .types import utcnow

__all__ = [
    "CorruptObjectError",
    "ImmutableObjectError",
    "ObjectNotFoundError",
    "ObjectStore",
    "RetentionError",
    "StorageError",
    "StoreUnavailableError",
    "StoredObject",
    "utcnow",
]
