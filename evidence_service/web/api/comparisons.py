"""Re-capture and comparison over REST: ``POST /api/captures/{id}/recapture`` captures the same
URL with the same settings; ``POST /api/comparisons`` {a, b} compares two sealed captures
into a sealed, signed report (``evidence_service.sealing.comparison``); ``GET
/api/comparisons/{id}`` and its files (the report PDF, the two highlighted screenshots).

The comparison is made during the request (both packages verified, compared, the report
rendered and signed: about a second or two for listing pages) so that the reply is the
finished report; errors are ``{"detail": {"code", "message"}}`` like the rest of the API.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.capture_record import CaptureRecord, capture_record
from evidence_service.sealing.comparison import ComparisonError, store_comparison
from evidence_service.sealing.pipeline import CaptureRequestError, load_cookies, recapture
from evidence_service.services import Services
from evidence_service.web.api.captures import CookieIn, stream_object
from evidence_service.web.auth import can_view, require_api_user, services_of
from evidence_service.web.downloads import stored_size
from storage.models import Capture, CaptureComparison, User

__all__ = ["ComparisonRecord", "comparison_record", "router", "visible_comparison"]

router = APIRouter(prefix="/api", tags=["comparisons"])
ApiUser = Annotated[User, Depends(require_api_user)]
COMPARISON_FILES = {
    "report": ("report_key", "application/pdf", ".pdf", "attachment"),
    "highlight-a": ("highlight_a_key", "image/png", "-a.png", "inline"),
    "highlight-b": ("highlight_b_key", "image/png", "-b.png", "inline"),
}
_STATUS = {"not_found": 404, "not_sealed": 409, "same_capture": 422}


def _error(code: int, err: str, message: str) -> HTTPException:
    return HTTPException(code, detail={"code": err, "message": message})


class RecaptureRequest(BaseModel):
    cookies: list[CookieIn] | str | None = Field(
        None,
        description="Session cookies, needed again when the capture was made logged in "
        "(they are never kept).",
    )


class ComparisonRequest(BaseModel):
    a: str = Field(description="Capture id of one sealed capture")
    b: str = Field(description="Capture id of the other (the two are put in order of time)")


class ComparisonRecord(BaseModel):
    id: str
    a_capture_id: str
    b_capture_id: str
    created_at: datetime
    report_sha256: str
    #: The report's facts (its comparison.json): packages, text lines, fields, images, pixels.
    facts: dict[str, Any]
    files: dict[str, str]
    page_url: str


def comparison_record(row: CaptureComparison, base: str = "") -> ComparisonRecord:
    files = {
        kind: f"{base}/api/comparisons/{row.id}/files/{kind}"
        for kind, (attr, *_rest) in COMPARISON_FILES.items()
        if getattr(row, attr)
    }
    return ComparisonRecord(
        id=row.id,
        a_capture_id=row.a_capture_id,
        b_capture_id=row.b_capture_id,
        created_at=row.created_at,
        report_sha256=row.report_sha256,
        facts=dict(row.summary),
        files=files,
        page_url=f"{base}/comparisons/{row.id}",
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _visible(services: Services, capture_id: str, user: User) -> Capture:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None or not can_view(user, cap):
            raise _error(404, "not_found", f"no capture {capture_id}")
        session.expunge(cap)
        return cap


def visible_comparison(services: Services, comparison_id: str, user: User) -> CaptureComparison:
    """The comparison, if the user may see both of its captures (else 404)."""
    with services.sessions() as session:
        row = session.get(CaptureComparison, comparison_id)
        if row is not None:
            session.expunge(row)
    if row is None:
        raise _error(404, "not_found", f"no comparison {comparison_id}")
    _visible(services, row.a_capture_id, user)
    _visible(services, row.b_capture_id, user)
    return row


@router.post(
    "/captures/{capture_id}/recapture",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CaptureRecord,
    summary="Capture the same URL again with the same settings",
    responses={
        404: {"description": "No such capture"},
        422: {"description": "Cookies needed again, or the URL is no longer accepted"},
    },
)
def post_recapture(
    capture_id: str, request: Request, user: ApiUser, body: RecaptureRequest | None = None
) -> CaptureRecord:
    services = services_of(request)
    cap = _visible(services, capture_id, user)
    try:
        cookies: list[Any] = []
        if body is not None and body.cookies:
            raw = body.cookies
            if not isinstance(raw, str):
                raw = json.dumps([c.model_dump() for c in raw])
            cookies = load_cookies(raw, cap.requested_url)
        new_id = recapture(services, capture_id, user_id=user.id, cookies=cookies)
    except CaptureRequestError as exc:
        raise _error(404 if exc.code == "not_found" else 422, exc.code, str(exc)) from exc
    with services.sessions() as session:
        new = session.get(Capture, new_id)
        assert new is not None
        return capture_record(new, _base(request))


@router.post(
    "/comparisons",
    status_code=status.HTTP_201_CREATED,
    response_model=ComparisonRecord,
    summary="Compare two sealed captures into a sealed, signed report",
    responses={
        404: {"description": "No such capture"},
        409: {"description": "A capture is not sealed yet"},
        422: {"description": "The same capture twice, or a package that does not verify"},
    },
)
async def post_comparison(
    body: ComparisonRequest, request: Request, user: ApiUser
) -> ComparisonRecord:
    services = services_of(request)
    _visible(services, body.a, user)
    _visible(services, body.b, user)
    try:
        row = await run_in_threadpool(store_comparison, services, body.a, body.b, user_id=user.id)
    except ComparisonError as exc:
        raise _error(_STATUS.get(exc.code, 422), exc.code, str(exc)) from exc
    return comparison_record(row, _base(request))


@router.get("/comparisons/{comparison_id}", response_model=ComparisonRecord, summary="A comparison")
def get_comparison(comparison_id: str, request: Request, user: ApiUser) -> ComparisonRecord:
    row = visible_comparison(services_of(request), comparison_id, user)
    return comparison_record(row, _base(request))


@router.get(
    "/captures/{capture_id}/comparisons",
    response_model=list[ComparisonRecord],
    summary="The comparisons a capture is part of",
)
def capture_comparisons(capture_id: str, request: Request, user: ApiUser) -> list[ComparisonRecord]:
    services = services_of(request)
    _visible(services, capture_id, user)
    with services.sessions() as session:
        rows = session.scalars(
            select(CaptureComparison)
            .where(
                or_(
                    CaptureComparison.a_capture_id == capture_id,
                    CaptureComparison.b_capture_id == capture_id,
                )
            )
            .order_by(CaptureComparison.created_at.desc())
            .limit(100)
        ).all()
        return [comparison_record(r, _base(request)) for r in rows]


@router.get(
    "/comparisons/{comparison_id}/files/{kind}",
    summary="Download the signed report (report) or a highlighted screenshot",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/pdf": {}, "image/png": {}}}},
)
def get_comparison_file(comparison_id: str, kind: str, request: Request, user: ApiUser) -> Response:
    services = services_of(request)
    if kind not in COMPARISON_FILES:
        raise _error(
            404, "unknown_file", f"unknown file {kind!r}; one of {sorted(COMPARISON_FILES)}"
        )
    row = visible_comparison(services, comparison_id, user)
    attr, media, suffix, disposition = COMPARISON_FILES[kind]
    key = getattr(row, attr)
    if not key:
        raise _error(404, "no_file", f"comparison {comparison_id} has no {kind}")
    headers = {
        "Content-Disposition": f'{disposition}; filename="comparison-{comparison_id}{suffix}"',
        "Content-Length": str(stored_size(services.store, key)),
        "X-Content-SHA256": key,
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    return StreamingResponse(stream_object(services, key), media_type=media, headers=headers)
