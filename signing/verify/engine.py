"""Entry point: recognise the file, run the right checks, return a :class:`Report`."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .comparison import ATTACHMENT as COMPARISON_ATTACHMENT
from .comparison import CitedPackage, comparison_checks
from .container import Limits
from .model import Check, Report, Status, Sub, Text, tech
from .package import PackageOptions, verify_package
from .pdf import pdf_checks, validate_pdf
from .trust import TrustStore
from .tst import check_token

__all__ = [
    "ValidationTimeError",
    "VerifyOptions",
    "check_validation_time",
    "detect_kind",
    "parse_validation_time",
    "verify_file",
    "verify_stream",
]

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
    reported without deciding the result; with it, absence gives INDETERMINATE TRY_LATER.

    ``now``: the present (default: the clock). ``at``: validate as of that past moment, as
    DSS and pyHanko's validation time do -- certificates checked for validity then,
    time-stamps accepted if their TSA was valid then, proofs made later ignored or not
    counted, revocation data as known. The present-time verdict is computed too and carried
    in the report (``Report.present``), because "valid then" is not "valid now"."""

    require_revocation: bool = False
    limits: Limits = field(default_factory=Limits)
    now: datetime | None = None
    at: datetime | None = None


class ValidationTimeError(ValueError):
    """A validation time that cannot be used (malformed, without a time zone, or future)."""


_ISO_MOMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_validation_time(text: str, *, now: datetime | None = None) -> datetime:
    """``2022-02-01T00:00:00Z`` (ISO 8601 with a time zone) -> an aware UTC datetime.

    A time zone is required: a court in UTC+8 and a verifier in UTC must not read the same
    text as two moments eight hours apart. A moment in the future is refused (nothing can be
    validated as of a time that has not come)."""
    value = text.strip()
    if not _ISO_MOMENT.match(value):
        if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            raise ValidationTimeError(
                f"{text!r} has no time of day and no time zone: give a moment such as "
                f"{value}T00:00:00Z or {value}T00:00:00+08:00"
            )
        raise ValidationTimeError(
            f"{text!r} is not an ISO 8601 moment: give one such as 2022-02-01T00:00:00Z "
            "(or with an offset, 2022-02-01T08:00:00+08:00)"
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationTimeError(
            f"{text!r} is not a valid ISO 8601 moment (check the date and time)"
        ) from None
    return check_validation_time(moment, now=now, shown=text)


def check_validation_time(
    moment: datetime, *, now: datetime | None = None, shown: str | None = None
) -> datetime:
    """``moment`` as UTC, if it is a usable validation time (aware, not in the future)."""
    label = shown if shown is not None else moment.isoformat()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationTimeError(
            f"{label!r} has no time zone: add Z (UTC) or an offset such as +08:00"
        )
    present = now or datetime.now(UTC)
    moment = moment.astimezone(UTC)
    if moment > present:
        raise ValidationTimeError(
            f"{label} is in the future (it is now {present.strftime('%Y-%m-%dT%H:%M:%SZ')}): "
            "a validation time must be a past moment"
        )
    return moment


def detect_kind(head: bytes) -> str:
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        from .casefile import is_case_file  # an exported case file: a ZIP named by its mimetype

        return "casefile" if is_case_file(head) else "wacz"
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
    packages: Sequence[str | Path] = (),
) -> Report:
    """Verify the file at ``path`` (WACZ package, PDF, or RFC 3161 token with ``data_path``).

    ``packages``: for a comparison report, the packages it compares (checked to be the ones
    it cites, and verified)."""
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
        cited = [CitedPackage(os.path.basename(str(p)), _opener(p)) for p in packages]
        return verify_stream(
            fh,
            size,
            name,
            trust=trust,
            proofs=proofs,
            data=data_opener,
            options=options,
            packages=cited,
        )


def _opener(path: str | Path) -> Callable[[], BinaryIO]:
    def opened() -> BinaryIO:
        return open(path, "rb")  # the caller closes it

    return opened


def verify_stream(
    fh: BinaryIO,
    size: int,
    name: str,
    *,
    trust: TrustStore,
    proofs: bytes | None = None,
    data: Callable[[], BinaryIO] | None = None,
    options: VerifyOptions = VerifyOptions(),
    packages: Sequence[CitedPackage] = (),
) -> Report:
    """Verify a seekable binary stream of ``size`` bytes. Never raises for bad input (a bad
    ``options.at`` is not input: it raises :class:`ValidationTimeError`). ``packages``: for a
    comparison report, the packages it compares."""
    if options.at is None:
        return _verify_once(fh, size, name, trust, proofs, data, options, packages, past=False)
    started = time.monotonic()
    present_time = options.now or datetime.now(UTC)
    at = check_validation_time(options.at, now=present_time)
    present = _verify_once(
        fh,
        size,
        name,
        trust,
        proofs,
        data,
        replace(options, now=present_time),
        packages,
        past=False,
    )
    report = _verify_once(
        fh, size, name, trust, proofs, data, replace(options, now=at), packages, past=True
    )
    report.verified_at = present.verified_at
    report.validation_time = at
    report.present = present.verdict()
    report.duration_s = time.monotonic() - started
    return report


def _verify_once(
    fh: BinaryIO,
    size: int,
    name: str,
    trust: TrustStore,
    proofs: bytes | None,
    data: Callable[[], BinaryIO] | None,
    options: VerifyOptions,
    packages: Sequence[CitedPackage],
    *,
    past: bool,
) -> Report:
    """One run of the checks at ``options.now``; ``past``: that is a past moment asked for."""
    started = time.monotonic()
    now = options.now or datetime.now(UTC)
    options = replace(options, now=now)
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
            options=PackageOptions(options.require_revocation, options.limits, now, past),
        )
    elif kind == "casefile":
        from .casefile import verify_case_file

        checks, facts, sha = verify_case_file(
            fh, size, trust=trust, options=options, past=past, nested=verify_stream
        )
    elif kind == "pdf":
        checks, facts, sha = _verify_pdf(fh, size, trust, options, past, packages)
    elif kind == "timestamp" and size <= MAX_TOKEN_FILE:
        checks, facts, sha = _verify_token(fh, trust, data, options, past)
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
    if packages and not any(c.id == "comparison.content" for c in checks):
        checks.append(
            Check(
                "comparison.packages",
                Text("所引用的证据包", "Packages the report cites"),
                Status.NOT_APPLICABLE,
                Text(
                    "--package 只适用于比对报告（内嵌 comparison.json 的 PDF），已忽略。",
                    "--package applies to comparison reports (PDFs with comparison.json) only; "
                    "it was ignored.",
                ),
            )
        )
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
    fh: BinaryIO,
    size: int,
    trust: TrustStore,
    options: VerifyOptions,
    past: bool = False,
    packages: Sequence[CitedPackage] = (),
) -> tuple[list[Check], dict[str, object], str]:
    report = validate_pdf(
        fh,
        trust,
        require_revocation=options.require_revocation,
        moment=options.now if past else None,
        attachments=[COMPARISON_ATTACHMENT],
    )
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
    raw = report.attachments.get(COMPARISON_ATTACHMENT)
    if raw is not None:
        nested_options = replace(options, at=options.now if past else None)

        def nested(stream: BinaryIO, length: int, name: str) -> Report:
            return verify_stream(stream, length, name, trust=trust, options=nested_options)

        more, more_facts = comparison_checks(raw, packages, nested)
        checks += more
        facts.update(more_facts)
    return checks, facts, sha


def _verify_token(
    fh: BinaryIO,
    trust: TrustStore,
    data: Callable[[], BinaryIO] | None,
    options: VerifyOptions,
    past: bool = False,
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
        token = check_token(
            der,
            digest=digest,
            trust=trust,
            what=what,
            valid_until=options.now,
            validation_time=options.now if past else None,
        )
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
