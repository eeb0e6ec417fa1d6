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
    "certificate": ("certificate_key", "application/pdf", "-certificate.pdf"),
    "manifest": ("manifest_key", "application/json", "-manifest.json"),
    "video": ("video_key", "video/webm", "-video.webm"),
    # Named so that it lands next to the package as the verifier expects: FILE.proofs.json.
    "proofs": ("proofs_key", "application/json", ".wacz.proofs.json"),
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


class LogEntryInfo(BaseModel):
    log_id: str
    leaf_index: int
    leaf_input: str = Field(description="sha256:<hex> of files/manifest.json")
    leaf_hash: str
    log_url: str


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
    manifest_sha256: str | None = Field(
        None, description="SHA-256 of files/manifest.json (the transparency-log leaf input)"
    )
    log_entry: LogEntryInfo | None = Field(None, description="Transparency-log entry")
    verify_url: str | None = Field(None, description="Public verification page (no login)")
    device: str | None = Field(
        None, description="The device emulated (a Playwright device name); null: desktop"
    )
    video: bool = Field(False, description="Whether a video of the session was requested")
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
    if isinstance(summary.get("seal"), dict):  # the certificates kept for renewals are bulky
        summary["seal"] = {k: v for k, v in summary["seal"].items() if k != "certificates"}
    hashes = {r["path"]: r.get("hash", "") for r in summary.get("resources", []) if "path" in r}
    entry = summary.get("log_entry")
    verify_url = None
    if cap.verify_code and cap.status == "stored":
        verify_url = f"{base_url}/v/{cap.verify_code}"
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
        manifest_sha256=cap.manifest_sha256,
        log_entry=LogEntryInfo(**entry) if isinstance(entry, dict) else None,
        verify_url=verify_url,
        device=(cap.options or {}).get("device"),
        video=bool((cap.options or {}).get("video")),
        summary=summary,
    )
