"""The officer's form for order data (the case page's ``orders`` panel posts here) and, so that
the app registers one router for the room, the REST routes of :mod:`..api.order_facts`.

The form sends, for each proposal, ``decision:<id>`` (empty, ``confirm`` or ``correct``) and
``value:<id>`` (the corrected value); the proposals are read again from the sealed package
(:func:`evidence_service.sealing.case_orders.confirm_order_facts`), so the page can send back
nothing but the officer's decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_orders import OrderFactsUnavailable, confirm_order_facts
from evidence_service.web.api import order_facts as api
from evidence_service.web.api.cases import CaseApiError, actor_of, held_roles, visible_unit
from evidence_service.web.auth import check_csrf, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.i18n import language, translate
from evidence_service.web.pages import render, require_officer
from workflow.cases.order_facts import Decision
from workflow.cases.service import CaseNotFound, PayloadError

__all__ = ["router"]

router = APIRouter()
router.include_router(api.router)


def decisions_from_form(form: dict[str, str]) -> list[Decision]:
    """The decisions the form made (a proposal left on *not now* is none)."""
    out = []
    for key, choice in form.items():
        if not key.startswith("decision:") or choice not in ("confirm", "correct"):
            continue
        pid = key[len("decision:") :]
        value = form.get(f"value:{pid}") if choice == "correct" else None
        out.append(Decision(pid, "correct" if choice == "correct" else "confirm", value))
    return out


@router.post("/cases/{case_id}/order-facts", include_in_schema=False)
async def confirm_form(request: Request, case_id: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    ctx = case_ctx(request)
    capture_id = form.get("capture_id", "")
    back = f"/cases/{case_id}?orders={capture_id}"
    try:
        await run_in_threadpool(visible_unit, ctx, user, case_id, "evidence")
    except CaseApiError:
        message = translate(language(request), "cases.none")
        return render(request, "error.html", 404, user=user, message=message)
    if "officer" not in held_roles(ctx, user, case_id):
        message = translate(language(request), "orders.not_officer")
        return render(request, "error.html", 403, user=user, message=message)
    try:
        await run_in_threadpool(
            confirm_order_facts,
            services_of(request),
            ctx,
            actor_of(user, "officer"),
            case_id,
            capture_id,
            decisions_from_form(form),
        )
    except PayloadError as exc:
        return RedirectResponse(f"{back}&orders_error={exc.field}#orders", status_code=303)
    except OrderFactsUnavailable as exc:
        return RedirectResponse(f"{back}&orders_error={exc.code}#orders", status_code=303)
    except CaseNotFound:
        message = translate(language(request), "cases.none")
        return render(request, "error.html", 404, user=user, message=message)
    return RedirectResponse(f"/cases/{case_id}?orders_done=1#orders", status_code=303)
