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

#: key -> {"zh": ..., "en": ...}, from messages.toml (data: reviewed and changed without code).
MESSAGES: dict[str, dict[str, str]] = tomllib.loads(
    (Path(__file__).parent / "messages.toml").read_text(encoding="utf-8")
)


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
