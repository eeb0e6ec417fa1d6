"""Fixtures for the capture tests: ONE warm engine for the session (``fixture_site`` comes
from the root conftest).

The engine is async; pytest here is sync. The engine therefore lives on its own event loop in
a background thread and tests call it through :class:`EngineRunner`, which also keeps the
test code free of asyncio plumbing.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from capture import CaptureEngine, CaptureOptions, CaptureResult
from tests.fixtures.site import FixtureSite

CHROMIUM = Path("/usr/bin/chromium")


class EngineRunner:
    """Runs one CaptureEngine on a private event loop in a background thread."""

    def __init__(self, engine: CaptureEngine) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Any, timeout: float = 180.0) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def capture(self, url: str, workdir: Path, **options: Any) -> CaptureResult:
        options.setdefault("allow_private", True)
        result: CaptureResult = self.call(
            self.engine.capture(url, CaptureOptions(**options), workdir)
        )
        return result

    def close(self) -> None:
        try:
            self.call(self.engine.close(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@pytest.fixture(scope="session")
def engine(fixture_site: FixtureSite) -> Iterator[EngineRunner]:
    if not CHROMIUM.exists() or shutil.which("certutil") is None:
        pytest.fail(
            "Chromium (/usr/bin/chromium, Debian package chromium) and certutil (libnss3-tools) "
            "are required for the capture tests",
            pytrace=False,
        )
    runner = EngineRunner(CaptureEngine(CHROMIUM, extra_ca_pem=fixture_site.ca_pem))
    runner.call(runner.engine.start())
    try:
        yield runner
    finally:
        runner.close()


# ---------------------------------------------------------------------- WARC helpers


@dataclass
class Record:
    type: str
    uri: str
    headers: dict[str, str]
    first_line: str | None
    http_headers: list[tuple[str, str]]
    http_head_raw: bytes
    payload: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.http_headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_named(self, name: str) -> list[str]:
        return [v for k, v in self.http_headers if k.lower() == name.lower()]


def read_warc(path: Path) -> list[Record]:
    """All records; HTTP heads split off by hand so that the raw bytes can be asserted."""
    out: list[Record] = []
    with path.open("rb") as f:
        for rec in ArchiveIterator(f, no_record_parse=True):
            block = rec.raw_stream.read()
            status = None
            pairs: list[tuple[str, str]] = []
            head = b""
            payload = block
            if rec.rec_type in ("response", "request"):
                head, _, payload = block.partition(b"\r\n\r\n")
                lines = head.decode("utf-8").split("\r\n")
                status = lines[0]
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    pairs.append((k.strip(), v.strip()))
            out.append(
                Record(
                    type=rec.rec_type,
                    uri=rec.rec_headers.get_header("WARC-Target-URI") or "",
                    headers=dict(rec.rec_headers.headers),
                    first_line=status,
                    http_headers=pairs,
                    http_head_raw=head,
                    payload=payload,
                )
            )
    return out


def warc_plaintext(path: Path) -> bytes:
    """The whole WARC decompressed (gzip members concatenated), for 'is X anywhere' checks."""
    with gzip.open(path, "rb") as f:
        return f.read()


@dataclass
class Captured:
    result: CaptureResult
    records: list[Record]

    def responses(self, uri_suffix: str) -> list[Record]:
        return [r for r in self.records if r.type == "response" and r.uri.endswith(uri_suffix)]

    def response(self, uri_suffix: str) -> Record:
        found = self.responses(uri_suffix)
        assert len(found) == 1, f"expected one response for {uri_suffix}, got {len(found)}"
        return found[0]


def capture_and_read(engine: EngineRunner, url: str, workdir: Path, **options: Any) -> Captured:
    result = engine.capture(url, workdir, **options)
    return Captured(result, read_warc(result.warc_path))
