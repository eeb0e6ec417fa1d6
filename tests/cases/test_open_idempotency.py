"""A retried ``POST /api/cases`` opens one case, not two (``Idempotency-Key``).

An officer's script or a platform integration that retries after a timeout or a 5xx used to
open the same lead twice: two cases in the queue, two hash chains, two sets of deadlines. With a
key per intended case the retry gets the first request's case; if the first request stopped
between opening the case and staffing its opener, the retry finishes the staffing. Run on
SQLite and PostgreSQL: the unique index that settles a race on one key is the database's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.api import cases as cases_api
from evidence_service.web.app import create_app
from storage.models import ApiToken, Case, CaseEvent, CaseStaff, Unit, User
from tests.fixtures.races import after_each_first_call, run_together
from tests.service.conftest import make_settings
from workflow.cases import service

CREDIT_CODE = "9144030071526726XG"


@dataclass
class Office:
    services: Services
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, int]

    def post(self, who: str, body: dict[str, Any], key: str | bytes | None = None) -> Any:
        headers: dict[str, Any] = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post("/api/cases", json=body, headers=headers)

    def counts(self) -> tuple[int, int, int]:
        """(cases, their events, staff rows)."""
        with self.services.sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(Case)) or 0,
                session.scalar(select(func.count()).select_from(CaseEvent)) or 0,
                session.scalar(select(func.count()).select_from(CaseStaff)) or 0,
            )


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "title": "虚假宣传",
        "summary": "商品页面宣称“国家级”",
        "parties": [{"name": "某网店", "credit_code": CREDIT_CODE, "shop_url": "https://shop/1"}],
        **changes,
    }


@pytest.fixture
def office(database_url: str, tmp_path: Path) -> Iterator[Office]:
    services = Services(make_settings(tmp_path / "data", database_url=database_url))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    for name, badge in (("wang", "SL-0001"), ("zhao", "SL-0002")):
        token = new_api_token()
        with services.session() as session:
            user = User(
                username=name, display_name=f"{name} 名", password_hash=hash_password("x" * 12),
                unit_id=unit_id, badge_number=badge, role="officer",
            )  # fmt: skip
            session.add(user)
            session.flush()
            session.add(ApiToken(user_id=user.id, name="t", token_hash=hash_token(token)))
            ids[name], tokens[name] = user.id, token
    with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
        yield Office(services, client, tokens, ids)
    services.close()


def test_a_retry_with_the_same_key_gets_the_first_case(office: Office) -> None:
    first = office.post("wang", _body(), "case-7f0c2a1e")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    opened = office.counts()
    assert opened[0] == 1 and opened[2] == 1  # the case, and wang staffed on it
    again = office.post("wang", _body(), "case-7f0c2a1e")
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert office.counts() == opened  # no second case, no new event, no second staffing
    with office.services.sessions() as session:
        case = session.get(Case, first.json()["id"])
        assert case is not None and case.created_by_id == office.ids["wang"]

    other = office.post("wang", _body(), "case-second")
    plain = office.post("wang", _body())
    assert other.status_code == plain.status_code == 201
    assert len({first.json()["id"], other.json()["id"], plain.json()["id"]}) == 3
    assert office.counts()[0] == 3


@pytest.mark.parametrize(
    "change",
    [{"title": "价格欺诈"}, {"summary": "另一件事"}, {"procedure": "simplified"}, {"parties": []}],
    ids=["title", "summary", "procedure", "parties"],
)
def test_the_same_key_for_another_request_is_refused(
    office: Office, change: dict[str, Any]
) -> None:
    assert office.post("wang", _body(), "case-reused").status_code == 201
    before = office.counts()
    r = office.post("wang", _body(**change), "case-reused")
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "idempotency_key_reused"
    assert "already used for another request" in r.json()["detail"]["message"]
    assert office.counts() == before


def test_a_key_is_the_officers_own(office: Office) -> None:
    a = office.post("wang", _body(), "shared-key")
    b = office.post("zhao", _body(), "shared-key")
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "non-ascii-键"])
def test_a_malformed_key_is_refused_before_anything_is_opened(office: Office, key: str) -> None:
    r = office.post("wang", _body(), key.encode())
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == "bad_idempotency_key"
    assert office.counts() == (0, 0, 0)


def test_a_retry_after_a_stop_before_the_staffing_finishes_it(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request opened the case and died before staffing its opener (the staffing
    is a second transaction); the client saw a 500. The retry answers the same case and
    staffs the opener, once."""
    real = service.assign
    calls = {"n": 0}

    def die_first(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        real(*args, **kwargs)

    monkeypatch.setattr(service, "assign", die_first)
    lost = office.post("wang", _body(), "case-half-done")
    assert lost.status_code == 500
    assert office.counts()[0] == 1 and office.counts()[2] == 0  # opened, nobody staffed
    retry = office.post("wang", _body(), "case-half-done")
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert office.counts()[0] == 1 and office.counts()[2] == 1
    staff = retry.json()["staff"]
    assert [(s["user_id"], s["role"]) for s in staff] == [(office.ids["wang"], "officer")]


def test_two_requests_racing_on_one_key_open_one_case(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests look for the key before either has opened the case; the unique index
    lets one insert, and the other answers the winner's case."""
    after_each_first_call(monkeypatch, service, "requested_case")
    ctx = case_context(office.services)
    with office.services.sessions() as session:
        opener = session.get(User, office.ids["wang"])
        assert opener is not None
        session.expunge(opener)
    unit_id = opener.unit_id
    assert unit_id is not None
    who = cases_api.actor_of(opener, "officer")

    def request() -> tuple[str, bool]:
        body = cases_api.CaseIn.model_validate(_body())
        return cases_api.open_lead(ctx, body, who, unit_id, opener, "case-race")

    results, errors = run_together(request)
    assert not errors, errors
    assert len(results) == 2 and results[0][0] == results[1][0]
    assert sorted(replayed for _, replayed in results) == [False, True]
    cases, _, staff = office.counts()
    assert cases == 1 and staff == 1
