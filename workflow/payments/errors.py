"""Errors of the payment flow, each with a stable ``code`` and a message a person can act on."""

from __future__ import annotations

__all__ = [
    "ArrangementRefused",
    "ArrangementRequired",
    "ChannelUnavailable",
    "NothingDue",
    "NoticeNotFound",
    "NoticeNotIssuable",
    "PaymentError",
    "ReceiptNotReady",
]


class PaymentError(Exception):
    """A payment operation that cannot be done now."""

    code = "payment_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NoticeNotFound(PaymentError, LookupError):
    """No payment notice with this number (or for this case)."""

    code = "unknown_payment_number"


class NoticeNotIssuable(PaymentError):
    """The case has no fine served on the party yet, so nothing can be paid."""

    code = "not_payable"


class NothingDue(PaymentError):
    """The fine (and any surcharge) is paid."""

    code = "nothing_due"


class ArrangementRequired(PaymentError):
    """An amount other than the amount due: a partial, deferred or instalment payment needs
    the head of unit's approval first."""

    code = "arrangement_required"


class ArrangementRefused(PaymentError):
    """The arrangement cannot be approved as given (who approves, or the schedule)."""

    code = "arrangement_refused"


class ChannelUnavailable(PaymentError):
    """No payment channel is configured, or the provider cannot be reached."""

    code = "channel_unavailable"


class ReceiptNotReady(PaymentError, LookupError):
    """The receipt has not been issued (yet)."""

    code = "receipt_not_ready"
