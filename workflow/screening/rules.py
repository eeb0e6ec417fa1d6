"""The screening's rules (``rules.toml``) and its operating point (the deployment's settings).

Why two places: what a fact *means* -- its weight, keywords, thresholds -- is reviewed by legal
staff and kept as data beside the code, versioned with its SHA-256; the score at which a
complaint is flagged and the period looked back over are a unit's trade-off between catching
professional claimants and troubling ordinary complainants, set per deployment
(``EVIDENCE_SCREENING_*``, :class:`Operating`). Both are stored with every result.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_RULES",
    "FACTS",
    "FactRule",
    "Operating",
    "Rules",
    "RulesError",
    "load_rules",
]

DEFAULT_RULES = Path(__file__).with_name("rules.toml")
#: The facts, in the order they are shown.
FACTS = (
    "repeat_complainant",
    "near_duplicate_text",
    "shared_identifier",
    "purchase_then_complain",
    "compensation_demand",
)
_NUMBERS = ("weight", "min", "full_at")


class RulesError(ValueError):
    """The rules file is not usable: the message names the file, the fact and the field."""


@dataclass(frozen=True)
class FactRule:
    """One fact: its weight (points at full strength), where its strength starts (``min``)
    and where it is full (``full_at``), the explanation in both languages (a format string)
    and the fact's own parameters (``extra``: keywords, similarity...)."""

    name: str
    weight: float
    min: float
    full_at: float
    zh: str
    en: str
    extra: Mapping[str, Any]

    def strength(self, value: float) -> float:
        """0 below ``min``, then linear up to 1 at ``full_at``."""
        if value < self.min:
            return 0.0
        if self.full_at <= self.min:
            return 1.0
        return min(1.0, (value - self.min + 1) / (self.full_at - self.min + 1))

    def number(self, key: str) -> float:
        return float(self.extra[key])


@dataclass(frozen=True)
class Rules:
    version: str
    sha256: str
    facts: Mapping[str, FactRule]

    def __getitem__(self, name: str) -> FactRule:
        return self.facts[name]

    @property
    def label(self) -> str:
        """``<version>+<first 12 hex of the file's SHA-256>``: which rules made a result."""
        return f"{self.version}+{self.sha256[:12]}"


@dataclass(frozen=True)
class Operating:
    """The deployment's operating point: the score at which a complaint is flagged (0..100)
    and the days before and after a complaint in which others count."""

    flag_score: int = 40
    period_days: int = 365

    def __post_init__(self) -> None:
        if not 1 <= self.flag_score <= 100:
            raise RulesError(f"the flag score must be 1..100, not {self.flag_score}")
        if self.period_days < 1:
            raise RulesError(f"the period must be at least one day, not {self.period_days}")


_REQUIRED_EXTRA: dict[str, tuple[str, ...]] = {
    "repeat_complainant": ("min_merchants",),
    "near_duplicate_text": ("min_similarity", "min_chars", "candidates"),
    "shared_identifier": (),
    "compensation_demand": ("keywords",),
    "purchase_then_complain": ("max_days", "purchase_words"),
}


def parse_rules(raw: bytes, source: str) -> Rules:
    """Rules from a TOML file's bytes; every problem is reported with the file and field."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{source}: not a TOML file ({exc})") from exc
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise RulesError(f'{source}: give the rules a version = "..."')
    facts: dict[str, FactRule] = {}
    for name in FACTS:
        entry = data.get(name)
        if not isinstance(entry, dict):
            raise RulesError(f"{source}: the table [{name}] is missing")
        for key in (*_NUMBERS, *_REQUIRED_EXTRA[name]):
            if key not in entry:
                raise RulesError(f"{source}: [{name}] needs {key}")
        for key in _NUMBERS:
            if not isinstance(entry[key], int | float) or entry[key] < 0:
                raise RulesError(f"{source}: [{name}] {key} must be a number >= 0")
        for lang in ("zh", "en"):
            if not isinstance(entry.get(lang), str):
                raise RulesError(f"{source}: [{name}] needs its explanation in {lang}")
        extra = {k: v for k, v in entry.items() if k not in (*_NUMBERS, "zh", "en")}
        facts[name] = FactRule(
            name,
            float(entry["weight"]),
            float(entry["min"]),
            float(entry["full_at"]),
            entry["zh"],
            entry["en"],
            extra,
        )
    unknown = sorted(set(data) - {"version", *FACTS})
    if unknown:
        raise RulesError(
            f"{source}: unknown tables {', '.join(unknown)}; facts: {', '.join(FACTS)}"
        )
    for key in ("keywords",):
        words = facts["compensation_demand"].extra[key]
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise RulesError(f"{source}: [compensation_demand] keywords must be a list of words")
    return Rules(version, hashlib.sha256(raw).hexdigest(), facts)


@cache
def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    """The rules in ``path`` (read once per process)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"cannot read the screening rules {path}: {exc.strerror}") from exc
    return parse_rules(raw, str(path))
