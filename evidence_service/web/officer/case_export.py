"""``GET /cases/{id}/export``: the electronic case file as one download (``case.zip``).

Who may export is the access table's ``export`` verb (``workflow/cases/access.toml``: the
officers, reviewers and heads of the case's unit; an administrator never sees a case). A case
of another unit is answered 404, as if it did not exist, like every case page.

The file is written to the service's work folder first and then streamed: the ZIP's
manifest is signed and time-stamped only once every file is in it, so the bytes cannot be
sent while they are made; the writer streams from the store, so neither step holds the
packages in memory. The temporary file is removed once sent (or when the download fails).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_archive import ARCHIVE_EVENT
from evidence_service.sealing.case_export import (
    CaseExportError,
    CaseExportPending,
    export_case,
    stream_file,
)
from evidence_service.web.auth import services_of
from evidence_service.web.pages import require_officer
from storage.models import Case, CaseEvent, CaseStaff, User
from workflow.cases import access
from workflow.cases.service import CaseNotFound

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_STAFF_ROLES = ("officer", "reviewer", "head")


def _role(user: User, staffed: set[str]) -> str:
    """The access table's role: ``admin`` for an administrator, else the role the user is
    staffed as on the case, else ``officer`` (every officer of the unit reads its cases)."""
    if user.role == "admin":
        return "admin"
    return next((r for r in _STAFF_ROLES if r in staffed), "officer")


def _download_name(number: str | None, case_id: str) -> str:
    return f"案卷-{number or case_id}.zip"


@router.get("/cases/{case_id}/export")
async def export_case_file(request: Request, case_id: str) -> Response:
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    with services.sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, detail={"code": "not_found", "message": "No such case."})
        unit, number = case.unit_id, case.number
        staffed = set(
            session.scalars(
                select(CaseStaff.role).where(
                    CaseStaff.case_id == case_id, CaseStaff.user_id == user.id
                )
            )
        )
    decision = access.can(
        _role(user, staffed),
        "export",
        access.Subject(
            actor_unit=str(user.unit_id) if user.unit_id is not None else None,
            case_unit=str(unit),
        ),
    )
    if not decision:
        if decision.scope == "own_unit":  # another unit's case: not told apart from none
            raise HTTPException(404, detail={"code": "not_found", "message": "No such case."})
        raise HTTPException(403, detail={"code": "forbidden", "message": decision.en})
    work = services.settings.work_dir
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(dir=work, prefix="case-export-", suffix=".zip")
    os.close(fd)
    path = Path(name)
    try:
        result = await run_in_threadpool(
            export_case,
            services,
            case_id,
            path,
            exported_by=f"user:{user.id}",
            exported_by_name=user.display_name,
            unit_id=unit,
        )
    except CaseNotFound:
        path.unlink(missing_ok=True)
        raise HTTPException(404, detail={"code": "not_found", "message": "No such case."}) from None
    except CaseExportPending as exc:
        path.unlink(missing_ok=True)
        raise HTTPException(
            503,
            detail={"code": "not_ready", "message": str(exc)},
            headers={"Retry-After": "60"},
        ) from exc
    except CaseExportError as exc:
        path.unlink(missing_ok=True)
        raise HTTPException(409, detail={"code": "export_refused", "message": str(exc)}) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    filename = _download_name(number, case_id)
    ascii_name = f"case-{case_id}.zip"
    return StreamingResponse(
        stream_file(path, remove=True),
        media_type="application/zip",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
            ),
            "Content-Length": str(result.size),
            "X-Content-SHA256": result.sha256 or "",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/cases/{case_id}/archive")
def archived_case_file(request: Request, case_id: str) -> Response:
    """The case file of record, sealed and archived when the case ended
    (``sealing.case_archive``), streamed from the store as it was kept (the store checks its
    SHA-256 to the last byte)."""
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    with services.sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, detail={"code": "not_found", "message": "No such case."})
        unit, number = case.unit_id, case.number
        staffed = set(
            session.scalars(
                select(CaseStaff.role).where(
                    CaseStaff.case_id == case_id, CaseStaff.user_id == user.id
                )
            )
        )
        archived = session.scalar(
            select(CaseEvent.details)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == ARCHIVE_EVENT)
            .order_by(CaseEvent.seq)
            .limit(1)
        )
    decision = access.can(
        _role(user, staffed),
        "export",
        access.Subject(
            actor_unit=str(user.unit_id) if user.unit_id is not None else None,
            case_unit=str(unit),
        ),
    )
    if not decision:
        if decision.scope == "own_unit":
            raise HTTPException(404, detail={"code": "not_found", "message": "No such case."})
        raise HTTPException(403, detail={"code": "forbidden", "message": decision.en})
    if not archived:
        raise HTTPException(
            404, detail={"code": "not_archived", "message": "The case file is not archived yet."}
        )
    key, sha256, size = archived["object_key"], archived["sha256"], int(archived["size"])

    def chunks() -> Iterator[bytes]:
        with services.store.open(key) as src:
            while chunk := src.read(1 << 20):
                yield chunk

    filename = _download_name(number, case_id)
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"case-{case_id}.zip\"; filename*=UTF-8''{quote(filename)}"
            ),
            "Content-Length": str(size),
            "X-Content-SHA256": sha256,
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
