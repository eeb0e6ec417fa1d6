"""CRLs (RFC 5280 §5) and OCSP responses (RFC 6960) made from the certificate register.

Why asn1crypto for OCSP rather than ``cryptography.x509.ocsp``: cryptography refuses requests
with more than one CertID and builds responses with exactly one SingleResponse; RFC 6960
allows several, and a responder must not answer "malformed" to a valid request. asn1crypto
parses and builds the whole structure; the signature is made with the ``cryptography`` key.

Answers, as RFC 6960 and RFC 5019 define them:

* every CertID names our issuing CA (name and key hash, SHA-1/SHA-2): ``successful``, each
  ``good``, ``revoked`` (time and reason) or ``unknown`` (a serial we never issued);
* a CertID naming another issuer: ``unauthorized`` (RFC 5019 §2.2.3, RFC 6960 §2.3);
* bytes that are not an OCSPRequest, a nonce longer than 32 octets (RFC 8954), an unknown
  critical extension, or too many CertIDs: ``malformedRequest``.

The request nonce is echoed. Responses are signed by the delegated responder (id-kp-OCSPSigning
+ id-pkix-ocsp-nocheck), identified by key hash, and carry the responder and issuing CA
certificates so a client with only the root can check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from asn1crypto import core, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)

from .errors import OcspRequestError, RevocationReasonError

__all__ = [
    "CA_ONLY_REASONS",
    "REVOCATION_REASONS",
    "CertStatus",
    "build_crl",
    "build_ocsp_response",
    "check_reason",
    "ocsp_error",
    "parse_ocsp_request",
]

#: RFC 5280 §5.3.1 reasons this PKI accepts. ``certificateHold``/``removeFromCRL`` are left
#: out on purpose: evidence signatures need revocations that cannot be undone, and
#: ``aACompromise`` concerns attribute certificates, which we do not issue.
REVOCATION_REASONS: tuple[str, ...] = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
)
CA_ONLY_REASONS = frozenset({"cACompromise"})

_ASN1_REASON = {
    "unspecified": "unspecified",
    "keyCompromise": "key_compromise",
    "cACompromise": "ca_compromise",
    "affiliationChanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationOfOperation": "cessation_of_operation",
    "privilegeWithdrawn": "privilege_withdrawn",
}

#: RFC 8954 §2.1: nonces longer than this are refused.
MAX_NONCE = 32
#: More CertIDs than this in one request is abuse, not a client.
MAX_REQUESTS = 64
_CERTID_HASHES = ("sha1", "sha256", "sha384", "sha512")


def check_reason(reason: str, *, is_ca: bool) -> str:
    """The RFC 5280 reason name, matched case-insensitively, or :class:`RevocationReasonError`."""
    for known in REVOCATION_REASONS:
        if known.lower() == reason.strip().lower():
            if known in CA_ONLY_REASONS and not is_ca:
                raise RevocationReasonError(
                    f"{known} is for CA certificates; for an end-entity certificate use "
                    "keyCompromise (its key leaked) or another reason"
                )
            return known
    raise RevocationReasonError(
        f"unknown revocation reason {reason!r}; use one of {', '.join(REVOCATION_REASONS)} "
        "(certificateHold is not supported: revocations here are final)"
    )


def _seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _hash_for(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


@dataclass(frozen=True)
class CrlEntry:
    serial: int
    revoked_at: datetime
    reason: str | None


def build_crl(
    *,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    entries: Sequence[CrlEntry],
    number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """A complete (non-delta) CRL in DER. Reason ``unspecified`` is omitted, as RFC 5280
    §5.3.1 asks; every revoked certificate stays listed, expired or not, so that a CRL
    fetched years later still tells what was revoked."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(_seconds(this_update))
        .next_update(_seconds(next_update))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(aki, critical=False)
    )
    for entry in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(_seconds(entry.revoked_at))
        )
        if entry.reason and entry.reason != "unspecified":
            revoked = revoked.add_extension(
                x509.CRLReason(x509.ReasonFlags(entry.reason)), critical=False
            )
        builder = builder.add_revoked_certificate(revoked.build())
    crl = builder.sign(issuer_key, _hash_for(issuer_key))
    return crl.public_bytes(serialization.Encoding.DER)


# -- OCSP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertStatus:
    """The register's answer about one serial number."""

    status: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ParsedRequest:
    cert_ids: list[ocsp.CertId]
    #: The nonce extension's extnValue contents, echoed byte for byte.
    nonce: bytes | None


def ocsp_error(
    status: Literal[
        "malformed_request", "internal_error", "try_later", "sign_required", "unauthorized"
    ],
) -> bytes:
    """An unsigned OCSP error response (RFC 6960 §4.2.1: no responseBytes)."""
    return bytes(ocsp.OCSPResponse({"response_status": status}).dump())


def parse_ocsp_request(der: bytes) -> ParsedRequest:
    """Parse a DER OCSPRequest completely (asn1crypto parses lazily; a broken inner field
    must become ``malformedRequest`` now, not a crash later)."""
    try:
        request = ocsp.OCSPRequest.load(der, strict=True)
        tbs = request["tbs_request"]
        tbs.native  # noqa: B018 - forces the full parse
        cert_ids = [r["req_cert"] for r in tbs["request_list"]]
        nonce = None
        for ext in tbs["request_extensions"] or []:
            name = ext["extn_id"].native
            if name == "nonce":
                raw = bytes(ext["extn_value"].contents)
                # RFC 8954 wants an OCTET STRING inside; older clients put bare bytes.
                try:
                    inner = len(core.OctetString.load(raw, strict=True).native)
                except ValueError:
                    inner = len(raw)
                if not 1 <= inner <= MAX_NONCE:
                    raise OcspRequestError(
                        f"the nonce has {inner} octets; RFC 8954 allows 1 to {MAX_NONCE}"
                    )
                nonce = raw
            elif ext["critical"].native:
                raise OcspRequestError(f"unsupported critical request extension {name}")
        for single in tbs["request_list"]:
            for ext in single["single_request_extensions"] or []:
                if ext["critical"].native:
                    raise OcspRequestError(
                        f"unsupported critical single-request extension {ext['extn_id'].native}"
                    )
    except OcspRequestError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise OcspRequestError(f"not a DER OCSPRequest: {exc}") from None
    if not cert_ids:
        raise OcspRequestError("the request asks about no certificate")
    if len(cert_ids) > MAX_REQUESTS:
        raise OcspRequestError(f"more than {MAX_REQUESTS} certificates in one request")
    return ParsedRequest(cert_ids=cert_ids, nonce=nonce)


@dataclass(frozen=True)
class IssuerHashes:
    """Name and key hashes of one CA, by algorithm, to recognize its CertIDs."""

    name_hashes: dict[str, bytes]
    key_hashes: dict[str, bytes]

    @classmethod
    def of(cls, ca: x509.Certificate) -> IssuerHashes:
        asn1 = asn1_x509.Certificate.load(ca.public_bytes(serialization.Encoding.DER))
        name_der = asn1.subject.dump()
        # The hash is over the subjectPublicKey BIT STRING's value, without the leading
        # "unused bits" octet (RFC 6960 §4.1.1).
        key_bits = asn1.public_key["public_key"].contents[1:]
        return cls(
            name_hashes={a: hashlib.new(a, name_der).digest() for a in _CERTID_HASHES},
            key_hashes={a: hashlib.new(a, key_bits).digest() for a in _CERTID_HASHES},
        )

    def matches(self, cert_id: ocsp.CertId) -> bool:
        algo = cert_id["hash_algorithm"]["algorithm"].native
        if algo not in self.name_hashes:
            return False
        return (
            bytes(cert_id["issuer_name_hash"].native) == self.name_hashes[algo]
            and bytes(cert_id["issuer_key_hash"].native) == self.key_hashes[algo]
        )

    def cert_id(self, serial: int, algo: str = "sha1") -> ocsp.CertId:
        return ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": algo},
                "issuer_name_hash": self.name_hashes[algo],
                "issuer_key_hash": self.key_hashes[algo],
                "serial_number": serial,
            }
        )


def _sign(key: PrivateKeyTypes, data: bytes) -> tuple[str, bytes]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size >= 384:
            return "sha384_ecdsa", key.sign(data, ec.ECDSA(hashes.SHA384()))
        return "sha256_ecdsa", key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return "sha256_rsa", key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise TypeError("the OCSP responder key must be an EC or RSA key")


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def build_ocsp_response(
    cert_ids: Sequence[ocsp.CertId],
    *,
    lookup: Callable[[int], CertStatus],
    responder_cert: x509.Certificate,
    responder_key: PrivateKeyTypes,
    extra_certs: Sequence[x509.Certificate],
    now: datetime,
    validity: timedelta,
    nonce: bytes | None = None,
) -> bytes:
    """A signed ``successful`` response with one SingleResponse per CertID (echoed as sent)."""
    this_update = _seconds(now)
    singles = []
    for cert_id in cert_ids:
        status = lookup(cert_id["serial_number"].native)
        if status.status == "good":
            cert_status = ocsp.CertStatus(name="good", value=core.Null())
        elif status.status == "revoked":
            assert status.revoked_at is not None
            info: dict[str, object] = {"revocation_time": _seconds(status.revoked_at)}
            if status.reason and status.reason != "unspecified":
                info["revocation_reason"] = _ASN1_REASON[status.reason]
            cert_status = ocsp.CertStatus(name="revoked", value=ocsp.RevokedInfo(info))
        else:
            cert_status = ocsp.CertStatus(name="unknown", value=core.Null())
        singles.append(
            ocsp.SingleResponse(
                {
                    "cert_id": cert_id,
                    "cert_status": cert_status,
                    "this_update": this_update,
                    "next_update": this_update + validity,
                }
            )
        )
    responder_asn1 = _asn1_cert(responder_cert)
    data: dict[str, object] = {
        "responder_id": ocsp.ResponderId(name="by_key", value=responder_asn1.public_key.sha1),
        "produced_at": this_update,
        "responses": singles,
    }
    if nonce is not None:
        data["response_extensions"] = [
            ocsp.ResponseDataExtension(
                {
                    "extn_id": "nonce",
                    "critical": False,
                    "extn_value": core.ParsableOctetString(nonce),
                }
            )
        ]
    tbs = ocsp.ResponseData(data)
    algorithm, signature = _sign(responder_key, tbs.dump())
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": {"algorithm": algorithm},
            "signature": signature,
            "certs": [responder_asn1, *(_asn1_cert(c) for c in extra_certs)],
        }
    )
    return bytes(
        ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()
    )
