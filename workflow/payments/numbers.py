"""Payment numbers (缴款码): 20 digits, the last one a Damm check digit.

A payment number is what the merchant types or scans at the bank, so a mistyped digit must be
caught *before* money moves to the wrong notice. The Damm check digit catches every single
wrong digit and every swap of two neighbouring digits (Luhn misses 09<->90), with no letter
(the 18-digit resident ID's ``X``) to confuse a numeric keypad.

Layout: ``YY`` (the year the notice was made) + ``UUUU`` (the unit id, mod 10 000) + 13 random
digits + the check digit. The random part makes numbers unguessable: knowing one notice's
number tells nothing about another's.
"""

from __future__ import annotations

import re
import secrets

__all__ = [
    "PAYMENT_NUMBER_LENGTH",
    "InvalidPaymentNumber",
    "damm_digit",
    "format_payment_number",
    "is_valid",
    "new_payment_number",
    "normalize_payment_number",
]

PAYMENT_NUMBER_LENGTH = 20
_RANDOM_DIGITS = 13

#: The Damm quasigroup of order 10 (weakly totally anti-symmetric), as published by H. M. Damm.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_SEPARATORS = re.compile(r"[\s\-]+")


class InvalidPaymentNumber(ValueError):
    """Not a payment number: wrong length, not digits, or the check digit does not match."""


def damm_digit(digits: str) -> int:
    """The Damm check digit of a string of ASCII digits (0 when the string already ends in
    its own check digit)."""
    interim = 0
    for ch in digits:
        if not ("0" <= ch <= "9"):
            raise InvalidPaymentNumber(f"{ch!r} is not a digit")
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def new_payment_number(year: int, unit_id: int) -> str:
    """A fresh payment number for a notice of ``unit_id`` made in ``year``."""
    body = f"{year % 100:02d}{unit_id % 10_000:04d}"
    body += "".join(secrets.choice("0123456789") for _ in range(_RANDOM_DIGITS))
    return body + str(damm_digit(body))


def normalize_payment_number(text: str) -> str:
    """The number as stored: spaces and hyphens (as printed in groups of four) removed; raises
    :class:`InvalidPaymentNumber` saying what is wrong."""
    cleaned = _SEPARATORS.sub("", text or "")
    if not cleaned:
        raise InvalidPaymentNumber("enter the 20-digit payment number from the payment notice")
    if not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidPaymentNumber("a payment number has digits only")
    if len(cleaned) != PAYMENT_NUMBER_LENGTH:
        raise InvalidPaymentNumber(
            f"a payment number has {PAYMENT_NUMBER_LENGTH} digits, this one {len(cleaned)}"
        )
    if damm_digit(cleaned) != 0:
        raise InvalidPaymentNumber(
            "the check digit does not match: a digit is wrong or two are swapped"
        )
    return cleaned


def is_valid(text: str) -> bool:
    try:
        normalize_payment_number(text)
    except InvalidPaymentNumber:
        return False
    return True


def format_payment_number(number: str) -> str:
    """Groups of four, as printed on the notice: ``2611 0001 2345 6789 0123``."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
