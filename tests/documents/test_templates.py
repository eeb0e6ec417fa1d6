"""Every document template renders from its sample data to a PDF/A-3b that states what the
data says (read back with Poppler's pdftotext, pdffonts, pdfdetach), carries its data as a
JSON attachment and empty signature slots; bad data is refused, naming the field, before any
PDF exists; the extraction record is filled from a real sealed capture package."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.timestamp import read_timestamp
from workflow.documents import (
    TEMPLATES,
    DocumentDataError,
    UnknownTemplateError,
    capture_facts,
    render_document,
    sample_data,
    validate_data,
)
from workflow.documents.render import SLOT_HEIGHT_MM, SLOT_WIDTH_MM, rmb_upper

from .conftest import run


def _text(pdf: Path) -> str:
    proc = run("pdftotext", "-layout", str(pdf), "-")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _flat(text: str) -> str:
    return "".join(text.split())


def _cn_date(iso: str) -> str:
    y, m, d = (int(x) for x in iso.split("-"))
    return f"{y}年{m}月{d}日"


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_template_renders_pdf_a_with_data_fonts_and_slots(
    template: str, tmp_path: Path
) -> None:
    data = sample_data(template)
    out = tmp_path / f"{template}.pdf"
    rendered = render_document(template, data, out)
    pdf = out.read_bytes()
    assert rendered.path == out and rendered.sha256 == hashlib.sha256(pdf).hexdigest()
    doc_type = TEMPLATES[template]

    # What a person reads: title, case number, unit, date, every legal basis cited by name.
    text = _flat(_text(out))
    for needed in (
        doc_type.title_zh,
        data["case_number"],
        data["issuing_unit"],
        _cn_date(data["date"]),
        *(f"《{c['rule']}》{c['article']}" for c in data["legal_basis"]),
    ):
        assert _flat(needed) in text, (template, needed)
    if "party" in data:
        assert _flat(data["party"]["name"]) in text
    assert doc_type.title_en not in _text(out)  # English only when asked for

    # Fonts: all embedded, the CJK one among them (no empty boxes for Chinese).
    fonts = run("pdffonts", str(out)).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
    assert any("WenQuanYi" in line for line in fonts), fonts

    # What a machine reads: document.json, the validated data, AFRelationship Data.
    assert "document.json" in run("pdfdetach", "-list", str(out)).stdout
    saved = run("pdfdetach", "-save", "1", "-o", str(tmp_path / "d.json"), str(out))
    assert saved.returncode == 0, saved.stderr
    attached = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert attached["template"] == template and attached["data"] == rendered.data
    assert attached["data"]["case_number"] == data["case_number"]

    # PDF/A-3b identification and the output intent it requires.
    reader = PdfFileReader(io.BytesIO(pdf))
    xmp = reader.root["/Metadata"].get_object().data.decode()
    # (element or attribute form: pyHanko rewrites the XMP packet when it adds the slots)
    assert re.search(r'pdfaid:part(="3"|>3<)', xmp), xmp
    assert re.search(r'pdfaid:conformance(="B"|>B<)', xmp), xmp
    intents = reader.root["/OutputIntents"]
    assert len(intents) >= 1 and str(intents[0]["/S"]) == "/GTS_PDFA1"
    files = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert str(files[1]["/AFRelationship"]) == "/Data"

    # One empty signature field per slot, on a page, of the slot's size.
    from pyhanko.sign.fields import enumerate_sig_fields

    fields = {name: (value, ref.get_object()) for name, value, ref in enumerate_sig_fields(reader)}
    assert set(fields) == {s.name for s in doc_type.slots}
    for value, field in fields.values():
        assert value is None  # not signed yet
        x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
        assert abs((x2 - x1) - SLOT_WIDTH_MM * 72 / 25.4) < 1.5
        assert abs((y2 - y1) - SLOT_HEIGHT_MM * 72 / 25.4) < 1.5
        assert 0 < x1 < x2 < 596 and 0 < y1 < y2 < 842


def test_english_rendering_adds_english_labels_boilerplate_and_translations(
    tmp_path: Path,
) -> None:
    data = sample_data("penalty_decision")
    render_document("penalty_decision", data, tmp_path / "zh.pdf")
    render_document("penalty_decision", data, tmp_path / "en.pdf", english=True)
    zh, en = _text(tmp_path / "zh.pdf"), " ".join(_text(tmp_path / "en.pdf").split())
    assert "Administrative Penalty Decision" in en and "Administrative Penalty Decision" not in zh
    assert "Remedies" in en and "apply for administrative review" in en
    assert "fictitious original price" in en  # data["translations"]["facts"]
    assert _flat(data["facts"].splitlines()[0]) in _flat(en)  # the Chinese stays authoritative


def test_money_is_written_in_chinese_financial_numerals() -> None:
    cases = {
        "5000": "伍仟元整",
        "100500": "壹拾万零伍佰元整",
        "12345.67": "壹万贰仟叁佰肆拾伍元陆角柒分",
        "1000000.50": "壹佰万元伍角",
        "100010000": "壹亿零壹万元整",
        "10000000100": "壹佰亿零壹佰元整",
        "0.05": "伍分",
        "1001.01": "壹仟零壹元零壹分",
        "0": "零元整",
    }
    for amount, words in cases.items():
        assert rmb_upper(Decimal(amount)) == words, amount


def _broken(template: str, change: Any) -> dict[str, Any]:
    data = copy.deepcopy(sample_data(template))
    change(data)
    return data


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()

BAD_DATA = [
    (
        "penalty_decision",
        _set("party.credit_code", "9144030071526726XA"),
        "party.credit_code",
        "check digit",
    ),
    (
        "penalty_decision",
        _set("party.credit_code", "91440300715267"),
        "party.credit_code",
        "18 characters",
    ),
    ("penalty_decision", _set("party.credit_code", _DELETE), "party.credit_code", "credit code"),
    ("statement", _set("case_number", _DELETE), "case_number", "required"),
    ("order_to_correct", _set("deadline", "2026-01-01"), "deadline", "before"),
    (
        "order_to_correct",
        _set("officers", [{"name": "张三", "officer_id": "1"}]),
        "officers",
        "at least 2",
    ),
    ("penalty_notification", _set("legal_basis", []), "legal_basis", "at least 1"),
    (
        "penalty_notification",
        _set("legal_basis.0.article", _DELETE),
        "legal_basis[0].article",
        "required",
    ),
    ("penalty_decision", _set("penalty", {"warning": False}), "penalty", "at least one element"),
    ("penalty_decision", _set("penalty.fine_yuan", "12.345"), "penalty.fine_yuan", "decimal"),
    ("proof_of_service", _set("electronic_address", _DELETE), "electronic_address", "address"),
    ("proof_of_service", _set("served_at", "yesterday"), "served_at", "datetime"),
    (
        "service_address_confirmation",
        _set("recipient.postal_code", "51000"),
        "recipient.postal_code",
        "pattern",
    ),
    ("statement", _set("attachments.0.sha256", "xyz"), "attachments[0].sha256", "pattern"),
    ("statement", _set("party.nmae", "typo"), "party.nmae", "not a field"),
    (
        "evidence_extraction_record",
        _set("capture.manifest_sha256", "00"),
        "capture.manifest_sha256",
        "pattern",
    ),
    ("penalty_decision", _set("translations", {"nothing": "x"}), "translations", "names no text"),
]


@pytest.mark.parametrize(("template", "change", "field", "words"), BAD_DATA)
def test_bad_data_is_refused_naming_the_field_before_any_pdf(
    template: str, change: Any, field: str, words: str, tmp_path: Path
) -> None:
    out = tmp_path / "never.pdf"
    with pytest.raises(DocumentDataError) as caught:
        render_document(template, _broken(template, change), out)
    assert caught.value.field == field, str(caught.value)
    assert f"{field}: " in str(caught.value) and words in str(caught.value), str(caught.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_template_and_non_object_data_are_clear() -> None:
    with pytest.raises(UnknownTemplateError, match="unknown document template 'decision'"):
        validate_data("decision", {})
    with pytest.raises(DocumentDataError, match="JSON object"):
        validate_data("statement", ["not", "an", "object"])  # type: ignore[arg-type]


def test_extraction_record_from_a_real_sealed_capture(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A package sealed per the format contract (real WARC, our TSA, signed WACZ -- as the
    verifier tests build them); the record states its URL, trusted time and hashes."""
    from tests.verify.sealing import TestLog, open_authorities, seal
    from tests.wacz.conftest import PAGE_URL, write_capture

    auth = open_authorities(tmp_path_factory.mktemp("record-pki") / "pki", "evidence.example.org")
    sealed = seal(write_capture(tmp_path / "capture"), tmp_path / "work", auth, TestLog(auth))
    package = sealed.path

    facts = capture_facts(package)
    with zipfile.ZipFile(package) as zf:
        manifest = zf.read("files/manifest.json")
        token = read_timestamp(zf.read("files/manifest.tsr"))
    assert facts["package_sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()
    assert facts["package_size"] == package.stat().st_size
    assert facts["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert facts["files"] == json.loads(manifest)["files"]
    assert facts["requested_url"] == PAGE_URL
    assert facts["package_id"] == json.loads(manifest)["capture_id"]
    assert facts["trusted_time"].startswith(token.gen_time.strftime("%Y-%m-%dT%H:%M:%S"))

    data = sample_data("evidence_extraction_record")
    data["capture"] = facts
    out = tmp_path / "record.pdf"
    rendered = render_document("evidence_extraction_record", data, out)
    text = _flat(_text(out))
    for needed in (
        PAGE_URL,
        facts["package_sha256"],
        facts["manifest_sha256"],
        facts["package_id"],
        token.gen_time.strftime("%Y-%m-%d %H:%M:%S UTC"),
        *facts["files"],
        *(digest for digest in facts["files"].values()),
    ):
        assert _flat(needed) in text, needed
    assert rendered.data["capture"]["package_sha256"] == facts["package_sha256"]


def test_capture_facts_refuses_what_is_not_a_sealed_package(tmp_path: Path) -> None:
    from workflow.documents import CaptureFactsError

    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CaptureFactsError, match="not a readable package"):
        capture_facts(junk)
    empty = tmp_path / "empty.wacz"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("datapackage.json", "{}")
    with pytest.raises(CaptureFactsError, match=r"files/manifest\.json"):
        capture_facts(empty)
