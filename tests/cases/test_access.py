"""The authorisation table as a matrix: every role x every verb x own/other unit, own/other
case, own/other complaint, published or not.

``expected`` restates the issue's rules in code independent of ``access.toml``; the matrix
compares the two for every combination, so a line changed in the table shows up as the exact
(role, verb, context) it opened or closed.
"""

from __future__ import annotations

import pytest

from workflow.cases import access, process
from workflow.cases.access import AccessDefinitionError, Subject, UnknownAccessName, can, parse

TABLE = access.default_table()
ROLES = ["officer", "reviewer", "head", "merchant", "complainant", "platform", "public", "admin"]
VERBS = [
    "case_list", "queue", "case_page", "documents", "evidence", "events", "export",
    "complaint_outcome", "publicity_page", "act", "manage_accounts", "platform_requests",
    "legal_catalogue", "edit_legal_catalogue", "register", "stats",
]  # fmt: skip
INTERNAL = {"officer", "reviewer", "head"}
MERCHANT_VERBS = {"case_list", "case_page", "documents", "evidence", "act"}
COMPLAINANT_VERBS = {"complaint_outcome", "act"}

ME_UNIT, OTHER_UNIT = "示例市市场监督管理局", "另一市市场监督管理局"
ME, OTHER = "9144030071526726XG", "91110000100000000X"


def subject(unit: bool, party: bool, published: bool, identified: bool = True) -> Subject:
    return Subject(
        actor_unit=ME_UNIT if identified else None,
        actor_party=ME if identified else None,
        case_unit=ME_UNIT if unit else OTHER_UNIT,
        case_party=ME if party else OTHER,
        complainant=ME if party else OTHER,
        published=published,
        addressee=ME if party else OTHER,
    )


CONTEXTS = {
    "own unit, own case": subject(True, True, False),
    "own unit, other case": subject(True, False, False),
    "other unit, own case": subject(False, True, False),
    "other unit, other case": subject(False, False, False),
    "other unit, other case, published": subject(False, False, True),
    "own unit, own case, published": subject(True, True, True),
    "anonymous asker": subject(True, True, False, identified=False),
}


def expected(role: str, verb: str, s: Subject) -> bool:
    """The issue's rules, restated."""
    filtering = verb in ("case_list", "queue", "manage_accounts", "register")
    if verb == "publicity_page":
        return s.published  # the public (and everyone) sees only published decisions
    if role == "admin":
        return verb in ("manage_accounts", "stats")  # accounts, any unit's figures; no case
    if verb == "manage_accounts":
        return False
    if verb == "edit_legal_catalogue":  # the unit's legal staff keep its catalogue (room legal)
        return role == "reviewer" and s.actor_unit is not None and s.case_unit == s.actor_unit
    if role in INTERNAL:  # only their unit's cases
        return s.actor_unit is not None and (filtering or s.case_unit == s.actor_unit)
    if role == "platform":  # only the requests addressed to it, nothing else of the case
        return (
            verb == "platform_requests"
            and s.actor_party is not None
            and (s.addressee == s.actor_party)
        )
    if role == "merchant":  # only its own cases
        return (
            verb in MERCHANT_VERBS
            and s.actor_party is not None
            and (filtering or s.case_party == s.actor_party)
        )
    if role == "complainant":  # only the outcome of their own complaint
        return (
            verb in COMPLAINANT_VERBS
            and s.actor_party is not None
            and (s.complainant == s.actor_party)
        )
    return False  # public: nothing but the publicity page


def test_the_table_has_exactly_the_roles_and_verbs_of_the_issue() -> None:
    assert list(TABLE.roles) == ROLES
    assert set(TABLE.verbs) == set(VERBS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("context", list(CONTEXTS))
def test_matrix(role: str, verb: str, context: str) -> None:
    s = CONTEXTS[context]
    decision = can(role, verb, s)
    assert bool(decision) is expected(role, verb, s), (decision.zh, decision.en)
    assert decision.role == role and decision.verb == verb
    assert decision.zh and decision.en


@pytest.mark.parametrize(
    ("role", "verb", "scope"),
    [
        ("officer", "case_list", "own_unit"),
        ("head", "queue", "own_unit"),
        ("merchant", "case_list", "own_case"),
        ("admin", "manage_accounts", "any"),
    ],
)
def test_list_verbs_say_what_to_filter_by(role: str, verb: str, scope: str) -> None:
    decision = can(role, verb, Subject(actor_unit=ME_UNIT, actor_party=ME))
    assert decision.allowed and decision.scope == scope


def test_a_refusal_says_why_in_both_languages() -> None:
    d = can("officer", "case_page", subject(False, False, False))
    assert not d and d.scope == "own_unit"
    assert "本单位" in d.zh and "own unit" in d.en
    d = can("admin", "evidence", subject(True, True, True))
    assert not d and d.scope is None and "administrator" in d.en


def test_no_subject_means_no_case_access() -> None:
    assert not can("officer", "case_page")
    assert not can("merchant", "documents")
    assert can("admin", "manage_accounts")


def test_unknown_names_are_errors() -> None:
    with pytest.raises(UnknownAccessName, match="no role 'system'"):
        can("system", "case_page", Subject())
    with pytest.raises(UnknownAccessName, match="no verb 'delete'"):
        can("officer", "delete", Subject())


def test_whoever_acts_in_the_process_may_act_in_its_cases() -> None:
    """The two tables agree: a process role that takes actions has ``act``; admin neither."""
    acting = {r for rule in process.default_process().rules for r in rule.roles} - {"system"}
    granted = {r for r, g in TABLE.grants.items() if "act" in g}
    assert acting == granted
    assert "admin" not in acting


# -- a wrong table is refused, naming the line -----------------------------------------------

TEXT = access.DEFINITION.read_text(encoding="utf-8")


def line_of(marker: str) -> int:
    return TEXT.splitlines().index(marker) + 1


@pytest.mark.parametrize(
    ("old", "new", "message", "header"),
    [
        ('export = "own_unit"', 'exprot = "own_unit"', "unknown verb 'exprot'",
         "[role.officer.grants]"),
        ('evidence = "own_case"', 'evidence = "own_cases"', "unknown scope",
         "[role.merchant.grants]"),
        ('en = "public"', 'en = "public"\nrole = "x"', "unknown key role", "[role.public]"),
    ],
)  # fmt: skip
def test_a_wrong_table_names_the_line(old: str, new: str, message: str, header: str) -> None:
    assert old in TEXT
    with pytest.raises(AccessDefinitionError, match=message) as info:
        parse(TEXT.replace(old, new, 1))  # the first: of the role in ``header``
    (problem,) = info.value.problems
    assert problem.startswith(f"{line_of(header)}: {header}")


def test_a_scope_the_code_cannot_check_is_refused() -> None:
    bad = TEXT.replace("[scope]\n", '[scope]\nsame_city = { zh = "同城", en = "same city" }\n')
    with pytest.raises(AccessDefinitionError, match="the code checks no such scope"):
        parse(bad)
