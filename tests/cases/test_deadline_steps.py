"""The count of every deadline reads in Chinese on the officer's page
(evidence_service/web/deadline_steps.toml): every line the engine writes for every rule,
across weekends, the Spring Festival, make-up days, National Day, suspensions, extensions,
the unconfirmed next year and dates an order set, matches a pattern, and what comes out is
Chinese (no English words left but the names of files and libraries)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from evidence_service.web.deadline_steps import explain, translate_line
from workflow.deadlines import (
    Deadline,
    Direction,
    Extension,
    Period,
    PeriodUnit,
    Suspension,
    SuspensionKind,
    due,
    fixed,
    get_rule,
    rules,
)

TODAY = dt.date(2026, 11, 1)
STARTS = [dt.date(2026, 1, 20), dt.date(2026, 2, 13), dt.date(2026, 5, 1), dt.date(2026, 9, 28),
          dt.date(2026, 12, 20), dt.date(2026, 10, 9)]  # fmt: skip
ALLOWED_LATIN = {"chinese", "calendar", "calendar_overrides", "toml", "s"}


def _counts() -> Iterator[Deadline]:
    for rule_id in rules():
        rule = get_rule(rule_id)
        for start in STARTS:
            for suspensions in (
                [],
                [
                    Suspension(
                        SuspensionKind.HEARING, start + dt.timedelta(3), start + dt.timedelta(9)
                    )
                ],
                [Suspension(SuspensionKind.TESTING, start + dt.timedelta(3), None)],
            ):
                yield due(rule, start, suspensions, today=TODAY)
                yield due(rule, start, suspensions, today=TODAY, met_on=start + dt.timedelta(5))
            granted: list[Extension] = []
            for tier in rule.extensions:  # each tier after the one before it, as the law has it
                granted.append(Extension(3, "张局长", tier.by, start + dt.timedelta(2), "案情复杂"))
                yield due(rule, start, extensions=list(granted), today=TODAY)
    for unit in (PeriodUnit.WORKING_DAYS, PeriodUnit.CALENDAR_DAYS):
        for event in (dt.date(2026, 10, 9), dt.date(2027, 1, 9), dt.date(2026, 2, 24)):
            yield due(Period(5, unit, Direction.BEFORE), event, today=TODAY)
            yield due(Period(5, unit), event, today=TODAY)
    yield fixed(
        dt.date(2026, 11, 4),
        dt.date(2026, 10, 20),
        rule_id="correction",
        name_zh="责令改正期限",
        name_en="Correction due",
        today=TODAY,
        source="s",
    )


def _latin_words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z_]+", text)} - ALLOWED_LATIN


def test_every_line_of_every_count_reads_in_chinese() -> None:
    lines = {line for d in _counts() for line in d.explanation}
    assert len(lines) > 200  # the scenarios above reach every kind of line
    untranslated = sorted(
        line for line in lines if translate_line(line, {"correction": "责令改正期限"}) is None
    )
    assert not untranslated, untranslated[:10]
    leftovers = {}
    for line in lines:
        zh = translate_line(line, {"correction": "责令改正期限"})
        assert zh is not None
        words = _latin_words(zh.replace("chinese-calendar", ""))
        if words:
            leftovers[line] = (zh, words)
    assert not leftovers, list(leftovers.items())[:5]


@pytest.mark.parametrize(
    ("line", "zh"),
    [
        ("2026-02-15 to 2026-02-23 (9 days): Spring Festival 春节 holiday, skipped",
         "2026-02-15 至 2026-02-23（9 日）：春节假期，不计"),
        ("make-up working day 2026-02-14 (Sat, Spring Festival 春节) counted",
         "调休上班日 2026-02-14（周六，春节）计入"),
        ("last day 2026-05-16 (Sat) is a weekend: moved to 2026-05-18 (Mon), the first working day "
         "after it; due 2026-05-18",
         "最后一日 2026-05-16（周六）为休息日：顺延至其后第一个工作日 2026-05-18（周一）；"
         "期限届满日 2026-05-18"),
        ("decision: 90 calendar days after case filed",
         "作出处理决定（普通程序）：立案后 90 日（自然日）"),
    ],
)  # fmt: skip
def test_lines_read_as_the_law_says_them(line: str, zh: str) -> None:
    assert translate_line(line) == zh


def test_english_pages_and_unknown_lines_stay_english() -> None:
    assert explain(["due 2026-01-09 (the last day the act may be done)"], "en") == [
        ("due 2026-01-09 (the last day the act may be done)", "en")
    ]
    assert explain(["a line no pattern knows"], "zh") == [("a line no pattern knows", "en")]
