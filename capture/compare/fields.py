"""The fields a comparison reads from a captured page (price, product name, shop...), by the
rules in ``fields.toml``: JSON-LD (schema.org Product), microdata, ``<meta>`` tags, then
labelled lines of the visible text ("价格：¥199.00").

Why a table: listing pages differ by platform and change often; the people who notice can
add a label or a path without touching the code. Every rule is checked when the table is
loaded, and a broken one names its field.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from capture.order_rules import NormaliseError, default_rules

__all__ = ["FIELDS_PATH", "FieldRule", "FieldRulesError", "load_field_rules", "read_fields"]

FIELDS_PATH = Path(__file__).with_name("fields.toml")
KINDS = ("money", "text")
_MAX_VALUE = 300


class FieldRulesError(ValueError):
    """The fields table is wrong; the message names the field and the rule."""


@dataclass(frozen=True)
class FieldRule:
    name: str
    kind: str
    json_ld: tuple[tuple[str, ...], ...]
    itemprop: tuple[str, ...]
    meta: tuple[str, ...]
    labels: tuple[re.Pattern[str], ...]


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FieldRulesError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def parse_field_rules(text: str, source: str = "fields.toml") -> tuple[FieldRule, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FieldRulesError(f"{source} is not valid TOML: {exc}") from None
    rules = []
    seen: set[str] = set()
    for n, entry in enumerate(data.get("field") or [], 1):
        name = entry.get("name")
        where = f"{source}: field #{n} ({name or 'no name'})"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z_]+", name):
            raise FieldRulesError(f"{where}: name must be lowercase letters and _")
        if name in seen:
            raise FieldRulesError(f"{where}: the field {name!r} is defined twice")
        seen.add(name)
        kind = entry.get("kind", "text")
        if kind not in KINDS:
            raise FieldRulesError(f"{where}: kind must be one of {', '.join(KINDS)}")
        labels = []
        for pattern in _strings(f"{where}: labels", entry.get("labels")):
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise FieldRulesError(f"{where}: label {pattern!r}: {exc}") from None
            if compiled.groups < 1:
                raise FieldRulesError(f"{where}: label {pattern!r} needs a group for the value")
            labels.append(compiled)
        rules.append(
            FieldRule(
                name=name,
                kind=kind,
                json_ld=tuple(
                    tuple(p.split(".")) for p in _strings(f"{where}: json_ld", entry.get("json_ld"))
                ),
                itemprop=_strings(f"{where}: itemprop", entry.get("itemprop")),
                meta=_strings(f"{where}: meta", entry.get("meta")),
                labels=tuple(labels),
            )
        )
    return tuple(rules)


def load_field_rules(path: Path) -> tuple[FieldRule, ...]:
    return parse_field_rules(path.read_text(encoding="utf-8"), path.name)


@cache
def default_field_rules() -> tuple[FieldRule, ...]:
    return load_field_rules(FIELDS_PATH)


def _products(doc: Any) -> Iterator[dict[str, Any]]:
    if isinstance(doc, list):
        for item in doc:
            yield from _products(item)
    elif isinstance(doc, dict):
        kinds = doc.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "Product" in kinds:
            yield doc
        for key in ("@graph", "mainEntity", "itemOffered"):
            if key in doc:
                yield from _products(doc[key])


def _get(obj: Any, path: Sequence[str]) -> Any:
    for key in path:
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    if isinstance(obj, list):
        obj = obj[0] if obj else None
    return obj


def _normalise(rule: FieldRule, text: str, currency: str | None = None) -> str | None:
    text = " ".join(str(text).split())[:_MAX_VALUE]
    if not text:
        return None
    if rule.kind == "money":
        rules = default_rules()
        try:
            amount = rules.money(text)
        except NormaliseError:
            return None
        # JSON-LD gives the amount and its currency apart ("199.00", "CNY")
        if currency and re.fullmatch(r"[A-Z]{3}", currency) and re.fullmatch(r"[\d.,]+", text):
            amount = amount.rsplit(" ", 1)[0] + " " + currency
        return amount
    if text.startswith("http://schema.org/") or text.startswith("https://schema.org/"):
        text = text.rsplit("/", 1)[-1]
    return text


def read_fields(
    html: str, text_lines: Sequence[str], rules: Sequence[FieldRule] | None = None
) -> dict[str, str]:
    """The fields found on the page: name -> normalised value (absent when not found)."""
    import lxml.html
    from lxml.etree import ParserError

    rules = default_field_rules() if rules is None else rules
    root = None
    if html.strip():
        try:
            root = lxml.html.fromstring(html)
        except (ParserError, ValueError):
            root = None
    products: list[dict[str, Any]] = []
    if root is not None:
        for script in root.iter("script"):
            if (script.get("type") or "").lower() != "application/ld+json":
                continue
            try:
                products += list(_products(json.loads(script.text or "")))
            except ValueError:
                continue
    found: dict[str, str] = {}
    for rule in rules:
        value: str | None = None
        for product in products:
            for path in rule.json_ld:
                raw = _get(product, path)
                if raw is not None and not isinstance(raw, dict | list):
                    currency = _get(product, ("offers", "priceCurrency"))
                    value = _normalise(rule, str(raw), str(currency) if currency else None)
                    if value:
                        break
            if value:
                break
        if not value and root is not None:
            for prop in rule.itemprop:
                for el in root.xpath("//*[@itemprop=$p]", p=prop):
                    raw = el.get("content") or el.text_content()
                    value = _normalise(rule, raw)
                    if value:
                        break
                if value:
                    break
        if not value and root is not None:
            for name in rule.meta:
                for el in root.xpath("//meta[@property=$n or @name=$n]", n=name):
                    value = _normalise(rule, el.get("content") or "")
                    if value:
                        break
                if value:
                    break
        if not value:
            for pattern in rule.labels:
                for line in text_lines:
                    m = pattern.search(line)
                    if m is not None:
                        value = _normalise(rule, m.group(1))
                        if value:
                            break
                if value:
                    break
        if value:
            found[rule.name] = value
    return found
