"""The REST API (``/api``), documented by FastAPI's OpenAPI at ``/docs`` and ``/openapi.json``.

Errors always come back as ``{"detail": {"code": ..., "message": ...}}`` with a stable code, so
scripts can branch on the code and people can read the message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from evidence_service.sealing.capture_record import FILE_KINDS, CaptureRecord, capture_record
from evidence_service.sealing.pipeline import CaptureRequestError, accept_capture, load_cookies
from evidence_service.services import Services
from evidence_service.web.api.idempotency import IdempotencyKey, answer_replayed
from evidence_service.web.auth import can_view, require_api_user, services_of
from evidence_service.web.downloads import stored_size
from evidence_service.web.params import Offset
from storage.errors import CorruptObjectError
from storage.models import Capture, User

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["captures"])
ApiUser = Annotated[User, Depends(require_api_user)]


class CookieIn(BaseModel):
    name: str
    value: str
    domain: str | None = None
    path: str = "/"
    secure: bool = False
    httpOnly: bool = False
    expires: float | None = None


class CaptureRequest(BaseModel):
    url: str = Field(description="The listing or order page to capture (http or https)")
    cookies: list[CookieIn] | str | None = Field(
        None,
        description="Session cookies for this capture only: Playwright-style objects, or the "
        "text of a Netscape cookies.txt file. Never stored in clear; values are redacted "
        "from the package.",
    )
    video: bool | None = Field(
        None,
        description="Record a video of the session (WebM with a clock, in the package as "
        "files/video.webm); null: the service's capture_video setting",
    )
    device: str | None = Field(
        None,
        description='Emulate this device, a Playwright device name such as "iPhone 13" '
        "(viewport, scale factor, touch, mobile user agent); null: desktop Chromium",
        max_length=100,
    )


def _error(code: int, err: str, message: str) -> HTTPException:
    return HTTPException(code, detail={"code": err, "message": message})


@router.post(
    "/captures",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CaptureRecord,
    summary="Request a sealed capture of a URL",
    responses={
        422: {
            "description": "Bad URL, cookies, device or Idempotency-Key, or a key already used "
            "for another request (code says which)"
        }
    },
)
def post_capture(
    body: CaptureRequest,
    request: Request,
    response: Response,
    user: ApiUser,
    idempotency_key: IdempotencyKey = None,
) -> CaptureRecord:
    services = services_of(request)
    try:
        cookies = _cookies(body)
        accepted = accept_capture(
            services,
            body.url,
            user_id=user.id,
            idempotency_key=idempotency_key,
            cookies=cookies,
            video=body.video,
            device=body.device,
        )
    except CaptureRequestError as exc:
        raise _error(422, exc.code, str(exc)) from exc
    answer_replayed(response, accepted.replayed)
    return _record(services, accepted.capture_id, request)


def _cookies(body: CaptureRequest) -> list[Any]:
    if body.cookies is None:
        return []
    if isinstance(body.cookies, str):
        return load_cookies(body.cookies, body.url)
    raw = [c.model_dump() for c in body.cookies]
    return load_cookies(json.dumps(raw), body.url)


@router.get("/captures/{capture_id}", response_model=CaptureRecord, summary="A capture's state")
def get_capture(capture_id: str, request: Request, user: ApiUser) -> CaptureRecord:
    services = services_of(request)
    cap = _visible_capture(services, capture_id, user)
    return capture_record(cap, _base(request))


@router.get("/captures", response_model=list[CaptureRecord], summary="Recent captures")
def list_captures(
    request: Request, user: ApiUser, limit: int = 50, offset: Offset = 0
) -> list[CaptureRecord]:
    services = services_of(request)
    limit = max(1, min(limit, 200))
    with services.sessions() as session:
        rows = session.scalars(
            select(Capture).order_by(Capture.created_at.desc()).offset(offset).limit(limit)
        ).all()
        return [capture_record(c, _base(request)) for c in rows if can_view(user, c)]


@router.get(
    "/captures/{capture_id}/files/{kind}",
    summary="Download the sealed package or one of its files",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_file(capture_id: str, kind: str, request: Request, user: ApiUser) -> Response:
    services = services_of(request)
    if kind not in FILE_KINDS:
        raise _error(404, "unknown_file", f"unknown file {kind!r}; one of {sorted(FILE_KINDS)}")
    cap = _visible_capture(services, capture_id, user)
    attr, media, suffix = FILE_KINDS[kind]
    key = getattr(cap, attr)
    if not key:
        raise _error(409, "not_sealed", f"capture {capture_id} has no sealed {kind} yet")
    size = stored_size(services.store, key)
    disposition = (
        "inline" if kind in ("screenshot", "pdf", "provenance.html", "video") else "attachment"
    )
    headers = {
        "Content-Disposition": f'{disposition}; filename="capture-{capture_id}{suffix}"',
        "Content-Length": str(size),
        "X-Content-SHA256": key,
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    if kind == "provenance.html":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return StreamingResponse(stream_object(services, key), media_type=media, headers=headers)


def stream_object(services: Services, key: str) -> Iterator[bytes]:
    """Stream from the store; the reader verifies the hash and raises at the end on mismatch."""
    try:
        with services.store.open(key) as fh:
            while chunk := fh.read(1 << 20):
                yield chunk
    except CorruptObjectError:
        # Headers are gone already: the truncated body and the log are the signal.
        log.error("stored object %s failed its hash check", key)
        raise


@router.get(
    "/trust-bundle",
    summary="Public trust bundle (root CA, TSA and signing certificates) for verifiers",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
    tags=["trust"],
)
def trust_bundle(request: Request) -> Response:
    pem = services_of(request).trust_bundle_pem()
    return Response(
        pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="evidence-trust-bundle.pem"'},
    )


def _visible_capture(services: Services, capture_id: str, user: User) -> Capture:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None or not can_view(user, cap):
            raise _error(404, "not_found", f"no capture {capture_id}")
        session.expunge(cap)
        return cap


def _record(services: Services, capture_id: str, request: Request) -> CaptureRecord:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        return capture_record(cap, _base(request))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")
