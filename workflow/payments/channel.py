"""The payment channel: what the service needs from a bank or payment provider.

Three operations, whatever the provider: create an order (and learn where to send the payer),
verify a callback (the provider's signed notification that money moved -- nothing counts
before it is verified), and query an order (what the provider says now, e.g. when the payer
comes back before the notification did). :class:`PaymentChannel` is that interface;
:class:`~workflow.payments.sandbox.SandboxBank` is the one implementation and the only
stand-in for a bank. A real provider (the provincial non-tax revenue platform, UnionPay) is
another class with the same three methods.

Money is integer fen everywhere: a float never decides whether a fine was paid in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "CallbackRefused",
    "ChannelOrder",
    "ChannelStatus",
    "Notification",
    "OrderRequest",
    "PaymentChannel",
]


@dataclass(frozen=True)
class OrderRequest:
    """An order to collect ``amount_fen`` for our order ``order_id``.

    ``notify_url`` is where the provider posts its signed notification; ``return_url`` where
    it sends the payer afterwards; ``expires_at`` when the order stops being payable (the
    amount due changes at midnight, Beijing time, once the surcharge runs)."""

    order_id: str
    amount_fen: int
    subject: str
    notify_url: str
    return_url: str
    expires_at: datetime


@dataclass(frozen=True)
class ChannelOrder:
    """The provider's order: its id and the page the payer is sent to."""

    channel_order_id: str
    redirect_url: str


ChannelStatus = Literal["pending", "paid", "expired"]


@dataclass(frozen=True)
class Notification:
    """A verified notification: the provider says ``amount_fen`` was paid on ``order_id``
    in its transaction ``txn_id``. ``nonce`` is unique per notification (a retry of the same
    payment has a new one; a replayed notification has the same)."""

    channel: str
    order_id: str
    channel_order_id: str
    txn_id: str
    amount_fen: int
    paid_at: datetime
    sent_at: datetime
    nonce: str
    #: Which of the provider's keys verified the signature (as the channel names its keys):
    #: recorded with the payment, so that the record says which key vouched for it.
    key_id: str = ""


class CallbackRefused(Exception):
    """A callback that does not count: ``code`` says why (``bad_signature``, ``malformed``,
    ``stale``, ``replay``, ``unknown_order``, ``wrong_amount``, ``already_paid``,
    ``order_expired``, ``wrong_channel``); the message is for the record and the provider."""

    def __init__(self, code: str, message: str, *, notification: Notification | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.notification = notification


@runtime_checkable
class PaymentChannel(Protocol):
    """A bank or payment provider (see the module docstring)."""

    #: Short name, part of the callback URL (``/payments/callback/<name>``).
    name: str
    #: How the pages and receipts name the channel.
    label_zh: str
    label_en: str
    #: Whether it is a stand-in that moves no money (pages say so prominently).
    sandbox: bool

    def create_order(self, request: OrderRequest) -> ChannelOrder:
        """Open the order at the provider; raises ``OSError`` when the provider is down."""
        ...

    def verify_callback(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> Notification:
        """Check the signature over the raw ``body`` and the freshness of its timestamp,
        then parse it; raises :class:`CallbackRefused`. (Whether its nonce was seen before
        is the caller's check: it keeps the record.)"""
        ...

    def query(self, channel_order_id: str) -> ChannelStatus:
        """What the provider says about the order now (informational: only a verified
        notification counts as payment)."""
        ...
