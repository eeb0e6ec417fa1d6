"""``SandboxBank``: the one payment channel, and the only stand-in for a bank. It moves no money.

It plays both sides of a real integration so that the whole flow runs end to end:

* the **bank's side**: it keeps its own orders (JSON files in its own folder, not our
  database: a bank's records are not ours), shows the payer a page of ours that says
  "sandbox" (``/sandbox-bank/orders/<id>``, see ``evidence_service.web.public.payments``),
  and when the payer confirms, signs a notification with *its own* Ed25519 key and posts it
  over real HTTP to our callback URL, as a bank would;
* **our side** of the interface (:class:`~workflow.payments.channel.PaymentChannel`): creating
  the order, verifying a notification (the Ed25519 signature over the raw body, then the
  timestamp within :data:`MAX_CLOCK_SKEW`), querying an order.

The notification body is JSON with a ``timestamp`` and a random ``nonce``; both are under the
signature, so a replayed notification is the same bytes and is recognised by its nonce (the
caller keeps the nonces: :mod:`workflow.payments.service`). A retry of the same payment
(:meth:`SandboxBank.notify` again) carries a new nonce and the same ``txn_id``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .channel import CallbackRefused, ChannelOrder, ChannelStatus, Notification, OrderRequest

__all__ = [
    "KEY_ID_HEADER",
    "MAX_CLOCK_SKEW",
    "SIGNATURE_HEADER",
    "SandboxBank",
    "SandboxOrder",
    "SandboxOrderError",
    "sign_body",
]

SIGNATURE_HEADER = "X-Sandbox-Signature"
KEY_ID_HEADER = "X-Sandbox-Key-Id"
#: How far a notification's timestamp may be from our clock (a replay window: older
#: notifications are refused even with a nonce we have forgotten).
MAX_CLOCK_SKEW = timedelta(minutes=5)
_ID_CHARS = "0123456789abcdef"


class SandboxOrderError(LookupError):
    """No such sandbox order, or it cannot be paid (expired, already paid)."""


@dataclass
class SandboxOrder:
    """An order as the sandbox bank keeps it."""

    bank_order_id: str
    order_id: str
    amount_fen: int
    subject: str
    notify_url: str
    return_url: str
    expires_at: str
    created_at: str
    status: str = "pending"  # pending, paid
    txn_id: str | None = None
    paid_at: str | None = None
    #: The HTTP status our callback answered with, each time the bank notified.
    notified: list[int | str] | None = None

    @property
    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)


def sign_body(key: Ed25519PrivateKey, body: bytes) -> str:
    """The signature header's value: base64 of Ed25519 over the raw body."""
    return base64.b64encode(key.sign(body)).decode("ascii")


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()[:16]


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SandboxBank:
    """The sandbox bank (see the module docstring). ``folder`` holds its key and orders;
    ``page_url`` is the base of its payer page (``<page_url>/<bank order id>``)."""

    name = "sandbox"
    label_zh = "沙箱银行（测试用模拟渠道，不是真实银行，不会扣款）"
    label_en = "Sandbox bank (a test stand-in, not a real bank; no money moves)"
    sandbox = True

    def __init__(self, folder: Path, *, page_url: str, http_timeout_s: float = 120.0) -> None:
        self.folder = Path(folder)
        self.page_url = page_url.rstrip("/")
        self.http_timeout_s = http_timeout_s
        self._lock = threading.Lock()
        self._key: Ed25519PrivateKey | None = None

    # -- the bank's key -----------------------------------------------------------------------

    @property
    def _key_path(self) -> Path:
        return self.folder / "ed25519-key.pem"

    def private_key(self) -> Ed25519PrivateKey:
        """The bank's signing key (made on first use; in a real integration this key never
        leaves the bank, and we hold only :meth:`public_key`)."""
        with self._lock:
            if self._key is None:
                try:
                    loaded = serialization.load_pem_private_key(
                        self._key_path.read_bytes(), password=None
                    )
                except FileNotFoundError:
                    loaded = Ed25519PrivateKey.generate()
                    _write_private(
                        self._key_path,
                        loaded.private_bytes(
                            serialization.Encoding.PEM,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption(),
                        ),
                    )
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise ValueError(f"{self._key_path} is not an Ed25519 key")
                self._key = loaded
            return self._key

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    # -- our side: PaymentChannel -----------------------------------------------------------------

    def create_order(self, request: OrderRequest) -> ChannelOrder:
        if request.amount_fen <= 0:
            raise ValueError("an order collects a positive amount")
        bank_id = "sbx" + "".join(secrets.choice(_ID_CHARS) for _ in range(29))
        order = SandboxOrder(
            bank_order_id=bank_id,
            order_id=request.order_id,
            amount_fen=request.amount_fen,
            subject=request.subject,
            notify_url=request.notify_url,
            return_url=request.return_url,
            expires_at=request.expires_at.astimezone(UTC).isoformat(),
            created_at=datetime.now(UTC).isoformat(),
            notified=[],
        )
        self._save(order)
        return ChannelOrder(bank_id, f"{self.page_url}/{bank_id}")

    def verify_callback(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> Notification:
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get(SIGNATURE_HEADER.lower(), "")
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            raw_signature = b""
        if not raw_signature:
            raise CallbackRefused("bad_signature", f"no valid {SIGNATURE_HEADER} header")
        try:
            self.public_key().verify(raw_signature, body)
        except InvalidSignature:
            raise CallbackRefused(
                "bad_signature", "the signature does not verify with the sandbox bank's key"
            ) from None
        try:
            data = json.loads(body)
            sent_at = datetime.fromtimestamp(int(data["timestamp"]), UTC)
            note = Notification(
                channel=self.name,
                order_id=str(data["order_id"]),
                channel_order_id=str(data["bank_order_id"]),
                txn_id=str(data["txn_id"]),
                amount_fen=_fen(data["amount_fen"]),
                paid_at=datetime.fromisoformat(str(data["paid_at"])),
                sent_at=sent_at,
                nonce=str(data["nonce"]),
                key_id=_key_id(self.public_key()),
            )
            if data.get("status") != "SUCCESS" or data.get("currency") != "CNY":
                raise ValueError("only successful payments in CNY are notified")
            if note.paid_at.tzinfo is None or not note.nonce or len(note.nonce) > 64:
                raise ValueError("paid_at needs a time zone; the nonce 1-64 characters")
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise CallbackRefused("malformed", f"the notification cannot be read: {exc}") from None
        if abs(now - sent_at) > MAX_CLOCK_SKEW:
            raise CallbackRefused(
                "stale",
                f"the notification was sent at {sent_at.isoformat()}, more than "
                f"{int(MAX_CLOCK_SKEW.total_seconds())} s from our clock ({now.isoformat()})",
                notification=note,
            )
        return note

    def query(self, channel_order_id: str) -> ChannelStatus:
        order = self.order(channel_order_id)
        if order.status == "paid":
            return "paid"
        return "expired" if datetime.now(UTC) > order.expires else "pending"

    # -- the bank's side (sandbox only) ----------------------------------------------------------

    def order(self, bank_order_id: str) -> SandboxOrder:
        if not bank_order_id.startswith("sbx") or not bank_order_id[3:].isalnum():
            raise SandboxOrderError(f"no sandbox order {bank_order_id}")
        try:
            data = json.loads((self.folder / "orders" / f"{bank_order_id}.json").read_text())
        except FileNotFoundError:
            raise SandboxOrderError(f"no sandbox order {bank_order_id}") from None
        return SandboxOrder(**data)

    def pay(self, bank_order_id: str, *, notify: bool = True) -> SandboxOrder:
        """The payer confirmed: the order is paid at the bank (once), then notified
        (``notify=False``: not yet, as when the bank's notification is delayed)."""
        with self._lock:
            order = self.order(bank_order_id)
            if order.status != "paid":
                now = datetime.now(UTC)
                if now > order.expires:
                    raise SandboxOrderError(
                        f"the order expired at {order.expires_at}; start the payment again"
                    )
                order.status = "paid"
                order.txn_id = "SBXT" + "".join(secrets.choice("0123456789") for _ in range(20))
                order.paid_at = now.isoformat()
                self._save(order)
        if notify:
            self.notify(bank_order_id)
        return self.order(bank_order_id)

    def signed_notification(
        self, bank_order_id: str, *, amount_fen: int | None = None, nonce: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The notification of a paid order as the bank sends it: (raw body, headers).

        ``amount_fen`` overrides the amount (a bank's error, for the tests of our refusal)."""
        order = self.order(bank_order_id)
        if order.status != "paid" or order.txn_id is None or order.paid_at is None:
            raise SandboxOrderError(f"sandbox order {bank_order_id} is not paid")
        body = json.dumps(
            {
                "type": "payment.succeeded",
                "status": "SUCCESS",
                "order_id": order.order_id,
                "bank_order_id": order.bank_order_id,
                "txn_id": order.txn_id,
                "amount_fen": order.amount_fen if amount_fen is None else amount_fen,
                "currency": "CNY",
                "paid_at": order.paid_at,
                "timestamp": int(datetime.now(UTC).timestamp()),
                "nonce": nonce or secrets.token_hex(16),
            },
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        key = self.private_key()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(key, body),
            KEY_ID_HEADER: _key_id(key.public_key()),
        }
        return body, headers

    def notify(self, bank_order_id: str) -> int | str:
        """Post the (new) notification of a paid order to its notify URL over HTTP; returns
        the status code, or the connection error's name. Kept in the order's record."""
        body, headers = self.signed_notification(bank_order_id)
        order = self.order(bank_order_id)
        result: int | str
        try:
            response = httpx.post(
                order.notify_url, content=body, headers=headers, timeout=self.http_timeout_s
            )
            result = response.status_code
        except httpx.HTTPError as exc:
            result = type(exc).__name__
        with self._lock:
            order = self.order(bank_order_id)
            order.notified = [*(order.notified or []), result]
            self._save(order)
        return result

    def _save(self, order: SandboxOrder) -> None:
        data = json.dumps(asdict(order), ensure_ascii=False, indent=1).encode("utf-8")
        _write_private(self.folder / "orders" / f"{order.bank_order_id}.json", data)


def _fen(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"amount_fen must be an integer number of fen, not {value!r}")
    if value <= 0:
        raise ValueError("amount_fen must be positive")
    return value
