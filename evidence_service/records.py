"""The capture result record: one shape for the REST API, ``evidence capture --json`` and the UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from storage.models import Capture

FILE_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (Capture attribute, media type, download name suffix)
    "package": ("package_key", "application/wacz+zip", ".wacz"),
    "screenshot": ("screenshot_key", "image/png", ".png"),
    "pdf": ("pdf_key", "application/pdf", ".pdf"),
    "provenance": ("provenance_key", "application/json", "-provenance.json"),
    "provenance.html": ("provenance_html_key", "text/html; charset=utf-8", "-provenance.html"),
}


class ErrorInfo(BaseModel):
    code: str
    message: str


class FileInfo(BaseModel):
    sha256: str
    url: str


class TimestampInfo(BaseModel):
    trusted_time: datetime | None = Field(description="genTime of the RFC 3161 token (UTC)")
    tsa: str | None
    serial: str | None


class CaptureRecord(BaseModel):
    id: str
    status: Literal["queued", "loading", "sealing", "stored", "failed"]
    outcome: Literal["complete", "partial"] | None = Field(
        description="complete, or partial when a limit was hit; null until loaded or if failed"
    )
    progress_detail: str | None = Field(description="What the capture is doing or waiting for")
    requested_url: str
    final_url: str | None
    http_status: int | None
    title: str | None
    authenticated: bool
    cookie_names: list[str]
    limits_hit: list[str]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    sealed_at: datetime | None
    timestamp: TimestampInfo | None
    error: ErrorInfo | None
    package: FileInfo | None
    files: dict[str, FileInfo]
    hashes: dict[str, str] = Field(description="sha256 of every file in the package")
    summary: dict[str, Any]


def capture_record(cap: Capture, base_url: str = "") -> CaptureRecord:
    files: dict[str, FileInfo] = {}
    for kind, (attr, _media, _suffix) in FILE_KINDS.items():
        key = getattr(cap, attr)
        if key and kind != "package":
            files[kind] = FileInfo(sha256=key, url=f"{base_url}/api/captures/{cap.id}/files/{kind}")
    package = None
    if cap.package_key and cap.package_sha256:
        package = FileInfo(
            sha256=cap.package_sha256, url=f"{base_url}/api/captures/{cap.id}/files/package"
        )
    summary = dict(cap.summary or {})
    hashes = {r["path"]: r.get("hash", "") for r in summary.get("resources", []) if "path" in r}
    return CaptureRecord(
        id=cap.id,
        status=cap.status,
        outcome=cap.outcome,
        progress_detail=cap.progress_detail,
        requested_url=cap.requested_url,
        final_url=cap.final_url,
        http_status=cap.http_status,
        title=cap.title,
        authenticated=bool(cap.authenticated),
        cookie_names=list(cap.cookie_names or []),
        limits_hit=list(cap.limits_hit or []),
        created_at=cap.created_at,
        started_at=cap.started_at,
        ended_at=cap.ended_at,
        sealed_at=cap.sealed_at,
        timestamp=TimestampInfo(
            trusted_time=cap.trusted_time, tsa=cap.tsa_name, serial=cap.tsa_serial
        )
        if cap.trusted_time
        else None,
        error=ErrorInfo(code=cap.error_code, message=cap.error_message or "")
        if cap.error_code
        else None,
        package=package,
        files=files,
        hashes=hashes,
        summary=summary,
    )
