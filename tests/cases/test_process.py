"""Every row of the process table, taken and refused.

Each edge is taken once per procedure and role it lists, with facts that satisfy its guards;
each guard on it is made to refuse, and each role it does not list is refused, so no row of
``process.toml`` is left untried.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases.facts import BAD, GOOD, OFFICERS, fine
from workflow.cases import process
from workflow.cases.guards import CaseFacts
from workflow.cases.process import (
    ProcedureMismatch,
    Rule,
    Transition,
    TransitionRefused,
    UnknownAction,
    UnknownName,
    UnknownState,
)

PROCESS = process.default_process()
RULES = PROCESS.rules


def rule_id(rule: Rule) -> str:
    return f"{rule.line}:{rule.describe()}[{','.join(rule.procedures)}]"


def takes(rule: Rule) -> list[tuple[Rule, str, str]]:
    return [(rule, p, r) for p in rule.procedures for r in rule.roles]


@pytest.mark.parametrize(
    ("rule", "procedure", "role"),
    [t for r in RULES for t in takes(r)],
    ids=[f"{rule_id(r)}-{p}-{role}" for r in RULES for _, p, role in takes(r)],
)
def test_every_edge_is_taken(rule: Rule, procedure: str, role: str) -> None:
    taken = process.take(rule.source, rule.action, role, procedure, GOOD)
    assert taken == Transition(
        rule.source, rule.action, rule.target, role, procedure, rule.documents, rule.step
    )
    offered = {o.action: o for o in process.available(rule.source, role, procedure, GOOD)}
    assert offered[rule.action].allowed and offered[rule.action].target == rule.target


REFUSALS = [(rule, guard, label) for rule in RULES for guard in rule.guards for label in BAD[guard]]


@pytest.mark.parametrize(
    ("rule", "guard", "label"),
    REFUSALS,
    ids=[f"{rule_id(r)}-{g}-{label}" for r, g, label in REFUSALS],
)
def test_every_guard_of_every_edge_refuses(rule: Rule, guard: str, label: str) -> None:
    facts = BAD[guard][label]
    procedure = rule.procedures[0]
    with pytest.raises(TransitionRefused) as info:
        process.take(rule.source, rule.action, rule.roles[0], procedure, facts)
    assert guard in info.value.guards
    reason = next(r for r in info.value.reasons if r.guard == guard)
    assert reason.zh and reason.en
    offered = {o.action: o for o in process.available(rule.source, rule.roles[0], procedure, facts)}
    assert not offered[rule.action].allowed
    assert reason in offered[rule.action].reasons


ROLE_REFUSALS = [(rule, role) for rule in RULES for role in PROCESS.roles if role not in rule.roles]


@pytest.mark.parametrize(
    ("rule", "role"),
    ROLE_REFUSALS,
    ids=[f"{rule_id(r)}-{role}" for r, role in ROLE_REFUSALS],
)
def test_every_role_not_listed_is_refused(rule: Rule, role: str) -> None:
    with pytest.raises(TransitionRefused) as info:
        process.take(rule.source, rule.action, role, rule.procedures[0], GOOD)
    assert info.value.guards == {"role"}
    (reason,) = info.value.reasons
    assert PROCESS.roles[role].zh in reason.zh
    assert all(PROCESS.roles[r].en in reason.en for r in rule.roles)


def test_admin_acts_in_no_case() -> None:
    assert not [r.describe() for r in RULES if "admin" in r.roles]


def test_a_refusal_lists_every_missing_fact_at_once() -> None:
    facts = CaseFacts(officers=OFFICERS[:1])
    with pytest.raises(TransitionRefused) as info:
        process.take("verifying", "propose_filing", "officer", "general", facts)
    assert info.value.guards == {"no_penalty_lists_consulted", "two_officers_with_badges"}
    assert "consult the first-violation" in str(info.value)


def test_an_action_of_another_procedure_is_unknown_here() -> None:
    """The simplified procedure has no filing; the fast-track has no hearing."""
    with pytest.raises(
        UnknownAction, match=r"propose_filing.*simplified.*none in simplified"
    ) as info:
        process.take("verifying", "propose_filing", "officer", "simplified", GOOD)
    assert info.value.known == ()
    with pytest.raises(UnknownAction, match="request_hearing"):
        process.take("statement_period", "request_hearing", "merchant", "fast_track", GOOD)
    with pytest.raises(UnknownAction, match=r"no action 'fly'.*propose_filing"):
        process.take("verifying", "fly", "officer", "general", GOOD)


def test_nothing_leaves_a_terminal_state() -> None:
    with pytest.raises(UnknownAction, match="terminal"):
        process.take("closed", "close_case", "head", "general", GOOD)
    assert process.available("closed", "head", "general", GOOD) == []


@pytest.mark.parametrize(
    ("state", "role", "procedure", "error"),
    [
        ("nowhere", "officer", "general", UnknownState),
        ("verifying", "public", "general", UnknownName),
        ("verifying", "officer", "summary", UnknownName),
    ],
)
def test_unknown_names_are_errors_not_refusals(
    state: str, role: str, procedure: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        process.available(state, role, procedure, GOOD)
    with pytest.raises(error):
        process.take(state, "propose_filing", role, procedure, GOOD)


def test_the_facts_must_be_of_the_procedure_asked_for() -> None:
    facts = GOOD.with_(procedure="simplified")
    with pytest.raises(ProcedureMismatch, match="simplified case but the general"):
        process.take("verifying", "propose_filing", "officer", "general", facts)
    taken = process.take("received", "register", "officer", "simplified", facts)
    assert taken.target == "on_the_spot"


def test_the_same_action_may_lead_elsewhere_by_procedure() -> None:
    general = process.take("received", "register", "officer", "general", GOOD)
    simplified = process.take("received", "register", "officer", "simplified", GOOD)
    assert (general.target, simplified.target) == ("verifying", "on_the_spot")
    # a decision on the spot is not filed: no registration form for the head to approve
    assert (general.documents, simplified.documents) == (("case_source_registration",), ())


def test_a_role_not_allowed_sees_why_and_no_guard_verdict() -> None:
    """The merchant is told it may not decide; it learns nothing of the case's guards."""
    facts = CaseFacts(notified_penalty=fine(100))
    options = process.available("statement_period", "merchant", "general", facts)
    decide = next(o for o in options if o.action == "decide_penalty")
    assert not decide.allowed and [r.guard for r in decide.reasons] == ["role"]
    statement = next(o for o in options if o.action == "record_statement")
    assert statement.allowed and statement.documents == ("statement",)


# -- available() and take() agree, for any facts ---------------------------------------------

_BOOLS = [name for name, value in vars(CaseFacts()).items() if isinstance(value, bool)]
_PENALTIES = st.sampled_from(
    [
        None,
        GOOD.decided_penalty,
        fine(200),
        fine(3001),
        BAD["fine_imposed"]["warning"].decided_penalty,
    ]
)


@st.composite
def case_facts(draw: st.DrawFn) -> CaseFacts:
    flags = {name: draw(st.booleans()) for name in _BOOLS}
    facts = CaseFacts(
        party_kind=draw(st.sampled_from(["natural_person", "organisation"])),
        officers=draw(st.sampled_from([(), OFFICERS[:1], OFFICERS])),
        notified_penalty=draw(_PENALTIES),
        decided_penalty=draw(_PENALTIES),
        no_penalty_ground=draw(st.sampled_from([None, "first_violation", "no_violation"])),
        service_method=draw(st.sampled_from([None, "direct", "electronic"])),
    )
    return facts.with_(**flags)


@settings(max_examples=300, deadline=None)
@given(
    state=st.sampled_from(list(PROCESS.states)),
    role=st.sampled_from(list(PROCESS.roles)),
    procedure=st.sampled_from(list(PROCESS.procedures)),
    facts=case_facts(),
)
def test_available_and_take_agree(state: str, role: str, procedure: str, facts: CaseFacts) -> None:
    for option in process.available(state, role, procedure, facts):
        if option.allowed:
            assert process.take(state, option.action, role, procedure, facts).target == (
                option.target
            )
        else:
            with pytest.raises(TransitionRefused) as info:
                process.take(state, option.action, role, procedure, facts)
            assert info.value.reasons == option.reasons
