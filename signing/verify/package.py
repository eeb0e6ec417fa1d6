"""Verification of a WACZ evidence package (``docs/evidence-package.md``), check by check.

One sequential pass over the file (``container.scan``) hashes everything and feeds the WARC
checker and the small JSON/token members; the checks then work on what that pass collected.
See ``signing/verify/__init__.py`` for the list of checks and their ETSI mapping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, BinaryIO

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from ..timestamp import parse_any
from .container import Consumer, Entry, Layout, Limits, MemberReader, ScanResult, read_layout, scan
from .manifest_signature import (
    STAMP_GRACE,
    Policy,
    Wording,
    check_identity_signature,
    fold_revocation,
    parse_time,
    pem_certs,
    verify_hash_signature,
)
from .merkle import canonical_json, check_sth, hexes, leaf_hash_of, verify_inclusion_path
from .model import Check, Status, Sub, Text, iso, tech
from .pdf import PdfReport, pdf_checks, validate_pdf
from .trust import TrustStore
from .tst import check_token, digest_of
from .warc import WarcResult, check_warc

__all__ = ["PackageOptions", "guarded", "verify_package"]

log = logging.getLogger(__name__)

DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
MANIFEST = "files/manifest.json"
LOG_ENTRY = "files/log-entry.json"
CERTIFICATE = "files/certificate.pdf"
_TSR_RE = re.compile(r"^files/manifest(?:\.(\d+))?\.tsr$")
_WARC_RE = re.compile(r"^archive/[^/]+\.warc(?:\.gz)?$")
_HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
_HEX_RE = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
MAX_JSON = 16 * 1024 * 1024
MAX_TOKEN = 1024 * 1024
MAX_PDF = 256 * 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
#: The manifest is stamped after the capture ends (local clock: allow this much skew).
CLOCK_SKEW = timedelta(minutes=10)

T_CONTAINER = Text("ZIP 容器结构", "ZIP container")
T_DIGEST = Text("数据包摘要（datapackage-digest.json）", "Package digest (datapackage-digest.json)")
T_SIGNATURE = Text("证据包签名与签名者证书链", "Package signature and signer's certificate chain")
T_SIG_REVOCATION = Text(
    "签名者证书吊销状态（签名时）", "Signer certificate revocation (at signing)"
)
T_TIMESTAMP = Text("证据包签名的 RFC 3161 时间戳", "RFC 3161 time-stamp of the package signature")
T_RESOURCES = Text("文件哈希（datapackage.json）", "File hashes (datapackage.json)")
T_WARC = Text("WARC 记录摘要", "WARC record digests")
T_WARC_RES = Text(
    "截图/PDF/来源记录与文件副本一致", "Screenshot/PDF/provenance records match files/"
)
T_MANIFEST = Text("取证清单（manifest.json）", "Capture manifest (manifest.json)")
T_MANIFEST_TS = Text(
    "取证清单的可信时间戳（manifest.tsr）", "Capture manifest time-stamp (manifest.tsr)"
)
T_CERT = Text("取证证书（certificate.pdf）", "Evidence certificate (certificate.pdf) ")
T_CERT_CONTENT = Text(
    "取证证书所列哈希与证据包一致", "Evidence certificate hashes match the package"
)
T_LOG = Text("透明日志收录证明", "Transparency log inclusion proof")
T_PROOFS = Text("证明文件（proofs.json）", "Proofs file (proofs.json)")
T_ARCHIVE = Text("归档时间戳（长期保存）", "Archive time-stamps (long-term preservation)")

PACKAGE_SIGNATURE = Text("证据包签名", "the package signature")
SIGNER = Text("签名者", "the signer")
MANIFEST_DATA = Text("取证清单", "the capture manifest")


@dataclass(frozen=True)
class PackageOptions:
    require_revocation: bool = False
    limits: Limits = field(default_factory=Limits)
    #: The validation time (default: the present).
    now: datetime | None = None
    #: ``now`` is a past moment asked for (``--at``): proofs made after it did not exist then.
    past: bool = False


@dataclass
class _Collected:
    """What the sequential pass kept for the checks."""

    small: dict[str, bytes] = field(default_factory=dict)
    too_big: set[str] = field(default_factory=set)
    certificate: IO[bytes] | None = None
    warcs: dict[str, WarcResult] = field(default_factory=dict)


def _keep(limit: int, name: str, collected: _Collected) -> Consumer:
    def consume(reader: MemberReader) -> None:
        parts: list[bytes] = []
        total = 0
        while True:
            data = reader.read(min(1024 * 1024, limit + 1 - total))
            if not data:
                break
            parts.append(data)
            total += len(data)
            if total > limit:
                collected.too_big.add(name)
                return
        collected.small[name] = b"".join(parts)

    return consume


def _spool(collected: _Collected) -> Consumer:
    def consume(reader: MemberReader) -> None:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        total = 0
        while data := reader.read(1024 * 1024):
            total += len(data)
            if total > MAX_PDF:
                spool.close()
                collected.too_big.add(CERTIFICATE)
                return
            spool.write(data)
        spool.seek(0)
        collected.certificate = spool

    return consume


def _warc(name: str, collected: _Collected) -> Consumer:
    def consume(reader: MemberReader) -> None:
        result = WarcResult()
        collected.warcs[name] = result
        check_warc(reader, result)

    return consume


def _consumer_for(collected: _Collected) -> Callable[[Entry], Consumer | None]:
    def choose(entry: Entry) -> Consumer | None:
        name = entry.name
        if name in (DATAPACKAGE, DIGEST, MANIFEST, LOG_ENTRY):
            return _keep(MAX_JSON, name, collected)
        if _TSR_RE.match(name):
            return _keep(MAX_TOKEN, name, collected)
        if name == CERTIFICATE:
            return _spool(collected)
        if _WARC_RE.match(name):
            return _warc(name, collected)
        return None

    return choose


@dataclass
class _State:
    layout: Layout
    scan: ScanResult
    collected: _Collected
    trust: TrustStore
    options: PackageOptions
    now: datetime
    proofs: dict[str, Any] | None
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    datapackage: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    package_poe: datetime | None = None
    #: Serial numbers (hex) of the manifest's tokens, in file order.
    manifest_serials: list[str] = field(default_factory=list)
    #: Oldest genTime of a fully valid archive time-stamp chain: proof the package existed.
    archive_poe: datetime | None = None

    @property
    def past(self) -> datetime | None:
        """The validation time if it is a past moment asked for, else None."""
        return self.now if self.options.past else None

    def sha(self, name: str) -> str | None:
        entry = self.entries.get(name)
        return entry.sha256 if entry is not None and entry.complete else None

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check


def verify_package(
    fh: BinaryIO,
    size: int,
    *,
    trust: TrustStore,
    proofs: bytes | None,
    options: PackageOptions,
) -> tuple[list[Check], dict[str, Any], str]:
    """All checks of a WACZ package; returns (checks, summary facts, file SHA-256)."""
    now = options.now or datetime.now(UTC)
    layout = read_layout(fh, size, options.limits)
    collected = _Collected()
    try:
        result = scan(fh, layout, _consumer_for(collected), options.limits)
        state = _State(layout, result, collected, trust, options, now, None)
        state.entries = layout.by_name()
        proofs_check = _load_proofs(state, proofs)
        _run_checks(state, proofs_check)
    finally:
        if collected.certificate is not None:
            collected.certificate.close()
    state.facts["package_sha256"] = result.sha256
    return state.checks, state.facts, result.sha256


def _run_checks(state: _State, proofs_check: Check | None) -> None:
    state.add(_check_container(state))
    if state.layout.fatal:
        return
    steps: list[tuple[str, Text, Callable[[], list[Check]]]] = [
        ("package.digest", T_DIGEST, lambda: [_check_digest(state)]),
        ("package.signature", T_SIGNATURE, lambda: _signature_checks(state)),
        ("package.resources", T_RESOURCES, lambda: [_check_resources(state)]),
        ("warc.records", T_WARC, lambda: [_check_warc(state)]),
        ("warc.resources", T_WARC_RES, lambda: [_check_warc_resources(state)]),
        ("manifest.content", T_MANIFEST, lambda: [_check_manifest(state)]),
        ("manifest.timestamp", T_MANIFEST_TS, lambda: _check_manifest_tokens(state)),
        ("certificate.signature", T_CERT, lambda: _check_certificate(state)),
        ("proofs.file", T_PROOFS, lambda: [proofs_check] if proofs_check else []),
        ("log.inclusion", T_LOG, lambda: [_check_log(state)]),
        ("proofs.archive_timestamps", T_ARCHIVE, list),
    ]
    # The archive time-stamps are checked first (their proof of existence serves the package's
    # own tokens) but reported last, in the order of the contract.
    archive = guarded("proofs.archive_timestamps", T_ARCHIVE, lambda: [_check_archive(state)])
    for check_id, title, step in steps:
        for check in (
            archive if check_id == "proofs.archive_timestamps" else guarded(check_id, title, step)
        ):
            state.add(check)


def _signature_checks(state: _State) -> list[Check]:
    signature, tokens, revocation = _check_signature(state)
    return [signature, *([revocation] if revocation is not None else []), *tokens]


def guarded(check_id: str, title: Text, step: Callable[[], list[Check]]) -> list[Check]:
    """Run one check; an exception becomes that check's result instead of a crash.

    Parse errors of damaged evidence (``ValueError`` and kin from cryptography/asn1crypto
    deep inside a certificate or token) are FORMAT_FAILURE; anything else is the verifier's
    own failure and is reported INDETERMINATE, flagged ``internal_error``."""
    try:
        return step()
    except (ValueError, TypeError, KeyError, IndexError, UnicodeError, OverflowError) as exc:
        return [
            Check(
                check_id,
                title,
                Status.FAILED,
                tech(
                    "数据已损坏，无法完成此项检查。",
                    "The data is damaged; this check could not be completed.",
                    f"{type(exc).__name__}: {exc}"[:300],
                ),
                Sub.FORMAT_FAILURE,
                facts={"malformed": True},
            )
        ]
    except Exception as exc:
        log.exception("verifier error in %s", check_id)
        return [
            Check(
                check_id,
                title,
                Status.INDETERMINATE,
                tech(
                    "核验程序内部错误，此项检查未能完成。",
                    "Internal error of the verifier: this check could not be completed.",
                    f"{type(exc).__name__}: {exc}"[:300],
                ),
                Sub.GENERIC,
                facts={"internal_error": True},
            )
        ]


# -- helpers --------------------------------------------------------------------------------


def _json(state: _State, name: str) -> tuple[Any, Check | None]:
    """Parsed JSON of a member, or the reason it cannot be had (as a FAILED check body)."""
    if name in state.collected.too_big:
        return None, _partial(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            Text(f"{name} 过大。", f"{name} is implausibly large."),
        )
    entry = state.entries.get(name)
    if entry is None or not entry.complete or name not in state.collected.small:
        return None, _partial(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            Text(f"{name} 已损坏，无法读取。", f"{name} is damaged and cannot be read."),
        )
    try:
        return json.loads(state.collected.small[name].decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, _partial(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            tech(f"{name} 不是有效的 JSON。", f"{name} is not valid JSON.", str(exc)[:200]),
        )


def _partial(status: Status, sub: Sub | None, reason: Text) -> Check:
    return Check("_", Text("", ""), status, reason, sub)


def _as(check: Check, check_id: str, title: Text, **facts: Any) -> Check:
    check.id, check.title = check_id, title
    check.facts.update(facts)
    return check


def _na(check_id: str, title: Text, reason: Text) -> Check:
    return Check(check_id, title, Status.NOT_APPLICABLE, reason)


# -- the container ----------------------------------------------------------------------------


def _check_container(state: _State) -> Check:
    layout = state.layout
    problems = list(layout.problems) + list(state.scan.problems)
    for entry in layout.entries:
        problems += entry.problems
    facts = {
        "entries": len(layout.entries),
        "size": layout.size,
        "comment_bytes": len(layout.comment),
    }
    if problems:
        return Check(
            "zip.container",
            T_CONTAINER,
            Status.FAILED,
            problems[0],
            Sub.FORMAT_FAILURE,
            details=problems[1:50],
            facts=facts,
        )
    details = []
    if layout.comment:
        details.append(
            Text(
                f"ZIP 含有 {len(layout.comment)} 字节的注释，不属于证据内容，未被签名覆盖。",
                f"The ZIP has a {len(layout.comment)}-byte comment; it is not evidence and no "
                "signature covers it.",
            )
        )
    return Check(
        "zip.container",
        T_CONTAINER,
        Status.PASSED,
        Text(
            f"ZIP 结构完好：{len(layout.entries)} 个条目，无不安全路径、无重名、无加密、大小与压缩"
            "比在限值内，每个条目的 CRC-32 正确，文件中没有不属于任何条目的字节。",
            f"Sound ZIP structure: {len(layout.entries)} entries, no unsafe paths, no duplicate "
            "names, no encryption, sizes and compression ratios within limits, every entry's "
            "CRC-32 correct, and no byte of the file outside an entry.",
        ),
        details=details,
        facts=facts,
    )


# -- datapackage-digest.json ------------------------------------------------------------------


def _check_digest(state: _State) -> Check:
    if DATAPACKAGE not in state.entries:
        return Check(
            "package.digest",
            T_DIGEST,
            Status.INDETERMINATE,
            Text(
                "证据包缺少 datapackage.json（被签名的文件清单），无法验证。",
                "The package has no datapackage.json (the signed list of files): nothing can be "
                "verified.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
        )
    if DIGEST not in state.entries:
        return Check(
            "package.digest",
            T_DIGEST,
            Status.INDETERMINATE,
            Text(
                "证据包没有 datapackage-digest.json：它未经签名。",
                "The package has no datapackage-digest.json: it is not signed.",
            ),
            Sub.NO_SIGNING_CERTIFICATE_FOUND,
        )
    digest, problem = _json(state, DIGEST)
    if problem is not None:
        return _as(problem, "package.digest", T_DIGEST)
    dp_sha = state.sha(DATAPACKAGE)
    if dp_sha is None:
        return Check(
            "package.digest",
            T_DIGEST,
            Status.FAILED,
            Text("datapackage.json 已损坏。", "datapackage.json is damaged."),
            Sub.FORMAT_FAILURE,
        )
    if not isinstance(digest, dict) or digest.get("path") != DATAPACKAGE:
        return Check(
            "package.digest",
            T_DIGEST,
            Status.FAILED,
            Text(
                "datapackage-digest.json 没有指向 datapackage.json。",
                "datapackage-digest.json does not name datapackage.json.",
            ),
            Sub.FORMAT_FAILURE,
        )
    claimed = digest.get("hash")
    facts = {"datapackage_sha256": dp_sha, "claimed": claimed}
    if claimed != f"sha256:{dp_sha}":
        return Check(
            "package.digest",
            T_DIGEST,
            Status.FAILED,
            Text(
                "datapackage.json 与其被签名的哈希不一致：文件清单在签名后被改动。",
                "datapackage.json does not match its signed hash: the list of files was changed "
                "after signing.",
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    signed = digest.get("signedData")
    if isinstance(signed, dict) and signed.get("hash") != claimed:
        return Check(
            "package.digest",
            T_DIGEST,
            Status.FAILED,
            Text("签名数据针对的是另一个哈希值。", "The signature data is for another hash."),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    return Check(
        "package.digest",
        T_DIGEST,
        Status.PASSED,
        Text(
            f"datapackage.json 的 SHA-256 与签名数据一致（{dp_sha[:16]}…）。",
            f"datapackage.json's SHA-256 matches the signed digest ({dp_sha[:16]}...).",
        ),
        facts=facts,
    )


# -- the package signature --------------------------------------------------------------------


def _signed_data(state: _State) -> dict[str, Any] | None:
    digest = state.collected.small.get(DIGEST)
    if digest is None:
        return None
    try:
        data = json.loads(digest)
    except ValueError:
        return None
    signed = data.get("signedData") if isinstance(data, dict) else None
    return signed if isinstance(signed, dict) else None


def _check_signature(state: _State) -> tuple[Check, list[Check], Check | None]:
    """(package.signature, [package.timestamp...], package.signature.revocation)."""
    signed = _signed_data(state)
    if signed is None:
        reason = Text(
            "证据包未签名（没有 signedData）。", "The package is not signed (no signedData)."
        )
        return (
            Check(
                "package.signature",
                T_SIGNATURE,
                Status.INDETERMINATE,
                reason,
                Sub.NO_SIGNING_CERTIFICATE_FOUND,
            ),
            [],
            None,
        )
    facts: dict[str, Any] = {
        "mode": "identity" if signed.get("domainCert") else "anonymous",
        "created": signed.get("created"),
        "software": signed.get("software"),
        "domain": signed.get("domain"),
    }
    try:
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
        if not signature:
            raise ValueError("empty")
    except (binascii.Error, ValueError):
        return (
            _signature_failed(
                Text("签名值缺失或不是 base64。", "The signature value is missing or not base64."),
                Sub.FORMAT_FAILURE,
                facts,
            ),
            [],
            None,
        )
    hash_str = str(signed.get("hash", ""))
    if signed.get("domainCert"):
        return _identity_signature(state, signed, signature, facts)
    if signed.get("publicKey"):
        return (
            _anonymous_signature(state, signed, signature, hash_str, facts),
            [
                _na(
                    "package.timestamp",
                    T_TIMESTAMP,
                    Text(
                        "匿名签名模式没有时间戳：创建时间仅为签名者自称。",
                        "Anonymous signatures carry no time-stamp: the creation time is only "
                        "claimed by the signer.",
                    ),
                )
            ],
            None,
        )
    return (
        _signature_failed(
            Text(
                "签名数据既没有签名者证书也没有公钥。",
                "The signature data names neither a signer certificate nor a public key.",
            ),
            Sub.FORMAT_FAILURE,
            facts,
        ),
        [],
        None,
    )


def _signature_failed(reason: Text, sub: Sub, facts: dict[str, Any]) -> Check:
    return Check("package.signature", T_SIGNATURE, Status.FAILED, reason, sub, facts=facts)


def _anonymous_signature(
    state: _State, signed: dict[str, Any], signature: bytes, hash_str: str, facts: dict[str, Any]
) -> Check:
    try:
        spki = base64.b64decode(str(signed["publicKey"]), validate=True)
        key = serialization.load_der_public_key(spki)
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        return _signature_failed(
            Text(
                "签名数据中的公钥无法读取。", "The public key in the signature data cannot be read."
            ),
            Sub.FORMAT_FAILURE,
            facts,
        )
    facts["public_key_sha256"] = hashlib.sha256(spki).hexdigest()
    if not verify_hash_signature(key, signature, hash_str.encode("utf-8")):
        return _signature_failed(
            Text(
                "签名值与公钥不符：签名无效。", "The signature does not verify with its public key."
            ),
            Sub.SIG_CRYPTO_FAILURE,
            facts,
        )
    if not state.trust.knows_key(spki):
        return Check(
            "package.signature",
            T_SIGNATURE,
            Status.INDETERMINATE,
            Text(
                "匿名签名在数学上有效，但签名公钥不在信任证书包中：任何人都可以生成这样的签名。请通过可靠"
                "渠道获取签名者公钥并用 --trust 提供。",
                "The anonymous signature is mathematically valid, but its public key is not in the "
                "trust bundle: anyone could have made it. Obtain the signer's public key through a "
                "reliable channel and give it with --trust.",
            ),
            Sub.NO_CERTIFICATE_CHAIN_FOUND,
            facts=facts,
        )
    return Check(
        "package.signature",
        T_SIGNATURE,
        Status.PASSED,
        Text(
            "签名有效，签名公钥在信任证书包中（匿名签名模式，无时间戳）。",
            "Valid signature by a public key in the trust bundle (anonymous mode, no time-stamp).",
        ),
        facts=facts,
    )


PACKAGE_WORDING = Wording(
    signature_id="package.signature",
    signature_title=T_SIGNATURE,
    revocation_id="package.signature.revocation",
    revocation_title=T_SIG_REVOCATION,
    timestamp_id="package.timestamp",
    timestamp_title=T_TIMESTAMP,
    number_timestamps=True,
    stamped=PACKAGE_SIGNATURE,
    signer=SIGNER,
    invalid=Text(
        "签名值无效：签名不是用该证书的私钥对此证据包做出的。",
        "The signature is invalid: it was not made over this package with the certificate's key.",
    ),
    no_timestamp=Text(
        "证据包签名没有时间戳：没有可信时间证明签名何时产生。",
        "The package signature has no time-stamp: nothing proves when it was made.",
    ),
    late=Text(
        "时间戳时间 {when} 不在签名声称的创建时间 {created} 之后 10 分钟内。",
        "The time-stamp's time {when} is not within 10 minutes after the signature's stated "
        "creation time {created}.",
    ),
    created_invalid=Text(
        "签名数据中的创建时间无效。", "The signature data's created time is invalid."
    ),
    created_window=Text(
        "签名创建时间不在签名证书生效后 7 天内（WACZ 签名规范的要求）。",
        "The signature's created time is not within 7 days after the certificate's start "
        "(a rule of the WACZ signing specification).",
    ),
    passed=Text(
        "签名有效：由 {who} 的证书签署，证书链可追溯到信任的根证书（{root}）。",
        "Valid signature by {who}'s certificate, whose chain leads to the trusted root {root}.",
    ),
)


def _identity_signature(
    state: _State, signed: dict[str, Any], signature: bytes, facts: dict[str, Any]
) -> tuple[Check, list[Check], Check | None]:
    certs = pem_certs(signed.get("domainCert"))
    if not certs:
        return (
            _signature_failed(
                Text(
                    "签名者证书（domainCert）无法读取。",
                    "The signer certificate (domainCert) cannot be read.",
                ),
                Sub.FORMAT_FAILURE,
                facts,
            ),
            [],
            None,
        )
    result = check_identity_signature(
        signed,
        certs,
        signature,
        wording=PACKAGE_WORDING,
        policy=Policy(
            state.trust,
            state.now,
            validation_time=state.past,
            require_revocation=state.options.require_revocation,
            archive_poe=state.archive_poe,
        ),
        facts=facts,
        constraints=lambda: _same_created(state, signed),
    )
    state.package_poe = result.poe
    if result.first_stamp is not None:
        state.facts["package_time_stamped"] = iso(result.first_stamp.gen_time)
        state.facts["package_tsa"] = result.first_stamp.facts.get("tsa")
    if result.signer is not None:
        state.facts["signer"] = result.signer
    return result.signature, result.timestamps, result.revocation


def _same_created(state: _State, signed: dict[str, Any]) -> Text | None:
    """The package's own rule beside the spec's: datapackage.json states the same created."""
    dp = state.datapackage or _datapackage(state)
    if isinstance(dp, dict) and dp.get("created") not in (None, signed.get("created")):
        return Text(
            "签名数据的创建时间与 datapackage.json 中的不一致。",
            "The signature data's created time differs from datapackage.json's.",
        )
    return None


# -- datapackage.json resources ---------------------------------------------------------------


def _datapackage(state: _State) -> dict[str, Any] | None:
    raw = state.collected.small.get(DATAPACKAGE)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _check_resources(state: _State) -> Check:
    if DATAPACKAGE not in state.entries:
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.INDETERMINATE,
            Text(
                "缺少 datapackage.json，无法核对文件。",
                "datapackage.json is missing: the files cannot be checked.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
        )
    dp, problem = _json(state, DATAPACKAGE)
    if problem is not None:
        return _as(problem, "package.resources", T_RESOURCES)
    resources = dp.get("resources") if isinstance(dp, dict) else None
    if not isinstance(resources, list):
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.FAILED,
            Text("datapackage.json 没有文件列表。", "datapackage.json has no list of resources."),
            Sub.FORMAT_FAILURE,
        )
    state.datapackage = dp
    state.facts["title"] = dp.get("title")
    state.facts["main_page_url"] = dp.get("mainPageURL")
    state.facts["main_page_date"] = dp.get("mainPageDate")
    state.facts["created"] = dp.get("created")
    listed: dict[str, dict[str, Any]] = {}
    files = []
    mismatched, missing, unreadable, unsupported = [], [], [], []
    for res in resources:
        if not isinstance(res, dict) or not isinstance(res.get("path"), str):
            return Check(
                "package.resources",
                T_RESOURCES,
                Status.FAILED,
                Text(
                    "datapackage.json 中有无效的文件条目。",
                    "datapackage.json holds an invalid resource entry.",
                ),
                Sub.FORMAT_FAILURE,
            )
        path = res["path"]
        listed[path] = res
        entry = state.entries.get(path)
        row = {"path": path, "listed_sha256": res.get("hash"), "bytes": res.get("bytes")}
        claimed = res.get("hash")
        match = _HASH_RE.match(claimed) if isinstance(claimed, str) else None
        if entry is None:
            row["status"] = "missing"
            missing.append(path)
        elif not entry.complete or entry.sha256 is None:
            row["status"] = "unreadable"
            unreadable.append(path)
        elif match is None:
            row["status"] = "unsupported-hash"
            unsupported.append(path)
        elif match.group(1) != entry.sha256 or (
            isinstance(res.get("bytes"), int) and res["bytes"] != entry.size
        ):
            row["status"] = "mismatch"
            row["actual_sha256"] = entry.sha256
            mismatched.append(path)
        else:
            row["status"] = "ok"
            row["actual_sha256"] = entry.sha256
        files.append(row)
    unlisted = [
        e.name
        for e in state.layout.entries
        if not e.is_dir and e.name not in listed and e.name not in (DATAPACKAGE, DIGEST)
    ]
    for name in unlisted:
        entry = state.entries[name]
        files.append(
            {"path": name, "status": "unlisted", "actual_sha256": entry.sha256, "bytes": entry.size}
        )
    state.facts["files"] = files
    facts = {"files": files}
    if mismatched:
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.FAILED,
            Text(
                f"以下文件与签名清单中的哈希不一致（被改动）：{', '.join(mismatched)}。",
                f"These files do not match the hashes in the signed list (they were altered): "
                f"{', '.join(mismatched)}.",
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    if unreadable:
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.FAILED,
            Text(
                f"以下文件已损坏，无法核对：{', '.join(unreadable)}。",
                f"These files are damaged and cannot be checked: {', '.join(unreadable)}.",
            ),
            Sub.FORMAT_FAILURE,
            facts=facts,
        )
    if unlisted:
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.FAILED,
            Text(
                "证据包中有不在签名清单内的文件（签名不覆盖它们，可能是事后加入）："
                f"{', '.join(unlisted)}。",
                f"The package holds files that are not in the signed list (no signature covers "
                f"them; they may have been added later): {', '.join(unlisted)}.",
            ),
            Sub.FORMAT_FAILURE,
            facts=facts,
        )
    if unsupported:
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.INDETERMINATE,
            Text(
                f"以下文件的哈希算法不受支持：{', '.join(unsupported)}。",
                f"These files use an unsupported hash algorithm: {', '.join(unsupported)}.",
            ),
            Sub.CRYPTO_CONSTRAINTS_FAILURE,
            facts=facts,
        )
    if missing:
        return Check(
            "package.resources",
            T_RESOURCES,
            Status.INDETERMINATE,
            Text(
                f"签名清单列出的文件缺失（证据包不完整）：{', '.join(missing)}。",
                f"Files in the signed list are missing (the package is incomplete): "
                f"{', '.join(missing)}.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
            facts=facts,
        )
    return Check(
        "package.resources",
        T_RESOURCES,
        Status.PASSED,
        Text(
            f"全部 {len(files)} 个文件的 SHA-256 与签名清单一致，且没有清单以外的文件。",
            f"All {len(files)} files match the SHA-256 in the signed list, and there is no file "
            "outside it.",
        ),
        facts=facts,
    )


# -- WARC -------------------------------------------------------------------------------------


def _check_warc(state: _State) -> Check:
    warcs = state.collected.warcs
    if not warcs:
        if any(_WARC_RE.match(e.name) for e in state.layout.entries):
            return Check(
                "warc.records",
                T_WARC,
                Status.FAILED,
                Text("WARC 文件已损坏，无法读取。", "The WARC file is damaged and cannot be read."),
                Sub.FORMAT_FAILURE,
            )
        return _na(
            "warc.records",
            T_WARC,
            Text("证据包中没有 WARC 文件。", "The package holds no WARC file."),
        )
    facts: dict[str, Any] = {}
    worst: Check | None = None
    total_records = checked = no_digest = disagreeing = 0
    payload_notes: list[Text] = []
    for name, result in warcs.items():
        facts[name] = {
            "records": result.records,
            "by_type": result.by_type,
            "digests_verified": result.digests_checked,
            "without_digest": result.no_digest,
            "digest_failures": result.failures,
            "gzip_members": result.gzip_members,
            "error": result.error,
            "payload_digest_forms": result.payload_forms,
            "payload_digest_records": result.payload_records,
            "payload_digest_disagreements": result.payload_disagreements,
            "payload_digest_disagreement_count": result.payload_disagreement_count,
        }
        total_records += result.records
        checked += result.digests_checked
        no_digest += result.no_digest
        payload_notes += _payload_notes(name, result)
        disagreeing += result.payload_disagreement_count
        if worst is not None:
            continue
        if result.failure_count:
            ids = ", ".join(f["uri"] or f["record_id"] for f in result.failures[:5])
            worst = Check(
                "warc.records",
                T_WARC,
                Status.FAILED,
                Text(
                    f"{name} 中有 {result.failure_count} 条记录的摘要不符（内容被改动）：{ids}。",
                    f"{result.failure_count} record(s) in {name} do not match their digests (their "
                    f"content was altered): {ids}.",
                ),
                Sub.HASH_FAILURE,
            )
        elif result.error:
            worst = Check(
                "warc.records",
                T_WARC,
                Status.FAILED,
                tech(
                    f"{name} 不是有效的 WARC 文件。",
                    f"{name} is not a valid WARC file.",
                    result.error,
                ),
                Sub.FORMAT_FAILURE,
            )
        elif result.length_warnings:
            worst = Check(
                "warc.records",
                T_WARC,
                Status.FAILED,
                Text(f"{name} 中有记录长度不正确。", f"Records in {name} have wrong lengths."),
                Sub.FORMAT_FAILURE,
            )
    if worst is not None:
        worst.facts = facts
        worst.details += payload_notes
        return worst
    details = list(payload_notes)
    if no_digest:
        details.append(
            Text(
                f"{no_digest} 条记录没有摘要，其完整性由证据包的文件哈希保证。",
                f"{no_digest} record(s) carry no digest; their integrity rests on the package's "
                "file hashes.",
            )
        )
    reason = Text(
        f"全部 {total_records} 条 WARC 记录可读，{checked} 条记录的块/载荷摘要核对一致。",
        f"All {total_records} WARC records read; the block/payload digests of {checked} "
        "records match.",
    )
    if disagreeing:
        reason = Text(
            f"全部 {total_records} 条 WARC 记录可读，{checked} 条记录的块摘要核对一致（未被改动）；"
            f"其中 {disagreeing} 条记录的载荷摘要与所存内容不符（见说明）。",
            f"All {total_records} WARC records read; the block digests of {checked} records match "
            f"(nothing was altered); the payload digest of {disagreeing} of them disagrees with "
            "the stored body (see the notes).",
        )
    return Check("warc.records", T_WARC, Status.PASSED, reason, details=details, facts=facts)


_FORM_TEXT = {
    "stored": Text("所存的原始正文（含分块编码）", "the body as stored (with its chunked framing)"),
    "dechunked": Text("去除分块传输编码后的正文", "the de-chunked body"),
    "decoded": Text("去除分块与内容编码（解压）后的正文", "the de-chunked and decoded body"),
}


def _payload_notes(name: str, result: WarcResult) -> list[Text]:
    """What the payload digests were computed over, where that is worth saying: records
    hashed otherwise than WARC 1.1 prescribes, and recorders' digests matching no form."""
    notes: list[Text] = []
    spec = [r for r in result.payload_records if r["spec"] and r["form"] != "stored"]
    if spec:
        notes.append(
            Text(
                f"{name}：{len(spec)} 条分块传输的记录，其载荷摘要按 WARC 1.1 的定义针对去除分块"
                "传输编码后的正文计算，核对一致。",
                f"{name}: the payload digest of {len(spec)} chunked record(s) is over the "
                "de-chunked body, as WARC 1.1 defines it, and matches.",
            )
        )
    for row in (r for r in result.payload_records if not r["spec"]):
        form = _FORM_TEXT[row["form"]]
        notes.append(
            Text(
                f"{name}：记录 {row['uri'] or row['record_id']} 的载荷摘要针对{form.zh}"
                f"（{row['form']}）计算，而不是 WARC 1.1 规定的去除分块传输编码后的正文；与之一致。"
                "块摘要覆盖所存字节，记录未被改动。",
                f"{name}: the payload digest of {row['uri'] or row['record_id']} is over "
                f"{form.en} ({row['form']}), not the de-chunked body WARC 1.1 defines; it "
                "matches that. The block digest covers the stored bytes: the record is unaltered.",
            )
        )
    if result.payload_disagreement_count:
        ids = ", ".join(d["uri"] or d["record_id"] for d in result.payload_disagreements[:5])
        notes.append(
            Text(
                f"{name}：{result.payload_disagreement_count} 条记录中，录制工具给出的载荷摘要与"
                f"所存正文不符（所存正文受块摘要保护，块摘要一致）：{ids}。这是录制工具的问题，"
                "不表示内容被改动。",
                f"{name}: for {result.payload_disagreement_count} record(s) the recorder's payload "
                f"digest disagrees with the stored body, which the block digest protects (and "
                f"the block digest matches): {ids}. This is the recorder's doing, not an "
                "alteration.",
            )
        )
    return notes


_KINDS = {
    "screenshot": (Text("截图", "screenshot"), ("files/screenshot.",)),
    "pdf": (Text("PDF 快照", "PDF snapshot"), ("files/page.pdf",)),
    "provenance": (Text("来源说明", "provenance"), ("files/provenance.json",)),
    "video": (Text("取证过程录像", "session video"), ("files/video.",)),
}


def _check_warc_resources(state: _State) -> Check:
    if not state.collected.warcs:
        copies = [e.name for e in state.layout.entries if e.name.startswith("files/")]
        if not any(n.startswith(p) for n in copies for _l, ps in _KINDS.values() for p in ps):
            return _na(
                "warc.resources",
                T_WARC_RES,
                Text("证据包没有 WARC 文件。", "The package holds no WARC file."),
            )
        return Check(
            "warc.resources",
            T_WARC_RES,
            Status.INDETERMINATE,
            Text(
                "证据包缺少 WARC 文件，无法与 files/ 中的副本比对。",
                "The package has no WARC file to compare the copies in files/ with.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
        )
    resources: dict[str, dict[str, Any]] = {}
    for result in state.collected.warcs.values():
        resources.update(result.resources)
    declared = {}
    if isinstance(state.manifest, dict) and isinstance(state.manifest.get("warc_resources"), dict):
        declared = {k: v for k, v in state.manifest["warc_resources"].items() if isinstance(v, str)}
    elif MANIFEST in state.collected.small:
        try:
            m = json.loads(state.collected.small[MANIFEST])
            if isinstance(m, dict) and isinstance(m.get("warc_resources"), dict):
                declared = {k: v for k, v in m["warc_resources"].items() if isinstance(v, str)}
        except ValueError:
            pass
    rows = []
    failed, unmatched = [], []
    for kind, (label, prefixes) in _KINDS.items():
        copy = next(
            (
                e
                for e in state.layout.entries
                if any(e.name.startswith(p) for p in prefixes)
                and "/" not in e.name[len("files/") :]
            ),
            None,
        )
        uri = declared.get(kind)
        if uri is None:
            uri = next((u for u in resources if kind in u.lower()), None)
        if copy is None and uri is None:
            continue
        record = resources.get(uri) if uri else None
        row = {
            "kind": kind,
            "file": copy.name if copy else None,
            "record_uri": uri,
            "file_sha256": copy.sha256 if copy else None,
            "record_sha256": record["sha256"] if record else None,
        }
        rows.append(row)
        if copy is None:
            continue  # a record without a plain copy: nothing to compare
        if record is None:
            if uri is not None and kind in declared:
                failed.append(
                    (
                        label,
                        Text(
                            f"清单声明的记录 {uri} 不在 WARC 中",
                            f"the record {uri} the manifest names is not in the WARC",
                        ),
                    )
                )
            else:
                unmatched.append(label)
            continue
        if copy.sha256 is None or record["sha256"] != copy.sha256:
            failed.append(
                (
                    label,
                    Text(
                        f"{copy.name} 与 WARC 记录 {uri} 不一致",
                        f"{copy.name} differs from the WARC record {uri}",
                    ),
                )
            )
    facts = {"pairs": rows}
    if failed:
        return Check(
            "warc.resources",
            T_WARC_RES,
            Status.FAILED,
            Text(
                "；".join(t.zh for _l, t in failed) + "。",
                "; ".join(t.en for _l, t in failed) + ".",
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    if unmatched:
        return Check(
            "warc.resources",
            T_WARC_RES,
            Status.INDETERMINATE,
            Text(
                "找不到与以下文件对应的 WARC 记录：" + "、".join(u.zh for u in unmatched) + "。",
                "No WARC record corresponds to: " + ", ".join(u.en for u in unmatched) + ".",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
            facts=facts,
        )
    if not rows:
        return _na(
            "warc.resources",
            T_WARC_RES,
            Text(
                "证据包没有截图、PDF 或来源说明的文件副本。",
                "The package has no plain copies of a screenshot, PDF or provenance.",
            ),
        )
    return Check(
        "warc.resources",
        T_WARC_RES,
        Status.PASSED,
        Text(
            "files/ 中的截图、PDF、来源说明（及录像）与 WARC 中的对应记录逐字节一致。",
            "The screenshot, PDF and provenance (and the session video) in files/ are "
            "byte-identical to their WARC records.",
        ),
        facts=facts,
    )


# -- manifest -----------------------------------------------------------------------------------


def _check_manifest(state: _State) -> Check:
    if MANIFEST not in state.entries:
        return _na(
            "manifest.content",
            T_MANIFEST,
            Text(
                "证据包没有取证清单（较早封存的证据包没有）。",
                "The package has no capture manifest (packages sealed before manifests existed "
                "have none).",
            ),
        )
    manifest, problem = _json(state, MANIFEST)
    if problem is not None:
        return _as(problem, "manifest.content", T_MANIFEST)
    if (
        not isinstance(manifest, dict)
        or manifest.get("type") != "evidence-capture-manifest"
        or not isinstance(manifest.get("files"), dict)
    ):
        return Check(
            "manifest.content",
            T_MANIFEST,
            Status.FAILED,
            Text("取证清单格式不正确。", "The capture manifest is not in the expected format."),
            Sub.FORMAT_FAILURE,
        )
    state.manifest = manifest
    for key in (
        "capture_id",
        "requested_url",
        "final_url",
        "http_status",
        "outcome",
        "capture_started",
        "capture_ended",
        "limits_hit",
        "service",
    ):
        if key in manifest:
            state.facts.setdefault("capture", {})[key] = manifest[key]
    details = []
    raw = state.collected.small.get(MANIFEST, b"")
    if canonical_json(manifest) != raw:
        details.append(
            Text(
                "取证清单不是规范 JSON 形式（不影响哈希核对）。",
                "The manifest is not in canonical JSON form (hashes are unaffected).",
            )
        )
    bad, missing = [], []
    for path, claimed in manifest["files"].items():
        match = _HASH_RE.match(claimed) if isinstance(claimed, str) else None
        entry = state.entries.get(path)
        if entry is None:
            missing.append(path)
        elif match is None or entry.sha256 != match.group(1):
            bad.append(path)
    facts = {"files": len(manifest["files"]), "capture_id": manifest.get("capture_id")}
    if bad:
        return Check(
            "manifest.content",
            T_MANIFEST,
            Status.FAILED,
            Text(
                f"以下文件与取证清单不一致（被改动或替换）：{', '.join(bad)}。",
                f"These files do not match the capture manifest (altered or swapped): "
                f"{', '.join(bad)}.",
            ),
            Sub.HASH_FAILURE,
            details=details,
            facts=facts,
        )
    if missing:
        return Check(
            "manifest.content",
            T_MANIFEST,
            Status.INDETERMINATE,
            Text(
                f"取证清单列出的文件缺失：{', '.join(missing)}。",
                f"Files the capture manifest lists are missing: {', '.join(missing)}.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
            details=details,
            facts=facts,
        )
    return Check(
        "manifest.content",
        T_MANIFEST,
        Status.PASSED,
        Text(
            f"取证清单所列的 {len(manifest['files'])} 个文件的哈希均与证据包一致。",
            f"The {len(manifest['files'])} files the capture manifest lists all match the package.",
        ),
        details=details,
        facts=facts,
    )


def _check_manifest_tokens(state: _State) -> list[Check]:
    names = sorted(
        (e.name for e in state.layout.entries if _TSR_RE.match(e.name)),
        key=lambda n: int(_TSR_RE.match(n).group(1) or 1),  # type: ignore[union-attr]
    )
    if not names:
        if MANIFEST in state.entries:
            return [
                Check(
                    "manifest.timestamp",
                    T_MANIFEST_TS,
                    Status.INDETERMINATE,
                    Text(
                        "取证清单没有时间戳：取证时间未获可信证明。",
                        "The capture manifest has no time-stamp: the capture time is not proven.",
                    ),
                    Sub.NO_POE,
                )
            ]
        return [
            _na(
                "manifest.timestamp",
                T_MANIFEST_TS,
                Text("证据包没有取证清单时间戳。", "The package has no manifest time-stamp."),
            )
        ]
    manifest_bytes = state.collected.small.get(MANIFEST)
    ended = parse_time(state.manifest.get("capture_ended")) if state.manifest else None
    out = []
    for i, name in enumerate(names):
        check_id = "manifest.timestamp" if i == 0 else f"manifest.timestamp.{i + 1}"
        title = T_MANIFEST_TS + Text(f"（{name}）", f"({name})")
        if name in state.collected.too_big or name not in state.collected.small:
            out.append(
                Check(
                    check_id,
                    title,
                    Status.FAILED,
                    Text(f"{name} 已损坏。", f"{name} is damaged."),
                    Sub.FORMAT_FAILURE,
                )
            )
            continue
        if manifest_bytes is None:
            out.append(
                Check(
                    check_id,
                    title,
                    Status.INDETERMINATE,
                    Text(
                        "找不到被加盖时间戳的取证清单。",
                        "The time-stamped capture manifest is missing.",
                    ),
                    Sub.SIGNED_DATA_NOT_FOUND,
                )
            )
            continue
        token = check_token(
            state.collected.small[name],
            digest=digest_of(manifest_bytes),
            trust=state.trust,
            what=MANIFEST_DATA,
            valid_until=state.now,
            poe=state.archive_poe,
            validation_time=state.past,
        )
        check = Check(check_id, title, token.status, token.reason, token.sub, facts=token.facts)
        if token.parsed is not None:
            state.manifest_serials.append(f"{token.parsed.serial:x}")
        gen = token.gen_time
        if token.ok and gen is not None:
            late = state.package_poe is not None and gen > state.package_poe + STAMP_GRACE
            early = ended is not None and gen < ended - CLOCK_SKEW
            if late or early:
                check.status, check.sub_indication = (
                    Status.INDETERMINATE,
                    Sub.TIMESTAMP_ORDER_FAILURE,
                )
                check.reason = Text(
                    "取证清单时间戳的时间与取证结束时间或证据包签名时间顺序不符。",
                    "The manifest time-stamp's time is out of order with the capture's end or "
                    "the package signature's time-stamp.",
                )
            elif i == 0:
                state.facts["trusted_capture_time"] = iso(gen)
                state.facts["capture_tsa"] = token.facts.get("tsa")
            fold_revocation(check, token, required=state.options.require_revocation)
        out.append(check)
    return out


# -- the evidence certificate -------------------------------------------------------------------


def _check_certificate(state: _State) -> list[Check]:
    if CERTIFICATE not in state.entries:
        return [
            _na(
                "certificate.signature",
                T_CERT,
                Text("证据包没有取证证书。", "The package has no evidence certificate."),
            ),
            _na(
                "certificate.content",
                T_CERT_CONTENT,
                Text("证据包没有取证证书。", "The package has no evidence certificate."),
            ),
        ]
    spool = state.collected.certificate
    if spool is None:
        reason = Text("取证证书已损坏或过大。", "The evidence certificate is damaged or too large.")
        return [
            Check("certificate.signature", T_CERT, Status.FAILED, reason, Sub.FORMAT_FAILURE),
            Check("certificate.content", T_CERT_CONTENT, Status.FAILED, reason, Sub.FORMAT_FAILURE),
        ]
    report = validate_pdf(
        spool,
        state.trust,
        require_revocation=state.options.require_revocation,
        attachments=["certificate.json"],
        moment=state.past,
    )
    checks = []
    if not report.signatures and not report.timestamps:
        checks.append(
            Check(
                "certificate.signature",
                T_CERT,
                {"TOTAL-FAILED": Status.FAILED, "INDETERMINATE": Status.INDETERMINATE}.get(
                    report.indication.value, Status.INDETERMINATE
                ),
                report.reason,
                report.sub_indication or Sub.NO_SIGNING_CERTIFICATE_FOUND,
                facts={"pdf": report.to_dict()},
            )
        )
    else:
        for cid, title, status, sub, reason, facts in pdf_checks(report, "certificate", T_CERT):
            checks.append(Check(cid, title, status, reason, sub, facts=facts))
        signer = report.signatures[0] if report.signatures else None
        if signer is not None:
            state.facts["certificate_signer"] = signer.signer
            state.facts["certificate_signed"] = iso(
                signer.signing_time_stamped or signer.signing_time_claimed
            )
            state.facts["certificate_pades_level"] = signer.pades_level
    checks.append(_check_certificate_content(state, report))
    return checks


def _hash_claims(obj: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    out = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _hash_claims(value, (*path, str(key)))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out += _hash_claims(value, (*path, str(i)))
    elif isinstance(obj, str):
        match = _HEX_RE.match(obj)
        if match:
            out.append((path, match.group(1)))
    return out


def _check_certificate_content(state: _State, report: PdfReport) -> Check:
    raw = report.attachments.get("certificate.json")
    if raw is None:
        return Check(
            "certificate.content",
            T_CERT_CONTENT,
            Status.INDETERMINATE,
            Text(
                "取证证书中没有嵌入 certificate.json，无法核对其所列哈希。",
                "The evidence certificate has no embedded certificate.json: its hashes cannot be "
                "compared.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Check(
            "certificate.content",
            T_CERT_CONTENT,
            Status.FAILED,
            Text("certificate.json 不是有效的 JSON。", "certificate.json is not valid JSON."),
            Sub.FORMAT_FAILURE,
        )
    manifest_sha = state.sha(MANIFEST)
    leaf_input = bytes.fromhex(manifest_sha) if manifest_sha else None
    matched: list[str] = []
    mismatched: list[str] = []
    unknown: list[str] = []
    missing: list[str] = []
    for path, value in _hash_claims(data):
        key = path[-1] if path else ""
        label = ".".join(path)
        member = key if "/" in key else None
        lowered = label.lower()
        if member is not None:
            actual = state.sha(member)
            if actual is None:
                missing.append(label)
            else:
                (matched if actual == value else mismatched).append(label)
        elif "manifest" in lowered:
            if manifest_sha is None:
                missing.append(label)
            else:
                (matched if manifest_sha == value else mismatched).append(label)
        elif "leaf" in lowered and leaf_input is not None:
            ok = value in (leaf_input.hex(), leaf_hash_of(leaf_input).hex())
            (matched if ok else mismatched).append(label)
        else:
            unknown.append(label)
    if isinstance(data, dict):
        capture_id = data.get("capture_id")
        if capture_id is not None and state.manifest and "capture_id" in state.manifest:
            (matched if state.manifest["capture_id"] == capture_id else mismatched).append(
                "capture_id"
            )
        stated_log = data.get("transparency_log")
        log_raw = state.collected.small.get(LOG_ENTRY)
        if isinstance(stated_log, dict) and log_raw is not None:
            try:
                same = json.loads(log_raw) == stated_log
            except ValueError:
                same = False
            (matched if same else mismatched).append("transparency_log")
        stated = [data.get("trusted_time"), *(data.get("additional_timestamps") or [])]
        for i, stamp in enumerate(stated):
            if not isinstance(stamp, dict) or not stamp.get("serial_hex"):
                continue
            label = "trusted_time.serial_hex" if i == 0 else f"additional_timestamps.{i - 1}"
            if i >= len(state.manifest_serials):
                missing.append(label)
            else:
                ok = str(stamp["serial_hex"]).lower() == state.manifest_serials[i]
                (matched if ok else mismatched).append(label)
    facts = {
        "matched": matched,
        "mismatched": mismatched,
        "missing": missing,
        "not_compared": unknown,
    }
    if mismatched:
        return Check(
            "certificate.content",
            T_CERT_CONTENT,
            Status.FAILED,
            Text(
                f"取证证书描述的不是本证据包（不一致：{', '.join(mismatched)}）。",
                f"The evidence certificate describes another capture (mismatch: "
                f"{', '.join(mismatched)}).",
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    if missing:
        return Check(
            "certificate.content",
            T_CERT_CONTENT,
            Status.INDETERMINATE,
            Text(
                f"取证证书所列的文件在证据包中缺失：{', '.join(missing)}。",
                f"Files the evidence certificate lists are missing from the package: "
                f"{', '.join(missing)}.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
            facts=facts,
        )
    if not matched:
        return Check(
            "certificate.content",
            T_CERT_CONTENT,
            Status.INDETERMINATE,
            Text(
                "certificate.json 中没有可与证据包核对的哈希。",
                "certificate.json lists no hash this verifier can compare with the package.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
            facts=facts,
        )
    return Check(
        "certificate.content",
        T_CERT_CONTENT,
        Status.PASSED,
        Text(
            f"取证证书所列的 {len(matched)} 个哈希与本证据包一致。",
            f"The {len(matched)} hashes the evidence certificate lists match this package.",
        ),
        facts=facts,
    )


# -- proofs sidecar: transparency log and archive time-stamps ----------------------------------


def _load_proofs(state: _State, proofs: bytes | None) -> Check | None:
    if proofs is None:
        return None
    try:
        data = json.loads(proofs.decode("utf-8"))
        if not isinstance(data, dict) or data.get("type") != "evidence-proofs":
            raise ValueError("not an evidence-proofs document")
    except (UnicodeDecodeError, ValueError) as exc:
        return Check(
            "proofs.file",
            T_PROOFS,
            Status.FAILED,
            tech("证明文件格式错误。", "The proofs file is malformed.", str(exc)[:200]),
            Sub.FORMAT_FAILURE,
        )
    state.proofs = data
    crls: list[x509.CertificateRevocationList] = []
    ocsps: list[ocsp.OCSPResponse] = []
    certs: list[x509.Certificate] = []
    for entry in data.get("archive_timestamps") or []:
        if not isinstance(entry, dict):
            continue
        revocation = entry.get("revocation") or {}
        for b64 in (revocation.get("crls") or []) if isinstance(revocation, dict) else []:
            try:
                crls.append(x509.load_der_x509_crl(base64.b64decode(b64)))
            except (ValueError, TypeError, binascii.Error):
                continue
        for b64 in (revocation.get("ocsps") or []) if isinstance(revocation, dict) else []:
            try:
                ocsps.append(ocsp.load_der_ocsp_response(base64.b64decode(b64)))
            except (ValueError, TypeError, binascii.Error):
                continue
        for pem in entry.get("certificates") or []:
            certs += pem_certs(pem)
    state.trust = state.trust.with_extra(certs=certs, crls=crls, ocsps=ocsps)
    same = data.get("package_sha256") == state.scan.sha256
    if not same:
        return Check(
            "proofs.file",
            T_PROOFS,
            Status.FAILED,
            Text(
                "证明文件属于另一个证据包（package_sha256 不一致）。",
                "The proofs file belongs to another package (package_sha256 differs).",
            ),
            Sub.HASH_FAILURE,
            facts={"package_sha256": data.get("package_sha256")},
        )
    return Check(
        "proofs.file",
        T_PROOFS,
        Status.PASSED,
        Text("证明文件属于本证据包。", "The proofs file belongs to this package."),
    )


def _malformed_proof(facts: dict[str, Any]) -> Check:
    return Check(
        "log.inclusion",
        T_LOG,
        Status.FAILED,
        Text("收录证明格式错误。", "The inclusion proof is malformed."),
        Sub.FORMAT_FAILURE,
        facts=facts,
    )


def _check_log(state: _State) -> Check:
    if LOG_ENTRY not in state.entries:
        return _na(
            "log.inclusion",
            T_LOG,
            Text("证据包没有透明日志记录。", "The package has no transparency log entry."),
        )
    entry, problem = _json(state, LOG_ENTRY)
    if problem is not None:
        return _as(problem, "log.inclusion", T_LOG)
    manifest_sha = state.sha(MANIFEST)
    if manifest_sha is None:
        return Check(
            "log.inclusion",
            T_LOG,
            Status.INDETERMINATE,
            Text(
                "缺少取证清单，无法核对日志记录。",
                "The capture manifest is missing: the log entry cannot be checked.",
            ),
            Sub.SIGNED_DATA_NOT_FOUND,
        )
    leaf_input = bytes.fromhex(manifest_sha)
    expected_leaf = leaf_hash_of(leaf_input)
    facts: dict[str, Any] = {"log_entry": entry}
    if not isinstance(entry, dict) or entry.get("leaf_input") != f"sha256:{manifest_sha}":
        return Check(
            "log.inclusion",
            T_LOG,
            Status.FAILED,
            Text(
                "日志记录登记的不是本证据包的取证清单。",
                "The log entry records another capture manifest than this package's.",
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    if entry.get("leaf_hash") != expected_leaf.hex():
        return Check(
            "log.inclusion",
            T_LOG,
            Status.FAILED,
            Text("日志记录的叶哈希计算错误。", "The log entry's leaf hash is wrong."),
            Sub.FORMAT_FAILURE,
            facts=facts,
        )
    proof = state.proofs.get("inclusion") if state.proofs else None
    if not isinstance(proof, dict):
        return Check(
            "log.inclusion",
            T_LOG,
            Status.INDETERMINATE,
            Text(
                f"没有收录证明：无法离线确认该记录已写入透明日志。请下载证据包旁的 .proofs.json "
                f"（或 {entry.get('log_url', '日志服务')} 提供的证明）后重试。",
                "No inclusion proof: that the entry is in the transparency log cannot be "
                f"confirmed offline. Download the package's .proofs.json (or the proof from "
                f"{entry.get('log_url', 'the log')}) and verify again.",
            ),
            Sub.TRY_LATER,
            facts=facts,
            counts=False,
        )
    try:
        index = int(proof["leaf_index"])
        size = int(proof["tree_size"])
        leaf = bytes.fromhex(str(proof["leaf_hash"]))
    except (KeyError, TypeError, ValueError):
        return _malformed_proof(facts)
    path = hexes(proof.get("audit_path"))
    if leaf != expected_leaf or index != entry.get("leaf_index"):
        return Check(
            "log.inclusion",
            T_LOG,
            Status.FAILED,
            Text(
                "收录证明针对的是另一条日志记录。", "The inclusion proof is for another log entry."
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    sth = proof.get("sth")
    if not isinstance(sth, dict) or path is None:
        return _malformed_proof(facts)
    later = _made_after(sth.get("time_stamp"), state.past)
    if later is not None and state.past is not None:
        return Check(
            "log.inclusion",
            T_LOG,
            Status.INDETERMINATE,
            Text(
                f"收录证明（签名树头）产生于 {iso(later)}，晚于验证时间 {iso(state.past)}："
                "在该时间尚无收录证明。",
                f"The inclusion proof (its signed tree head) was made at {iso(later)}, after the "
                f"validation time {iso(state.past)}: as of then there was no inclusion proof yet.",
            ),
            Sub.TRY_LATER,
            facts=facts,
            counts=False,
        )
    head = check_sth(sth, state.trust, now=state.now)
    facts["sth"] = head.facts
    if head.status is not Status.PASSED:
        return Check("log.inclusion", T_LOG, head.status, head.reason, head.sub, facts=facts)
    if sth.get("log_id") != entry.get("log_id"):
        return Check(
            "log.inclusion",
            T_LOG,
            Status.FAILED,
            Text("签名树头来自另一个日志。", "The signed tree head is from another log."),
            Sub.FORMAT_FAILURE,
            facts=facts,
        )
    if (
        size != head.tree_size
        or head.root is None
        or not verify_inclusion_path(index, size, leaf, path, head.root)
    ):
        return Check(
            "log.inclusion",
            T_LOG,
            Status.FAILED,
            Text(
                "审计路径无法推导出已签名的树根：该记录不在日志中（或证明被改动）。",
                "The audit path does not lead to the signed root: the entry is not in the log (or "
                "the proof was altered).",
            ),
            Sub.HASH_FAILURE,
            facts=facts,
        )
    state.facts["log"] = {"leaf_index": index, "tree_size": size, "sth_time": iso(head.gen_time)}
    return Check(
        "log.inclusion",
        T_LOG,
        Status.PASSED,
        Text(
            f"取证清单已收录于透明日志（第 {index} 条，日志在 {iso(head.gen_time)} 共 {size} 条，"
            "树头签名与时间戳有效）。",
            f"The capture manifest is in the transparency log (entry {index} of {size}; the tree "
            f"head signed and time-stamped at {iso(head.gen_time)} verifies).",
        ),
        facts=facts,
    )


def _malformed_archive() -> Check:
    return Check(
        "proofs.archive_timestamps",
        T_ARCHIVE,
        Status.FAILED,
        Text("归档时间戳格式错误。", "The archive time-stamps are malformed."),
        Sub.FORMAT_FAILURE,
    )


def _check_archive(state: _State) -> Check:
    entries = state.proofs.get("archive_timestamps") if state.proofs else None
    if not entries:
        return _na(
            "proofs.archive_timestamps",
            T_ARCHIVE,
            Text(
                "没有归档时间戳（证明文件中没有，或未提供证明文件）。",
                "No archive time-stamps (none in the proofs file, or no proofs file given).",
            ),
        )
    if not isinstance(entries, list):
        return _malformed_archive()
    # As of a past moment, only the stamps made by then exist (each covers those before it,
    # so what existed then is a prefix of the chain).
    later = 0
    if state.past is not None:
        while (
            later < len(entries)
            and isinstance(entries[-1 - later], dict)
            and _made_after(entries[-1 - later].get("time_stamp"), state.past) is not None
        ):
            later += 1
        entries = entries[: len(entries) - later]
        if not entries:
            return _na(
                "proofs.archive_timestamps",
                T_ARCHIVE,
                Text(
                    f"验证时间 {iso(state.past)} 时还没有归档时间戳（全部产生于其后）。",
                    f"At the validation time {iso(state.past)} there was no archive time-stamp "
                    "yet (all were made later).",
                ),
            )
    package = bytes.fromhex(state.scan.sha256)
    times: list[datetime] = []
    rows = []
    # Each stamp is proven to exist by the next one: its TSA chain must be valid (and not
    # revoked) at the next stamp's genTime; the newest one's chain must be valid now.
    next_times: list[datetime | None] = []
    for entry in entries[1:]:
        try:
            der = base64.b64decode(str(entry.get("time_stamp", "")), validate=True)
            next_times.append(parse_any(der).gen_time)
        except (binascii.Error, ValueError, AttributeError):
            next_times.append(None)
    next_times.append(None)
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return _malformed_archive()
        data = package + canonical_json(entries[:i])
        covers = "sha256:" + hashlib.sha256(data).hexdigest()
        if entry.get("covers") != covers:
            return Check(
                "proofs.archive_timestamps",
                T_ARCHIVE,
                Status.FAILED,
                Text(
                    f"第 {i + 1} 个归档时间戳覆盖的不是本证据包及其之前的时间戳。",
                    f"Archive time-stamp {i + 1} does not cover this package and the stamps before "
                    "it.",
                ),
                Sub.HASH_FAILURE,
            )
        try:
            der = base64.b64decode(str(entry.get("time_stamp", "")), validate=True)
        except (binascii.Error, ValueError):
            return Check(
                "proofs.archive_timestamps",
                T_ARCHIVE,
                Status.FAILED,
                Text("归档时间戳不是 base64。", "An archive time-stamp is not base64."),
                Sub.FORMAT_FAILURE,
            )
        shipped = [c for pem in entry.get("certificates") or [] for c in pem_certs(pem)]
        token = check_token(
            der,
            digest=digest_of(data),
            trust=state.trust,
            shipped=shipped,
            what=Text("证据包", "the package"),
            valid_until=next_times[i] or state.now,
            revocation_at=next_times[i],
        )
        rows.append(token.facts)
        if not token.ok:
            check = Check(
                "proofs.archive_timestamps",
                T_ARCHIVE,
                token.status,
                token.reason,
                token.sub,
                facts={"stamps": rows},
            )
            return check
        if token.gen_time is not None:
            times.append(token.gen_time)
    if any(b <= a for a, b in itertools.pairwise(times)):
        return Check(
            "proofs.archive_timestamps",
            T_ARCHIVE,
            Status.INDETERMINATE,
            Text("归档时间戳的时间顺序不正确。", "The archive time-stamps are out of time order."),
            Sub.TIMESTAMP_ORDER_FAILURE,
            facts={"stamps": rows},
        )
    state.facts["archive_time_stamps"] = [iso(t) for t in times]
    state.archive_poe = times[0] if times else None
    details = []
    if later:
        details.append(
            Text(
                f"另有 {later} 个归档时间戳产生于验证时间之后，未予考虑。",
                f"{later} later archive time-stamp(s) were made after the validation time and "
                "are not considered.",
            )
        )
    return Check(
        "proofs.archive_timestamps",
        T_ARCHIVE,
        Status.PASSED,
        Text(
            f"{len(times)} 个归档时间戳有效，最新的一个在 {iso(times[-1])}。",
            f"{len(times)} archive time-stamp(s) verify; the newest is from {iso(times[-1])}.",
        ),
        details=details,
        facts={"stamps": rows, "made_after_validation_time": later},
    )


def _made_after(b64: Any, moment: datetime | None) -> datetime | None:
    """The genTime of a base64 token if it is after ``moment`` (a past validation time)."""
    if moment is None:
        return None
    try:
        gen_time = parse_any(base64.b64decode(str(b64 or ""), validate=True)).gen_time
    except (binascii.Error, ValueError):
        return None
    return gen_time if gen_time > moment else None
