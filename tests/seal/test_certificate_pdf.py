"""The evidence certificate's direct PDF writer on its own (no browser): what a court reads in
it, checked with Poppler (pdftotext, pdffonts, pdfdetach, pdfinfo) and fontTools, for a hard
capture -- very long URLs, dozens of hosts, a partial authenticated capture, two TSAs, a
title with an emoji the CJK font lacks -- and for one without a screenshot thumbnail."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

import pytest

from evidence_service.sealing.certificate import CertificateImages, qr_modules, render_certificate
from evidence_service.sealing.certificate_layout import certificate_face
from evidence_service.sealing.pdf.writer import jpeg_image
from signing.translog import canonical_json
from tests.seal.conftest import run

LONG_URL = "https://shop.example.com/item/" + "a1b2c3d4e5/" * 60 + "?q=" + "x" * 300
TITLE = "【限时特惠】无线蓝牙耳机（降噪版）——官方旗舰店！😀 Supercalifragilistic-extra-long-word"


def _facts() -> dict[str, Any]:
    stamp = {
        "gen_time": "2026-11-29T07:56:45.719Z",
        "gen_time_display": "2026-11-29 07:56:45.719 UTC",
        "gen_time_beijing": "2026-11-29 15:56:45",
        "tsa": "Common Name: evidence.example Time-Stamp Authority, Organization: evidence-service",
        "serial": "33129227210501281816341245354961942323",
        "serial_hex": "18ec7502aa2ee1f300000a81b5223733",
        "policy": "2.25.237068856645481484395281966484586729192",
        "token_file": "files/manifest.tsr",
    }
    files = {f"files/file{i}.bin": "sha256:" + f"{i:02x}" * 32 for i in range(6)} | {
        "archive/data.warc.gz": "sha256:" + "ab" * 32
    }
    return {
        "type": "evidence-certificate",
        "version": 1,
        "capture_id": "e5fa1726cc6d429ea9be282bfe966a33",
        "service": "evidence-node-01.market-regulation.example.gov.cn",
        "issued_at": "2026-11-29T07:56:46.001Z",
        "verify_url": "https://evidence.example/v/vxj7dbgj9r",
        "target": {
            "requested_url": LONG_URL,
            "final_url": LONG_URL + "&utm=1",
            "http_status": 200,
            "title": TITLE,
            "outcome": "partial",
            "limits_hit": ["max_bytes"],
            "authenticated": True,
            "cookie_names": ["SESSIONID", "_tb_token_"],
        },
        "trusted_time": stamp,
        "additional_timestamps": [
            dict(stamp, tsa="CN=OpenSSL test TSA", serial="77", token_file="files/manifest.2.tsr")
        ],
        "local_clock": {
            "capture_started": "2026-11-29T07:56:44.498Z",
            "capture_ended": "2026-11-29T07:56:45.683Z",
            "capture_started_display": "2026-11-29 07:56:44.498 UTC",
            "capture_ended_display": "2026-11-29 07:56:45.683 UTC",
            "clock_measured": True,
            "clock_offset_seconds": -0.0123,
            "clock_uncertainty_seconds": 0.004,
        },
        "environment": {
            "clean_profile": True,
            "browser": "Chromium 156.0 · Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0",
            "proxy_used": False,
            "proxy_in_environment": True,
            "nameservers": ["10.255.255.53"],
            "hosts": [
                {
                    "host": f"cdn{i}.static-content.example.com:443",
                    "dns_addresses": [f"10.0.{i}.1"],
                    "ip_literal": False,
                    "server_ips": [],
                    "hosts_entries": ["10.9.9.9 cdn3 (hosts file)"] if i == 3 else [],
                    "outgoing_address": "192.168.1.10",
                }
                for i in range(40)
            ],
        },
        "server": {
            "ip": "203.0.113.7",
            "port": 443,
            "protocol": "h2",
            "tls": {
                "subject": "CN=shop.example.com, O=Example Shop Ltd, C=CN",
                "issuer": "CN=Example OV CA 2026, C=BE",
                "not_before": "2026-01-01",
                "not_after": "2027-01-01",
                "sha256": "cd" * 32,
                "protocol": "TLS 1.3",
            },
        },
        "files": files,
        "manifest": {"path": "files/manifest.json", "sha256": "ef" * 32},
        "transparency_log": {
            "log_id": "12" * 32,
            "leaf_index": 4711,
            "leaf_input": "sha256:" + "ef" * 32,
            "leaf_hash": "34" * 32,
            "log_url": "https://evidence.example/api/log",
        },
    }


def _thumbnail() -> Any:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (520, 400), (200, 30, 30)).save(out, format="JPEG", quality=80)
    return jpeg_image(out.getvalue())


def _text(path: Path, *args: str) -> str:
    proc = run("pdftotext", *args, str(path), "-")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module", params=["thumbnail", "no thumbnail"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    facts = _facts()
    thumb = _thumbnail() if request.param == "thumbnail" else None
    pdf = render_certificate(facts, None, CertificateImages(thumb, qr_modules(facts["verify_url"])))
    path = tmp_path_factory.mktemp("cert") / "certificate.pdf"
    path.write_bytes(pdf)
    return facts, path


def test_every_fact_is_in_the_text_in_reading_order(rendered: Any) -> None:
    facts, path = rendered
    compact = "".join(_text(path).split())
    for value in (
        facts["target"]["requested_url"],
        facts["target"]["final_url"],
        facts["verify_url"],
        facts["trusted_time"]["serial"],
        facts["trusted_time"]["gen_time_display"].replace(" ", ""),
        facts["additional_timestamps"][0]["serial"],
        facts["transparency_log"]["log_id"],
        facts["transparency_log"]["leaf_hash"],
        facts["manifest"]["sha256"],
        facts["server"]["tls"]["sha256"],
        "10.9.9.9cdn3(hostsfile)",
        "SESSIONID,_tb_token_",
        "".join(TITLE.split()),  # the emoji extracts as itself though drawn as □
        *facts["files"].values(),
        *(h["host"] for h in facts["environment"]["hosts"]),
    ):
        assert value in compact, value
    for label in ("电子数据取证证书", "可信时间", "取证环境与清洁性检查", "文件完整性", "透明日志"):
        assert label in compact, label


def test_every_page_has_its_footer_and_hashes_stay_on_one_line(rendered: Any) -> None:
    facts, path = rendered
    pages = int(re.search(r"Pages:\s+(\d+)", run("pdfinfo", str(path)).stdout).group(1))  # type: ignore[union-attr]
    assert pages >= 3  # 40 hosts and two 900-character URLs do not fit on two pages
    for n in range(1, pages + 1):
        page = _text(path, "-layout", "-f", str(n), "-l", str(n))
        assert f"Page {n} of {pages}" in page and f"第 {n} / {pages} 页" in page
        assert facts["capture_id"] in page
    layout = _text(path, "-layout")
    for digest in facts["files"].values():
        assert digest in layout  # never wrapped: a court reads it in one piece


def test_one_cjk_font_embedded_as_a_subset_with_unicode_map(rendered: Any) -> None:
    _, path = rendered
    lines = run("pdffonts", str(path)).stdout.splitlines()[2:]
    assert len(lines) == 1, lines
    assert "WenQuanYiZenHei" in lines[0] and "CID TrueType" in lines[0]
    assert lines[0].split()[-5:-2] == ["yes", "yes", "yes"], lines[0]  # emb sub uni


def test_the_attachment_is_the_canonical_facts(rendered: Any, tmp_path: Path) -> None:
    facts, path = rendered
    out = tmp_path / "certificate.json"
    proc = run("pdfdetach", "-savefile", "certificate.json", "-o", str(out), str(path))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == canonical_json(facts)


def test_pdf_a_3b_identification_and_no_glyph_zero(rendered: Any) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    _, path = rendered
    reader = PdfFileReader(io.BytesIO(path.read_bytes()), strict=True)
    root = reader.root
    xmp = root["/Metadata"].get_object().data
    assert b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="B"' in xmp
    [intent] = root["/OutputIntents"]
    assert str(intent["/S"]) == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object().data
    [spec] = [f.get_object() for f in root["/AF"]]
    assert str(spec["/AFRelationship"]) == "/Data"
    assert "/ModDate" in spec["/EF"]["/F"].get_object()["/Params"]
    assert reader.trailer["/ID"]
    shown = b""
    for page in reader.root["/Pages"]["/Kids"]:
        shown += page.get_object()["/Contents"].get_object().data
    strings = re.findall(rb"<([0-9A-F]+)> Tj", shown)
    assert strings
    for s in strings:
        assert all(int(s[i : i + 4], 16) != 0 for i in range(0, len(s), 4))


def test_the_font_program_draws_exactly_the_face_s_glyphs(rendered: Any) -> None:
    """Every glyph slot of the embedded subset is the original outline and advance of the
    character it stands for (read back with fontTools)."""
    from fontTools.pens.recordingPen import RecordingPen
    from fontTools.ttLib import TTCollection, TTFont
    from pyhanko.pdf_utils.reader import PdfFileReader

    _, path = rendered
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    font = page["/Resources"]["/Font"]["/F1"].get_object()
    cmap = font["/ToUnicode"].get_object().data.decode()
    slots = {
        int(cid, 16): bytes.fromhex(uni).decode("utf-16-be")
        for cid, uni in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)
    }
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
    program = descriptor["/FontFile2"].get_object().data
    subset = TTFont(io.BytesIO(program))
    face = certificate_face()
    original = TTCollection(str(face.path)).fonts[0]
    best = original.getBestCmap()
    glyphs, ours = original.getGlyphSet(), subset.getGlyphSet()
    order = subset.getGlyphOrder()
    checked = 0
    for cid, char in slots.items():
        if ord(char) not in best:
            continue
        a, b = RecordingPen(), RecordingPen()
        glyphs[best[ord(char)]].draw(a)
        ours[order[cid]].draw(b)
        assert a.value == b.value, char
        assert glyphs[best[ord(char)]].width == ours[order[cid]].width, char
        checked += 1
    assert checked > 150


def test_a_row_taller_than_a_page_is_split_across_pages(tmp_path: Path) -> None:
    facts = copy.deepcopy(_facts())
    facts["target"]["requested_url"] = "https://x.example/" + "y" * 20000
    pdf = render_certificate(facts, None, CertificateImages(None, qr_modules(facts["verify_url"])))
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    pages = _text(path).split("\f")
    assert len(pages) > 4
    footer = re.compile(rf"{facts['capture_id']}|Page \d+ of \d+")
    body = "".join(line for page in pages for line in page.splitlines() if not footer.search(line))
    assert facts["target"]["requested_url"] in "".join(body.split())  # whole, in order
