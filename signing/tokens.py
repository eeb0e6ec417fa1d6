"""Reading RFC 3161 responses and tokens, and checking the token's CMS signature.

Shared by the TSA client (which checks every answer before trusting it) and the verifier.
Everything raises ``ValueError`` with a reason; callers wrap it in their own error class.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .tsa import FAILURE_BITS

__all__ = [
    "ParsedToken",
    "Refusal",
    "TimeStampResp",
    "cert_pem",
    "check_signature",
    "find_signer",
    "parse_response",
    "parse_token",
]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
#: Imprint algorithms a verifier accepts (a token over SHA-1 proves little today).
IMPRINT_HASHES = ("sha256", "sha384", "sha512")
_FAILURE_NAMES = {bit: name for name, bit in FAILURE_BITS.items()}


@dataclass(frozen=True)
class Refusal:
    status: int
    status_string: str | None
    failure_info: tuple[str, ...]


@dataclass(frozen=True)
class ParsedToken:
    token_der: bytes
    signed_data: cms.SignedData
    tst_info: tsp.TSTInfo
    gen_time: datetime
    serial: int
    policy_oid: str
    imprint_algorithm: str
    imprint: bytes
    nonce: int | None
    certificates: tuple[x509.Certificate, ...]


class TimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp with the token OPTIONAL, as the RFC says: asn1crypto's own
    class requires the token and so cannot read (or build) a refusal."""

    _fields = [  # noqa: RUF012 -- asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _status_code(value: object) -> int:
    names = {
        "granted": 0,
        "granted_with_mods": 1,
        "rejection": 2,
        "waiting": 3,
        "revocation_warning": 4,
        "revocation_notification": 5,
    }
    if isinstance(value, int):
        return value
    return names.get(str(value), -1)


def _failure_info(status_info: tsp.PKIStatusInfo) -> tuple[str, ...]:
    raw = status_info["fail_info"]
    if raw.native is None or not raw.contents:
        return ()
    # Read the bits ourselves: asn1crypto's names differ from RFC 3161's.
    names = []
    for index, byte in enumerate(raw.contents[1:]):
        for offset in range(8):
            if byte & (0x80 >> offset):
                bit = index * 8 + offset
                names.append(_FAILURE_NAMES.get(bit, f"bit{bit}"))
    return tuple(names)


def parse_response(response_der: bytes) -> ParsedToken | Refusal:
    """A granted response's token, or the refusal; ``ValueError`` for anything else."""
    try:
        resp = TimeStampResp.load(response_der, strict=True)
        status_info = resp["status"]
        status = _status_code(status_info["status"].native)
    except Exception as exc:
        raise ValueError(f"not a DER TimeStampResp ({type(exc).__name__})") from None
    if status not in (0, 1):
        text = None
        try:
            strings = status_info["status_string"].native
            text = "; ".join(strings) if strings else None
            failures = _failure_info(status_info)
        except Exception:
            failures = ()
        return Refusal(status, text, failures)
    token = resp["time_stamp_token"]
    if isinstance(token, core.Void):
        raise ValueError("the response says 'granted' but carries no time-stamp token")
    return parse_token(token.dump())


def parse_token(token_der: bytes) -> ParsedToken:
    """Parse a ``TimeStampToken`` (a CMS ContentInfo with SignedData over a TSTInfo)."""
    try:
        info = cms.ContentInfo.load(token_der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("the token is not CMS SignedData")
        signed: cms.SignedData = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("the signed content is not a TSTInfo")
        tst_info: tsp.TSTInfo = encap["content"].parsed
        imprint = tst_info["message_imprint"]
        certs = []
        for choice in signed["certificates"] or []:
            if choice.name == "certificate":
                certs.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        gen_time = tst_info["gen_time"].native
        nonce = tst_info["nonce"].native
        return ParsedToken(
            token_der=token_der,
            signed_data=signed,
            tst_info=tst_info,
            gen_time=gen_time.astimezone(UTC),
            serial=int(tst_info["serial_number"].native),
            policy_oid=tst_info["policy"].dotted,
            imprint_algorithm=imprint["hash_algorithm"]["algorithm"].native,
            imprint=bytes(imprint["hashed_message"].native),
            nonce=None if nonce is None else int(nonce),
            certificates=tuple(certs),
        )
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"malformed time-stamp token ({type(exc).__name__}: {exc})") from None


def imprint_matches(token: ParsedToken, data: bytes) -> bool:
    if token.imprint_algorithm not in IMPRINT_HASHES:
        return False
    return hashlib.new(token.imprint_algorithm, data).digest() == token.imprint


def _signer_info(token: ParsedToken) -> cms.SignerInfo:
    infos = token.signed_data["signer_infos"]
    if len(infos) != 1:
        raise ValueError(f"a time-stamp token must have one signer, this one has {len(infos)}")
    return infos[0]


def find_signer(token: ParsedToken, extra: Iterable[x509.Certificate] = ()) -> x509.Certificate:
    """The certificate that signed the token, from the token itself or from ``extra``."""
    sid = _signer_info(token)["sid"]
    for cert in (*token.certificates, *extra):
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            issuer_der = cert.issuer.public_bytes()
            if (
                cert.serial_number == wanted["serial_number"].native
                and issuer_der == wanted["issuer"].dump()
            ):
                return cert
        else:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            except x509.ExtensionNotFound:
                continue
            if ski.digest == sid.chosen.native:
                return cert
    raise ValueError(
        "the TSA certificate is neither in the token nor among the known certificates "
        "(ask for certReq, or configure the TSA's certificate chain)"
    )


def _hash(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {name}") from None


def _attr(signed_attrs: cms.CMSAttributes, name: str) -> list[Any] | None:
    found = [a for a in signed_attrs if a["type"].native == name]
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"the signed attribute {name} appears twice")
    return list(found[0]["values"])


def check_signature(token: ParsedToken, signer: x509.Certificate) -> None:
    """Check the CMS signature, the signed content digest and the signing-certificate
    attribute (ESSCertIDv2, or ESSCertID from TSAs that still use SHA-1) against ``signer``."""
    info = _signer_info(token)
    digest_name = info["digest_algorithm"]["algorithm"].native
    hash_alg = _hash(digest_name)
    signed_attrs = info["signed_attrs"]
    if not signed_attrs:
        raise ValueError("the token has no signed attributes (RFC 3161 requires them)")
    # The signature covers the attributes as received, encoded as a SET OF (tag 0x31), not
    # as [0]. Taken before any field is read: asn1crypto marks a structure changed when an
    # absent DEFAULT field (ESSCertIDv2's hashAlgorithm) is read, and its dump would then
    # re-encode every attribute (a third of this check's time) instead of the bytes received.
    attrs_der = b"\x31" + signed_attrs.dump()[1:]
    content_type = _attr(signed_attrs, "content_type")
    if not content_type or content_type[0].native != "tst_info":
        raise ValueError("the signed content-type attribute is not id-ct-TSTInfo")
    digests = _attr(signed_attrs, "message_digest")
    content = token.signed_data["encap_content_info"]["content"].contents
    if not digests or digests[0].native != hashlib.new(digest_name, content).digest():
        raise ValueError("the signed message digest does not match the TSTInfo")
    cert_der = signer.public_bytes(serialization.Encoding.DER)
    _check_ess(signed_attrs, cert_der)
    signature = info["signature"].native
    algo = info["signature_algorithm"]
    public_key = signer.public_key()
    try:
        algo_name = algo.signature_algo
        if isinstance(public_key, rsa.RSAPublicKey) and algo_name == "rsassa_pkcs1v15":
            public_key.verify(signature, attrs_der, padding.PKCS1v15(), hash_alg)
        elif isinstance(public_key, rsa.RSAPublicKey) and algo_name == "rsassa_pss":
            params = algo["parameters"]
            pss_hash = _hash(params["hash_algorithm"]["algorithm"].native)
            mgf_hash = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            public_key.verify(
                signature,
                attrs_der,
                padding.PSS(padding.MGF1(mgf_hash), params["salt_length"].native),
                pss_hash,
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algo_name == "ecdsa":
            public_key.verify(signature, attrs_der, ec.ECDSA(hash_alg))
        else:
            raise ValueError(
                f"unsupported signature algorithm {algo['algorithm'].native} for a "
                f"{type(public_key).__name__}"
            )
    except InvalidSignature:
        raise ValueError("the time-stamp token's signature is invalid") from None
    except UnsupportedAlgorithm as exc:
        raise ValueError(f"unsupported signature algorithm: {exc}") from None


def _check_ess(signed_attrs: cms.CMSAttributes, cert_der: bytes) -> None:
    v2 = _attr(signed_attrs, "signing_certificate_v2")
    v1 = _attr(signed_attrs, "signing_certificate")
    if v2:
        first = v2[0]["certs"][0]
        algo = first["hash_algorithm"]["algorithm"].native
        if hashlib.new(algo, cert_der).digest() != first["cert_hash"].native:
            raise ValueError("the signing-certificate-v2 attribute names another certificate")
        return
    if v1:
        first = v1[0]["certs"][0]
        if hashlib.sha1(cert_der).digest() != first["cert_hash"].native:
            raise ValueError("the signing-certificate attribute names another certificate")
        return
    raise ValueError(
        "the token has no signing-certificate(-v2) attribute (RFC 3161/5816 require one)"
    )


def cert_pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
