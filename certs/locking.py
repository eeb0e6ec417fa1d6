"""An exclusive lock on a file, shared by threads and processes (Linux ``flock``).

Why ``flock`` on a dedicated lock file: the web app, each worker and each CLI command open the
same PKI folder; the first to arrive creates the CA, the others must wait and then load what it
wrote. ``flock`` locks belong to the open file description, so two threads that each open the
lock file also exclude each other, and the kernel drops the lock if the holder dies.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import PkiLockError


@contextmanager
def exclusive_lock(path: Path, *, timeout_s: float = 120.0) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PkiLockError(
                        f"could not lock {path} within {timeout_s:.0f} s: another process "
                        "is holding the PKI lock (a stuck process?)"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
