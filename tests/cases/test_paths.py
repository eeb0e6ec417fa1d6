"""One walk per path of the process, from the first state to the end, with the facts a real
case would have gathered by then (not the all-satisfying set of the edge tests).

Each step names the action, who takes it and what became known just before; the walk
asserts the state reached and, at the end, the documents generated and the reference steps
the path went through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.cases.facts import OFFICERS, WARNING, fine
from workflow.cases import process
from workflow.cases.guards import CaseFacts, Officer, Procedure
from workflow.cases.process import TransitionRefused


@dataclass
class Walk:
    procedure: Procedure
    facts: CaseFacts = field(default_factory=CaseFacts)
    state: str = "new"
    documents: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=lambda: ["new"])
    #: Steps of the reference gone through: of the transitions taken and the states reached.
    steps: set[int] = field(default_factory=set)

    def learn(self, **facts: Any) -> Walk:
        self.facts = self.facts.with_(**facts)
        return self

    def take(self, action: str, role: str, expect: str) -> Walk:
        t = process.take(self.state, action, role, self.procedure, self.facts)
        assert t.target == expect, f"{action} led to {t.target}, expected {expect}"
        self.state = t.target
        self.states.append(t.target)
        self.documents.extend(t.documents)
        self.steps |= {t.step, process.default_process().states[t.target].step}
        return self

    def refused(self, action: str, role: str, guard: str) -> Walk:
        with pytest.raises(TransitionRefused) as info:
            process.take(self.state, action, role, self.procedure, self.facts)
        assert guard in info.value.guards, info.value.reasons
        return self


def filed(procedure: Procedure, **lists: Any) -> Walk:
    """A complaint registered, verified and filed with the head's approval."""
    w = Walk(procedure).learn(has_complainant=True)
    w.take("submit_complaint", "complainant", "received")
    w.take("register", "officer", "verifying")
    w.refused("propose_filing", "officer", "no_penalty_lists_consulted")
    w.learn(no_penalty_lists_consulted=True, **lists)
    w.refused("propose_filing", "officer", "two_officers_with_badges")
    w.learn(officers=OFFICERS)
    w.take("propose_filing", "officer", "filing_review")
    w.refused("approve_filing", "head", "head_approval_recorded")
    w.learn(head_approval_recorded=True)
    w.take("approve_filing", "head", "investigating")
    w.take("record_extraction", "officer", "investigating")
    w.take("send_inquiry_notice", "officer", "investigating")
    w.take("record_inquiry", "officer", "investigating")
    return w


def reviewed(w: Walk) -> Walk:
    w.take("end_investigation", "officer", "investigation_ended")
    w.take("complete_review", "reviewer", "reviewed")
    return w


def notified(w: Walk, penalty: Any, **more: Any) -> Walk:
    w.refused("notify_penalty", "officer", "penalty_proposed")
    w.learn(notified_penalty=penalty, **more)
    w.take("notify_penalty", "officer", "statement_period")
    w.refused("decide_penalty", "head", "notification_served")
    return w.learn(notification_served=True)


def executed_and_closed(w: Walk, pay: str = "merchant") -> Walk:
    w.learn(service_method="direct")
    w.take("serve_decision", "officer", "served")
    w.refused("close_case", "head", "settled")
    w.learn(paid=True)
    w.take("record_payment", pay, "paid")
    if not w.facts.published:
        w.refused("close_case", "head", "published_when_required")
        w.take("publish", "system", "paid")
        w.learn(published=True)
    return w.take("close_case", "head", "closed")


def test_general_procedure_with_a_hearing() -> None:
    w = reviewed(filed("general"))
    w = notified(w, fine(50_000), hearing_right=True)
    w.take("request_hearing", "merchant", "hearing_requested").learn(hearing_requested=True)
    w.take("schedule_hearing", "officer", "hearing_scheduled")
    w.refused("hold_hearing", "officer", "hearing_notice_period_met")
    w.learn(hearing_notice_period_met=True)
    w.take("hold_hearing", "officer", "hearing_held")
    w.learn(hearing_held=True, decided_penalty=fine(60_000), major_case=True, major_penalty=True)
    w.refused("decide_penalty", "head", "penalty_not_raised_after_defence")
    w.refused("decide_penalty", "head", "legal_review_for_major_case")
    w.refused("decide_penalty", "head", "collective_discussion_for_major_penalty")
    w.learn(decided_penalty=fine(40_000), legal_review_done=True)
    w.learn(collective_discussion_recorded=True)
    w.take("decide_penalty", "head", "decided")
    w.learn(service_method="electronic")
    w.refused("serve_decision", "officer", "electronic_service_consent")
    w.learn(address_confirmation_signed=True)
    w.take("serve_decision", "officer", "served")
    w.take("publish", "system", "served").learn(published=True)
    w.learn(paid=True).take("record_payment", "system", "paid")
    w.take("close_case", "head", "closed")
    assert "hearing_held" in w.states
    for doc in ("hearing_notice", "hearing_record", "penalty_decision", "closing_approval"):
        assert doc in w.documents
    assert w.steps == set(range(1, 15)) - {5}


def test_general_procedure_without_a_hearing() -> None:
    w = reviewed(filed("general"))
    w = notified(w, fine(5_000))
    w.refused("request_hearing", "merchant", "hearing_right")
    w.refused("decide_penalty", "head", "statement_window_closed")
    w.take("record_statement", "merchant", "statement_period")
    w.learn(statement_or_defence_made=True, statement_window_ended=True)
    w.learn(decided_penalty=fine(3_000))
    w.take("decide_penalty", "head", "decided")
    executed_and_closed(w)
    assert not {"hearing_requested", "hearing_held"} & set(w.states)
    assert w.documents[-4:] == ["penalty_decision", "proof_of_service", "payment_receipt",
                                "closing_approval"]  # fmt: skip
    assert {"statement", "penalty_notification", "case_review_form"} <= set(w.documents)


def test_simplified_procedure_decides_on_the_spot() -> None:
    w = Walk("simplified").learn(party_kind="natural_person")
    w.take("record_lead", "officer", "received")
    w.take("register", "officer", "on_the_spot")
    w.take("record_extraction", "officer", "on_the_spot")
    w.learn(officers=(Officer("张明", "SL-2026-0001"),), decided_penalty=fine(201))
    w.refused("decide_on_the_spot", "officer", "simplified_limits")
    w.learn(decided_penalty=fine(200))
    w.take("decide_on_the_spot", "officer", "decided")
    w.take("publish", "officer", "decided").learn(published=True)
    executed_and_closed(w, pay="officer")
    assert w.steps == {1, 4, 10, 11, 12, 13, 14}
    assert "penalty_notification" not in w.documents


def test_simplified_warning_needs_no_payment() -> None:
    w = Walk("simplified", CaseFacts(officers=OFFICERS[:1], decided_penalty=WARNING))
    w.take("record_lead", "system", "received").take("register", "officer", "on_the_spot")
    w.take("decide_on_the_spot", "officer", "decided")
    w.learn(service_method="direct", published=True)
    w.take("serve_decision", "officer", "served")
    w.refused("record_payment", "merchant", "fine_imposed")
    w.take("close_case", "head", "closed")


def test_fast_track_skips_review_and_needs_the_written_admission() -> None:
    w = filed("fast_track")
    w.learn(notified_penalty=fine(2_000))
    w.refused("notify_penalty", "officer", "written_admission")
    w.learn(admitted_and_accepted_in_writing=True)
    w.take("notify_penalty", "officer", "statement_period").learn(notification_served=True)
    w.learn(statement_waived_in_writing=True, decided_penalty=fine(2_000))
    w.learn(fast_track_deadline_passed=True)
    w.refused("decide_penalty", "head", "fast_track_within_30_days")
    w.learn(fast_track_deadline_passed=False)
    w.take("decide_penalty", "head", "decided")
    executed_and_closed(w)
    assert not {"investigation_ended", "reviewed"} & set(w.states)
    assert "case_review_form" not in w.documents
    assert "investigation_end_report" in w.documents


def test_not_filed_and_the_complainant_told_why() -> None:
    w = Walk("general").learn(has_complainant=True)
    w.take("submit_complaint", "complainant", "received")
    w.take("register", "officer", "verifying")
    w.refused("propose_non_filing", "officer", "reasons_recorded")
    w.learn(reasons_recorded=True)
    w.take("propose_non_filing", "officer", "non_filing_review")
    w.refused("approve_non_filing", "head", "head_approval_recorded")
    w.learn(head_approval_recorded=True)
    w.take("approve_non_filing", "head", "not_filed")
    w.refused("close_lead", "system", "complainant_told_why")
    w.learn(complainant_informed=True)
    w.take("close_lead", "system", "closed_not_filed")
    assert w.documents == ["case_source_registration", "non_filing_approval"]


def test_complaint_not_accepted() -> None:
    w = Walk("general").learn(has_complainant=True)
    w.take("submit_complaint", "complainant", "received")
    w.learn(reasons_recorded=True)
    w.refused("refuse_complaint", "officer", "complainant_told_why")
    w.learn(complainant_informed=True)
    w.take("refuse_complaint", "officer", "not_accepted")


def test_no_penalty_for_a_first_violation_corrected_and_recaptured() -> None:
    w = Walk("general").learn(has_complainant=True)
    w.take("submit_complaint", "complainant", "received")
    w.take("register", "officer", "verifying")
    w.learn(no_penalty_lists_consulted=True, no_penalty_list_match=True, officers=OFFICERS)
    w.refused("propose_filing", "officer", "no_penalty_path_offered")
    w.learn(no_penalty_path_offered=True, head_approval_recorded=True)
    w.take("propose_filing", "officer", "filing_review")
    w.take("approve_filing", "head", "investigating")
    w.take("order_correction", "officer", "correcting")
    w.refused("confirm_correction", "officer", "correction_verified_by_recapture")
    w.learn(correction_verified_by_recapture=True)
    w.take("confirm_correction", "officer", "investigating")
    reviewed(w)
    w.refused("decide_no_penalty", "head", "no_penalty_grounds")
    w.learn(no_penalty_ground="first_violation")
    w.take("decide_no_penalty", "head", "decided").learn(no_penalty_decision=True)
    w.refused("publish", "system", "penalty_decision_made")
    w.learn(service_method="postal")
    w.take("serve_decision", "officer", "served")
    w.take("close_case", "head", "closed")
    assert {"order_to_correct", "no_penalty_decision", "closing_approval"} <= set(w.documents)
    assert "penalty_notification" not in w.documents


def test_non_payment_goes_to_enforcement() -> None:
    w = reviewed(filed("general"))
    w = notified(w, fine(8_000))
    w.learn(statement_window_ended=True, decided_penalty=fine(8_000))
    w.take("decide_penalty", "head", "decided")
    w.learn(service_method="direct").take("serve_decision", "officer", "served")
    w.refused("apply_enforcement", "officer", "payment_overdue")
    w.learn(payment_period_ended=True)
    w.take("apply_enforcement", "officer", "enforcement_applied")
    w.take("publish", "system", "enforcement_applied").learn(published=True)
    w.refused("close_case", "head", "settled")
    w.learn(enforcement_application_recorded=True)
    w.take("close_case", "head", "closed")
    assert "payment_receipt" not in w.documents
