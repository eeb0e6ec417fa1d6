"""Who a signing certificate names: enforcement units, officers and merchants.

Why these subject layouts:

* A unit's organisation seal names the unit twice, ``O`` and ``CN`` (the usual e-seal layout:
  ``O`` says who is legally bound, ``CN`` is what a PDF viewer shows as the signer).
* An officer is ``CN=<name>, O=<unit>, serialNumber=<officer id>``: two officers can share a
  name, never an officer id, so the id must be in the certificate a court reads.
* A merchant (a legal person) carries its unified social credit code (统一社会信用代码,
  GB 32100-2015) twice: as ``serialNumber`` (what Chinese validators read) and as
  ``organizationIdentifier`` in the ETSI EN 319 412-1 form ``NTRCN-<code>`` (what European
  and PAdES tools read).

Attributes are encoded from the general to the specific (O ... CN), as X.500 names usually
are and as this PKI's other certificates are; ``openssl x509 -text`` prints them in that order.
Names are UTF8String (Chinese names work); ``serialNumber`` must be a PrintableString
(RFC 5280, X.520), so identifiers are checked for that character set here rather than failing
deep inside the certificate encoder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from .errors import SubjectError

__all__ = [
    "SIGNER_KINDS",
    "SignerKind",
    "SubjectInfo",
    "check_credit_code",
    "describe_name",
    "subject_name",
]

SignerKind = Literal["unit", "officer", "merchant"]
SIGNER_KINDS: tuple[SignerKind, ...] = ("unit", "officer", "merchant")

#: X.520 upper bounds (ub-common-name, ub-organization-name, ub-serial-number).
MAX_NAME = 64
MAX_SERIAL_NUMBER = 64

_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]+$")

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z), the last a check
# character over the first 17 with these weights (3^i mod 31).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True)
class SubjectInfo:
    """What the caller knows about the holder; :func:`subject_name` checks and encodes it.

    ``name``: the unit's, officer's or merchant's name. ``organization``: the officer's unit
    (officers only). ``officer_id``: the officer's badge/staff number (officers only).
    ``credit_code``: unified social credit code (required for merchants, optional for units).
    """

    name: str
    organization: str | None = None
    officer_id: str | None = None
    credit_code: str | None = None


def check_credit_code(code: str) -> str:
    """Return the normalized (upper-case) unified social credit code, or raise
    :class:`SubjectError` saying what is wrong with it (length, characters, check digit)."""
    value = code.strip().upper()
    if len(value) != 18:
        raise SubjectError(
            f"unified social credit code {code!r} must have 18 characters, not {len(value)}"
        )
    bad = sorted({c for c in value if c not in _USCC_ALPHABET})
    if bad:
        raise SubjectError(
            f"unified social credit code {code!r} contains {''.join(bad)!r}; only digits and "
            "the letters A-H, J-N, P-R, T, U, W-Y are used (GB 32100-2015)"
        )
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    expected = _USCC_ALPHABET[(31 - total % 31) % 31]
    if value[17] != expected:
        raise SubjectError(
            f"unified social credit code {code!r} fails its check character (GB 32100-2015): "
            "a character was probably mistyped"
        )
    return value


def _text(label: str, value: str | None, *, kind: str) -> str:
    if value is None or not value.strip():
        raise SubjectError(f"a {kind} certificate needs the {label}")
    value = " ".join(value.split())
    if len(value) > MAX_NAME:
        raise SubjectError(
            f"the {label} {value!r} has {len(value)} characters; certificates allow at most "
            f"{MAX_NAME} (X.520): use the official short name"
        )
    return value


def _printable(label: str, value: str | None, *, kind: str) -> str:
    if value is None or not value.strip():
        raise SubjectError(f"a {kind} certificate needs the {label}")
    value = value.strip()
    if len(value) > MAX_SERIAL_NUMBER or not _PRINTABLE.match(value):
        raise SubjectError(
            f"the {label} {value!r} cannot be put in a certificate's serialNumber: use at most "
            f"{MAX_SERIAL_NUMBER} ASCII letters, digits, spaces and ' ( ) + , - . / : = ?"
        )
    return value


def _unused(kind: str, **fields: str | None) -> None:
    given = [name for name, value in fields.items() if value]
    if given:
        raise SubjectError(f"{', '.join(given)} does not apply to a {kind} certificate")


def subject_name(kind: SignerKind, subject: SubjectInfo) -> tuple[x509.Name, str]:
    """The certificate subject for ``kind`` and the holder's id kept in the registry
    (unit: credit code or name; officer: officer id; merchant: credit code)."""
    if kind == "unit":
        _unused(kind, organization=subject.organization, officer_id=subject.officer_id)
        name = _text("unit name", subject.name, kind=kind)
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)]
        owner = name
        if subject.credit_code:
            code = check_credit_code(subject.credit_code)
            attrs += _code_attributes(code)
            owner = code
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
        return x509.Name(attrs), owner
    if kind == "officer":
        _unused(kind, credit_code=subject.credit_code)
        name = _text("officer's name", subject.name, kind=kind)
        unit = _text("officer's unit (organization)", subject.organization, kind=kind)
        officer_id = _printable("officer id", subject.officer_id, kind=kind)
        return (
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, officer_id),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            ),
            officer_id,
        )
    if kind == "merchant":
        _unused(kind, organization=subject.organization, officer_id=subject.officer_id)
        name = _text("merchant name", subject.name, kind=kind)
        if not subject.credit_code:
            raise SubjectError("a merchant certificate needs the unified social credit code")
        code = check_credit_code(subject.credit_code)
        return (
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                    *_code_attributes(code),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            ),
            code,
        )
    raise SubjectError(f"unknown certificate kind {kind!r}; use one of {', '.join(SIGNER_KINDS)}")


def _code_attributes(code: str) -> list[x509.NameAttribute[str]]:
    return [
        x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{code}"),
    ]


_ATTR_NAMES = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}


def describe_name(name: x509.Name) -> str:
    """RFC 4514 text with readable names for serialNumber and organizationIdentifier."""
    return name.rfc4514_string(_ATTR_NAMES)
