"""The whole portal flow in a real Chromium against the live app, officer and merchant in
separate browser contexts (separate cookies, as on two computers):

officer invites a merchant -> merchant sets up its account with the code -> signs the
service-address confirmation -> officer creates, seals and serves an order to correct ->
merchant sees it (time of service shown) -> opens it, re-enters the password, signs ->
officer sees the signed version and the proof of service -> merchant submits a statement
with an attachment -> signed statement PDF.

The final PDFs are then checked with pyHanko (every signature valid, intact, in order, the
merchant's audit trail inside its signature) and the acknowledged notice with Poppler's
pdfsig, which asks the live app's OCSP responder (the certificates name its port).
"""

from __future__ import annotations

import io
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives.serialization import Encoding
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import default_unit_name, initialize
from evidence_service.services import Services
from evidence_service.web.app import create_app
from signing.pades import read_audit
from storage.models import Document, DocumentVersion, Merchant
from tests.fixtures.http_tsa import free_port
from tests.portal.conftest import credit_code
from tests.service.conftest import make_settings
from workflow.documents import validate_document

pytestmark = pytest.mark.chromium

ADMIN_PASSWORD = "correct horse battery"
MERCHANT_PASSWORD = "merchant secret 42"
MERCHANT = "广州某某电子商务有限公司"


@dataclass
class Live:
    url: str
    services: Services
    admin_password: str


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    port = free_port()
    # The port is fixed before the PKI exists: every certificate names this app's OCSP URL.
    services = Services(make_settings(tmp_path / "data", port=port))
    result = initialize(services)
    assert result.admin_password
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services=services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the app did not start"
    yield Live(f"http://127.0.0.1:{port}", services, result.admin_password)
    server.should_exit = True
    thread.join(10)
    services.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        yield b
        b.close()


def _officer_logs_in(page: Page, live: Live) -> None:
    page.goto(live.url + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(live.admin_password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/account/password"))
    page.get_by_label("当前密码").fill(live.admin_password)
    page.get_by_label("新密码（至少 10 个字符）").fill(ADMIN_PASSWORD)
    page.get_by_label("再次输入新密码").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/captures$"))


def _sign_showing_busy_state(page: Page, button: str) -> None:
    """Click a sign button twice while the request is held: the page says it is busy, the
    button is disabled, and only one request leaves. Then let the request go."""
    held: list[Route] = []
    page.route("**/sign", lambda route: held.append(route))
    target = page.get_by_role("button", name=button, exact=True)
    # From the page itself: Playwright's own actions would wait for the held navigation.
    state = target.evaluate(
        """b => new Promise(done => {
            b.click(); b.click();
            setTimeout(() => done({
                live: document.getElementById("busy").textContent,
                role: document.getElementById("busy").getAttribute("role"),
                busy: b.form.getAttribute("aria-busy"),
                disabled: b.disabled,
            }), 100);
        })"""
    )
    assert state == {
        "live": "正在签名并加盖可信时间戳，请稍候……",
        "role": "status",
        "busy": "true",
        "disabled": True,
    }
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(held) == 1, "exactly one request, though clicked twice"
    held[0].continue_()
    page.unroute("**/sign")


def _pdf(live: Live, document_id: str) -> tuple[bytes, list[DocumentVersion]]:
    with live.services.sessions() as session:
        versions = list(
            session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document_id)
                .order_by(DocumentVersion.seq)
            )
        )
    return live.services.store.read_bytes(versions[-1].object_key), versions


def _nssdb(tmp_path: Path, live: Live) -> str:
    directory = tmp_path / "nss"
    directory.mkdir()
    root = directory / "root.pem"
    root.write_bytes(live.services.pki.root.public_bytes(Encoding.PEM))
    for args in (
        ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
        ["certutil", "-A", "-d", f"sql:{directory}", "-n", "root", "-t", "CT,C,C", "-i", str(root)],
    ):
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    return f"sql:{directory}"


def test_portal_flow_end_to_end(live: Live, browser: Browser, tmp_path: Path) -> None:
    officer = browser.new_context(locale="zh-CN").new_page()
    merchant = browser.new_context(locale="zh-CN").new_page()
    code = credit_code(4242)

    # -- the officer invites the merchant -------------------------------------------------
    _officer_logs_in(officer, live)
    officer.get_by_role("link", name="商户", exact=True).click()
    officer.get_by_label("商户名称").fill(MERCHANT)
    officer.get_by_label("统一社会信用代码").fill(code)
    officer.get_by_role("button", name="生成设置码").click()
    setup_code = officer.locator("#setup-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{5}(-[A-Z2-9]{5}){3}", setup_code)
    expect(officer.locator("#merchant-status")).to_have_text("已邀请（未开通）")

    # -- the merchant sets up its account and signs the address confirmation -------------
    merchant.goto(live.url + "/portal/setup")
    expect(merchant.locator("html")).to_have_attribute("lang", "zh-CN")
    merchant.get_by_label("设置码").fill(setup_code.lower())
    merchant.get_by_label("登录密码（至少 10 个字符）").fill(MERCHANT_PASSWORD)
    merchant.get_by_label("再次输入密码").fill(MERCHANT_PASSWORD)
    merchant.get_by_label("联系人（受送达人）").fill("李四")
    merchant.get_by_label("联系电话").fill("13800000000")
    merchant.get_by_label("电子邮箱（可选）").fill("legal@shop.example.com")
    merchant.get_by_label("送达地址").fill("广州市天河区某某路 1 号")
    merchant.get_by_role("button", name="开通账户").click()
    expect(merchant.get_by_role("heading", name="送达地址确认书", exact=True)).to_be_visible()
    expect(merchant.get_by_role("heading", name="请先签署送达地址确认书")).to_be_visible()
    # Nothing else is reachable before consenting.
    merchant.goto(live.url + "/portal")
    expect(merchant.get_by_role("heading", name="送达地址确认书", exact=True)).to_be_visible()
    merchant.get_by_label("再次输入登录密码").fill(MERCHANT_PASSWORD)
    _sign_showing_busy_state(merchant, "签名")
    expect(merchant.get_by_role("heading", name="我的文书")).to_be_visible()
    expect(merchant.locator("#documents")).to_contain_text("已签署")

    # -- the officer creates, seals and serves an order to correct ------------------------
    officer.get_by_role("link", name="商户", exact=True).click()
    officer.get_by_role("link", name=MERCHANT).click()
    expect(officer.locator("#merchant-status")).to_have_text("已开通")
    expect(officer.locator("#merchant-consent")).to_contain_text("UTC+8")
    officer.get_by_role("link", name="制作文书").click()
    expect(officer.get_by_label("商户", exact=True)).to_have_value(re.compile("[0-9a-f]{32}"))
    officer.get_by_role("button", name="生成文书").click()
    expect(officer).to_have_url(re.compile(r"/documents/[0-9a-f]{32}$"))
    notice_id = officer.url.rsplit("/", 1)[1]
    expect(officer.locator("#status-badge")).to_have_text("草稿（未盖章）")
    officer.get_by_role("button", name="加盖单位电子印章").click()
    expect(officer.locator("#status-badge")).to_have_text("已盖章")
    officer.get_by_role("button", name="电子送达").click()
    expect(officer.locator("#status-badge")).to_have_text("已送达")
    expect(officer.locator("#served-by")).to_contain_text("admin")
    served_text = officer.locator("#served-at").inner_text()
    assert "UTC+8" in served_text

    # -- the merchant sees it, opens it, re-authenticates and signs -----------------------
    merchant.reload()
    row = merchant.locator("#documents tr", has_text="责令改正通知书")
    expect(row).to_contain_text("待签收")
    expect(row).to_contain_text(served_text.split(" / ")[0])
    row.get_by_role("link", name="责令改正通知书").click()
    expect(merchant.locator("#served-at")).to_have_text(served_text)
    expect(merchant.locator("#pdf-view")).to_have_attribute(
        "data", re.compile(rf"/portal/documents/{notice_id}/file\?v=2")
    )
    pdf = merchant.request.get(live.url + f"/portal/documents/{notice_id}/file?v=2")
    assert pdf.ok and pdf.body().startswith(b"%PDF-")
    merchant.get_by_label("再次输入登录密码").fill("a wrong password")
    merchant.get_by_role("button", name="签名", exact=True).click()
    expect(merchant.get_by_role("alert")).to_contain_text("统一社会信用代码或密码错误")
    expect(merchant.locator("#status-badge")).to_have_text("待签收")
    merchant.get_by_label("再次输入登录密码").fill(MERCHANT_PASSWORD)
    _sign_showing_busy_state(merchant, "签名")
    expect(merchant.locator("#done")).to_have_text("签名完成。")
    expect(merchant.locator("#status-badge")).to_have_text("已签收")

    # -- the officer sees the signed version and the proof of service ---------------------
    officer.reload()
    expect(officer.locator("#status-badge")).to_have_text("当事人已签收")
    expect(officer.locator("#versions tr.v-merchant-signed")).to_have_count(1)
    expect(officer.locator("#opened")).to_contain_text("HeadlessChrome")
    expect(officer.locator("#merchant-signed")).not_to_have_text("—")
    officer.locator("#related a.rel-proof_of_service").click()
    expect(officer.get_by_role("heading", name="送达回证", exact=True)).to_be_visible()
    proof_id = officer.url.rsplit("/", 1)[1].split("?")[0]
    expect(officer.locator("#versions tr.v-unit-signed")).to_have_count(1)

    # -- the merchant submits a statement with an attachment ------------------------------
    note = tmp_path / "改正说明.txt"
    note.write_text("已于当日删除虚构原价标示。\n", encoding="utf-8")
    merchant.get_by_role("link", name="提交陈述申辩").click()
    merchant.get_by_label("陈述申辩内容").fill("我公司已改正，并请求从轻处理。")
    merchant.get_by_label("附件").set_input_files(str(note))
    merchant.get_by_label("再次输入登录密码").fill(MERCHANT_PASSWORD)
    merchant.get_by_role("button", name="签名并提交").click()
    expect(merchant.get_by_role("heading", name="陈述申辩书", exact=True)).to_be_visible()
    expect(merchant.locator("#done")).to_have_text("陈述申辩已提交。")
    expect(merchant.locator("#attachments")).to_contain_text("改正说明.txt")
    statement_id = merchant.url.rsplit("/", 1)[1].split("?")[0]

    # English on demand.
    merchant.get_by_role("link", name="English").click()
    expect(merchant.locator("html")).to_have_attribute("lang", "en")
    expect(merchant.get_by_role("link", name="My documents", exact=True)).to_be_visible()

    # -- the records ------------------------------------------------------------------------
    with live.services.sessions() as session:
        notice = session.get(Document, notice_id)
        m = session.scalar(select(Merchant).where(Merchant.credit_code == code))
        assert notice is not None and m is not None and m.consent_signed_at is not None
        assert notice.served_at is not None and notice.first_opened_at is not None
        assert notice.served_at < notice.first_opened_at < notice.merchant_signed_at  # type: ignore[operator]
        assert notice.first_opened_ip == "127.0.0.1"
        assert "HeadlessChrome" in (notice.first_opened_user_agent or "")

    # -- the final PDFs, checked with pyHanko ------------------------------------------------
    trust = live.services.pki.root.public_bytes(Encoding.PEM)
    unit = default_unit_name(live.services)
    notice_pdf, notice_versions = _pdf(live, notice_id)
    assert [v.kind for v in notice_versions] == ["rendered", "unit-signed", "merchant-signed"]
    served_pdf = live.services.store.read_bytes(notice_versions[1].object_key)
    assert notice_pdf.startswith(served_pdf)  # the merchant's signature is an incremental update
    checks = {
        "notice": (notice_pdf, ["unit", "party"], [unit, MERCHANT]),
        "proof": (_pdf(live, proof_id)[0], ["unit"], [unit]),
        "statement": (_pdf(live, statement_id)[0], ["party"], [MERCHANT]),
    }
    for what, (data, fields, signers) in checks.items():
        path = tmp_path / f"{what}.pdf"
        path.write_bytes(data)
        report = validate_document(path, trust)
        assert report.ok, (what, report.to_dict())
        assert [s.field_name for s in report.signatures] == fields, what
        for sig, name in zip(report.signatures, signers, strict=True):
            assert sig.intact and sig.crypto_valid and sig.trusted, (what, sig.to_dict())
            assert f"Common Name: {name}" in (sig.signer or {})["subject"], what
            assert sig.pades_level == "B-LTA", (what, sig.pades_level)
        assert report.timestamps and all(
            t.indication.value == "TOTAL-PASSED" for t in report.timestamps
        )
    # The merchant's signature on the notice carries the audit trail of the signing.
    reader = PdfFileReader(io.BytesIO(notice_pdf))
    party = next(s for s in reader.embedded_regular_signatures if s.field_name == "party")
    trail = read_audit(party.sig_object)
    assert trail is not None
    assert trail["account"] == f"merchant:{m.id}" and trail["credit_code"] == code
    assert trail["auth_method"] == "password re-entered at signing"
    assert trail["ip"] == "127.0.0.1" and "HeadlessChrome" in trail["user_agent"]
    assert trail["document_sha256"] == notice_versions[1].sha256

    # -- and with pdfsig, OCSP against the live app -----------------------------------------
    path = tmp_path / "notice.pdf"
    proc = subprocess.run(
        ["pdfsig", "-nssdir", _nssdb(tmp_path, live), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    signatures = re.split(r"\nSignature #\d+:", "\n" + proc.stdout)[1:]
    signed = [s for s in signatures if re.search(r"Field Name: (unit|party)\n", s)]
    assert len(signed) == 2, out
    assert "Field Name: unit" in signed[0] and "Field Name: party" in signed[1], out
    for block, name in zip(signed, [unit, MERCHANT], strict=True):
        assert f"Signer Certificate Common Name: {name}" in block, out
        assert "Signature Validation: Signature is Valid." in block, out
        assert "Certificate Validation: Certificate is Trusted." in block, out
