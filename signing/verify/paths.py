"""Certificate paths and revocation, with results an ETSI report can use.

``signing.chains.validate_chain`` answers yes/no with a message; a court report needs to know
*why* (untrusted root vs. expired vs. wrong key usage map to different ETSI sub-indications),
so this module walks the same path with :func:`signing.chains.build_chain` and classifies each
problem. Revocation is checked only from data we were given (trust bundle, proofs sidecar,
PDF DSS): the verifier never goes online.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..chains import build_chain, is_self_signed
from .model import Status, Sub, Text, iso, tech
from .trust import TrustStore

__all__ = ["PathResult", "RevocationResult", "check_path", "check_revocation", "describe"]


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def _fp(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def cert_facts(cert: x509.Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": iso(cert.not_valid_before_utc) or "",
        "not_after": iso(cert.not_valid_after_utc) or "",
        "sha256": _fp(cert).hex(),
    }


@dataclass
class PathResult:
    status: Status
    sub: Sub | None
    reason: Text
    path: list[x509.Certificate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED


def check_path(
    leaf: x509.Certificate,
    shipped: Sequence[x509.Certificate],
    trust: TrustStore,
    *,
    at: datetime,
    poe: bool,
    required_eku: x509.ObjectIdentifier | None = None,
    eku_must_be_critical: bool = False,
    what: Text,
) -> PathResult:
    """Path from ``leaf`` to a trust anchor, checked at ``at``.

    ``poe``: ``at`` is a proven time (a verified time-stamp) rather than "now"; a certificate
    not yet valid at a proven time is a proven defect (TOTAL-FAILED NOT_YET_VALID), while one
    that expired before it only lacks proof of an earlier existence (OUT_OF_BOUNDS_NO_POE).
    """
    if not trust.anchors:
        return PathResult(
            Status.INDETERMINATE,
            Sub.NO_CERTIFICATE_CHAIN_FOUND,
            Text(
                f"无法确认{what.zh}的身份：没有提供信任证书包（请用 --trust 指定）。",
                f"Cannot tell who {what.en} is: no trust bundle was given (use --trust).",
            ),
        )
    anchor_fps = {_fp(a) for a in trust.anchors}
    path = build_chain(leaf, [*trust.anchors, *trust.pool, *shipped])
    top = path[-1]
    if _fp(top) not in anchor_fps:
        if is_self_signed(top):
            detail = f"the chain ends at {describe(top)}, which is not in the trust bundle"
        else:
            detail = f"the issuer of {describe(top)} ({top.issuer.rfc4514_string()}) is unknown"
        return PathResult(
            Status.INDETERMINATE,
            Sub.NO_CERTIFICATE_CHAIN_FOUND,
            tech(
                f"{what.zh}的证书不能追溯到所信任的根证书（可能是他人签发，或未提供其根证书）。",
                f"{what.en}'s certificate does not lead to a trusted root certificate (it may "
                "come from another authority, or its root was not given).",
                detail,
            ),
            path,
        )
    for depth, ca in enumerate(path[1:]):
        problem = _ca_problem(ca, depth)
        if problem:
            return PathResult(
                Status.INDETERMINATE,
                Sub.CHAIN_CONSTRAINTS_FAILURE,
                tech("证书链不符合规则。", "The certificate chain breaks a rule.", problem),
                path,
            )
    if required_eku is not None:
        problem = _eku_problem(leaf, required_eku, eku_must_be_critical)
        if problem:
            return PathResult(
                Status.INDETERMINATE,
                Sub.CHAIN_CONSTRAINTS_FAILURE,
                tech(
                    f"{what.zh}的证书没有获准用于此用途。",
                    f"{what.en}'s certificate is not allowed for this purpose.",
                    problem,
                ),
                path,
            )
    for cert in path:
        if at < cert.not_valid_before_utc:
            detail = f"{describe(cert)} is valid only from {iso(cert.not_valid_before_utc)}"
            if poe:
                return PathResult(
                    Status.FAILED,
                    Sub.NOT_YET_VALID,
                    tech(
                        "签名时证书尚未生效。",
                        "A certificate was not yet valid when the signature was made.",
                        detail,
                    ),
                    path,
                )
            # not a proven signing time: EN 319 102-1 5.2.6 (validation time outside the
            # validity range) -- NOT_YET_VALID goes with TOTAL-FAILED only
            return PathResult(
                Status.INDETERMINATE,
                Sub.OUT_OF_BOUNDS_NO_POE,
                tech(
                    "在验证时间证书尚未生效。",
                    "A certificate is not yet valid at the validation time.",
                    f"{detail}; checked at {iso(at)}",
                ),
                path,
            )
        if at > cert.not_valid_after_utc:
            return PathResult(
                Status.INDETERMINATE,
                Sub.OUT_OF_BOUNDS_NO_POE,
                tech(
                    "证书已过期，且没有可信时间戳证明签名产生于有效期内。",
                    "A certificate has expired and no trusted time-stamp proves the signature "
                    "was made while it was valid.",
                    f"{describe(cert)} expired {iso(cert.not_valid_after_utc)}; checked at "
                    f"{iso(at)}",
                ),
                path,
            )
    return PathResult(
        Status.PASSED,
        None,
        Text(
            f"{what.zh}的证书链可追溯到信任的根证书：{describe(path[-1])}。",
            f"{what.en}'s certificate chain leads to the trusted root {describe(path[-1])}.",
        ),
        path,
    )


def _ca_problem(ca: x509.Certificate, depth: int) -> str | None:
    try:
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        return f"{describe(ca)} issued a certificate but is not a CA"
    if bc.path_length is not None and depth > bc.path_length:
        return f"{describe(ca)}: path length constraint exceeded"
    try:
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not ku.key_cert_sign:
        return f"{describe(ca)} may not sign certificates (keyUsage)"
    return None


def _eku_problem(
    leaf: x509.Certificate, eku: x509.ObjectIdentifier, must_be_critical: bool
) -> str | None:
    try:
        ext = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return f"{describe(leaf)} has no extendedKeyUsage {eku.dotted_string}"
    if eku not in ext.value:
        return f"{describe(leaf)} lacks extendedKeyUsage {eku.dotted_string}"
    if must_be_critical and not ext.critical:
        return f"{describe(leaf)}: its extendedKeyUsage must be critical"
    return None


# -- revocation ---------------------------------------------------------------------------


@dataclass
class RevocationResult:
    status: Status
    sub: Sub | None
    reason: Text
    #: One entry per certificate checked: subject, serial, status, source, revoked_at.
    per_cert: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def unavailable(self) -> bool:
        return self.sub is Sub.TRY_LATER


def _verify_with(issuer_key: object, signature: bytes, data: bytes, algo: object) -> bool:
    try:
        if isinstance(issuer_key, rsa.RSAPublicKey):
            issuer_key.verify(signature, data, padding.PKCS1v15(), algo)  # type: ignore[arg-type]
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            issuer_key.verify(signature, data, ec.ECDSA(algo))  # type: ignore[arg-type]
        elif isinstance(issuer_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            issuer_key.verify(signature, data)
        elif isinstance(issuer_key, dsa.DSAPublicKey):
            issuer_key.verify(signature, data, algo)  # type: ignore[arg-type]
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _crl_status(
    cert: x509.Certificate, issuer: x509.Certificate, trust: TrustStore, at: datetime
) -> tuple[str, datetime | None, str] | None:
    """("good"|"revoked", revoked_at, source) from the freshest CRL that speaks for ``at``."""
    stale_good = False
    for crl in trust.crls:
        if crl.issuer != issuer.subject:
            continue
        try:
            if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
        except (TypeError, ValueError, UnsupportedAlgorithm):
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        updated = crl.last_update_utc
        source = f"CRL of {crl.issuer.rfc4514_string()} issued {iso(updated)}"
        if entry is not None:
            return "revoked", entry.revocation_date_utc, source
        if updated >= at:
            return "good", None, source
        stale_good = True
    if stale_good:
        return "stale", None, "only CRLs issued before the time that matters"
    return None


def _ocsp_signer(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate | None:
    candidates = [issuer, *resp.certificates]
    for signer in candidates:
        if resp.responder_key_hash is not None:
            key_hash = hashlib.sha1(_key_bits(signer)).digest()
            if key_hash != resp.responder_key_hash:
                continue
        elif resp.responder_name != signer.subject:
            continue
        if signer is not issuer:
            # A delegated responder: issued by the CA, with id-kp-OCSPSigning.
            try:
                signer.verify_directly_issued_by(issuer)
                eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
                continue
        if _verify_with(
            signer.public_key(),
            resp.signature,
            resp.tbs_response_bytes,
            resp.signature_hash_algorithm,
        ):
            return signer
    return None


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (what OCSP key hashes cover)."""
    from asn1crypto import keys

    spki = keys.PublicKeyInfo.load(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return bytes(spki["public_key"].contents[1:])


def _ocsp_status(
    cert: x509.Certificate, issuer: x509.Certificate, trust: TrustStore, at: datetime
) -> tuple[str, datetime | None, str] | None:
    found = None
    for resp in trust.ocsps:
        if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            continue
        try:
            singles = list(resp.responses)
        except ValueError:
            continue
        for single in singles:
            if single.serial_number != cert.serial_number:
                continue
            algo = single.hash_algorithm
            try:
                name_hash = hashlib.new(algo.name, cert.issuer.public_bytes()).digest()
                key_hash = hashlib.new(algo.name, _key_bits(issuer)).digest()
            except (ValueError, TypeError):
                continue
            if single.issuer_name_hash != name_hash or single.issuer_key_hash != key_hash:
                continue
            if _ocsp_signer(resp, issuer) is None:
                continue
            source = f"OCSP response produced {iso(resp.produced_at_utc)}"
            if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
                return "revoked", single.revocation_time_utc, source
            if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
                if single.this_update_utc >= at:
                    return "good", None, source
                found = ("stale", None, "only OCSP responses from before the time that matters")
    return found


def check_revocation(
    path: Sequence[x509.Certificate],
    trust: TrustStore,
    *,
    at: datetime,
    poe: bool,
    what: Text,
) -> RevocationResult:
    """Was any certificate of ``path`` (leaf first, anchor last) revoked at ``at``?

    Revocation data counts when its issuer signed it; it speaks for ``at`` when issued at or
    after ``at`` (status then is proven for that moment), or when it lists a revocation dated
    before ``at``. Revocation *after* ``at`` leaves a signature with proof of existence at
    ``at`` valid (EN 319 102-1 §5.6.2.4).
    """
    per_cert: list[dict[str, str | None]] = []
    worst: tuple[int, Status, Sub | None, Text] = (0, Status.PASSED, None, Text("", ""))
    for i, cert in enumerate(path[:-1]):
        issuer = path[i + 1]
        status = _ocsp_status(cert, issuer, trust, at) or _crl_status(cert, issuer, trust, at)
        entry: dict[str, str | None] = {
            "subject": cert.subject.rfc4514_string(),
            "serial": f"{cert.serial_number:x}",
            "status": "unknown",
            "source": None,
            "revoked_at": None,
        }
        if status is not None:
            entry["status"], revoked_at, entry["source"] = status
            entry["revoked_at"] = iso(revoked_at)
            if status[0] == "stale":
                entry["status"] = "unknown"
        per_cert.append(entry)
        is_ca = i > 0
        if entry["status"] == "revoked":
            revoked_at = status[1] if status else None
            if revoked_at is not None and revoked_at > at:
                continue  # revoked later: the proven signature stays valid
            if poe and not is_ca:
                candidate = (
                    3,
                    Status.FAILED,
                    Sub.REVOKED,
                    Text(
                        f"签名时{what.zh}的证书已被吊销（{iso(revoked_at)}）。",
                        f"{what.en}'s certificate had been revoked ({iso(revoked_at)}) when "
                        "the signature was made.",
                    ),
                )
            else:
                candidate = (
                    2,
                    Status.INDETERMINATE,
                    Sub.REVOKED_CA_NO_POE if is_ca else Sub.REVOKED_NO_POE,
                    Text(
                        f"证书链中的证书已被吊销（{iso(revoked_at)}），且无法证明签名早于吊销。",
                        f"A certificate of the chain was revoked ({iso(revoked_at)}) and "
                        "nothing proves the signature was made before that.",
                    ),
                )
            worst = max(worst, candidate, key=lambda w: w[0])
        elif entry["status"] == "unknown":
            candidate = (
                1,
                Status.INDETERMINATE,
                Sub.TRY_LATER,
                Text(
                    f"没有离线可用的吊销信息（CRL/OCSP）来确认{what.zh}的证书在 {iso(at)} "
                    "未被吊销；可将签发机构的 CRL 加入信任证书包或证明文件后重试。",
                    f"No revocation data (CRL/OCSP) is available offline to show that "
                    f"{what.en}'s certificates were not revoked at {iso(at)}; add the issuer's "
                    "CRL to the trust bundle or the proofs file and verify again.",
                ),
            )
            worst = max(worst, candidate, key=lambda w: w[0])
    if worst[0] == 0:
        late = [e for e in per_cert if e["status"] == "revoked"]
        reason = Text(
            f"{what.zh}的证书在 {iso(at)} 未被吊销（依据离线吊销信息）。",
            f"{what.en}'s certificates were not revoked at {iso(at)} (offline revocation data).",
        )
        if late:
            reason = reason + Text(
                "注意：证书在此之后被吊销，但签名已有可信时间证明早于吊销。",
                "Note: a certificate was revoked later, but a trusted time proves the "
                "signature came first.",
            )
        return RevocationResult(Status.PASSED, None, reason, per_cert)
    return RevocationResult(worst[1], worst[2], worst[3], per_cert)
