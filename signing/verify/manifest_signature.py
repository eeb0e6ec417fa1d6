"""The signature of a signed manifest, checked one way for a package and for a case file.

A WACZ package's ``datapackage-digest.json`` and a case file's ``manifest-digest.json`` carry
the same ``signedData`` (WACZ signing 0.1.0, identity mode, ``signing.wacz_sign``): an ECDSA
(or RSA) signature over the ASCII ``hash`` of the manifest by the certificate in
``domainCert``, and RFC 3161 time-stamps over the ASCII ``signature`` (``timeSignature``,
``additionalTimeSignatures``). :func:`check_identity_signature` checks, in this order:

1. the signature value against the signer certificate's key;
2. each time-stamp over the signature (its TSA's chain and revocation; its time within
   10 minutes after the stated ``created``); the oldest valid one is the proof of existence
   (PoE) at which the signer's chain is judged, so an expired signer still validates;
3. the signer's chain to a trust anchor at that time (or the chain of its cross-signed
   twin, ``crossSignedCert``);
4. the chain's revocation (informative when no data is at hand, unless the policy requires
   it);
5. the spec's rules on the unsigned ``domain`` and ``created`` fields, and whatever the
   caller adds (a package's ``datapackage.json`` must state the same ``created``).

Why one module: the two verifiers had grown two copies of these steps that differed in small,
accidental ways; a fix to one now is a fix to both. What differs on purpose -- the check ids
and the wording of the report -- is data (:class:`Wording`). What precedes the signature
(is the manifest the one that was signed, is ``signedData`` readable) stays with each
verifier: the two formats say it differently.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from certs.pki import load_pem_certificates
from certs.profiles import dns_names

from .model import Check, Status, Sub, Text, iso
from .paths import cert_facts, check_path, check_revocation
from .trust import TrustStore, sound
from .tst import TokenResult, check_token, digest_of

__all__ = [
    "CERT_WINDOW",
    "STAMP_GRACE",
    "STAMP_WINDOW",
    "Policy",
    "SignatureResult",
    "Wording",
    "check_identity_signature",
    "common_name",
    "fold_revocation",
    "parse_time",
    "pem_certs",
    "verify_hash_signature",
]

#: The WACZ signing spec: ``created`` lies within 7 days after the signer certificate's start.
CERT_WINDOW = timedelta(days=7)
#: A signature's time-stamp is taken within 10 minutes after its stated ``created``...
STAMP_WINDOW = timedelta(minutes=10)
#: ...allowing a second for ``created`` being cut to whole milliseconds and clock steps.
STAMP_GRACE = timedelta(seconds=1)


@dataclass(frozen=True)
class Wording:
    """The check ids and sentences of one kind of signed manifest.

    Templates are filled with ``str.format``: ``late`` with ``{when}`` (the time-stamp's time)
    and ``{created}`` (the stated creation time), ``passed`` with ``{who}`` (the signer's
    domain) and ``{root}`` (the trust anchor's subject)."""

    signature_id: str
    signature_title: Text
    revocation_id: str
    revocation_title: Text
    timestamp_id: str
    timestamp_title: Text
    #: The data the time-stamps are over, and the signer, as check_token and the chain
    #: messages name them ("the package signature", "the signer").
    stamped: Text
    signer: Text
    invalid: Text
    no_timestamp: Text
    late: Text
    created_invalid: Text
    created_window: Text
    passed: Text
    #: Whether the second and later time-stamps get "(#N)" after their title.
    number_timestamps: bool = False

    def timestamp(self, i: int) -> tuple[str, Text]:
        """The id and title of the ``i``-th (from 0) time-stamp over the signature."""
        check_id = self.timestamp_id if i == 0 else f"{self.timestamp_id}.{i + 1}"
        if i == 0 or not self.number_timestamps:
            return check_id, self.timestamp_title
        return check_id, self.timestamp_title + Text(f"（第 {i + 1} 个）", f"(#{i + 1})")


@dataclass(frozen=True)
class Policy:
    """Against what and as of when: the trust anchors, the validation time, the revocation
    policy, and an archive time-stamp's proof of existence when one is known."""

    trust: TrustStore
    now: datetime
    #: The validation time when it is a past moment asked for (``--at``), else None.
    validation_time: datetime | None = None
    require_revocation: bool = False
    archive_poe: datetime | None = None


@dataclass
class SignatureResult:
    """The checks, in report order, and what the verifier keeps from them."""

    signature: Check
    timestamps: list[Check] = field(default_factory=list)
    revocation: Check | None = None
    #: The oldest time a valid time-stamp proves the signature existed at.
    poe: datetime | None = None
    #: The signer (domain, subject, serial) once its chain is trusted.
    signer: dict[str, Any] | None = None
    #: The first time-stamp when it is valid and in time (the report's "time-stamped at").
    first_stamp: TokenResult | None = None

    @property
    def checks(self) -> list[Check]:
        return [self.signature, *([self.revocation] if self.revocation else []), *self.timestamps]


def _fill(template: Text, **values: Any) -> Text:
    return Text(template.zh.format(**values), template.en.format(**values))


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 time with its offset (``Z`` included), in UTC; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def pem_certs(value: Any) -> list[x509.Certificate]:
    """The sound certificates of a PEM text (none for anything that is not one)."""
    if not isinstance(value, str):
        return []
    try:
        return sound(load_pem_certificates(value.encode("ascii")))
    except (ValueError, UnicodeError):
        return []


def common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _ecdsa_der(sig: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """WebCrypto (ArchiveWeb.page) signs with raw r||s; X.509 tools with DER."""
    size = (key.curve.key_size + 7) // 8
    if len(sig) == 2 * size and sig[0] != 0x30:
        return encode_dss_signature(
            int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
        )
    return sig


def verify_hash_signature(key: Any, signature: bytes, data: bytes) -> bool:
    """Does ``signature`` (ECDSA DER or raw r||s, or RSA PKCS#1 v1.5) sign ``data`` with
    SHA-256 under ``key``?"""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            der = _ecdsa_der(signature, key)
            try:
                key.verify(der, data, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                if der is signature and len(signature) == 2 * ((key.curve.key_size + 7) // 8):
                    raise
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def fold_revocation(check: Check, token: TokenResult, *, required: bool) -> None:
    """A time-stamp whose TSA certificate is revoked (or, under a policy that requires it,
    whose revocation status is unknown) is not a proof of time, however good its signature."""
    revocation = token.revocation
    if revocation is None or revocation.status is Status.PASSED:
        return
    check.details.append(revocation.reason)
    if not revocation.unavailable or required:
        check.status, check.sub_indication = revocation.status, revocation.sub
        check.reason = revocation.reason


def check_identity_signature(
    signed: Mapping[str, Any],
    certs: list[x509.Certificate],
    signature: bytes,
    *,
    wording: Wording,
    policy: Policy,
    facts: dict[str, Any],
    constraints: Callable[[], Text | None] | None = None,
) -> SignatureResult:
    """The checks of ``signed`` (its ``domainCert`` already read into ``certs``, its
    ``signature`` decoded), steps 1-5 of the module's list; ``facts`` (what the caller
    already knows of the signature) is extended and goes with the signature check.
    ``constraints``: the caller's own rule on the unsigned fields, asked after the spec's."""
    leaf = certs[0]
    facts["signer"] = cert_facts(leaf)
    hash_str = str(signed.get("hash", ""))
    if not verify_hash_signature(leaf.public_key(), signature, hash_str.encode("utf-8")):
        return SignatureResult(
            Check(
                wording.signature_id,
                wording.signature_title,
                Status.FAILED,
                wording.invalid,
                Sub.SIG_CRYPTO_FAILURE,
                facts=facts,
            )
        )
    stamps, first = _timestamps(signed, wording, policy)
    valid = [t.gen_time for _c, t in stamps if t is not None and t.ok and t.gen_time]
    poe = min(valid) if valid else None
    result = SignatureResult(
        Check(wording.signature_id, wording.signature_title, Status.PASSED, Text("", "")),
        [c for c, _t in stamps],
        poe=poe,
        first_stamp=first,
    )
    at = poe or policy.now
    cross = pem_certs(signed.get("crossSignedCert"))
    path = check_path(
        leaf, certs[1:] + cross, policy.trust, at=at, poe=poe is not None, what=wording.signer
    )
    if not path.ok and cross and cross[0].public_key() == leaf.public_key():
        alt = check_path(
            cross[0], cross[1:], policy.trust, at=at, poe=poe is not None, what=wording.signer
        )
        if alt.ok:
            path = alt
            facts["trust_path"] = "crossSignedCert"
    if path.path:
        facts["chain"] = [cert_facts(c) for c in path.path]
    facts["validated_at"] = iso(at)
    facts["proof_of_existence"] = iso(poe)
    if not path.ok:
        result.signature = Check(
            wording.signature_id,
            wording.signature_title,
            path.status,
            path.reason,
            path.sub,
            facts=facts,
        )
        return result
    result.revocation = _revocation(path.path, wording, policy, at, poe is not None)
    result.signer = {
        "domain": signed.get("domain"),
        "subject": leaf.subject.rfc4514_string(),
        "serial": f"{leaf.serial_number:x}",
    }
    problem = _spec_rules(signed, leaf, wording) or (constraints() if constraints else None)
    if problem is not None:
        result.signature = Check(
            wording.signature_id,
            wording.signature_title,
            Status.INDETERMINATE,
            problem,
            Sub.SIG_CONSTRAINTS_FAILURE,
            facts=facts,
        )
        return result
    who = signed.get("domain") or common_name(leaf) or leaf.subject.rfc4514_string()
    result.signature = Check(
        wording.signature_id,
        wording.signature_title,
        Status.PASSED,
        _fill(wording.passed, who=who, root=path.path[-1].subject.rfc4514_string()),
        facts=facts,
    )
    return result


def _revocation(
    path: list[x509.Certificate], wording: Wording, policy: Policy, at: datetime, poe: bool
) -> Check:
    revocation = check_revocation(path, policy.trust, at=at, poe=poe, what=wording.signer)
    check = Check(
        wording.revocation_id,
        wording.revocation_title,
        revocation.status,
        revocation.reason,
        revocation.sub,
        facts={
            "checked_at": iso(at),
            "certificates": revocation.per_cert,
            "policy": "required" if policy.require_revocation else "if-available",
        },
        counts=not revocation.unavailable or policy.require_revocation,
    )
    if revocation.unavailable and not policy.require_revocation:
        check.details.append(
            Text(
                "按照验证策略（有则检查），缺少吊销信息不影响总体结论；如需强制检查请使用 "
                "--require-revocation。",
                "Under the validation policy (check if available), missing revocation data does "
                "not change the overall result; use --require-revocation to make it required.",
            )
        )
    return check


def _spec_rules(signed: Mapping[str, Any], leaf: x509.Certificate, wording: Wording) -> Text | None:
    """The WACZ signing spec's rules on ``domain`` and ``created`` (unsigned fields)."""
    domain = signed.get("domain")
    cn = common_name(leaf)
    if domain not in dns_names(leaf) and not (cn is not None and domain == cn):
        return Text(
            f"签名数据声称的域名 {domain!r} 不在签名证书中。",
            f"The domain {domain!r} claimed by the signature data is not in the certificate.",
        )
    created = parse_time(signed.get("created"))
    if created is None:
        return wording.created_invalid
    start = leaf.not_valid_before_utc
    if not start <= created <= start + CERT_WINDOW:
        return wording.created_window
    return None


def _timestamps(
    signed: Mapping[str, Any], wording: Wording, policy: Policy
) -> tuple[list[tuple[Check, TokenResult | None]], TokenResult | None]:
    """Each RFC 3161 token over the ASCII signature with its result (None: unreadable), and
    the first token if it is valid and in time."""
    entries: list[tuple[Any, Any]] = []
    if signed.get("timeSignature"):
        entries.append((signed.get("timeSignature"), signed.get("timestampCert")))
    extra = signed.get("additionalTimeSignatures") or []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                entries.append((item.get("timeSignature"), item.get("timestampCert")))
    if not entries:
        check_id, title = wording.timestamp(0)
        missing = Check(check_id, title, Status.INDETERMINATE, wording.no_timestamp, Sub.NO_POE)
        return [(missing, None)], None
    first: TokenResult | None = None
    created = parse_time(signed.get("created"))
    stamped = str(signed.get("signature", "")).encode("ascii", "replace")
    out: list[tuple[Check, TokenResult | None]] = []
    for i, (b64, chain_pem) in enumerate(entries):
        check_id, title = wording.timestamp(i)
        try:
            der = base64.b64decode(str(b64), validate=True)
        except (binascii.Error, ValueError):
            out.append(
                (
                    Check(
                        check_id,
                        title,
                        Status.FAILED,
                        Text("时间戳不是 base64。", "The time-stamp is not base64."),
                        Sub.FORMAT_FAILURE,
                    ),
                    None,
                )
            )
            continue
        token = check_token(
            der,
            digest=digest_of(stamped),
            trust=policy.trust,
            shipped=pem_certs(chain_pem),
            what=wording.stamped,
            valid_until=policy.now,
            poe=policy.archive_poe,
            validation_time=policy.validation_time,
        )
        check = Check(check_id, title, token.status, token.reason, token.sub, facts=token.facts)
        if token.ok and token.gen_time is not None:
            if created is None or not (
                created - STAMP_GRACE <= token.gen_time <= created + STAMP_WINDOW
            ):
                check.status, check.sub_indication = (
                    Status.INDETERMINATE,
                    Sub.TIMESTAMP_ORDER_FAILURE,
                )
                check.reason = _fill(
                    wording.late, when=iso(token.gen_time), created=signed.get("created")
                )
            elif i == 0:
                first = token
            fold_revocation(check, token, required=policy.require_revocation)
        out.append((check, token))
    return out, first
