"""The payment as part of the case record: every step an event in the case's hash chain (and
the transparency log) as it happens, the case moved to ``paid`` once by ``system`` however
often the bank calls back, arrangements requested and decided on the record, and one set of
receipt figures behind both receipts (the channel's and the case file's), surcharge included."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evidence_service.sealing.case_file import CASE_EVENT_KIND
from signing.case_chain import chain_problems
from signing.verify import validate_pdf
from storage.models import (
    CaseEvent,
    LogLeaf,
    Merchant,
    PaymentOrder,
    PaymentReceipt,
)
from tests.payments.conftest import CHINA, CREDIT_CODE, Live, csrf_of, served_fine
from workflow import payments
from workflow.cases import documents, service
from workflow.cases.service import Actor
from workflow.payments import ArrangementRefused, Instalment
from workflow.payments.sandbox import KEY_ID_HEADER

RECORDED = (*payments.PAYMENT_EVENTS, "record_payment")
FIGURES = (
    "payment_number",
    "fine_yuan",
    "surcharge_yuan",
    "total_yuan",
    "paid_at",
    "channel",
    "payee",
)


def _merchant(live: Live) -> str:
    """The party's portal account (the case's own documents are kept as its documents)."""
    with live.services.session() as session:
        row = Merchant(
            unit_id=live.unit_id, name="深圳某某电子商务有限公司", credit_code=CREDIT_CODE
        )
        session.add(row)
        session.flush()
        return row.id


def _events(live: Live, case_id: str) -> list[CaseEvent]:
    with live.services.sessions() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )


def _chain_is_whole_and_logged(live: Live, case_id: str) -> list[CaseEvent]:
    rows = _events(live, case_id)
    head = service.case_view(live.cases, live.officer, case_id).case.chain_head
    assert chain_problems([(service.chained_event(r), r.hash) for r in rows], head=head) == []
    with live.services.sessions() as session:
        logged = set(
            session.scalars(select(LogLeaf.leaf_input).where(LogLeaf.kind == CASE_EVENT_KIND))
        )
    assert {r.hash for r in rows} <= logged  # every event is in the transparency log
    return rows


def _pay_at_the_bank(live: Live, number: str) -> str:
    """Through the pages: the payment page, the sandbox bank's page, confirm (the bank calls
    back over HTTP); returns the bank's order id."""
    with live.client() as client:
        page = client.get(f"/pay/{number}")
        gone = client.post(f"/pay/{number}", data={"csrf": csrf_of(page.text)})
        assert gone.status_code == 303, gone.text
        bank_url = gone.headers["location"]
        bank_page = client.get(bank_url)
        back = client.post(f"{bank_url}/pay", data={"csrf": csrf_of(bank_page.text)})
        assert back.status_code == 303, back.text
    return bank_url.rsplit("/", 1)[1]


def test_a_late_payment_is_in_the_case_record_step_by_step_and_both_receipts_agree(
    live: Live, tmp_path: Path
) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    assert payments.issue_notice(live.pay, case_id).number == number  # one notice, one event
    live.clock.move_to(datetime(2026, 11, 20, 9, 0, tzinfo=CHINA))  # two days late
    bank_id = _pay_at_the_bank(live, number)
    key_id = live.bank.signed_notification(bank_id)[1][KEY_ID_HEADER]
    assert live.bank.notify(bank_id) == 200  # the bank calls back a second time
    assert live.bank.order(bank_id).notified == [200, 200]

    rows = _chain_is_whole_and_logged(live, case_id)
    steps = [e for e in rows if e.action in RECORDED]
    assert [e.action for e in steps] == [
        payments.NOTICE_ISSUED,
        payments.PAYMENT_RECEIVED,
        "record_payment",
        payments.RECEIPT_ISSUED,
    ]
    assert {(e.actor, e.role) for e in steps} == {("system", "system")}
    notice, received, recorded, receipt_event = steps
    assert notice.details["payment_number"] == number
    assert (notice.details["fine_fen"], notice.details["pay_by"]) == (200_000, "2026-11-18")
    d = received.details
    assert (d["amount_fen"], d["principal_fen"], d["surcharge_fen"]) == (212_000, 200_000, 12_000)
    assert d["channel_order_id"] == bank_id and d["txn_id"] == live.bank.order(bank_id).txn_id
    assert d["key_id"] == key_id and len(key_id) == 16  # the bank's key verified it
    assert d["settled"] is True and d["settlement"] == d["receipt"]
    assert (recorded.from_state, recorded.to_state) == ("served", "paid")
    assert recorded.details["payment_number"] == number  # its notes: number and channel
    assert recorded.details["payment_channel"] == live.bank.label_zh

    [receipt] = payments.payment_view(live.pay, number).receipts
    with live.client() as client:
        pdf = client.get(f"/pay/{number}/receipts/{receipt.id}").content
    assert receipt_event.details["sha256"] == receipt.sha256 == hashlib.sha256(pdf).hexdigest()
    assert receipt_event.details["receipt_id"] == receipt.id

    # one set of figures: the channel's receipt and the case file's receipt document
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    report = validate_pdf(path, live.services.trust_bundle_pem(), attachments=["document.json"])
    channel_receipt: dict[str, Any] = json.loads(report.attachments["document.json"])["data"]
    # the case's 罚没款收据 as the case's documents make it (builder and schema; rendering
    # and signing it is the documents' tests' business, and slow)
    snapshot = documents.load_snapshot(live.cases, case_id)
    assert [p.template for p in documents.owed(snapshot)][-1] == "payment_receipt"
    case_receipt = documents.build(snapshot, "payment_receipt", recorded.seq)
    assert channel_receipt["surcharge_yuan"] == case_receipt["surcharge_yuan"] == "120.00"
    assert channel_receipt["total_yuan"] == case_receipt["total_yuan"] == "2120.00"
    assert channel_receipt["fine_yuan"] == case_receipt["fine_yuan"] == "2000.00"
    for name in FIGURES:
        assert channel_receipt[name] == case_receipt[name], name
    assert channel_receipt["payment_number"] == number and bank_id not in case_receipt["channel"]
    assert live.bank.order(bank_id).txn_id in case_receipt["channel"]
    assert payments.settlement_figures(live.pay, number).fields() == d["settlement"]


def test_an_arrangement_is_asked_for_and_decided_on_the_record(live: Live) -> None:
    merchant_id = _merchant(live)
    case_id = served_fine(live, merchant_id=merchant_id)
    party = Actor(f"merchant:{merchant_id}", "深圳某某电子商务有限公司", "merchant", live.unit_id)
    plan = [Instalment(date(2026, 11, 18), 100_000), Instalment(date(2026, 12, 18), 100_000)]

    def ask(who: Actor, reason: str = "资金周转困难，申请分期缴纳") -> int:
        return payments.request_arrangement(
            live.pay, who, case_id, kind="instalments", schedule=plan, reason=reason
        )

    other = Actor("merchant:someone-else", "别的网店", "merchant", live.unit_id)
    with pytest.raises(ArrangementRefused, match="party"):
        ask(other)
    first = ask(party)
    with pytest.raises(ArrangementRefused, match="waiting"):
        ask(party, "再次申请")
    with pytest.raises(ArrangementRefused, match="head"):
        payments.refuse_arrangement(live.pay, live.officer, case_id, reason="不同意")
    refused = payments.refuse_arrangement(live.pay, live.head, case_id, reason="未提供困难证明")
    with pytest.raises(ArrangementRefused, match="no request"):
        payments.refuse_arrangement(live.pay, live.head, case_id, reason="再拒")
    number = payments.issue_notice(live.pay, case_id).number
    due = payments.amount_due(live.pay, number)
    assert (due.instalment, due.total_fen) == (None, 200_000)  # refused: due as served

    second = ask(live.officer, "当事人书面申请分期，附困难证明")  # written down by the officer
    approved = payments.approve_arrangement(
        live.pay, live.head, case_id, kind="instalments", schedule=plan, reason="同意分期"
    )
    assert payments.amount_due(live.pay, number).instalment == 1

    rows = _chain_is_whole_and_logged(live, case_id)
    by_seq = {e.seq: e for e in rows}
    asked, no, asked_again = by_seq[first], by_seq[refused], by_seq[second]
    assert (asked.action, asked.actor, asked.role) == (
        payments.ARRANGEMENT_REQUESTED,
        f"merchant:{merchant_id}",
        "merchant",
    )
    schedule = [
        {"due_on": "2026-11-18", "amount_fen": 100_000},
        {"due_on": "2026-12-18", "amount_fen": 100_000},
    ]
    assert asked.details["schedule"] == schedule and asked.details["kind"] == "instalments"
    assert (no.action, no.actor, no.role) == (
        payments.ARRANGEMENT_REFUSED,
        live.head.actor,
        "head",
    )
    assert no.details["request_seq"] == first and no.details["refused_by"] == "钱局长"
    assert no.details["reason"] == "未提供困难证明"
    assert (asked_again.actor, asked_again.role) == (live.officer.actor, "officer")
    [yes] = [e for e in rows if e.action == payments.ARRANGEMENT_APPROVED]
    assert yes.seq > second and yes.actor == live.head.actor
    assert yes.details["request_seq"] == second
    assert yes.details["arrangement_id"] == approved.id
    assert (yes.details["approved_by"], yes.details["schedule"]) == ("钱局长", schedule)
    assert {e.from_state for e in rows if e.action in payments.PAYMENT_EVENTS} == {"served"}


def test_two_callbacks_of_one_payment_at_once_count_once_and_move_the_case_once(
    live_db: Live,
) -> None:
    """The notification and the bank's retry (new nonce, same transaction) arrive together,
    on SQLite and on PostgreSQL: one is counted, the other answered as a duplicate; one
    ``payment_received``, one ``record_payment``, one receipt."""
    live = live_db
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    order = payments.create_order(live.pay, number)
    bank_id = order.redirect_url.rsplit("/", 1)[1]
    live.bank.pay(bank_id, notify=False)
    notifications = [live.bank.signed_notification(bank_id) for _ in range(2)]
    together = threading.Barrier(2)
    results: list[payments.CallbackResult] = []

    def deliver(body: bytes, headers: dict[str, str]) -> None:
        together.wait()
        results.append(payments.handle_callback(live.pay, "sandbox", body, headers))

    threads = [threading.Thread(target=deliver, args=n) for n in notifications]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(r.outcome for r in results) == ["accepted", "duplicate"]
    rows = _chain_is_whole_and_logged(live, case_id)
    actions = [e.action for e in rows]
    assert actions.count(payments.PAYMENT_RECEIVED) == 1
    assert actions.count("record_payment") == 1
    assert actions.count(payments.RECEIPT_ISSUED) == 1
    assert service.case_view(live.cases, live.officer, case_id).case.state == "paid"
    with live.services.sessions() as session:
        paid = session.scalars(select(PaymentOrder)).one()
        assert paid.case_recorded and paid.case_note == "record_payment taken"
        assert len(session.scalars(select(PaymentReceipt)).all()) == 1
    assert payments.complete_pending(live.pay) == 0  # nothing left to finish


def test_the_case_file_carries_the_receipt_the_chain_names(live: Live, tmp_path: Path) -> None:
    """The exported case file holds the channel's sealed receipt (receipts/), named by the
    event that issued it: it verifies with its own signature; removed, or replaced by other
    bytes, the report names the receipt and the event."""
    from evidence_service.sealing.case_export import export_case
    from signing.verify import Indication, Text, load_trust_bundle, verify_file
    from tests.cases.test_export import failed, rewrite

    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    _pay_at_the_bank(live, number)
    [receipt] = payments.payment_view(live.pay, number).receipts
    issued = next(e for e in _events(live, case_id) if e.action == payments.RECEIPT_ISSUED)

    out = tmp_path / "case.zip"
    export_case(live.services, case_id, out)
    with zipfile.ZipFile(out) as zf:
        [carried] = json.loads(zf.read("case.json"))["receipts"]
        pdf = zf.read(carried["path"])
    assert carried["event_seq"] == issued.seq and carried["payment_number"] == number
    assert hashlib.sha256(pdf).hexdigest() == receipt.sha256 == issued.details["sha256"]
    trust = load_trust_bundle(
        live.services.trust_bundle_pem(), source="given", description=Text("测试", "test")
    )
    report = verify_file(out, trust=trust)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    [check] = [c for c in report.checks if c.id == f"casefile.receipt.{receipt.id}"]
    assert "TOTAL-PASSED" in check.reason.en

    removed = rewrite(out, tmp_path / "removed.zip", lambda f: {carried["path"]: None})
    found = failed(verify_file(removed, trust=trust))
    assert "is missing or damaged" in found[f"casefile.receipt.{receipt.id}"]

    def swap(files: dict[str, bytes]) -> dict[str, bytes | None]:  # a line added at the end
        return {carried["path"]: files[carried["path"]] + b"\n% paid twice\n"}

    found = failed(verify_file(rewrite(out, tmp_path / "swapped.zip", swap), trust=trust))
    assert (
        f"differs from the SHA-256 event {issued.seq} recorded"
        in (found[f"casefile.receipt.{receipt.id}"])
    )
