"""A retried document request makes one draft, not two (``Idempotency-Key``).

The soak's documents client retries ``POST /api/documents`` while the database restarts, as
its capture client retries capture requests; a reply lost after the commit used to make a
second draft of the same notice. With a key per intended document the retry gets the first
request's document, in whatever state it is now. Run on SQLite and PostgreSQL: the unique
index that settles a race on one key is the database's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from evidence_service.bootstrap import initialize
from evidence_service.security import hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.api import documents as documents_api
from evidence_service.web.app import create_app
from evidence_service.web.portal.deps import build_context
from storage.models import ApiToken, Document, DocumentVersion, User
from tests.fixtures.races import after_each_first_call, run_together
from tests.portal.conftest import (
    add_officer,
    credit_code,
    csrf_of,
    officer_login,
    order_data,
    setup_merchant,
)
from tests.service.conftest import make_settings
from workflow import serving
from workflow.context import OfficerRef


@dataclass
class Office:
    services: Services
    client: TestClient
    merchant_id: str
    other_merchant_id: str
    alice: OfficerRef
    tokens: dict[str, str]

    def headers(self, who: str, key: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            h["Idempotency-Key"] = key
        return h

    def body(self, **changes: Any) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id,
            "template": "order_to_correct",
            "data": order_data(**changes),
        }

    def counts(self) -> tuple[int, int]:
        """(notices, their versions) in the database."""
        with self.services.sessions() as session:
            docs = session.scalar(
                select(func.count()).select_from(Document).where(Document.kind == "notice")
            )
            versions = session.scalar(
                select(func.count())
                .select_from(DocumentVersion)
                .join(Document, Document.id == DocumentVersion.document_id)
                .where(Document.kind == "notice")
            )
        return docs or 0, versions or 0


def _token(services: Services, username: str) -> str:
    token = new_api_token()
    with services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        session.add(
            ApiToken(user_id=user.id, name="t", token_hash=hash_token(token), revoked=False)
        )
    return token


@pytest.fixture
def office(database_url: str, tmp_path: Any) -> Iterator[Office]:
    services = Services(make_settings(tmp_path / "data", database_url=database_url))
    initialize(services)
    ctx = build_context(services)
    with services.session() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.unit_id is not None
        unit = admin.unit_id
    alice = add_officer(services, "alice", unit)
    add_officer(services, "bob", unit)
    merchant = setup_merchant(ctx, alice, "甲商贸有限公司", credit_code(1), consent=False)
    other = setup_merchant(ctx, alice, "乙商贸有限公司", credit_code(2), consent=False)
    client = TestClient(create_app(services=services), raise_server_exceptions=False)
    tokens = {who: _token(services, who) for who in ("alice", "bob")}
    yield Office(services, client, merchant, other, alice, tokens)
    client.close()
    services.close()


def test_a_retry_with_the_same_key_gets_the_first_document(office: Office) -> None:
    first = office.client.post(
        "/api/documents", json=office.body(), headers=office.headers("alice", "doc-7f0c2a1e")
    )
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert office.counts() == (1, 1)
    again = office.client.post(
        "/api/documents", json=office.body(), headers=office.headers("alice", "doc-7f0c2a1e")
    )
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert office.counts() == (1, 1)

    # Another key is another document; so is a request without one.
    other = office.client.post(
        "/api/documents", json=office.body(), headers=office.headers("alice", "doc-second")
    )
    plain = office.client.post(
        "/api/documents", json=office.body(), headers=office.headers("alice")
    )
    assert other.status_code == plain.status_code == 201
    assert len({first.json()["id"], other.json()["id"], plain.json()["id"]}) == 3
    assert office.counts() == (3, 3)


def test_a_retry_finds_the_document_in_its_current_state(office: Office) -> None:
    """The unit sealed the draft between the first request and the retry: the retry answers
    the sealed document, it does not render it again."""
    headers = office.headers("alice", "doc-then-sealed")
    first = office.client.post("/api/documents", json=office.body(), headers=headers)
    doc = first.json()["id"]
    sealed = office.client.post(f"/api/documents/{doc}/sign", headers=office.headers("alice"))
    assert sealed.status_code == 200, sealed.text
    again = office.client.post("/api/documents", json=office.body(), headers=headers)
    assert again.status_code == 201 and again.json()["id"] == doc
    assert again.json()["status"] == "signed"
    assert office.counts() == (1, 2)


@pytest.mark.parametrize(
    "change",
    [
        {"data": order_data(deadline="2099-11-30")},
        {"template": "penalty_notification"},
        {"merchant_id": "other"},
    ],
    ids=["data", "template", "merchant"],
)
def test_the_same_key_for_another_request_is_refused(
    office: Office, change: dict[str, Any]
) -> None:
    headers = office.headers("alice", "doc-reused")
    assert (
        office.client.post("/api/documents", json=office.body(), headers=headers).status_code == 201
    )
    body = {**office.body(), **change}
    if body["merchant_id"] == "other":
        body["merchant_id"] = office.other_merchant_id
    r = office.client.post("/api/documents", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "idempotency_key_reused"
    assert "already used for another request" in r.json()["detail"]["message"]
    assert office.counts() == (1, 1)


def test_a_key_is_the_officers_own(office: Office) -> None:
    a = office.client.post(
        "/api/documents", json=office.body(), headers=office.headers("alice", "shared-key")
    )
    b = office.client.post(
        "/api/documents", json=office.body(), headers=office.headers("bob", "shared-key")
    )
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert office.counts() == (2, 2)


@pytest.mark.parametrize(
    "key", ["", "has space", "x" * 129, "键"], ids=["empty", "space", "long", "cjk"]
)
def test_a_malformed_key_is_refused_before_anything_is_rendered(office: Office, key: str) -> None:
    # Sent as UTF-8 bytes: a client may put any bytes in a header.
    headers = {**office.headers("alice"), "Idempotency-Key": key.encode()}
    r = office.client.post("/api/documents", json=office.body(), headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "bad_idempotency_key"
    assert office.counts() == (0, 0)


def test_a_reply_lost_after_the_commit_is_retried_into_the_same_document(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The soak's case: the draft is committed, then reading it back for the reply fails (the
    database restarted); the client sees a 500 and retries with its key."""
    real = documents_api._document
    calls = {"n": 0}

    def lose_first_reply(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        return real(*args)

    monkeypatch.setattr(documents_api, "_document", lose_first_reply)
    headers = office.headers("alice", "doc-lost-reply")
    lost = office.client.post("/api/documents", json=office.body(), headers=headers)
    assert lost.status_code == 500
    assert office.counts() == (1, 1)  # the draft was made; the client cannot know
    retry = office.client.post("/api/documents", json=office.body(), headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert office.counts() == (1, 1)


def test_two_requests_racing_on_one_key_make_one_document(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests look for the key before either has inserted; the unique index lets one
    insert, and the other answers the winner's document."""
    after_each_first_call(monkeypatch, serving, "_replayed_document")
    ctx = build_context(office.services)

    def request() -> serving.Requested:
        return serving.request_document(
            ctx,
            office.alice,
            merchant_id=office.merchant_id,
            template="order_to_correct",
            data=order_data(),
            idempotency_key="doc-race",
        )

    results, errors = run_together(request)
    assert not errors, errors
    assert len(results) == 2
    assert results[0].document_id == results[1].document_id
    assert sorted(r.replayed for r in results) == [False, True]
    assert office.counts()[0] == 1


def test_the_new_document_form_sent_twice_makes_one_draft(office: Office) -> None:
    browser = TestClient(create_app(services=office.services))
    assert officer_login(browser, "alice").status_code == 303

    def form_fields(page: str) -> dict[str, str]:
        key = page.split('name="request_key" value="', 1)[1].split('"', 1)[0]
        return {
            "csrf": csrf_of(page),
            "request_key": key,
            "merchant_id": office.merchant_id,
            "template": "order_to_correct",
        }

    page = browser.get("/documents/new?template=order_to_correct").text
    fields = form_fields(page)
    data = json.dumps(order_data(), ensure_ascii=False)
    one = browser.post("/documents", data={**fields, "data": data}, follow_redirects=False)
    two = browser.post("/documents", data={**fields, "data": data}, follow_redirects=False)
    assert one.status_code == two.status_code == 303, one.text
    assert one.headers["location"] == two.headers["location"]
    assert office.counts() == (1, 1)
    # The same form changed and sent again is another document the officer meant.
    changed = json.dumps(order_data(deadline="2099-11-30"), ensure_ascii=False)
    three = browser.post("/documents", data={**fields, "data": changed}, follow_redirects=False)
    assert three.status_code == 303 and three.headers["location"] != one.headers["location"]
    assert office.counts() == (2, 2)
    # Each form shown carries a key of its own.
    assert form_fields(browser.get("/documents/new").text)["request_key"] != fields["request_key"]
    browser.close()
