"""The built-in RFC 3161 time-stamp authority over HTTP (RFC 3161 §3.4).

``POST /tsa`` with ``Content-Type: application/timestamp-query`` answers
``application/timestamp-reply`` (exactly: pyHanko's client insists). Refusals are RFC 3161
refusals in the body with HTTP 200, as the RFC's HTTP transport expects, so any client (openssl,
pyHanko, rfc3161ng) reads the TSA's reason.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from evidence_service.web.auth import services_of

router = APIRouter(tags=["time-stamping"])
MAX_QUERY = 64 * 1024


@router.post(
    "/tsa",
    summary="RFC 3161 time-stamp authority",
    response_class=Response,
    responses={200: {"content": {"application/timestamp-reply": {}}}},
)
async def timestamp(request: Request) -> Response:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/timestamp-query":
        return Response(
            "Send a DER TimeStampReq with Content-Type: application/timestamp-query\n",
            status_code=415,
            media_type="text/plain",
        )
    body = await request.body()
    if len(body) > MAX_QUERY:
        return Response("Time-stamp query too large\n", status_code=413, media_type="text/plain")
    authority = services_of(request).tsa
    reply = await asyncio.to_thread(authority.respond, body)
    return Response(reply, media_type="application/timestamp-reply")
