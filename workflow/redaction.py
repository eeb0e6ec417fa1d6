"""Personal data redacted from a text before it is shown beyond those entitled to it.

Two readers: the public page and feed of published decisions (``workflow/publicity.py``),
and the passages of captured pages that the case page quotes (the legal-basis suggestions'
reasons, which the case's events also record). The rules are data (``redaction.toml``):
resident ID and phone numbers, a person's name after a label, addresses beyond the
district; a natural person known by name is masked wherever the name occurs (张三 -> 张*).

Matching runs on a folded view of the text in which full-width and other Unicode digits read
as ASCII, so "１３８…" is a phone number too; replacements are cut from the original text.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "RULES_PATH",
    "AddressRule",
    "RedactionError",
    "RedactionRule",
    "RedactionRules",
    "load_rules",
    "mask_name",
    "redact",
    "rules",
]

RULES_PATH = Path(__file__).with_name("redaction.toml")


class RedactionError(Exception):
    """``redaction.toml`` is malformed; the message names the entry."""


@dataclass(frozen=True)
class RedactionRule:
    id: str
    zh: str
    en: str
    regex: re.Pattern[str]
    replace: str | None
    mask_group: str | None


@dataclass(frozen=True)
class AddressRule:
    street: tuple[str, ...]
    units: tuple[str, ...]
    district: tuple[str, ...]
    upper: tuple[str, ...]
    max_name: int
    replace: str
    regex: re.Pattern[str]


@dataclass(frozen=True)
class RedactionRules:
    source: Mapping[str, Any]
    redactions: tuple[RedactionRule, ...]
    address: AddressRule
    mask: str
    compound_surnames: frozenset[str]


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def load_rules(path: Path = RULES_PATH) -> RedactionRules:
    """Read and check ``redaction.toml``; a broken pattern names its entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        redactions = []
        for r in data["redaction"]:
            if ("replace" in r) == ("mask_group" in r):
                raise RedactionError(f"redaction {r['id']}: give either replace or mask_group")
            try:
                regex = re.compile(r["pattern"])
            except re.error as exc:
                raise RedactionError(f"redaction {r['id']}: bad pattern: {exc}") from None
            redactions.append(
                RedactionRule(
                    r["id"], r["zh"], r["en"], regex, r.get("replace"), r.get("mask_group")
                )
            )
        a = data["address"]
        number = r"[0-9一二三四五六七八九十百零〇]+"
        units = _alternatives(a["units"])
        # street word, a short name part, a number with its unit, then more "5号楼1001室"
        tail = (
            rf"(?:{_alternatives(a['street'])})[\w\-#·]{{0,12}}?[ ]?{number}[ ]?(?:{units})"
            rf"(?:[\w\-#·]{{0,10}}?[ ]?[0-9]+[ ]?(?:{units}))*"
        )
        address = AddressRule(
            street=tuple(a["street"]),
            units=tuple(a["units"]),
            district=tuple(a["district"]),
            upper=tuple(a["upper"]),
            max_name=int(a["max_name"]),
            replace=a["replace"],
            regex=re.compile(tail),
        )
        names = data["names"]
        return RedactionRules(
            source=dict(data["source"]),
            redactions=tuple(redactions),
            address=address,
            mask=str(names["mask"]),
            compound_surnames=frozenset(names["compound_surnames"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, RedactionError):
            raise
        raise RedactionError(f"{path}: {exc!r} is missing or malformed") from None


@cache
def rules() -> RedactionRules:
    return load_rules()


def mask_name(name: str, r: RedactionRules | None = None) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧阳**: the surname kept, every further character masked."""
    r = r or rules()
    clean = name.strip()
    if len(clean) <= 1:
        return clean
    keep = 2 if clean[:2] in r.compound_surnames and len(clean) > 2 else 1
    return clean[:keep] + r.mask * (len(clean) - keep)


def _fold(text: str) -> str:
    """One character for one: Unicode digits and full-width ASCII as ASCII."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        digit = unicodedata.decimal(ch, None)
        if digit is not None:
            out.append(str(digit))
            continue
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm if len(norm) == 1 and norm.isascii() else ch)
    return "".join(out)


def _apply(text: str, regex: re.Pattern[str], make: Any) -> str:
    """Replace each match found on the folded view of ``text``, in the original text."""
    folded = _fold(text)
    pieces: list[str] = []
    last = 0
    for m in regex.finditer(folded):
        pieces.append(text[last : m.start()])
        pieces.append(make(m, text))
        last = m.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _address_start(text: str, at: int, a: AddressRule) -> int:
    """Where an address's redacted detail starts, the street word being at ``at``: after the
    district (or else the city) named just before it, or at the start of the road's name."""
    lo = at
    while lo > 0 and at - lo < a.max_name:
        ch = text[lo - 1]
        if not (ch.isalnum() or ch in "-#·"):
            break
        lo -= 1
    window = text[lo:at]
    for suffixes in (a.district, a.upper):
        best = -1
        for s in suffixes:
            i = window.rfind(s)
            if i >= 0:
                best = max(best, i + len(s))
        if best >= 0:
            return lo + best
    if at - lo >= a.max_name:  # a long run: keep what is before the road name's usual length
        return lo
    return lo


def _redact_addresses(text: str, a: AddressRule) -> str:
    folded = _fold(text)
    out: list[str] = []
    last = 0
    for m in a.regex.finditer(folded):
        if m.start() < last:
            continue
        start = max(_address_start(folded, m.start(), a), last)
        out.append(text[last:start])
        out.append(a.replace)
        last = m.end()
    out.append(text[last:])
    return "".join(out)


_GROUP_REF = re.compile(r"\\g<(\w+)>")


def redact(text: str, *, names: Iterable[str] = (), r: RedactionRules | None = None) -> str:
    """``text`` with the personal data of ``publicity.toml`` redacted; ``names``: natural
    persons known to be named in it (masked wherever they occur)."""
    r = r or rules()
    out = text
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len)[::-1]:
        out = out.replace(name, mask_name(name, r))
    for rule in r.redactions:
        if rule.mask_group is not None:
            group = rule.mask_group

            def masked(m: re.Match[str], original: str, g: str = group) -> str:
                s, e = m.span(g)
                return original[m.start() : s] + mask_name(original[s:e], r)

            out = _apply(out, rule.regex, masked)
        else:
            replacement = rule.replace or ""

            def replaced(m: re.Match[str], original: str, t: str = replacement) -> str:
                # \g<name> from the original text (the match is on the folded view)
                return _GROUP_REF.sub(lambda g: original[m.start(g[1]) : m.end(g[1])], t)

            out = _apply(out, rule.regex, replaced)
    return _redact_addresses(out, r.address)


# -- published entries ----------------------------------------------------------------------------
