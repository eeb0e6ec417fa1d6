"""When the complainant says they bought what they complain about, read from the text.

The purchase date is the first date in the text with a purchase word (``purchase_words`` of
``rules.toml``: 购买, 下单, 拍下...) within a few characters after it (我于2026年3月1日在贵店购买)
or before it (下单时间：2026-03-01). A date without a year is taken in the year that puts it
on or before the day the complaint arrived.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

__all__ = ["purchase_date"]

_DATE = re.compile(
    r"(?:(?P<y>\d{4})\s*[年./-]\s*)?(?P<m>\d{1,2})\s*[月./-]\s*(?P<d>\d{1,2})\s*[日号]?"
)
#: How far (characters) a purchase word may be from its date.
_NEAR = 12


def _date(match: re.Match[str], received: date) -> date | None:
    month, day = int(match.group("m")), int(match.group("d"))
    year = int(match.group("y")) if match.group("y") else received.year
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not match.group("y") and found > received:
        try:
            found = date(year - 1, month, day)
        except ValueError:
            return None
    return found


def purchase_date(text: str | None, received: date, words: Sequence[str]) -> date | None:
    """The purchase date the text states, or None."""
    if not text:
        return None
    folded = unicodedata.normalize("NFKC", text)
    for match in _DATE.finditer(folded):
        after = folded[match.end() : match.end() + _NEAR]
        before = folded[max(0, match.start() - _NEAR) : match.start()]
        if any(w in after or w in before for w in words):
            found = _date(match, received)
            if found is not None and found <= received:
                return found
    return None
