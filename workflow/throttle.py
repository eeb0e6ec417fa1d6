"""Lockout after repeated failed guesses (passwords, setup codes), kept in the database.

Why the database: the web app may run as several processes (and a CLI beside it); a counter in
memory would give an attacker one budget per process. Each key (``merchant:<id>``,
``ip:<address>:password``, ``ip:<address>:setup``) counts failures inside a window; reaching
the limit locks the key for a while. A success resets the account's key, never the
address's, so one real login cannot wash away a guessing run from the same address.

Failures must be recorded in their own committed transaction: the caller's unit of work is
rolled back when it raises the authentication error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import AuthThrottle

from .errors import ThrottledError

__all__ = [
    "PASSWORD_ACCOUNT",
    "PASSWORD_CLIENT",
    "SETUP_CLIENT",
    "TOKEN_ACCOUNT",
    "TOKEN_CLIENT",
    "Throttle",
    "ThrottleRule",
]


@dataclass(frozen=True)
class ThrottleRule:
    max_failures: int
    window: timedelta
    lockout: timedelta


#: Per merchant account: 5 wrong passwords in 15 minutes lock it for 15 minutes.
PASSWORD_ACCOUNT = ThrottleRule(5, timedelta(minutes=15), timedelta(minutes=15))
#: Per client address, across accounts (password spraying).
PASSWORD_CLIENT = ThrottleRule(20, timedelta(minutes=15), timedelta(minutes=30))
#: Per client address: API tokens that are unknown, revoked or of a disabled account.
TOKEN_CLIENT = ThrottleRule(20, timedelta(minutes=15), timedelta(minutes=30))
#: Per account: its revoked tokens (or tokens of the disabled account) presented again.
TOKEN_ACCOUNT = ThrottleRule(10, timedelta(minutes=15), timedelta(minutes=15))
#: Per client address: wrong setup codes.
SETUP_CLIENT = ThrottleRule(10, timedelta(minutes=15), timedelta(minutes=30))


class Throttle:
    """Check, count and reset failures of keys (all methods take the caller's session)."""

    def check(self, session: Session, key: str, now: datetime) -> None:
        """Raise :class:`ThrottledError` while ``key`` is locked."""
        row = session.get(AuthThrottle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            seconds = max(1, math.ceil((row.locked_until - now).total_seconds()))
            raise ThrottledError(
                f"too many failed attempts; try again in {math.ceil(seconds / 60)} minute(s)",
                retry_after=seconds,
            )

    def fail(self, session: Session, key: str, rule: ThrottleRule, now: datetime) -> bool:
        """Count one failure; True when this failure locked the key."""
        row = session.get(AuthThrottle, key)
        if row is None:
            row = AuthThrottle(key=key, failures=0, window_started_at=now)
            session.add(row)
        if now - row.window_started_at > rule.window:
            row.failures = 0
            row.window_started_at = now
        row.failures = (row.failures or 0) + 1
        if row.failures >= rule.max_failures:
            row.locked_until = now + rule.lockout
            row.failures = 0
            row.window_started_at = now
            return True
        return False

    def reset(self, session: Session, key: str) -> None:
        row = session.get(AuthThrottle, key)
        if row is not None:
            row.failures = 0
            row.locked_until = None
