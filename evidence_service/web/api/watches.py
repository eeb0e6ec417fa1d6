"""``/api/watches``: watch a URL until it is corrected (:mod:`evidence_service.sealing.monitor`).

A watch captures the page again every ``interval_hours`` until ``until`` or until its
condition holds on a sealed run; ``runs`` is its timeline, each run naming its sealed capture
(``/api/captures/{id}``). Errors are ``{"detail": {"code", "message", "field"}}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing import monitor
from evidence_service.sealing.monitor import WatchError, WatchIn, WatchView
from evidence_service.web.auth import require_api_user, services_of
from storage.models import User

router = APIRouter(prefix="/api", tags=["watches"])
ApiUser = Annotated[User, Depends(require_api_user)]
WatchId = Annotated[str, Path(min_length=1, max_length=64)]
_AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "No valid API token"}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such watch, or one of another unit (not told apart)"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input: `code`, `field` and the message say which"}
}


class WatchCreate(BaseModel):
    url: str | None = Field(None, max_length=4000, description="The page to watch")
    first_capture_id: str | None = Field(
        None, max_length=64, description="Start from this sealed capture instead of a URL"
    )
    interval_hours: float = Field(24.0, gt=0, le=24 * 366, description="Hours between runs")
    until: datetime = Field(description="When the watch ends at the latest (ISO 8601)")
    condition: Literal["text_gone", "text_present", "status", "redirected", "none"] = "none"
    text: str | None = Field(None, max_length=500, description="For text_gone / text_present")
    status: int | None = Field(None, ge=100, le=599, description="For status, e.g. 404")
    case_id: str | None = Field(None, max_length=64, description="The case the watch belongs to")


class RunOut(BaseModel):
    seq: int
    scheduled_at: datetime
    state: str
    capture_id: str | None
    capture_status: str | None
    trusted_time: datetime | None
    package_sha256: str | None
    http_status: int | None
    final_url: str | None
    redirected: bool | None
    text_changed: bool | None = Field(description="Page text changed since the previous run")
    condition_met: bool | None
    detail: str | None


class WatchOut(BaseModel):
    id: str
    url: str
    case_id: str | None
    interval_hours: float
    until: datetime
    condition: str
    text: str | None
    status: int | None
    state: Literal["active", "met", "ended", "stopped"]
    created_at: datetime
    next_run_at: datetime | None
    first_capture_id: str | None
    met_at: datetime | None
    met_capture_id: str | None = Field(description="The sealed capture that shows the condition")
    runs: list[RunOut]


def _out(v: WatchView) -> WatchOut:
    return WatchOut(
        id=v.id,
        url=v.url,
        case_id=v.case_id,
        interval_hours=v.interval_hours,
        until=v.until,
        condition=v.condition,
        text=v.condition_text,
        status=v.condition_status,
        state=v.state,
        created_at=v.created_at,
        next_run_at=v.next_run_at,
        first_capture_id=v.first_capture_id,
        met_at=v.met_at,
        met_capture_id=v.met_capture_id,
        runs=[
            RunOut(
                seq=r.seq,
                scheduled_at=r.scheduled_at,
                state=r.state,
                capture_id=r.capture_id,
                capture_status=r.capture_status,
                trusted_time=r.trusted_time,
                package_sha256=r.package_sha256,
                http_status=r.http_status,
                final_url=r.final_url,
                redirected=r.redirected,
                text_changed=r.text_changed,
                condition_met=r.condition_met,
                detail=r.detail,
            )
            for r in v.runs
        ],
    )


def _error(code: int, exc: WatchError) -> HTTPException:
    return HTTPException(code, detail={"code": exc.code, "message": str(exc), "field": exc.field})


def _found(request: Request, user: User, watch_id: str) -> WatchView:
    view = monitor.watch_view(services_of(request), watch_id, user.unit_id)
    if view is None:
        raise HTTPException(404, detail={"code": "not_found", "message": f"no watch {watch_id}"})
    return view


@router.post(
    "/watches",
    status_code=status.HTTP_201_CREATED,
    response_model=WatchOut,
    summary="Watch a URL until it is corrected",
    responses={**_AUTH, **_INVALID},
)
async def post_watch(body: WatchCreate, request: Request, user: ApiUser) -> WatchOut:
    until = body.until if body.until.tzinfo else body.until.replace(tzinfo=UTC)
    spec = WatchIn(
        until=until,
        url=body.url,
        first_capture_id=body.first_capture_id,
        interval_hours=body.interval_hours,
        condition=body.condition,
        text=body.text,
        status=body.status,
        case_id=body.case_id,
    )
    try:
        watch_id = await run_in_threadpool(monitor.create_watch, services_of(request), spec, user)
    except WatchError as exc:
        raise _error(422, exc) from exc
    return _out(_found(request, user, watch_id))


@router.get(
    "/watches", response_model=list[WatchOut], summary="The unit's watches", responses={**_AUTH}
)
def get_watches(
    request: Request,
    user: ApiUser,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[WatchOut]:
    services = services_of(request)
    monitor.settle(services)
    return [_out(v) for v in monitor.list_watches(services, user.unit_id, case_id=case_id)]


@router.get(
    "/watches/{watch_id}",
    response_model=WatchOut,
    summary="A watch and the timeline of its runs",
    responses={**_AUTH, **_NOT_FOUND},
)
def get_watch(watch_id: WatchId, request: Request, user: ApiUser) -> WatchOut:
    monitor.settle(services_of(request))
    return _out(_found(request, user, watch_id))


@router.post(
    "/watches/{watch_id}/stop",
    response_model=WatchOut,
    summary="Stop a watch (runs under way still finish)",
    responses={**_AUTH, **_NOT_FOUND, 409: {"description": "The watch has ended already"}},
)
async def stop_watch(watch_id: WatchId, request: Request, user: ApiUser) -> WatchOut:
    _found(request, user, watch_id)
    try:
        await run_in_threadpool(monitor.stop_watch, services_of(request), watch_id, user)
    except WatchError as exc:
        raise _error(409, exc) from exc
    return _out(_found(request, user, watch_id))
