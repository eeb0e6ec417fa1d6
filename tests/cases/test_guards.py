"""Each guard on its own: passes with the facts that satisfy it, refuses with a reason in both
languages otherwise, and holds at its legal boundary."""

from __future__ import annotations

import re

import pytest

from tests.cases.facts import BAD, GOOD, OFFICERS, WARNING, fine
from workflow.cases.guards import (
    GUARDS,
    CaseFacts,
    NoPenaltyGround,
    Officer,
    PartyKind,
    Penalty,
    PenaltyKind,
    Refusal,
    ServiceMethod,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


def refusal(guard: str, facts: CaseFacts) -> Refusal | None:
    return GUARDS[guard](facts)


def test_the_good_facts_pass_every_guard() -> None:
    """The control for every edge test: GOOD really satisfies each guard."""
    assert {name: refusal(name, GOOD) for name in GUARDS} == dict.fromkeys(GUARDS)


def test_every_guard_has_its_refusals_listed() -> None:
    assert set(BAD) == set(GUARDS)


@pytest.mark.parametrize(
    ("guard", "label"), [(g, label) for g, cases in BAD.items() for label in cases]
)
def test_each_guard_refuses_with_a_reason_in_both_languages(guard: str, label: str) -> None:
    found = refusal(guard, BAD[guard][label])
    assert found is not None, f"{guard} let {label!r} through"
    assert found.guard == guard
    assert CJK.search(found.zh), found.zh
    assert re.search(r"[a-z]{3}", found.en)


# -- simplified procedure: a warning, or 200 yuan (natural person) / 3,000 yuan (organisation)


@pytest.mark.parametrize(
    ("party", "penalty", "allowed"),
    [
        ("natural_person", fine(200), True),
        ("natural_person", fine(200, 1), False),
        ("natural_person", fine(201), False),
        ("organisation", fine(3000), True),
        ("organisation", fine(3000, 1), False),
        ("organisation", fine(3001), False),
        ("natural_person", fine(1000), False),
        ("natural_person", WARNING, True),
        ("organisation", WARNING, True),
    ],
)
def test_simplified_limits_at_the_boundary(
    party: PartyKind, penalty: Penalty, allowed: bool
) -> None:
    facts = CaseFacts(party_kind=party, decided_penalty=penalty)
    found = refusal("simplified_limits", facts)
    assert (found is None) is allowed, found
    if not allowed:
        assert found is not None
        limit = "200" if party == "natural_person" else "3000"
        assert f"at most {limit} yuan" in found.en
        assert "普通程序" in found.zh


# -- the penalty may not be raised because the party defended itself --------------------------


@pytest.mark.parametrize(
    ("notified", "decided", "allowed"),
    [
        (fine(5000), fine(5000), True),
        (fine(5000), fine(4000), True),
        (fine(5000), fine(5000, 1), False),
        (fine(5000), fine(9000), False),
        (WARNING, WARNING, True),
        (WARNING, fine(1), False),
        (fine(1), WARNING, True),
    ],
)
def test_the_penalty_is_not_raised_after_a_defence(
    notified: Penalty, decided: Penalty, allowed: bool
) -> None:
    for defence in (
        CaseFacts(statement_or_defence_made=True),
        CaseFacts(hearing_held=True),  # a hearing is a defence too
    ):
        facts = defence.with_(notified_penalty=notified, decided_penalty=decided)
        found = refusal("penalty_not_raised_after_defence", facts)
        assert (found is None) is allowed, found
        if found is not None:
            assert decided.describe() in found.en and notified.describe() in found.en


def test_without_a_defence_the_rule_does_not_apply() -> None:
    facts = CaseFacts(notified_penalty=fine(5000), decided_penalty=fine(9000))
    assert refusal("penalty_not_raised_after_defence", facts) is None


# -- no decision before the statement window is over --------------------------------------------


@pytest.mark.parametrize(
    ("facts", "allowed"),
    [
        (CaseFacts(), False),
        (CaseFacts(statement_window_ended=True), True),
        (CaseFacts(statement_waived_in_writing=True), True),
        (CaseFacts(hearing_requested=True, hearing_held=True), True),
        (CaseFacts(hearing_requested=True), False),
        (CaseFacts(hearing_requested=True, statement_window_ended=True), False),
        (CaseFacts(hearing_requested=True, statement_waived_in_writing=True), False),
    ],
)
def test_the_decision_waits_for_the_statement_window(facts: CaseFacts, allowed: bool) -> None:
    assert (refusal("statement_window_closed", facts) is None) is allowed


def test_a_requested_hearing_is_named_as_the_reason() -> None:
    found = refusal("statement_window_closed", CaseFacts(hearing_requested=True))
    assert found is not None and "hearing" in found.en and "听证" in found.zh


# -- filing, closing and the rest ----------------------------------------------------------------


def test_two_distinct_badged_officers_are_needed_and_the_unbadged_are_named() -> None:
    assert refusal("two_officers_with_badges", CaseFacts(officers=OFFICERS)) is None
    three = (*OFFICERS[:1], Officer("王五", ""))
    found = refusal("two_officers_with_badges", CaseFacts(officers=three))
    assert found is not None and "王五" in found.zh and "1 assigned" in found.en


def test_the_no_penalty_path_must_be_offered_only_when_a_list_matches() -> None:
    assert refusal("no_penalty_path_offered", CaseFacts()) is None
    assert refusal("no_penalty_path_offered", CaseFacts(no_penalty_list_match=True)) is not None


@pytest.mark.parametrize(
    ("facts", "allowed"),
    [
        (CaseFacts(decided_penalty=fine(500)), False),
        (CaseFacts(decided_penalty=fine(500), paid=True), True),
        (CaseFacts(decided_penalty=fine(500), enforcement_application_recorded=True), True),
        (CaseFacts(no_penalty_decision=True), True),
        (CaseFacts(decided_penalty=WARNING), True),
        (CaseFacts(), False),
    ],
)
def test_closing_needs_payment_enforcement_or_no_penalty(facts: CaseFacts, allowed: bool) -> None:
    assert (refusal("settled", facts) is None) is allowed


@pytest.mark.parametrize("ground", ["no_violation", "insufficient_evidence"])
def test_no_penalty_without_a_violation_needs_no_correction(ground: NoPenaltyGround) -> None:
    facts = CaseFacts(no_penalty_ground=ground)
    assert refusal("no_penalty_grounds", facts) is None


@pytest.mark.parametrize("method", ["direct", "postal", "public_notice"])
def test_only_electronic_service_needs_the_address_confirmation(method: ServiceMethod) -> None:
    assert refusal("electronic_service_consent", CaseFacts(service_method=method)) is None
    assert refusal("electronic_service_consent", CaseFacts(service_method="electronic")) is not None


@pytest.mark.parametrize(
    ("kind", "amount", "message"),
    [("fine", -1, "negative"), ("fine", 0, "above 0"), ("warning", 100, "no amount")],
)
def test_a_penalty_that_cannot_exist_is_refused(
    kind: PenaltyKind, amount: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Penalty(kind, amount)
