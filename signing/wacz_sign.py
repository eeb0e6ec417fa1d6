"""WACZ package signatures: Webrecorder's "WACZ Signing and Verification" 0.1.0, in the
identity-plus-timestamp mode (as authsign and Harvard LIL's ``wacz-signing`` do it).

``signedData`` in ``datapackage-digest.json``::

    hash            "sha256:<hex of datapackage.json>"  (what is signed, as ASCII)
    created         UTC "%Y-%m-%dT%H:%M:%SZ", equal to datapackage.json's "created"
    software        e.g. "evidence-service 0.1.0"
    version         "0.1.0" (the signing spec's version)
    signature       base64 of the ECDSA P-256/SHA-256 (DER) signature over ``hash``
    domain          the host named in the signing certificate
    domainCert      PEM chain of the signing certificate, leaf first, root last
    timeSignature   base64 of the DER TimeStampResp whose token stamps the ASCII ``signature``
    timestampCert   PEM chain of the TSA, TSA certificate first, root last

Our extension (ignored by other verifiers): when several TSAs are configured, the first fills
``timeSignature``/``timestampCert`` and every further one adds an entry to
``additionalTimeSignatures``: ``[{"tsa": url, "timeSignature": ..., "timestampCert": ...}]``,
each stamping the same ASCII ``signature`` -- a second, independent witness of the time.

Rules verifiers apply, which :class:`PackageSigner` checks before returning (so that we never
emit a package they reject): ``domain`` and the certificate's CN are among its DNS SANs;
``created`` lies within 7 days after the certificate's notBefore; the token's genTime is at
most 1 s before and less than 10 min after ``created``; the last certificate of each chain is
the pinned root, and each certificate is signed by the next.
"""

from __future__ import annotations

import base64
import binascii
import importlib.metadata
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from certs.pki import Credential, fingerprint_sha256, load_pem_certificates
from certs.profiles import common_name, dns_names

from .chains import ChainError, is_self_signed, validate_chain
from .errors import ClockSkewError, SignatureError, TimestampVerificationError
from .timestamp import Timestamper, TimestampToken, require_complete_chain, verify_timestamp_with

__all__ = [
    "CREATED_FORMAT",
    "SIGNED_DATA_VERSION",
    "PackageSigner",
    "SignatureCheck",
    "verify_signed_data",
]

SIGNED_DATA_VERSION = "0.1.0"
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Verifiers accept a signature only this long after the certificate's notBefore.
CERT_WINDOW = timedelta(days=7)
#: ... and a time-stamp at most this long after ``created`` ...
STAMP_WINDOW = timedelta(minutes=10)
#: ... and at most this much before it (``created`` has whole seconds, genTime need not).
STAMP_GRACE = timedelta(seconds=1)
#: How old a caller-given ``created`` may be when signing starts (leaves room for the TSA).
MAX_CREATED_AGE = timedelta(minutes=5)
_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_PEM = Encoding.PEM


def _default_software() -> str:
    try:
        version = importlib.metadata.version("evidence-service")
    except importlib.metadata.PackageNotFoundError:
        version = "0.1.0"
    return f"evidence-service {version}"


def _format_created(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(CREATED_FORMAT)


def _parse_created(text: str) -> datetime:
    return datetime.strptime(text, CREATED_FORMAT).replace(tzinfo=UTC)


class PackageSigner:
    """Signs the ``hash`` of a WACZ ``datapackage.json`` and time-stamps the signature."""

    def __init__(
        self,
        credential: Callable[[], Credential],
        timestampers: Sequence[Timestamper],
        *,
        domain: str,
        software: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``credential`` is called for every signature (e.g.
        ``pki.package_signing_credential``, which rotates the certificate when due)."""
        if not timestampers:
            raise ValueError("PackageSigner needs at least one timestamper")
        self._credential = credential
        self.timestampers = list(timestampers)
        self.domain = domain
        self.software = software or _default_software()
        self._clock = clock or (lambda: datetime.now(UTC))

    def sign(self, hash_str: str, *, created: str | None = None) -> dict[str, Any]:
        """The ``signedData`` for ``hash_str`` ("sha256:<hex>").

        ``created`` is the ``created`` of the datapackage.json being signed (py-wacz's
        validator requires both to be equal); by default, now. Errors of a TSA propagate
        (``TsaUnavailableError`` etc.) so that the caller can retry sealing later.
        """
        if not _HASH_RE.match(hash_str):
            raise SignatureError(
                f"expected 'sha256:' and 64 lowercase hex digits, got {hash_str!r}"
            )
        now = self._clock().astimezone(UTC)
        if created is None:
            created = _format_created(now)
        try:
            created_at = _parse_created(created)
        except ValueError:
            raise SignatureError(
                f"created must look like 2026-01-31T12:00:00Z, got {created!r}"
            ) from None
        if created_at > now + STAMP_GRACE or now - created_at > MAX_CREATED_AGE:
            raise SignatureError(
                f"created={created} is too far from now ({_format_created(now)}): the "
                "time-stamp must follow it within 10 minutes; build the package again"
            )
        credential = self._credential()
        cert = credential.cert
        self._check_certificate(cert, created_at)
        signature = base64.b64encode(_sign(credential, hash_str.encode("ascii"))).decode("ascii")
        stamped = signature.encode("ascii")
        stamps = [self._stamp(ts, stamped, created_at) for ts in self.timestampers]
        first = stamps[0]
        signed: dict[str, Any] = {
            "hash": hash_str,
            "created": created,
            "software": self.software,
            "version": SIGNED_DATA_VERSION,
            "signature": signature,
            "domain": self.domain,
            "domainCert": credential.chain_pem().decode("ascii"),
            "timeSignature": base64.b64encode(first.response_der).decode("ascii"),
            "timestampCert": first.certs_pem.decode("ascii"),
        }
        if len(stamps) > 1:
            signed["additionalTimeSignatures"] = [
                {
                    "tsa": token.tsa_url,
                    "timeSignature": base64.b64encode(token.response_der).decode("ascii"),
                    "timestampCert": token.certs_pem.decode("ascii"),
                }
                for token in stamps[1:]
            ]
        # Self-check against the roots we just used: catches any inconsistency (clock, chain,
        # certificate profile) here rather than in a court.
        roots = credential.root.public_bytes(_PEM) + b"".join(
            load_pem_certificates(t.certs_pem)[-1].public_bytes(_PEM) for t in stamps
        )
        check = verify_signed_data(signed, roots, now=now)
        if not check.valid:
            raise SignatureError(
                "the package signature failed its own verification: " + "; ".join(check.problems)
            )
        return signed

    def _check_certificate(self, cert: x509.Certificate, created_at: datetime) -> None:
        names = dns_names(cert)
        if self.domain not in names or common_name(cert) not in names:
            raise SignatureError(
                f"the signing certificate is for {names} (CN {common_name(cert)!r}), not for "
                f"the configured domain {self.domain!r}"
            )
        start = cert.not_valid_before_utc
        if not start <= created_at <= min(start + CERT_WINDOW, cert.not_valid_after_utc):
            raise SignatureError(
                f"the signing certificate (valid from {_format_created(start)}) cannot sign at "
                f"{_format_created(created_at)}: verifiers accept signatures only within 7 "
                "days of its start; it should have been rotated"
            )

    def _stamp(self, timestamper: Timestamper, data: bytes, created_at: datetime) -> TimestampToken:
        token = require_complete_chain(
            timestamper.stamp(data), "verifiers can check the time-stamp"
        )
        if not created_at - STAMP_GRACE <= token.gen_time < created_at + STAMP_WINDOW:
            raise ClockSkewError(
                f"time-stamp authority {token.tsa_url} says it is "
                f"{token.gen_time:%Y-%m-%dT%H:%M:%S.%fZ} but the package was created at "
                f"{_format_created(created_at)}: the local clock is wrong (check NTP)",
                tsa_url=token.tsa_url,
            )
        return token


def _sign(credential: Credential, data: bytes) -> bytes:
    key = credential.key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise SignatureError(f"unsupported package-signing key type {type(key).__name__}")


# -- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of :func:`verify_signed_data`: ``valid`` only when ``problems`` is empty."""

    valid: bool
    problems: tuple[str, ...]
    domain: str | None = None
    signer_subject: str | None = None
    created: datetime | None = None
    #: The first time-stamp, then the additional ones (only those that verified).
    timestamps: tuple[TimestampToken, ...] = field(default_factory=tuple)

    @property
    def trusted_time(self) -> datetime | None:
        return self.timestamps[0].gen_time if self.timestamps else None


def _verify_pem_chain(
    label: str, pem: str, anchors: Sequence[x509.Certificate], at: datetime
) -> tuple[list[x509.Certificate], list[str]]:
    """Parse a leaf-first, root-last PEM chain and check it the way WACZ verifiers do: each
    certificate signed by the next, the last one a trusted root; plus validity at ``at``."""
    try:
        certs = load_pem_certificates(pem.encode("ascii"))
    except ValueError as exc:
        return [], [f"{label} is not a PEM certificate chain ({exc})"]
    if not certs:
        return [], [f"{label} holds no certificate"]
    problems = []
    anchor_fps = {fingerprint_sha256(a) for a in anchors}
    if fingerprint_sha256(certs[-1]) not in anchor_fps:
        problems.append(f"{label} does not end with a trusted root certificate")
    try:
        path = validate_chain(certs[0], certs[1:], anchors, at=at)
    except ChainError as exc:
        problems.append(f"{label}: {exc}")
    else:
        if [fingerprint_sha256(c) for c in path] != [fingerprint_sha256(c) for c in certs]:
            problems.append(f"{label} is not in order leaf first, root last")
    return certs, problems


def verify_signed_data(
    signed: dict[str, Any], trusted_roots_pem: bytes, *, now: datetime | None = None
) -> SignatureCheck:
    """Check a ``signedData`` dict against the self-signed roots in ``trusted_roots_pem``.

    A minimal verifier (what the WACZ spec and ``wacz-signing`` check, plus a full time-stamp
    verification); it does not look at the package contents -- compare ``signed["hash"]``
    with the hash of datapackage.json yourself.
    """
    problems: list[str] = []
    required = (
        "hash",
        "created",
        "signature",
        "domain",
        "domainCert",
        "timeSignature",
        "timestampCert",
    )
    missing = [k for k in required if not isinstance(signed.get(k), str) or not signed[k]]
    if missing:
        return SignatureCheck(False, (f"signedData lacks {', '.join(missing)}",))
    if not _HASH_RE.match(signed["hash"]):
        problems.append("hash is not 'sha256:' with 64 lowercase hex digits")
    try:
        created = _parse_created(signed["created"])
    except ValueError:
        return SignatureCheck(False, (f"created {signed['created']!r} is not a UTC timestamp",))
    if now is not None and created > now + STAMP_GRACE:
        problems.append("created lies in the future")
    anchors = [c for c in load_pem_certificates(trusted_roots_pem) if is_self_signed(c)]
    if not anchors:
        return SignatureCheck(False, ("no trusted root certificate was given",))

    # -- the signer ---------------------------------------------------------------------
    certs, chain_problems = _verify_pem_chain("domainCert", signed["domainCert"], anchors, created)
    problems += chain_problems
    leaf = certs[0] if certs else None
    if leaf is not None:
        names = dns_names(leaf)
        if common_name(leaf) not in names:
            problems.append("the signing certificate's CN is not among its DNS names")
        if signed["domain"] not in names:
            problems.append(f"domain {signed['domain']!r} is not named in the certificate")
        start = leaf.not_valid_before_utc
        if not start <= created <= start + CERT_WINDOW:
            problems.append("created is not within 7 days after the certificate's notBefore")
        try:
            raw_sig = base64.b64decode(signed["signature"], validate=True)
            _verify_signature(leaf, raw_sig, signed["hash"].encode("ascii"))
        except (binascii.Error, ValueError):
            problems.append("signature is not base64")
        except InvalidSignature:
            problems.append("the signature over the hash is invalid")

    # -- the time-stamps ----------------------------------------------------------------
    stamped = signed["signature"].encode("ascii")
    entries = [("timeSignature", signed["timeSignature"], signed["timestampCert"])]
    extra = signed.get("additionalTimeSignatures") or []
    if not isinstance(extra, list):
        problems.append("additionalTimeSignatures is not a list")
        extra = []
    for i, item in enumerate(extra):
        if isinstance(item, dict):
            entries.append(
                (
                    f"additionalTimeSignatures[{i}]",
                    item.get("timeSignature", ""),
                    item.get("timestampCert", ""),
                )
            )
        else:
            problems.append(f"additionalTimeSignatures[{i}] is not an object")
    tokens_ok: list[TimestampToken] = []
    for label, b64, chain_pem in entries:
        token, token_problems = _check_stamp(label, b64, chain_pem, stamped, anchors, created)
        problems += token_problems
        if token is not None and not token_problems:
            tokens_ok.append(token)
    return SignatureCheck(
        valid=not problems,
        problems=tuple(problems),
        domain=signed["domain"],
        signer_subject=leaf.subject.rfc4514_string() if leaf is not None else None,
        created=created,
        timestamps=tuple(tokens_ok),
    )


def _check_stamp(
    label: str,
    b64: object,
    chain_pem: object,
    stamped: bytes,
    anchors: Sequence[x509.Certificate],
    created: datetime,
) -> tuple[TimestampToken | None, list[str]]:
    if not isinstance(b64, str) or not isinstance(chain_pem, str) or not b64 or not chain_pem:
        return None, [f"{label}: time signature or its certificate chain is missing"]
    try:
        der = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None, [f"{label} is not base64"]
    problems = []
    try:
        chain = load_pem_certificates(chain_pem.encode("ascii"))
    except ValueError:
        chain = []
    # Shipped certificates may help build the path; only ``anchors`` are trusted.
    pool = [c for c in chain if not is_self_signed(c)]
    try:
        token = verify_timestamp_with(der, stamped, anchors=anchors, pool=pool)
    except TimestampVerificationError as exc:
        return None, [f"{label}: {exc}"]
    if not created - STAMP_GRACE <= token.gen_time < created + STAMP_WINDOW:
        problems.append(
            f"{label}: genTime {token.gen_time:%Y-%m-%dT%H:%M:%SZ} is not within 10 minutes "
            "after created"
        )
    ts_certs, chain_problems = _verify_pem_chain(
        f"{label} timestampCert", chain_pem, anchors, token.gen_time
    )
    problems += chain_problems
    signer = load_pem_certificates(token.certs_pem)[0]
    if ts_certs and ts_certs[0] != signer:
        problems.append(f"{label}: the first certificate of timestampCert is not the TSA's")
    return token, problems


def _verify_signature(cert: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise InvalidSignature(f"unsupported key type {type(key).__name__}")
