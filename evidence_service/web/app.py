"""The FastAPI application: web UI, REST API, built-in TSA."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DisconnectionError, OperationalError
from starlette.middleware.sessions import SessionMiddleware

from evidence_service import __version__
from evidence_service.config import Settings
from evidence_service.services import Services
from evidence_service.web import legal as legal_routes
from evidence_service.web import ops, pages
from evidence_service.web.api import captures as captures_api
from evidence_service.web.api import cases as cases_api
from evidence_service.web.api import comparisons as comparisons_api
from evidence_service.web.api import documents as documents_api
from evidence_service.web.api import watches as watches_api
from evidence_service.web.auth import throttled
from evidence_service.web.headers import SecurityHeaders
from evidence_service.web.i18n import language, translate
from evidence_service.web.officer import accounts, captures, case_export, documents
from evidence_service.web.officer import cases as officer_cases
from evidence_service.web.officer import comparisons as officer_comparisons
from evidence_service.web.officer import order_facts as officer_order_facts
from evidence_service.web.officer import register as officer_register
from evidence_service.web.officer import screening as officer_screening
from evidence_service.web.officer import stats as officer_stats
from evidence_service.web.officer import watches as officer_watches
from evidence_service.web.ops import RequestId
from evidence_service.web.platform import router as platform_router
from evidence_service.web.portal import cases as portal_cases
from evidence_service.web.portal import routes as portal
from evidence_service.web.public import complaints, log, payments, pki, publicity, tsa, verify
from evidence_service.web.public.uploads import VerifierGate
from workflow.errors import ThrottledError

_log = logging.getLogger(__name__)
RETRY_AFTER = {"Retry-After": "5"}

DESCRIPTION = """
Sealed web evidence for market-regulation enforcement.

`POST /api/captures` queues a capture (the request is durable before the reply);
`GET /api/captures/{id}` follows it through `queued → loading → sealing → stored` (or `failed`).
A stored capture is a signed, RFC 3161 time-stamped WACZ 1.1.1 package, downloadable at
`/api/captures/{id}/files/package`; `/api/trust-bundle` gives what a court needs to verify it.

Authenticate with `Authorization: Bearer <token>` (create tokens in the web UI or with
`evidence token create`).
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    services = services or Services(settings or Settings())
    app = FastAPI(
        title="evidence-service",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "captures", "description": "Sealed web captures"},
            {"name": "cases", "description": "Administrative cases: open, act, staff, evidence"},
            {"name": "trust", "description": "What verifiers need"},
            {"name": "time-stamping", "description": "Built-in RFC 3161 TSA"},
        ],
    )
    app.state.services = services
    app.state.verifier_gate = VerifierGate(services.settings.verify_max_concurrent)
    app.add_middleware(
        SessionMiddleware,
        secret_key=services.settings.session_key,
        session_cookie="evidence_session",
        same_site="lax",
        https_only=services.settings.effective_public_url.startswith("https://"),
        max_age=12 * 3600,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestId)  # outermost: every log line of the request carries its id
    app.include_router(ops.router)
    app.include_router(captures_api.router)
    app.include_router(comparisons_api.router)
    app.include_router(tsa.router)
    app.include_router(pki.router)
    app.include_router(log.router)
    app.include_router(log.public_router)
    app.include_router(verify.router)
    app.include_router(documents_api.router)
    app.include_router(cases_api.router)
    app.include_router(watches_api.router)
    app.include_router(legal_routes.router)
    app.include_router(portal_cases.router)
    app.include_router(portal.router)
    app.include_router(documents.router)
    app.include_router(accounts.router)
    app.include_router(captures.router)
    app.include_router(officer_comparisons.router)
    app.include_router(case_export.router)
    app.include_router(officer_cases.router)
    app.include_router(platform_router)
    app.include_router(officer_order_facts.router)
    app.include_router(officer_register.router)
    app.include_router(officer_screening.router)
    app.include_router(officer_stats.router)
    app.include_router(officer_watches.router)
    app.include_router(complaints.router)
    app.include_router(publicity.router)
    app.include_router(payments.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), "static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail: dict[str, Any] = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"code": f"http_{exc.status_code}", "message": str(exc.detail)}
        )
        if not request.url.path.startswith(("/api", "/tsa")) and "text/html" in request.headers.get(
            "accept", ""
        ):
            page = pages.render(
                request, "error.html", exc.status_code, message=detail.get("message")
            )
            page.headers.update(exc.headers or {})
            return page
        return JSONResponse(
            status_code=exc.status_code, content={"detail": detail}, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        detail = {"code": "invalid_request", "message": problems}
        return await http_error(request, HTTPException(422, detail=detail))

    @app.exception_handler(ThrottledError)
    async def throttled_error(request: Request, exc: ThrottledError) -> Response:
        return await http_error(request, throttled(exc))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DisconnectionError)
    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # The database restarting or unreachable is not a bug of the request: 503 with a
        # Retry-After, which clients and proxies retry, instead of a 500 and a traceback.
        _log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        if not request.url.path.startswith(("/api", "/tsa")) and "text/html" in request.headers.get(
            "accept", ""
        ):
            lang = language(request)
            page = pages.render(
                request,
                "error.html",
                503,
                message=translate(lang, "error.database_unavailable"),
                user=None,  # who is signed in cannot be looked up either
            )
            page.headers.update(RETRY_AFTER)
            return page
        detail = {
            "code": "database_unavailable",
            "message": translate("en", "error.database_unavailable"),
        }
        return JSONResponse(status_code=503, content={"detail": detail}, headers=RETRY_AFTER)

    return app
