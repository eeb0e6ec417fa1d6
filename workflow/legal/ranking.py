"""Which catalogue entries fit a case, best first, and why: pure functions of the catalogue, the
facts the officer ticked and the text of the case's captured pages.

Why explained scores rather than a model: the officer decides and a court may ask why, so
every point of a score is a reason the page shows -- a ticked fact of the entry, a word of
the entry found on the captured page (with the passage it was found in), or a word a shop
page must show and does not. The band follows the factors: start at ``ordinary``; more
mitigating than aggravating factors ticked move it to ``mild``, more aggravating to
``serious``; an entry's no-penalty list item whose facts are all ticked makes it
``no_penalty``. The amount range is the band's, or the band's multiples of the amount the law
counts from (illegal income, advertising fee) when the officer gave that amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from workflow.redaction import redact

from .catalogue import Band, Catalogue, Entry, NoPenaltyItem

__all__ = [
    "FACT_POINTS",
    "KEYWORD_POINTS",
    "Assessment",
    "Observed",
    "Reason",
    "SuggestedBand",
    "Suggestion",
    "assess",
    "suggest",
]

SuggestedBand = Literal["no_penalty", "mild", "ordinary", "serious"]
#: Points of a ticked violation fact of the entry, and of each of its words found on the page.
FACT_POINTS = 10
KEYWORD_POINTS = 2
#: Points when a page that shows the entry's words lacks every word it should show.
ABSENT_POINTS = 3
#: At most this many words of one entry count (a long page must not outweigh a ticked fact).
MAX_KEYWORDS = 5
SNIPPET = 24
#: Characters of context redacted beyond the shown passage (longer than any number redacted).
_MARGIN = 24


@dataclass(frozen=True)
class Observed:
    """What is known of the case: the fact tags ticked, the amounts given (yuan) and the
    captured pages' text."""

    ticked: frozenset[str] = frozenset()
    amounts: Mapping[str, Decimal] = field(default_factory=dict)
    page_text: str = ""


@dataclass(frozen=True)
class Reason:
    """One reason for a suggestion: ``kind`` fact (a ticked violation fact), keyword (a word
    on the page, ``snippet`` the passage), absent (words a page should show and does not),
    mitigating / aggravating (a factor that moved the band), list (a no-penalty list item)."""

    kind: Literal["fact", "keyword", "absent", "mitigating", "aggravating", "list"]
    tag: str
    snippet: str = ""


@dataclass(frozen=True)
class Assessment:
    """The band and amount range an entry gets on the facts, whether suggested or chosen."""

    band: SuggestedBand
    min_fen: int
    max_fen: int
    mitigating: tuple[str, ...]
    aggravating: tuple[str, ...]
    no_penalty: NoPenaltyItem | None
    #: The band's range was computed from multiples of this amount fact.
    counted_from: str | None = None

    def allows(self, amount_fen: int | None) -> bool:
        if self.band == "no_penalty":
            return not amount_fen
        return amount_fen is None or self.min_fen <= amount_fen <= self.max_fen


@dataclass(frozen=True)
class Suggestion:
    entry: Entry
    score: int
    reasons: tuple[Reason, ...]
    assessment: Assessment


def _fen(yuan: Decimal) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def band_range(band: Band, amounts: Mapping[str, Decimal]) -> tuple[int, int, str | None]:
    """The band's range in fen: its multiples of the amount when given (and above 0), else its
    fixed range."""
    if band.multiple is not None and band.of is not None:
        base = amounts.get(band.of)
        if base is not None and base > 0:
            low, high = (Decimal(str(m)) * base for m in band.multiple)
            return _fen(low), _fen(high), band.of
    return band.min_yuan * 100, band.max_yuan * 100, None


def assess(entry: Entry, observed: Observed, band: str | None = None) -> Assessment:
    """The band the factors give (or ``band`` if the officer names one) and its range."""
    mitigating = tuple(t for t in entry.mitigating if t in observed.ticked)
    aggravating = tuple(t for t in entry.aggravating if t in observed.ticked)
    listed = next(
        (item for item in entry.no_penalty if all(t in observed.ticked for t in item.facts)),
        None,
    )
    if band is None:
        if listed is not None and not aggravating:
            band = "no_penalty"
        elif len(mitigating) > len(aggravating):
            band = "mild"
        elif len(aggravating) > len(mitigating):
            band = "serious"
        else:
            band = "ordinary"
    if band == "no_penalty":
        return Assessment("no_penalty", 0, 0, mitigating, aggravating, listed)
    chosen = entry.bands[band]  # type: ignore[index]
    low, high, counted = band_range(chosen, observed.amounts)
    return Assessment(chosen.name, low, high, mitigating, aggravating, listed, counted)


def _snippet(text: str, at: int, word: str) -> str:
    """The passage around a keyword, with personal data redacted: the case page shows it and
    the choice's event records it, and a captured page may carry a buyer's or an operator's
    phone number, ID number or address (``workflow/redaction.toml``). The redaction runs on a
    wider passage than is shown, so a number cut by the edge of the shown passage is still
    recognised whole and replaced."""
    lo, hi = max(0, at - SNIPPET - _MARGIN), min(len(text), at + len(word) + SNIPPET + _MARGIN)
    wide = redact(text[lo:hi])
    # the keyword in the redacted passage: the occurrence nearest where it was (redaction
    # before it shifts it); absent only if it was itself personal data
    found = [i for i in range(len(wide)) if wide.startswith(word, i)]
    where = min(found, key=lambda i: abs(i - (at - lo))) if found else max(0, at - lo)
    start, end = max(0, where - SNIPPET), min(len(wide), where + len(word) + SNIPPET)
    before = "…" if lo > 0 or start > 0 else ""
    after = "…" if end < len(wide) or hi < len(text) else ""
    return before + wide[start:end].strip() + after


def _score(entry: Entry, observed: Observed) -> tuple[int, list[Reason]]:
    reasons: list[Reason] = []
    score = 0
    for tag in entry.facts:
        if tag in observed.ticked:
            score += FACT_POINTS
            reasons.append(Reason("fact", tag))
    text = observed.page_text
    found = 0
    if text:
        for word in entry.keywords:
            at = text.find(word)
            if at >= 0 and found < MAX_KEYWORDS:
                found += 1
                score += KEYWORD_POINTS
                reasons.append(Reason("keyword", word, _snippet(text, at, word)))
        if entry.absent_keywords and found and not any(w in text for w in entry.absent_keywords):
            score += ABSENT_POINTS
            reasons.append(Reason("absent", "、".join(entry.absent_keywords)))
    return score, reasons


def suggest(catalogue: Catalogue, observed: Observed, limit: int = 5) -> list[Suggestion]:
    """The entries the facts or the page point to, best first (ties: catalogue order), each
    with its reasons and its band and range."""
    out = []
    for order, entry in enumerate(catalogue.entries):
        score, reasons = _score(entry, observed)
        if score <= 0:
            continue
        assessment = assess(entry, observed)
        reasons += [Reason("mitigating", t) for t in assessment.mitigating]
        reasons += [Reason("aggravating", t) for t in assessment.aggravating]
        if assessment.no_penalty is not None:
            reasons.append(Reason("list", assessment.no_penalty.list, assessment.no_penalty.text))
        out.append((-score, order, Suggestion(entry, score, tuple(reasons), assessment)))
    out.sort(key=lambda item: (item[0], item[1]))
    return [s for _, _, s in out[:limit]]
