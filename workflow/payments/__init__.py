"""Online payment of fines (缴款, step 12 of the case process).

Public API::

    PaymentChannel (Protocol: create_order, verify_callback, query), OrderRequest,
        ChannelOrder, Notification, CallbackRefused              # channel.py
    SandboxBank(folder, page_url=...)       # the ONE channel: a stand-in, not a bank
    PaymentContext(cases, portal, channel, public_url)
    issue_notice(ctx, case_id) -> NoticeView                    # the payment number
    approve_arrangement(ctx, head, case_id, kind=, schedule=[Instalment], reason=)
    amount_due(ctx, number) -> AmountDue    # fine + late-payment surcharge, or the instalment
    payment_view(ctx, number) -> PaymentView
    create_order(ctx, number, amount_fen=None) -> CreatedOrder (redirect_url)
    handle_callback(ctx, channel, body, headers, ip=) -> CallbackResult
    issue_receipt / complete_payment / complete_pending / receipt_pdf

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
    AmountDue,
    ArrangementView,
    CallbackResult,
    CreatedOrder,
    Instalment,
    NoticeView,
    PaymentContext,
    PaymentView,
    ReceiptView,
    amount_due,
    approve_arrangement,
    complete_payment,
    complete_pending,
    create_order,
    handle_callback,
    issue_notice,
    issue_receipt,
    order_status,
    payment_view,
    receipt_pdf,
    yuan,
)

__all__ = [
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
    "issue_notice",
    "issue_receipt",
    "new_payment_number",
    "normalize_payment_number",
    "order_status",
    "payment_view",
    "receipt_pdf",
    "yuan",
]
