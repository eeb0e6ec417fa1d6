"""The process table itself: complete against the reference, and a wrong table is refused
with the line at fault."""

from __future__ import annotations

import re

import pytest

from workflow.cases import process
from workflow.cases.guards import GUARDS
from workflow.cases.process import DEFINITION, ProcessDefinitionError, parse
from workflow.documents.types import TEMPLATES

TEXT = DEFINITION.read_text(encoding="utf-8")
PROCESS = process.default_process()

#: The documents the issue names (its short names -> the registered template keys).
ISSUE_DOCUMENTS = {
    "case_source_registration": "case_source_registration",
    "filing_approval": "filing_approval",
    "non_filing_approval": "non_filing_approval",
    "inquiry_notice": "inquiry_notice",
    "inquiry_record": "inquiry_record",
    "extraction_record": "evidence_extraction_record",
    "evidence_preservation_notice": "evidence_preservation_notice",
    "order_to_correct": "order_to_correct",
    "investigation_end_report": "investigation_end_report",
    "case_review_form": "case_review_form",
    "penalty_notification": "penalty_notification",
    "hearing_notice": "hearing_notice",
    "hearing_record": "hearing_record",
    "statement_record": "statement",
    "penalty_decision": "penalty_decision",
    "no_penalty_decision": "no_penalty_decision",
    "address_confirmation": "service_address_confirmation",
    "proof_of_service": "proof_of_service",
    "closing_approval": "closing_approval",
    "payment_receipt": "payment_receipt",
}


def test_every_document_is_a_registered_template_and_generated_somewhere() -> None:
    generated = {d for r in PROCESS.rules for d in r.documents}
    assert set(PROCESS.documents) <= set(TEMPLATES)
    assert generated == set(PROCESS.documents)
    assert set(ISSUE_DOCUMENTS.values()) == generated


def test_all_fourteen_steps_are_covered() -> None:
    by_state = {s.step for s in PROCESS.states.values()}
    by_rule = {r.step for r in PROCESS.rules}
    assert by_state | by_rule == set(range(1, 15))
    assert by_rule == set(range(1, 15))


def test_every_guard_is_used_and_every_role_but_admin_acts() -> None:
    assert {g for r in PROCESS.rules for g in r.guards} == set(GUARDS)
    acting = {role for r in PROCESS.rules for role in r.roles}
    assert acting == set(PROCESS.roles) - {"admin"}


def test_every_procedure_is_in_the_table() -> None:
    assert {p for r in PROCESS.rules for p in r.procedures} == {
        "general",
        "simplified",
        "fast_track",
    }


def test_the_table_parses_to_the_loaded_process() -> None:
    assert parse(TEXT) == PROCESS


# -- a wrong table is refused, naming the line -------------------------------------------------


def header_line(marker: str) -> int:
    """The line of the [[transition]] header above the first line containing ``marker``."""
    lines = TEXT.splitlines()
    at = next(i for i, line in enumerate(lines) if marker in line)
    return 1 + max(i for i in range(at + 1) if lines[i].startswith("[[transition]]"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'guards = ["preservation_approved"]',
            'guards = ["preservation_aproved"]',
            r"unknown guard 'preservation_aproved'",
        ),
        (
            'action = "order_correction"\nto = "correcting"',
            'action = "order_correction"\nto = "corecting"',
            r"unknown state 'corecting'",
        ),
        (
            'action = "apply_enforcement"\nto = "enforcement_applied"\nroles = ["officer"]',
            'action = "apply_enforcement"\nto = "enforcement_applied"\nroles = ["oficer"]',
            r"unknown role 'oficer'",
        ),
        (
            'documents = ["hearing_notice", "proof_of_service"]',
            'documents = ["hearing_notise", "proof_of_service"]',
            r"unknown document 'hearing_notise'",
        ),
        (
            'action = "hold_hearing"\nto = "hearing_held"\nroles = ["officer"]\n'
            'procedures = ["general"]',
            'action = "hold_hearing"\nto = "hearing_held"\nroles = ["officer"]\n'
            'procedures = ["genral"]',
            r"unknown procedure 'genral'",
        ),
        (
            'action = "hold_hearing"\nto = "hearing_held"\nroles = ["officer"]\n',
            'action = "hold_hearing"\nto = "hearing_held"\nroles = []\n',
            r"roles must not be empty",
        ),
        (
            'action = "schedule_hearing"\nto = "hearing_scheduled"\n',
            'action = "schedule_hearing"\nto = "hearing_scheduled"\nguard = ["x"]\n',
            r"unknown key guard",
        ),
        (
            'action = "schedule_hearing"\nto = "hearing_scheduled"\n',
            'action = "schedule_hearing"\nto = "hearing_scheduled"\nstep = 15\n',
            r"step must be a number from 1 to 14",
        ),
    ],
)
def test_a_wrong_transition_is_named_by_its_line(old: str, new: str, message: str) -> None:
    assert TEXT.count(old) == 1, old
    first = old.splitlines()[0]
    with pytest.raises(ProcessDefinitionError, match=message) as info:
        parse(TEXT.replace(old, new))
    (problem,) = info.value.problems
    assert problem.startswith(f"{header_line(first)}: [[transition]] #"), problem
    assert f"process.toml:{header_line(first)}:" in str(info.value)


def test_a_duplicate_row_is_refused_with_both_lines() -> None:
    block = TEXT[TEXT.index('[[transition]]\nfrom = "decided"') :].split("\n\n")[0]
    bad = TEXT + "\n" + block + "\n"
    with pytest.raises(ProcessDefinitionError, match="already defined at line") as info:
        parse(bad)
    assert str(header_line('from = "decided"')) in info.value.problems[0]


def test_a_transition_out_of_a_terminal_state_is_refused() -> None:
    bad = TEXT + '\n[[transition]]\nfrom = "closed"\naction = "publish"\nto = "closed"\n'
    bad += 'roles = ["system"]\nprocedures = ["general"]\n'
    with pytest.raises(ProcessDefinitionError, match="'closed' is terminal") as info:
        parse(bad)
    line = len(bad[: bad.rindex("[[transition]]")].splitlines()) + 1
    assert info.value.problems[0].startswith(f"{line}: [[transition]]")


def test_an_unused_action_and_an_unknown_start_are_refused() -> None:
    bad = TEXT.replace('start = "new"', 'start = "nowhere"')
    bad += '\n[[action]]\nid = "dance"\nzh = "跳舞"\nen = "dance"\n'
    with pytest.raises(ProcessDefinitionError) as info:
        parse(bad)
    assert any("start 'nowhere' is not a declared state" in p for p in info.value.problems)
    assert any(re.search(r"\[\[action\]\] #\d+: action 'dance' is used by no", p)
               for p in info.value.problems)  # fmt: skip


def test_a_state_with_a_typo_in_its_keys_is_refused() -> None:
    bad = TEXT.replace("step = 14\nterminal = true", "step = 14\ntermnial = true")
    with pytest.raises(ProcessDefinitionError, match="unknown key termnial"):
        parse(bad)


def test_broken_toml_is_a_definition_error() -> None:
    with pytest.raises(ProcessDefinitionError, match="not valid TOML"):
        parse(TEXT + "\n[[transition]\n")
