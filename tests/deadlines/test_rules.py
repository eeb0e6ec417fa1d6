"""``rules.toml``: every rule loads, cites its source, and carries the figures of the case
process (../shared/reference/case-process.md); a malformed file names what to fix."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from workflow.deadlines import (
    EVENTS,
    RULES_PATH,
    Approver,
    Direction,
    PeriodUnit,
    RuleDataError,
    SuspensionKind,
    UnknownRuleError,
    due,
    get_rule,
    load_rules,
    rules,
)

WD, CD = PeriodUnit.WORKING_DAYS, PeriodUnit.CALENDAR_DAYS
H, C = Approver.HEAD_OF_UNIT, Approver.COLLECTIVE_DISCUSSION

#: The reference's figures: id -> (unit, length, direction, event, extension tiers).
EXPECTED = {
    "complaint_acceptance": (WD, 7, "after", "complaint_received", []),
    "lead_verification": (WD, 15, "after", "lead_received", [(H, 15)]),
    "preservation_decision": (WD, 7, "after", "evidence_preserved", []),
    "sealing_seizure": (CD, 30, "after", "seizure_decided", [(H, 30)]),
    "case_review": (WD, 10, "after", "review_submitted", [(H, None)]),
    "statement_defence": (WD, 5, "after", "notification_served", []),
    # 七日 of the Administrative Penalty Law are working days (its Art. 85)
    "hearing_notice": (WD, 7, "before", "hearing_scheduled", []),
    "decision": (CD, 90, "after", "case_filed", [(H, 30), (C, None)]),
    "fast_track_decision": (CD, 30, "after", "case_filed", []),
    "decision_service": (WD, 7, "after", "decision_made", []),
    "fine_payment": (CD, 15, "after", "decision_served", []),
    "publicity": (WD, 20, "after", "decision_made", []),
    "public_notice_service": (CD, 30, "after", "notice_published", []),
    # room platform: the unit's practice for a platform's answer (to be confirmed)
    "platform_assistance_reply": (WD, 10, "after", "platform_request_served", []),
    "platform_takedown": (WD, 3, "after", "platform_request_served", []),
}


def test_every_rule_loads_with_names_an_event_and_a_source() -> None:
    found = load_rules(RULES_PATH)
    assert list(found) == list(EXPECTED)
    for rule in found.values():
        assert rule.name_zh.strip() and rule.name_en.strip()
        assert rule.from_event in EVENTS
        assert rule.sources, rule.id
        for source in rule.sources:
            assert source.name_zh and source.name_en
            assert source.citation.startswith(source.name_zh)
        # and each can be computed
        assert due(rule, date(2026, 3, 2), today=date(2026, 3, 2)).due_date is not None


@pytest.mark.parametrize("rule_id", list(EXPECTED))
def test_each_rule_has_the_figures_of_the_case_process(rule_id: str) -> None:
    rule = get_rule(rule_id)
    unit, length, direction, event, tiers = EXPECTED[rule_id]
    assert (rule.period.unit, rule.period.length) == (unit, length)
    assert rule.period.direction is Direction(direction)
    assert rule.from_event == event
    assert [(t.by, t.max_days) for t in rule.extensions] == tiers


def test_what_suspends_the_decision_and_the_seizure() -> None:
    assert {"hearing", "announcement", "testing", "appraisal"} <= get_rule("decision").suspended_by
    seizure = get_rule("sealing_seizure").suspended_by
    assert SuspensionKind.TESTING in seizure and SuspensionKind.HEARING not in seizure
    assert not get_rule("fine_payment").suspended_by


def test_the_laws_are_cited_by_name() -> None:
    cited = {s.name_zh for r in rules().values() for s in r.sources}
    assert {
        "中华人民共和国行政处罚法",
        "市场监督管理行政处罚程序规定",
        "市场监督管理行政处罚信息公示规定",
        "市场监督管理投诉举报处理暂行办法",
        "中华人民共和国行政强制法",
        "中华人民共和国民事诉讼法",
    } <= cited


def test_an_unknown_rule_lists_the_known_ones() -> None:
    with pytest.raises(UnknownRuleError) as caught:
        get_rule("decison")
    assert "no deadline rule 'decison'" in str(caught.value)
    assert "decision" in str(caught.value)


GOOD = """
[[rule]]
id = "x_rule"
name_zh = "测试"
name_en = "Test"
unit = "working_days"
length = 5
from_event = "case_filed"
[[rule.source]]
name_zh = "某规定"
name_en = "Some rule"
"""


def test_a_minimal_rule_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert list(load_rules(path)) == ["x_rule"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('unit = "working_days"', 'unit = "weeks"'), "bad period"),
        (("length = 5", "length = 0"), "bad period"),
        (('from_event = "case_filed"', 'from_event = "case_opened"'), "from_event 'case_opened'"),
        (('[[rule.source]]\nname_zh = "某规定"\nname_en = "Some rule"\n', ""), "missing"),
        (('name_en = "Some rule"', 'name_en = ""'), "name_zh and name_en"),
        (("length = 5", "length = 5\nlenght = 6"), "unknown key(s) ['lenght']"),
        (("length = 5", 'length = 5\nsuspended_by = ["strike"]'), "suspended_by"),
        (("[[rule.source]]", '[[rule.extension]]\nby = "mayor"\n[[rule.source]]'), "extension by"),
        (('id = "x_rule"', 'id = "X Rule"'), "lower_case"),
    ],
)
def test_a_bad_rule_file_names_the_rule_and_the_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "rules.toml"
    old, new = change
    assert old in GOOD
    path.write_text(GOOD.replace(old, new), encoding="utf-8")
    with pytest.raises(RuleDataError) as caught:
        load_rules(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_rule_id_used_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD + GOOD, encoding="utf-8")
    with pytest.raises(RuleDataError, match="used twice"):
        load_rules(path)
