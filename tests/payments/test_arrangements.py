"""Partial, deferred and instalment payments: refused until the head of unit's approval is on
record (who, when, the schedule); then each instalment is paid and receipted on its own, and
the case counts as paid with the last one."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.payments.conftest import CHINA, Live, csrf_of, served_fine
from workflow import payments
from workflow.cases import service
from workflow.payments import ArrangementRefused, ArrangementRequired, Instalment


def _pay_through_the_bank(live: Live, number: str) -> None:
    with live.client() as client:
        page = client.get(f"/pay/{number}")
        gone = client.post(f"/pay/{number}", data={"csrf": csrf_of(page.text)})
        assert gone.status_code == 303, gone.text
        bank_page = client.get(gone.headers["location"])
        back = client.post(
            f"{gone.headers['location']}/pay", data={"csrf": csrf_of(bank_page.text)}
        )
        assert back.status_code == 303


def test_a_partial_amount_is_refused_without_an_approved_arrangement(live: Live) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    with pytest.raises(ArrangementRequired, match="head of unit"):
        payments.create_order(live.pay, number, amount_fen=100_000)
    with live.client() as client:
        page = client.get(f"/pay/{number}")
        refused = client.post(
            f"/pay/{number}", data={"csrf": csrf_of(page.text), "amount_fen": "100000"}
        )
        assert refused.status_code == 422 and 'id="pay-error"' in refused.text
    assert payments.amount_due(live.pay, number).total_fen == 200_000


def test_only_the_case_head_approves_and_the_schedule_must_add_up(live: Live) -> None:
    case_id = served_fine(live)
    plan = [Instalment(date(2026, 11, 18), 100_000), Instalment(date(2026, 12, 18), 100_000)]
    with pytest.raises(ArrangementRefused, match="head of unit"):
        payments.approve_arrangement(
            live.pay, live.officer, case_id, kind="instalments", schedule=plan, reason="困难"
        )
    stranger = service.Actor("user:999", "别人", "head", live.unit_id)
    with pytest.raises(ArrangementRefused, match="staffed"):
        payments.approve_arrangement(
            live.pay, stranger, case_id, kind="instalments", schedule=plan, reason="困难"
        )
    short = [plan[0], Instalment(date(2026, 12, 18), 50_000)]
    with pytest.raises(ArrangementRefused, match="add up"):
        payments.approve_arrangement(
            live.pay, live.head, case_id, kind="instalments", schedule=short, reason="困难"
        )
    with pytest.raises(ArrangementRefused, match="reason"):
        payments.approve_arrangement(
            live.pay, live.head, case_id, kind="instalments", schedule=plan, reason=" "
        )
    early = [Instalment(date(2026, 11, 10), 200_000)]
    with pytest.raises(ArrangementRefused, match="normal deadline"):
        payments.approve_arrangement(
            live.pay, live.head, case_id, kind="deferral", schedule=early, reason="困难"
        )
    with pytest.raises(ArrangementRefused, match="two or more"):
        payments.approve_arrangement(
            live.pay, live.head, case_id, kind="instalments", schedule=early, reason="困难"
        )


def test_instalments_are_paid_one_by_one_and_the_last_settles_the_case(live: Live) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    plan = [Instalment(date(2026, 11, 18), 100_000), Instalment(date(2026, 12, 18), 100_000)]
    approved = payments.approve_arrangement(
        live.pay,
        live.head,
        case_id,
        kind="instalments",
        schedule=plan,
        reason="当事人确有经济困难，申请分期缴纳",
    )
    assert (approved.approved_by_name, approved.schedule) == ("钱局长", tuple(plan))
    assert approved.approved_at.astimezone(CHINA).date() == date(2026, 11, 3)
    with live.client() as client:
        page = client.get(f"/pay/{number}").text
    assert 'id="arrangement"' in page and "钱局长" in page and "2026-12-18" in page
    assert 'id="instalment">1 / 2' in page and 'id="total-due">1000.00' in page

    _pay_through_the_bank(live, number)
    assert service.case_view(live.cases, live.officer, case_id).case.state == "served"
    due = payments.amount_due(live.pay, number)
    assert (due.instalment, due.principal_fen, due.paid_fen) == (2, 100_000, 100_000)

    live.clock.move_to(datetime(2026, 12, 20, 9, 0, tzinfo=CHINA))  # 2 days after its date
    due = payments.amount_due(live.pay, number)
    assert (due.days_late, due.surcharge_fen, due.total_fen) == (2, 6_000, 106_000)
    _pay_through_the_bank(live, number)
    assert service.case_view(live.cases, live.officer, case_id).case.state == "paid"
    view = payments.payment_view(live.pay, number)
    assert [(r.instalment, r.amount_fen) for r in view.receipts] == [(1, 100_000), (2, 106_000)]
    assert view.due.settled
    with pytest.raises(ArrangementRefused, match="already"):
        payments.approve_arrangement(
            live.pay, live.head, case_id, kind="instalments", schedule=plan, reason="再分期"
        )


def test_a_deferral_moves_the_date_without_surcharge(live: Live) -> None:
    case_id = served_fine(live)
    number = payments.issue_notice(live.pay, case_id).number
    payments.approve_arrangement(
        live.pay,
        live.head,
        case_id,
        kind="deferral",
        schedule=[Instalment(date(2026, 12, 31), 200_000)],
        reason="暂缓缴纳",
    )
    live.clock.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=CHINA))  # past the 15 days
    due = payments.amount_due(live.pay, number)
    assert (due.surcharge_fen, due.total_fen, due.pay_by) == (0, 200_000, date(2026, 12, 31))
    _pay_through_the_bank(live, number)
    assert service.case_view(live.cases, live.officer, case_id).case.state == "paid"
