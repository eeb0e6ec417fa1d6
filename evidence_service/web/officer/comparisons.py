"""The officer's "Capture again" and "Compare with…" on a capture's page, and the comparison
page: both screenshots side by side with the changed regions highlighted, the changed
fields, the text lines removed and added, the images removed and added, both packages'
hashes and trusted times, and the signed report to download."""

from __future__ import annotations

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.comparison import ComparisonError, store_comparison
from evidence_service.sealing.pipeline import CaptureRequestError, recapture
from evidence_service.services import Services
from evidence_service.web.api.comparisons import comparison_record, visible_comparison
from evidence_service.web.auth import can_view, check_csrf, services_of
from evidence_service.web.pages import render, require_officer
from storage.models import Capture, CaptureComparison, User

__all__ = ["compare_candidates", "comparisons_of", "router"]

router = APIRouter(include_in_schema=False)
MAX_CANDIDATES = 50


def compare_candidates(services: Services, user: User, cap: Capture) -> list[Capture]:
    """Other sealed captures of the same page (requested or final URL), newest first."""
    urls = {u for u in (cap.requested_url, cap.final_url) if u}
    with services.sessions() as session:
        rows = session.scalars(
            select(Capture)
            .where(
                Capture.id != cap.id,
                Capture.status == "stored",
                or_(Capture.requested_url.in_(urls), Capture.final_url.in_(urls)),
            )
            .order_by(Capture.created_at.desc())
            .limit(MAX_CANDIDATES)
        ).all()
        for row in rows:
            session.expunge(row)
    return [r for r in rows if can_view(user, r)]


def comparisons_of(services: Services, capture_id: str) -> list[CaptureComparison]:
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
            .limit(50)
        ).all()
        for row in rows:
            session.expunge(row)
    return list(rows)


@router.post("/captures/{capture_id}/recapture")
async def recapture_form(request: Request, capture_id: str, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        visible = cap is not None and can_view(user, cap)
    if not visible:
        return render(request, "error.html", 404, message=f"No capture {capture_id}")
    try:
        new_id = await run_in_threadpool(recapture, services, capture_id, user_id=user.id)
    except CaptureRequestError as exc:
        return render(request, "error.html", 422, message=f"{exc.code}: {exc}")
    return RedirectResponse(f"/captures/{new_id}", status_code=303)


@router.post("/comparisons")
async def compare_form(
    request: Request, a: str = Form(...), b: str = Form(""), csrf: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    for capture_id in (a, b):
        with services.sessions() as session:
            cap = session.get(Capture, capture_id) if capture_id else None
            visible = cap is not None and can_view(user, cap)
        if not visible:
            return render(request, "error.html", 404, message=f"No capture {capture_id or '—'}")
    try:
        row = await run_in_threadpool(store_comparison, services, a, b, user_id=user.id)
    except ComparisonError as exc:
        return render(request, "error.html", 422, message=f"{exc.code}: {exc}")
    return RedirectResponse(f"/comparisons/{row.id}", status_code=303)


@router.get("/comparisons/{comparison_id}")
def comparison_page(request: Request, comparison_id: str) -> Response:
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    try:
        row = visible_comparison(services, comparison_id, user)
    except HTTPException:
        return render(request, "error.html", 404, message=f"No comparison {comparison_id}")
    record = comparison_record(row)
    return render(request, "comparison.html", user=user, r=record, f=record.facts)
