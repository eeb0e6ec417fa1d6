"""The comparison report (比对报告): what changed between two sealed captures, as evidence.

``make_comparison_report(services, a, b, output)`` verifies both packages with the court
verifier (a package that fails is refused: a comparison of something that is not what was
sealed proves nothing), compares them (:func:`capture.compare.compare`), and writes a PDF/A-3b
report -- both packages' hashes and trusted times, the changed fields, the text lines removed
and added, the images removed and added by hash, both screenshots with the changed regions
highlighted -- with ``comparison.json`` (the same facts, canonical JSON) attached, signed with
the service seal at PAdES B-LT exactly like the evidence certificate
(:func:`evidence_service.sealing.certificate.sign_certificate`: signature time-stamp from the
first TSA, our CRLs and OCSP responses embedded). ``evidence verify REPORT --package A
--package B`` checks the seal and that A and B are the packages the report cites
(``signing.verify.comparison``).

``store_comparison`` does the same for two stored captures and keeps the report and the
highlighted screenshots in the object store, with a ``capture_comparisons`` row.
"""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capture.compare import COMPARISON_TYPE, Comparison, PackageError, compare
from evidence_service.sealing.certificate import (
    service_seal_credential,
    sign_certificate,
)
from evidence_service.sealing.comparison_layout import render_comparison_pdf
from evidence_service.sealing.pdf.writer import JpegImage, jpeg_image
from evidence_service.services import Services
from signing.translog import canonical_json
from signing.verify import Report, Text, TrustStore, load_trust_bundle, verify_file
from storage.errors import StorageError
from storage.models import Capture, CaptureComparison

__all__ = [
    "COMPARISON_ATTACHMENT",
    "ComparisonError",
    "ComparisonReport",
    "comparison_facts",
    "make_comparison_report",
    "store_comparison",
]

log = logging.getLogger(__name__)

COMPARISON_ATTACHMENT = "comparison.json"
FIELD_NAME = "EvidenceServiceSeal"
REASON = "电子数据比对报告 / comparison of two sealed captures"
#: The screenshots in the PDF are scaled to this width (px) before JPEG encoding.
SHOT_WIDTH = 900
SHOT_MAX_HEIGHT = 9000


class ComparisonError(Exception):
    """The comparison cannot be made: ``code`` says why (``not_found``, ``not_sealed``,
    ``unreadable``, ``not_verified``, ``same_capture``), the message what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ComparisonReport:
    facts: dict[str, Any]
    comparison: Comparison
    #: SHA-256 (hex) of the signed PDF written to ``output``.
    sha256: str
    output: Path


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def comparison_facts(
    comparison: Comparison,
    *,
    service: str,
    report_id: str,
    issued_at: datetime,
    verifications: tuple[dict[str, Any], dict[str, Any]],
) -> dict[str, Any]:
    """``comparison.json``: the comparison's summary, who issued it and when, and what the
    verifier found for each package."""
    facts = comparison.summary()
    assert facts["type"] == COMPARISON_TYPE
    facts["report_id"] = report_id
    facts["service"] = service
    facts["issued_at"] = _utc(issued_at)
    facts["a"]["verification"] = verifications[0]
    facts["b"]["verification"] = verifications[1]
    return facts


def _jpeg(png: bytes) -> JpegImage | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as img:
            img.load()
            shot = img.convert("RGB")
    except OSError:
        return None
    if shot.width > SHOT_WIDTH:
        shot = shot.resize(
            (SHOT_WIDTH, max(1, round(shot.height * SHOT_WIDTH / shot.width))),
            Image.Resampling.LANCZOS,
        )
    if shot.height > SHOT_MAX_HEIGHT:
        shot = shot.crop((0, 0, shot.width, SHOT_MAX_HEIGHT))
    out = io.BytesIO()
    shot.save(out, format="JPEG", quality=82)
    return jpeg_image(out.getvalue())


def _service_trust(services: Services) -> TrustStore:
    return load_trust_bundle(
        services.trust_bundle_pem(),
        source="service",
        description=Text("本服务的信任证书包", "this service's trust bundle"),
    )


def _verification(report: Report) -> dict[str, Any]:
    verdict = report.verdict()
    return {
        "indication": verdict["indication"],
        "sub_indication": verdict["sub_indication"],
        "verified_at": _utc(report.verified_at),
        "verifier": report.verifier,
    }


def make_comparison_report(
    services: Services,
    a_path: Path,
    b_path: Path,
    output: Path,
    *,
    report_id: str | None = None,
) -> ComparisonReport:
    """Verify, compare, render and sign; the signed PDF is written to ``output`` atomically.

    Raises :class:`ComparisonError` when a package cannot be read or does not verify."""
    trust = _service_trust(services)
    verifications = []
    for letter, path in (("A", a_path), ("B", b_path)):
        report = verify_file(path, trust=trust)
        if report.indication.value == "TOTAL-FAILED":
            raise ComparisonError(
                "not_verified",
                f"package {letter} ({Path(path).name}) fails verification "
                f"({report.indication_line()}): run `evidence verify {Path(path).name}` to see "
                "which check fails; a damaged package cannot be compared as evidence",
            )
        verifications.append(_verification(report))
    try:
        comparison = compare(a_path, b_path)
    except PackageError as exc:
        raise ComparisonError("unreadable", str(exc)) from None
    facts = comparison_facts(
        comparison,
        service=services.settings.effective_hostname,
        report_id=report_id or uuid.uuid4().hex,
        issued_at=datetime.now(UTC),
        verifications=(verifications[0], verifications[1]),
    )
    visual = comparison.visual
    shots = (
        (_jpeg(visual.highlighted_a), _jpeg(visual.highlighted_b))
        if visual is not None
        else (
            _jpeg(comparison.a.screenshot) if comparison.a.screenshot else None,
            _jpeg(comparison.b.screenshot) if comparison.b.screenshot else None,
        )
    )
    pdf = render_comparison_pdf(facts, shots=shots, attachment=canonical_json(facts))
    output.parent.mkdir(parents=True, exist_ok=True)
    credential = service_seal_credential(services)
    sign_certificate(services, pdf, output, credential=credential, reason=REASON)
    import hashlib

    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    return ComparisonReport(facts, comparison, digest, output)


def _stored_capture(services: Services, capture_id: str, letter: str) -> Capture:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is not None:
            session.expunge(cap)
    if cap is None:
        raise ComparisonError("not_found", f"capture {letter} ({capture_id}) does not exist")
    if cap.status != "stored" or not cap.package_key:
        raise ComparisonError(
            "not_sealed",
            f"capture {letter} ({capture_id}) is not sealed yet (state {cap.status}): compare "
            "it once it is stored",
        )
    return cap


def _copy_package(services: Services, cap: Capture, workdir: Path, letter: str) -> Path:
    assert cap.package_key is not None
    path = workdir / f"{letter}.wacz"
    try:
        with path.open("wb") as fh:
            services.store.copy_to(cap.package_key, fh)
    except StorageError as exc:
        raise ComparisonError(
            "unreadable", f"the package of capture {letter} cannot be read from the store: {exc}"
        ) from None
    return path


def store_comparison(
    services: Services, a_id: str, b_id: str, *, user_id: int | None = None
) -> CaptureComparison:
    """Compare two stored captures (A the earlier: they are put in order of trusted time),
    keep the signed report and the highlighted screenshots, and record the comparison."""
    if a_id == b_id:
        raise ComparisonError(
            "same_capture", "choose two different captures: a capture compared with itself"
        )
    a_cap = _stored_capture(services, a_id, "A")
    b_cap = _stored_capture(services, b_id, "B")
    if a_cap.trusted_time and b_cap.trusted_time and b_cap.trusted_time < a_cap.trusted_time:
        a_cap, b_cap = b_cap, a_cap  # the later capture was given first
    a_id, b_id = a_cap.id, b_cap.id
    with tempfile.TemporaryDirectory(prefix="comparison-") as tmp:
        work = Path(tmp)
        a_path = _copy_package(services, a_cap, work, "A")
        b_path = _copy_package(services, b_cap, work, "B")
        report_id = uuid.uuid4().hex
        made = make_comparison_report(
            services, a_path, b_path, work / "report.pdf", report_id=report_id
        )
        stored = services.store.put_file(made.output, content_type="application/pdf")
        highlight: list[str | None] = [None, None]
        visual = made.comparison.visual
        if visual is not None:
            for n, png in enumerate((visual.highlighted_a, visual.highlighted_b)):
                shot = work / f"highlight-{n}.png"
                shot.write_bytes(png)
                highlight[n] = services.store.put_file(shot, content_type="image/png").key
    row = CaptureComparison(
        id=report_id,
        a_capture_id=a_id,
        b_capture_id=b_id,
        created_by_id=user_id,
        report_key=stored.key,
        report_sha256=stored.sha256,
        highlight_a_key=highlight[0],
        highlight_b_key=highlight[1],
        summary=made.facts,
    )
    with services.session() as session:
        session.add(row)
    with services.sessions() as session:
        found = session.get(CaptureComparison, report_id)
        assert found is not None
        session.expunge(found)
    return found
