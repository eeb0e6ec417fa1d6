"""The sandbox bank on its own: its orders, its refusals, and what its notifications must be
to verify (the signature over the raw body, a fresh timestamp, a well-formed payload)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workflow.payments import CallbackRefused, OrderRequest, SandboxBank, SandboxOrderError
from workflow.payments.sandbox import SIGNATURE_HEADER, sign_body


def _bank(tmp_path: Path) -> SandboxBank:
    return SandboxBank(tmp_path / "bank", page_url="http://127.0.0.1:1/sandbox-bank/orders")


def _order(bank: SandboxBank, expires_in: timedelta = timedelta(hours=1)) -> str:
    made = bank.create_order(
        OrderRequest(
            order_id="a" * 32,
            amount_fen=12_345,
            subject="罚款",
            notify_url="http://127.0.0.1:1/payments/callback/sandbox",
            return_url="http://127.0.0.1:1/pay/x",
            expires_at=datetime.now(UTC) + expires_in,
        )
    )
    assert made.redirect_url.endswith(made.channel_order_id)
    return made.channel_order_id


def test_orders_are_pending_then_paid_and_expired_ones_cannot_be_paid(tmp_path: Path) -> None:
    bank = _bank(tmp_path)
    open_id = _order(bank)
    assert bank.query(open_id) == "pending"
    paid = bank.pay(open_id, notify=False)
    assert paid.status == "paid" and paid.txn_id and bank.query(open_id) == "paid"
    assert bank.pay(open_id, notify=False).txn_id == paid.txn_id  # paid once
    late = _order(bank, timedelta(seconds=-1))
    assert bank.query(late) == "expired"
    with pytest.raises(SandboxOrderError, match="expired"):
        bank.pay(late)
    with pytest.raises(SandboxOrderError):
        bank.order("sbx" + "0" * 29)
    with pytest.raises(SandboxOrderError):
        bank.order("../../etc/passwd")
    bank.public_key()  # made on first use, readable by the service only
    assert (tmp_path / "bank" / "ed25519-key.pem").stat().st_mode & 0o077 == 0


def test_a_notification_verifies_only_as_the_bank_sent_it(tmp_path: Path) -> None:
    bank = _bank(tmp_path)
    order = _order(bank)
    bank.pay(order, notify=False)
    body, headers = bank.signed_notification(order)
    now = datetime.now(UTC)
    note = bank.verify_callback(body, headers, now=now)
    assert (note.amount_fen, note.order_id, note.channel_order_id) == (12_345, "a" * 32, order)
    # the same key, a restarted bank (the key is kept): still verifies
    assert _bank(tmp_path).verify_callback(body, headers, now=now).nonce == note.nonce

    def refused(b: bytes, h: dict[str, str], at: datetime = now) -> str:
        with pytest.raises(CallbackRefused) as info:
            bank.verify_callback(b, h, now=at)
        return info.value.code

    assert refused(body + b" ", headers) == "bad_signature"
    assert refused(body, {}) == "bad_signature"
    assert refused(body, headers, now + timedelta(minutes=6)) == "stale"
    assert refused(body, headers, now - timedelta(minutes=6)) == "stale"
    key = bank.private_key()
    for broken in (
        b"not json",
        json.dumps({**json.loads(body), "amount_fen": "12345"}).encode(),  # a string
        json.dumps({**json.loads(body), "amount_fen": 1.5}).encode(),
        json.dumps({**json.loads(body), "status": "FAILED"}).encode(),
        json.dumps({k: v for k, v in json.loads(body).items() if k != "nonce"}).encode(),
    ):
        assert refused(broken, {SIGNATURE_HEADER: sign_body(key, broken)}) == "malformed"
