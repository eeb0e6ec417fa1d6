"""The table of the deadlines a case runs (workflow/cases/deadlines.toml): each row applies
only when its conditions hold, the order to correct shows the date it set, a platform
letter's stated date stands in while the count cannot say, and a broken table names its
entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from storage.models import Case
from workflow.cases import case_deadlines
from workflow.cases.case_deadlines import DeadlineTableError, load_table
from workflow.deadlines import Deadline, DeadlineStatus

TODAY = dt.date(2026, 11, 2)


def _case(
    procedure: str = "general",
    number: str | None = "示市监处〔2026〕1号",
    state: str = "filed",
    **facts: object,
) -> Case:
    return Case(procedure=procedure, number=number, state=state, facts=dict(facts))


def _rules(case: Case, today: dt.date = TODAY) -> dict[str | None, Deadline]:
    return {d.rule_id: d for d in case_deadlines.deadlines_of(case, today)}


def test_rows_apply_by_procedure_penalty_and_filing() -> None:
    unfiled = _case(number=None, state="verifying", registered_on="2026-10-26")
    assert set(_rules(unfiled)) == {"lead_verification"}
    general = _case(filed_on="2026-10-01")
    fast = _case(procedure="fast_track", filed_on="2026-10-01")
    assert set(_rules(general)) == {"decision"} and set(_rules(fast)) == {"fast_track_decision"}
    warned = _case(decided_on="2026-10-20", decided_penalty={"kind": "warning"})
    fined = _case(decided_on="2026-10-20", decision_served_on="2026-10-21",
                  decided_penalty={"kind": "fine", "amount_fen": 100_00})  # fmt: skip
    assert set(_rules(warned)) == {"decision_service", "publicity"}
    assert set(_rules(fined)) == {"decision_service", "publicity", "fine_payment"}


def test_the_hearing_pauses_the_decision_deadline() -> None:
    plain = _rules(_case(filed_on="2026-08-01"))["decision"]
    paused = _rules(_case(filed_on="2026-08-01", hearing_requested_on="2026-08-10",
                          hearing_held_on="2026-08-20"))["decision"]  # fmt: skip
    assert plain.due_date is not None and paused.due_date is not None
    assert (paused.due_date - plain.due_date).days >= 10


def test_the_order_to_correct_shows_the_date_it_set_until_confirmed() -> None:
    ordered = _case(correction_ordered_on="2026-10-20", correction_due_on="2026-11-04")
    d = _rules(ordered)["correction"]
    assert d.due_date == dt.date(2026, 11, 4) and d.status is DeadlineStatus.DUE_SOON
    assert d.name_zh == "责令改正期限" and d.confirmed
    late = _rules(ordered, dt.date(2026, 11, 5))["correction"]
    assert late.status is DeadlineStatus.OVERDUE
    done = _case(correction_ordered_on="2026-10-20", correction_due_on="2026-11-04",
                 correction_confirmed_on="2026-11-03")  # fmt: skip
    assert _rules(done, dt.date(2026, 11, 9))["correction"].status is DeadlineStatus.MET


def _letter(served_on: str, stated: str | None = None) -> Case:
    entry = {"rule": "platform_takedown", "served_on": served_on}
    if stated:
        entry["stated_due_on"] = stated
    return _case(platform_requests={"r1": entry})


def test_a_platform_letter_counts_and_falls_back_to_its_stated_date() -> None:
    d = case_deadlines.deadlines_of(_letter("2026-11-02", "2026-11-05"), TODAY)[0]
    assert d.due_date == dt.date(2026, 11, 5) and d.explanation[0].startswith("platform_takedown")
    d = case_deadlines.deadlines_of(_letter("2099-06-01", "2099-06-10"), dt.date(2099, 6, 2))[0]
    assert d.due_date == dt.date(2099, 6, 10) and d.confirmed and d.rule_id == "platform_takedown"
    assert "the date the letter states" in " ".join(d.explanation)
    d = case_deadlines.deadlines_of(_letter("2099-06-01"), dt.date(2099, 6, 2))[0]
    assert d.due_date is None and not d.confirmed and d.not_before is not None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('rule = "no_such_rule"\nfrom = "filed_on"', "deadline #1"),
        ('rule = "decision"\nfixed = "x"\nfrom = "filed_on"', "exactly one of rule, fixed, each"),
        ('rule = "decision"', "'from'"),
        ('rule = "decision"\nfrom = "filed_on"\nprocedures = ["summary"]', "unknown ['summary']"),
        ('fixed = "correction_due_on"\nfrom = "x"', "rule_id, name_zh, name_en"),
        ('rule = "decision"\nfrom = "filed_on"\nwhen = 1', "unknown keys ['when']"),
    ],
)
def test_a_broken_table_names_its_entry(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "deadlines.toml"
    path.write_text(f"[[deadline]]\n{row}\n", encoding="utf-8")
    with pytest.raises(DeadlineTableError) as err:
        load_table(path)
    assert message in str(err.value) and "deadlines.toml" in str(err.value)


def test_the_shipped_table_loads_and_names_only_known_rules() -> None:
    rows = load_table()
    assert {r.rule for r in rows if r.rule} >= {"decision", "fine_payment", "publicity"}
    assert any(r.fixed == "correction_due_on" for r in rows)
