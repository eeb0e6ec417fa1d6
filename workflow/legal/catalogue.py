"""The legal-basis and discretion catalogue: violation type -> provisions violated -> legal basis
of the penalty -> statutory range -> the unit's discretion bands, factors and no-penalty lists.

Why data: the law and the unit's discretion benchmark (裁量基准) change, and it is legal staff,
not programmers, who keep them. The starter text is ``catalogue.toml`` beside this module;
each unit's catalogue then lives as versions in the database (:mod:`workflow.legal.versions`),
every version in the very dictionary shape of the TOML (:meth:`Catalogue.to_dict`), so that
what a case relied on can be read back exactly as it was.

:func:`parse` checks the whole text and names every problem at once (an entry citing a
source that is not listed, a band outside the statutory range, a factor that is not a fact of
the right kind), because a catalogue that half-loads would suggest the wrong law.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast, get_args

__all__ = [
    "BANDS",
    "STARTER_PATH",
    "Band",
    "BandName",
    "Catalogue",
    "CatalogueError",
    "Citation",
    "Entry",
    "Fact",
    "FactKind",
    "NoPenaltyItem",
    "Penalty",
    "Source",
    "parse",
    "starter",
]

STARTER_PATH = Path(__file__).with_name("catalogue.toml")

BandName = Literal["mild", "ordinary", "serious"]
#: The discretion bands, lightest first (从轻 / 一般 / 从重).
BANDS: tuple[BandName, ...] = get_args(BandName)
FactKind = Literal["violation", "mitigating", "aggravating", "amount"]
ListName = Literal["first_violation", "minor_violation"]


class CatalogueError(ValueError):
    """The catalogue text is not usable: ``problems`` names each fault by its place."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("the legal catalogue is not valid: " + "; ".join(self.problems))


@dataclass(frozen=True)
class Source:
    """A document the catalogue cites (a law, the unit's benchmark), with its version."""

    id: str
    title: str
    version: str


@dataclass(frozen=True)
class Citation:
    """A provision: the rule's name, the article, and the source it is read from."""

    rule: str
    article: str
    source: str

    def cite(self) -> str:
        return f"《{self.rule}》{self.article}"

    def as_document(self) -> dict[str, str]:
        """The shape of the documents' ``LegalCitation``."""
        return {"rule": self.rule, "article": self.article}


@dataclass(frozen=True)
class Fact:
    """A fact an officer can tick on a case (an amount is given as a figure in yuan)."""

    tag: str
    kind: FactKind
    zh: str
    en: str


@dataclass(frozen=True)
class Penalty:
    """The statutory penalty: its text, and the range of the fine in yuan (0: none need be
    fined, a warning suffices)."""

    text: str
    min_yuan: int
    max_yuan: int


@dataclass(frozen=True)
class Band:
    """One discretion band: the fine's range in yuan and, where the law counts multiples of
    an amount (``of``: an amount fact), the band's multiples of it."""

    name: BandName
    min_yuan: int
    max_yuan: int
    text: str
    multiple: tuple[float, float] | None = None
    of: str | None = None


@dataclass(frozen=True)
class NoPenaltyItem:
    """An entry's item of a no-penalty list (首违不罚 / 轻微不罚): it applies when every one
    of ``facts`` is ticked."""

    list: ListName
    facts: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Entry:
    """One violation type of the catalogue."""

    id: str
    item: str
    zh: str
    en: str
    needs_confirmation: bool
    facts: tuple[str, ...]
    keywords: tuple[str, ...]
    violated: tuple[Citation, ...]
    basis: tuple[Citation, ...]
    penalty: Penalty
    mitigating: tuple[str, ...]
    aggravating: tuple[str, ...]
    bands: Mapping[BandName, Band]
    #: Words whose absence from a page that shows the entry's keywords points to the entry
    #: (a shop page that never says 营业执照).
    absent_keywords: tuple[str, ...] = ()
    no_penalty: tuple[NoPenaltyItem, ...] = ()

    def title(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Catalogue:
    title: str
    label: str
    #: The name of the no-penalty lists as documents state it (the filing approval form).
    no_penalty_list: str
    sources: Mapping[str, Source]
    facts: Mapping[str, Fact]
    entries: tuple[Entry, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def entry(self, entry_id: str) -> Entry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise KeyError(entry_id)

    def has(self, entry_id: str) -> bool:
        return any(e.id == entry_id for e in self.entries)

    def fact_label(self, tag: str, lang: str) -> str:
        f = self.facts.get(tag)
        if f is None:
            return tag
        return f.zh if lang == "zh" else f.en

    def to_dict(self) -> dict[str, Any]:
        """The catalogue as its text (TOML or the JSON of a version) has it."""
        return _copy(self.raw)

    def with_entry(self, entry: Mapping[str, Any]) -> Catalogue:
        """A new catalogue with ``entry`` (the TOML shape of one entry) in place of the entry
        of the same id, or added at the end; checked as a whole."""
        data = self.to_dict()
        entries = list(data.get("entry", []))
        new = _copy(entry)
        at = next((i for i, e in enumerate(entries) if e.get("id") == new.get("id")), None)
        if at is None:
            entries.append(new)
        else:
            entries[at] = new
        data["entry"] = entries
        return parse(data)

    def entry_dict(self, entry_id: str) -> dict[str, Any]:
        for e in self.raw.get("entry", []):
            if e.get("id") == entry_id:
                return _copy(e)
        raise KeyError(entry_id)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


class _Reader:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def text(self, where: str, data: Mapping[str, Any], key: str, required: bool = True) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{where}.{key}: give a text")
            return ""
        return value.strip()

    def whole(self, where: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problems.append(f"{where}: give a whole number of yuan (0 or more)")
            return 0
        return value

    def tags(self, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problems.append(f"{where}: give a list of texts")
            return ()
        return tuple(v.strip() for v in value)


def _citations(
    r: _Reader, where: str, value: Any, sources: Mapping[str, Source]
) -> tuple[Citation, ...]:
    if not isinstance(value, list) or not value:
        r.problems.append(f"{where}: give at least one provision {{rule, article, source}}")
        return ()
    out = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            r.problems.append(f"{at}: give {{rule, article, source}}")
            continue
        c = Citation(r.text(at, item, "rule"), r.text(at, item, "article"), str(item.get("source")))
        if c.source not in sources:
            r.problems.append(f"{at}.source: {c.source!r} is not a [source] of the catalogue")
        if len(c.article) > 80:
            r.problems.append(f"{at}.article: at most 80 characters")
        out.append(c)
    return tuple(out)


def _band(r: _Reader, where: str, name: BandName, value: Any, facts: Mapping[str, Fact]) -> Band:
    if not isinstance(value, Mapping):
        r.problems.append(f"{where}: give the band {{min_yuan, max_yuan, text}}")
        return Band(name, 0, 0, "")
    low, high = (
        r.whole(f"{where}.min_yuan", value.get("min_yuan")),
        r.whole(f"{where}.max_yuan", value.get("max_yuan")),
    )
    if low > high:
        r.problems.append(f"{where}: min_yuan {low} is above max_yuan {high}")
    multiple: tuple[float, float] | None = None
    of = value.get("of")
    if value.get("multiple") is not None or of is not None:
        m = value.get("multiple")
        if (
            not isinstance(m, list)
            or len(m) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in m)
            or not 0 <= m[0] <= m[1]
        ):
            r.problems.append(f"{where}.multiple: give [low, high] multiples, low <= high")
        else:
            multiple = (float(m[0]), float(m[1]))
        if not isinstance(of, str) or facts.get(of) is None or facts[of].kind != "amount":
            r.problems.append(f'{where}.of: name an amount fact (kind = "amount")')
            of = None
    return Band(name, low, high, r.text(where, value, "text"), multiple, of)


def _entry(
    r: _Reader, i: int, data: Any, sources: Mapping[str, Source], facts: Mapping[str, Fact]
) -> Entry | None:
    where = f"entry[{i}]"
    if not isinstance(data, Mapping):
        r.problems.append(f"{where}: give a table")
        return None
    entry_id = r.text(where, data, "id")
    where = f"entry {entry_id or i}"

    def kind_tags(key: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
        tags = r.tags(f"{where}.{key}", data.get(key))
        for tag in tags:
            if tag not in facts or facts[tag].kind not in kinds:
                r.problems.append(f"{where}.{key}: {tag!r} is not a [fact] of kind {kinds[0]}")
        return tags

    penalty_data = data.get("penalty")
    if not isinstance(penalty_data, Mapping):
        r.problems.append(f"{where}.penalty: give {{text, min_yuan, max_yuan}}")
        penalty_data = {}
    penalty = Penalty(
        r.text(f"{where}.penalty", penalty_data, "text"),
        r.whole(f"{where}.penalty.min_yuan", penalty_data.get("min_yuan")),
        r.whole(f"{where}.penalty.max_yuan", penalty_data.get("max_yuan")),
    )
    bands_data = data.get("bands")
    if not isinstance(bands_data, Mapping) or set(bands_data) != set(BANDS):
        r.problems.append(f"{where}.bands: give exactly the bands {', '.join(BANDS)}")
        bands_data = {}
    bands = {
        name: _band(r, f"{where}.bands.{name}", name, bands_data.get(name), facts)
        for name in BANDS
        if name in bands_data
    }
    for band in bands.values():
        if band.min_yuan < penalty.min_yuan or band.max_yuan > penalty.max_yuan:
            r.problems.append(
                f"{where}.bands.{band.name}: {band.min_yuan}-{band.max_yuan} yuan is outside "
                f"the statutory {penalty.min_yuan}-{penalty.max_yuan} yuan"
            )
    lists = []
    for name in get_args(ListName):
        item = data.get(name)
        if item is None:
            continue
        if not isinstance(item, Mapping):
            r.problems.append(f"{where}.{name}: give {{facts, text}}")
            continue
        tags = r.tags(f"{where}.{name}.facts", item.get("facts"))
        if not tags:
            r.problems.append(f"{where}.{name}.facts: name the facts the list item needs")
        for tag in tags:
            if tag not in facts:
                r.problems.append(f"{where}.{name}.facts: {tag!r} is not a [fact]")
        lists.append(
            NoPenaltyItem(cast(ListName, name), tags, r.text(f"{where}.{name}", item, "text"))
        )
    needs = data.get("needs_confirmation", True)
    if not isinstance(needs, bool):
        r.problems.append(f"{where}.needs_confirmation: true or false")
        needs = True
    return Entry(
        id=entry_id,
        item=r.text(where, data, "item", required=False),
        zh=r.text(where, data, "zh"),
        en=r.text(where, data, "en"),
        needs_confirmation=needs,
        facts=kind_tags("facts", ("violation",)),
        keywords=r.tags(f"{where}.keywords", data.get("keywords")),
        absent_keywords=r.tags(f"{where}.absent_keywords", data.get("absent_keywords")),
        violated=_citations(r, f"{where}.violated", data.get("violated"), sources),
        basis=_citations(r, f"{where}.basis", data.get("basis"), sources),
        penalty=penalty,
        mitigating=kind_tags("mitigating", ("mitigating",)),
        aggravating=kind_tags("aggravating", ("aggravating",)),
        bands=bands,
        no_penalty=tuple(lists),
    )


_FACT_KINDS = get_args(FactKind)


def parse(data: Mapping[str, Any]) -> Catalogue:
    """The catalogue from its text (the TOML's tables, or a stored version's JSON). Raises
    :class:`CatalogueError` naming every problem."""
    r = _Reader()
    head = data.get("catalogue")
    if not isinstance(head, Mapping):
        r.problems.append("[catalogue]: give title, label and no_penalty_list")
        head = {}
    sources: dict[str, Source] = {}
    for sid, s in (data.get("source") or {}).items():
        if not isinstance(s, Mapping):
            r.problems.append(f"source.{sid}: give title and version")
            continue
        sources[sid] = Source(
            sid, r.text(f"source.{sid}", s, "title"), r.text(f"source.{sid}", s, "version")
        )
    facts: dict[str, Fact] = {}
    for tag, f in (data.get("fact") or {}).items():
        if not isinstance(f, Mapping) or f.get("kind") not in _FACT_KINDS:
            r.problems.append(f"fact.{tag}.kind: one of {', '.join(_FACT_KINDS)}")
            continue
        facts[tag] = Fact(
            tag, f["kind"], r.text(f"fact.{tag}", f, "zh"), r.text(f"fact.{tag}", f, "en")
        )
    entries: list[Entry] = []
    raw_entries = data.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        r.problems.append("[[entry]]: the catalogue has no entries")
        raw_entries = []
    for i, item in enumerate(raw_entries):
        entry = _entry(r, i, item, sources, facts)
        if entry is not None:
            if any(e.id == entry.id for e in entries):
                r.problems.append(f"entry {entry.id}: the id is used twice")
            entries.append(entry)
    if r.problems:
        raise CatalogueError(r.problems)
    return Catalogue(
        title=r.text("catalogue", head, "title"),
        label=r.text("catalogue", head, "label"),
        no_penalty_list=r.text("catalogue", head, "no_penalty_list"),
        sources=sources,
        facts=facts,
        entries=tuple(entries),
        raw=_copy(data),
    )


@cache
def starter() -> Catalogue:
    """The starter catalogue shipped beside this module (what a unit's version 1 is)."""
    return parse(tomllib.loads(STARTER_PATH.read_text(encoding="utf-8")))
