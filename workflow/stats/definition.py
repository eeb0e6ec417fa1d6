"""What the unit's figures count, read from ``figures.toml`` and checked once on load.

A misspelt name in the file would silently count nothing (a figure of 0 looks like a fact),
so every name is checked here against the process and deadline tables and a wrong file is
refused at start-up with the key to correct.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.cases.process import default_process
from workflow.deadlines import rules

__all__ = [
    "DEFINITION_PATH",
    "NoPenaltyPath",
    "StatsDefinition",
    "StatsDefinitionError",
    "ViolationSource",
    "default_definition",
    "load_definition",
]

DEFINITION_PATH = Path(__file__).with_name("figures.toml")


class StatsDefinitionError(ValueError):
    """``figures.toml`` is wrong; the message names the key."""


@dataclass(frozen=True)
class ViolationSource:
    action: str
    detail: str


@dataclass(frozen=True)
class NoPenaltyPath:
    listed_fact: str
    decision_fact: str
    decision_grounds: tuple[str, ...]
    non_filing_action: str
    non_filing_detail: str
    non_filing_grounds: tuple[str, ...]
    non_filing_end: str


@dataclass(frozen=True)
class StatsDefinition:
    violation_sources: tuple[ViolationSource, ...]
    violation_max_length: int
    violation_top: int
    no_penalty: NoPenaltyPath
    excluded_rules: frozenset[str]
    #: step number -> (zh, en)
    steps: dict[int, tuple[str, str]]


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise StatsDefinitionError(f"{where}.{key}: a non-empty text is needed")
    return value


def _texts(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise StatsDefinitionError(f"{where}.{key}: a list of texts is needed")
    return tuple(value)


def _count(table: dict[str, Any], key: str, where: str) -> int:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StatsDefinitionError(f"{where}.{key}: a whole number of 1 or more is needed")
    return value


def load_definition(path: Path = DEFINITION_PATH) -> StatsDefinition:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StatsDefinitionError(f"{path.name}: not valid TOML: {exc}") from exc
    proc = default_process()
    vt = data.get("violation_type", {})
    sources = []
    for i, row in enumerate(vt.get("sources", [])):
        where = f"violation_type.sources[{i}]"
        if not isinstance(row, dict):
            raise StatsDefinitionError(f"{where}: write {{ action = ..., detail = ... }}")
        sources.append(ViolationSource(_text(row, "action", where), _text(row, "detail", where)))
    if not sources:
        raise StatsDefinitionError("violation_type.sources: name at least one source")
    np = data.get("no_penalty_path", {})
    path_ = NoPenaltyPath(
        listed_fact=_text(np, "listed_fact", "no_penalty_path"),
        decision_fact=_text(np, "decision_fact", "no_penalty_path"),
        decision_grounds=_texts(np, "decision_grounds", "no_penalty_path"),
        non_filing_action=_text(np, "non_filing_action", "no_penalty_path"),
        non_filing_detail=_text(np, "non_filing_detail", "no_penalty_path"),
        non_filing_grounds=_texts(np, "non_filing_grounds", "no_penalty_path"),
        non_filing_end=_text(np, "non_filing_end", "no_penalty_path"),
    )
    if path_.non_filing_end not in proc.states:
        raise StatsDefinitionError(
            f"no_penalty_path.non_filing_end: {path_.non_filing_end!r} is no state of process.toml"
        )
    if path_.non_filing_action not in proc.actions:
        raise StatsDefinitionError(
            f"no_penalty_path.non_filing_action: {path_.non_filing_action!r} is no action of "
            "process.toml"
        )
    excluded = _texts(data.get("deadlines", {}), "exclude_rules", "deadlines")
    unknown = sorted(set(excluded) - set(rules()))
    if unknown:
        raise StatsDefinitionError(
            f"deadlines.exclude_rules: no rule {', '.join(unknown)} in rules.toml"
        )
    steps: dict[int, tuple[str, str]] = {}
    for i, row in enumerate(data.get("step", [])):
        where = f"step[{i}]"
        number = row.get("number") if isinstance(row, dict) else None
        if isinstance(number, bool) or not isinstance(number, int):
            raise StatsDefinitionError(f"{where}.number: the step's number is needed")
        steps[number] = (_text(row, "zh", where), _text(row, "en", where))
    missing = sorted({s.step for s in proc.states.values()} - set(steps))
    if missing:
        raise StatsDefinitionError(
            f"step: no name for step {', '.join(map(str, missing))} of process.toml"
        )
    return StatsDefinition(
        violation_sources=tuple(sources),
        violation_max_length=_count(vt, "max_length", "violation_type"),
        violation_top=_count(vt, "top", "violation_type"),
        no_penalty=path_,
        excluded_rules=frozenset(excluded),
        steps=steps,
    )


@functools.cache
def default_definition() -> StatsDefinition:
    """The packaged ``figures.toml``, read and checked once."""
    return load_definition()
