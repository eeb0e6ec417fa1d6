"""What a waiting document needs, in the page's language.

The case's document builders (``workflow/cases/documents.py``) name each missing field with one
English sentence, which the CLI, the API and the logs print as it is. The officer console
shows it in Chinese from the pattern table ``document_hints.toml`` (data: legal staff review the
Chinese beside the English it matches, and a new sentence in the builders gets its line there).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_PATH = Path(__file__).with_name("document_hints.toml")
_PLACE = re.compile(r"\{(?:(?P<kind>action|field|role):)?(?P<name>\w+)\}")


@dataclass(frozen=True)
class HintPattern:
    en: re.Pattern[str]
    zh: str


def _load(path: Path = _PATH) -> tuple[HintPattern, ...]:
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("hint", [])
    out = []
    for n, entry in enumerate(entries, 1):
        try:
            out.append(HintPattern(re.compile(entry["en"]), entry["zh"]))
        except (KeyError, re.error) as exc:
            raise ValueError(f"{path.name}: [[hint]] entry {n}: {exc}") from exc
    return tuple(out)


PATTERNS = _load()


def match(text: str) -> tuple[HintPattern, re.Match[str]] | None:
    """The first pattern matching the whole sentence (None: no Chinese for it yet)."""
    for pattern in PATTERNS:
        found = pattern.en.fullmatch(text)
        if found is not None:
            return pattern, found
    return None


def say(
    lang: str,
    text: str,
    *,
    action: Callable[[str], str],
    field: Callable[[str], str],
    role: Callable[[str], str],
) -> str:
    """``text`` in ``lang``; names inside it (action ids, form fields, roles) become the names
    the page shows elsewhere, through the given look-ups."""
    if lang == "en":
        return text
    found = match(text)
    if found is None:
        return text
    pattern, m = found
    names = {"action": action, "field": field, "role": role}

    def fill(place: re.Match[str]) -> str:
        kind, name = place.group("kind"), place.group("name")
        value = m.groupdict().get(name)
        if kind is None:
            return value if value is not None else place.group(0)
        # {action:end_investigation}: a literal id when the sentence has no group of that name
        return names[kind](value if value is not None else name)

    return _PLACE.sub(fill, pattern.zh)
