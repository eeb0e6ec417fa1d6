"""Errors of the storage layer.

Callers decide between "try again later" and "give up" by ``retryable`` alone, so every error a
backend can raise is one of these (never a bare ``OSError``, ``S3Error`` or urllib3 exception).
Messages name the object or place and the reason, never a credential.
"""

from __future__ import annotations


class StorageError(Exception):
    """Something in the object store or database layer failed."""

    retryable: bool = False


class ObjectNotFoundError(StorageError):
    """No object is stored under this key."""

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        super().__init__(f"no stored object {key!r}" + (f": {detail}" if detail else ""))


class CorruptObjectError(StorageError):
    """The stored bytes do not hash to the object's key (or do not have its size).

    Evidence that fails this check must not be served as if it were intact: restore the object
    from a backup (the key is its SHA-256, so any intact copy can be recognised).
    """

    def __init__(self, key: str, expected: str, actual: str, detail: str = "") -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        msg = f"stored object {key!r} is corrupt: expected SHA-256 {expected}, got {actual}"
        super().__init__(msg + (f" ({detail})" if detail else ""))


class ImmutableObjectError(StorageError):
    """Deleting or overwriting a sealed object was refused (stored evidence never changes)."""

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        msg = f"stored object {key!r} is sealed and cannot be deleted or overwritten"
        super().__init__(msg + (f": {detail}" if detail else ""))


class StoreUnavailableError(StorageError):
    """The store cannot be used right now (server down, disk full, permission denied...).

    Retryable: nothing was stored, so the same operation can simply be repeated once the cause
    (named in the message, with where it happened) has been fixed.
    """

    retryable = True


class RetentionError(StorageError):
    """An object was written but its COMPLIANCE retention is not in place.

    Such an object is not reported as stored. Retryable: a later attempt re-checks (and where
    possible repairs) the retention of the already written version.
    """

    retryable = True
