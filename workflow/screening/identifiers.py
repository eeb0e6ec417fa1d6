"""Who is behind a complaint, as far as its own words say: phone numbers, e-mail addresses
and resident ID numbers in the contact field, ID numbers and a labelled address in the text,
and the name as given.

Phones and e-mails are read from the contact field only: a complaint's text often quotes the
*shop's* phone, which says nothing about who complains. An ID number anywhere counts only if
its check digit is right (GB 11643-1999), so an order number of 18 digits is not taken for
one. The address is the one the text labels as the complainant's (收货地址, 联系地址, 住址...).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["IDENTITY_KINDS", "Identifiers", "identifiers_of", "name_key", "valid_id_number"]

#: Identifier kinds that make two complaints the same person's.
IDENTITY_KINDS = ("phone", "id_number", "email")

_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ID = re.compile(r"(?<![0-9Xx])(\d{17}[0-9Xx])(?![0-9Xx])")
_ADDRESS = re.compile(
    r"(?:收货地址|联系地址|通讯地址|家庭住址|居住地址|住址)[:：\s]*([^\n,，。;；]{6,80})"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_number(number: str) -> bool:
    """An 18-character resident ID number whose check digit is right (GB 11643-1999)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def name_key(name: str | None) -> str | None:
    """A name as compared: NFKC, no spaces or dots, lower case; None for no name."""
    if not name:
        return None
    key = re.sub(r"[\s·.．]", "", unicodedata.normalize("NFKC", name)).lower()
    return key[:200] or None


def _address_key(text: str) -> str:
    return re.sub(r"[\s,，。.\-－]", "", text).lower()[:200]


@dataclass(frozen=True)
class Identifiers:
    """What a complaint says about its complainant, each value normalised."""

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    id_numbers: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()

    def pairs(self) -> list[tuple[str, str]]:
        """``(kind, value)`` for every identifier, kinds as stored."""
        return [
            *(("phone", v) for v in self.phones),
            *(("email", v) for v in self.emails),
            *(("id_number", v) for v in self.id_numbers),
            *(("address", v) for v in self.addresses),
        ]


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def identifiers_of(contact: str | None, text: str | None) -> Identifiers:
    """The identifiers of a complaint from its contact field and its text."""
    contact_n = unicodedata.normalize("NFKC", contact or "")
    text_n = unicodedata.normalize("NFKC", text or "")
    phones = ["".join(m.groups()) for m in _MOBILE.finditer(contact_n)]
    without_mobiles = _MOBILE.sub(" ", contact_n)
    phones += ["".join(m.groups()) for m in _LANDLINE.finditer(without_mobiles)]
    emails = [m.group(0).lower() for m in _EMAIL.finditer(contact_n)]
    ids = [
        m.group(1).upper()
        for source in (contact_n, text_n)
        for m in _ID.finditer(source)
        if valid_id_number(m.group(1))
    ]
    addresses = [_address_key(m.group(1)) for m in _ADDRESS.finditer(text_n)]
    return Identifiers(_unique(phones), _unique(emails), _unique(ids), _unique(addresses))
