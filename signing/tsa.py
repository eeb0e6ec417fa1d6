"""The built-in RFC 3161 time-stamp authority (with RFC 5816's ESSCertIDv2).

Transport-free: :meth:`TimeStampAuthority.respond` turns a DER ``TimeStampReq`` into a DER
``TimeStampResp``; the app serves it over HTTP at ``/tsa`` and the CLI calls it in-process, so
both produce byte-for-byte the same kind of token.

What makes it more than pyHanko's ``DummyTimeStamper`` (see docs: pitfalls):

* its own policy OID (:data:`EVIDENCE_TSA_POLICY_OID`); a request naming another policy is
  refused with ``unacceptedPolicy``;
* a ``signing-certificate-v2`` attribute (ESSCertIDv2, SHA-256, with issuer and serial);
* ``accuracy``, ``genTime`` to the millisecond, the nonce echoed;
* serial numbers unique across threads and processes (nanosecond time, a per-process counter
  and 48 random bits: about 125 bits, within RFC 3161's 160-bit limit);
* ``certReq`` honoured: the TSA certificate and its chain up to the root are included only when
  asked for, as RFC 3161 §2.4.1 requires;
* proper refusals with a ``PKIFailureInfo`` and a status string that says what to change.

The token is signed with RSA PKCS#1 v1.5 / SHA-256 and identifies the signer by issuer and
serial number (SignerInfo v1), the most widely understood form: OpenSSL, pyHanko and the old
pyasn1-based ``rfc3161ng`` (used by the ``wacz-signing`` verifier) all read it.

Every seal asks for three tokens (manifest, certificate signature, package signature), so a
token is assembled from DER encoded once per authority -- certificate chain, signer identifier,
algorithm identifiers, the signing-certificate attribute -- around the few fields that change
(TSTInfo, message digest, signature). asn1crypto re-encoding the chain and attributes for
every token cost about 10 ms; the bytes are the same (``tests/seal/test_tsa_der.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certs.pki import Credential

from . import der

__all__ = [
    "EVIDENCE_TSA_POLICY_OID",
    "FAILURE_BITS",
    "TimeStampAuthority",
]

log = logging.getLogger(__name__)

#: The time-stamping policy of the built-in TSA. An OID under the ``2.25`` arc (ITU-T X.667 /
#: ISO/IEC 9834-8): the decimal form of a random UUID, b259cd0d-a627-47a5-ae2c-4c004f278ee8,
#: chosen for this project. No registration is needed and no one else will use it. The policy
#: it names: genTime from the host's NTP-disciplined clock, accuracy +-1 s, keys held
#: encrypted by the evidence service, tokens issued only for SHA-2 imprints.
EVIDENCE_TSA_POLICY_OID = "2.25.237068856645481484395281966484586729192"

#: PKIFailureInfo named bits (RFC 3161 §2.4.2).
FAILURE_BITS = {
    "badAlg": 0,
    "badRequest": 2,
    "badDataFormat": 5,
    "timeNotAvailable": 14,
    "unacceptedPolicy": 15,
    "unacceptedExtension": 16,
    "addInfoNotAvailable": 17,
    "systemFailure": 25,
}

#: Imprint algorithms we time-stamp, with their digest sizes.
ACCEPTED_HASHES = {
    "2.16.840.1.101.3.4.2.1": ("sha256", 32),
    "2.16.840.1.101.3.4.2.2": ("sha384", 48),
    "2.16.840.1.101.3.4.2.3": ("sha512", 64),
}
#: Known but refused: collisions can be made for them, so a token over them proves little.
WEAK_HASHES = {
    "1.2.840.113549.2.5": "MD5",
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.4": "SHA-224",
}

MAX_REQUEST_BYTES = 64 * 1024
MAX_NONCE_BITS = 1024


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Refusal(Exception):
    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure
        self.text = text


def refusal_der(failure: str, text: str) -> bytes:
    """A DER ``TimeStampResp`` with status ``rejection``, ``text`` and one failure bit."""
    status_info = der.sequence(
        der.integer(2),
        der.sequence(der.utf8_string(text)),
        der.named_bit_string({FAILURE_BITS[failure]}),
    )
    return der.sequence(status_info)


class TimeStampAuthority:
    """An RFC 3161 TSA over one credential (RSA or EC key with a ``timeStamping`` certificate)."""

    def __init__(
        self,
        credential: Credential,
        *,
        policy_oid: str = EVIDENCE_TSA_POLICY_OID,
        accuracy_s: int = 1,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not isinstance(credential.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError("the TSA key must be RSA (recommended) or EC")
        if accuracy_s < 1:
            raise ValueError("accuracy_s must be at least 1 second")
        self.credential = credential
        self.policy_oid = policy_oid
        self.accuracy_s = accuracy_s
        self._clock = clock
        self._counter = itertools.count()
        self._serial_lock = threading.Lock()
        cert_der = credential.cert.public_bytes(serialization.Encoding.DER)
        self._cert = asn1_x509.Certificate.load(cert_der)
        self._chain = [self._cert] + [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in credential.chain
        ]
        signing_certificate_v2 = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        # hashAlgorithm is omitted: SHA-256 is its DEFAULT (RFC 5035).
                        "cert_hash": hashlib.sha256(cert_der).digest(),
                        "issuer_serial": {
                            "issuer": [
                                asn1_x509.GeneralName(
                                    name="directory_name", value=self._cert.issuer
                                )
                            ],
                            "serial_number": self._cert.serial_number,
                        },
                    }
                ]
            }
        )
        self._der = _TokenParts.build(self, signing_certificate_v2)

    # -- public -----------------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        """Answer one DER ``TimeStampReq``: a token, or an RFC 3161 refusal. Never raises."""
        try:
            return self._grant(request_der)
        except _Refusal as refusal:
            log.info("time-stamp request refused (%s): %s", refusal.failure, refusal.text)
            return refusal_der(refusal.failure, refusal.text)
        except Exception:
            log.exception("the built-in TSA failed to issue a token")
            return refusal_der(
                "systemFailure",
                "The time-stamp authority failed internally; try again later.",
            )

    # -- internals --------------------------------------------------------------------------

    def _parse(self, request_der: bytes) -> tsp.TimeStampReq:
        if len(request_der) > MAX_REQUEST_BYTES:
            raise _Refusal("badDataFormat", "Time-stamp request too large.")
        try:
            req = tsp.TimeStampReq.load(request_der, strict=True)
            req.native  # noqa: B018 -- parses every field now, so errors surface here
        except Exception:
            raise _Refusal(
                "badDataFormat",
                "The request is not a DER TimeStampReq (RFC 3161 section 2.4.1); send "
                "Content-Type application/timestamp-query with the DER request as body.",
            ) from None
        if req["version"].native != "v1":
            raise _Refusal("badDataFormat", "Unsupported TimeStampReq version (must be 1).")
        return req

    def _check(self, req: tsp.TimeStampReq) -> None:
        imprint = req["message_imprint"]
        oid = imprint["hash_algorithm"]["algorithm"].dotted
        if oid in WEAK_HASHES:
            raise _Refusal(
                "badAlg",
                f"{WEAK_HASHES[oid]} imprints are refused as too weak; "
                "send a SHA-256, SHA-384 or SHA-512 imprint.",
            )
        if oid not in ACCEPTED_HASHES:
            raise _Refusal(
                "badAlg",
                f"Unsupported imprint hash algorithm {oid}; "
                "send a SHA-256, SHA-384 or SHA-512 imprint.",
            )
        name, size = ACCEPTED_HASHES[oid]
        if len(imprint["hashed_message"].native) != size:
            raise _Refusal(
                "badDataFormat",
                f"The {name} imprint must be {size} bytes long, "
                f"got {len(imprint['hashed_message'].native)}.",
            )
        policy = req["req_policy"]
        if policy.native is not None and policy.dotted != self.policy_oid:
            raise _Refusal(
                "unacceptedPolicy",
                f"Policy {policy.dotted} is not supported; this TSA issues tokens under policy "
                f"{self.policy_oid} only (or omit reqPolicy).",
            )
        if req["extensions"].native:
            raise _Refusal("unacceptedExtension", "Request extensions are not supported.")
        nonce = req["nonce"].native
        if nonce is not None and abs(nonce).bit_length() > MAX_NONCE_BITS:
            raise _Refusal("badDataFormat", f"The nonce is longer than {MAX_NONCE_BITS} bits.")

    def _serial(self) -> int:
        with self._serial_lock:
            count = next(self._counter) & 0xFFFF
            now_ns = time.time_ns()
        return (now_ns << 64) | (count << 48) | secrets.randbits(48)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the TSA clock must return timezone-aware datetimes")
        now = now.astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _grant(self, request_der: bytes) -> bytes:
        req = self._parse(request_der)
        self._check(req)
        gen_time = self._now()
        cert = self.credential.cert
        if not cert.not_valid_before_utc <= gen_time <= cert.not_valid_after_utc:
            raise _Refusal(
                "systemFailure",
                "The TSA certificate is not valid at this time; the operator must renew it.",
            )
        parts = self._der
        serial = self._serial()
        nonce = req["nonce"].native
        tst_der = der.sequence(
            der.integer(1),
            parts.policy,
            req["message_imprint"].dump(),
            der.integer(serial),
            der.tlv(0x18, _generalized_time(gen_time)),
            parts.accuracy,
            der.integer(nonce) if nonce is not None else b"",
            parts.tsa_name,
        )
        message_digest = der.sequence(
            _OID_MESSAGE_DIGEST,
            der.tlv(0x31, der.tlv(0x04, hashlib.sha256(tst_der).digest())),
        )
        # DER orders SET OF by encoding; verifiers re-encode the attributes to check them.
        attrs = b"".join(sorted((parts.content_type_attr, message_digest, parts.signing_cert_attr)))
        signature, _alg = self._sign(der.tlv(0x31, attrs))
        signer_info = der.sequence(
            der.integer(1),
            parts.signer_id,
            parts.digest_algorithm,
            der.tlv(0xA0, attrs),
            parts.signature_algorithm,
            der.tlv(0x04, signature),
        )
        signed_data = der.sequence(
            der.integer(3),
            der.tlv(0x31, parts.digest_algorithm),
            der.sequence(_OID_TST_INFO, der.tlv(0xA0, der.tlv(0x04, tst_der))),
            parts.certificates if req["cert_req"].native else b"",
            der.tlv(0x31, signer_info),
        )
        token = der.sequence(_OID_SIGNED_DATA, der.tlv(0xA0, signed_data))
        log.debug("issued time-stamp serial %x at %s", serial, gen_time)
        return der.sequence(_STATUS_GRANTED, token)

    def _sign(self, data: bytes) -> tuple[bytes, str]:
        key = self.credential.key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256()), "rsassa_pkcs1v15"
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.sign(data, ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"


def _oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


_OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_OID_TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
_OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_STATUS_GRANTED = tsp.PKIStatusInfo({"status": "granted"}).dump()


def _generalized_time(moment: datetime) -> bytes:
    """DER GeneralizedTime text: UTC, ``Z``, fraction without trailing zeros (X.690 11.7)."""
    text = moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return (text + "Z").encode("ascii")


@dataclass(frozen=True)
class _TokenParts:
    """The DER pieces that are the same in every token of one authority."""

    policy: bytes
    accuracy: bytes
    tsa_name: bytes
    content_type_attr: bytes
    signing_cert_attr: bytes
    signer_id: bytes
    digest_algorithm: bytes
    signature_algorithm: bytes
    #: ``certificates [0] IMPLICIT CertificateSet``: the TSA certificate and its chain.
    certificates: bytes

    @classmethod
    def build(
        cls, authority: TimeStampAuthority, signing_cert: tsp.SigningCertificateV2
    ) -> _TokenParts:
        cert = authority._cert
        key = authority.credential.key
        sig_alg = "rsassa_pkcs1v15" if isinstance(key, rsa.RSAPrivateKey) else "sha256_ecdsa"
        certificates = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=c) for c in authority._chain]
        ).dump()
        return cls(
            policy=_oid(authority.policy_oid),
            accuracy=tsp.Accuracy({"seconds": authority.accuracy_s}).dump(),
            tsa_name=der.tlv(
                0xA0, asn1_x509.GeneralName(name="directory_name", value=cert.subject).dump()
            ),
            content_type_attr=cms.CMSAttribute(
                {"type": "content_type", "values": ["tst_info"]}
            ).dump(),
            signing_cert_attr=cms.CMSAttribute(
                {"type": "signing_certificate_v2", "values": [signing_cert]}
            ).dump(),
            signer_id=cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ).dump(),
            digest_algorithm=algos.DigestAlgorithm({"algorithm": "sha256"}).dump(),
            signature_algorithm=algos.SignedDigestAlgorithm({"algorithm": sig_alg}).dump(),
            certificates=b"\xa0" + certificates[1:],
        )
