"""Idempotency keys: a client's retry of a request that made something gets what the first one made.

A client whose request timed out, or whose reply was lost (the database restarted after the
commit), cannot know whether its request took effect; retrying it blindly makes a second
capture of the same page or a second draft of the same notice. With an ``Idempotency-Key``
(one per intended request: a UUID) the service finds the first result instead. The key is the
user's own, and the same key sent with another request is refused, since the client has mixed
up two requests. This module holds what every such request shares: the key's form and the
digest that says whether two requests are "the same". Where the key is stored, and what is
returned, belongs to each kind of request (captures, documents).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from .errors import PortalError

__all__ = [
    "MAX_KEY_LENGTH",
    "IdempotencyKeyError",
    "IdempotencyKeyReusedError",
    "check_key",
    "once",
    "request_digest",
]

#: The longest key kept (the column's width); a UUID is 36 characters.
MAX_KEY_LENGTH = 128

#: What clients generate (a UUID, a hash): printable ASCII without spaces.
_KEY_CHARS = frozenset(map(chr, range(0x21, 0x7F)))


class IdempotencyKeyError(PortalError):
    """The ``Idempotency-Key`` header is empty, too long or has characters a key cannot have."""

    code = "bad_idempotency_key"


class IdempotencyKeyReusedError(PortalError):
    """This user already sent this key with a different request."""

    code = "idempotency_key_reused"


def check_key(key: str) -> str:
    """The key as given, or :class:`IdempotencyKeyError` saying what is wrong with it."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not set(key) <= _KEY_CHARS:
        raise IdempotencyKeyError(
            f"the Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters "
            "without spaces (a UUID, for example)"
        )
    return key


def request_digest(request: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the request as canonical JSON (sorted keys, no spaces, UTF-8): two
    requests are the same when their digests are. Kept beside the key, so that a retry is
    compared with what was asked, not with what the service filled in (today's date, the
    merchant's name), which may differ by the time the retry comes."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def once(earlier: Callable[[], str | None], make: Callable[[], str]) -> tuple[str, bool]:
    """``(id, replayed)``: what an earlier request with the same key made (``earlier()``, which
    raises :class:`IdempotencyKeyReusedError` if that request asked something else), or what
    ``make()`` makes now.

    ``make`` stores the key under a unique index. When two requests with one key both find
    nothing and both make, the database lets one row in; the other's ``IntegrityError`` is
    answered with the winner's row, found by asking ``earlier()`` again."""
    found = earlier()
    if found is not None:
        return found, True
    try:
        return make(), False
    except IntegrityError:
        found = earlier()
        if found is None:
            raise
        return found, True
