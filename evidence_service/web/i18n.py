"""Chinese and English for the web UI.

A deliberately small catalogue rather than gettext: the UI has few strings, legal staff can
review both languages side by side in one data file (``messages.toml``), and a test checks
that no key lacks a language.
The language comes from the ``lang`` cookie, else the browser's Accept-Language, else Chinese.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from fastapi import Request

LANGS = ("zh", "en")


def _load_catalogue(folder: Path) -> dict[str, dict[str, str]]:
    """``messages.toml`` plus one ``messages/<room>.toml`` per room of the UI that keeps its own
    words beside it (the merchant register, the catalogue of legal bases...). A key defined
    twice is an error at start-up, not a silent override."""
    catalogue: dict[str, dict[str, str]] = {}
    for path in [folder / "messages.toml", *sorted((folder / "messages").glob("*.toml"))]:
        for key, entry in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if key in catalogue:
                raise ValueError(f"{path.name}: message {key!r} is already defined elsewhere")
            catalogue[key] = entry
    return catalogue


#: key -> {"zh": ..., "en": ...}, from messages.toml and messages/*.toml (data: reviewed and
#: changed without code).
MESSAGES: dict[str, dict[str, str]] = _load_catalogue(Path(__file__).parent)


def language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGS:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def translate(lang: str, key: str) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["en"]
