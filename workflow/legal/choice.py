"""The officer's choice of legal basis on a case: judged against what was suggested, and kept
as the details of one case event, from which the documents take their legal-basis fields.

Why the event holds a copy of the chosen entry (provisions, legal basis, band text, the
catalogue's version and digest) and not just its id: the case file must show what the
decision relied on even after legal staff edit the catalogue, and the documents are built
from the case alone (``workflow.cases.documents``).

A departure needs a reason: choosing another entry than the top suggestion, another band
than the one the factors give, or an amount outside the band's range (or choosing anything
when nothing was suggested). The reason is recorded beside what was suggested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .catalogue import BANDS, Catalogue
from .ranking import Observed, Suggestion, assess

__all__ = [
    "DOCUMENT_BANDS",
    "EVENT",
    "ChoiceError",
    "ChoiceIn",
    "Chosen",
    "judge",
    "latest",
]

#: The case event that records the choice (``cases.event.choose_legal_basis``).
EVENT = "choose_legal_basis"
#: The catalogue's bands as the documents' discretion band names them (workflow.documents).
DOCUMENT_BANDS = {
    "no_penalty": "no_penalty",
    "mild": "lighter",
    "ordinary": "ordinary",
    "serious": "heavier",
}
BAND_NAMES_ZH = {"no_penalty": "不予处罚", "mild": "从轻", "ordinary": "一般", "serious": "从重"}
MAX_REASON = 2000
MAX_SUGGESTED = 5


class ChoiceError(ValueError):
    """A choice that cannot be recorded: ``field`` names the input to correct."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class ChoiceIn:
    """What the officer chose: an entry, a band (its own or the suggested one), the fine in
    fen (None: no amount yet, or a warning) and, for a departure, why."""

    entry: str
    band: str | None = None
    amount_fen: int | None = None
    reason: str = ""


def _suggested(s: Suggestion) -> dict[str, Any]:
    a = s.assessment
    return {
        "entry": s.entry.id,
        "score": s.score,
        "band": a.band,
        "min_fen": a.min_fen,
        "max_fen": a.max_fen,
        "reasons": [
            {"kind": r.kind, "tag": r.tag, **({"snippet": r.snippet} if r.snippet else {})}
            for r in s.reasons
        ],
    }


def judge(
    catalogue: Catalogue,
    version: int,
    sha256: str,
    observed: Observed,
    suggestions: list[Suggestion],
    choice: ChoiceIn,
) -> dict[str, Any]:
    """The event's details for ``choice``, or :class:`ChoiceError` (an unknown entry or band,
    a negative amount, a fine with no-penalty, a departure without a reason)."""
    if not catalogue.has(choice.entry):
        raise ChoiceError(
            "entry", f"{choice.entry!r} is not an entry of catalogue version {version}"
        )
    entry = catalogue.entry(choice.entry)
    if choice.band is not None and choice.band not in ("no_penalty", *BANDS):
        raise ChoiceError("band", f"one of no_penalty, {', '.join(BANDS)}")
    if choice.amount_fen is not None and choice.amount_fen < 0:
        raise ChoiceError("amount", "the amount must not be negative")
    suggested_here = assess(entry, observed)
    chosen = assess(entry, observed, choice.band) if choice.band else suggested_here
    if chosen.band == "no_penalty" and choice.amount_fen:
        raise ChoiceError("amount", "no penalty takes no amount")
    departs = []
    top = suggestions[0] if suggestions else None
    if top is None:
        departs.append("nothing_suggested")
    elif top.entry.id != entry.id:
        departs.append("entry")
    if chosen.band != suggested_here.band:
        departs.append("band")
    if not chosen.allows(choice.amount_fen):
        departs.append("amount")
    reason = " ".join(choice.reason.split())[:MAX_REASON]
    if departs and not reason:
        raise ChoiceError(
            "reason",
            "you depart from the suggestion ("
            + ", ".join(departs)
            + "): give the reason, it is recorded with the choice",
        )
    if chosen.band != "no_penalty":
        band_text = entry.bands[chosen.band].text
    elif chosen.no_penalty is not None:
        band_text = chosen.no_penalty.text
    else:
        band_text = "不予行政处罚"
    labels = {t: catalogue.fact_label(t, "zh") for t in (*chosen.mitigating, *chosen.aggravating)}
    return {
        "catalogue_version": version,
        "catalogue_sha256": sha256,
        "catalogue_title": catalogue.title,
        "entry": entry.id,
        "entry_title": entry.zh,
        "needs_confirmation": entry.needs_confirmation,
        "band": chosen.band,
        "amount_fen": choice.amount_fen,
        "range_fen": [chosen.min_fen, chosen.max_fen],
        "ticked": sorted(observed.ticked),
        "amounts_yuan": {k: str(v) for k, v in sorted(observed.amounts.items())},
        "suggested": [_suggested(s) for s in suggestions[:MAX_SUGGESTED]],
        "departs": departs,
        **({"reason": reason} if reason else {}),
        "violated": [c.as_document() for c in entry.violated],
        "basis": [c.as_document() for c in entry.basis],
        "band_text": band_text,
        "mitigating": [labels[t] for t in chosen.mitigating],
        "aggravating": [labels[t] for t in chosen.aggravating],
        "standard": {"rule": catalogue.title[:200], "article": (entry.item or entry.id)[:80]},
    }


class _Event(Protocol):
    @property
    def action(self) -> str: ...

    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Chosen:
    """The newest choice a case recorded, as the documents use it."""

    entry: str
    band: str
    amount_fen: int | None
    violated: list[dict[str, str]]
    basis: list[dict[str, str]]
    mitigating: list[str]
    aggravating: list[str]
    standard: dict[str, str]
    band_text: str
    reason: str
    catalogue_version: int

    @property
    def document_band(self) -> str:
        return DOCUMENT_BANDS[self.band]

    def discretion_text(self) -> str:
        """The discretion reasoning a document states when the officer typed none."""
        parts = [
            f"依据{self.standard['rule']}{self.standard['article']}，"
            f"适用{BAND_NAMES_ZH[self.band]}情形：{self.band_text}"
        ]
        if self.mitigating:
            parts.append("从轻、减轻情节：" + "、".join(self.mitigating) + "。")
        if self.aggravating:
            parts.append("从重情节：" + "、".join(self.aggravating) + "。")
        if self.reason:
            parts.append("裁量理由：" + self.reason)
        return "".join(parts)


def latest(events: Iterable[_Event]) -> Chosen | None:
    """The newest :data:`EVENT` of ``events`` (a case's, oldest first), or None."""
    found = None
    for e in events:
        if e.action == EVENT:
            found = e
    if found is None:
        return None
    d = found.details
    return Chosen(
        entry=str(d["entry"]),
        band=str(d["band"]),
        amount_fen=int(d["amount_fen"]) if d.get("amount_fen") is not None else None,
        violated=[dict(c) for c in d.get("violated", [])],
        basis=[dict(c) for c in d.get("basis", [])],
        mitigating=[str(m) for m in d.get("mitigating", [])],
        aggravating=[str(m) for m in d.get("aggravating", [])],
        standard=dict(d.get("standard") or {}),
        band_text=str(d.get("band_text") or ""),
        reason=str(d.get("reason") or ""),
        catalogue_version=int(d.get("catalogue_version") or 0),
    )


def amount_fen_from_yuan(text: str) -> int | None:
    """An amount typed in yuan (``5000``, ``5000.50``), in fen; empty: None."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ChoiceError("amount", "give the amount in yuan, e.g. 5000") from None
    if not value.is_finite() or value < 0 or value > Decimal(10) ** 10:
        raise ChoiceError("amount", "give the amount in yuan, e.g. 5000")
    return int((value * 100).to_integral_value())
