"""The rules for reading order facts from a page (``order_layouts.toml``) and how each field's
text is normalised.

Why data: platforms change their order pages more often than we release, and the people who
notice (officers, legal staff) can read and change a TOML table; the code only knows the
kinds of rules (css / xpath / label) and normalisations (code / text / money / time / account).
Every rule is checked when the table is loaded: a broken selector names its layout and field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from .simple_css import CssSelectorError, css_to_xpath

__all__ = [
    "FIELDS",
    "LAYOUTS_PATH",
    "Layout",
    "NormaliseError",
    "OrderRules",
    "OrderRulesError",
    "Rule",
    "default_rules",
    "load_rules",
    "redact_account",
]

LAYOUTS_PATH = Path(__file__).with_name("order_layouts.toml")
#: The order facts, in the order they are shown.
FIELDS = ("order_number", "item", "price_paid", "order_time", "seller", "buyer_account")
KINDS = ("code", "text", "money", "time", "account")


class OrderRulesError(ValueError):
    """The rules table is wrong; the message names the layout, field and rule."""


class NormaliseError(ValueError):
    """A value that cannot be read as its field's kind (e.g. a price without digits)."""


@dataclass(frozen=True)
class Rule:
    """One way to find a field: ``how`` is css, xpath or label; ``xpath`` is what runs
    (css is translated once, label is a compiled pattern kept in ``label``)."""

    how: str
    source: str
    xpath: str | None = None
    label: re.Pattern[str] | None = None

    @property
    def described(self) -> str:
        return f"{self.how}: {self.source}"


@dataclass(frozen=True)
class Layout:
    name: str
    hosts: tuple[str, ...]
    markers: tuple[str, ...]  # XPath
    fields: Mapping[str, tuple[Rule, ...]]

    def matches_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.hosts:
            p = pattern.lower()
            if fnmatchcase(host, p) or (p.startswith("*.") and host == p[2:]):
                return True
        return False


@dataclass(frozen=True)
class OrderRules:
    kinds: Mapping[str, str]  # field -> kind
    layouts: tuple[Layout, ...]
    labels: Mapping[str, tuple[Rule, ...]]  # generic label rules per field
    currencies: Mapping[str, str]
    default_currency: str
    zone: ZoneInfo

    def normalise(self, field: str, text: str) -> str:
        """The field's text as the case keeps it (raises :class:`NormaliseError`)."""
        kind = self.kinds.get(field)
        if kind is None:
            raise NormaliseError(f"no order field {field!r}; fields: {', '.join(FIELDS)}")
        clean = " ".join(text.split())
        if not clean:
            raise NormaliseError(f"{field}: empty")
        if kind == "code":
            return re.sub(r"\s+", "", clean)
        if kind == "money":
            return self.money(clean)
        if kind == "time":
            return self.time(clean)
        if kind == "account":
            return redact_account(clean)
        return clean

    def money(self, text: str) -> str:
        """``¥1,299.00`` -> ``1299.00 CNY``; ``US$5`` -> ``5.00 USD``."""
        currency = None
        rest = text
        for sign in sorted(self.currencies, key=len, reverse=True):
            if sign in rest:
                currency = currency or self.currencies[sign]
                rest = rest.replace(sign, " ")
        m = re.search(r"-?\d[\d,，]*(?:\.\d+)?", rest)
        if m is None or re.search(r"[A-Za-z\u4e00-\u9fff]", rest.replace(m.group(0), "")):
            raise NormaliseError(f"price {text!r}: give an amount such as ¥1,299.00")
        try:
            amount = Decimal(re.sub(r"[,，]", "", m.group(0)))
        except InvalidOperation:
            raise NormaliseError(f"price {text!r}: not an amount") from None
        return f"{amount.quantize(Decimal('0.01'))} {currency or self.default_currency}"

    def time(self, text: str) -> str:
        """A date and time as ISO 8601 in the rules' zone (Beijing time unless it says)."""
        t = text.strip()
        t = re.sub(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*", r"\1-\2-\3 ", t)
        t = t.replace("/", "-").replace("T", " ").strip()
        m = re.fullmatch(
            r"(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
            r"\s*(Z|[+-]\d{2}:?\d{2})?",
            t,
        )
        if m is None:
            raise NormaliseError(f"time {text!r}: give a date and time such as 2026-03-02 14:05:33")
        y, mo, d, h, mi, s, tz = m.groups()
        try:
            moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        except ValueError as exc:
            raise NormaliseError(f"time {text!r}: {exc}") from None
        if tz:
            zone = datetime.strptime("+0000" if tz == "Z" else tz.replace(":", ""), "%z").tzinfo
            local = moment.replace(tzinfo=zone).astimezone(self.zone)
        else:
            local = moment.replace(tzinfo=self.zone)
        return local.isoformat()


def redact_account(account: str) -> str:
    """An account name with only its first and last character kept (``tb_buyer2026`` ->
    ``t**********6``): enough to tell it from another, not enough to name the buyer."""
    chars = list(account.strip())
    if len(chars) <= 2:
        return (chars[0] if chars else "") + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def _rule(where: str, entry: Any) -> Rule:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise OrderRulesError(
            f"{where}: each rule is one of {{ css = ... }}, {{ xpath = ... }}, {{ label = ... }}"
        )
    ((how, source),) = entry.items()
    if how not in ("css", "xpath", "label") or not isinstance(source, str) or not source:
        raise OrderRulesError(f"{where}: unknown rule {entry!r} (css, xpath or label)")
    try:
        if how == "label":
            return Rule(
                how, source, label=re.compile(rf"^\s*(?:{source})\s*(?:[:：]\s*|\s+|$)", re.I)
            )
        xpath = css_to_xpath(source) if how == "css" else source
        etree.XPath(xpath)
    except (CssSelectorError, etree.XPathSyntaxError, re.error) as exc:
        raise OrderRulesError(f"{where}: {how} {source!r}: {exc}") from None
    return Rule(how, source, xpath=xpath)


def _rules(where: str, entries: Any) -> tuple[Rule, ...]:
    if not isinstance(entries, list):
        raise OrderRulesError(f"{where}: give a list of rules")
    return tuple(_rule(f"{where}[{i}]", e) for i, e in enumerate(entries))


def parse_rules(text: str, source: str = "order_layouts.toml") -> OrderRules:
    """The rules from their TOML text, every rule checked."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OrderRulesError(f"{source}: not valid TOML: {exc}") from None
    kinds = dict(data.get("fields", {}))
    if sorted(kinds) != sorted(FIELDS) or any(k not in KINDS for k in kinds.values()):
        raise OrderRulesError(
            f"{source}: [fields] must give each of {', '.join(FIELDS)} one of {', '.join(KINDS)}"
        )
    layouts = []
    for i, row in enumerate(data.get("layout", [])):
        name = str(row.get("name") or f"layout {i + 1}")
        where = f"{source}: [[layout]] {name}"
        fields = {}
        for field, entries in dict(row.get("fields", {})).items():
            if field not in FIELDS:
                raise OrderRulesError(f"{where}: no field {field!r} (fields: {', '.join(FIELDS)})")
            fields[field] = _rules(f"{where}.{field}", entries)
        markers = tuple(
            r.xpath or ""
            for r in _rules(f"{where}.markers", [{"css": m} for m in row.get("markers", [])])
        )
        layouts.append(Layout(name, tuple(row.get("hosts", [])), markers, fields))
    labels = {
        field: _rules(f"{source}: [generic.labels] {field}", [{"label": p} for p in patterns])
        for field, patterns in dict(data.get("generic", {}).get("labels", {})).items()
    }
    money = data.get("money", {})
    try:
        zone = ZoneInfo(str(data.get("time", {}).get("zone", "Asia/Shanghai")))
    except (KeyError, ValueError) as exc:
        raise OrderRulesError(f"{source}: [time] zone: {exc}") from None
    return OrderRules(
        kinds=kinds,
        layouts=tuple(layouts),
        labels=labels,
        currencies=dict(money.get("currencies", {"¥": "CNY"})),
        default_currency=str(money.get("default_currency", "CNY")),
        zone=zone,
    )


def load_rules(path: Path) -> OrderRules:
    return parse_rules(path.read_text(encoding="utf-8"), path.name)


@cache
def default_rules() -> OrderRules:
    """The shipped table, loaded and checked once."""
    return load_rules(LAYOUTS_PATH)
