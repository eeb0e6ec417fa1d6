"""A retried capture request makes one capture, not two (``Idempotency-Key``).

Found by the soak with faults: the database restarted after a capture request's commit, the
reply was lost (500), the client retried, and the page was captured twice. With a key per
intended capture the retry gets the first request's capture.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from evidence_service.sealing import pipeline
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.api import captures as captures_api
from storage.models import ApiToken, Capture, Job, User
from tests.service.conftest import client_for

URL = "http://127.0.0.1:9/listing/1"
OTHER_URL = "http://127.0.0.1:9/listing/2"


def _counts(services: Services) -> tuple[int, int]:
    with services.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Capture)) or 0,
            session.scalar(select(func.count()).select_from(Job)) or 0,
        )


def _officer_token(services: Services, username: str) -> str:
    token = new_api_token()
    with services.session() as session:
        user = User(
            username=username, display_name=username, password_hash=hash_password("pw-123456"),
            role="officer",
        )  # fmt: skip
        session.add(user)
        session.flush()
        session.add(
            ApiToken(user_id=user.id, name="t", token_hash=hash_token(token), revoked=False)
        )
    return token


@pytest.fixture
def api(
    services_factory: Callable[..., Services],
    admin_token: Callable[[Services], str],
    database_url: str,
) -> tuple[Services, TestClient, dict[str, str]]:
    services = services_factory(database_url=database_url)
    client = client_for(services)
    return services, client, {"Authorization": f"Bearer {admin_token(services)}"}


def test_a_retry_with_the_same_key_gets_the_first_capture(
    api: tuple[Services, TestClient, dict[str, str]],
) -> None:
    services, client, auth = api
    headers = {**auth, "Idempotency-Key": "7f0c2a1e-first"}
    first = client.post("/api/captures", json={"url": URL}, headers=headers)
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    again = client.post("/api/captures", json={"url": URL}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert _counts(services) == (1, 1)

    # Another key is another capture; so is a request without one.
    other = client.post(
        "/api/captures", json={"url": URL}, headers={**auth, "Idempotency-Key": "second"}
    )
    plain = client.post("/api/captures", json={"url": URL}, headers=auth)
    assert len({first.json()["id"], other.json()["id"], plain.json()["id"]}) == 3
    assert _counts(services) == (3, 3)


def test_the_same_key_for_another_request_is_refused(
    api: tuple[Services, TestClient, dict[str, str]],
) -> None:
    services, client, auth = api
    headers = {**auth, "Idempotency-Key": "k-1"}
    first = client.post("/api/captures", json={"url": URL}, headers=headers)
    assert first.status_code == 202
    for body in ({"url": OTHER_URL}, {"url": URL, "video": True}):
        r = client.post("/api/captures", json=body, headers=headers)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert detail["code"] == "idempotency_key_reused"
        assert first.json()["id"] in detail["message"]
    assert _counts(services) == (1, 1)


def test_a_key_is_the_users_own(api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, auth = api
    mine = client.post("/api/captures", json={"url": URL}, headers={**auth, "Idempotency-Key": "k"})
    theirs = client.post(
        "/api/captures",
        json={"url": URL},
        headers={
            "Authorization": f"Bearer {_officer_token(services, 'li')}",
            "Idempotency-Key": "k",
        },
    )
    assert theirs.status_code == 202, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert _counts(services) == (2, 2)


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "non-ascii-键"])
def test_a_malformed_key_is_refused_before_anything_is_queued(
    api: tuple[Services, TestClient, dict[str, str]], key: str
) -> None:
    services, client, auth = api
    r = client.post(
        "/api/captures",
        json={"url": URL},
        headers={**auth, "Idempotency-Key": key.encode()},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "bad_idempotency_key"
    assert _counts(services) == (0, 0)


def test_a_reply_lost_after_the_commit_is_retried_into_the_same_capture(
    api: tuple[Services, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the soak saw: the request's row is committed, then reading it back for the reply
    fails (the database went away); the client gets a 500 and sends the request again."""
    services, _, auth = api
    client = TestClient(client_for(services).app, raise_server_exceptions=False)
    real = captures_api._record
    calls = {"n": 0}

    def record_once_failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(captures_api, "_record", record_once_failing)
    headers = {**auth, "Idempotency-Key": "lost-reply"}
    lost = client.post("/api/captures", json={"url": URL}, headers=headers)
    assert lost.status_code == 500
    assert _counts(services) == (1, 1)  # the capture was made; the client cannot know
    retry = client.post("/api/captures", json={"url": URL}, headers=headers)
    assert retry.status_code == 202, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert _counts(services) == (1, 1)
    with services.sessions() as session:
        assert retry.json()["id"] == session.scalars(select(Capture.id)).one()


def test_two_requests_with_one_key_at_the_same_moment_make_one_capture(
    api: tuple[Services, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both look for the key before either has inserted; the unique index lets one row in and
    the other request answers with it. (The wait is before the insert's transaction begins:
    SQLite's transactions take the write lock at their start.)"""
    services, client, auth = api
    both_looked = threading.Barrier(2, timeout=20)
    real_look, real_insert = pipeline.replayed_capture, pipeline._insert
    seen: list[str | None] = []
    inserts = {"n": 0}

    def look(*args: Any) -> str | None:
        found = real_look(*args)
        seen.append(found)
        return found

    def wait_then_insert(*args: Any, **kwargs: Any) -> str:
        inserts["n"] += 1
        if inserts["n"] <= 2:
            both_looked.wait()
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_insert", wait_then_insert)
    monkeypatch.setattr(pipeline, "replayed_capture", look)
    headers = {**auth, "Idempotency-Key": "race"}
    replies: list[Any] = []

    def post() -> None:
        replies.append(client.post("/api/captures", json={"url": URL}, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status_code for r in replies] == [202, 202], [r.text for r in replies]
    assert seen[:2] == [None, None]  # the race happened: neither saw the other's row
    assert replies[0].json()["id"] == replies[1].json()["id"]
    assert sorted(r.headers.get("idempotent-replayed", "") for r in replies) == ["", "true"]
    assert _counts(services) == (1, 1)


def test_a_resent_capture_form_opens_the_first_capture(
    services_factory: Callable[..., Services],
) -> None:
    """A double click on "Capture evidence", or the form sent again after a lost reply."""
    services = services_factory()
    with client_for(services) as client:
        _officer_token(services, "zhao")
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        client.post(
            "/login",
            data={"username": "zhao", "password": "pw-123456", "csrf": csrf[1]},
            follow_redirects=False,
        )
        form = client.get("/captures")
        assert form.status_code == 200, form.text
        fields = dict(re.findall(r'name="(csrf|request_key)" value="([^"]+)"', form.text))
        assert set(fields) == {"csrf", "request_key"}
        sent = [
            client.post("/captures", data={**fields, "url": URL}, follow_redirects=False)
            for _ in range(2)
        ]
        assert [r.status_code for r in sent] == [303, 303]
        assert sent[0].headers["location"] == sent[1].headers["location"]
        assert _counts(services) == (1, 1)

        # The same form, shown again from the history and changed, is another capture.
        changed = client.post(
            "/captures", data={**fields, "url": OTHER_URL}, follow_redirects=False
        )
        assert changed.status_code == 303
        assert changed.headers["location"] != sent[0].headers["location"]
        # A newly shown form has a new key.
        again = client.get("/captures")
        assert fields["request_key"] not in again.text
    assert _counts(services) == (2, 2)
