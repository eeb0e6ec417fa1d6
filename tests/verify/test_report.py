"""Reports: the JSON schema, the HTML report in a real Chromium (indication, every check row,
language switch, print), and the PDF report read back with ``pdftotext``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from capture.engine import CHROMIUM_ARGS
from signing.verify import (
    REPORT_JSON_SCHEMA,
    Report,
    render_html,
    render_json,
    render_pdf,
    render_text,
)
from tests.verify.conftest import Verify, flip, member, rewrite
from tests.verify.sealing import Sealed


@pytest.fixture(scope="module")
def reports(
    sealed: Sealed, verify: Verify, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Report]:
    tmp = tmp_path_factory.mktemp("reports")
    shot = member(sealed.path, "files/screenshot.png")
    tampered = rewrite(sealed.path, tmp / "t.wacz", {"files/screenshot.png": flip(shot, 10)})
    return {
        "passed": verify(sealed.path),
        "failed": verify(tampered, proofs=None),
        "indeterminate": verify(sealed.path, trust=None),
    }


def test_json_report_follows_its_schema(reports: dict[str, Report]) -> None:
    for report in reports.values():
        data = json.loads(render_json(report))
        jsonschema.validate(data, REPORT_JSON_SCHEMA)
        assert Report.from_dict(data).to_dict() == data  # a filed report reads back
    failed = json.loads(render_json(reports["failed"]))
    assert (failed["indication"], failed["sub_indication"]) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert failed["deciding_check"] == "package.resources"
    assert failed["file"]["sha256"] == reports["failed"].file_sha256


def test_text_report_ends_with_the_indication(reports: dict[str, Report]) -> None:
    for report in reports.values():
        for lang in ("zh", "en"):
            lines = render_text(report, lang).rstrip("\n").split("\n")
            assert lines[-1] == report.indication_line()


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        yield browser.new_context(locale="zh-CN").new_page()
        browser.close()


@pytest.mark.chromium
@pytest.mark.parametrize("which", ["failed", "passed"])
def test_html_report_in_chromium(
    which: str, reports: dict[str, Report], page: Page, tmp_path: Path
) -> None:
    report = reports[which]
    path = tmp_path / "report.html"
    path.write_text(render_html(report, "zh"), encoding="utf-8")
    page.goto(path.as_uri())
    banner = page.locator("#vr-indication")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(report.indication.value)
    expect(banner).to_contain_text("验证失败" if which == "failed" else "验证通过")
    for check in report.checks:
        row = page.locator(f'tr[data-check="{check.id}"]')
        expect(row).to_be_visible()
        expect(row).to_have_attribute("data-status", check.status.value)
        expect(row.locator("td").nth(0)).to_contain_text(
            {
                "PASSED": "通过",
                "FAILED": "失败",
                "INDETERMINATE": "无法确定",
                "NOT_APPLICABLE": "不适用",
            }[check.status.value]
        )
    first = report.checks[0]
    zh_reason = page.locator(f'tr[data-check="{first.id}"] td div[lang="zh-CN"]')
    en_reason = page.locator(f'tr[data-check="{first.id}"] td div[lang="en"]')
    expect(zh_reason).to_be_visible()
    expect(en_reason).to_be_hidden()
    page.get_by_role("button", name="English", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(en_reason).to_be_visible()
    expect(zh_reason).to_be_hidden()
    assert page.locator("#vr-title").inner_text().strip() == "Evidence verification report"
    page.get_by_role("button", name="中文 + English").click()
    expect(en_reason).to_be_visible()
    expect(zh_reason).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="English", exact=True)).to_be_hidden()
    page.emulate_media(media="screen")
    # the report is self-contained: nothing was loaded from elsewhere
    assert "http" not in "".join(
        page.eval_on_selector_all(
            "link[href], script[src], img[src]", "els => els.map(e => e.href || e.src)"
        )
    )


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_pdf_report_has_both_languages(reports: dict[str, Report], tmp_path: Path) -> None:
    text = _pdftotext(render_pdf(reports["failed"], "zh"), tmp_path)
    assert "验证失败" in text and "TOTAL-FAILED" in text and "HASH_FAILURE" in text
    assert "电子证据核验报告" in text and "Evidence verification report" in text
    assert "以下文件与签名清单中的哈希不一致" in text  # a reason, in Chinese
    assert "files/screenshot.png" in text
    text = _pdftotext(render_pdf(reports["indeterminate"], "en"), tmp_path)
    assert "无法确定" in text and "INDETERMINATE" in text and "NO_CERTIFICATE_CHAIN_FOUND" in text
