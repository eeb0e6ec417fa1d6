"""RFC 3161 time-stamp tokens checked for a report: every step classified for ETSI.

The parsing and CMS checks are ``signing.tokens`` and ``signing.timestamp`` (shared with the
TSA client); what this adds is the mapping of each failure to a status and sub-indication, and
revocation of the TSA's certificates from offline data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .. import tokens
from ..timestamp import parse_any, subject_name
from .model import Status, Sub, Text, iso, tech
from .paths import PathResult, RevocationResult, cert_facts, check_path, check_revocation
from .trust import TrustStore, sound

__all__ = ["TokenResult", "check_token"]

TSA = Text("时间戳机构", "the time-stamp authority")


@dataclass
class TokenResult:
    status: Status
    sub: Sub | None
    reason: Text
    parsed: tokens.ParsedToken | None = None
    signer: x509.Certificate | None = None
    path: PathResult | None = None
    revocation: RevocationResult | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED

    @property
    def gen_time(self) -> datetime | None:
        return self.parsed.gen_time if self.parsed is not None else None


def check_token(
    der: bytes,
    *,
    digest: Callable[[str], bytes | None],
    trust: TrustStore,
    shipped: Sequence[x509.Certificate] = (),
    what: Text,
    valid_until: datetime | None = None,
    poe: datetime | None = None,
    revocation_at: datetime | None = None,
    validation_time: datetime | None = None,
) -> TokenResult:
    """Verify a token (or response) whose imprint must be ``digest(algorithm)``.

    ``digest`` returns the hash of the time-stamped data with the named algorithm (or None if
    that data is unavailable); ``what`` names the data for messages ("the package signature").

    The TSA's chain must be valid at genTime (it stamped with it) and still at ``valid_until``
    (default: now), because a token only proves its own time while its TSA's certificate is
    unexpired -- unless ``poe``, a later proven time (an archive time-stamp covering this
    token), falls within the chain's validity (EN 319 102-1 past validation, the contract's
    archive time-stamp chain). Revocation is checked at ``revocation_at`` (default genTime)
    and reported separately in ``revocation``.

    ``validation_time``: a validation at that past moment (``--at``). A token made after it
    did not exist yet then, so it proves nothing as of that moment (INDETERMINATE NO_POE);
    pass ``valid_until`` the same moment so that the TSA must have been valid then.
    """
    try:
        parsed = parse_any(der)
    except ValueError as exc:
        return TokenResult(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            tech(
                f"{what.zh}的时间戳不是有效的 RFC 3161 时间戳。",
                f"The time-stamp of {what.en} is not a valid RFC 3161 time-stamp.",
                str(exc),
            ),
        )
    facts: dict[str, Any] = {
        "gen_time": iso(parsed.gen_time),
        "serial": f"{parsed.serial:x}",
        "policy": parsed.policy_oid,
        "imprint_algorithm": parsed.imprint_algorithm,
        "imprint": parsed.imprint.hex(),
    }
    if parsed.imprint_algorithm not in tokens.IMPRINT_HASHES:
        return TokenResult(
            Status.INDETERMINATE,
            Sub.CRYPTO_CONSTRAINTS_FAILURE,
            tech(
                "时间戳使用的摘要算法已不足以作为证据。",
                "The time-stamp uses a digest algorithm too weak to rely on.",
                parsed.imprint_algorithm,
            ),
            parsed,
            facts=facts,
        )
    expected = digest(parsed.imprint_algorithm)
    if expected is None:
        return TokenResult(
            Status.INDETERMINATE,
            Sub.SIGNED_DATA_NOT_FOUND,
            Text(
                f"找不到被加盖时间戳的数据（{what.zh}）。",
                f"The time-stamped data ({what.en}) is not available.",
            ),
            parsed,
            facts=facts,
        )
    if expected != parsed.imprint:
        return TokenResult(
            Status.FAILED,
            Sub.HASH_FAILURE,
            Text(
                f"时间戳针对的不是{what.zh}（摘要不一致）：它证明的是别的数据。",
                f"The time-stamp does not cover {what.en} (digest mismatch): it stamps other data.",
            ),
            parsed,
            facts=facts,
        )
    token_certs = sound(parsed.certificates)
    try:
        signer = tokens.find_signer(parsed, [*token_certs, *shipped, *trust.pool, *trust.anchors])
        if not sound([signer]):
            raise ValueError("the TSA certificate in the token is damaged")
    except ValueError as exc:
        return TokenResult(
            Status.INDETERMINATE,
            Sub.NO_SIGNING_CERTIFICATE_FOUND,
            tech(
                "找不到时间戳机构的证书。",
                "The time-stamp authority's certificate cannot be found.",
                str(exc),
            ),
            parsed,
            facts=facts,
        )
    facts["tsa"] = subject_name(signer)
    facts["tsa_certificate"] = cert_facts(signer)
    try:
        tokens.check_signature(parsed, signer)
    except ValueError as exc:
        unsupported = "unsupported" in str(exc)
        return TokenResult(
            Status.INDETERMINATE if unsupported else Status.FAILED,
            Sub.CRYPTO_CONSTRAINTS_FAILURE if unsupported else Sub.SIG_CRYPTO_FAILURE,
            tech(
                "时间戳的数字签名无效（时间戳已被改动或损坏）。",
                "The time-stamp's digital signature is invalid (it was altered or damaged).",
                str(exc),
            ),
            parsed,
            signer,
            facts=facts,
        )
    if validation_time is not None and parsed.gen_time > validation_time:
        return TokenResult(
            Status.INDETERMINATE,
            Sub.NO_POE,
            Text(
                f"时间戳产生于 {iso(parsed.gen_time)}，晚于验证时间 {iso(validation_time)}："
                "在该时间它尚不存在，不能证明任何事。",
                f"The time-stamp was made at {iso(parsed.gen_time)}, after the validation time "
                f"{iso(validation_time)}: as of then it did not exist, and proves nothing.",
            ),
            parsed,
            signer,
            facts=facts,
        )
    path = check_path(
        signer,
        [*token_certs, *shipped],
        trust,
        at=parsed.gen_time,
        poe=True,
        required_eku=ExtendedKeyUsageOID.TIME_STAMPING,
        eku_must_be_critical=True,
        what=TSA,
    )
    if path.path:
        facts["chain"] = [cert_facts(c) for c in path.path]
    revocation = None
    if path.ok:
        revocation = check_revocation(
            path.path, trust, at=revocation_at or parsed.gen_time, poe=True, what=TSA
        )
        facts["revocation"] = revocation.per_cert
    if not path.ok:
        return TokenResult(
            path.status, path.sub, path.reason, parsed, signer, path, revocation, facts
        )
    until = valid_until or datetime.now(UTC)
    expiry = min(c.not_valid_after_utc for c in path.path)
    if expiry < until:
        if poe is not None and parsed.gen_time <= poe <= expiry:
            facts["validated_by_archive_time_stamp"] = iso(poe)
        else:
            return TokenResult(
                Status.INDETERMINATE,
                Sub.OUT_OF_BOUNDS_NO_POE,
                Text(
                    f"时间戳机构的证书已于 {iso(expiry)} 过期，且没有之后的（归档）时间戳"
                    "证明该时间戳产生于证书有效期内；证据包需要续期（归档时间戳）。",
                    f"The time-stamp authority's certificate expired on {iso(expiry)} and no "
                    "later (archive) time-stamp proves this time-stamp existed before that; the "
                    "package needs renewal (archive time-stamps).",
                ),
                parsed,
                signer,
                path,
                revocation,
                facts,
            )
    return TokenResult(
        Status.PASSED,
        None,
        Text(
            f"时间戳有效：{subject_name(signer)} 证明{what.zh}在 {iso(parsed.gen_time)} 已经存在。",
            f"Valid time-stamp: {subject_name(signer)} proves that {what.en} existed at "
            f"{iso(parsed.gen_time)}.",
        ),
        parsed,
        signer,
        path,
        revocation,
        facts,
    )


def digest_of(data: bytes) -> Callable[[str], bytes | None]:
    return lambda algorithm: hashlib.new(algorithm, data).digest()
