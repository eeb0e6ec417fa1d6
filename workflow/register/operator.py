"""The operator a shop page shows: 企业名称/经营者名称, 统一社会信用代码, 营业执照 text.

Chinese e-commerce law (电子商务法 第十五条) makes shops display their business licence
information on the shop page, so a sealed capture of the page often names the operator even
when the register does not know the shop. The labels and patterns are data
(``operator.toml``); this module only applies them to the page's text lines and says, for
each value, the label and line it was read from, so the officer can check it against the
capture (which the caller names as the source)."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs.subjects import SubjectError, check_credit_code
from workflow.register.errors import RulesError

__all__ = ["RULES_FILE", "Found", "OperatorInfo", "extract_operator"]

RULES_FILE = Path(__file__).with_name("operator.toml")


@dataclass(frozen=True)
class FieldRule:
    name: str
    labels: tuple[str, ...]
    pattern: re.Pattern[str] | None
    max_length: int


@dataclass(frozen=True)
class Rules:
    fields: tuple[FieldRule, ...]
    headings: tuple[str, ...]
    section_lines: int
    separators: tuple[str, ...]
    #: Every label of every field, longest first (a value stops at the next label).
    all_labels: tuple[str, ...]


@dataclass(frozen=True)
class Found:
    """One value read from the page: the label it followed and the line it was on."""

    field: str
    value: str
    label: str
    line: int
    snippet: str


@dataclass(frozen=True)
class OperatorInfo:
    company_name: str | None = None
    credit_code: str | None = None
    #: False: the page shows a code whose check character fails (GB 32100-2015).
    credit_code_valid: bool | None = None
    legal_representative: str | None = None
    address: str | None = None
    licence_number: str | None = None
    licence_text: list[str] = field(default_factory=list)
    found: list[Found] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.company_name or self.credit_code)

    def as_json(self) -> dict[str, Any]:
        return {
            "company_name": self.company_name,
            "credit_code": self.credit_code,
            "credit_code_valid": self.credit_code_valid,
            "legal_representative": self.legal_representative,
            "address": self.address,
            "licence_number": self.licence_number,
            "licence_text": self.licence_text,
            "found": [f.__dict__ for f in self.found],
        }


def parse_rules(text: str) -> Rules:
    try:
        data = tomllib.loads(text)
        fields = tuple(
            FieldRule(
                str(f["name"]),
                tuple(sorted((str(label) for label in f["labels"]), key=len, reverse=True)),
                re.compile(f["pattern"]) if f.get("pattern") else None,
                int(f.get("max_length", 100)),
            )
            for f in data["field"]
        )
        return Rules(
            fields,
            tuple(data["section_headings"]),
            int(data["section_lines"]),
            tuple(data["separators"]),
            tuple(sorted({label for f in fields for label in f.labels}, key=len, reverse=True)),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
        raise RulesError(f"{RULES_FILE.name} is wrong: {exc!r}") from None


@functools.cache
def default_rules() -> Rules:
    return parse_rules(RULES_FILE.read_text(encoding="utf-8"))


def _after_label(line: str, label: str, rules: Rules) -> str | None:
    """The text after ``label`` (and a separator) on ``line``, cut at the next label; None if
    the line does not have the label as a label (``名称`` inside ``店铺名称很好`` is not one)."""
    at = line.find(label)
    if at < 0:
        return None
    rest = line[at + len(label) :]
    stripped = rest.lstrip(" \t")
    sep = next((s for s in rules.separators if stripped.startswith(s)), None)
    if sep is None and stripped:
        return None  # a label is followed by a separator or ends the line
    value = stripped[len(sep) :] if sep else ""
    cut = len(value)
    for other in rules.all_labels:
        pos = value.find(other)
        if 0 < pos < cut and any(
            value[pos + len(other) :].lstrip().startswith(s) for s in rules.separators
        ):
            cut = pos
    return value[:cut].strip(" \t|;；,，")


def extract_operator(lines: list[str], rules: Rules | None = None) -> OperatorInfo:
    """The operator information in a page's text lines (see :mod:`.page_text`)."""
    rules = rules or default_rules()
    values: dict[str, Found] = {}
    for number, line in enumerate(lines):
        for rule in rules.fields:
            if rule.name in values:
                continue
            for label in rule.labels:
                value = _after_label(line, label, rules)
                if value is None:
                    continue
                if not value and number + 1 < len(lines):
                    nxt = lines[number + 1]
                    if not any(nxt.startswith(lbl) for lbl in rules.all_labels):
                        value = nxt.strip()
                if rule.pattern is not None:
                    m = rule.pattern.search(value.upper())
                    value = m.group(0) if m else ""
                if value and len(value) <= rule.max_length:
                    values[rule.name] = Found(rule.name, value, label, number + 1, line[:200])
                    break
    section: list[str] = []
    for number, line in enumerate(lines):
        if any(h in line for h in rules.headings) and len(line) <= 40:
            section = lines[number : number + rules.section_lines]
            break
    code = values.get("credit_code")
    valid: bool | None = None
    if code is not None:
        try:
            check_credit_code(code.value)
            valid = True
        except SubjectError:
            valid = False

    def val(name: str) -> str | None:
        got = values.get(name)
        return got.value if got else None

    return OperatorInfo(
        company_name=val("company_name"),
        credit_code=val("credit_code"),
        credit_code_valid=valid,
        legal_representative=val("legal_representative"),
        address=val("address"),
        licence_number=val("licence_number"),
        licence_text=section,
        found=sorted(values.values(), key=lambda f: f.line),
    )
