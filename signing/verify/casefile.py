"""Verification of an exported electronic case file, ``case.zip`` (``docs/case-file.md``).

The case file is a ZIP whose first entry is ``mimetype`` (:data:`CASE_FILE_MIME`, stored), so
it is told from a WACZ by its first bytes (:func:`is_case_file`). It is checked offline, in
report order::

    zip.container                   the strict ZIP reader's checks (as for a WACZ)
    casefile.format                 mimetype, manifest.json and case.json readable, of this format
    casefile.signature              manifest-digest.json: the signature over manifest.json's hash,
                                    its signer's chain to a trust anchor at the time-stamp's time
    casefile.signature.revocation   the signer's chain not revoked then
    casefile.signature.timestamp[.N]  RFC 3161 token(s) over that signature
    casefile.manifest.timestamp[.N] manifest[.N].tsr: RFC 3161 token(s) over manifest.json itself
    casefile.events                 events.jsonl: the hash chain (signing.case_chain.chain_problems)
                                    ending at case.json's chain head, numbering, the case's id
    casefile.log                    tree-head.json (signed tree head) and every event's RFC 9162
                                    inclusion proof against it
    casefile.touches                every document / evidence an event touches is present with
                                    the same hash, and everything present was touched by an event
    casefile.files                  every file the manifest lists: present, SHA-256 and size; no
                                    file outside it
    casefile.document.<seq>         the newest signed version of each document (the engine's PDF
                                    checks: PAdES signatures and time-stamps)
    casefile.evidence.<n>           each evidence package verified by the engine (a capture's WACZ
                                    with its proofs sidecar); an upload: its record, time-stamped
                                    when it was uploaded, names this file's SHA-256
    casefile.evidence.<n>.content   an uploaded WACZ or PDF's own signatures (informative)

Every failure says what and where: the event by its number, the file by its path. Tampering
with a file changes its hash (``casefile.files``) and whatever that file carries says more
(an event changed, removed or moved: ``casefile.events`` with its number; a package replaced:
``casefile.touches`` and ``casefile.evidence.<n>``); a manifest changed to match no longer
matches its signature and time-stamp.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import logging
import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO, Protocol

from ..case_chain import ChainedEvent, chain_problems, event_body
from ..translog import leaf_hash, verify_inclusion
from .container import (
    Consumer,
    Entry,
    Layout,
    Limits,
    MemberReader,
    ScanResult,
    read_layout,
    scan,
)
from .manifest_signature import (
    Policy,
    Wording,
    check_identity_signature,
    fold_revocation,
    parse_time,
    pem_certs,
)
from .merkle import check_sth, hexes
from .model import Check, Report, Status, Sub, Text, iso, tech
from .package import guarded
from .trust import TrustStore
from .tst import check_token, digest_of

__all__ = [
    "CASE_FILE_MIME",
    "MANIFEST_TYPE",
    "Nested",
    "Options",
    "is_case_file",
    "verify_case_file",
]

log = logging.getLogger(__name__)

#: Must equal ``evidence_service.sealing.case_export.CASE_FILE_MIME`` (a test checks it).
CASE_FILE_MIME = "application/vnd.evidence-case-file+zip"
CASE_TYPE = "evidence-case-file"
MANIFEST_TYPE = "evidence-case-file-manifest"
MIMETYPE = "mimetype"
CASE_JSON = "case.json"
EVENTS = "events.jsonl"
TREE_HEAD = "tree-head.json"
MANIFEST = "manifest.json"
DIGEST = "manifest-digest.json"
#: Members that are not in the manifest because they vouch for it.
_SEALS = (MANIFEST, DIGEST)
MAX_JSON = 16 * 1024 * 1024
MAX_EVENTS = 256 * 1024 * 1024
MAX_TOKEN = 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_MAX_DETAILS = 50

T_CONTAINER = Text("ZIP 容器结构", "ZIP container")
T_FORMAT = Text("案卷格式", "Case file format")
T_SIGNATURE = Text("案卷清单签名与签名者证书链", "Case file manifest signature and signer's chain")
T_SIG_REVOCATION = Text("案卷签名者证书吊销状态", "Case file signer certificate revocation")
T_SIG_TS = Text("案卷签名的 RFC 3161 时间戳", "RFC 3161 time-stamp of the case file signature")
T_MANIFEST_TS = Text("案卷清单的 RFC 3161 时间戳", "RFC 3161 time-stamp of the case file manifest")
T_FILES = Text("文件哈希（manifest.json）", "File hashes (manifest.json)")
T_EVENTS = Text("案件事件哈希链", "Case event hash chain")
T_LOG = Text("案件事件的透明日志收录证明", "Transparency log inclusion of the case events")
T_TOUCHES = Text("事件所涉文书与证据", "Documents and evidence the events touch")
SIGNATURE = Text("案卷签名", "the case file signature")
SIGNER = Text("案卷签名者", "the case file signer")
MANIFEST_DATA = Text("案卷清单", "the case file manifest")
CASE_FILE_WORDING = Wording(
    signature_id="casefile.signature",
    signature_title=T_SIGNATURE,
    revocation_id="casefile.signature.revocation",
    revocation_title=T_SIG_REVOCATION,
    timestamp_id="casefile.signature.timestamp",
    timestamp_title=T_SIG_TS,
    stamped=SIGNATURE,
    signer=SIGNER,
    invalid=Text(
        "清单的签名值无效：不是用该证书的私钥对此清单做出的。",
        "The manifest's signature is invalid: it was not made over this manifest with the "
        "certificate's key.",
    ),
    no_timestamp=Text(
        "案卷签名没有时间戳：没有可信时间证明签名何时产生。",
        "The case file signature has no time-stamp: nothing proves when it was made.",
    ),
    late=Text(
        "时间戳时间 {when} 不在签名声称的创建时间之后 10 分钟内。",
        "The time-stamp's time {when} is not within 10 minutes after the signature's stated "
        "creation time.",
    ),
    created_invalid=Text(
        "签名创建时间不在签名证书生效后 7 天内。",
        "The signature's created time is not within 7 days after the certificate's start.",
    ),
    created_window=Text(
        "签名创建时间不在签名证书生效后 7 天内。",
        "The signature's created time is not within 7 days after the certificate's start.",
    ),
    passed=Text(
        "清单签名有效：由 {who} 的证书签署，证书链可追溯到信任的根证书（{root}）。",
        "Valid manifest signature by {who}'s certificate, whose chain leads to the trusted "
        "root {root}.",
    ),
)


def is_case_file(head: bytes) -> bool:
    """Do these first bytes start a case file (a stored ``mimetype`` entry naming it)?"""
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        return False
    method, name_len, extra_len = (
        struct.unpack_from("<H", head, 8)[0],
        *struct.unpack_from("<HH", head, 26),
    )
    start = 30 + name_len + extra_len
    mime = CASE_FILE_MIME.encode("ascii")
    return (
        method == 0
        and head[30 : 30 + name_len] == MIMETYPE.encode("ascii")
        and head[start : start + len(mime)] == mime
    )


# -- the pass over the file -----------------------------------------------------------------


@dataclass
class _Collected:
    small: dict[str, bytes] = field(default_factory=dict)
    too_big: set[str] = field(default_factory=set)
    spooled: dict[str, IO[bytes]] = field(default_factory=dict)


def _keep(limit: int, name: str, collected: _Collected) -> Consumer:
    def consume(reader: MemberReader) -> None:
        parts: list[bytes] = []
        total = 0
        while data := reader.read(min(1024 * 1024, limit + 1 - total)):
            parts.append(data)
            total += len(data)
            if total > limit:
                collected.too_big.add(name)
                return
        collected.small[name] = b"".join(parts)

    return consume


def _spool(name: str, collected: _Collected) -> Consumer:
    """A compressed nested package or PDF, kept decoded for the engine's random access."""

    def consume(reader: MemberReader) -> None:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        while data := reader.read(1024 * 1024):
            spool.write(data)
        spool.seek(0)
        collected.spooled[name] = spool

    return consume


def _is_token(name: str) -> bool:
    return name == "manifest.tsr" or (
        name.startswith("manifest.") and name.endswith(".tsr") and name[9:-4].isdigit()
    )


def _consumer_for(collected: _Collected) -> Callable[[Entry], Consumer | None]:
    def choose(entry: Entry) -> Consumer | None:
        name = entry.name
        if name in (MIMETYPE, CASE_JSON, TREE_HEAD, MANIFEST, DIGEST) or (
            name.startswith("evidence/") and name.endswith((".proofs.json", ".record.json"))
        ):
            return _keep(MAX_JSON, name, collected)
        if name.startswith("evidence/") and name.endswith(".record.tsr"):
            return _keep(MAX_TOKEN, name, collected)
        if name == EVENTS:
            return _keep(MAX_EVENTS, name, collected)
        if _is_token(name):
            return _keep(MAX_TOKEN, name, collected)
        if entry.method != 0 and name.startswith(("evidence/", "documents/")):
            return _spool(name, collected)
        return None

    return choose


@dataclass
class _State:
    fh: BinaryIO
    layout: Layout
    scan: ScanResult
    collected: _Collected
    trust: TrustStore
    now: datetime
    past: bool
    options: Options
    nested: Nested
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None
    case: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None

    @property
    def require_revocation(self) -> bool:
        return self.options.require_revocation

    @property
    def validation_time(self) -> datetime | None:
        return self.now if self.past else None

    def sha(self, name: str) -> str | None:
        entry = self.entries.get(name)
        return entry.sha256 if entry is not None and entry.complete else None

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check


class Options(Protocol):
    """What this needs of the engine's ``VerifyOptions`` (passed in: the engine imports this
    module, not the other way round)."""

    @property
    def require_revocation(self) -> bool: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def now(self) -> datetime | None: ...


class Nested(Protocol):
    """The engine's ``verify_stream``: how a nested package or PDF is verified."""

    def __call__(
        self,
        fh: BinaryIO,
        size: int,
        name: str,
        *,
        trust: TrustStore,
        proofs: bytes | None = None,
        options: Any = ...,
    ) -> Report: ...


def verify_case_file(
    fh: BinaryIO,
    size: int,
    *,
    trust: TrustStore,
    options: Options,
    nested: Nested,
    past: bool = False,
) -> tuple[list[Check], dict[str, Any], str]:
    """All checks of a case file; returns (checks, summary facts, file SHA-256).

    ``options.now`` is the validation time (``past``: a past moment asked for); ``nested``
    verifies each embedded package and signed document with the same trust and policy."""
    now = options.now or datetime.now(UTC)
    layout = read_layout(fh, size, options.limits)
    collected = _Collected()
    try:
        result = scan(fh, layout, _consumer_for(collected), options.limits)
        state = _State(fh, layout, result, collected, trust, now, past, options, nested)
        state.entries = layout.by_name()
        _run_checks(state)
    finally:
        for spool in collected.spooled.values():
            spool.close()
    state.facts["case_file_sha256"] = result.sha256
    return state.checks, state.facts, result.sha256


def _run_checks(state: _State) -> None:
    state.add(_check_container(state))
    if state.layout.fatal:
        return
    steps: list[tuple[str, Text, Callable[[], list[Check]]]] = [
        ("casefile.format", T_FORMAT, lambda: [_check_format(state)]),
        ("casefile.signature", T_SIGNATURE, lambda: _check_signature(state)),
        ("casefile.manifest.timestamp", T_MANIFEST_TS, lambda: _check_manifest_tokens(state)),
        # What the case's own records say (the event by its number, the document or package
        # by its path) comes before the plain file hashes, so that the deciding check of a
        # report names what was changed, not only which file of the archive.
        ("casefile.events", T_EVENTS, lambda: [_check_events(state)]),
        ("casefile.log", T_LOG, lambda: [_check_log(state)]),
        ("casefile.touches", T_TOUCHES, lambda: [_check_touches(state)]),
        ("casefile.files", T_FILES, lambda: [_check_files(state)]),
        ("casefile.document", Text("文书", "Document"), lambda: _check_documents(state)),
        ("casefile.evidence", Text("证据", "Evidence"), lambda: _check_evidence(state)),
        ("casefile.receipt", Text("缴款凭证", "Receipt"), lambda: _check_receipts(state)),
    ]
    for check_id, title, step in steps:
        for check in guarded(check_id, title, step):
            state.add(check)


# -- helpers ----------------------------------------------------------------------------------


def _failed(check_id: str, title: Text, reason: Text, sub: Sub, **kw: Any) -> Check:
    return Check(check_id, title, Status.FAILED, reason, sub, **kw)


def _missing(check_id: str, title: Text, path: str) -> Check:
    """A member the case file names but does not hold whole (a document version, a piece of
    evidence, a receipt)."""
    return _failed(
        check_id,
        title,
        Text(f"{path} 不在案卷中或已损坏。", f"{path} is missing or damaged."),
        Sub.FORMAT_FAILURE,
    )


def _json_member(state: _State, name: str) -> tuple[Any, Text | None]:
    if name in state.collected.too_big:
        return None, Text(f"{name} 过大。", f"{name} is implausibly large.")
    entry = state.entries.get(name)
    if entry is None:
        return None, Text(f"案卷中没有 {name}。", f"The case file has no {name}.")
    if not entry.complete or name not in state.collected.small:
        return None, Text(f"{name} 已损坏，无法读取。", f"{name} is damaged and cannot be read.")
    try:
        return json.loads(state.collected.small[name].decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, tech(f"{name} 不是有效的 JSON。", f"{name} is not valid JSON.", str(exc)[:200])


# -- the container and the format ------------------------------------------------------------


def _check_container(state: _State) -> Check:
    layout = state.layout
    problems = list(layout.problems) + list(state.scan.problems)
    for entry in layout.entries:
        problems += entry.problems
    facts = {"entries": len(layout.entries), "size": layout.size}
    if problems:
        return _failed(
            "zip.container",
            T_CONTAINER,
            problems[0],
            Sub.FORMAT_FAILURE,
            details=problems[1:_MAX_DETAILS],
            facts=facts,
        )
    return Check(
        "zip.container",
        T_CONTAINER,
        Status.PASSED,
        Text(
            f"ZIP 结构完好：{len(layout.entries)} 个条目，无不安全路径、无重名、无加密，每个条目的 "
            "CRC-32 正确，文件中没有不属于任何条目的字节。",
            f"Sound ZIP structure: {len(layout.entries)} entries, no unsafe paths, no duplicate "
            "names, no encryption, every entry's CRC-32 correct, and no byte of the file outside "
            "an entry.",
        ),
        facts=facts,
    )


def _check_format(state: _State) -> Check:
    first = min(state.layout.entries, key=lambda e: e.header_offset, default=None)
    if (
        first is None
        or first.name != MIMETYPE
        or state.collected.small.get(MIMETYPE) != CASE_FILE_MIME.encode("ascii")
    ):
        return _failed(
            "casefile.format",
            T_FORMAT,
            Text(
                f"第一个条目不是内容为 {CASE_FILE_MIME} 的 mimetype。",
                f"The first entry is not a mimetype of {CASE_FILE_MIME}.",
            ),
            Sub.FORMAT_FAILURE,
        )
    manifest, problem = _json_member(state, MANIFEST)
    if problem is None and (
        not isinstance(manifest, dict)
        or manifest.get("type") != MANIFEST_TYPE
        or not isinstance(manifest.get("files"), list)
    ):
        problem = Text("manifest.json 不是案卷清单。", "manifest.json is not a case file manifest.")
    if problem is not None:
        return _failed("casefile.format", T_FORMAT, problem, Sub.FORMAT_FAILURE)
    case, problem = _json_member(state, CASE_JSON)
    if problem is None and (
        not isinstance(case, dict)
        or case.get("type") != CASE_TYPE
        or not isinstance(case.get("case"), dict)
    ):
        problem = Text("case.json 不是案卷的案件信息。", "case.json is not a case file's case.")
    if problem is not None:
        return _failed("casefile.format", T_FORMAT, problem, Sub.FORMAT_FAILURE)
    assert isinstance(manifest, dict) and isinstance(case, dict)
    state.manifest, state.case = manifest, case
    facts = case["case"]
    state.facts["case"] = {
        "id": facts.get("id"),
        "number": facts.get("number"),
        "title": facts.get("title"),
        "unit": (facts.get("unit") or {}).get("name"),
        "state": facts.get("state"),
        "events": facts.get("event_count"),
        "documents": len(case.get("documents") or []),
        "evidence": len(case.get("evidence") or []),
        "exported_at": manifest.get("exported_at"),
    }
    if manifest.get("version") != 1 or case.get("version") != 1:
        return Check(
            "casefile.format",
            T_FORMAT,
            Status.INDETERMINATE,
            Text(
                "案卷格式版本不受本核验程序支持。",
                "This verifier does not know this version of the case file format.",
            ),
            Sub.GENERIC,
        )
    mismatch = [
        key
        for key, value in (
            ("case_id", facts.get("id")),
            ("case_number", facts.get("number")),
            ("chain_head", facts.get("chain_head")),
            ("event_count", facts.get("event_count")),
        )
        if manifest.get(key) != value
    ]
    if mismatch:
        return _failed(
            "casefile.format",
            T_FORMAT,
            Text(
                f"清单与 case.json 所记的案件不一致（{', '.join(mismatch)}）。",
                f"The manifest and case.json describe different cases ({', '.join(mismatch)}).",
            ),
            Sub.FORMAT_FAILURE,
        )
    label = facts.get("number") or facts.get("id")
    return Check(
        "casefile.format",
        T_FORMAT,
        Status.PASSED,
        Text(
            f"案卷（{label}）的清单与案件信息可读：{len(manifest['files'])} 个文件。",
            f"The case file of {label}: manifest and case readable, {len(manifest['files'])} "
            "files listed.",
        ),
    )


# -- the signature of the manifest ---------------------------------------------------------


def _check_signature(state: _State) -> list[Check]:
    digest, problem = _json_member(state, DIGEST)
    manifest_sha = state.sha(MANIFEST)
    if problem is not None or not isinstance(digest, dict):
        return [
            Check(
                "casefile.signature",
                T_SIGNATURE,
                Status.INDETERMINATE,
                problem or Text(f"{DIGEST} 格式错误。", f"{DIGEST} is malformed."),
                Sub.NO_SIGNING_CERTIFICATE_FOUND,
            )
        ]
    signed = digest.get("signedData")
    if not isinstance(signed, dict):
        return [
            _failed(
                "casefile.signature",
                T_SIGNATURE,
                Text("清单签名数据缺失。", "The manifest's signature data is missing."),
                Sub.FORMAT_FAILURE,
            )
        ]
    expected = f"sha256:{manifest_sha}"
    if manifest_sha is None or digest.get("hash") != expected or signed.get("hash") != expected:
        return [
            _failed(
                "casefile.signature",
                T_SIGNATURE,
                Text(
                    "manifest.json 不是被签名的那份清单（哈希不一致）：清单在签名后被改动。",
                    "manifest.json is not the manifest that was signed (hash mismatch): it was "
                    "changed after signing.",
                ),
                Sub.HASH_FAILURE,
                facts={"manifest_sha256": manifest_sha, "signed_hash": signed.get("hash")},
            )
        ]
    certs = pem_certs(signed.get("domainCert"))
    try:
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if not certs or not signature:
        return [
            _failed(
                "casefile.signature",
                T_SIGNATURE,
                Text("签名者证书或签名值缺失。", "The signer certificate or signature is missing."),
                Sub.FORMAT_FAILURE,
            )
        ]
    result = check_identity_signature(
        signed,
        certs,
        signature,
        wording=CASE_FILE_WORDING,
        policy=Policy(
            state.trust,
            state.now,
            validation_time=state.validation_time,
            require_revocation=state.require_revocation,
        ),
        facts={"created": signed.get("created")},
    )
    if result.signer is not None:
        state.facts["signer"] = result.signer
    return result.checks


def _check_manifest_tokens(state: _State) -> list[Check]:
    names = sorted(
        (n for n in state.entries if _is_token(n)),
        key=lambda n: 1 if n == "manifest.tsr" else int(n[9:-4]),
    )
    data = state.collected.small.get(MANIFEST)
    if not names:
        return [
            Check(
                "casefile.manifest.timestamp",
                T_MANIFEST_TS,
                Status.INDETERMINATE,
                Text(
                    "案卷清单没有 RFC 3161 时间戳（manifest.tsr）。",
                    "The case file manifest has no RFC 3161 time-stamp (manifest.tsr).",
                ),
                Sub.NO_POE,
            )
        ]
    checks = []
    for i, name in enumerate(names):
        check_id = "casefile.manifest.timestamp" + ("" if i == 0 else f".{i + 1}")
        der = state.collected.small.get(name)
        if der is None or data is None:
            checks.append(
                _failed(
                    check_id,
                    T_MANIFEST_TS,
                    Text(f"{name} 或清单无法读取。", f"{name} or the manifest cannot be read."),
                    Sub.FORMAT_FAILURE,
                )
            )
            continue
        token = check_token(
            der,
            digest=digest_of(data),
            trust=state.trust,
            what=MANIFEST_DATA,
            valid_until=state.now,
            validation_time=state.validation_time,
        )
        check = Check(
            check_id, T_MANIFEST_TS, token.status, token.reason, token.sub, facts=token.facts
        )
        check.facts["file"] = name
        if token.ok:
            fold_revocation(check, token, required=state.require_revocation)
        if i == 0 and check.status is Status.PASSED:
            state.facts["time_stamped"] = token.facts.get("gen_time")
            state.facts["tsa"] = token.facts.get("tsa")
        checks.append(check)
    return checks


# -- files ---------------------------------------------------------------------------------


def _check_files(state: _State) -> Check:
    manifest = state.manifest
    if manifest is None:
        return _failed(
            "casefile.files",
            T_FILES,
            Text(
                "没有可用的清单，无法核对文件。", "No usable manifest: the files cannot be checked."
            ),
            Sub.FORMAT_FAILURE,
        )
    problems: list[tuple[Sub, Text]] = []
    listed: set[str] = set()
    for item in manifest["files"]:
        path = str(item.get("path")) if isinstance(item, dict) else "?"
        listed.add(path)
        entry = state.entries.get(path)
        if entry is None:
            problems.append(
                (
                    Sub.FORMAT_FAILURE,
                    Text(
                        f"清单所列的 {path} 不在案卷中（被删除）。",
                        f"{path}, listed in the signed manifest, is missing from the case file "
                        "(removed).",
                    ),
                )
            )
            continue
        if (
            not entry.complete
            or entry.sha256 != item.get("sha256")
            or (entry.decoded != item.get("size"))
        ):
            problems.append(
                (
                    Sub.HASH_FAILURE,
                    Text(
                        f"{path} 与签名清单所记的 SHA-256 不符（内容被改动或被替换）。",
                        f"{path} does not match the SHA-256 in the signed manifest (its content "
                        "was changed or replaced).",
                    ),
                )
            )
    for entry in state.layout.entries:
        if entry.name not in listed and entry.name not in _SEALS and not _is_token(entry.name):
            problems.append(
                (
                    Sub.FORMAT_FAILURE,
                    Text(
                        f"{entry.name} 不在签名清单中（被添加）。",
                        f"{entry.name} is not listed in the signed manifest (it was added).",
                    ),
                )
            )
    if problems:
        sub = problems[0][0]
        more = len(problems) - 1
        reason = problems[0][1]
        if more:
            reason = reason + Text(f"另有 {more} 处问题。", f"{more} more problem(s).")
        return _failed(
            "casefile.files",
            T_FILES,
            reason,
            sub,
            details=[t for _s, t in problems[:_MAX_DETAILS]],
            facts={"problems": len(problems)},
        )
    return Check(
        "casefile.files",
        T_FILES,
        Status.PASSED,
        Text(
            f"清单所列的 {len(listed)} 个文件的 SHA-256 与大小均一致，案卷中没有清单以外的文件。",
            f"All {len(listed)} files of the signed manifest match its SHA-256 and size, and the "
            "case file holds nothing outside it.",
        ),
        facts={"files": len(listed)},
    )


# -- events and the log --------------------------------------------------------------------


def _events(state: _State) -> tuple[list[dict[str, Any]] | None, Text | None]:
    if state.events is not None:
        return state.events, None
    if EVENTS in state.collected.too_big:
        return None, Text(f"{EVENTS} 过大。", f"{EVENTS} is implausibly large.")
    raw = state.collected.small.get(EVENTS)
    if raw is None:
        return None, Text(
            f"案卷中没有可读的 {EVENTS}。", f"The case file has no readable {EVENTS}."
        )
    lines: list[dict[str, Any]] = []
    for number, text in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        try:
            line = json.loads(text)
            if not isinstance(line, dict) or not isinstance(line.get("event"), dict):
                raise ValueError("not an event line")
        except ValueError:
            return None, Text(
                f"{EVENTS} 第 {number} 行不是有效的事件。",
                f"Line {number} of {EVENTS} is not a valid event.",
            )
        lines.append(line)
    state.events = lines
    return lines, None


def _chained(body: Mapping[str, Any]) -> ChainedEvent:
    at = parse_time(body["at"])
    if at is None:
        raise ValueError(f"event {body.get('seq')}: 'at' is not a time")
    return ChainedEvent(
        case=str(body["case"]),
        seq=int(body["seq"]),
        at=at,
        actor=str(body["actor"]),
        actor_name=str(body["actor_name"]),
        role=str(body["role"]),
        action=str(body["action"]),
        from_state=body["from"],
        to_state=body["to"],
        details=dict(body["details"]),
        touches=[dict(t) for t in body["touches"]],
        prev=body["prev"],
    )


def _check_events(state: _State) -> Check:
    lines, problem = _events(state)
    if problem is not None or lines is None:
        return _failed("casefile.events", T_EVENTS, problem or Text("", ""), Sub.FORMAT_FAILURE)
    case = (state.case or {}).get("case") or {}
    problems: list[Text] = []
    pairs: list[tuple[ChainedEvent, str]] = []
    for number, line in enumerate(lines, 1):
        body = line["event"]
        try:
            event = _chained(body)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(
                tech(
                    f"第 {number} 行的事件不完整。",
                    f"The event on line {number} is incomplete.",
                    str(exc)[:200],
                )
            )
            continue
        if event_body(event) != body:
            problems.append(
                Text(
                    f"第 {event.seq} 个事件不是规范形式（含多余或改写的字段）。",
                    f"Event {event.seq} is not in its canonical form (fields added or rewritten).",
                )
            )
        if case.get("id") is not None and event.case != case.get("id"):
            problems.append(
                Text(
                    f"第 {event.seq} 个事件属于另一案件（{event.case}）。",
                    f"Event {event.seq} belongs to another case ({event.case}).",
                )
            )
        if line.get("seq") != event.seq:
            problems.append(
                Text(
                    f"{EVENTS} 第 {number} 行的序号与其事件不符。",
                    f"Line {number} of {EVENTS} is numbered differently from its event.",
                )
            )
        pairs.append((event, str(line.get("hash"))))
    head = case.get("chain_head")
    found = chain_problems(pairs, head=head if isinstance(head, str) else None)
    problems += [Text(p.zh, p.en) for p in found]
    count = case.get("event_count")
    if isinstance(count, int) and count != len(lines):
        problems.append(
            Text(
                f"案件记录了 {count} 个事件，案卷中有 {len(lines)} 个（事件被删除或添加）。",
                f"The case records {count} events; the case file holds {len(lines)} (events were "
                "removed or added).",
            )
        )
    facts = {"events": len(lines), "chain_head": head, "broken_at": sorted({p.seq for p in found})}
    if problems:
        more = len(problems) - 1
        reason = problems[0]
        if more:
            reason = reason + Text(f"另有 {more} 处问题。", f"{more} more problem(s).")
        return _failed(
            "casefile.events",
            T_EVENTS,
            reason,
            Sub.HASH_FAILURE,
            details=problems[:_MAX_DETAILS],
            facts=facts,
        )
    return Check(
        "casefile.events",
        T_EVENTS,
        Status.PASSED,
        Text(
            f"{len(lines)} 个事件的哈希链完整：序号连续，每个事件指向前一个事件，内容与哈希一致，"
            "链的末端即案件记录的链头。",
            f"The hash chain of {len(lines)} events is whole: numbered without gaps, each "
            "pointing at the one before, each matching its hash, ending at the case's recorded "
            "head.",
        ),
        facts=facts,
    )


def _check_log(state: _State) -> Check:
    lines, problem = _events(state)
    if problem is not None or lines is None:
        return _failed("casefile.log", T_LOG, problem or Text("", ""), Sub.FORMAT_FAILURE)
    sth, problem = _json_member(state, TREE_HEAD)
    if problem is not None or not isinstance(sth, dict):
        return _failed(
            "casefile.log",
            T_LOG,
            problem or Text("签名树头格式错误。", "The signed tree head is malformed."),
            Sub.FORMAT_FAILURE,
        )
    head = check_sth(sth, state.trust, now=state.now)
    facts: dict[str, Any] = {"sth": head.facts}
    if head.status is not Status.PASSED or head.root is None or head.tree_size is None:
        return Check("casefile.log", T_LOG, head.status, head.reason, head.sub, facts=facts)
    if state.past and head.gen_time is not None and head.gen_time > state.now:
        return Check(
            "casefile.log",
            T_LOG,
            Status.INDETERMINATE,
            Text(
                f"签名树头产生于 {iso(head.gen_time)}，晚于验证时间：在该时间它尚不存在。",
                f"The tree head was made at {iso(head.gen_time)}, after the validation time: "
                "as of then it did not exist.",
            ),
            Sub.NO_POE,
            facts=facts,
        )
    problems: list[Text] = []
    for line in lines:
        seq = line["event"].get("seq")
        found = line.get("log")
        proof: dict[str, Any] = found if isinstance(found, dict) else {}
        try:
            leaf = leaf_hash(bytes.fromhex(str(line.get("hash"))))
            index, size = int(proof["leaf_index"]), int(proof["tree_size"])
            claimed = bytes.fromhex(str(proof["leaf_hash"]))
        except (KeyError, TypeError, ValueError):
            problems.append(
                Text(
                    f"第 {seq} 个事件没有可用的收录证明。",
                    f"Event {seq} has no usable inclusion proof.",
                )
            )
            continue
        path = hexes(proof.get("audit_path"))
        if (
            claimed != leaf
            or size != head.tree_size
            or path is None
            or not verify_inclusion(index, size, leaf, path, head.root)
        ):
            problems.append(
                Text(
                    f"第 {seq} 个事件不在透明日志中（其收录证明不能通向签名树头的根哈希）。",
                    f"Event {seq} is not in the transparency log (its audit path does not lead "
                    "to the signed root).",
                )
            )
    facts.update(tree_size=head.tree_size, events=len(lines))
    state.facts["transparency_log"] = {
        "tree_size": head.tree_size,
        "sth_time": iso(head.gen_time),
        "events": len(lines),
    }
    if problems:
        return _failed(
            "casefile.log",
            T_LOG,
            problems[0],
            Sub.HASH_FAILURE,
            details=problems[1:_MAX_DETAILS],
            facts=facts,
        )
    return Check(
        "casefile.log",
        T_LOG,
        Status.PASSED,
        Text(
            f"全部 {len(lines)} 个事件都收录于透明日志（签名树头：{head.tree_size} 条记录，"
            f"{iso(head.gen_time)}）：任何事件都不能在事后被悄悄改动、删除或调换顺序。",
            f"All {len(lines)} events are in the transparency log (tree head of "
            f"{head.tree_size} entries, {iso(head.gen_time)}): none can be changed, removed or "
            "reordered afterwards unseen.",
        ),
        facts=facts,
    )


# -- what the events touch -------------------------------------------------------------------


def _check_touches(state: _State) -> Check:
    lines, problem = _events(state)
    if problem is not None or lines is None or state.case is None:
        return _failed(
            "casefile.touches",
            T_TOUCHES,
            problem or Text("没有可用的案件信息。", "No usable case information."),
            Sub.FORMAT_FAILURE,
        )
    documents = {
        str(d.get("document_id")): d
        for d in state.case.get("documents") or []
        if isinstance(d, dict)
    }
    evidence = [e for e in state.case.get("evidence") or [] if isinstance(e, dict)]
    by_ref = {
        (str(e.get("kind")), str(e.get("capture_id") or e.get("object_key"))): e for e in evidence
    }
    problems: list[tuple[Sub, Text]] = []
    touched_docs: set[str] = set()
    touched_evidence: set[int] = set()
    count = 0
    for line in lines:
        body = line["event"]
        seq = body.get("seq")
        for touch in body.get("touches") or []:
            if not isinstance(touch, dict) or not touch.get("sha256"):
                continue
            count += 1
            kind, ref, sha = str(touch.get("kind")), str(touch.get("id")), touch.get("sha256")
            if kind == "document":
                doc = documents.get(ref)
                paths = [str(v.get("path")) for v in (doc or {}).get("versions") or []]
                present = [p for p in paths if state.sha(p) is not None]
                if doc is None or not present:
                    problems.append(
                        (
                            Sub.FORMAT_FAILURE,
                            Text(
                                f"第 {seq} 个事件加入的文书 {ref} 不在案卷中。",
                                f"Document {ref}, added by event {seq}, is not in the case file.",
                            ),
                        )
                    )
                elif not any(state.sha(p) == sha for p in present):
                    problems.append(
                        (
                            Sub.HASH_FAILURE,
                            Text(
                                f"第 {seq} 个事件加入的文书 {ref}（SHA-256 {sha}）在案卷中"
                                f"（{doc.get('directory')}）没有哈希相同的版本。",
                                f"Document {ref} as event {seq} added it (SHA-256 {sha}) is not "
                                f"among its versions in {doc.get('directory')}.",
                            ),
                        )
                    )
                touched_docs.add(ref)
                continue
            item = by_ref.get((kind, ref))
            path = str(item.get("path")) if item is not None else None
            actual = state.sha(path) if path is not None else None
            if item is None or actual is None:
                problems.append(
                    (
                        Sub.FORMAT_FAILURE,
                        Text(
                            f"第 {seq} 个事件附加的证据（{kind} {ref}）不在案卷中"
                            + (f"（应为 {path}）" if path else "")
                            + "。",
                            f"The evidence event {seq} attached ({kind} {ref}) is not in the "
                            "case file" + (f" (expected at {path})" if path else "") + ".",
                        ),
                    )
                )
            elif actual != sha:
                problems.append(
                    (
                        Sub.HASH_FAILURE,
                        Text(
                            f"{path} 不是第 {seq} 个事件附加的证据：哈希为 {actual}，事件记录的是 "
                            f"{sha}（证据被替换或调换）。",
                            f"{path} is not the evidence event {seq} attached: its SHA-256 is "
                            f"{actual}, the event recorded {sha} (replaced or swapped).",
                        ),
                    )
                )
            if item is not None:
                touched_evidence.add(id(item))
    for ref, doc in documents.items():
        if ref not in touched_docs:
            problems.append(
                (
                    Sub.FORMAT_FAILURE,
                    Text(
                        f"文书 {doc.get('directory')} 不是任何事件加入的。",
                        f"Document {doc.get('directory')} was added by no event.",
                    ),
                )
            )
    for item in evidence:
        if id(item) not in touched_evidence:
            problems.append(
                (
                    Sub.FORMAT_FAILURE,
                    Text(
                        f"证据 {item.get('path')} 不是任何事件附加的。",
                        f"Evidence {item.get('path')} was attached by no event.",
                    ),
                )
            )
    if problems:
        more = len(problems) - 1
        reason = problems[0][1]
        if more:
            reason = reason + Text(f"另有 {more} 处问题。", f"{more} more problem(s).")
        return _failed(
            "casefile.touches",
            T_TOUCHES,
            reason,
            problems[0][0],
            details=[t for _s, t in problems[:_MAX_DETAILS]],
            facts={"touches": count, "problems": len(problems)},
        )
    return Check(
        "casefile.touches",
        T_TOUCHES,
        Status.PASSED,
        Text(
            f"事件所涉的 {count} 份文书与证据都在案卷中且哈希一致；"
            "案卷中的每份文书与证据都由事件加入。",
            f"All {count} documents and pieces of evidence the events touch are in the case file "
            "with the same hash, and each one in it was added by an event.",
        ),
        facts={"touches": count},
    )


# -- nested packages and documents (the engine) -------------------------------------------------


class _Window(io.RawIOBase):
    """A stored ZIP member read in place: bytes ``start`` .. ``start + size`` of ``fh``."""

    def __init__(self, fh: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self.fh, self.start, self.size, self.pos = fh, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self.size - self.pos))
        if n == 0:
            return 0
        self.fh.seek(self.start + self.pos)
        data = self.fh.read(n)
        view[: len(data)] = data
        self.pos += len(data)
        return len(data)


def _member_stream(state: _State, name: str) -> tuple[BinaryIO, int] | None:
    entry = state.entries.get(name)
    if entry is None or not entry.complete:
        return None
    spooled = state.collected.spooled.get(name)
    if spooled is not None:
        spooled.seek(0)
        return spooled, entry.size  # type: ignore[return-value]
    if entry.method != 0:
        return None
    state.fh.seek(entry.header_offset)
    head = state.fh.read(30)
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    start = entry.header_offset + 30 + name_len + extra_len
    return io.BufferedReader(_Window(state.fh, start, entry.size), 1024 * 1024), entry.size


def _nested(state: _State, name: str, proofs: bytes | None) -> Report | None:
    opened = _member_stream(state, name)
    if opened is None:
        return None
    stream, size = opened
    # A past validation of the case file is one of what it holds, as of the same moment.
    options = dataclasses.replace(
        state.options,  # type: ignore[type-var]
        now=state.now,
        at=state.now if state.past else None,
    )
    return state.nested(stream, size, name, trust=state.trust, proofs=proofs, options=options)


def _as_check(check_id: str, title: Text, name: str, report: Report, *, counts: bool) -> Check:
    indication, sub, deciding = report.decided
    status = {
        "TOTAL-PASSED": Status.PASSED,
        "TOTAL-FAILED": Status.FAILED,
        "INDETERMINATE": Status.INDETERMINATE,
    }[indication.value]
    if status is Status.PASSED:
        reason = Text(
            f"{name}：核验通过（TOTAL-PASSED，{len(report.checks)} 项检查）。",
            f"{name}: TOTAL-PASSED ({len(report.checks)} checks).",
        )
        sub = None
    else:
        line = report.indication_line()
        reason = Text(f"{name}：{line}。", f"{name}: {line}.")
        if deciding is not None:
            reason = Text(
                f"{name}：{line}——{deciding.title.zh}：{deciding.reason.zh}",
                f"{name}: {line} -- {deciding.title.en}: {deciding.reason.en}",
            )
    details = [
        Text(f"{c.id}：{c.reason.zh}", f"{c.id}: {c.reason.en}")
        for c in report.checks
        if c.counts and c.status in (Status.FAILED, Status.INDETERMINATE)
    ][:_MAX_DETAILS]
    facts = {
        "path": name,
        "kind": report.kind,
        "indication": report.indication_line(),
        "deciding_check": deciding.id if deciding is not None else None,
        "sha256": report.file_sha256,
        "checks": {c.id: c.status.value for c in report.checks},
    }
    return Check(check_id, title, status, reason, sub, details=details, facts=facts, counts=counts)


def _check_documents(state: _State) -> list[Check]:
    if state.case is None:
        return []
    checks: list[Check] = []
    for doc in state.case.get("documents") or []:
        if not isinstance(doc, dict):
            continue
        seq = doc.get("event_seq")
        check_id = f"casefile.document.{int(seq) if isinstance(seq, int) else len(checks) + 1}"
        title = Text(f"文书 {doc.get('directory')}", f"Document {doc.get('directory')}")
        versions = [v for v in doc.get("versions") or [] if isinstance(v, dict)]
        newest = max(versions, key=lambda v: int(v.get("seq") or 0), default=None)
        if newest is None or newest.get("kind") == "rendered":
            checks.append(
                Check(
                    check_id,
                    title,
                    Status.NOT_APPLICABLE,
                    Text(
                        "文书尚未签章（草稿），只核对哈希。",
                        "The document is not signed yet (a draft): checked by its hash only.",
                    ),
                )
            )
            continue
        path = str(newest.get("path"))
        report = _nested(state, path, None)
        if report is None:
            checks.append(_missing(check_id, title, path))
            continue
        checks.append(_as_check(check_id, title, path, report, counts=True))
    return checks


RECEIPT_EVENT = "payment_receipt_issued"


def _check_receipts(state: _State) -> list[Check]:
    """Each payment receipt the file carries: its own signature (the unit's seal) verified as
    any PDF is, and its SHA-256 the one the event that issued it put in the chain; and every
    receipt the chain says was issued is in the file. (A case file written before receipts
    were carried has no ``receipts`` list: nothing to check.)"""
    if state.case is None or "receipts" not in state.case:
        return []
    lines, _problem = _events(state)
    issued = {
        body["seq"]: body.get("details") or {}
        for body in (line["event"] for line in lines or [])
        if body.get("action") == RECEIPT_EVENT and isinstance(body.get("seq"), int)
    }
    checks: list[Check] = []
    carried: set[int] = set()
    for item in state.case.get("receipts") or []:
        if not isinstance(item, dict):
            continue
        path = str(item.get("path"))
        check_id = f"casefile.receipt.{item.get('receipt_id')}"
        title = Text(f"缴款凭证 {path}", f"Receipt {path}")
        seq = item.get("event_seq")
        details = issued.get(seq) if isinstance(seq, int) else None
        if isinstance(seq, int):
            carried.add(seq)
        actual = state.sha(path)
        if details is None or details.get("sha256") != item.get("sha256"):
            checks.append(
                _failed(
                    check_id,
                    title,
                    Text(
                        f"{path} 不是案件日志中任何开具凭证事件所记录的凭证。",
                        f"{path} is not the receipt any receipt event of the case's log recorded.",
                    ),
                    Sub.HASH_FAILURE,
                )
            )
            continue
        if actual is None:
            checks.append(_missing(check_id, title, path))
            continue
        if actual != details.get("sha256"):
            checks.append(
                _failed(
                    check_id,
                    title,
                    Text(
                        f"{path} 的 SHA-256 与第 {seq} 个事件记录的不同。",
                        f"{path} differs from the SHA-256 event {seq} recorded.",
                    ),
                    Sub.HASH_FAILURE,
                )
            )
            continue
        report = _nested(state, path, None)
        if report is None:
            checks.append(_missing(check_id, title, path))
            continue
        checks.append(_as_check(check_id, title, path, report, counts=True))
    for seq in sorted(set(issued) - carried):
        checks.append(
            _failed(
                f"casefile.receipt.event.{seq}",
                Text("缴款凭证", "Receipt"),
                Text(
                    f"第 {seq} 个事件开具的缴款凭证不在案卷中。",
                    f"The receipt issued by event {seq} is not in the case file.",
                ),
                Sub.FORMAT_FAILURE,
            )
        )
    return checks


def _verifiable(head: bytes) -> bool:
    """A package (ZIP) or a PDF: what the engine verifies beyond its hash."""
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06") or b"%PDF-" in head[:1024]


def _check_evidence(state: _State) -> list[Check]:
    if state.case is None:
        return []
    checks: list[Check] = []
    for item in state.case.get("evidence") or []:
        if not isinstance(item, dict):
            continue
        n = item.get("n")
        check_id = f"casefile.evidence.{int(n) if isinstance(n, int) else len(checks) + 1}"
        path = str(item.get("path"))
        title = Text(f"证据 {path}", f"Evidence {path}")
        opened = _member_stream(state, path)
        if opened is None:
            checks.append(_missing(check_id, title, path))
            continue
        stream, _size = opened
        head = stream.read(1024)
        if item.get("kind") == "capture":
            proofs_path = item.get("proofs_path")
            proofs = state.collected.small.get(str(proofs_path)) if proofs_path else None
            report = _nested(state, path, proofs)
            assert report is not None
            checks.append(_as_check(check_id, title, path, report, counts=True))
            continue
        if item.get("record_path"):
            checks.append(_upload_seal(state, check_id, title, item, path))
        else:
            checks.append(
                Check(
                    check_id,
                    title,
                    Status.NOT_APPLICABLE,
                    Text(
                        "上传的文件（上传时未加盖时间戳），以其哈希（事件与签名清单所记）核对。",
                        "An uploaded file (not time-stamped at upload): checked by its hash "
                        "(recorded by its event and the signed manifest).",
                    ),
                )
            )
        if _verifiable(head):  # an uploaded package or PDF: its own signatures, for reference
            report = _nested(state, path, None)
            assert report is not None
            content = _as_check(
                f"{check_id}.content",
                title + Text("（文件自身的签名）", "(the file's own signatures)"),
                path,
                report,
                counts=False,
            )
            content.details.insert(
                0,
                Text(
                    "上传文件自身的签名仅供参考：其完整性已由事件与签名清单中的哈希证明。",
                    "The uploaded file's own signatures are informative: its integrity is "
                    "proven by the hash its event and the signed manifest record.",
                ),
            )
            checks.append(content)
    return checks


UPLOAD_RECORD = Text("上传记录", "the upload record")


def _upload_seal(
    state: _State, check_id: str, title: Text, item: Mapping[str, Any], path: str
) -> Check:
    """An upload sealed when it was uploaded: its record (case, name, size, SHA-256) names
    this file, and the record's RFC 3161 token verifies."""
    record_path = str(item.get("record_path"))
    token_path = str(item.get("record_timestamp_path"))
    record = state.collected.small.get(record_path)
    der = state.collected.small.get(token_path)
    if record is None or der is None:
        missing = record_path if record is None else token_path
        return _failed(
            check_id,
            title,
            Text(f"{missing} 不在案卷中或已损坏。", f"{missing} is missing or damaged."),
            Sub.FORMAT_FAILURE,
        )
    try:
        facts = json.loads(record)
        if not isinstance(facts, dict):
            raise ValueError("not an object")
    except ValueError:
        return _failed(
            check_id,
            title,
            Text(f"{record_path} 不是有效的上传记录。", f"{record_path} is not a valid record."),
            Sub.FORMAT_FAILURE,
        )
    actual = state.sha(path)
    if facts.get("sha256") != actual or facts.get("sha256") != item.get("sha256"):
        return _failed(
            check_id,
            title,
            Text(
                f"{path} 不是其上传记录所记的文件（SHA-256 {actual}，记录为 "
                f"{facts.get('sha256')}）。",
                f"{path} is not the file its upload record names (SHA-256 {actual}; the record "
                f"says {facts.get('sha256')}).",
            ),
            Sub.HASH_FAILURE,
        )
    case_id = ((state.case or {}).get("case") or {}).get("id")
    if facts.get("case") != case_id:
        return _failed(
            check_id,
            title,
            Text(
                f"{record_path} 记录的是另一案件的上传。",
                f"{record_path} records an upload into another case.",
            ),
            Sub.FORMAT_FAILURE,
        )
    token = check_token(
        der,
        digest=digest_of(record),
        trust=state.trust,
        what=UPLOAD_RECORD,
        valid_until=state.now,
        validation_time=state.validation_time,
    )
    check = Check(check_id, title, token.status, token.reason, token.sub, facts=token.facts)
    check.facts.update(path=path, record=record_path, uploaded_by=facts.get("uploaded_by"))
    if token.ok:
        fold_revocation(check, token, required=state.require_revocation)
    if check.status is Status.PASSED:
        check.reason = Text(
            f"{path}：上传时即已固定——其上传记录（SHA-256 与文件一致）由 "
            f"{token.facts.get('tsa')} 于 {iso(token.gen_time)} 加盖时间戳。",
            f"{path}: sealed when uploaded -- its upload record (the file's SHA-256) was "
            f"time-stamped by {token.facts.get('tsa')} at {iso(token.gen_time)}.",
        )
    return check
