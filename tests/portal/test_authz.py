"""Who may see and do what: merchants only their own served documents, officers only their
unit's, and the two kinds of session never stand in for each other. Every refusal of
something that exists must look exactly like something that does not (404)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from storage.models import Document, DocumentVersion, PortalAudit
from tests.portal.conftest import PASSWORD, World, csrf_of, officer_login, order_data
from workflow import serving


def _versions(world: World, doc_id: str) -> int:
    with world.services.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DocumentVersion)
                .where(DocumentVersion.document_id == doc_id)
            )
            or 0
        )


def _csrf(client: TestClient, path: str = "/portal") -> str:
    return csrf_of(client.get(path).text)


def test_merchant_sees_own_documents_only(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    ma = merchant_client("ma")
    home = ma.get("/portal")
    assert home.status_code == 200
    assert world.docs["ma"] in home.text
    for other in ("mb", "mc", "ma_draft", "mb_statement"):
        assert world.docs[other] not in home.text, other
    own = ma.get(f"/portal/documents/{world.docs['ma']}")
    assert own.status_code == 200 and "责令改正通知书" in own.text
    assert own.headers["x-frame-options"] == "DENY"
    assert own.headers["cache-control"] == "no-store"
    pdf = ma.get(f"/portal/documents/{world.docs['ma']}/file")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("other", ["mb", "mc", "ma_draft", "mb_statement", "missing"])
def test_merchant_cannot_reach_other_documents_by_guessing_urls(
    world: World, merchant_client: Callable[[str], TestClient], other: str
) -> None:
    ma = merchant_client("ma")
    doc_id = world.docs.get(other, uuid.uuid4().hex)
    nothing = ma.get(f"/portal/documents/{uuid.uuid4().hex}")
    assert nothing.status_code == 404
    before = _versions(world, doc_id)
    csrf = _csrf(ma)
    responses = {
        "page": ma.get(f"/portal/documents/{doc_id}"),
        "file": ma.get(f"/portal/documents/{doc_id}/file"),
        "file v1": ma.get(f"/portal/documents/{doc_id}/file?v=1"),
        "file v2": ma.get(f"/portal/documents/{doc_id}/file?v=2"),
        "attachment": ma.get(f"/portal/documents/{doc_id}/attachments/1"),
        "statement form": ma.get(f"/portal/documents/{doc_id}/statement"),
        "sign": ma.post(
            f"/portal/documents/{doc_id}/sign", data={"password": PASSWORD, "csrf": csrf}
        ),
        "statement": ma.post(
            f"/portal/documents/{doc_id}/statement",
            data={"text": "x", "password": PASSWORD, "csrf": csrf},
        ),
        "upload": ma.post(
            f"/portal/documents/{doc_id}/upload",
            data={"csrf": csrf},
            files={"file": ("x.pdf", b"%PDF-1.7\n", "application/pdf")},
        ),
    }
    for what, response in responses.items():
        assert response.status_code == 404, (what, response.status_code)
        # Indistinguishable from an id that does not exist.
        assert response.text == nothing.text, what
    assert _versions(world, doc_id) == before


def test_merchant_cannot_see_draft_versions_of_its_own_notice(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    ma = merchant_client("ma")
    with world.services.sessions() as session:
        rows = session.execute(
            select(DocumentVersion.seq, DocumentVersion.kind).where(
                DocumentVersion.document_id == world.docs["ma"]
            )
        )
        kinds = {seq: kind for seq, kind in rows}
    assert kinds[1] == "rendered"
    assert ma.get(f"/portal/documents/{world.docs['ma']}/file?v=1").status_code == 404
    assert ma.get(f"/portal/documents/{world.docs['ma']}/file?v=2").status_code == 200


def test_statement_attachment_only_for_its_merchant(
    world: World,
    merchant_client: Callable[[str], TestClient],
    officer_client: Callable[[str], TestClient],
) -> None:
    view = serving.document_for_officer(world.ctx, world.alice, world.docs["mb_statement"])
    att = view.attachments[0]
    url = f"/portal/documents/{world.docs['mb_statement']}/attachments/{att.id}"
    mb = merchant_client("mb")
    got = mb.get(url)
    assert got.status_code == 200 and got.content == "进货单据说明\n".encode()
    assert got.headers["content-disposition"].startswith("attachment;")
    assert merchant_client("ma").get(url).status_code == 404
    officer_url = f"/documents/{world.docs['mb_statement']}/attachments/{att.id}"
    assert officer_client("alice").get(officer_url).status_code == 200
    assert officer_client("bob").get(officer_url).status_code == 404


def test_officer_of_another_unit_gets_404_everywhere(
    world: World, officer_client: Callable[[str], TestClient]
) -> None:
    bob = officer_client("bob")
    doc_a, merchant_a = world.docs["ma"], world.ids["ma"]
    csrf = csrf_of(bob.get("/documents").text)
    for url in (
        f"/documents/{doc_a}",
        f"/documents/{doc_a}/versions/1/file",
        f"/documents/{doc_a}/versions/2/file",
        f"/merchants/{merchant_a}",
    ):
        assert bob.get(url).status_code == 404, url
    for action in ("sign", "serve", "proof"):
        r = bob.post(f"/documents/{world.docs['ma_draft']}/{action}", data={"csrf": csrf})
        assert r.status_code == 404, action
    r = bob.post(f"/merchants/{merchant_a}/setup-code", data={"csrf": csrf})
    assert r.status_code == 404
    # The lists show only unit B's merchants and documents.
    merchants_page = bob.get("/merchants").text
    assert world.codes["mc"] in merchants_page and world.codes["ma"] not in merchants_page
    docs_page = bob.get("/documents").text
    assert world.docs["mc"] in docs_page and doc_a not in docs_page
    # Creating a document for another unit's merchant is refused without naming it.
    r = bob.post(
        "/documents",
        data={
            "merchant_id": merchant_a,
            "template": "order_to_correct",
            "data": "{}",
            "csrf": csrf,
        },
    )
    assert r.status_code == 422 and "甲商贸有限公司" not in r.text
    # Alice (unit A) sees it; the draft is still a draft.
    alice = officer_client("alice")
    assert alice.get(f"/documents/{doc_a}").status_code == 200
    with world.services.sessions() as session:
        draft = session.get(Document, world.docs["ma_draft"])
        assert draft is not None and draft.status == "draft"


def test_api_is_scoped_by_unit(world: World, officer_client: Callable[[str], TestClient]) -> None:
    bob = officer_client("bob")
    assert bob.get(f"/api/documents/{world.docs['ma']}").status_code == 404
    assert bob.get(f"/api/documents/{world.docs['ma']}/versions/2/file").status_code == 404
    assert bob.get(f"/api/merchants/{world.ids['ma']}").status_code == 404
    assert bob.post(f"/api/documents/{world.docs['ma_draft']}/sign").status_code == 404
    listed = {d["id"] for d in bob.get("/api/documents").json()}
    assert world.docs["mc"] in listed and world.docs["ma"] not in listed
    r = bob.post(
        "/api/documents",
        json={"merchant_id": world.ids["ma"], "template": "order_to_correct", "data": {}},
    )
    assert r.status_code == 404
    alice = officer_client("alice")
    assert alice.get(f"/api/documents/{world.docs['ma']}").json()["served_at"] is not None


def test_merchant_session_is_nothing_to_officer_pages_and_api(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    ma = merchant_client("ma")
    for url in ("/captures", "/documents", "/merchants", f"/documents/{world.docs['ma']}"):
        r = ma.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    assert ma.get("/api/documents").status_code == 401
    assert ma.get(f"/api/documents/{world.docs['ma']}/versions/2/file").status_code == 401
    # The portal cookie is scoped to /portal; even sent everywhere it is no officer login.
    token = next(c.value for c in ma.cookies.jar if c.name == "evidence_portal")
    for name in ("evidence_portal", "evidence_session"):
        fresh = world.app_client()
        fresh.cookies.set(name, token)
        r = fresh.get("/api/documents")
        assert r.status_code == 401, name
        r = fresh.get("/documents", follow_redirects=False)
        assert r.status_code == 303, name


def test_officer_session_is_nothing_to_the_portal(
    world: World, officer_client: Callable[[str], TestClient]
) -> None:
    alice = officer_client("alice")
    assert alice.get("/documents").status_code == 200
    for url in ("/portal", f"/portal/documents/{world.docs['ma']}"):
        r = alice.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/portal/login", url
    r = alice.get(f"/portal/documents/{world.docs['ma']}/file", follow_redirects=False)
    assert r.status_code == 303
    # An officer session cookie value used as a portal cookie is not a merchant session.
    value = next(c.value for c in alice.cookies.jar if c.name == "evidence_session")
    fresh = world.app_client()
    fresh.cookies.set("evidence_portal", value)
    r = fresh.get("/portal", follow_redirects=False)
    assert r.status_code == 303


def test_forms_need_the_csrf_token(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    mb = merchant_client("mb")
    doc = world.docs["mb"]
    before = _versions(world, doc)
    for data in ({"password": PASSWORD}, {"password": PASSWORD, "csrf": "forged"}):
        r = mb.post(f"/portal/documents/{doc}/sign", data=data)
        assert r.status_code == 403
    assert _versions(world, doc) == before
    fresh = world.app_client()
    fresh.get("/portal/login")
    r = fresh.post("/portal/login", data={"credit_code": world.codes["mb"], "password": PASSWORD})
    assert r.status_code == 403
    # The officer's token is not the portal's (different secret input, different cookie).
    officer = world.app_client()
    officer_login(officer, "alice")
    officer_csrf = csrf_of(officer.get("/documents").text)
    r = mb.post(f"/portal/documents/{doc}/sign", data={"password": PASSWORD, "csrf": officer_csrf})
    assert r.status_code == 403


def test_wrong_password_at_signing_signs_nothing(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    mb = merchant_client("mb")
    doc = world.docs["mb"]
    before = _versions(world, doc)
    csrf = _csrf(mb)
    r = mb.post(f"/portal/documents/{doc}/sign", data={"password": "not my password", "csrf": csrf})
    assert r.status_code == 401
    assert 'role="alert"' in r.text
    assert _versions(world, doc) == before
    with world.services.sessions() as session:
        current = session.get(Document, doc)
        assert current is not None and current.status == "served"
        failed = session.scalars(
            select(PortalAudit).where(
                PortalAudit.merchant_id == world.ids["mb"],
                PortalAudit.action == "merchant.reauth_failed",
            )
        ).all()
        assert failed and failed[-1].ip == "testclient"
    # The right password still works afterwards (one failure does not lock).
    serving.merchants.check_password(world.ctx, world.ids["mb"], PASSWORD)


def test_officer_cannot_serve_without_the_merchants_consent(
    world: World, officer_client: Callable[[str], TestClient]
) -> None:
    alice = officer_client("alice")
    created = alice.post(
        "/api/documents",
        json={"merchant_id": world.ids["md"], "template": "order_to_correct", "data": order_data()},
    )
    assert created.status_code == 201, created.text
    doc = created.json()["id"]
    assert alice.post(f"/api/documents/{doc}/sign").status_code == 200
    r = alice.post(f"/api/documents/{doc}/serve")
    assert r.status_code == 409
    assert r.json()["detail"]["code"] == "no_consent"
    assert "送达地址确认书" in r.json()["detail"]["message"]
    # The same in the page, as an alert next to the buttons.
    page = alice.post(
        f"/documents/{doc}/serve", data={"csrf": csrf_of(alice.get("/documents").text)}
    )
    assert (
        page.status_code == 409 and "no_consent" not in page.text and "送达地址确认书" in page.text
    )
    # And the merchant that has not consented can open nothing but the confirmation.
    md = world.app_client()
    r = md.post(
        "/portal/login",
        data={
            "credit_code": world.codes["md"],
            "password": PASSWORD,
            "csrf": csrf_of(md.get("/portal/login").text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = md.get("/portal", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/consent"
    r = md.get("/portal/consent", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/documents/")
    assert md.get(r.headers["location"]).status_code == 200
