"""Public HTTP endpoints of the transparency log (``/api/log``) and the public verification
page of a capture (``/v/<code>``, the QR code's target). No login: anyone holding a package
or a certificate must be able to check it against the log. Only publishing a tree head on
demand (``?publish=1``) needs an admin session or an API token.

The page shows a capture's public facts only: URLs, times, hashes, log entry, the newest
inclusion proof. Authenticated captures (made with someone's session cookies) show neither
the screenshot, the page title nor the certificate (which has a thumbnail): those can hold
what that session could see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from evidence_service.sealing.renewal import publish_tree_head
from evidence_service.sealing.transparency import (
    LogIntegrityError,
    NotIncludedError,
    TransparencyError,
    TransparencyLog,
    UnknownEntryError,
)
from evidence_service.web.auth import services_of, user_from_request
from evidence_service.web.downloads import stored_size
from evidence_service.web.pages import render
from evidence_service.web.params import DB_INT_MAX, Count, Index, OptionalIndex
from signing.errors import TimestampError
from storage.models import Capture

router = APIRouter(prefix="/api/log", tags=["transparency log"])
public_router = APIRouter(include_in_schema=False)

_HEX64 = r"^[0-9a-fA-F]{64}$"


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


def _log(request: Request) -> TransparencyLog:
    return TransparencyLog(services_of(request))


def _translate(exc: Exception) -> HTTPException:
    if isinstance(exc, UnknownEntryError):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, NotIncludedError):
        return _error(409, "not_yet_included", str(exc))
    if isinstance(exc, LogIntegrityError):
        return _error(500, "log_integrity", str(exc))
    if isinstance(exc, TimestampError):
        return _error(503, "tsa_unavailable", str(exc))
    return _error(409, "log_error", str(exc))


@router.get("", summary="The log's identity, key and size")
def log_info(request: Request) -> dict[str, Any]:
    return _log(request).info()


@router.get(
    "/sth",
    summary="The newest signed tree head (publish=1 signs one now: admins and API tokens)",
    responses={404: {"description": "No tree head published yet"}},
)
def latest_sth(request: Request, publish: bool = False) -> dict[str, Any]:
    tlog = _log(request)
    if publish:
        user = user_from_request(request)
        token_holder = request.headers.get("authorization", "").lower().startswith("bearer ")
        if user is None or not (user.role == "admin" or token_holder):
            raise _error(
                403,
                "forbidden",
                "publishing a tree head on demand needs an admin session or an API token",
            )
        try:
            return publish_tree_head(tlog.services)
        except (TransparencyError, TimestampError) as exc:
            raise _translate(exc) from exc
    sth = tlog.latest_sth()
    if sth is None:
        raise _error(404, "not_found", "no tree head has been published yet")
    return sth


@router.get("/sth/{tree_size}", summary="The signed tree head of a given size")
def sth_of_size(request: Request, tree_size: Count) -> dict[str, Any]:
    try:
        return _log(request).sth(tree_size)
    except TransparencyError as exc:
        raise _translate(exc) from exc


@router.get("/proof/inclusion", summary="Inclusion proof of a leaf (RFC 9162 §2.1.3)")
def inclusion_proof(
    request: Request,
    leaf_hash: Annotated[str, Query(pattern=_HEX64, description="hex leaf hash")],
    tree_size: OptionalIndex = None,
) -> dict[str, Any]:
    try:
        return _log(request).inclusion_proof(leaf_hash.lower(), tree_size)
    except TransparencyError as exc:
        raise _translate(exc) from exc


@router.get("/proof/consistency", summary="Consistency proof between two tree heads (§2.1.4)")
def consistency_proof(
    request: Request,
    first: Annotated[int, Query(ge=0, le=DB_INT_MAX)],
    second: Annotated[int, Query(ge=0, le=DB_INT_MAX)],
) -> dict[str, Any]:
    try:
        return _log(request).consistency_proof(first, second)
    except TransparencyError as exc:
        raise _translate(exc) from exc


@router.get("/entries/{index}", summary="One log entry")
def entry(request: Request, index: Index) -> dict[str, Any]:
    tlog = _log(request)
    try:
        e = tlog.entry(index)
    except TransparencyError as exc:
        raise _translate(exc) from exc
    return {
        "leaf_index": e.leaf_index,
        "leaf_input": f"sha256:{e.leaf_input}",
        "leaf_hash": e.leaf_hash,
        "logged_at": e.created_at.isoformat().replace("+00:00", "Z"),
    }


# -- the public verification page ---------------------------------------------------------------


def _capture_by_code(request: Request, code: str) -> Capture:
    services = services_of(request)
    if not code.isalnum() or len(code) > 32:
        raise _error(404, "not_found", "no such capture")
    with services.sessions() as session:
        cap = session.scalar(select(Capture).where(Capture.verify_code == code.lower()))
        if cap is None or cap.status != "stored":
            raise _error(404, "not_found", "no such capture")
        session.expunge(cap)
        return cap


def public_facts(request: Request, cap: Capture) -> dict[str, Any]:
    """What anyone may see about a stored capture (also ``/v/<code>/facts.json``)."""
    summary = dict(cap.summary or {})
    manifest_files: dict[str, str] = {}
    for res in summary.get("resources") or []:
        manifest_files[res["path"]] = res["hash"]
    tlog = _log(request)
    proof = tlog.proofs_for_capture(cap.id)
    base = str(request.base_url).rstrip("/")
    facts: dict[str, Any] = {
        "capture_id": cap.id,
        "requested_url": cap.requested_url,
        "final_url": cap.final_url,
        "http_status": cap.http_status,
        "title": None if cap.authenticated else cap.title,
        "authenticated": bool(cap.authenticated),
        "outcome": cap.outcome,
        "trusted_time": cap.trusted_time.isoformat().replace("+00:00", "Z")
        if cap.trusted_time
        else None,
        "tsa": cap.tsa_name,
        "tsa_serial": cap.tsa_serial,
        "capture_started_local": cap.started_at.isoformat() if cap.started_at else None,
        "capture_ended_local": cap.ended_at.isoformat() if cap.ended_at else None,
        "package_sha256": cap.package_sha256,
        "manifest_sha256": cap.manifest_sha256,
        "files": manifest_files,
        "log_entry": summary.get("log_entry"),
        "inclusion_proof": proof,
        "verify_page": f"{base}/verify",
        "trust_bundle": f"{base}/api/trust-bundle",
    }
    if not cap.authenticated:
        facts["screenshot_url"] = f"{base}/v/{cap.verify_code}/screenshot"
        facts["certificate_url"] = f"{base}/v/{cap.verify_code}/certificate.pdf"
    return facts


@public_router.get("/v/{code}")
def verify_page(request: Request, code: str) -> Response:
    cap = _capture_by_code(request, code)
    facts = public_facts(request, cap)
    return render(request, "verify_public.html", facts=facts, code=cap.verify_code)


@public_router.get("/v/{code}/facts.json")
def verify_facts(request: Request, code: str) -> JSONResponse:
    return JSONResponse(public_facts(request, _capture_by_code(request, code)))


@public_router.get("/v/{code}/proof.json")
def verify_proof(request: Request, code: str) -> JSONResponse:
    cap = _capture_by_code(request, code)
    proof = _log(request).proofs_for_capture(cap.id)
    if proof is None:
        raise _error(409, "not_yet_included", "no signed tree head covers this capture yet")
    return JSONResponse(proof)


def _public_file(request: Request, code: str, attr: str, media: str, name: str) -> Response:
    cap = _capture_by_code(request, code)
    if cap.authenticated:
        raise _error(
            403, "private", "this capture was made with a login session: its contents are private"
        )
    key = getattr(cap, attr)
    if not key:
        raise _error(404, "not_found", "no such file")
    services = services_of(request)
    size = stored_size(services.store, key)

    def stream() -> Any:
        with services.store.open(key) as fh:
            while chunk := fh.read(1 << 20):
                yield chunk

    return StreamingResponse(
        stream(),
        media_type=media,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Content-SHA256": key.rsplit("/", 1)[-1],
            "Cache-Control": "public, max-age=86400, immutable",
        },
    )


@public_router.get("/v/{code}/screenshot")
def verify_screenshot(request: Request, code: str) -> Response:
    return _public_file(request, code, "screenshot_key", "image/png", f"{code}.png")


@public_router.get("/v/{code}/certificate.pdf")
def verify_certificate(request: Request, code: str) -> Response:
    return _public_file(
        request, code, "certificate_key", "application/pdf", f"{code}-certificate.pdf"
    )
