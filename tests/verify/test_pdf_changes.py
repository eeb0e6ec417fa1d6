"""Changes after signing that pyHanko cannot classify are judged by what they do to the
document (``signing.verify.pdf_changes``): genuine files whose later revisions only add
validation data pass, attacks fail with the pages that changed and a difference image.

The files are made here (``tests.verify.pdfcraft``) and a few come from the EU DSS project's
test suite (``tests/verify/data/dss``, see its README)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from signing.verify import (
    Indication,
    Report,
    Sub,
    Text,
    VerifyOptions,
    load_trust_bundle,
    render_html,
    render_pdf,
    validate_pdf,
    verify_file,
)
from signing.verify.pdf import PdfReport, PdfSignatureReport
from tests.verify import pdfcraft
from tests.verify.sealing import Authorities, blank_pdf

DSS_DATA = Path(__file__).parent / "data" / "dss"


@pytest.fixture(scope="module")
def genuine(auth: Authorities) -> bytes:
    """PAdES-LT(A) as the EU DSS library writes it: three visible signatures and a document
    time-stamp, the DSS rewritten (every VRI entry anew) after each of them."""
    certs, crls = pdfcraft.validation_data(auth)
    data = pdfcraft.document(2)
    for i, box in enumerate([(40, 60, 190, 110), (220, 60, 370, 110), (400, 60, 550, 110)], 1):
        data = pdfcraft.sign(data, auth, field_name=f"Signature{i}", box=box)
        data = pdfcraft.rewrite_dss(data, certs, crls)
    data = pdfcraft.document_timestamp(data, auth)
    return pdfcraft.rewrite_dss(data, certs, crls)


@pytest.fixture(scope="module")
def signed(auth: Authorities) -> bytes:
    """A two-page B-T document: what the attacks start from."""
    return pdfcraft.sign(pdfcraft.document(2), auth, field_name="Seal")


def _all(report: PdfReport) -> list[PdfSignatureReport]:
    return [*report.signatures, *report.timestamps]


def test_genuine_three_signatures_and_doc_timestamp_with_dss_rewrites_pass(
    genuine: bytes, auth: Authorities
) -> None:
    report = validate_pdf(genuine, auth.bundle())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert len(report.signatures) == 3 and len(report.timestamps) == 1
    assert {s.pades_level for s in report.signatures} == {"B-LTA"}
    # pyHanko on its own cannot classify the VRI rewrites after signatures 2 and 3 and the
    # document time-stamp: those are judged by rendering, and nothing visible changed --
    # although signatures 2 and 3 have visible widgets added after signature 1 and 2.
    unclassified = [s for s in _all(report) if s.modification_level == "OTHER"]
    assert {s.field_name for s in unclassified} >= {"Signature2", "Signature3"}
    for s in unclassified:
        review = s.change_review
        assert review is not None and review["verdict"] == "invisible"
        assert review["pages_signed"] == review["pages_final"] == 2
        assert review["differences"] == [] and review["attachments_changed"] == []
        assert review["unclassified"], "the report lists what pyHanko could not classify"
        assert any("VRI" in r["why"] for r in review["unclassified"])
        listed = [o["what"] for r in review["unclassified"] for o in r["objects"]]
        assert any("/VRI" in w for w in listed) and any("/DSS" in w for w in listed)
        assert "render identically" in s.reason.en
    assert report.signatures[0].change_review is None  # classified: no review needed


def test_dss_update_pyhanko_cannot_classify_passes(signed: bytes, auth: Authorities) -> None:
    """Lowercase VRI keys (other tools write them; pyHanko's rule wants uppercase)."""
    certs, crls = pdfcraft.validation_data(auth)
    data = pdfcraft.rewrite_dss(signed, certs, crls, vri_key_case="lower")
    report = validate_pdf(data, auth.bundle())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    sig = report.signatures[0]
    assert sig.modification_level == "OTHER" and sig.pades_level == "B-LT"
    assert sig.change_review is not None and sig.change_review["verdict"] == "invisible"
    assert "not formatted correctly" in sig.change_review["unclassified"][0]["why"]


ATTACKS: dict[str, tuple[Callable[[bytes], bytes], str, list[int]]] = {
    "added page": (pdfcraft.add_page, "added", [3]),
    "removed page": (pdfcraft.remove_last_page, "removed", [2]),
    "changed text": (pdfcraft.change_text, "changed", [1]),
    "FreeText overlay": (pdfcraft.overlay_annotation, "changed", [1]),
    "Square overlay": (lambda d: pdfcraft.overlay_annotation(d, "/Square"), "changed", [1]),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacks_fail_with_pages_and_difference_image(
    attack: str, signed: bytes, auth: Authorities
) -> None:
    forge, kind, pages = ATTACKS[attack]
    report = validate_pdf(forge(signed), auth.bundle())
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        Sub.FORMAT_FAILURE,
    ), report.reason.en
    review = report.signatures[0].change_review
    assert review is not None and review["verdict"] == "visible"
    assert review[f"{kind}_pages"] == pages
    assert f"page(s) {pages[0]} {kind}" in report.reason.en
    image = Image.open(io.BytesIO(base64.b64decode(review["differences"][0]["difference_png"])))
    assert image.format == "PNG" and image.width > 100


@pytest.mark.parametrize("forge", [pdfcraft.shadow_swap, pdfcraft.shadow_replace_object])
def test_shadow_attacks_fail(forge: Callable[[bytes], bytes], auth: Authorities) -> None:
    signed = pdfcraft.sign(pdfcraft.document(1, shadow=True), auth, field_name="Seal")
    assert validate_pdf(signed, auth.bundle()).ok
    report = validate_pdf(forge(signed), auth.bundle())
    assert report.indication is Indication.TOTAL_FAILED, report.reason.en
    review = report.signatures[0].change_review
    assert review is not None and review["changed_pages"] == [1]
    difference = review["differences"][0]
    assert difference["changed_pixels"] > 50 and difference["box"] is not None


def test_changed_attachment_fails_though_no_page_changes(auth: Authorities) -> None:
    """An embedded file (the evidence certificate's certificate.json) shows on no page."""
    signed = pdfcraft.sign(
        blank_pdf({"certificate.json": b'{"sha256": "aa"}'}), auth, field_name="Seal"
    )
    forged = pdfcraft.replace_attachment(signed, "certificate.json", b'{"sha256": "bb"}')
    report = validate_pdf(forged, auth.bundle(), attachments=["certificate.json"])
    assert report.attachments["certificate.json"] == b'{"sha256": "bb"}'
    assert report.indication is Indication.TOTAL_FAILED, report.reason.en
    review = report.signatures[0].change_review
    assert review is not None and review["verdict"] == "attachments"
    assert review["attachments_changed"] == ["certificate.json"] and review["differences"] == []


def test_unjudgeable_change_is_indeterminate(
    signed: bytes, auth: Authorities, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs, crls = pdfcraft.validation_data(auth)
    data = pdfcraft.rewrite_dss(signed, certs, crls, vri_key_case="lower")
    monkeypatch.setattr("signing.verify.pdf_changes.MAX_VISUAL_PAGES", 1)
    report = validate_pdf(data, auth.bundle())
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, Sub.GENERIC)
    review = report.signatures[0].change_review
    assert review is not None and review["verdict"] == "not-judged"
    assert "pages" in (review["problem"] or "")


def _verify(data: bytes, tmp_path: Path, trust: bytes) -> Report:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    store = load_trust_bundle(trust, source="given", description=Text("测试", "test"))
    return verify_file(path, trust=store, options=VerifyOptions())


def test_difference_image_in_html_and_pdf_report(
    signed: bytes, auth: Authorities, tmp_path: Path
) -> None:
    report = _verify(pdfcraft.change_text(signed), tmp_path, auth.bundle())
    assert report.indication_line() == "TOTAL-FAILED FORMAT_FAILURE"
    html = render_html(report, "en")
    assert 'id="vr-pdf-changes"' in html
    assert "data:image/png;base64," in html
    assert "page(s) 1 changed" in html
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF") and b"/Subtype /Image" in pdf


def test_hybrid_reference_dss_file_is_read_and_its_vri_update_not_called_altered(
    tmp_path: Path,
) -> None:
    """The EU DSS project's PAdES-LT.pdf: three signatures and a document time-stamp, hybrid
    cross-reference sections, the last revision rewrites a VRI entry. Its signers are DSS test
    certificates (untrusted, expired): the result is about trust, never about alteration."""
    data = (DSS_DATA / "PAdES-LT.pdf").read_bytes()
    report = validate_pdf(data, b"")
    assert report.hybrid_xref is True and report.to_dict()["hybrid_xref"] is True
    assert len(report.signatures) == 3 and len(report.timestamps) == 1
    assert report.indication is Indication.INDETERMINATE, report.reason.en
    assert all(s.indication is not Indication.TOTAL_FAILED for s in _all(report))
    last = next(s for s in report.signatures if s.field_name == "Signature4")
    assert last.modification_level == "OTHER"
    assert last.change_review is not None and last.change_review["verdict"] == "invisible"
    assert "VRI key" in last.change_review["unclassified"][0]["why"]
    full = _verify(data, tmp_path, b"")
    checks = [c for c in full.checks if c.id.startswith("pdf.signature")]
    assert checks and all(c.facts.get("hybrid_xref") is True for c in checks)
    assert all("non-strict" in c.reason.en for c in checks)
    assert "non-strict" in render_html(full, "en")


@pytest.mark.parametrize(
    ("name", "pages"),
    [("pdf-signed-added-page.pdf", {"added_pages": [2]}), ("pades-signed-annot-added.pdf", {})],
)
def test_dss_attack_files_fail(name: str, pages: dict[str, list[int]]) -> None:
    report = validate_pdf((DSS_DATA / name).read_bytes(), b"")
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        Sub.FORMAT_FAILURE,
    ), report.reason.en
    review = next(s.change_review for s in report.signatures if s.change_review)
    assert review is not None and review["verdict"] == "visible"
    for key, value in pages.items():
        assert review[key] == value


def test_dss_shadow_hide_file_fails() -> None:
    report = validate_pdf((DSS_DATA / "hide.pdf").read_bytes(), b"")
    assert report.indication is Indication.TOTAL_FAILED, report.reason.en


def test_dss_original_is_intact() -> None:
    report = validate_pdf((DSS_DATA / "pdf-signed-original.pdf").read_bytes(), b"")
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        Sub.NO_CERTIFICATE_CHAIN_FOUND,
    )
    sig = report.signatures[0]
    assert sig.intact and sig.modification_level == "NONE" and sig.change_review is None
