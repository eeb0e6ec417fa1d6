"""A small unit of hand-built cases and events whose figures are worked out by hand below
(Beijing times; the official 2026 calendar: March 2026 has no holiday, Qingming is 4-6 April).

Unit A, as of 2026-04-15, period March 2026 unless said otherwise:

======  ==========================  =================================================
case    received (Beijing)          what it contributes
======  ==========================  =================================================
C1      2026-03-02 general          steps 1, 2, 3, 4 (twice, around an order to correct),
                                    5; type 虚假宣传; decision deadline open
C2      2026-03-04 complaint        steps 1 (same day: 0), 2, 3, 4; proposed as " 虚假宣传 "
                                    but the catalogue entry chosen later names the type
                                    商品宣传无事实依据; decision deadline open; screened twice
C3      2026-02-20                  ends 03-25 by a first-violation no-penalty decision;
                                    steps 10, 11; decision served on time (met)
C4      2026-03-09                  ends 03-27 not filed on ground minor_corrected
                                    (guided); step 1 (0), step 2 (14 working days)
C5      2026-01-15                  ends 03-30 with a fine although listed (not guided);
                                    decision served late (missed), fine paid (met),
                                    publicity overdue (missed), statement window (left out)
C6      2026-02-10                  ends 2026-04-02 (April) listed, no-penalty decision
C7      2026-03-10 complaint        refused 03-11 (step 1: 1 working day); not eligible
C8      2026-03-31 23:30            in March by Beijing time (15:30 UTC); filed twice in
                                    April, the later type " 未亮照经营 " (trimmed) wins
C9      2026-04-01 00:30            in April by Beijing time (still 31 March in UTC)
C10     2026-03-16                  verifying, lead verification overdue (missed)
======  ==========================  =================================================

Unit B: one case received 2026-03-05, type 虚假宣传.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from signing.case_chain import ChainedEvent, event_hash
from storage.models import Case, CaseEvent, ComplaintScreening, Unit

CHINA = timezone(timedelta(hours=8))
TODAY = datetime(2026, 4, 15, 10, tzinfo=CHINA).date()


def bj(text: str) -> datetime:
    """A Beijing time ``YYYY-MM-DD HH:MM`` as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA).astimezone(UTC)


@dataclass(frozen=True)
class Built:
    unit_a: int
    unit_b: int
    cases: dict[str, str]


def _case(
    session: Session,
    unit_id: int,
    key: str,
    received: str,
    state: str,
    events: list[tuple[str, str, str | None, str, dict[str, Any]]],
    *,
    closed: str | None = None,
    facts: dict[str, Any] | None = None,
    source: str = "lead",
    number: bool = True,
) -> str:
    case = Case(
        unit_id=unit_id,
        number=f"示市监处〔2026〕{key}号" if number else None,
        title=f"案件 {key}",
        procedure="general",
        state=state,
        source=source,
        facts=facts or {},
        received_at=bj(received),
        closed_at=bj(closed) if closed else None,
    )
    session.add(case)
    session.flush()
    prev = None
    for seq, (at, action, from_state, to_state, details) in enumerate(events, start=1):
        chained = ChainedEvent(
            case.id, seq, bj(at), "user:1", "王五", "officer", action, from_state, to_state,
            details, [], prev,
        )  # fmt: skip
        digest = event_hash(chained)
        session.add(
            CaseEvent(
                case_id=case.id, seq=seq, at=bj(at), actor="user:1", actor_name="王五",
                role="officer", action=action, from_state=from_state, to_state=to_state,
                details=details, touches=[], prev_hash=prev, hash=digest,
            )
        )  # fmt: skip
        prev = digest
    case.event_count = len(events)
    case.chain_head = prev
    return case.id


def build(sessions: sessionmaker[Session], unit_a: int | None = None) -> Built:
    """The cases above, in ``unit_a`` (made if not given) and a new unit B."""
    with sessions() as session, session.begin():
        if unit_a is None:
            a = Unit(name="示例市市场监督管理局")
            session.add(a)
            session.flush()
            unit_a = a.id
        b = Unit(name="乙市市场监督管理局")
        session.add(b)
        session.flush()
        ids: dict[str, str] = {}
        fv, fr = "suspected_violation", "filing_review"
        ids["C1"] = _case(session, unit_a, "C1", "2026-03-02 10:00", "investigation_ended", [
            ("2026-03-02 10:00", "record_lead", "new", "received", {}),
            ("2026-03-03 10:00", "register", "received", "verifying", {}),
            ("2026-03-05 10:00", "propose_filing", "verifying", "filing_review", {fv: "虚假宣传"}),
            ("2026-03-06 10:00", "approve_filing", "filing_review", "investigating", {}),
            ("2026-03-09 10:00", "record_inquiry", "investigating", "investigating", {}),
            ("2026-03-10 10:00", "order_correction", "investigating", "correcting", {}),
            ("2026-03-16 10:00", "confirm_correction", "correcting", "investigating", {}),
            ("2026-03-18 10:00", "end_investigation", "investigating", "investigation_ended", {}),
        ], facts={"registered_on": "2026-03-03", "filed_on": "2026-03-06"})  # fmt: skip
        ids["C2"] = _case(session, unit_a, "C2", "2026-03-04 09:00", "investigation_ended", [
            ("2026-03-04 09:00", "submit_complaint", "new", "received", {}),
            ("2026-03-04 15:00", "register", "received", "verifying", {}),
            ("2026-03-11 10:00", "propose_filing", "verifying", fr, {fv: " 虚假宣传 "}),
            ("2026-03-12 10:00", "approve_filing", "filing_review", "investigating", {}),
            ("2026-03-20 10:00", "end_investigation", "investigating", "investigation_ended", {}),
            ("2026-03-21 10:00", "choose_legal_basis", "investigation_ended",
             "investigation_ended", {"entry": "false_claims", "entry_title": "商品宣传无事实依据"}),
        ], source="complaint",
           facts={"registered_on": "2026-03-04", "filed_on": "2026-03-12"})  # fmt: skip
        ids["C3"] = _case(session, unit_a, "C3", "2026-02-20 10:00", "closed", [
            ("2026-03-20 10:00", "decide_no_penalty", "statement_period", "decided", {}),
            ("2026-03-23 10:00", "serve_decision", "decided", "served", {}),
            ("2026-03-25 10:00", "close_case", "served", "closed", {}),
        ], closed="2026-03-25 10:00", facts={
            "filed_on": "2026-01-05", "no_penalty_list_match": True,
            "no_penalty_ground": "first_violation", "decided_on": "2026-03-20",
            "decision_served_on": "2026-03-23",
        })  # fmt: skip
        ids["C4"] = _case(session, unit_a, "C4", "2026-03-09 10:00", "closed_not_filed", [
            ("2026-03-09 10:00", "record_lead", "new", "received", {}),
            ("2026-03-09 11:00", "register", "received", "verifying", {}),
            ("2026-03-26 10:00", "propose_non_filing", "verifying", "non_filing_review",
             {"reasons": "已改正", "non_filing_ground": "minor_corrected"}),
            ("2026-03-26 16:00", "approve_non_filing", "non_filing_review", "not_filed", {}),
            ("2026-03-27 10:00", "close_lead", "not_filed", "closed_not_filed", {}),
        ], closed="2026-03-27 10:00", number=False)  # fmt: skip
        ids["C5"] = _case(session, unit_a, "C5", "2026-01-15 10:00", "closed", [
            ("2026-03-30 10:00", "close_case", "paid", "closed", {}),
        ], closed="2026-03-30 10:00", facts={
            "filed_on": "2026-01-20", "no_penalty_list_match": True,
            "notification_served_on": "2026-03-05", "decided_on": "2026-03-02",
            "decided_penalty": {"kind": "fine", "amount_fen": 500_000},
            "decision_served_on": "2026-03-20", "paid_on": "2026-03-25",
        })  # fmt: skip
        ids["C6"] = _case(session, unit_a, "C6", "2026-02-10 10:00", "closed", [
            ("2026-04-02 10:00", "close_case", "served", "closed", {}),
        ], closed="2026-04-02 10:00", facts={
            "no_penalty_list_match": True, "no_penalty_ground": "minor_violation",
        })  # fmt: skip
        ids["C7"] = _case(session, unit_a, "C7", "2026-03-10 10:00", "not_accepted", [
            ("2026-03-10 10:00", "submit_complaint", "new", "received", {}),
            ("2026-03-11 10:00", "refuse_complaint", "received", "not_accepted", {}),
            # an event beside the steps after the end (e.g. the file exported): no step
            ("2026-03-13 10:00", "export_case", "not_accepted", "not_accepted", {}),
        ], closed="2026-03-11 10:00", source="complaint", number=False)  # fmt: skip
        ids["C8"] = _case(session, unit_a, "C8", "2026-03-31 23:30", "filing_review", [
            ("2026-03-31 23:30", "record_lead", "new", "received", {}),
            ("2026-04-01 10:00", "register", "received", "verifying", {}),
            ("2026-04-02 10:00", "propose_filing", "verifying", fr, {fv: "未公示营业执照"}),
            ("2026-04-03 10:00", "send_back", "filing_review", "verifying", {}),
            ("2026-04-07 10:00", "propose_filing", "verifying", fr, {fv: " 未亮照经营 "}),
        ], number=False)  # fmt: skip
        ids["C9"] = _case(session, unit_a, "C9", "2026-04-01 00:30", "received", [
            ("2026-04-01 00:30", "record_lead", "new", "received", {}),
        ], number=False)  # fmt: skip
        ids["C10"] = _case(session, unit_a, "C10", "2026-03-16 10:00", "verifying", [],
                           number=False, facts={"registered_on": "2026-03-16"})  # fmt: skip
        ids["B1"] = _case(session, b.id, "B1", "2026-03-05 10:00", "filing_review", [
            ("2026-03-05 10:00", "record_lead", "new", "received", {}),
            ("2026-03-05 11:00", "register", "received", "verifying", {}),
            ("2026-03-06 10:00", "propose_filing", "verifying", "filing_review", {fv: "虚假宣传"}),
        ])  # fmt: skip
        for at in ("2026-03-04 09:01", "2026-03-20 10:00"):  # C2, screened twice
            session.add(
                ComplaintScreening(
                    case_id=ids["C2"], unit_id=unit_a, version="test", score=10, flag_score=60,
                    flagged=False, period_days=365, facts=[], trigger="arrival",
                    screened_by="system", screened_at=bj(at),
                )
            )  # fmt: skip
        return Built(unit_a, b.id, ids)
