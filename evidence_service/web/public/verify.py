"""The court verifier over HTTP: ``POST /api/verify`` and the public page ``/verify``.

No login: anyone holding a package (a court, the merchant's counsel) may check it here, and
nothing is stored -- the upload is verified from a temporary file and forgotten. It is the same
engine as ``evidence verify``; the difference is the default trust: without an uploaded bundle,
the service's own trust bundle is used (the report says so). Verifying offline with the CLI and
a downloaded trust bundle remains the way to avoid trusting this server.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from evidence_service.web.auth import services_of, user_from_request
from evidence_service.web.i18n import language
from evidence_service.web.pages import render
from evidence_service.web.public.uploads import (
    Busy,
    UploadLimits,
    UploadRefused,
    VerifierGate,
    read_form,
)
from signing.verify import (
    REPORT_JSON_SCHEMA,
    Limits,
    Report,
    Text,
    TrustStore,
    ValidationTimeError,
    VerifyOptions,
    load_trust_bundle,
    parse_validation_time,
    render_html,
    render_json,
    render_pdf,
    verify_stream,
)

__all__ = ["router"]

#: Largest trust bundle or proofs file (the package's own limit is a setting, per caller).
MAX_SIDE_FILE = 64 * 1024 * 1024
router = APIRouter()

API_DESCRIPTION = """Upload a sealed WACZ package, a signed PDF, or an RFC 3161 time-stamp (with
`data`, the file it stamps) as `multipart/form-data` field `file`; optional `trust` (a PEM trust
bundle; default: this service's own) and `proofs` (the package's `.proofs.json`).

Optional `at` (query parameter or form field): validate as of that past moment, ISO 8601
with a time zone (`2022-02-01T00:00:00Z`), as DSS and pyHanko's validation time do; the report
then has `validation_time` and, in `present`, the present-time verdict. A malformed or future
moment is refused (422, `bad_validation_time`).

Returns the verification report: `format=json` (default; schema at `/api/verify/schema`),
`html` (self-contained, bilingual) or `pdf`. The HTTP status is 200 whatever the result: read
`indication` (`TOTAL-PASSED`, `TOTAL-FAILED`, `INDETERMINATE`) and `sub_indication`.
No authentication; nothing is stored."""


@dataclass
class _Upload:
    file: UploadFile
    trust: bytes | None
    proofs: bytes | None
    data: UploadFile | None
    #: The ``at`` form field (validation at a past moment), unparsed.
    at: str | None = None


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


async def _read_small(upload: Any, what: str) -> bytes | None:
    if not isinstance(upload, UploadFile) or (not upload.filename and not upload.size):
        return None
    data = await upload.read(MAX_SIDE_FILE + 1)
    if len(data) > MAX_SIDE_FILE:
        raise _error(413, "too_large", f"the {what} file is larger than 64 MiB")
    return data or None


def _upload_limits(request: Request) -> UploadLimits:
    """The caller's upload limit: higher for a signed-in officer than for anyone else."""
    settings = services_of(request).settings
    officer = user_from_request(request) is not None
    return UploadLimits(
        max_bytes=(
            settings.verify_max_upload_officer if officer else settings.verify_max_upload_anonymous
        ),
        spool_dir=settings.spool_dir,
        reserve_bytes=settings.verify_spool_reserve,
    )


def _refused(exc: UploadRefused) -> HTTPException:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return HTTPException(
        exc.status, detail={"code": exc.code, "message": str(exc)}, headers=headers
    )


async def _parse(request: Request) -> _Upload:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise _error(415, "multipart_required", "send the file as multipart/form-data")
    try:
        form = await read_form(request, _upload_limits(request), max_files=4, max_fields=8)
    except UploadRefused as exc:
        raise _refused(exc) from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _error(422, "file_required", "the form field 'file' (the file to verify) is missing")
    data = form.get("data")
    at = form.get("at")
    return _Upload(
        file=upload,
        trust=await _read_small(form.get("trust"), "trust bundle"),
        proofs=await _read_small(form.get("proofs"), "proofs"),
        data=data if isinstance(data, UploadFile) and (data.size or data.filename) else None,
        at=(at.strip() or None) if isinstance(at, str) else None,
    )


@contextmanager
def _verification_slot(request: Request) -> Iterator[None]:
    """One of the process's verification slots, or 503 with Retry-After."""
    gate: VerifierGate = request.app.state.verifier_gate
    try:
        with gate.slot():
            yield
    except Busy as exc:
        raise _refused(exc) from None


def _validation_time(text: str | None) -> datetime | None:
    """The ``at`` parameter as a moment; a bad one is the client's error (422)."""
    if text is None or not text.strip():
        return None
    try:
        return parse_validation_time(text)
    except ValidationTimeError as exc:
        raise _error(422, "bad_validation_time", str(exc)) from None


def _service_trust(request: Request) -> TrustStore:
    services = services_of(request)
    host = services.settings.effective_hostname
    try:
        pem = services.trust_bundle_pem()
    except Exception:
        return TrustStore(
            source="none",
            description=Text("服务的信任证书包不可用", "the service's trust bundle is unavailable"),
        )
    return load_trust_bundle(
        pem,
        source="service",
        description=Text(
            f"本服务（{host}）自己的信任证书包；如需不依赖本服务，请下载信任证书包后离线核验",
            f"this service's own trust bundle ({host}); to avoid relying on this service, "
            "download the trust bundle and verify offline",
        ),
    )


def _verify(
    request: Request, upload: _Upload, require_revocation: bool, at: datetime | None = None
) -> Report:
    if upload.trust is not None:
        trust = load_trust_bundle(
            upload.trust,
            source="given",
            description=Text("上传的信任证书包", "the trust bundle uploaded with the file"),
        )
    else:
        trust = _service_trust(request)
    fh = upload.file.file
    fh.seek(0, 2)
    size = fh.tell()
    data = upload.data

    def open_data() -> Any:
        assert data is not None
        data.file.seek(0)
        return _NoClose(data.file)

    return verify_stream(
        fh,
        size,
        upload.file.filename or "upload",
        trust=trust,
        proofs=upload.proofs,
        data=open_data if data is not None else None,
        options=VerifyOptions(
            require_revocation=require_revocation,
            at=at,
            limits=Limits(max_entries=services_of(request).settings.verify_max_entries),
        ),
    )


class _NoClose:
    """Lets the engine use ``with`` on an upload's file without closing it."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def __enter__(self) -> Any:
        return self.fh

    def __exit__(self, *exc: object) -> None:
        pass

    def read(self, n: int = -1) -> bytes:
        return bytes(self.fh.read(n))


def _file_name(report: Report, suffix: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in report.file_name)[:80]
    return f"{stem or 'file'}.verification.{suffix}"


@router.post(
    "/api/verify",
    tags=["verification"],
    summary="Verify a sealed package, a signed PDF or a time-stamp (no login)",
    description=API_DESCRIPTION,
    responses={200: {"description": "The verification report (whatever the result)."}},
)
async def api_verify(
    request: Request,
    format: str = Query("json", pattern="^(json|html|pdf)$"),
    lang: str = Query("zh", pattern="^(zh|en)$"),
    require_revocation: bool = Query(False),
    at: str | None = Query(
        None,
        description="Validate as of this past moment (ISO 8601 with a time zone, e.g. "
        "2022-02-01T00:00:00Z); also accepted as a form field.",
    ),
) -> Response:
    with _verification_slot(request):
        upload = await _parse(request)
        try:
            moment = _validation_time(at if at is not None else upload.at)
            report = await run_in_threadpool(_verify, request, upload, require_revocation, moment)
        finally:
            await _close(upload)
        return await _respond(report, format, lang)


async def _close(upload: _Upload) -> None:
    await upload.file.close()
    if upload.data is not None:
        await upload.data.close()


async def _respond(report: Report, fmt: str, lang: str) -> Response:
    if fmt == "html":
        return HTMLResponse(render_html(report, lang))
    if fmt == "pdf":
        pdf = await run_in_threadpool(render_pdf, report, lang)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{_file_name(report, "pdf")}"'},
        )
    return JSONResponse(report.to_dict())


@router.get(
    "/api/verify/schema",
    tags=["verification"],
    summary="JSON Schema of the verification report",
)
def api_verify_schema() -> dict[str, Any]:
    return REPORT_JSON_SCHEMA


@router.get("/verify", include_in_schema=False)
def verify_page(request: Request) -> Response:
    return render(request, "verify.html", error=None)


@router.post("/verify", include_in_schema=False)
async def verify_submit(request: Request) -> Response:
    lang = language(request)
    try:
        with _verification_slot(request):
            return await _verify_and_show(request, lang)
    except HTTPException as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
        page = render(request, "verify.html", exc.status_code, error=detail.get("message"))
        page.headers.update(exc.headers or {})
        return page


async def _verify_and_show(request: Request, lang: str) -> Response:
    """The report page (an HTTPException becomes the form again, with the message)."""
    upload = await _parse(request)
    form_lang = request.query_params.get("lang") or lang
    try:
        moment = _validation_time(upload.at)
        report = await run_in_threadpool(_verify, request, upload, False, moment)
    finally:
        await _close(upload)
    json_text = render_json(report)
    return render(
        request,
        "verify_report.html",
        report=report,
        report_html=render_html(report, form_lang, fragment=True),
        json_href="data:application/json;base64,"
        + base64.b64encode(json_text.encode("utf-8")).decode("ascii"),
        json_name=_file_name(report, "json"),
        report_sha256=hashlib.sha256(json_text.encode("utf-8")).hexdigest(),
    )
