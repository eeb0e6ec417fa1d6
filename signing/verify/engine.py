"""Entry point: recognise the file, run the right checks, return a :class:`Report`."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .container import Limits
from .model import Check, Report, Status, Sub, Text, tech
from .package import PackageOptions, verify_package
from .pdf import pdf_checks, validate_pdf
from .trust import TrustStore
from .tst import check_token

__all__ = ["VerifyOptions", "detect_kind", "verify_file", "verify_stream"]

MAX_TOKEN_FILE = 1024 * 1024
_HASH_CHUNK = 4 * 1024 * 1024


def _version() -> str:
    try:
        import importlib.metadata

        return f"evidence-service {importlib.metadata.version('evidence-service')}"
    except Exception:
        return "evidence-service"


@dataclass(frozen=True)
class VerifyOptions:
    """``require_revocation``: the validation policy's revocation rule. By default revocation
    data is used when available (a revocation found always counts) and its absence is
    reported without deciding the result; with it, absence gives INDETERMINATE TRY_LATER."""

    require_revocation: bool = False
    limits: Limits = field(default_factory=Limits)
    now: datetime | None = None


def detect_kind(head: bytes) -> str:
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "wacz"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head[:1] == b"\x30":
        return "timestamp"
    return "unknown"


def verify_file(
    path: str | Path,
    *,
    trust: TrustStore,
    proofs: bytes | None = None,
    data_path: str | Path | None = None,
    options: VerifyOptions = VerifyOptions(),
    display_name: str | None = None,
) -> Report:
    """Verify the file at ``path`` (WACZ package, PDF, or RFC 3161 token with ``data_path``)."""
    name = display_name or os.path.basename(str(path))
    try:
        fh = open(path, "rb")  # noqa: SIM115 -- closed by the with below
    except OSError as exc:
        return _unreadable(name, exc, trust, options)
    with fh:
        size = os.fstat(fh.fileno()).st_size
        data_opener = (
            (lambda: open(data_path, "rb"))  # noqa: SIM115 -- the engine closes it
            if data_path is not None
            else None
        )
        return verify_stream(
            fh, size, name, trust=trust, proofs=proofs, data=data_opener, options=options
        )


def verify_stream(
    fh: BinaryIO,
    size: int,
    name: str,
    *,
    trust: TrustStore,
    proofs: bytes | None = None,
    data: Callable[[], BinaryIO] | None = None,
    options: VerifyOptions = VerifyOptions(),
) -> Report:
    """Verify a seekable binary stream of ``size`` bytes. Never raises for bad input."""
    started = time.monotonic()
    now = options.now or datetime.now(UTC)
    fh.seek(0)
    head = fh.read(1024)
    fh.seek(0)
    kind = detect_kind(head)
    if kind == "unknown" and size >= 22:
        # a ZIP with something in front of it (a self-extracting stub): let the container
        # check say exactly what is wrong with it
        fh.seek(max(0, size - 65557))
        if b"PK\x05\x06" in fh.read():
            kind = "wacz"
        fh.seek(0)
    facts: dict[str, object] = {}
    sha: str | None = None
    checks: list[Check]
    if kind == "wacz":
        checks, facts, sha = verify_package(
            fh,
            size,
            trust=trust,
            proofs=proofs,
            options=PackageOptions(options.require_revocation, options.limits, now),
        )
    elif kind == "pdf":
        checks, facts, sha = _verify_pdf(fh, size, trust, options)
    elif kind == "timestamp" and size <= MAX_TOKEN_FILE:
        checks, facts, sha = _verify_token(fh, trust, data, options)
    else:
        sha = _sha256(fh)
        checks = [
            Check(
                "file.format",
                Text("文件格式", "File format"),
                Status.FAILED,
                Text(
                    "无法识别的文件：既不是 WACZ 证据包、PDF，也不是 RFC 3161 时间戳。",
                    "Unrecognised file: it is not a WACZ package, a PDF or an RFC 3161 time-stamp.",
                ),
                Sub.FORMAT_FAILURE,
            )
        ]
    if proofs is not None and kind != "wacz":
        checks.append(
            Check(
                "proofs.file",
                Text("证明文件（proofs.json）", "Proofs file (proofs.json)"),
                Status.NOT_APPLICABLE,
                Text(
                    "证明文件只适用于 WACZ 证据包，已忽略。",
                    "A proofs file applies to WACZ packages only; it was ignored.",
                ),
            )
        )
    return Report(
        file_name=name,
        file_size=size,
        file_sha256=sha,
        kind=kind,
        checks=checks,
        trust=trust.to_dict(),
        policy={"revocation": "required" if options.require_revocation else "if-available"},
        verified_at=now,
        duration_s=time.monotonic() - started,
        facts=dict(facts),
        verifier=_version(),
    )


def _sha256(fh: BinaryIO) -> str:
    fh.seek(0)
    h = hashlib.sha256()
    while chunk := fh.read(_HASH_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def _unreadable(name: str, exc: OSError, trust: TrustStore, options: VerifyOptions) -> Report:
    return Report(
        file_name=name,
        file_size=0,
        file_sha256=None,
        kind="unknown",
        checks=[
            Check(
                "file.format",
                Text("文件格式", "File format"),
                Status.INDETERMINATE,
                tech("无法读取文件。", "The file cannot be read.", str(exc)),
                Sub.SIGNED_DATA_NOT_FOUND,
            )
        ],
        trust=trust.to_dict(),
        policy={"revocation": "required" if options.require_revocation else "if-available"},
        verified_at=options.now or datetime.now(UTC),
        verifier=_version(),
    )


def _verify_pdf(
    fh: BinaryIO, size: int, trust: TrustStore, options: VerifyOptions
) -> tuple[list[Check], dict[str, object], str]:
    report = validate_pdf(fh, trust, require_revocation=options.require_revocation)
    sha = report.sha256 or _sha256(fh)
    title = Text("PDF ", "PDF ")
    checks: list[Check] = []
    if not report.signatures and not report.timestamps:
        status = (
            Status.FAILED if report.indication.value == "TOTAL-FAILED" else Status.INDETERMINATE
        )
        checks.append(
            Check(
                "pdf.document",
                Text("PDF 文档与签名", "PDF document and signatures"),
                status,
                report.reason,
                report.sub_indication or Sub.NO_SIGNING_CERTIFICATE_FOUND,
                facts={"pdf": report.to_dict()},
            )
        )
    else:
        checks.append(
            Check(
                "pdf.document",
                Text("PDF 文档与签名", "PDF document and signatures"),
                Status.PASSED,
                Text(
                    f"PDF 可读，含 {len(report.signatures)} 个签名与 {len(report.timestamps)} "
                    "个文档时间戳。",
                    f"The PDF reads; it holds {len(report.signatures)} signature(s) and "
                    f"{len(report.timestamps)} document time-stamp(s).",
                ),
                facts={"embedded_files": report.embedded_files},
            )
        )
        for cid, ctitle, status, sub, reason, cfacts in pdf_checks(report, "pdf", title):
            checks.append(Check(cid, ctitle, status, reason, sub, facts=cfacts))
    facts: dict[str, object] = {"pdf": report.to_dict()}
    return checks, facts, sha


def _verify_token(
    fh: BinaryIO,
    trust: TrustStore,
    data: Callable[[], BinaryIO] | None,
    options: VerifyOptions,
) -> tuple[list[Check], dict[str, object], str]:
    der = fh.read(MAX_TOKEN_FILE + 1)
    sha = hashlib.sha256(der).hexdigest()
    cache: dict[str, bytes] = {}

    def digest(algorithm: str) -> bytes | None:
        if data is None:
            return None
        if algorithm not in cache:
            h = hashlib.new(algorithm)
            with data() as src:
                while chunk := src.read(_HASH_CHUNK):
                    h.update(chunk)
            cache[algorithm] = h.digest()
        return cache[algorithm]

    title = Text("RFC 3161 时间戳", "RFC 3161 time-stamp")
    what = Text("所提供的数据文件", "the data file given")
    try:
        token = check_token(der, digest=digest, trust=trust, what=what)
    except OSError as exc:
        return (
            [
                Check(
                    "timestamp.token",
                    title,
                    Status.INDETERMINATE,
                    tech("无法读取数据文件。", "The data file cannot be read.", str(exc)),
                    Sub.SIGNED_DATA_NOT_FOUND,
                )
            ],
            {},
            sha,
        )
    reason = token.reason
    if token.sub is Sub.SIGNED_DATA_NOT_FOUND and data is None:
        reason = Text(
            "请用 --data 指定被加盖时间戳的文件。",
            "Give the time-stamped file with --data.",
        )
    checks = [Check("timestamp.token", title, token.status, reason, token.sub, facts=token.facts)]
    rev_title = Text("时间戳机构证书吊销状态", "Time-stamp authority certificate revocation")
    if token.revocation is not None:
        rev = token.revocation
        checks.append(
            Check(
                "timestamp.revocation",
                rev_title,
                rev.status,
                rev.reason,
                rev.sub,
                facts={"certificates": rev.per_cert},
                counts=not rev.unavailable or options.require_revocation,
            )
        )
    facts: dict[str, object] = {}
    if token.gen_time is not None and token.ok:
        facts["time_stamped"] = token.facts.get("gen_time")
        facts["tsa"] = token.facts.get("tsa")
    return checks, facts, sha
