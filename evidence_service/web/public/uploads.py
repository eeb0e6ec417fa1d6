"""Uploads to the public verifier, bounded: size per caller, free space, and how many run.

The verifier is anonymous on purpose (a court or counsel checks a package without an
account), which makes it the cheapest thing on the service for a stranger to keep busy. A
probe found three ways: a 3 GiB upload accepted and spooled to /tmp, a 10 MB ZIP with 100,000
empty entries costing 15 s of CPU, and eight of those in parallel taking two minutes each. So:

- the body is counted as it streams and cut off at the caller's limit (anonymous callers get
  a lower one than signed-in officers), answered 413 before it is all on disk;
- file parts are spooled inside the data folder (``<data_dir>/spool``), not /tmp, and the
  free space there is checked before and while spooling (507 when below the reserve);
- at most ``verify_max_concurrent`` verifications run at once per process; one more is
  answered 503 with ``Retry-After`` at once instead of queueing behind the others.

The entry-count limit is the verifier's own (:class:`signing.verify.Limits`), set from the
settings by the caller.

Starlette's multipart parser is used as it is, except that its file parts are spooled in our
folder: Starlette offers no setting for that, so :class:`_SpoolingParser` swaps the part's
temporary file right after Starlette creates it (covered by a test that looks for the spooled
file in the data folder).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import SpooledTemporaryFile

from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

__all__ = ["Busy", "UploadLimits", "UploadRefused", "VerifierGate", "read_form"]

_SPOOL_IN_MEMORY = 1024 * 1024
_CHECK_SPACE_EVERY = 16 * 1024 * 1024


class UploadRefused(Exception):
    """An upload the verifier will not take, with the HTTP status and code to answer."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


class Busy(UploadRefused):
    """Every verification slot is taken."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    spool_dir: Path
    reserve_bytes: int


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n < 1 << 30 else f"{n / (1 << 30):.0f} GiB"


def _check_space(limits: UploadLimits, more: int) -> None:
    free = shutil.disk_usage(limits.spool_dir).free
    if free - more < limits.reserve_bytes:
        raise UploadRefused(
            507,
            "insufficient_storage",
            f"the service has too little free space to take this upload now ({_mib(free)} "
            f"free, {_mib(limits.reserve_bytes)} kept in reserve); try again later",
            retry_after=300,
        )


class _SpoolingParser(MultiPartParser):
    """Starlette's parser, with file parts spooled in ``spool_dir`` instead of /tmp."""

    def __init__(self, *args: object, spool_dir: Path, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._spool_dir = spool_dir

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        upload = self._current_part.file
        if upload is not None:
            spooled: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(  # noqa: SIM115
                max_size=_SPOOL_IN_MEMORY, dir=str(self._spool_dir), prefix="verify-"
            )  # closed with the form, like Starlette's own
            self._files_to_close_on_error[-1].close()
            self._files_to_close_on_error[-1] = spooled
            upload.file = spooled  # type: ignore[assignment]


async def read_form(
    request: Request, limits: UploadLimits, *, max_files: int, max_fields: int
) -> FormData:
    """The multipart form of ``request``, within ``limits``; :class:`UploadRefused` if not."""
    limits.spool_dir.mkdir(parents=True, exist_ok=True)
    length = request.headers.get("content-length", "")
    declared = int(length) if length.isdigit() else None
    if declared is not None and declared > limits.max_bytes:
        raise _too_large(limits)
    _check_space(limits, declared or 0)

    async def counted() -> AsyncIterator[bytes]:
        seen = 0
        next_check = _CHECK_SPACE_EVERY
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limits.max_bytes:
                raise _too_large(limits)
            if seen >= next_check:
                _check_space(limits, 0)
                next_check += _CHECK_SPACE_EVERY
            yield chunk

    parser = _SpoolingParser(
        request.headers,
        counted(),
        spool_dir=limits.spool_dir,
        max_files=max_files,
        max_fields=max_fields,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise UploadRefused(400, "bad_upload", f"the upload could not be read ({exc})") from None


def _too_large(limits: UploadLimits) -> UploadRefused:
    return UploadRefused(
        413,
        "too_large",
        f"the upload is larger than {_mib(limits.max_bytes)}, the limit for this caller "
        "(signed-in officers have a higher one; the `evidence verify` command has none)",
    )


class VerifierGate:
    """At most ``slots`` verifications at once; the next caller is refused, not queued (a
    queue of slow uploads would hold connections open and still run them all)."""

    def __init__(self, slots: int) -> None:
        self._slots = slots
        self._running = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._running >= self._slots:
                raise Busy(
                    503,
                    "busy",
                    f"{self._slots} verification(s) are already running; try again shortly",
                    retry_after=10,
                )
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
