"""Transparency-log proofs checked from nothing but their JSON (RFC 9162 §2.1.3.2, §4.10).

The hashing and the inclusion-proof algorithm are ``signing.translog``'s (pure: no database,
clock or network, so the verifier stays offline); what this adds is the classification of a
signed tree head's every failure as an ETSI status and sub-indication, with trust, revocation
and the tree head's time-stamp taken from the verifier's trust store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certs.pki import load_pem_certificates

from ..translog import STH_FIELDS, STH_STAMP_GRACE, STH_STAMP_WINDOW, canonical_json
from ..translog import leaf_hash as leaf_hash_of
from ..translog import verify_inclusion as verify_inclusion_path
from .model import Status, Sub, Text, iso, tech
from .paths import cert_facts, check_path, check_revocation
from .trust import TrustStore, sound, spki_der
from .tst import check_token, digest_of

__all__ = ["canonical_json", "check_sth", "leaf_hash_of", "verify_inclusion_path"]

LOG = Text("透明日志", "the transparency log")


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time without time zone")
    return moment.astimezone(UTC)


class SthResult:
    def __init__(
        self, status: Status, sub: Sub | None, reason: Text, facts: dict[str, Any]
    ) -> None:
        self.status, self.sub, self.reason, self.facts = status, sub, reason, facts
        self.root: bytes | None = None
        self.tree_size: int | None = None
        self.gen_time: datetime | None = None


def check_sth(
    sth: Mapping[str, Any], trust: TrustStore, *, now: datetime | None = None
) -> SthResult:
    """Signature by the log key, the key's chain to a trust anchor, ``log_id`` = SHA-256 of
    the key, and the RFC 3161 time-stamp over the raw signature bytes. ``now``: the
    validation time (default: the present)."""
    facts: dict[str, Any] = {}
    try:
        log_id = str(sth["log_id"])
        tree_size = int(sth["tree_size"])
        root = bytes.fromhex(str(sth["root_hash"]))
        when = _parse_time(str(sth["timestamp"]))
        signature = base64.b64decode(str(sth["signature"]), validate=True)
        stamp = base64.b64decode(str(sth["time_stamp"]), validate=True)
        chain = sound(load_pem_certificates(str(sth["signer_chain"]).encode("ascii")))
        if tree_size < 1 or len(root) != 32 or not chain:
            raise ValueError("tree size, root hash or signer chain")
    except (KeyError, TypeError, ValueError, binascii.Error, UnicodeError) as exc:
        return SthResult(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            tech("签名树头（STH）格式错误。", "The signed tree head is malformed.", str(exc)),
            facts,
        )
    facts.update(
        {"log_id": log_id, "tree_size": tree_size, "root_hash": root.hex(), "timestamp": iso(when)}
    )
    signer = chain[0]
    key = signer.public_key()
    facts["signer"] = cert_facts(signer)
    if hashlib.sha256(spki_der(key)).hexdigest() != log_id:
        return SthResult(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            Text(
                "签名树头的日志标识与签名密钥不符。",
                "The tree head's log_id is not the SHA-256 of its signing key.",
            ),
            facts,
        )
    signed = canonical_json({k: sth[k] for k in STH_FIELDS})
    try:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidSignature("not an ECDSA key")
        key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return SthResult(
            Status.FAILED,
            Sub.SIG_CRYPTO_FAILURE,
            Text("签名树头的签名无效。", "The tree head's signature is invalid."),
            facts,
        )
    token = check_token(
        stamp,
        digest=digest_of(signature),
        trust=trust,
        shipped=chain[1:],
        what=Text("签名树头的签名", "the tree head's signature"),
        valid_until=now,
    )
    facts["time_stamp"] = token.facts
    poe = token.ok and token.gen_time is not None
    at = token.gen_time if poe and token.gen_time is not None else (now or datetime.now(UTC))
    path = check_path(signer, chain[1:], trust, at=at, poe=poe, what=LOG)
    if not path.ok:
        return SthResult(path.status, path.sub, path.reason, facts)
    revocation = check_revocation(path.path, trust, at=at, poe=poe, what=LOG)
    facts["revocation"] = revocation.per_cert
    if revocation.status is not Status.PASSED and not revocation.unavailable:
        return SthResult(revocation.status, revocation.sub, revocation.reason, facts)
    if not token.ok:
        return SthResult(token.status, token.sub, token.reason, facts)
    assert token.gen_time is not None
    if not when - STH_STAMP_GRACE <= token.gen_time <= when + STH_STAMP_WINDOW:
        return SthResult(
            Status.INDETERMINATE,
            Sub.TIMESTAMP_ORDER_FAILURE,
            Text(
                "签名树头的时间戳与其声明的时间相差超过 10 分钟。",
                "The tree head's time-stamp is not within 10 minutes after its stated time.",
            ),
            facts,
        )
    result = SthResult(
        Status.PASSED,
        None,
        Text(
            f"签名树头有效：日志在 {iso(token.gen_time)} 含有 {tree_size} 条记录。",
            f"Valid tree head: the log held {tree_size} entries at {iso(token.gen_time)}.",
        ),
        facts,
    )
    result.root, result.tree_size, result.gen_time = root, tree_size, token.gen_time
    return result


def hexes(values: Any) -> list[bytes] | None:
    if not isinstance(values, list):
        return None
    try:
        out = [bytes.fromhex(str(v)) for v in values]
    except ValueError:
        return None
    return out if all(len(v) == 32 for v in out) else None
