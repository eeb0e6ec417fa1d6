"""The whole payment flow over HTTP against a live server: the merchant's payment page, the
sandbox bank's page, the bank calling our callback over real HTTP with a signed notification,
the case moving to ``paid`` as the ``system`` actor, and the sealed receipt validating with the
court verifier's engine and the service's trust bundle. Then what must not count: a forged
signature, a tampered body, a replay, a wrong amount, an unknown order, a stale notification;
and what must count once only: the bank's retry of the same payment."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from signing.verify import Indication
from storage.models import (
    CaseEvent,
    PaymentCallback,
    PaymentOrder,
    PaymentReceipt,
)
from tests.payments.conftest import CHINA, Live, csrf_of, served_fine
from workflow import payments
from workflow.cases import service
from workflow.documents import validate_document
from workflow.payments.sandbox import SIGNATURE_HEADER, sign_body


def _start(live: Live, client: httpx.Client, number: str) -> tuple[str, str]:
    """Open the payment page and go to the bank: (bank page URL, bank order id)."""
    page = client.get(f"/pay/{number}")
    assert page.status_code == 200, page.text
    gone = client.post(f"/pay/{number}", data={"csrf": csrf_of(page.text)})
    assert gone.status_code == 303, gone.text
    bank_url = gone.headers["location"]
    assert bank_url.startswith(f"{live.url}/sandbox-bank/orders/sbx")
    return bank_url, bank_url.rsplit("/", 1)[1]


def _callbacks(live: Live) -> list[tuple[str, str]]:
    with live.services.sessions() as session:
        return [
            (c.outcome, c.code)
            for c in session.scalars(select(PaymentCallback).order_by(PaymentCallback.id))
        ]


def _events(live: Live, case_id: str, action: str) -> list[CaseEvent]:
    with live.services.sessions() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == action)
            )
        )


def test_the_merchant_pays_at_the_sandbox_bank_and_gets_a_sealed_receipt(
    live: Live, tmp_path: Path
) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    assert payments.normalize_payment_number(number) == number  # the check digit holds
    with live.client() as client:
        page = client.get(f"/pay/{number}")
        assert page.status_code == 200
        assert "2000.00" in page.text and "2026-11-18" in page.text  # the fine, its last day
        assert 'id="sandbox-warning"' in page.text  # the sandbox says so
        bank_url, bank_id = _start(live, client, number)
        bank_page = client.get(bank_url)
        assert bank_page.status_code == 200
        assert "沙箱银行" in bank_page.text and "不是真实银行" in bank_page.text
        assert "2000.00" in bank_page.text
        back = client.post(f"{bank_url}/pay", data={"csrf": csrf_of(bank_page.text)})
        assert back.status_code == 303, back.text
        # the bank called back over HTTP before sending the payer back
        assert live.bank.order(bank_id).notified == [200]
        assert _callbacks(live) == [("accepted", "paid")]
        returned = client.get(back.headers["location"])
        assert 'id="returned"' in returned.text and 'id="settled"' in returned.text
        view = service.case_view(live.cases, live.officer, case_id)
        assert view.case.state == "paid"
        [event] = _events(live, case_id, "record_payment")
        assert (event.actor, event.role) == ("system", "system")
        if "payment_number" in getattr(service.effects()["record_payment"], "notes", ()):
            assert event.details["payment_number"] == number  # for the case file's documents
        receipts = payments.payment_view(live.pay, number).receipts
        assert len(receipts) == 1
        pdf = client.get(f"/pay/{number}/receipts/{receipts[0].id}")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf.content)
    report = validate_document(path, live.services.trust_bundle_pem())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert [s.field_name for s in report.signatures] == ["unit"]


def test_a_retry_counts_once_and_a_replay_not_at_all(live: Live) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    with live.client() as client:
        _bank_url, bank_id = _start(live, client, number)
        live.bank.pay(bank_id, notify=False)  # paid at the bank, notification delayed
        order_id = live.bank.order(bank_id).order_id
        waiting = client.get(f"/pay/{number}?order={order_id}").text
        assert "正在等待银行的缴款通知" in waiting and 'id="settled"' not in waiting
        body, headers = live.bank.signed_notification(bank_id)
        first = client.post("/payments/callback/sandbox", content=body, headers=headers)
        assert first.status_code == 200 and first.json()["outcome"] == "accepted"
        again = client.post("/payments/callback/sandbox", content=body, headers=headers)
        assert again.status_code == 409 and again.json()["reason"] == "replay"
        # the bank's own retry: a new notification (new nonce) of the same transaction
        assert live.bank.notify(bank_id) == 200
    assert _callbacks(live) == [
        ("accepted", "paid"),
        ("refused", "replay"),
        ("duplicate", "duplicate"),
    ]
    with live.services.sessions() as session:
        paid = list(session.scalars(select(PaymentOrder).where(PaymentOrder.status == "paid")))
        assert len(paid) == 1
        assert len(list(session.scalars(select(PaymentReceipt)))) == 1
    assert len(_events(live, case_id, "record_payment")) == 1
    due = payments.amount_due(live.pay, number)
    assert due.settled and due.paid_fen == 200_000


def _forge(live: Live, bank_id: str, **changes: object) -> tuple[bytes, dict[str, str]]:
    body, headers = live.bank.signed_notification(bank_id)
    data = json.loads(body)
    data.update(changes)
    data["nonce"] = secrets.token_hex(16)
    new = json.dumps(data, separators=(",", ":")).encode()
    return new, {**headers, SIGNATURE_HEADER: sign_body(live.bank.private_key(), new)}


def test_forged_tampered_wrong_unknown_and_stale_callbacks_are_refused_and_recorded(
    live: Live,
) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    with live.client() as client:
        _bank_url, bank_id = _start(live, client, number)
        live.bank.pay(bank_id, notify=False)
        genuine, headers = live.bank.signed_notification(bank_id)

        def post(body: bytes, h: dict[str, str]) -> httpx.Response:
            return client.post("/payments/callback/sandbox", content=body, headers=h)

        someone = Ed25519PrivateKey.generate()  # not the bank's key
        forged = post(genuine, {**headers, SIGNATURE_HEADER: sign_body(someone, genuine)})
        assert forged.status_code == 403 and forged.json()["reason"] == "bad_signature"
        tampered = genuine.replace(b'"amount_fen":200000', b'"amount_fen":100')
        assert tampered != genuine
        assert post(tampered, headers).json()["reason"] == "bad_signature"
        unsigned = {k: v for k, v in headers.items() if k != SIGNATURE_HEADER}
        assert post(genuine, unsigned).status_code == 403
        garbage = {**headers, SIGNATURE_HEADER: base64.b64encode(b"x" * 64).decode()}
        assert post(genuine, garbage).status_code == 403

        wrong = post(*_forge(live, bank_id, amount_fen=199_999))  # signed by the bank itself
        assert wrong.status_code == 422 and wrong.json()["reason"] == "wrong_amount"
        unknown = post(*_forge(live, bank_id, order_id="f" * 32))
        assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_order"
        other_channel = client.post("/payments/callback/unionpay", content=genuine, headers=headers)
        assert other_channel.status_code == 404

        late, late_headers = live.bank.signed_notification(bank_id)
        live.clock.shift(600)  # ten minutes later: outside the replay window
        stale = post(late, late_headers)
        assert stale.status_code == 400 and stale.json()["reason"] == "stale"
        live.clock.shift(-600)

        assert service.case_view(live.cases, live.officer, case_id).case.state == "served"
        assert not payments.amount_due(live.pay, number).settled
        ok = post(genuine, headers)  # the genuine one still counts
        assert ok.status_code == 200, ok.text
    codes = _callbacks(live)
    assert codes == [
        ("refused", "bad_signature"),
        ("refused", "bad_signature"),
        ("refused", "bad_signature"),
        ("refused", "bad_signature"),
        ("refused", "wrong_amount"),
        ("refused", "unknown_order"),
        ("refused", "wrong_channel"),
        ("refused", "stale"),
        ("accepted", "paid"),
    ]
    with live.services.sessions() as session:
        kept = session.scalars(
            select(PaymentCallback.body).where(PaymentCallback.code == "wrong_amount")
        ).one()
    assert '"amount_fen":199999' in kept  # the raw body is kept with the refusal
    with live.services.sessions() as session, pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE payment_callbacks SET outcome = 'accepted'"))
    assert service.case_view(live.cases, live.officer, case_id).case.state == "paid"


def test_the_surcharge_shows_from_the_sixteenth_day_and_is_paid_with_the_fine(
    live: Live, tmp_path: Path
) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    with live.client() as client:
        live.clock.move_to(datetime(2026, 11, 18, 20, 0, tzinfo=CHINA))  # the 15th day
        on_time = client.get(f"/pay/{number}").text
        assert 'id="surcharge">0.00' in on_time and 'id="total-due">2000.00' in on_time
        live.clock.move_to(datetime(2026, 11, 20, 9, 0, tzinfo=CHINA))  # 2 days late
        late = client.get(f"/pay/{number}").text
        assert 'id="days-late">2<' in late
        assert 'id="surcharge">120.00' in late  # 3 % of 2,000 yuan a day, two days
        assert 'id="total-due">2120.00' in late
        assert "2026-11-19" in late  # the first surcharge day is shown
        bank_url, bank_id = _start(live, client, number)
        assert live.bank.order(bank_id).amount_fen == 212_000
        bank_page = client.get(bank_url)
        client.post(f"{bank_url}/pay", data={"csrf": csrf_of(bank_page.text)})
        [receipt] = payments.payment_view(live.pay, number).receipts
        assert (receipt.principal_fen, receipt.surcharge_fen) == (200_000, 12_000)
        pdf = client.get(f"/pay/{number}/receipts/{receipt.id}").content
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    report = validate_document(path, live.services.trust_bundle_pem())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert service.case_view(live.cases, live.officer, case_id).case.state == "paid"


def test_money_that_arrives_after_the_case_was_marked_paid_is_kept_and_receipted(
    live: Live,
) -> None:
    """An officer recorded the payment by hand (paid at a bank counter); the channel's
    notification of an online payment still counts as money received: answered OK, a
    receipt issued, the refusal of the case action noted on the order (for a refund)."""
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    with live.client() as client:
        _bank_url, bank_id = _start(live, client, number)
        service.act(live.cases, live.officer, case_id, "record_payment")
        live.bank.pay(bank_id, notify=False)
        body, headers = live.bank.signed_notification(bank_id)
        answer = client.post("/payments/callback/sandbox", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    with live.services.sessions() as session:
        order = session.scalars(select(PaymentOrder)).one()
        assert order.status == "paid" and not order.case_recorded
        assert order.case_note and "record_payment" in order.case_note
    assert len(payments.payment_view(live.pay, number).receipts) == 1
    assert len(_events(live, case_id, "record_payment")) == 1  # the officer's only
