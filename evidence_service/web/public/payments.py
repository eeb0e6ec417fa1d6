"""Paying a fine: the merchant's payment page, the provider's callback, and the sandbox bank.

* ``/pay`` and ``/pay/<payment number>``: no login, as at a bank counter -- the payment number
  (20 digits with a check digit, unguessable) is what identifies the notice. The page shows
  the fine, the day it is due, the late-payment surcharge from the 16th day after service and
  the amount due today (or the next instalment of an approved plan), and the sealed receipts.
* ``POST /payments/callback/<channel>``: the provider's signed notification, judged by
  :func:`workflow.payments.handle_callback` on the raw body; answered 200 when counted (or
  already counted), 4xx with the reason otherwise.
* ``/sandbox-bank/orders/<id>``: the page of the sandbox bank, the one stand-in for a bank
  (``EVIDENCE_PAYMENT_SANDBOX=true`` only). Every page says it is a sandbox. Confirming there
  makes the sandbox bank post its signed notification to our callback over real HTTP.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_file import payment_context as payment_context_of
from evidence_service.web.auth import check_csrf, services_of
from evidence_service.web.pages import render
from evidence_service.web.params import RowId
from workflow import payments
from workflow.payments import (
    ArrangementRequired,
    ChannelUnavailable,
    NothingDue,
    NoticeNotFound,
    PaymentContext,
    PaymentError,
    ReceiptNotReady,
    SandboxBank,
    SandboxOrderError,
)

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

#: A notification is a few hundred bytes; anything much larger is not one.
MAX_CALLBACK_BYTES = 64 * 1024
Number = Annotated[str, Path(min_length=1, max_length=64)]
BankOrderId = Annotated[str, Path(min_length=4, max_length=40, pattern=r"^sbx[0-9a-f]+$")]
#: HTTP status of each refusal (the provider retries on 5xx only).
REFUSAL_STATUS = {
    "wrong_channel": 404,
    "bad_signature": 403,
    "malformed": 400,
    "stale": 400,
    "replay": 409,
    "unknown_order": 404,
    "wrong_amount": 422,
    "already_paid": 409,
    "order_expired": 409,
}
_ERROR_STATUS = {
    NoticeNotFound: 404,
    NothingDue: 409,
    ArrangementRequired: 422,
    ChannelUnavailable: 503,
}


def payment_context(request: Request) -> PaymentContext:
    """The app's payment context (made on first use, kept on ``app.state``)."""
    state = request.app.state
    ctx: PaymentContext | None = getattr(state, "payment_context", None)
    if ctx is None:
        ctx = payment_context_of(services_of(request))
        state.payment_context = ctx
    return ctx


def _status(exc: PaymentError) -> int:
    for cls, code in _ERROR_STATUS.items():
        if isinstance(exc, cls):
            return code
    return 422


def _page(request: Request, number: str, *, status_code: int = 200, **extra: Any) -> Response:
    ctx = payment_context(request)
    try:
        view = payments.payment_view(ctx, number)
    except NoticeNotFound as exc:
        return render(request, "payment_lookup.html", 404, error=str(exc), number=number)
    return render(
        request,
        "payment_page.html",
        status_code,
        view=view,
        yuan=payments.yuan,
        grouped=payments.format_payment_number(view.notice.number),
        **extra,
    )


@router.get("/pay")
def lookup(request: Request, number: Annotated[str, Query(max_length=64)] = "") -> Response:
    """Enter a payment number (a mistyped one is caught by its check digit)."""
    if not number:
        return render(request, "payment_lookup.html", number="")
    try:
        normalized = payments.normalize_payment_number(number)
    except payments.InvalidPaymentNumber as exc:
        return render(request, "payment_lookup.html", 422, error=str(exc), number=number)
    return RedirectResponse(f"/pay/{normalized}", status_code=303)


@router.get("/pay/{number}")
def payment_page(
    request: Request,
    number: Number,
    order: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    returned = None
    if order:
        ctx = payment_context(request)
        returned = payments.order_status(ctx, number, order)
    return _page(request, number, returned=returned)


@router.post("/pay/{number}")
def start_payment(
    request: Request,
    number: Number,
    csrf: Annotated[str, Form()] = "",
    amount_fen: Annotated[int | None, Form(ge=1, le=10**14)] = None,
) -> Response:
    """Open an order for the amount due and send the payer to the channel's page."""
    check_csrf(request, csrf)
    ctx = payment_context(request)
    try:
        created = payments.create_order(ctx, number, amount_fen=amount_fen)
    except PaymentError as exc:
        return _page(request, number, status_code=_status(exc), error=str(exc))
    return RedirectResponse(created.redirect_url, status_code=303)


@router.get("/pay/{number}/receipts/{receipt_id}")
def receipt(request: Request, number: Number, receipt_id: RowId) -> Response:
    ctx = payment_context(request)
    try:
        view, pdf = payments.receipt_pdf(ctx, number, receipt_id)
    except (NoticeNotFound, ReceiptNotReady) as exc:
        raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from None
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{number}-{view.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# -- the provider's callback ----------------------------------------------------------------------


@router.post("/payments/callback/{channel}")
async def callback(request: Request, channel: Annotated[str, Path(max_length=32)]) -> Response:
    """The provider's notification: counted only once verified (signature over these exact
    bytes, timestamp, nonce, order, amount). Every callback is recorded."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        return JSONResponse({"code": "FAIL", "reason": "too_large"}, status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CALLBACK_BYTES:
            return JSONResponse({"code": "FAIL", "reason": "too_large"}, status_code=413)
    ctx = payment_context(request)
    ip = request.client.host if request.client else None
    result = await run_in_threadpool(
        payments.handle_callback, ctx, channel, body, dict(request.headers), ip=ip
    )
    if result.ok:
        return JSONResponse({"code": "SUCCESS", "outcome": result.outcome})
    return JSONResponse(
        {"code": "FAIL", "reason": result.code, "message": result.message},
        status_code=REFUSAL_STATUS.get(result.code, 400),
    )


# -- the sandbox bank ---------------------------------------------------------------------------


def _bank(request: Request) -> SandboxBank:
    channel = payment_context(request).channel
    if not isinstance(channel, SandboxBank):
        raise HTTPException(404, detail={"code": "not_found", "message": "no sandbox bank here"})
    return channel


@router.get("/sandbox-bank/orders/{bank_order_id}")
def sandbox_order(request: Request, bank_order_id: BankOrderId) -> Response:
    bank = _bank(request)
    try:
        order = bank.order(bank_order_id)
    except SandboxOrderError as exc:
        raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from None
    return render(request, "payment_sandbox_bank.html", order=order, bank=bank, yuan=payments.yuan)


@router.post("/sandbox-bank/orders/{bank_order_id}/pay")
def sandbox_pay(
    request: Request, bank_order_id: BankOrderId, csrf: Annotated[str, Form()] = ""
) -> Response:
    """The payer confirms at the sandbox bank: the bank marks its order paid and posts its
    signed notification to our callback (real HTTP), then sends the payer back."""
    check_csrf(request, csrf)
    bank = _bank(request)
    try:
        order = bank.pay(bank_order_id)
    except SandboxOrderError as exc:
        try:
            current = bank.order(bank_order_id)
        except SandboxOrderError:
            raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from None
        return render(
            request,
            "payment_sandbox_bank.html",
            409,
            order=current,
            bank=bank,
            yuan=payments.yuan,
            error=str(exc),
        )
    return RedirectResponse(order.return_url, status_code=303)
