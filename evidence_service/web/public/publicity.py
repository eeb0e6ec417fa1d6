"""The public page of published penalty decisions (``/publicity``) and its JSON feed
(``/publicity/feed.json``). No login: publicity is for everyone (``access.toml``: the public's
``publicity_page`` on published decisions). What is shown is the redacted snapshot made at
publication, and only while its publicity period runs (:mod:`workflow.publicity`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from evidence_service.sealing.case_file import case_context
from evidence_service.web.auth import services_of
from evidence_service.web.pages import render
from workflow import publicity
from workflow.cases import access
from workflow.cases.service import CaseContext

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
Page = Annotated[int, Query(ge=1, le=100_000)]
EntryId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


def _ctx(request: Request) -> CaseContext:
    state = request.app.state
    ctx: CaseContext | None = getattr(state, "publicity_context", None)
    if ctx is None:
        ctx = state.publicity_context = case_context(services_of(request))
    return ctx


def _allowed() -> None:
    """The one authorisation table says who sees the publicity page (everyone, published
    decisions only); asked here so that a change of the table is a change of this page."""
    if not access.can("public", "publicity_page", access.Subject(published=True)):
        raise HTTPException(404, detail={"code": "not_found", "message": "no publicity page"})


@router.get("/publicity")
def publicity_list(request: Request, page: Page = 1) -> Response:
    _allowed()
    ctx = _ctx(request)
    shown = publicity.entries(ctx, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    total = publicity.count_entries(ctx)
    return render(
        request,
        "publicity_list.html",
        entries=shown,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        source=publicity.rules().source,
    )


@router.get("/publicity/feed.json")
def publicity_feed(request: Request) -> Response:
    _allowed()
    base = services_of(request).settings.effective_public_url
    return JSONResponse(
        publicity.feed(_ctx(request), base), headers={"Cache-Control": "max-age=300"}
    )


@router.get("/publicity/{entry_id}")
def publicity_detail(request: Request, entry_id: EntryId) -> Response:
    _allowed()
    try:
        shown = publicity.entry(_ctx(request), entry_id)
    except publicity.EntryNotFound as exc:
        raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from None
    return render(request, "publicity_detail.html", e=shown, source=publicity.rules().source)
