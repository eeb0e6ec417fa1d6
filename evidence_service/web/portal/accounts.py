"""One portal for accounts of the merchant register, in two rooms: merchants at ``/portal``
and platform operators at ``/platform``. Both are the same kind of account (a credit code,
a password, a signing certificate, a signed service-address confirmation), so the session
cookie, CSRF, rendering, the error box, and the log-in / set-up / log-out pages are this one
piece of code, told apart only by an :class:`AccountPortal`'s settings.

Sessions: each portal has its own cookie (path = its prefix, HttpOnly, SameSite=Lax) holding a
random token whose SHA-256 names a ``merchant_sessions`` row. It is never the officers'
session cookie, and nothing here reads that one. The token is replaced at login (no session
fixation) and the row ends at logout. A portal may accept only some accounts
(``accepts``: the platform portal takes platforms' accounts only); any other account's
session is treated as no session and its login fails like a wrong password.

CSRF: every form carries ``HMAC(session secret, label + token)``; a POST without the matching
value is refused. Anonymous pages (login, setup) get a token too, so they are covered alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from evidence_service.web.auth import client_of, services_of
from evidence_service.web.i18n import language, translate
from evidence_service.web.portal.deps import portal_context, status_of
from storage.models import Merchant
from workflow import merchants
from workflow.context import PortalContext
from workflow.errors import (
    AuthenticationError,
    FieldError,
    PortalError,
    ThrottledError,
    UploadRejectedError,
)

__all__ = ["KNOWN_ERRORS", "AccountPortal"]

#: Error codes with a translated explanation (``portal.err.<code>``).
KNOWN_ERRORS = frozenset(
    {
        "authentication_failed",
        "invalid_setup_code",
        "too_many_attempts",
        "upload_rejected",
        "already_signed",
        "not_signable",
        "conflict",
        "invalid_input",
        "invalid_document_data",
        "csrf",
    }
)
SESSION_S = 12 * 3600


@dataclass(frozen=True)
class AccountPortal:
    """The settings that tell one account portal from the other."""

    #: URL prefix and cookie path (``/portal``).
    prefix: str
    cookie: str
    #: Mixed into the CSRF MAC, so one portal's token is no good in the other.
    csrf_label: str
    templates: Jinja2Templates
    #: The name templates know the signed-in account by (``merchant``, ``platform``).
    account_var: str
    #: The message keys' prefix of the portal's own words (``portal``, ``platform``).
    words: str
    #: The base template the shared pages extend.
    base: str
    #: Its error page.
    error_page: str
    #: Which accounts may use this portal (None: every account).
    accepts: Callable[[Session, str], bool] | None = None

    # -- cookie, CSRF, rendering ------------------------------------------------------------

    def token(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie)
        return value if value and len(value) <= 100 else None

    def csrf_for(self, request: Request, token: str) -> str:
        key = services_of(request).settings.session_key.encode()
        message = f"{self.csrf_label}:{token}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def check_csrf(self, request: Request, submitted: str) -> bool:
        token = self.token(request)
        if not token or not submitted:
            return False
        return hmac.compare_digest(self.csrf_for(request, token), submitted)

    def set_cookie(self, request: Request, response: Response, token: str) -> None:
        secure = services_of(request).settings.effective_public_url.startswith("https://")
        response.set_cookie(
            self.cookie, token, path=self.prefix, httponly=True, samesite="lax", secure=secure,
            max_age=SESSION_S,
        )  # fmt: skip

    def render(
        self,
        request: Request,
        name: str,
        status_code: int = 200,
        *,
        account: Merchant | None = None,
        **context: Any,
    ) -> HTMLResponse:
        lang = language(request)
        token = self.token(request)
        new_token = token is None
        if token is None:
            token = secrets.token_urlsafe(32)
        context.setdefault("error", None)
        context.update(
            {self.account_var: account},
            lang=lang,
            t=lambda key: translate(lang, key),
            csrf=self.csrf_for(request, token),
            path=request.url.path,
            portal=self,
        )
        response = self.templates.TemplateResponse(request, name, context, status_code=status_code)
        if new_token:
            self.set_cookie(request, response, token)
        if request.query_params.get("lang") in ("zh", "en"):
            response.set_cookie("lang", lang, max_age=3600 * 24 * 365, samesite="lax")
        response.headers["Cache-Control"] = "no-store"
        # Framing, CSP and referrer headers: evidence_service.web.headers, for every HTML page.
        return response

    @staticmethod
    def error_info(exc: PortalError) -> dict[str, Any]:
        """The error box: the translated explanation where there is one, and the details a
        person can act on (which fields, why an upload was refused, when to try again)."""
        info: dict[str, Any] = {
            "code": exc.code,
            "message": str(exc),
            "key": f"portal.err.{exc.code}" if exc.code in KNOWN_ERRORS else None,
        }
        if isinstance(exc, FieldError):
            info["fields"] = dict(exc.errors)
        if isinstance(exc, UploadRejectedError):
            info["reasons"] = exc.reasons
        if isinstance(exc, ThrottledError):
            info["retry_after"] = exc.retry_after
        return info

    def error(
        self, request: Request, exc: PortalError | None, status_code: int, account: Merchant | None
    ) -> HTMLResponse:
        info = self.error_info(exc) if exc is not None else None
        return self.render(request, self.error_page, status_code, account=account, error=info)

    def not_found(self, request: Request, account: Merchant | None) -> HTMLResponse:
        return self.render(request, self.error_page, 404, account=account, missing=True)

    def csrf_failed(self, request: Request, account: Merchant | None) -> HTMLResponse:
        error = {"code": "csrf", "message": "", "key": "portal.err.csrf"}
        return self.render(request, self.error_page, 403, account=account, error=error)

    # -- who is signed in ------------------------------------------------------------------

    @staticmethod
    def ctx(request: Request) -> PortalContext:
        return portal_context(request)

    def _accepted(self, ctx: PortalContext, account_id: str) -> bool:
        if self.accepts is None:
            return True
        with ctx.sessions() as session:
            return self.accepts(session, account_id)

    def current(self, request: Request) -> Merchant | None:
        """The account behind the cookie: a live session of an account this portal takes."""
        ctx = self.ctx(request)
        account = merchants.merchant_for_session(ctx, self.token(request))
        if account is None or not self._accepted(ctx, account.id):
            return None
        return account

    def gate(self, request: Request, *, need_consent: bool = True) -> Merchant | Response:
        """The signed-in account, or where to send the browser instead: the login page, or
        the service-address confirmation while it is unsigned."""
        account = self.current(request)
        if account is None:
            return RedirectResponse(f"{self.prefix}/login", status_code=303)
        if need_consent and account.consent_signed_at is None:
            return RedirectResponse(f"{self.prefix}/consent", status_code=303)
        return account

    # -- log in, set up, log out -----------------------------------------------------------

    def add_session_routes(self, router: APIRouter) -> None:
        """``GET/POST login``, ``POST logout``, ``GET/POST setup`` on ``router`` (whose
        prefix is this portal's)."""
        home, login_page = self.prefix, f"{self.prefix}/login"

        @router.get("/login")
        def login_form(request: Request) -> Response:
            if self.current(request) is not None:
                return RedirectResponse(home, status_code=303)
            return self.render(request, "account_login.html", credit_code="")

        @router.post("/login")
        async def login(
            request: Request,
            credit_code: str = Form(""),
            password: str = Form(""),
            csrf: str = Form(""),
        ) -> Response:
            if not self.check_csrf(request, csrf):
                return self.csrf_failed(request, None)
            ctx, client = self.ctx(request), client_of(request)
            try:
                account_id = await run_in_threadpool(
                    merchants.authenticate, ctx, credit_code, password, client=client
                )
                if not await run_in_threadpool(self._accepted, ctx, account_id):
                    raise AuthenticationError("wrong credit code or password")
                token = await run_in_threadpool(
                    merchants.start_session, ctx, account_id, client=client
                )
            except PortalError as exc:
                return self.render(
                    request,
                    "account_login.html",
                    status_of(exc),
                    error=self.error_info(exc),
                    credit_code=credit_code,
                )
            response = RedirectResponse(home, status_code=303)
            self.set_cookie(request, response, token)
            return response

        @router.post("/logout")
        def logout(request: Request, csrf: str = Form("")) -> Response:
            if not self.check_csrf(request, csrf):
                return self.csrf_failed(request, self.current(request))
            merchants.end_session(self.ctx(request), self.token(request))
            response = RedirectResponse(login_page, status_code=303)
            response.delete_cookie(self.cookie, path=self.prefix)
            return response

        @router.get("/setup")
        def setup_form(request: Request) -> Response:
            return self.render(request, "account_setup.html", form={})

        @router.post("/setup")
        async def setup(
            request: Request,
            code: str = Form(""),
            password: str = Form(""),
            password_repeat: str = Form(""),
            contact_name: str = Form(""),
            phone: str = Form(""),
            email: str = Form(""),
            address: str = Form(""),
            csrf: str = Form(""),
        ) -> Response:
            if not self.check_csrf(request, csrf):
                return self.csrf_failed(request, None)
            ctx, client = self.ctx(request), client_of(request)
            form = merchants.SetupForm(
                code, password, password_repeat, contact_name, phone, email, address
            )
            kept = {
                "contact_name": contact_name,
                "phone": phone,
                "email": email,
                "address": address,
            }
            try:
                account_id = await run_in_threadpool(
                    merchants.complete_setup, ctx, form, client=client
                )
                token = await run_in_threadpool(
                    merchants.start_session, ctx, account_id, client=client
                )
            except PortalError as exc:
                return self.render(
                    request,
                    "account_setup.html",
                    status_of(exc),
                    error=self.error_info(exc),
                    form=kept,
                )
            response = RedirectResponse(f"{self.prefix}/consent", status_code=303)
            self.set_cookie(request, response, token)
            return response
