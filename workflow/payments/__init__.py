"""Online payment of fines (缴款, step 12 of the case process).

Public API::

    PaymentChannel (Protocol: create_order, verify_callback, query), OrderRequest,
        ChannelOrder, Notification, CallbackRefused              # channel.py
    SandboxBank(folder, page_url=...)       # the ONE channel: a stand-in, not a bank
    PaymentContext(cases, portal, channel, public_url)
    issue_notice(ctx, case_id) -> NoticeView                    # the payment number
    request_arrangement(ctx, party_or_officer, case_id, kind=, schedule=, reason=) -> event seq
    approve_arrangement(ctx, head, case_id, kind=, schedule=[Instalment], reason=)
    refuse_arrangement(ctx, head, case_id, reason=) -> event seq
    amount_due(ctx, number) -> AmountDue    # fine + late-payment surcharge, or the instalment
    payment_view(ctx, number) -> PaymentView
    create_order(ctx, number, amount_fen=None) -> CreatedOrder (redirect_url)
    handle_callback(ctx, channel, body, headers, ip=) -> CallbackResult
    issue_receipt / complete_payment / complete_pending / receipt_pdf
    ReceiptFigures, receipt_figures(ctx, order_id), settlement_figures(ctx, number)
        # the one set of figures behind the channel's receipt and the case's 罚没款收据

Every step is an event in the case's hash chain (``PAYMENT_EVENTS``, and the process step
``record_payment``): see :mod:`workflow.payments.service`.

Numbers: ``new_payment_number``, ``normalize_payment_number`` (Damm check digit).
How it fits together: :mod:`workflow.payments.service`.
"""

from __future__ import annotations

from .channel import (
    CallbackRefused,
    ChannelOrder,
    ChannelStatus,
    Notification,
    OrderRequest,
    PaymentChannel,
)
from .errors import (
    ArrangementRefused,
    ArrangementRequired,
    ChannelUnavailable,
    NothingDue,
    NoticeNotFound,
    NoticeNotIssuable,
    PaymentError,
    ReceiptNotReady,
)
from .numbers import (
    InvalidPaymentNumber,
    damm_digit,
    format_payment_number,
    new_payment_number,
    normalize_payment_number,
)
from .sandbox import SandboxBank, SandboxOrder, SandboxOrderError
from .service import (
    ARRANGEMENT_APPROVED,
    ARRANGEMENT_REFUSED,
    ARRANGEMENT_REQUESTED,
    NOTICE_ISSUED,
    PAYMENT_EVENTS,
    PAYMENT_RECEIVED,
    RECEIPT_ISSUED,
    AmountDue,
    ArrangementView,
    CallbackResult,
    CreatedOrder,
    Instalment,
    NoticeView,
    PaymentContext,
    PaymentView,
    ReceiptFigures,
    ReceiptView,
    amount_due,
    approve_arrangement,
    complete_payment,
    complete_pending,
    create_order,
    handle_callback,
    issue_due_notices,
    issue_notice,
    issue_receipt,
    order_status,
    payment_view,
    receipt_figures,
    receipt_pdf,
    refuse_arrangement,
    request_arrangement,
    settlement_figures,
    yuan,
)

__all__ = [
    "ARRANGEMENT_APPROVED",
    "ARRANGEMENT_REFUSED",
    "ARRANGEMENT_REQUESTED",
    "NOTICE_ISSUED",
    "PAYMENT_EVENTS",
    "PAYMENT_RECEIVED",
    "RECEIPT_ISSUED",
    "AmountDue",
    "ArrangementRefused",
    "ArrangementRequired",
    "ArrangementView",
    "CallbackRefused",
    "CallbackResult",
    "ChannelOrder",
    "ChannelStatus",
    "ChannelUnavailable",
    "CreatedOrder",
    "Instalment",
    "InvalidPaymentNumber",
    "NothingDue",
    "NoticeNotFound",
    "NoticeNotIssuable",
    "NoticeView",
    "Notification",
    "OrderRequest",
    "PaymentChannel",
    "PaymentContext",
    "PaymentError",
    "PaymentView",
    "ReceiptFigures",
    "ReceiptNotReady",
    "ReceiptView",
    "SandboxBank",
    "SandboxOrder",
    "SandboxOrderError",
    "amount_due",
    "approve_arrangement",
    "complete_payment",
    "complete_pending",
    "create_order",
    "damm_digit",
    "format_payment_number",
    "handle_callback",
    "issue_due_notices",
    "issue_notice",
    "issue_receipt",
    "new_payment_number",
    "normalize_payment_number",
    "order_status",
    "payment_view",
    "receipt_figures",
    "receipt_pdf",
    "refuse_arrangement",
    "request_arrangement",
    "settlement_figures",
    "yuan",
]
