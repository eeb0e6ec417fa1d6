"""Names as the register searches them: a Chinese company name is looked up by any part of
it (``某某网络`` in ``深圳市某某网络科技有限公司``), so each name is kept with its character
bigrams, and a query is answered from its rarest bigram instead of scanning every name."""

from __future__ import annotations

import unicodedata

__all__ = ["grams", "name_key"]


def name_key(name: str) -> str:
    """The name as compared: NFKC (full-width letters and brackets become ASCII), no white
    space, Latin letters in lower case. ``（深圳）`` and ``(深圳)`` are the same key."""
    folded = unicodedata.normalize("NFKC", name)
    return "".join(folded.split()).lower()


def grams(key: str) -> set[str]:
    """The distinct bigrams of a name key (a one-character key is its own gram)."""
    if len(key) < 2:
        return {key} if key else set()
    return {key[i : i + 2] for i in range(len(key) - 1)}
