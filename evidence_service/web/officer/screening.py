"""The officer's buttons of the case page's ``screening`` panel (screen again, record a
conclusion) and, so that the app registers one router for the room, the REST routes of
:mod:`..api.screening`. Both go through the same functions as the API, so the checks and the
event are the same."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_service.web.api import screening as api
from evidence_service.web.api.cases import CaseApiError
from evidence_service.web.auth import check_csrf, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.i18n import language, translate
from evidence_service.web.pages import render, require_officer

__all__ = ["router"]

router = APIRouter()
router.include_router(api.router)


def _failed(request: Request, user: object, case_id: str, exc: CaseApiError) -> Response:
    if exc.status_code in (404, 403) and exc.code != "not_staffed":
        message = translate(
            language(request), "cases.none" if exc.status_code == 404 else "screening.err.forbidden"
        )
        return render(request, "error.html", exc.status_code, user=user, message=message)
    field = str(exc.extra.get("field") or exc.code)
    return RedirectResponse(
        f"/cases/{case_id}?screening_error={quote(field)}#screening", status_code=303
    )


@router.post("/cases/{case_id}/screening", include_in_schema=False)
async def screen_form(request: Request, case_id: str, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    try:
        await run_in_threadpool(
            api.screen_now, services_of(request), case_ctx(request), user, case_id
        )
    except CaseApiError as exc:
        return _failed(request, user, case_id, exc)
    return RedirectResponse(f"/cases/{case_id}?screening_done=run#screening", status_code=303)


@router.post("/cases/{case_id}/screening/conclusion", include_in_schema=False)
async def conclusion_form(
    request: Request,
    case_id: str,
    csrf: str = Form(""),
    conclusion: str = Form(""),
    reason: str = Form("", max_length=2000),
) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    try:
        await run_in_threadpool(api.conclude, case_ctx(request), user, case_id, conclusion, reason)
    except CaseApiError as exc:
        return _failed(request, user, case_id, exc)
    return RedirectResponse(
        f"/cases/{case_id}?screening_done=conclusion#screening", status_code=303
    )
