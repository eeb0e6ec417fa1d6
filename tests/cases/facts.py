"""Facts for the case-process tests: one set that satisfies every guard, and for each guard
the ways it must refuse.

``GOOD`` passing every guard at once is itself checked (tests/cases/test_guards.py), so a
test that takes an edge with it really exercises the guards rather than skipping them.
"""

from __future__ import annotations

from workflow.cases.guards import CaseFacts, Officer, Penalty

OFFICERS = (Officer("张明", "SL-2026-0001"), Officer("李华", "SL-2026-0002"))


def fine(yuan: int, fen: int = 0) -> Penalty:
    return Penalty("fine", yuan * 100 + fen)


WARNING = Penalty("warning")

GOOD = CaseFacts(
    party_kind="organisation",
    officers=OFFICERS,
    head_approval_recorded=True,
    preservation_approved=True,
    reasons_recorded=True,
    has_complainant=True,
    complainant_informed=True,
    no_penalty_lists_consulted=True,
    no_penalty_list_match=True,
    no_penalty_path_offered=True,
    correction_period_ended=True,
    correction_verified_by_recapture=True,
    admitted_and_accepted_in_writing=True,
    fast_track_deadline_passed=False,
    notification_served=True,
    statement_window_ended=False,
    statement_waived_in_writing=False,
    hearing_right=True,
    hearing_requested=True,
    hearing_notice_period_met=True,
    hearing_held=True,
    statement_or_defence_made=True,
    notified_penalty=fine(100),
    decided_penalty=fine(100),
    no_penalty_ground="first_violation",
    major_case=True,
    legal_review_done=True,
    major_penalty=True,
    collective_discussion_recorded=True,
    service_method="electronic",
    address_confirmation_signed=True,
    payment_period_ended=True,
    paid=False,
    enforcement_application_recorded=True,
    no_penalty_decision=False,
    published=True,
)

#: guard -> {label: facts that make it refuse}
BAD: dict[str, dict[str, CaseFacts]] = {
    "two_officers_with_badges": {
        "none": GOOD.with_(officers=()),
        "one": GOOD.with_(officers=OFFICERS[:1]),
        "one without badge": GOOD.with_(officers=(OFFICERS[0], Officer("王五", " "))),
        "same badge twice": GOOD.with_(officers=(OFFICERS[0], Officer("赵六", "SL-2026-0001"))),
    },
    "officer_with_badge": {
        "none": GOOD.with_(officers=()),
        "without badge": GOOD.with_(officers=(Officer("王五", ""),)),
    },
    "head_approval_recorded": {"missing": GOOD.with_(head_approval_recorded=False)},
    "no_penalty_lists_consulted": {"not consulted": GOOD.with_(no_penalty_lists_consulted=False)},
    "no_penalty_path_offered": {"match, not offered": GOOD.with_(no_penalty_path_offered=False)},
    "reasons_recorded": {"missing": GOOD.with_(reasons_recorded=False)},
    "complainant_told_why": {"not told": GOOD.with_(complainant_informed=False)},
    "preservation_approved": {"missing": GOOD.with_(preservation_approved=False)},
    "correction_verified_by_recapture": {
        "no re-capture": GOOD.with_(correction_verified_by_recapture=False)
    },
    "correction_period_ended": {"running": GOOD.with_(correction_period_ended=False)},
    "written_admission": {"missing": GOOD.with_(admitted_and_accepted_in_writing=False)},
    "fast_track_within_30_days": {"passed": GOOD.with_(fast_track_deadline_passed=True)},
    "penalty_proposed": {"missing": GOOD.with_(notified_penalty=None)},
    "notification_served": {"not served": GOOD.with_(notification_served=False)},
    "statement_window_closed": {
        "hearing requested, not held": GOOD.with_(hearing_held=False),
        "window running": GOOD.with_(hearing_requested=False, hearing_held=False),
    },
    "statement_window_open": {
        "waived": GOOD.with_(statement_waived_in_writing=True),
        "ended": GOOD.with_(statement_window_ended=True),
    },
    "hearing_right": {"none": GOOD.with_(hearing_right=False)},
    "hearing_notice_period_met": {"late": GOOD.with_(hearing_notice_period_met=False)},
    "penalty_specified": {"missing": GOOD.with_(decided_penalty=None)},
    "penalty_not_raised_after_defence": {
        "one fen more": GOOD.with_(decided_penalty=fine(100, 1)),
        "warning raised to a fine": GOOD.with_(notified_penalty=WARNING),
        "notified penalty unknown": GOOD.with_(notified_penalty=None),
    },
    "legal_review_for_major_case": {"missing": GOOD.with_(legal_review_done=False)},
    "collective_discussion_for_major_penalty": {
        "missing": GOOD.with_(collective_discussion_recorded=False)
    },
    "simplified_limits": {
        "organisation 3001 yuan": GOOD.with_(decided_penalty=fine(3001)),
        "natural person 201 yuan": GOOD.with_(
            party_kind="natural_person", decided_penalty=fine(201)
        ),
        "no penalty stated": GOOD.with_(decided_penalty=None),
    },
    "no_penalty_grounds": {
        "no ground": GOOD.with_(no_penalty_ground=None),
        "first violation not corrected": GOOD.with_(correction_verified_by_recapture=False),
        "minor violation not corrected": GOOD.with_(
            no_penalty_ground="minor_violation", correction_verified_by_recapture=False
        ),
    },
    "electronic_service_consent": {
        "no address confirmation": GOOD.with_(address_confirmation_signed=False),
        "no method": GOOD.with_(service_method=None),
    },
    "fine_imposed": {
        "warning": GOOD.with_(decided_penalty=WARNING),
        "no penalty": GOOD.with_(decided_penalty=None),
    },
    "payment_overdue": {
        "paid": GOOD.with_(paid=True),
        "period running": GOOD.with_(payment_period_ended=False),
        "warning": GOOD.with_(decided_penalty=WARNING),
    },
    "penalty_decision_made": {
        "no-penalty decision": GOOD.with_(no_penalty_decision=True),
        "nothing decided": GOOD.with_(decided_penalty=None),
    },
    "settled": {
        "fine unpaid": GOOD.with_(enforcement_application_recorded=False),
    },
    "published_when_required": {"not published": GOOD.with_(published=False)},
}
