"""PAdES validation of any signed PDF, offline: :func:`validate_pdf` -> :class:`PdfReport`.

The same function serves the court verifier (the evidence certificate inside a package, or a
PDF given on its own) and the e-signature feature's validation API, so that both tell a court
the same thing about the same file.

How a signature is judged (pyHanko does the cryptography and the modification analysis):

1. pyHanko's signature validation with a validation context built from the trust roots, the
   document's own DSS and any CRLs/OCSP responses given (``allow_fetching=False``: never
   online), revocation "soft-fail", at the current time. This gives integrity (HASH_FAILURE),
   the signature value (SIG_CRYPTO_FAILURE), coverage, the modification level after signing
   (``DiffResult``), DocMDP compliance, the claimed and time-stamped signing times, the trust
   path and a revocation found in the data.
2. Revocation availability: the same validation in "hard-fail" mode; it succeeds only when
   the offline data proves every certificate unrevoked.
3. When the chain is no longer valid today (expired), pyHanko's ETSI EN 319 102-1 long-term
   validation (``ades_lta_validation``, local data only) decides, using the document
   time-stamps as proof of existence.
4. A change after signing that pyHanko cannot classify (``ModificationLevel.OTHER``) is not
   taken as proof of alteration: ``pdf_changes`` renders the signed revision and the final
   file and compares pages, pixels and attachments (as the EU DSS validator does).
5. The signature's own time-stamp is checked like a WACZ package time-stamp
   (``tst.check_token``: TSA chain to the trust bundle, imprint over the signature value); its
   time is the proved signing time only when that check passes.

Every indication comes from ONE table of outcomes, ``pdf_etsi.OUTCOMES`` (documented in
``docs/etsi-indications.md``); each signature's report names its row (``outcome``).
Hybrid-reference files are read in non-strict mode, and the report says so.

PAdES level reached: B-B (ETSI.CAdES.detached with a signing-certificate-v2 attribute), B-T
(+ a trusted signature time-stamp or a later document time-stamp), B-LT (+ a DSS whose data
alone proves the chain unrevoked), B-LTA (+ a valid document time-stamp over a revision that
already holds that DSS).

A malformed file or signature never raises: pyHanko and asn1crypto errors become a
TOTAL-FAILED FORMAT_FAILURE result with the reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import io
import logging
import re
import threading
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .model import Indication, Status, Sub, Text, iso, tech
from .pdf_changes import ChangeReviewer
from .pdf_etsi import Outcome, outcome, resolve, trust_outcome
from .trust import TrustStore, load_trust_bundle
from .tst import TokenResult, check_token

__all__ = ["PdfReport", "PdfSignatureReport", "validate_pdf"]

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 256 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 16 * 1024 * 1024
T = TypeVar("T")


@dataclass
class PdfSignatureReport:
    """One signature or document time-stamp of a PDF."""

    field_name: str
    kind: str  # "signature" | "document-timestamp"
    indication: Indication
    sub_indication: Sub | None
    reason: Text
    revision: int | None = None
    signer: dict[str, str] | None = None
    signing_time_claimed: datetime | None = None
    signing_time_stamped: datetime | None = None
    timestamp_authority: str | None = None
    intact: bool | None = None
    crypto_valid: bool | None = None
    trusted: bool = False
    trust_anchor: str | None = None
    #: "good" | "revoked" | "unknown" | "not-checked"
    revocation: str = "not-checked"
    revocation_reason: Text | None = None
    coverage: str | None = None
    modification_level: str | None = None
    docmdp_ok: bool | None = None
    pades_level: str | None = None
    subfilter: str | None = None
    validated_in_past: bool = False
    #: /Reason and /Location of the signature dictionary, as the signer stated them.
    stated_reason: str | None = None
    location: str | None = None
    #: The audit trail a counter-signature carries in its signature dictionary
    #: (``/Prop_Build /App /EvidenceAudit``, see ``signing.pades``): account, auth method,
    #: IP, user agent, time, document hash. Covered by that signature's byte range.
    audit: dict[str, Any] | None = None
    #: The signature's own time-stamp (CMS ``signature-time-stamp`` attribute), checked like a
    #: package time-stamp: ``tsa``, ``gen_time``, ``status``/``sub_indication``, ``trusted``,
    #: ``imprint_matches``, ``chain``... ``signing_time_stamped`` is its time only if trusted.
    signature_timestamp: dict[str, Any] | None = None
    #: When pyHanko could not classify a change after signing: what rendering the signed
    #: revision and the final file showed (``pdf_changes.ChangeReview.to_dict``).
    change_review: dict[str, Any] | None = None
    #: The row of ``pdf_etsi.OUTCOMES`` that gave ``indication``/``sub_indication``.
    outcome: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field_name": self.field_name,
            "kind": self.kind,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason.to_dict(),
            "revision": self.revision,
            "signer": self.signer,
            "signing_time_claimed": iso(self.signing_time_claimed),
            "signing_time_stamped": iso(self.signing_time_stamped),
            "timestamp_authority": self.timestamp_authority,
            "intact": self.intact,
            "crypto_valid": self.crypto_valid,
            "trusted": self.trusted,
            "trust_anchor": self.trust_anchor,
            "revocation": self.revocation,
            "revocation_reason": self.revocation_reason.to_dict()
            if self.revocation_reason
            else None,
            "coverage": self.coverage,
            "modification_level": self.modification_level,
            "docmdp_ok": self.docmdp_ok,
            "pades_level": self.pades_level,
            "subfilter": self.subfilter,
            "validated_in_past": self.validated_in_past,
            "stated_reason": self.stated_reason,
            "location": self.location,
            "audit": self.audit,
            "signature_timestamp": self.signature_timestamp,
            "change_review": self.change_review,
            "outcome": self.outcome,
        }


@dataclass
class PdfReport:
    """What :func:`validate_pdf` found. ``indication`` is the worst over all signatures and
    document time-stamps (a PDF without any is INDETERMINATE NO_SIGNING_CERTIFICATE_FOUND)."""

    indication: Indication
    sub_indication: Sub | None
    reason: Text
    sha256: str | None = None
    size: int = 0
    signatures: list[PdfSignatureReport] = field(default_factory=list)
    timestamps: list[PdfSignatureReport] = field(default_factory=list)
    embedded_files: list[str] = field(default_factory=list)
    #: Contents of the attachments asked for with ``attachments=`` (not in ``to_dict``).
    attachments: dict[str, bytes] = field(default_factory=dict)
    revocation_policy: str = "if-available"
    #: The file has hybrid-reference cross-reference sections (a table plus ``/XRefStm``
    #: streams). pyHanko refuses those in strict mode; like the EU DSS validator, the file is
    #: read in non-strict mode, and the report says so.
    hybrid_xref: bool = False
    #: The row of ``pdf_etsi.OUTCOMES`` that decided a file-level result (None when the
    #: signatures decided: each has its own ``outcome``).
    outcome: str | None = None

    @property
    def ok(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def to_dict(self) -> dict[str, Any]:
        return {
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "reason": self.reason.to_dict(),
            "sha256": self.sha256,
            "size": self.size,
            "signatures": [s.to_dict() for s in self.signatures],
            "document_timestamps": [s.to_dict() for s in self.timestamps],
            "embedded_files": self.embedded_files,
            "revocation_policy": self.revocation_policy,
            "hybrid_xref": self.hybrid_xref,
            "outcome": self.outcome,
        }


def _file_result(key: str, reason: Text, **kw: Any) -> PdfReport:
    """A report decided by the file itself, per the outcome table (``pdf_etsi``)."""
    indication, sub = resolve(outcome(key))
    return PdfReport(indication, sub, reason, outcome=key, **kw)


def _failed(reason: Text, key: str = "unreadable", **kw: Any) -> PdfReport:
    return _file_result(key, reason, **kw)


def _run(coro: Awaitable[T]) -> T:
    """Run pyHanko's coroutines whether or not this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def validate_pdf(
    path_or_stream: str | Path | bytes | IO[bytes],
    trust_roots_pem: bytes | TrustStore,
    *,
    extra_crls: Iterable[bytes] | None = None,
    extra_ocsps: Iterable[bytes] | None = None,
    require_revocation: bool = False,
    attachments: Sequence[str] = (),
    moment: datetime | None = None,
) -> PdfReport:
    """Validate every signature and document time-stamp of a PDF, offline.

    ``trust_roots_pem``: a PEM bundle (self-signed certificates are the trust anchors, others
    help build paths, CRL blocks count as revocation data) or a :class:`TrustStore`.
    ``extra_crls``/``extra_ocsps``: DER revocation data beyond what the PDF embeds.
    ``require_revocation``: without it (the default policy) a signature whose revocation
    status cannot be established offline still passes, with ``revocation="unknown"``; with
    it, such a signature is INDETERMINATE TRY_LATER. ``attachments``: names of embedded files
    whose contents to return in ``PdfReport.attachments``. ``moment``: the validation time
    (pyHanko's ``ValidationContext(moment=)``; default now).

    Never raises for bad input.
    """
    policy = "required" if require_revocation else "if-available"
    try:
        data = _read_all(path_or_stream)
    except (OSError, ValueError) as exc:
        return _failed(
            tech("无法读取 PDF 文件。", "The PDF file cannot be read.", str(exc)),
            revocation_policy=policy,
        )
    digest = hashlib.sha256(data).hexdigest()
    if isinstance(trust_roots_pem, TrustStore):
        trust = trust_roots_pem
    else:
        trust = load_trust_bundle(
            trust_roots_pem or b"", source="given", description=Text("调用方提供", "given")
        )
    crls = [*(c.public_bytes(serialization.Encoding.DER) for c in trust.crls), *(extra_crls or ())]
    ocsps = [
        *(o.public_bytes(serialization.Encoding.DER) for o in trust.ocsps),
        *(extra_ocsps or ()),
    ]
    try:
        with _quiet_pyhanko():
            report = _run(
                _validate(data, trust, crls, ocsps, require_revocation, attachments, moment)
            )
    except Exception as exc:  # pyHanko/asn1crypto raise assorted errors for broken files
        log.debug("PDF validation failed", exc_info=True)
        report = _failed(
            tech(
                "PDF 文件或其签名结构损坏，无法验证。",
                "The PDF file or its signature structure is damaged and cannot be validated.",
                f"{type(exc).__name__}: {exc}"[:300],
            )
        )
    report.sha256 = digest
    report.size = len(data)
    report.revocation_policy = policy
    return report


_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_saved_levels: list[int] = []


@contextlib.contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """pyHanko logs tracebacks for every malformed input it meets; the report already says
    what is wrong, so its loggers are muted while a PDF is validated."""
    global _quiet_depth
    loggers = [logging.getLogger(n) for n in ("pyhanko", "pyhanko_certvalidator")]
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            _saved_levels[:] = [lg.level for lg in loggers]
            for lg in loggers:
                lg.setLevel(logging.CRITICAL + 1)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for lg, level in zip(loggers, _saved_levels, strict=False):
                    lg.setLevel(level)


def _read_all(source: str | Path | bytes | IO[bytes]) -> bytes:
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as fh:
            data = fh.read(MAX_PDF_BYTES + 1)
    else:
        data = source.read(MAX_PDF_BYTES + 1)
    if len(data) > MAX_PDF_BYTES:
        raise ValueError("PDF larger than 256 MiB")
    return data


def _asn1_cert(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _sub_from_pyhanko(indic: Any) -> Sub:
    name = getattr(indic, "name", None) or str(indic)
    try:
        return Sub(name)
    except ValueError:
        return Sub.GENERIC


async def _validate(
    data: bytes,
    trust: TrustStore,
    crls: list[bytes],
    ocsps: list[bytes],
    require_revocation: bool,
    want: Sequence[str],
    moment: datetime | None = None,
) -> PdfReport:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError

    if data.lstrip()[:5] != b"%PDF-" and b"%PDF-" not in data[:1024]:
        return _failed(Text("文件不是 PDF。", "The file is not a PDF."), "not-pdf")
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        return _file_result(
            "encrypted",
            Text(
                "PDF 已加密，无法在没有密码的情况下验证。",
                "The PDF is encrypted; it cannot be validated without its password.",
            ),
        )
    try:
        embedded_files, attachments = _attachments(reader, want)
    except Exception:
        embedded_files, attachments = [], {}
    sigs = list(reader.embedded_signatures)
    if not sigs:
        return _file_result(
            "no-signature",
            Text("PDF 中没有数字签名。", "The PDF carries no digital signature."),
            embedded_files=embedded_files,
            attachments=attachments,
        )
    try:
        dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        dss = None
    roots = [_asn1_cert(c) for c in trust.anchors]
    others = [_asn1_cert(c) for c in trust.pool]
    ctx = _Contexts(dss, roots, others, crls, ocsps)
    ctx.moment = moment
    ctx.changes = ChangeReviewer(data, reader)
    ctx.trust = trust
    ctx.signed_at = {str(e.field_name): e.signed_revision for e in sigs}
    report = PdfReport(Indication.TOTAL_PASSED, None, Text("", ""))
    report.embedded_files = embedded_files
    report.attachments = attachments
    report.hybrid_xref = _hybrid(reader)
    doc_ts_results: list[tuple[Any, PdfSignatureReport]] = []
    for emb in sigs:
        if str(emb.sig_object_type) == "/DocTimeStamp":
            result = await _doc_timestamp(emb, ctx)
            report.timestamps.append(result)
            doc_ts_results.append((emb, result))
    for emb in sigs:
        if str(emb.sig_object_type) != "/DocTimeStamp":
            report.signatures.append(
                await _signature(emb, ctx, require_revocation, reader, doc_ts_results)
            )
    everything = [*report.signatures, *report.timestamps]
    for indication in (Indication.TOTAL_FAILED, Indication.INDETERMINATE):
        worst = next((s for s in everything if s.indication is indication), None)
        if worst is not None:
            report.indication, report.sub_indication = indication, worst.sub_indication
            report.reason = Text(
                f"{_kind_zh(worst)}“{worst.field_name}”：{worst.reason.zh}",
                f"{_kind_en(worst)} {worst.field_name!r}: {worst.reason.en}",
            )
            return report
    n = len(report.signatures)
    report.reason = Text(
        f"全部 {n} 个签名和 {len(report.timestamps)} 个文档时间戳均有效。",
        f"All {n} signature(s) and {len(report.timestamps)} document time-stamp(s) are valid.",
    )
    if report.hybrid_xref:
        report.reason = report.reason + HYBRID_NOTE
    return report


HYBRID_NOTE = Text(
    "（该文件使用混合交叉引用表，已按非严格模式读取，与欧盟 DSS 验证程序相同。）",
    "(The file uses hybrid-reference cross-reference sections; it was read in non-strict "
    "mode, as the EU DSS validator reads it.)",
)


def _hybrid(reader: Any) -> bool:
    try:
        return bool(reader.xrefs.hybrid_xrefs_present)
    except Exception:
        return False


def _kind_zh(s: PdfSignatureReport) -> str:
    return "签名" if s.kind == "signature" else "文档时间戳"


def _kind_en(s: PdfSignatureReport) -> str:
    return "Signature" if s.kind == "signature" else "Document time-stamp"


class _Contexts:
    def __init__(
        self,
        dss: Any,
        roots: list[Any],
        others: list[Any],
        crls: list[bytes],
        ocsps: list[bytes],
    ) -> None:
        self.dss, self.roots, self.others, self.crls, self.ocsps = dss, roots, others, crls, ocsps
        self.moment: datetime | None = None
        #: Judges changes pyHanko cannot classify (set once the file is read).
        self.changes: ChangeReviewer | None = None
        #: The trust store (signature time-stamps are checked against it like WACZ ones).
        self.trust: TrustStore = TrustStore()
        #: field name -> revision it signed, for every signature and document time-stamp.
        self.signed_at: dict[str, int] = {}

    def later_fields(self, emb: Any) -> list[str]:
        """Signature fields signed after ``emb`` (their widgets are theirs, not its change)."""
        return [n for n, rev in self.signed_at.items() if rev > emb.signed_revision]

    def make(self, mode: str, *, dss_only: bool = False) -> Any:
        from pyhanko_certvalidator import ValidationContext

        kwargs: dict[str, Any] = {
            "trust_roots": list(self.roots),
            "allow_fetching": False,
            "revocation_mode": mode,
            "other_certs": list(self.others),
            "crls": [] if dss_only else list(self.crls),
            "ocsps": [] if dss_only else list(self.ocsps),
        }
        if self.moment is not None:
            kwargs["moment"] = self.moment
        if self.dss is not None:
            return self.dss.as_validation_context(kwargs)
        return ValidationContext(**kwargs)


def _key_usage() -> Any:
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    # Any PAdES signer: nonRepudiation (pyHanko's default) or digitalSignature.
    return KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )


def _signer_facts(cert: Any) -> dict[str, str]:
    return {
        "subject": str(cert.subject.human_friendly),
        "issuer": str(cert.issuer.human_friendly),
        "serial": f"{int(cert.serial_number):x}",
        "sha256": bytes(cert.sha256).hex(),
    }


def _name(level: Any) -> str | None:
    return None if level is None else str(getattr(level, "name", level))


def _validated(emb: Any, st: Any) -> dict[str, Any]:
    """The report fields that pyHanko's signature and document time-stamp statuses share."""
    return {
        "revision": emb.signed_revision,
        "signer": _signer_facts(st.signing_cert),
        "intact": st.intact,
        "crypto_valid": st.valid,
        "trusted": st.trusted,
        "trust_anchor": _anchor(st),
        "coverage": _name(st.coverage),
        "modification_level": _name(st.modification_level),
    }


async def _doc_timestamp(emb: Any, ctx: _Contexts) -> PdfSignatureReport:
    from pyhanko.sign.validation import async_validate_pdf_timestamp

    name = str(emb.field_name)
    try:
        st = await async_validate_pdf_timestamp(emb, ctx.make("soft-fail"))
    except Exception as exc:
        return _new(
            name,
            "document-timestamp",
            "signature-damaged",
            tech("文档时间戳损坏。", "The document time-stamp is damaged.", _exc(exc)),
        )
    out = _new(
        name,
        "document-timestamp",
        "valid",
        Text("", ""),
        signing_time_stamped=st.timestamp,
        timestamp_authority=str(st.signing_cert.subject.human_friendly),
        **_validated(emb, st),
    )
    if not st.intact:
        _judge(
            out,
            "digest-mismatch",
            Text(
                "文档时间戳覆盖的内容已被改动。",
                "The content the document time-stamp covers was altered.",
            ),
        )
    elif not st.valid:
        _judge(
            out,
            "signature-invalid",
            Text("文档时间戳的签名无效。", "The document time-stamp's signature is invalid."),
        )
    elif _changes_refused(
        out,
        emb,
        st,
        ctx,
        Text(
            "加盖文档时间戳之后，文档被以不允许的方式修改。",
            "The document was changed in a disallowed way after the document time-stamp.",
        ),
    ):
        pass
    elif not st.trusted:
        row, detail = _trust_row(st, emb, ctx)
        _judge(
            out,
            row.key,
            _joined(
                Text(
                    f"时间戳机构的证书不能通过验证：{row.meaning.zh}",
                    f"The time-stamp authority's certificate does not validate: {row.meaning.en}",
                ),
                detail,
            ),
            _pyhanko_sub(st),
        )
    else:
        _judge(
            out,
            "valid",
            _with_review_note(
                Text(
                    f"文档时间戳有效：文档在 {iso(st.timestamp)} 已经存在。",
                    f"Valid document time-stamp: the document existed at {iso(st.timestamp)}.",
                ),
                out,
            ),
        )
    return out


def _new(name: str, kind: str, key: str, reason: Text, **kw: Any) -> PdfSignatureReport:
    """A signature report judged by the row ``key`` of the outcome table."""
    indication, sub = resolve(outcome(key))
    return PdfSignatureReport(name, kind, indication, sub, reason, outcome=key, **kw)


def _anchor(st: Any) -> str | None:
    path = getattr(st, "validation_path", None)
    if path is None:
        return None
    try:
        return str(path.trust_anchor.authority.name.human_friendly)
    except Exception:
        return None


def _joined(text: Text, more: Text) -> Text:
    return text + more if more.en else text


def _pyhanko_sub(st: Any) -> Sub | None:
    indic = getattr(st, "trust_problem_indic", None)
    return None if indic is None else _sub_from_pyhanko(indic)


def _trust_row(st: Any, emb: Any, ctx: _Contexts) -> tuple[Outcome, Text]:
    """The outcome row for a signer (or TSA) pyHanko does not trust, and what the chain at
    hand shows (which root is untrusted, which issuer is missing) for the reason."""
    indic = getattr(st, "trust_problem_indic", None)
    try:
        shape, name = _chain_shape(st.signing_cert, emb, ctx)
    except Exception:  # odd certificates: pyHanko's own indication stands, without details
        shape, name = "untrusted-root", "?"
    row = trust_outcome(getattr(indic, "name", None) or (str(indic) if indic else None), shape)
    detail = Text("", "")
    if row.key == "untrusted-root":
        detail = Text(f"根证书 {name} 不在信任范围内。", f"The root {name} is not trusted.")
    elif row.key == "untrusted-self-signed":
        detail = Text(
            f"签名者证书 {name} 为自签名证书，不在信任范围内。",
            f"The certificate {name} is self-signed and not trusted.",
        )
    elif row.key == "missing-issuer":
        detail = Text(
            f"缺少上级证书 {name}（签名、DSS 与信任文件中均没有）。",
            f"The issuer certificate {name} is missing (not in the signature, the DSS or the "
            "trust bundle).",
        )
    return row, detail


def _chain_shape(cert: Any, emb: Any, ctx: _Contexts) -> tuple[str, str]:
    """Follow issuers from ``cert`` through every certificate at hand (the CMS, the DSS, the
    trust bundle): ("self-signed" | "untrusted-root" | "missing-issuer" | "trusted-anchor",
    the subject concerned). Names only: pyHanko has already said the path does not validate;
    this only says which piece is absent."""
    pool: list[Any] = [*ctx.roots, *ctx.others]
    with contextlib.suppress(Exception):
        pool += list(emb.other_embedded_certs)
    with contextlib.suppress(Exception):
        pool += list(ctx.dss.load_certs()) if ctx.dss is not None else []
    anchors = {bytes(c.sha256) for c in ctx.roots}
    current = cert
    for _ in range(16):
        subject = str(current.subject.human_friendly)
        if bytes(current.sha256) in anchors:
            return "trusted-anchor", subject
        if current.self_signed in ("yes", "maybe"):
            return ("self-signed" if current is cert else "untrusted-root"), subject
        issuer = next(
            (c for c in pool if c.subject == current.issuer and c.sha256 != current.sha256), None
        )
        if issuer is None:
            return "missing-issuer", str(current.issuer.human_friendly)
        current = issuer
    return "untrusted-root", str(current.subject.human_friendly)


#: pyHanko's ``SuspiciousModification`` messages for changes it *did* classify and that a
#: FieldMDP lock or the DocMDP certification forbids (``StandardDiffPolicy.apply``).
_PERMISSION_REFUSAL = re.compile(
    r"because the form field .* is locked|only allowed after an approval signature"
)


def _change_problem(st: Any) -> str | None:
    """None when pyHanko accepts every change after signing. Otherwise "coverage" (the
    signature does not cover its whole revision), "unclassified" (pyHanko's difference
    analysis cannot classify a change: ``ModificationLevel.OTHER``, judged by rendering) or
    "docmdp" (a change pyHanko did classify, beyond what the certification allows or into a
    field a signature locked)."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if st.coverage is None or st.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return "coverage"
    diff = getattr(st, "diff_result", None)
    if isinstance(diff, Exception) and _PERMISSION_REFUSAL.search(str(diff)):
        return "docmdp"  # classified, and forbidden: a locked field or a certification's rule
    level = st.modification_level
    if level is not None and level == ModificationLevel.OTHER:
        return "unclassified"
    if getattr(st, "docmdp_ok", None) is False:
        return "docmdp"
    return None


def _changes_refused(
    out: PdfSignatureReport, emb: Any, st: Any, ctx: _Contexts, refused: Text
) -> bool:
    """Judge the changes after signing; True (with ``out`` judged) when they defeat the
    signature. A change pyHanko cannot classify is judged by what it does to the document
    (``pdf_changes``): no visible and no attachment difference leaves integrity intact."""
    problem = _change_problem(st)
    if problem is None:
        return False
    if problem == "coverage":
        _judge(
            out,
            "partial-coverage",
            Text(
                f"签名的字节范围没有覆盖其修订版本的全部内容（覆盖范围：{out.coverage}），"
                "未签名的部分可能被替换。",
                f"The signature's byte range does not cover its whole revision (coverage: "
                f"{out.coverage}): the unsigned part may have been replaced.",
            ),
        )
        return True
    if problem != "unclassified" or ctx.changes is None:
        _judge(out, "docmdp-violated", refused)
        return True
    review = ctx.changes.review(emb, ctx.later_fields(emb))
    out.change_review = review.to_dict()
    if review.verdict == "invisible":
        return False
    if review.verdict == "visible":
        zh, en = [], []
        for kind, zh_kind in (("added", "新增"), ("removed", "删除"), ("changed", "改动")):
            pages = review.pages(kind)
            if pages:
                zh.append(f"{zh_kind}第 {_pages_text(pages)} 页")
                en.append(f"page(s) {_pages_text(pages)} {kind}")
        _judge(
            out,
            "changed-visibly",
            Text(
                f"签名之后文档显示的内容被改动：{'，'.join(zh)}（pyHanko 无法归类该改动，修改级别 "
                "OTHER；签名时的版本与现在的文件逐页渲染比较，差异图见报告）。",
                f"What the document shows was changed after signing: {'; '.join(en)} (pyHanko "
                "cannot classify the change, modification level OTHER; the signed revision and "
                "the current file were rendered and compared page by page; the report shows "
                "the differences).",
            ),
        )
    elif review.verdict == "attachments":
        names = ", ".join(review.attachments_changed)[:300]
        _judge(
            out,
            "attachments-changed",
            Text(
                f"签名之后文档的附件被改动：{names}（修改级别 OTHER）。",
                f"Embedded files were changed after signing: {names} (modification level OTHER).",
            ),
        )
    else:
        _judge(
            out,
            "changes-not-judged",
            tech(
                "签名之后文档有无法归类的改动（修改级别 OTHER），且无法通过渲染比较判断其是否改变了"
                "文档内容。",
                "The document was changed after signing in a way pyHanko cannot classify "
                "(modification level OTHER), and rendering could not show whether the change "
                "alters what the document says.",
                review.problem or "",
            ),
        )
    return True


def _pages_text(pages: list[int]) -> str:
    return ", ".join(str(p) for p in pages[:20]) + (", ..." if len(pages) > 20 else "")


def _with_review_note(text: Text, out: PdfSignatureReport) -> Text:
    """``text``, plus what a passing signature's report says about unclassified changes."""
    review = out.change_review
    if not review:
        return text
    count = sum(len(r.get("objects", [])) for r in review.get("unclassified", []))
    pages = review.get("pages_final")
    return text + Text(
        f"签名之后有 {count} 个对象的改动 pyHanko 无法归类；签名时的版本与现在的文件渲染结果"
        f"完全相同（{pages} 页，像素一致），附件未变，签名内容完整。",
        f"pyHanko could not classify the change of {count} object(s) written after signing; "
        f"the signed revision and the current file render identically ({pages} page(s), same "
        "pixels) and the embedded files are unchanged, so the signed content is intact.",
    )


def _judge(out: PdfSignatureReport, key: str, reason: Text, pyhanko_sub: Sub | None = None) -> None:
    """Judge ``out`` by the row ``key`` of the outcome table (``pdf_etsi.OUTCOMES``)."""
    out.indication, out.sub_indication = resolve(outcome(key), pyhanko_sub)
    out.outcome, out.reason = key, reason


def _exc(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


async def _signature(
    emb: Any,
    ctx: _Contexts,
    require_revocation: bool,
    reader: Any,
    doc_ts: list[tuple[Any, PdfSignatureReport]],
) -> PdfSignatureReport:
    from pyhanko.sign.validation import async_validate_pdf_signature

    name = str(emb.field_name)
    subfilter = str(emb.sig_object.get("/SubFilter", "")) or None
    try:
        st = await async_validate_pdf_signature(
            emb, ctx.make("soft-fail"), key_usage_settings=_key_usage()
        )
    except Exception as exc:
        return _new(
            name,
            "signature",
            "signature-damaged",
            tech(
                "签名结构损坏，无法验证。",
                "The signature is damaged and cannot be validated.",
                _exc(exc),
            ),
            subfilter=subfilter,
            **_stated(emb),
        )
    stamp = _signature_timestamp(emb, ctx, doc_ts)
    tst = st.timestamp_validity
    out = _new(
        name,
        "signature",
        "valid",
        Text("", ""),
        signing_time_claimed=st.signer_reported_dt,
        signing_time_stamped=stamp.gen_time if stamp is not None and stamp.ok else None,
        timestamp_authority=_tsa_name(stamp, tst),
        signature_timestamp=_stamp_facts(stamp),
        docmdp_ok=st.docmdp_ok,
        **_validated(emb, st),
        subfilter=subfilter,
        **_stated(emb),
    )
    revoked = st.revocation_details
    if not st.intact:
        _judge(
            out,
            "digest-mismatch",
            Text(
                "签名后文档内容被改动（摘要不一致）。",
                "The signed content was altered after signing (digest mismatch).",
            ),
        )
        return out
    if not st.valid:
        _judge(out, "signature-invalid", Text("签名值无效。", "The signature value is invalid."))
        return out
    if _changes_refused(
        out,
        emb,
        st,
        ctx,
        Text(
            f"签名之后文档被以不允许的方式修改（修改级别：{out.modification_level}）。",
            f"The document was changed after signing in a way the signature does not allow "
            f"(modification level: {out.modification_level}).",
        ),
    ):
        return out
    poe_time = _poe_time(out, doc_ts, emb)
    if revoked is not None:
        out.revocation = "revoked"
        when = revoked.revocation_date
        out.revocation_reason = Text(
            f"证书于 {iso(when)} 被吊销。", f"A certificate was revoked on {iso(when)}."
        )
        if poe_time is not None and poe_time < when:
            out.revocation_reason = out.revocation_reason + Text(
                "签名有可信时间证明早于吊销，仍然有效。",
                "A trusted time proves the signature came first; it stays valid.",
            )
        elif poe_time is not None and not revoked.ca_revoked:
            _judge(
                out,
                "revoked",
                Text(
                    f"签名时签名者证书已被吊销（{iso(when)}）。",
                    f"The signer's certificate was revoked ({iso(when)}) before the signature "
                    "was time-stamped.",
                ),
            )
            return out
        else:
            _judge(
                out,
                "ca-revoked-no-poe" if revoked.ca_revoked else "revoked-no-poe",
                Text(
                    f"证书已被吊销（{iso(when)}），且无法证明签名早于吊销。",
                    f"A certificate was revoked ({iso(when)}) and nothing proves the "
                    "signature was made before that.",
                ),
            )
            return out
    if not st.trusted:
        row, detail = _trust_row(st, emb, ctx)
        if row.key == "expired-no-poe":
            past = await _past_validation(emb, ctx)
            if past is None:
                out.trusted = True
                out.validated_in_past = True
            else:  # the row's sub-indication: pyHanko's past validation only explains why
                _judge(out, row.key, past[1])
                return out
        else:
            _judge(
                out,
                row.key,
                _joined(row.meaning, detail),
                _pyhanko_sub(st),
            )
            return out
    if out.revocation != "revoked":
        out.revocation = await _revocation_status(emb, ctx)
        if out.revocation == "good":
            out.revocation_reason = Text(
                "离线吊销信息（文档 DSS 或提供的数据）证明证书未被吊销。",
                "Offline revocation data (the document's DSS or data given) shows the "
                "certificates were not revoked.",
            )
        else:
            out.revocation_reason = Text(
                "没有离线可用的吊销信息，无法确认证书未被吊销。",
                "No revocation data is available offline to show the certificates were not "
                "revoked.",
            )
    out.pades_level = await _pades_level(
        emb, out.signing_time_stamped is not None, ctx, reader, doc_ts, subfilter
    )
    if out.revocation == "unknown" and require_revocation:
        _judge(out, "revocation-unknown-required", out.revocation_reason or Text("", ""))
        return out
    signer = out.signer["subject"] if out.signer else "?"
    signed_at = out.signing_time_stamped or out.signing_time_claimed
    _judge(
        out,
        "valid",
        _with_review_note(
            Text(
                f"签名有效：签名者 {signer}，签名时间 {iso(signed_at)}，"
                f"PAdES 级别 {out.pades_level or '无'}。",
                f"Valid signature by {signer}, signed {iso(signed_at)}, PAdES level "
                f"{out.pades_level or 'none'}.",
            ),
            out,
        ),
    )
    return out


SIGNATURE_VALUE = Text("签名值", "the signature value")


def _signature_timestamp(
    emb: Any, ctx: _Contexts, doc_ts: list[tuple[Any, PdfSignatureReport]]
) -> TokenResult | None:
    """The signature's own time-stamp (CMS unsigned attribute ``signature-time-stamp``),
    checked exactly like a WACZ package time-stamp (``tst.check_token``): the TSA's chain to
    the trust bundle (else ``NO_CERTIFICATE_CHAIN_FOUND``), its EKU, and the token's imprint
    over the signature value. A later valid document time-stamp counts as proof of existence
    when the TSA's certificate has since expired. None without a time-stamp."""
    try:
        der = _signature_token(emb)
        value = bytes(emb.signer_info["signature"].native)
    except Exception:
        return None
    if der is None:
        return None
    later = [
        r.signing_time_stamped
        for e, r in doc_ts
        if e.signed_revision > emb.signed_revision
        and r.indication is Indication.TOTAL_PASSED
        and r.signing_time_stamped is not None
    ]
    try:
        return check_token(
            der,
            digest=lambda algorithm: hashlib.new(algorithm, value).digest(),
            trust=ctx.trust,
            what=SIGNATURE_VALUE,
            valid_until=ctx.moment,
            poe=min(later) if later else None,
        )
    except Exception as exc:  # a token too odd even for check_token: reported, proves nothing
        log.debug("signature time-stamp unreadable", exc_info=True)
        return TokenResult(
            Status.FAILED,
            Sub.FORMAT_FAILURE,
            tech("签名时间戳无法解析。", "The signature time-stamp cannot be parsed.", _exc(exc)),
        )


def _signature_token(emb: Any) -> bytes | None:
    """DER of the first ``signature-time-stamp`` token among the unsigned attributes.

    Read from a fresh parse of the signature's CMS bytes, not from ``emb.signer_info``: once
    pyHanko has validated that structure, asn1crypto re-encodes the whole token (its
    certificates included) to dump it, and asking its ``.native`` decodes all of it -- that
    was a third of the time of verifying a case file of 20 packages."""
    from asn1crypto import cms

    (signer_info,) = cms.ContentInfo.load(emb.pkcs7_content)["content"]["signer_infos"]
    attrs = signer_info["unsigned_attrs"]
    if not attrs or not len(attrs):
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token" and len(attr["values"]):
            return bytes(attr["values"][0].dump())
    return None


def _tsa_name(stamp: TokenResult | None, tst: Any) -> str | None:
    if stamp is not None and stamp.facts.get("tsa"):
        return str(stamp.facts["tsa"])
    try:
        return str(tst.signing_cert.subject.human_friendly) if tst is not None else None
    except Exception:
        return None


def _stamp_facts(stamp: TokenResult | None) -> dict[str, Any] | None:
    """The signature time-stamp as the report shows it (the facts a WACZ package time-stamp
    check carries, plus its status, whether its TSA is trusted and whether its imprint is
    that of the signature value)."""
    if stamp is None:
        return None
    imprint: bool | None = None
    if stamp.sub is Sub.HASH_FAILURE:
        imprint = False
    elif "tsa" in stamp.facts:  # check_token gets to the TSA only once the imprint matched
        imprint = True
    return {
        **stamp.facts,
        "status": stamp.status.value,
        "sub_indication": stamp.sub.value if stamp.sub else None,
        "reason": stamp.reason.to_dict(),
        "trusted": stamp.ok,
        "imprint_matches": imprint,
    }


def _stated(emb: Any) -> dict[str, Any]:
    """What the signer wrote in the signature dictionary: reason, location, audit trail.
    Never raises (a damaged dictionary just states nothing)."""
    out: dict[str, Any] = {}
    try:
        sig = emb.sig_object
        for key, name in (("/Reason", "stated_reason"), ("/Location", "location")):
            if key in sig:
                out[name] = str(sig[key])[:1000]
        from signing.pades import read_audit

        audit = read_audit(sig)
        if audit is not None:
            out["audit"] = audit
    except Exception:
        log.debug("unreadable signature dictionary entries", exc_info=True)
    return out


def _poe_time(
    out: PdfSignatureReport, doc_ts: list[tuple[Any, PdfSignatureReport]], emb: Any
) -> datetime | None:
    times = [out.signing_time_stamped] if out.signing_time_stamped else []
    times += [
        r.signing_time_stamped
        for e, r in doc_ts
        if r.indication is Indication.TOTAL_PASSED
        and r.signing_time_stamped is not None
        and e.signed_revision > emb.signed_revision
    ]
    return min(times) if times else None


async def _revocation_status(emb: Any, ctx: _Contexts, *, dss_only: bool = False) -> str:
    from pyhanko.sign.validation import async_validate_pdf_signature

    try:
        st = await async_validate_pdf_signature(
            emb,
            ctx.make("hard-fail", dss_only=dss_only),
            key_usage_settings=_key_usage(),
            skip_diff=True,
        )
    except Exception:
        return "unknown"
    if st.revocation_details is not None:
        return "revoked"
    return "good" if st.trusted else "unknown"


async def _past_validation(emb: Any, ctx: _Contexts) -> tuple[Sub, Text] | None:
    """ETSI long-term validation with local data only; None when it passes."""
    from pyhanko.sign.validation import ades
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=ctx.roots),
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(
                ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
                intermediate_ca_cert_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
            )
        ),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            key_usage_settings=_key_usage(),
        )
    )
    try:
        result = await ades.ades_lta_validation(emb, spec)
    except Exception as exc:
        return Sub.GENERIC, tech("长期验证失败。", "Long-term validation failed.", _exc(exc))
    indic = result.ades_subindic
    if getattr(indic, "name", "") == "OK" or str(indic).endswith("OK"):
        return None
    return _sub_as_indeterminate(_sub_from_pyhanko(indic)), tech(
        "证书已过期，且文档中的时间戳与验证数据不足以证明签名在有效期内产生。",
        "A certificate has expired and the document's time-stamps and validation data do "
        "not prove the signature was made while it was valid.",
        str(getattr(result, "failure_msg", "") or indic),
    )


def _sub_as_indeterminate(sub: Sub) -> Sub:
    from .model import FAILED_SUB_INDICATIONS

    return Sub.GENERIC if sub in FAILED_SUB_INDICATIONS else sub


async def _pades_level(
    emb: Any,
    stamped: bool,
    ctx: _Contexts,
    reader: Any,
    doc_ts: list[tuple[Any, PdfSignatureReport]],
    subfilter: str | None,
) -> str | None:
    if subfilter != "/ETSI.CAdES.detached":
        return None
    signed_attrs = emb.signer_info["signed_attrs"]
    names = {a["type"].native for a in signed_attrs} if signed_attrs else set()
    if "signing_certificate_v2" not in names and "signing_certificate" not in names:
        return None
    later = [
        (e, r)
        for e, r in doc_ts
        if e.signed_revision > emb.signed_revision and r.indication is Indication.TOTAL_PASSED
    ]
    if not (stamped or later):  # B-T: a trusted signature time-stamp, or a later document one
        return "B-B"
    if ctx.dss is None or await _revocation_status(emb, ctx, dss_only=True) != "good":
        return "B-T"
    for e, _r in later:
        try:
            if "/DSS" in reader.get_historical_root(e.signed_revision):
                return "B-LTA"
        except Exception:
            continue
    return "B-LT"


def _deref(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _attachments(reader: Any, want: Sequence[str]) -> tuple[list[str], dict[str, bytes]]:
    """Names of the embedded files (EmbeddedFiles name tree), and the contents asked for."""
    names: list[str] = []
    contents: dict[str, bytes] = {}
    try:
        tree = _deref(_deref(reader.root["/Names"])["/EmbeddedFiles"])
    except (KeyError, TypeError, AttributeError):
        return names, contents
    stack, seen = [tree], 0
    while stack and seen < 10_000:
        seen += 1
        try:
            node = _deref(stack.pop())
            stack.extend(_deref(node.get("/Kids")) or [])
            pairs = list(_deref(node.get("/Names")) or [])
        except Exception:
            continue
        for i in range(0, len(pairs) - 1, 2):
            name = str(_deref(pairs[i]))
            names.append(name)
            if name in want and name not in contents:
                try:
                    ef = _deref(_deref(pairs[i + 1])["/EF"])
                    stream = _deref(ef.get("/UF") or ef.get("/F"))
                    data = stream.data
                    if len(data) <= MAX_ATTACHMENT_BYTES:
                        contents[name] = bytes(data)
                except Exception:
                    continue
    return names, contents


def pdf_checks(
    report: PdfReport, prefix: str, title: Text
) -> list[tuple[str, Text, Status, Sub | None, Text, dict[str, Any]]]:
    """One (id, title, status, sub, reason, facts) per signature and document time-stamp."""
    many = len(report.signatures) > 1
    out = [
        _pdf_check(
            f"{prefix}.signature.{i}" if many else f"{prefix}.signature",
            title + Text(f"签名 {s.field_name}", f"signature {s.field_name}"),
            s,
            report.hybrid_xref,
        )
        for i, s in enumerate(report.signatures, 1)
    ]
    out += [
        _pdf_check(
            f"{prefix}.timestamp.{i}",
            title + Text(f"文档时间戳 {i}", f"document time-stamp {i}"),
            s,
            report.hybrid_xref,
        )
        for i, s in enumerate(report.timestamps, 1)
    ]
    return out


def _pdf_check(
    check_id: str, title: Text, s: PdfSignatureReport, hybrid_xref: bool = False
) -> tuple[str, Text, Status, Sub | None, Text, dict[str, Any]]:
    reason, facts = s.reason + _summary(s), s.to_dict()
    if hybrid_xref:  # a fact about the file, said where each signature's result is read
        reason, facts["hybrid_xref"] = reason + HYBRID_NOTE, True
    return (check_id, title, _status(s.indication), s.sub_indication, reason, facts)


_VERDICT = {
    "invisible": Text("无可见差异", "no visible difference"),
    "visible": Text("显示内容被改动", "what the document shows changed"),
    "attachments": Text("附件被改动", "embedded files changed"),
    "not-judged": Text("无法判断", "could not be judged"),
}

_REVOCATION_ZH = {"good": "未吊销", "revoked": "已吊销", "unknown": "未知", "not-checked": "未检查"}


def _summary(s: PdfSignatureReport) -> Text:
    """The per-signature facts a reader of the one-line reason needs (the CLI prints only
    reasons): field, signer, times, trust, revocation, coverage, changes after signing."""
    zh: list[str] = [f"字段 {s.field_name}"]
    en: list[str] = [f"field {s.field_name}"]
    if s.kind == "signature" and s.signer:
        zh.append(f"签名者 {s.signer.get('subject')}（证书 {s.signer.get('serial')}）")
        en.append(f"signer {s.signer.get('subject')} (certificate {s.signer.get('serial')})")
    if s.signing_time_claimed is not None:
        zh.append(f"声称签名时间 {iso(s.signing_time_claimed)}")
        en.append(f"claimed time {iso(s.signing_time_claimed)}")
    stamp = s.signature_timestamp
    if stamp is not None:
        line = _stamp_summary(stamp)
        zh.append(line.zh)
        en.append(line.en)
    elif s.signing_time_stamped is not None:
        zh.append(f"时间戳时间 {iso(s.signing_time_stamped)}（{s.timestamp_authority}）")
        en.append(f"time-stamped {iso(s.signing_time_stamped)} by {s.timestamp_authority}")
    if s.intact is not None:
        anchor = f"（根证书 {s.trust_anchor}）" if s.trust_anchor else ""
        zh.append(f"信任 {'是' if s.trusted else '否'}{anchor}")
        en.append(
            f"trusted {'yes' if s.trusted else 'no'}"
            + (f" (root {s.trust_anchor})" if s.trust_anchor else "")
        )
    if s.kind == "signature":
        zh.append(f"吊销状态 {_REVOCATION_ZH.get(s.revocation, s.revocation)}")
        en.append(f"revocation {s.revocation}")
    if s.coverage is not None:
        zh.append(f"覆盖范围 {s.coverage}")
        en.append(f"coverage {s.coverage}")
    if s.modification_level is not None:
        zh.append(f"签名后修改 {s.modification_level}")
        en.append(f"changes after signing {s.modification_level}")
    if s.change_review:
        verdict = _VERDICT.get(s.change_review.get("verdict", ""), Text("?", "?"))
        zh.append(f"无法归类的改动经渲染比较：{verdict.zh}")
        en.append(f"unclassified changes, rendered and compared: {verdict.en}")
    if s.audit:
        trail = ", ".join(f"{k}={v}" for k, v in sorted(s.audit.items()))[:600]
        zh.append(f"审计记录 {trail}")
        en.append(f"audit trail {trail}")
    return Text("［" + "；".join(zh) + "］", "[" + "; ".join(en) + "]")


_IMPRINT = {
    True: Text("与签名值一致", "matches the signature value"),
    False: Text("与签名值不一致", "does not match the signature value"),
}


def _stamp_summary(stamp: dict[str, Any]) -> Text:
    """The signature time-stamp in one line of the reason, as the WACZ path words a package
    time-stamp: time, TSA, trusted or not (with its indication), imprint."""
    when, tsa = stamp.get("gen_time") or "?", stamp.get("tsa") or "?"
    if stamp.get("trusted"):
        verdict = Text("可信", "trusted")
    else:
        code = " ".join(str(v) for v in (stamp.get("status"), stamp.get("sub_indication")) if v)
        verdict = Text(f"不可信（{code}）", f"not trusted ({code})")
    matches = stamp.get("imprint_matches")
    imprint = _IMPRINT[matches] if isinstance(matches, bool) else Text("未核对", "not checked")
    return Text(
        f"签名时间戳 {when}（{tsa}）：{verdict.zh}，摘要{imprint.zh}",
        f"signature time-stamp {when} by {tsa}: {verdict.en}, imprint {imprint.en}",
    )


def _status(indication: Indication) -> Status:
    return {
        Indication.TOTAL_PASSED: Status.PASSED,
        Indication.TOTAL_FAILED: Status.FAILED,
        Indication.INDETERMINATE: Status.INDETERMINATE,
    }[indication]
