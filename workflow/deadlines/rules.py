"""The deadlines of the administrative case, as data (``rules.toml``) that legal staff correct.

Article numbers move between amendments of the laws, so a rule cites its source by name and
keeps the article in data; the figures (length, unit, event, who may extend) are data too, so
a change of the law is an edit of one file, reviewed and kept in the repository's history.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from workflow.deadlines.errors import PeriodError, RuleDataError, UnknownRuleError

__all__ = [
    "EVENTS",
    "MAX_PERIOD_DAYS",
    "RULES_PATH",
    "Approver",
    "Direction",
    "ExtensionTier",
    "LegalSource",
    "Period",
    "PeriodUnit",
    "Rule",
    "SuspensionKind",
    "get_rule",
    "load_rules",
    "rules",
]

RULES_PATH = Path(__file__).with_name("rules.toml")
#: Longer periods are a typo (and would make the day-by-day count slow).
MAX_PERIOD_DAYS = 3660


class PeriodUnit(StrEnum):
    WORKING_DAYS = "working_days"  # 工作日: weekends and holidays skipped, make-up days count
    CALENDAR_DAYS = "calendar_days"  # 日: every day counts; a last day off moves to a working day


class Direction(StrEnum):
    AFTER = "after"  # "within N days of the event"
    BEFORE = "before"  # "at least N days before the event" (a hearing notice)


class SuspensionKind(StrEnum):
    """Periods the law says are not counted (听证、公告、检测、检验、检疫、鉴定)."""

    HEARING = "hearing"
    ANNOUNCEMENT = "announcement"
    TESTING = "testing"
    INSPECTION = "inspection"
    QUARANTINE = "quarantine"
    APPRAISAL = "appraisal"


class Approver(StrEnum):
    HEAD_OF_UNIT = "head_of_unit"  # 市场监督管理部门负责人
    COLLECTIVE_DISCUSSION = "collective_discussion"  # 负责人集体讨论


APPROVER_NAMES = {
    Approver.HEAD_OF_UNIT: "head of unit (负责人)",
    Approver.COLLECTIVE_DISCUSSION: "collective discussion (集体讨论)",
}

#: The events a period can run from: id -> (Chinese, English).
EVENTS: Mapping[str, tuple[str, str]] = {
    "complaint_received": ("收到投诉", "complaint received"),
    "lead_received": ("发现线索或者收到材料", "lead found or material received"),
    "evidence_preserved": ("先行登记保存证据", "evidence preserved (registered)"),
    "seizure_decided": ("作出查封、扣押决定", "sealing or seizure decided"),
    "case_filed": ("立案", "case filed"),
    "review_submitted": ("送交审核", "case submitted for review"),
    "notification_served": ("告知书送达", "penalty notification served"),
    "hearing_scheduled": ("举行听证", "hearing held (its date)"),
    "decision_made": ("作出行政处罚决定", "decision made"),
    "decision_served": ("行政处罚决定书送达", "decision served"),
    "notice_published": ("发出公告", "public notice published"),
    # room platform: a request from a case reached the platform's portal account
    "platform_request_served": ("协助函送达平台", "request served on the platform"),
}


@dataclass(frozen=True)
class Period:
    """``length`` days in ``unit``, counted after (or back before) an event."""

    length: int
    unit: PeriodUnit
    direction: Direction = Direction.AFTER

    def __post_init__(self) -> None:
        if isinstance(self.length, bool) or not isinstance(self.length, int):
            raise PeriodError(f"a period's length must be a whole number, not {self.length!r}")
        if not 1 <= self.length <= MAX_PERIOD_DAYS:
            raise PeriodError(
                f"a period's length must be 1 to {MAX_PERIOD_DAYS} days, not {self.length}"
            )
        try:
            object.__setattr__(self, "unit", PeriodUnit(self.unit))
            object.__setattr__(self, "direction", Direction(self.direction))
        except ValueError as exc:
            raise PeriodError(
                f"{exc}: a period is in working_days or calendar_days, after or before an event"
            ) from exc

    @property
    def describe(self) -> str:
        """``7 working days`` / ``90 calendar days``."""
        what = "working day" if self.unit is PeriodUnit.WORKING_DAYS else "calendar day"
        return f"{self.length} {what}{'s' if self.length != 1 else ''}"


@dataclass(frozen=True)
class ExtensionTier:
    """Who may extend, and by how much in total (None: a length set by the approver)."""

    by: Approver
    max_days: int | None = None


@dataclass(frozen=True)
class LegalSource:
    name_zh: str
    name_en: str
    article: str | None = None  # kept as data: numbers move between amendments

    @property
    def citation(self) -> str:
        return f"{self.name_zh}{' ' + self.article if self.article else ''} ({self.name_en})"


@dataclass(frozen=True)
class Rule:
    id: str
    name_zh: str
    name_en: str
    period: Period
    from_event: str
    sources: tuple[LegalSource, ...]
    suspended_by: frozenset[SuspensionKind] = frozenset()
    #: In order: a later tier may extend only after every earlier one has.
    extensions: tuple[ExtensionTier, ...] = ()
    note: str = ""
    procedure: str = "general"
    step: int | None = None  # the step of the case process (reference table)

    @property
    def extendable(self) -> bool:
        return bool(self.extensions)


# -- loading ----------------------------------------------------------------------------------

_RULE_KEYS = {
    "id", "name_zh", "name_en", "unit", "length", "direction", "from_event", "suspended_by",
    "extension", "source", "note", "procedure", "step",
}  # fmt: skip
_REQUIRED = {"id", "name_zh", "name_en", "unit", "length", "from_event", "source"}


def load_rules(path: Path = RULES_PATH) -> dict[str, Rule]:
    """Read and check ``rules.toml``; every problem names the rule and key to fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuleDataError(path, "the rules file is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RuleDataError(path, f"not valid TOML: {exc}") from exc
    if set(data) - {"rule"} or not isinstance(data.get("rule"), list):
        raise RuleDataError(path, "the file must hold [[rule]] tables only")
    found: dict[str, Rule] = {}
    for n, entry in enumerate(data["rule"], 1):
        rule = _rule(path, f"[[rule]] {entry.get('id', f'entry {n}')}", entry)
        if rule.id in found:
            raise RuleDataError(path, f"rule id {rule.id!r} is used twice")
        found[rule.id] = rule
    return found


def _rule(path: Path, where: str, entry: dict[str, Any]) -> Rule:
    def fail(problem: str) -> RuleDataError:
        return RuleDataError(path, f"{where}: {problem}")

    unknown, missing = set(entry) - _RULE_KEYS, _REQUIRED - set(entry)
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    if missing:
        raise fail(f"missing {sorted(missing)}")
    texts = {k: entry[k] for k in ("id", "name_zh", "name_en", "from_event")}
    for key, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{key} must be a non-empty text")
    if not texts["id"].replace("_", "").isalnum() or not texts["id"].islower():
        raise fail("id must be lower_case_with_underscores")
    if texts["from_event"] not in EVENTS:
        raise fail(f"from_event {texts['from_event']!r} is not one of {sorted(EVENTS)}")
    try:
        period = Period(
            entry["length"],
            PeriodUnit(entry["unit"]),
            Direction(entry.get("direction", "after")),
        )
    except (ValueError, PeriodError) as exc:
        raise fail(f"bad period ({exc}); unit is working_days or calendar_days") from exc
    try:
        suspended_by = frozenset(SuspensionKind(k) for k in entry.get("suspended_by", []))
    except ValueError as exc:
        raise fail(f"suspended_by: {exc}; known: {[k.value for k in SuspensionKind]}") from exc
    tiers = []
    for tier in entry.get("extension", []):
        if not isinstance(tier, dict) or set(tier) - {"by", "max_days"} or "by" not in tier:
            raise fail("each [[rule.extension]] has by (and optionally max_days) only")
        try:
            by = Approver(tier["by"])
        except ValueError as exc:
            raise fail(f"extension by: {exc}; known: {[a.value for a in Approver]}") from exc
        max_days = tier.get("max_days")
        if max_days is not None and (not isinstance(max_days, int) or max_days < 1):
            raise fail("extension max_days must be a positive whole number")
        tiers.append(ExtensionTier(by, max_days))
    if period.direction is Direction.BEFORE and (tiers or suspended_by):
        raise fail("a period counted back before an event cannot be extended or suspended")
    sources = []
    raw_sources = entry["source"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise fail("needs at least one [[rule.source]] (the law or rule it comes from)")
    for source in raw_sources:
        if not isinstance(source, dict) or set(source) - {"name_zh", "name_en", "article"}:
            raise fail("each [[rule.source]] has name_zh, name_en and optionally article")
        name_zh, name_en = source.get("name_zh"), source.get("name_en")
        if not (isinstance(name_zh, str) and name_zh.strip()) or not (
            isinstance(name_en, str) and name_en.strip()
        ):
            raise fail("each source needs name_zh and name_en")
        article = source.get("article")
        if article is not None and not isinstance(article, str):
            raise fail('a source\'s article is a text like "第六十条"')
        sources.append(LegalSource(name_zh.strip(), name_en.strip(), article or None))
    step = entry.get("step")
    if step is not None and not isinstance(step, int):
        raise fail("step must be a number")
    return Rule(
        id=texts["id"],
        name_zh=texts["name_zh"].strip(),
        name_en=texts["name_en"].strip(),
        period=period,
        from_event=texts["from_event"],
        sources=tuple(sources),
        suspended_by=suspended_by,
        extensions=tuple(tiers),
        note=str(entry.get("note", "")).strip(),
        procedure=str(entry.get("procedure", "general")),
        step=step,
    )


@lru_cache(maxsize=1)
def rules() -> Mapping[str, Rule]:
    """The packaged rules (read once per process)."""
    return load_rules(RULES_PATH)


def get_rule(rule_id: str) -> Rule:
    found = rules().get(rule_id)
    if found is None:
        raise UnknownRuleError(rule_id, list(rules()))
    return found
