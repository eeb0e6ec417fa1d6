"""How a deadline was counted, in the page's language.

The deadline engine explains each count in English lines (``Deadline.explanation``), which
the CLI, the API and the logs print as they are. The officer console shows them in Chinese
from the pattern table ``deadline_steps.toml`` (data: legal staff read the Chinese beside the
English it matches). A line no pattern matches is shown in English, marked as such, and
``tests/cases/test_deadline_steps.py`` makes every line of every rule's count match one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workflow.deadlines import EVENTS, get_rule
from workflow.deadlines.errors import UnknownRuleError

__all__ = ["Step", "explain", "translate_line"]

_PATH = Path(__file__).with_name("deadline_steps.toml")
_SLOT = re.compile(r"\{(\w+):(DAY|DATE|N|RULE|EVENT|TEXT)\}")
_KIND = {
    "DAY": r"\d{4}-\d{2}-\d{2} \([^()]*\)",
    "DATE": r"\d{4}-\d{2}-\d{2}",
    "N": r"\d+",
    "RULE": r"[a-z_]+",
    "EVENT": r".+?",
    "TEXT": r".+?",
}
_WEEKDAYS = {"Mon": "周一", "Tue": "周二", "Wed": "周三", "Thu": "周四", "Fri": "周五",
             "Sat": "周六", "Sun": "周日"}  # fmt: skip
_CJK = re.compile(r"[\u3400-\u9fff]")
_EVENTS_ZH = {en: zh for zh, en in EVENTS.values()}


@dataclass(frozen=True)
class Step:
    en: re.Pattern[str]
    zh: str
    kinds: dict[str, str]


@cache
def _table(path: Path = _PATH) -> tuple[tuple[Step, ...], dict[str, str]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    steps = []
    for n, entry in enumerate(data.get("step", []), 1):
        try:
            kinds = {m[1]: m[2] for m in _SLOT.finditer(entry["en"])}
            parts, last = [], 0
            for m in _SLOT.finditer(entry["en"]):
                parts.append(re.escape(entry["en"][last : m.start()]))
                parts.append(f"(?P<{m[1]}>{_KIND[m[2]]})")
                last = m.end()
            parts.append(re.escape(entry["en"][last:]))
            steps.append(Step(re.compile("".join(parts)), entry["zh"], kinds))
        except (KeyError, re.error) as exc:
            raise ValueError(f"{path.name}: [[step]] entry {n}: {exc}") from exc
    words = {w["en"]: w["zh"] for w in data.get("word", [])}
    return tuple(steps), words


def _chinese_part(text: str) -> str | None:
    """``Spring Festival 春节`` -> ``春节``; ``head of unit (负责人)`` -> ``负责人``."""
    inner = re.fullmatch(r"[^()]*\(([^()]*)\)", text)
    if inner and _CJK.search(inner[1]):
        return inner[1]
    tokens = [t for t in text.split() if _CJK.search(t)]
    return " ".join(tokens) if tokens else None


def _day(text: str) -> str:
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}) \(([^,()]*)(?:, ([^()]*))?\)", text)
    if m is None:
        return text
    out = _WEEKDAYS.get(m[2], m[2])
    if m[3]:
        out += "，" + (_chinese_part(m[3]) or _text(m[3]))
    return f"{m[1]}（{out}）"


def _rule(rule_id: str, names: Mapping[str, str]) -> str:
    if rule_id in names:
        return names[rule_id]
    try:
        return get_rule(rule_id).name_zh or rule_id
    except UnknownRuleError:
        return rule_id


def _text(text: str) -> str:
    _, words = _table()
    if text in words:
        return words[text]
    translated = translate_line(text)
    if translated is not None:
        return translated
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 1 and all(p in words for p in parts):
        return "、".join(words[p] for p in parts)
    return _chinese_part(text) or text


def translate_line(line: str, names: Mapping[str, str] | None = None) -> str | None:
    """The Chinese of one line of a count, or None when no pattern matches it. ``names``:
    Chinese names of periods that are not rules of ``rules.toml`` (a date an order set)."""
    steps, _ = _table()
    for step in steps:
        m = step.en.fullmatch(line)
        if m is None:
            continue
        values = {}
        for name, kind in step.kinds.items():
            value = m[name]
            if kind == "DAY":
                value = _day(value)
            elif kind == "RULE":
                value = _rule(value, names or {})
            elif kind == "EVENT":
                value = _EVENTS_ZH.get(value, value)
            elif kind == "TEXT":
                value = _text(value)
            values[name] = value
        return step.zh.format(**values)
    return None


def explain(
    lines: Sequence[str], lang: str, names: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """Each line of a count as (text, its language): Chinese where a pattern matches."""
    if lang != "zh":
        return [(line, "en") for line in lines]
    out = []
    for line in lines:
        zh = translate_line(line, names)
        out.append((zh, "zh") if zh is not None else (line, "en"))
    return out
