"""Officers sign documents with their own certificates, after the unit's seal and before
service, through the REST API and the web UI; the merchant then acknowledges.

One live app per module (uvicorn on the port its PKI names, so pdfsig's OCSP check reaches
its responder). Officers are made with the real ``evidence user create --badge`` and
``evidence user set-badge`` commands. Every PDF is checked with pyHanko's validator (each
signature intact, valid, trusted, the certification's DocMDP respected) and Poppler's pdfsig.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from sqlalchemy import select

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import default_unit_name, initialize
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.portal.deps import build_context, officer_ref
from storage.models import ApiToken, Document, PortalAudit, User
from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port
from tests.portal.conftest import (
    OFFICER_PASSWORD,
    PASSWORD,
    credit_code,
    csrf_of,
    order_data,
    setup_merchant,
)
from tests.seal.conftest import serve_app
from tests.service.conftest import make_settings
from workflow import serving
from workflow.context import OfficerRef, PortalContext
from workflow.errors import ConflictError

PASSPHRASE = "test passphrase"
UNIT_B = "乙市市场监督管理局"
BADGES = {"alice": "SL-3101-0001", "bob": "SL-3102-0007", "dora": "SL-3101-0009"}
MERCHANT = "甲商贸有限公司"


@dataclass
class Office:
    """The live app; unit A (officers alice with a badge, carl without, dora) and unit B
    (bob), a merchant of unit A that consented to electronic service, API tokens."""

    services: Services
    ctx: PortalContext
    url: str
    data_dir: Path
    port: int
    unit_a: str
    merchant_id: str
    officers: dict[str, OfficerRef] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    nss: str = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
        env.update(
            EVIDENCE_DATA_DIR=str(self.data_dir),
            EVIDENCE_KEY_PASSPHRASE=PASSPHRASE,
            EVIDENCE_PORT=str(self.port),
        )
        return env

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=120
        )

    def sealed_notice(self, who: str = "alice") -> str:
        """A new order to correct, sealed by the unit (through the workflow: quicker)."""
        officer = self.officers[who]
        doc = serving.create_document(
            self.ctx,
            officer,
            merchant_id=self.merchant_id,
            template="order_to_correct",
            data=order_data(),
        )
        serving.sign_as_unit(self.ctx, officer, doc)
        return doc


def _make_officer(office: Office, username: str, unit: str, badge: str | None) -> None:
    """``evidence user create`` (with ``--badge``), then a known password and an API token."""
    args = ["user", "create", username, "--unit", unit, "--display-name", f"Officer {username}"]
    result = run_cli([*args, *(["--badge", badge] if badge else [])], office.env())
    assert result.returncode == 0, result.stderr
    assert (f"badge {badge})" in result.stdout) if badge else ("badge" not in result.stdout)
    token = new_api_token()
    with office.services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None and user.badge_number == badge
        user.password_hash = hash_password(OFFICER_PASSWORD)
        user.must_change_password = False
        session.add(ApiToken(user_id=user.id, name="test", token_hash=hash_token(token)))
        session.flush()
        session.expunge(user)
    office.officers[username] = officer_ref(user)
    office.tokens[username] = token


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    base = tmp_path_factory.mktemp("officer-signing")
    port = free_port()
    data_dir = base / "data"
    # The port is fixed before the PKI exists: every certificate names this app's OCSP URL.
    services = Services(make_settings(data_dir, port=port, key_passphrase=PASSPHRASE))
    initialize(services)
    ctx = build_context(services)
    unit_a = default_unit_name(services)
    try:
        with serve_app(services, port) as url:
            office = Office(services, ctx, url, data_dir, port, unit_a, merchant_id="")
            _make_officer(office, "alice", unit_a, BADGES["alice"])
            _make_officer(office, "carl", unit_a, None)
            _make_officer(office, "dora", unit_a, BADGES["dora"])
            _make_officer(office, "bob", UNIT_B, BADGES["bob"])
            office.merchant_id = setup_merchant(
                ctx, office.officers["alice"], MERCHANT, credit_code(7001)
            )
            yield office
    finally:
        services.close()


# -- checks of the PDFs ------------------------------------------------------------------------


def _pyhanko_signatures(office: Office, data: bytes) -> list[dict[str, Any]]:
    """Every regular signature validated by pyHanko from what the file embeds (offline,
    revocation required): field, signer subject, badge (serialNumber), and the verdicts."""
    reader = PdfFileReader(io.BytesIO(data))
    dss = DocumentSecurityStore.read_dss(reader)
    root = asn1_x509.Certificate.load(office.services.pki.root.public_bytes(Encoding.DER))
    out = []
    for emb in reader.embedded_regular_signatures:
        vc = dss.as_validation_context(
            {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
        )
        status = validate_pdf_signature(emb, vc)
        cert = x509.load_der_x509_certificate(emb.signer_cert.dump())
        serials = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        out.append(
            {
                "field": str(emb.field_name),
                "cn": cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                "serialNumber": str(serials[0].value) if serials else None,
                "intact": status.intact,
                "valid": status.valid,
                "trusted": status.trusted,
                "docmdp_ok": status.docmdp_ok,
                "certify": emb.sig_object.get("/Reference") is not None,
                "details": status.pretty_print_details(),
            }
        )
    return out


def _nssdb(office: Office, directory: Path) -> str:
    """An NSS database trusting the app's root (made once per module)."""
    if office.nss:
        return office.nss
    directory.mkdir()
    root = directory / "root.pem"
    root.write_bytes(office.services.pki.root.public_bytes(Encoding.PEM))
    for args in (
        ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
        ["certutil", "-A", "-d", f"sql:{directory}", "-n", "root", "-t", "CT,C,C", "-i", str(root)],
    ):
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    office.nss = f"sql:{directory}"
    return office.nss


def _pdfsig(office: Office, data: bytes, tmp_path: Path) -> list[str]:
    """pdfsig's blocks for the signatures (not the document time-stamps), OCSP on."""
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(data)
    nss = _nssdb(office, office.data_dir.parent / "nss")
    proc = subprocess.run(
        ["pdfsig", "-nssdir", nss, str(pdf)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    blocks = re.split(r"\nSignature #\d+:", "\n" + proc.stdout)[1:]
    return [b for b in blocks if "ETSI.CAdES.detached" in b]


def _latest_pdf(client: httpx.Client, document: dict[str, Any]) -> bytes:
    response = client.get(document["versions"][-1]["url"])
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    return response.content


def _audit(office: Office, document_id: str, action: str) -> list[PortalAudit]:
    with office.services.sessions() as session:
        return list(
            session.scalars(
                select(PortalAudit).where(
                    PortalAudit.document_id == document_id, PortalAudit.action == action
                )
            )
        )


# -- the flow ------------------------------------------------------------------------------------


def test_officer_signs_after_the_seal_then_the_merchant_all_valid_in_order(
    office: Office, tmp_path: Path
) -> None:
    alice = office.api("alice")
    r = alice.post(
        "/api/documents",
        json={
            "merchant_id": office.merchant_id,
            "template": "order_to_correct",
            "data": order_data(),
        },
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    # Before the seal an officer cannot sign (the seal certifies the document first).
    r = alice.post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "not_signed", r.text
    r = alice.post(f"/api/documents/{doc_id}/sign")
    assert r.status_code == 200, r.text
    sealed = _latest_pdf(alice, r.json())

    r = alice.post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == "signed" and doc["served_at"] is None
    assert [v["kind"] for v in doc["versions"]] == ["rendered", "unit-signed", "officer-signed"]
    officer_version = doc["versions"][-1]
    assert officer_version["level"] == "b-lta"
    assert BADGES["alice"] in officer_version["signer_subject"]
    signed = _latest_pdf(alice, doc)
    assert signed.startswith(sealed)  # an incremental update of the sealed PDF

    # The certificate was issued on first use and recorded on the account.
    with office.services.sessions() as session:
        user = session.scalar(select(User).where(User.username == "alice"))
        assert user is not None and user.signing_cert_serial == officer_version["signer_serial"]
    record = office.services.pki.certificate(officer_version["signer_serial"])
    assert record.kind == "officer" and record.owner_id == BADGES["alice"]
    orgs = record.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in orgs] == [office.unit_a]

    sigs = _pyhanko_signatures(office, signed)
    assert [s["field"] for s in sigs] == ["unit", "officer"]
    for s in sigs:
        assert s["intact"] and s["valid"] and s["trusted"] and s["docmdp_ok"], s["details"]
    assert sigs[0]["certify"] and not sigs[1]["certify"]  # the seal certifies, still valid
    assert sigs[0]["cn"] == office.unit_a
    assert sigs[1]["cn"] == "Officer alice" and sigs[1]["serialNumber"] == BADGES["alice"]

    blocks = _pdfsig(office, signed, tmp_path)
    assert len(blocks) == 2, blocks
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block, block
        assert "Certificate Validation: Certificate is Trusted." in block, block
    # pdfsig lists signatures in form-field order, not signing order.
    officer_block = next(b for b in blocks if "Signature Field Name: officer\n" in b)
    assert "Signer Certificate Common Name: Officer alice" in officer_block

    [entry] = _audit(office, doc_id, "document.officer_signed")
    assert entry.actor_id == office.officers["alice"].actor and entry.actor_type == "officer"
    assert entry.details["field"] == "officer"
    assert entry.details["certificate_serial"] == officer_version["signer_serial"]
    assert entry.sha256_after == officer_version["sha256"]

    # The same officer cannot sign twice (and the notice has no second officer slot).
    r = alice.post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "already_signed", r.text
    r = office.api("dora").post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "no_officer_slot", r.text

    # Served, then acknowledged by the merchant: three signatures, each still valid.
    r = alice.post(f"/api/documents/{doc_id}/serve")
    assert r.status_code == 200 and r.json()["status"] == "served", r.text
    r = alice.post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "already_served", r.text
    serving.merchant_sign(office.ctx, office.merchant_id, doc_id, password=PASSWORD)
    doc = alice.get(f"/api/documents/{doc_id}").json()
    assert doc["status"] == "acknowledged"
    assert [v["kind"] for v in doc["versions"]][-1] == "merchant-signed"
    final = _latest_pdf(alice, doc)
    assert final.startswith(signed)
    sigs = _pyhanko_signatures(office, final)
    assert [s["field"] for s in sigs] == ["unit", "officer", "party"]
    for s in sigs:
        assert s["intact"] and s["valid"] and s["trusted"] and s["docmdp_ok"], s["details"]
    assert sigs[2]["serialNumber"] == credit_code(7001)
    blocks = _pdfsig(office, final, tmp_path)
    assert len(blocks) == 3, blocks
    fields = [re.search(r"Signature Field Name: (\S+)", b).group(1) for b in blocks]  # type: ignore[union-attr]
    assert sorted(fields) == ["officer", "party", "unit"]
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block, block
        assert "Certificate Validation: Certificate is Trusted." in block, block

    # The proof of service was made from the acknowledged document.
    with office.services.sessions() as session:
        proof = session.scalar(
            select(Document).where(
                Document.parent_id == doc_id, Document.kind == "proof_of_service"
            )
        )
        assert proof is not None and proof.status == "signed"


def test_officer_of_another_unit_gets_404(office: Office) -> None:
    doc_id = office.sealed_notice()
    r = office.api("bob").post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 404, r.text
    assert office.api("bob").post("/api/documents/nope/officer-signature").status_code == 404
    # The OpenAPI document describes the endpoint.
    spec = office.api("alice").get("/openapi.json").json()
    operation = spec["paths"]["/api/documents/{document_id}/officer-signature"]["post"]
    assert "officer" in operation["summary"] and "409" in operation["responses"]
    # Without a token: 401.
    r = httpx.post(f"{office.url}/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 401


def test_officer_without_badge_is_told_how_to_set_it_then_signs(office: Office) -> None:
    doc_id = office.sealed_notice()
    r = office.api("carl").post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail["code"] == "no_badge"
    assert "evidence user set-badge carl NUMBER" in detail["message"]
    assert len(_audit(office, doc_id, "document.officer_signed")) == 0

    bad = run_cli(["user", "set-badge", "carl", "执法证 12"], office.env())
    assert bad.returncode == 2 and "badge number" in bad.stderr, bad.stderr
    taken = run_cli(["user", "set-badge", "carl", BADGES["alice"]], office.env())
    assert taken.returncode == 2 and "already on the account 'alice'" in taken.stderr
    ok = run_cli(["user", "set-badge", "carl", "SL-3101-0003"], office.env())
    assert ok.returncode == 0, ok.stderr

    r = office.api("carl").post(f"/api/documents/{doc_id}/officer-signature")
    assert r.status_code == 200, r.text
    assert "SL-3101-0003" in r.json()["versions"][-1]["signer_subject"]


def test_a_revoked_officer_certificate_is_not_silently_replaced(office: Office) -> None:
    officer = office.officers["dora"]
    first = office.sealed_notice()
    serving.sign_as_officer(office.ctx, officer, first)
    with office.services.sessions() as session:
        user = session.get(User, officer.id)
        assert user is not None and user.signing_cert_serial
        serial = user.signing_cert_serial
    office.services.pki.revoke(serial, "keyCompromise")
    second = office.sealed_notice()
    with pytest.raises(ConflictError) as caught:
        serving.sign_as_officer(office.ctx, officer, second)
    assert caught.value.code == "officer_certificate_unusable"
    assert "evidence certs issue --kind officer" in str(caught.value)
    assert f"--id '{BADGES['dora']}'" in str(caught.value)
    with office.services.sessions() as session:
        user = session.get(User, officer.id)
        assert user is not None and user.signing_cert_serial == serial  # not replaced
    officers = office.services.pki.list_certificates("officer")
    assert [c.serial_hex for c in officers if c.owner_id == BADGES["dora"]] == [serial]
    # An administrator issues the replacement; the next signature uses it.
    from certs import SubjectInfo

    new = office.services.pki.issue(
        "officer",
        SubjectInfo("Officer dora", organization=office.unit_a, officer_id=BADGES["dora"]),
    )
    row = serving.sign_as_officer(office.ctx, officer, second)
    assert row.signer_serial == new.serial_hex


def test_cli_refuses_bad_and_duplicate_badges(office: Office) -> None:
    r = run_cli(["user", "create", "erin", "--badge", "证号一"], office.env())
    assert r.returncode == 2 and "badge number" in r.stderr, r.stderr
    r = run_cli(["user", "create", "erin", "--badge", BADGES["bob"]], office.env())
    assert r.returncode == 2 and "already on the account 'bob'" in r.stderr, r.stderr
    with office.services.sessions() as session:
        assert session.scalar(select(User).where(User.username == "erin")) is None
    r = run_cli(["user", "set-badge", "nobody", "X-1"], office.env())
    assert r.returncode == 2 and "no user named 'nobody'" in r.stderr


# -- the web UI ---------------------------------------------------------------------------------


def _login(client: httpx.Client, username: str) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": OFFICER_PASSWORD, "csrf": csrf_of(page.text)},
    )
    assert r.status_code == 303, r.text


def test_document_page_offers_the_button_only_when_allowed(office: Office) -> None:
    doc_id = office.sealed_notice()
    draft = serving.create_document(
        office.ctx,
        office.officers["alice"],
        merchant_id=office.merchant_id,
        template="order_to_correct",
        data=order_data(),
    )
    with httpx.Client(base_url=office.url, timeout=120) as alice:
        _login(alice, "alice")
        page = alice.get(f"/documents/{doc_id}", headers={"Accept-Language": "zh-CN"}).text
        assert 'id="officer-sign-button"' in page and "承办人签名" in page
        assert BADGES["alice"] in page  # the officer's own badge number is shown
        assert 'id="no-badge"' not in page
        assert 'id="officer-sign-button"' not in alice.get(f"/documents/{draft}").text
        # Without the CSRF token nothing is signed.
        r = alice.post(f"/documents/{doc_id}/officer-sign", data={"csrf": "wrong"})
        assert r.status_code == 403
        assert _audit(office, doc_id, "document.officer_signed") == []
    with httpx.Client(base_url=office.url, timeout=120) as bob:
        _login(bob, "bob")
        assert bob.get(f"/documents/{doc_id}").status_code == 404
        page = bob.get("/documents")
        r = bob.post(f"/documents/{doc_id}/officer-sign", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 404


@pytest.mark.chromium
def test_officer_clicks_sign_as_officer_in_chromium(office: Office) -> None:
    from playwright.sync_api import expect, sync_playwright

    doc_id = office.sealed_notice()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.goto(office.url + "/login")
            page.get_by_label("用户名").fill("alice")
            page.get_by_label("密码").fill(OFFICER_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(re.compile(r"/captures$"))
            page.goto(f"{office.url}/documents/{doc_id}")
            expect(page.locator("#signers li")).to_have_count(1)
            expect(page.locator("#my-badge")).to_contain_text(BADGES["alice"])
            page.get_by_role("button", name="承办人签名", exact=True).click()
            expect(page.locator("#done")).to_have_text("已签名。")
            expect(page.locator("#status-badge")).to_have_text("已盖章")
            signers = page.locator("#signers li")
            expect(signers).to_have_count(2)
            expect(signers.nth(0)).to_contain_text("行政机关印章")
            expect(signers.nth(1)).to_contain_text("承办人")
            expect(signers.nth(1)).to_contain_text(BADGES["alice"])
            expect(page.locator("#versions tr.v-officer-signed")).to_have_count(1)
            expect(page.locator("#officer-sign-button")).to_have_count(0)
            expect(page.get_by_role("button", name="电子送达")).to_be_visible()
            page.goto(f"{office.url}/documents/{doc_id}?lang=en")
            expect(page.get_by_role("heading", name="Signatures in order")).to_be_visible()
            expect(page.locator("#signers li").nth(1)).to_contain_text("Officer in charge")
        finally:
            browser.close()
    assert len(_audit(office, doc_id, "document.officer_signed")) == 1
