"""The merchant register in the officers' console and the API (room: register).

``/register``: the look-up box (a pasted shop or listing URL, a shop ID, a credit code or
part of a name), the matches with each one's earlier cases and whether this would be a
first violation, and the import form with its report (each bad row by line and field).
``GET /api/register/lookup?q=`` and ``POST /api/register/import`` answer the same as JSON,
with a bearer token or the officers' session like the rest of ``/api``.

Who may use the register is the authorisation table's ``register`` verb (officers, legal
reviewers and heads of a unit; not administrators). The earlier cases shown follow the table
too: this unit's cases in full, other units' only as published decisions
(:mod:`workflow.register.record`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from evidence_service.services import Services
from evidence_service.web.auth import actor_name, check_csrf, require_api_user, services_of
from evidence_service.web.case_views import access_role, helpers, subject_for_officer
from evidence_service.web.i18n import language, translate
from evidence_service.web.pages import render, require_officer
from storage.models import User
from workflow.cases import access
from workflow.register import (
    ImportReport,
    LookupResult,
    RegisterFileError,
    import_file,
    lookup,
    party_record,
)

__all__ = ["MAX_UPLOAD", "lookup_with_records", "router"]

router = APIRouter()
ApiUser = Annotated[User, Depends(require_api_user)]
#: The largest register file accepted over HTTP (bigger ones: ``evidence merchants import``).
MAX_UPLOAD = 200 * 1024 * 1024
_SUFFIXES = (".csv", ".xlsx", ".txt")


def _allowed(user: User) -> access.Decision:
    return access.can(access_role(user), "register", subject_for_officer(user))


def lookup_with_records(
    services: Services, text: str, unit_id: int | None
) -> tuple[LookupResult, list[dict[str, Any]]]:
    """The matches of ``text`` and, for each, its record (earlier cases, first violation)."""
    with services.session() as session:
        result = lookup(session, text)
        records = [
            party_record(
                session,
                unit_id=unit_id,
                credit_code=m.credit_code,
                shop_urls=[s.shop_url for s in m.shops if s.shop_url],
            ).as_json()
            for m in result.matches
        ]
    return result, records


def _save_upload(upload: UploadFile) -> Path:
    """The upload in a temporary file (kept by its own suffix: CSV or XLSX); too big is 413."""
    suffix = Path(upload.filename or "").suffix.lower()
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- removed by the caller
        suffix=suffix if suffix in _SUFFIXES else ".csv", delete=False
    )
    with tmp:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, tmp, 1 << 20)
        size = tmp.tell()
    if size > MAX_UPLOAD:
        Path(tmp.name).unlink(missing_ok=True)
        raise HTTPException(
            413,
            detail={
                "code": "too_large",
                "message": f"register files over {MAX_UPLOAD // (1 << 20)} MB are imported "
                "with `evidence merchants import FILE`",
            },
        )
    return Path(tmp.name)


def _import(services: Services, user: User, upload: UploadFile) -> ImportReport:
    path = _save_upload(upload)
    try:
        return import_file(
            services.sessions,
            path,
            imported_by=f"user:{user.id} {actor_name(user)}",
            file_name=Path(upload.filename or path.name).name,
        )
    finally:
        path.unlink(missing_ok=True)


# -- the page -----------------------------------------------------------------------------------


def _page(
    request: Request,
    user: User,
    q: str = "",
    report: ImportReport | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    result: LookupResult | None = None
    records: list[dict[str, Any]] = []
    if q.strip():
        result, records = lookup_with_records(services_of(request), q, user.unit_id)
    return render(
        request,
        "register.html",
        status_code,
        user=user,
        q=q,
        result=result,
        records=records,
        report=report,
        error=error,
        **helpers(language(request)),
    )


def _officer(request: Request) -> User | Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    decision = _allowed(user)
    if not decision:
        lang = language(request)
        return render(
            request,
            "error.html",
            403,
            user=user,
            message=decision.zh if lang == "zh" else decision.en,
        )
    return user


@router.get("/register", include_in_schema=False)
def register_page(request: Request, q: str = "") -> Response:
    user = _officer(request)
    if isinstance(user, Response):
        return user
    return _page(request, user, q[:1000])


@router.post("/register/import", include_in_schema=False)
def register_import_form(
    request: Request, csrf: str = Form(""), file: UploadFile | None = None
) -> Response:
    check_csrf(request, csrf)
    user = _officer(request)
    if isinstance(user, Response):
        return user
    if file is None or not file.filename:
        msg = translate(language(request), "register.import.no_file")
        return _page(request, user, error=msg, status_code=422)
    try:
        report = _import(services_of(request), user, file)
    except RegisterFileError as exc:
        return _page(request, user, error=str(exc), status_code=422)
    return _page(request, user, report=report)


# -- the API ------------------------------------------------------------------------------------


def _api_allowed(user: User) -> None:
    decision = _allowed(user)
    if not decision:
        raise HTTPException(403, detail={"code": "forbidden", "message": decision.en})


@router.get("/api/register/lookup", tags=["register"])
def api_lookup(
    request: Request, user: ApiUser, q: Annotated[str, Query(min_length=1, max_length=1000)]
) -> dict[str, Any]:
    """Find the operator behind a shop or listing URL, a shop ID, a unified social credit code
    or (part of) a name: the register's matches, best first, each with its earlier cases
    (this unit's, and other units' published decisions) and ``first_violation``."""
    _api_allowed(user)
    result, records = lookup_with_records(services_of(request), q, user.unit_id)
    out = result.as_json()
    for match, record in zip(out["matches"], records, strict=True):
        match["record"] = record
    return out


@router.post("/api/register/import", tags=["register"])
async def api_import(request: Request, user: ApiUser, file: UploadFile) -> dict[str, Any]:
    """Import a register file (CSV or XLSX, multipart field ``file``): new entries are
    created, known ones (by credit code) updated with a change log; bad rows are reported by
    line and field and the rest imported. A file that cannot be read at all is ``422``."""
    _api_allowed(user)
    try:
        report = await run_in_threadpool(_import, services_of(request), user, file)
    except RegisterFileError as exc:
        raise HTTPException(422, detail={"code": "unreadable_file", "message": str(exc)}) from None
    return report.as_json()
