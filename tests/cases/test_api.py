"""The case REST API (``/api/cases``) through FastAPI's TestClient on a real database: a walk of
the general procedure with the clock moved (time-machine, in-process), refusals with their
reasons, payload errors naming the field, and access (another unit's officer sees nothing, a
disabled account's token is refused)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import ApiToken, Capture, CaseEvent, Unit, User
from tests.service.conftest import make_settings
from workflow.cases import graph, process, service
from workflow.cases.delivery import METHODS, PARTICULARS

CHINA = timezone(timedelta(hours=8))
CREDIT_CODE = "9144030071526726XG"


@dataclass
class Api:
    services: Services
    client: TestClient
    unit_id: int
    tokens: dict[str, str]
    ids: dict[str, int]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, who: str, path: str, body: Any = None) -> Any:
        return self.client.post(path, json=body, headers=self.h(who))

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.h(who))

    def act(self, who: str, case_id: str, action: str, body: Any = None) -> Any:
        return self.post(who, f"/api/cases/{case_id}/actions/{action}", body)


def _user(
    services: Services,
    unit_id: int,
    username: str,
    badge: str | None,
    *,
    role: str = "officer",
    disabled: bool = False,
) -> tuple[int, str]:
    token = new_api_token()
    with services.session() as session:
        user = User(
            username=username,
            display_name=f"{username} 名",
            password_hash=hash_password("x" * 12),
            unit_id=unit_id,
            badge_number=badge,
            role=role,
            disabled=disabled,
        )
        session.add(user)
        session.flush()
        session.add(ApiToken(user_id=user.id, name="t", token_hash=hash_token(token)))
        return user.id, token


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    services = Services(make_settings(tmp_path / "data"))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        other = Unit(name="别的市场监督管理局")
        session.add(other)
        session.flush()
        other_id = other.id
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    rows: list[tuple[str, str | None, int, dict[str, Any]]] = [
        ("wang", "SL-0001", unit_id, {}),
        ("zhao", "SL-0002", unit_id, {}),
        ("head", "SL-0003", unit_id, {}),
        ("rev", "SL-0004", unit_id, {}),
        ("li", "SL-0005", unit_id, {}),  # same unit, not staffed
        ("stranger", "SL-9001", other_id, {}),  # another unit
        ("gone", "SL-0006", unit_id, {"disabled": True}),
        ("boss", None, unit_id, {"role": "admin"}),
    ]
    for name, badge, unit, extra in rows:
        ids[name], tokens[name] = _user(services, unit, name, badge, **extra)
    with TestClient(create_app(services=services)) as client:
        yield Api(services, client, unit_id, tokens, ids)
    services.close()


def _open(api: Api, who: str = "wang", **extra: Any) -> str:
    body = {
        "title": "虚假宣传",
        "summary": "商品页面宣称“国家级”",
        "parties": [{"name": "某网店", "credit_code": CREDIT_CODE, "shop_url": "https://shop/1"}],
        **extra,
    }
    reply = api.post(who, "/api/cases", body)
    assert reply.status_code == 201, reply.text
    assert reply.headers["location"] == f"/api/cases/{reply.json()['id']}"
    return str(reply.json()["id"])


def _staff(api: Api, case_id: str) -> None:
    for name, role in [("zhao", "officer"), ("head", "head"), ("rev", "reviewer")]:
        reply = api.post("wang", f"/api/cases/{case_id}/staff", {"username": name, "role": role})
        assert reply.status_code == 200, reply.text


def _ok(reply: Any) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def _to_statement_period(api: Api, case_id: str) -> None:
    _ok(api.act("wang", case_id, "register"))
    filing = {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True}
    _ok(api.act("wang", case_id, "propose_filing", filing))
    _ok(api.act("head", case_id, "approve_filing"))
    _ok(api.act("wang", case_id, "end_investigation", {"major_case": False}))
    _ok(api.act("rev", case_id, "complete_review", {"legal_review_done": True}))


def _option(case: dict[str, Any], action: str) -> dict[str, Any]:
    return next(o for o in case["options"] if o["action"] == action)


# -- the walk -----------------------------------------------------------------------------------


def test_general_procedure_with_hearing_to_closing_through_the_api(api: Api) -> None:
    """Filed Monday 2 March 2026; notified 3 March (the statement window ends 10 March); the
    hearing is noticed for 16 March; a decision above the notified fine is refused; closing
    needs payment and publicity. Every step through the API, with the clock moved."""
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=False) as clock:
        case_id = _open(api)
        opened = _ok(api.get("wang", f"/api/cases/{case_id}"))
        assert (opened["state"], opened["roles"]) == ("received", ["officer"])
        assert opened["staff"] == [
            {"user_id": api.ids["wang"], "name": "wang 名", "role": "officer",
             "badge_number": "SL-0001"}
        ]  # fmt: skip
        assert opened["parties"][0]["credit_code"] == CREDIT_CODE
        _staff(api, case_id)
        _ok(api.act("wang", case_id, "register"))
        # the view offers propose_filing refused with the reasons, in both languages
        verifying = _ok(api.get("wang", f"/api/cases/{case_id}"))
        propose = _option(verifying, "propose_filing")
        assert not propose["allowed"] and propose["role"] == "officer"
        guards = {r["guard"] for r in propose["reasons"]}
        assert "no_penalty_lists_consulted" in guards
        assert all(r["zh"] and r["en"] for r in propose["reasons"])
        assert {"name": "major_case", "kind": "boolean", "required": False, "choices": []} in (
            propose["payload"]
        )
        filing = {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True}
        _ok(api.act("wang", case_id, "propose_filing", filing))
        approved = _ok(api.act("head", case_id, "approve_filing"))
        assert (approved["role"], approved["to_state"]) == ("head", "investigating")
        assert approved["case"]["number"] == "示市监处〔2026〕1号"
        _ok(api.act("wang", case_id, "end_investigation", {"major_case": False}))
        _ok(api.act("rev", case_id, "complete_review", {"legal_review_done": True}))
        clock.move_to(datetime(2026, 3, 3, 9, tzinfo=CHINA))
        notice = {
            "notified_penalty": {"kind": "fine", "amount_fen": 500_000},
            "hearing_right": True,
        }
        notified = _ok(api.act("wang", case_id, "notify_penalty", notice))
        assert "penalty_notification" in notified["documents"]
        window = next(d for d in notified["case"]["deadlines"] if d["rule"] == "statement_defence")
        assert (window["due_date"], window["days_left"]) == ("2026-03-10", 7)
        assert window["status"] in ("running", "due_soon") and window["explanation"]
        early = api.act(
            "head", case_id, "decide_penalty",
            {"decided_penalty": {"kind": "fine", "amount_fen": 500_000}},
        )  # fmt: skip
        assert early.status_code == 409, early.text
        assert early.json()["detail"]["code"] == "refused"
        assert "statement_window_closed" in {r["guard"] for r in early.json()["detail"]["reasons"]}
        _ok(api.act("wang", case_id, "confirm_service_address"))
        _ok(api.act("wang", case_id, "request_hearing"))
        _ok(api.act("wang", case_id, "schedule_hearing", {"hearing_on": "2026-03-16"}))
        clock.move_to(datetime(2026, 3, 16, 9, tzinfo=CHINA))
        _ok(api.act("wang", case_id, "hold_hearing"))
        raised = api.act(
            "head", case_id, "decide_penalty",
            {"decided_penalty": {"kind": "fine", "amount_fen": 600_000}},
        )  # fmt: skip
        assert raised.status_code == 409
        reasons = raised.json()["detail"]["reasons"]
        assert "penalty_not_raised_after_defence" in {r["guard"] for r in reasons}
        _ok(api.act(
            "head", case_id, "decide_penalty",
            {"decided_penalty": {"kind": "fine", "amount_fen": 400_000}},
        ))  # fmt: skip
        _ok(api.act("wang", case_id, "serve_decision", {"service_method": "electronic"}))
        served = _ok(api.get("wang", f"/api/cases/{case_id}"))
        payment = next(d for d in served["deadlines"] if d["rule"] == "fine_payment")
        assert payment["due_date"] is not None and payment["status"] == "running"
        close = api.act("head", case_id, "close_case")
        assert close.status_code == 409  # not paid, not published
        assert {r["guard"] for r in close.json()["detail"]["reasons"]} >= {"settled"}
        _ok(api.act("wang", case_id, "record_payment"))
        _ok(api.act("wang", case_id, "publish"))
        closed = _ok(api.act("head", case_id, "close_case"))["case"]
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    assert closed["step"] == 14 and closed["state_zh"]
    decision = next(d for d in closed["deadlines"] if d["rule"] == "decision")
    assert decision["suspended_days"] > 0 and decision["status"] == "met"
    # the timeline: every event, chained, the hashes of the database
    events = closed["events"]
    assert [e["seq"] for e in events] == list(range(1, closed["event_count"] + 1))
    assert events[0]["prev_hash"] is None
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(events))
    assert events[-1]["hash"] == closed["chain_head"]
    with api.services.sessions() as session:
        stored = list(session.scalars(select(CaseEvent.hash).where(CaseEvent.case_id == case_id)))
    assert sorted(stored) == sorted(e["hash"] for e in events)
    assert closed["options"] == []  # a terminal state
    assert {"action": "record_lead", "role": "officer"}.items() <= events[0].items()
    assert events[0]["details"]["summary"] == "商品页面宣称“国家级”"


def test_list_filters_by_state_procedure_mine_and_open(api: Api) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=True):
        general = _open(api)
        simplified = _open(api, "zhao", procedure="simplified", title="未亮照经营")
        _ok(api.act("wang", general, "register"))
        closed = _open(api, "zhao", title="投诉不予受理")

    def ids(**params: Any) -> list[str]:
        reply = api.get("wang", "/api/cases", **params)
        assert reply.status_code == 200, reply.text
        return [row["id"] for row in reply.json()]

    assert set(ids()) == {general, simplified, closed}
    assert ids(state="verifying") == [general]
    assert ids(procedure="simplified") == [simplified]
    assert ids(mine="true") == [general]
    assert len(ids(limit=1)) == 1 and len(ids(limit=1, offset=1)) == 1
    assert ids(limit=1) != ids(limit=1, offset=1)
    row = api.get("wang", "/api/cases", state="verifying").json()[0]
    assert row["state_en"] and row["deadlines"][0]["rule"] == "lead_verification"
    assert api.get("wang", "/api/cases", state="nonsense").status_code == 422
    assert api.get("wang", "/api/cases", limit=0).status_code == 422
    assert api.get("wang", "/api/cases", limit=201).status_code == 422
    assert api.get("wang", "/api/cases", offset=2**63).status_code == 422
    assert api.get("wang", "/api/cases", procedure="other").status_code == 422


def test_open_only_lists_cases_not_closed(api: Api) -> None:
    case_id = _open(api)
    _staff(api, case_id)
    _ok(api.act("wang", case_id, "register"))
    _ok(api.act("wang", case_id, "propose_non_filing", {"reasons": "无违法事实"}))
    _ok(api.act("head", case_id, "approve_non_filing"))
    _ok(api.act("wang", case_id, "close_lead"))
    assert api.get("wang", "/api/cases").json() == []
    everything = api.get("wang", "/api/cases", open="false").json()
    assert [(r["id"], r["state"]) for r in everything] == [(case_id, "closed_not_filed")]


# -- refusals and payloads ----------------------------------------------------------------------


def test_refusals_payload_errors_and_unknown_actions(api: Api) -> None:
    case_id = _open(api)
    _staff(api, case_id)
    # an officer may not approve: the process table's role refusal, with both languages
    _ok(api.act("wang", case_id, "register"))
    filing = {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True}
    _ok(api.act("wang", case_id, "propose_filing", filing))
    refused = api.act("wang", case_id, "approve_filing")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["action"] == "approve_filing" and detail["state"] == "filing_review"
    assert [r["guard"] for r in detail["reasons"]] == ["role"]
    assert "机关负责人" in detail["reasons"][0]["zh"] and "head" in detail["reasons"][0]["en"]
    # nothing was kept
    assert _ok(api.get("wang", f"/api/cases/{case_id}"))["state"] == "filing_review"
    # not an action from this state; no such action at all
    wrong = api.act("wang", case_id, "close_case")
    assert wrong.status_code == 409 and wrong.json()["detail"]["code"] == "not_available"
    assert "approve_filing" in wrong.json()["detail"]["actions"]
    unknown = api.act("wang", case_id, "fly_away")
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "unknown_action"
    _ok(api.act("head", case_id, "send_back"))
    # payloads: the field is named
    for body, field in [
        ({"major_case": "yes"}, "major_case"),
        ({"amount": 5}, "amount"),
    ]:
        bad = api.act("wang", case_id, "propose_filing", body)
        assert bad.status_code == 422, bad.text
        assert bad.json()["detail"]["code"] == "invalid_payload"
        assert bad.json()["detail"]["field"] == field
    missing = api.act("wang", case_id, "propose_non_filing", {"reasons": "   "})
    assert (missing.status_code, missing.json()["detail"]["field"]) == (422, "reasons")
    # NUL is refused by PostgreSQL in text and jsonb: refused here on every database
    nul = api.act("wang", case_id, "propose_non_filing", {"reasons": "无违法\x00事实"})
    assert (nul.status_code, nul.json()["detail"]["field"]) == (422, "reasons"), nul.text
    assert _ok(api.get("wang", f"/api/cases/{case_id}"))["event_count"] == 8  # nothing kept


def test_penalties_and_dates_are_checked_at_the_edge(api: Api) -> None:
    case_id = _open(api)
    _staff(api, case_id)
    _to_statement_period(api, case_id)
    for penalty in (
        {"kind": "fine", "amount_fen": 2**63},
        {"kind": "fine", "amount_fen": -1},
        {"kind": "prison"},
        "fine",
    ):
        bad = api.act("wang", case_id, "notify_penalty", {"notified_penalty": penalty})
        assert bad.status_code == 422, bad.text
        assert bad.json()["detail"]["field"] == "notified_penalty"
    notice = {"notified_penalty": {"kind": "fine", "amount_fen": 500_000}, "hearing_right": True}
    _ok(api.act("wang", case_id, "notify_penalty", notice))
    _ok(api.act("wang", case_id, "request_hearing"))
    bad_date = api.act("wang", case_id, "schedule_hearing", {"hearing_on": "16 March"})
    assert (bad_date.status_code, bad_date.json()["detail"]["field"]) == (422, "hearing_on")
    # Infinity is JSON to Python's parser: still a 422, not a 500
    raw = api.client.post(
        f"/api/cases/{case_id}/actions/decide_penalty",
        content=b'{"decided_penalty": {"kind": "fine", "amount_fen": Infinity}}',
        headers={**api.h("head"), "content-type": "application/json"},
    )
    assert raw.status_code == 422, raw.text


def test_a_user_with_several_roles_acts_in_the_one_the_process_allows(api: Api) -> None:
    case_id = _open(api)
    for name, role in [("zhao", "officer"), ("wang", "head")]:
        _ok(api.post("wang", f"/api/cases/{case_id}/staff", {"username": name, "role": role}))
    view = _ok(api.get("wang", f"/api/cases/{case_id}"))
    assert view["roles"] == ["officer", "head"]
    assert {o["role"] for o in view["options"]} == {"officer", "head"}
    _ok(api.act("wang", case_id, "register"))
    filing = {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True}
    _ok(api.act("wang", case_id, "propose_filing", filing))
    as_officer = api.act("wang", case_id, "approve_filing", {"role": "officer"})
    assert as_officer.status_code == 409
    assert [r["guard"] for r in as_officer.json()["detail"]["reasons"]] == ["role"]
    not_held = api.act("wang", case_id, "approve_filing", {"role": "reviewer"})
    assert not_held.status_code == 403 and not_held.json()["detail"]["code"] == "role_not_held"
    approved = _ok(api.act("wang", case_id, "approve_filing"))
    assert approved["role"] == "head"
    event = approved["case"]["events"][-1]
    assert (event["action"], event["role"]) == ("approve_filing", "head")


# -- access -------------------------------------------------------------------------------------


def test_another_units_officer_gets_404_everywhere(api: Api) -> None:
    case_id = _open(api)
    for reply in (
        api.get("stranger", f"/api/cases/{case_id}"),
        api.act("stranger", case_id, "register"),
        api.post("stranger", f"/api/cases/{case_id}/staff", {"username": "stranger"}),
        api.post("stranger", f"/api/cases/{case_id}/evidence", {"capture_id": "x"}),
        api.get("wang", "/api/cases/no-such-case"),
    ):
        assert reply.status_code == 404, reply.text
        assert reply.json()["detail"] == {"code": "not_found", "message": reply.json()["detail"][
            "message"]}  # fmt: skip
    # the same message for another unit's case and for none
    assert api.get("stranger", f"/api/cases/{case_id}").json()["detail"]["message"] == (
        f"no case {case_id}"
    )
    assert api.get("stranger", "/api/cases").json() == []
    assert _ok(api.get("wang", f"/api/cases/{case_id}"))["event_count"] == 2  # nothing done


def test_a_disabled_accounts_token_and_no_token_get_401(api: Api) -> None:
    case_id = _open(api)
    for headers in (api.h("gone"), {}):
        for reply in (
            api.client.get(f"/api/cases/{case_id}", headers=headers),
            api.client.get("/api/cases", headers=headers),
            api.client.post("/api/cases", json={"title": "t", "summary": "s"}, headers=headers),
            api.client.post(f"/api/cases/{case_id}/actions/register", headers=headers),
            api.client.get("/api/cases/graph", headers=headers),
        ):
            assert reply.status_code == 401, reply.text
            assert reply.headers["www-authenticate"] == "Bearer"


def test_staff_of_the_unit_not_on_the_case_see_it_but_do_not_act(api: Api) -> None:
    """Reading the unit's cases and staffing them is the access table's (own unit); acting
    in the process is for the roles one is staffed as, and the staffing is an event."""
    case_id = _open(api)
    view = _ok(api.get("li", f"/api/cases/{case_id}"))
    assert view["roles"] == [] and view["options"] == []
    refused = api.act("li", case_id, "register")
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "not_staffed"
    evidence = api.post("li", f"/api/cases/{case_id}/evidence", {"capture_id": "x"})
    assert evidence.status_code == 403 and evidence.json()["detail"]["code"] == "not_staffed"
    assert _ok(api.get("wang", f"/api/cases/{case_id}"))["state"] == "received"
    _ok(api.post("li", f"/api/cases/{case_id}/staff", {"username": "li", "role": "reviewer"}))
    as_reviewer = api.act("li", case_id, "register")
    assert as_reviewer.status_code == 409  # a reviewer may not register
    assert [r["guard"] for r in as_reviewer.json()["detail"]["reasons"]] == ["role"]
    assigned = _ok(api.get("wang", f"/api/cases/{case_id}"))["events"][-1]
    assert (assigned["action"], assigned["actor_name"], assigned["role"]) == (
        "assign", "li 名", "officer"
    )  # fmt: skip
    assert assigned["details"]["role"] == "reviewer"


def test_an_administrator_sees_no_case(api: Api) -> None:
    case_id = _open(api)
    assert api.get("boss", f"/api/cases/{case_id}").status_code == 404
    assert api.get("boss", "/api/cases").status_code == 403
    opened = api.post("boss", "/api/cases", {"title": "t", "summary": "s"})
    assert opened.status_code == 403


def test_staff_by_username_or_id_only_active_accounts_of_the_unit(api: Api) -> None:
    case_id = _open(api)
    path = f"/api/cases/{case_id}/staff"
    reply = api.post("wang", path, {"user_id": api.ids["rev"], "role": "reviewer"})
    assert reply.status_code == 200, reply.text
    staff: list[dict[str, Any]] = reply.json()
    assert {(s["name"], s["role"], s["badge_number"]) for s in staff} == {
        ("wang 名", "officer", "SL-0001"),
        ("rev 名", "reviewer", "SL-0004"),
    }
    again = api.post("wang", path, {"user_id": api.ids["rev"], "role": "reviewer"})
    assert again.status_code == 200
    assert _ok(api.get("wang", f"/api/cases/{case_id}"))["event_count"] == 3  # once only
    for body, field in [
        ({"username": "stranger"}, "username"),  # another unit
        ({"username": "gone"}, "username"),  # disabled
        ({"username": "nobody"}, "username"),
        ({"user_id": 10**9}, "user_id"),
        ({}, "username"),
        ({"username": "zhao", "user_id": api.ids["zhao"]}, "username"),
    ]:
        bad = api.post("wang", path, body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["detail"]["field"] == field
    assert api.post("wang", path, {"username": "zhao", "role": "boss"}).status_code == 422


def test_open_validates_the_lead(api: Api) -> None:
    for body, status in [
        ({"title": "", "summary": "s"}, 422),
        ({"title": "t", "summary": "   "}, 422),
        ({"title": "t\x00", "summary": "s"}, 422),
        ({"title": "t", "summary": "s", "parties": [{"name": "p", "credit_code": "123"}]}, 422),
        ({"title": "t", "summary": "s", "parties": [{"name": "p", "merchant_id": "m"}]}, 422),
        ({"title": "t", "summary": "s", "procedure": "summary"}, 422),
        ({"title": "x" * 201, "summary": "s"}, 422),
    ]:
        reply = api.post("wang", "/api/cases", body)
        assert reply.status_code == status, (body, reply.text)
    # a lone surrogate is valid JSON but no text a database can keep
    raw = api.client.post(
        "/api/cases",
        content=b'{"title": "\\ud800", "summary": "s"}',
        headers={**api.h("wang"), "content-type": "application/json"},
    )
    assert raw.status_code == 422, raw.text
    assert api.get("wang", "/api/cases").json() == []  # nothing half-done


# -- evidence -----------------------------------------------------------------------------------


def _capture(api: Api, *, by: str, status: str = "stored", authenticated: bool = False) -> str:
    with api.services.session() as session:
        cap = Capture(
            requested_url="https://shop/1/item",
            status=status,
            created_by_id=api.ids[by],
            authenticated=authenticated,
            package_sha256=("ab" * 32) if status == "stored" else None,
            package_key=("ab" * 32) if status == "stored" else None,
            package_size=1234 if status == "stored" else None,
        )
        session.add(cap)
        session.flush()
        return cap.id


def test_link_a_sealed_capture_the_user_may_view(api: Api) -> None:
    case_id = _open(api)
    mine = _capture(api, by="wang", authenticated=True)
    path = f"/api/cases/{case_id}/evidence"
    linked = api.post("wang", path, {"capture_id": mine, "description": "商品页面"})
    assert linked.status_code == 201, linked.text
    record = linked.json()
    assert (record["capture_id"], record["sha256"], record["size"]) == (mine, "ab" * 32, 1234)
    assert record["kind"] == "capture" and record["description"] == "商品页面"
    view = _ok(api.get("wang", f"/api/cases/{case_id}"))
    assert view["evidence"] == [record]
    assert view["events"][-1]["action"] == "attach_evidence"
    with api.services.sessions() as session:
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == record[
                "event_seq"])
        ).one()  # fmt: skip
    assert event.touches == [{"kind": "capture", "id": mine, "sha256": "ab" * 32}]
    again = api.post("wang", path, {"capture_id": mine})
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already_linked"
    # someone else's authenticated capture: not visible to wang, so not found
    zhaos = _capture(api, by="zhao", authenticated=True)
    hidden = api.post("wang", path, {"capture_id": zhaos})
    assert hidden.status_code == 404 and hidden.json()["detail"]["code"] == "capture_not_found"
    queued = _capture(api, by="wang", status="queued")
    unsealed = api.post("wang", path, {"capture_id": queued})
    assert unsealed.status_code == 409 and unsealed.json()["detail"]["code"] == "not_sealed"
    _ok(api.post("wang", f"/api/cases/{case_id}/staff", {"username": "head", "role": "head"}))
    not_officer = api.post("head", path, {"capture_id": mine})
    assert not_officer.status_code == 403, not_officer.text  # a head gathers no evidence
    assert len(_ok(api.get("wang", f"/api/cases/{case_id}"))["evidence"]) == 1


# -- the graph and the schema -------------------------------------------------------------------


def test_graph_is_the_process_table_drawn(api: Api) -> None:
    mermaid = api.get("wang", "/api/cases/graph")
    assert mermaid.status_code == 200 and mermaid.text == graph.mermaid()
    assert mermaid.headers["content-type"].startswith("text/plain")
    assert api.get("wang", "/api/cases/graph", format="dot").text == graph.dot()
    one = api.get("wang", "/api/cases/graph", format="dot", procedure="simplified").text
    assert one == graph.dot("simplified")
    assert api.get("wang", "/api/cases/graph", format="png").status_code == 422


#: The case routes of the rooms that assist the officer (their own tests fuzz and check
#: them in depth), with the tag they are documented under.
ROOM_OPERATIONS = {
    ("GET", "/api/cases/{case_id}/legal-suggestions"): "legal",
    ("POST", "/api/cases/{case_id}/legal-basis"): "legal",
    ("POST", "/api/cases/{case_id}/platform-requests"): "platforms",
    ("GET", "/api/cases/{case_id}/platform-requests"): "platforms",
    ("POST", "/api/cases/{case_id}/captures/{capture_id}/order-facts"): "cases",
    ("POST", "/api/cases/{case_id}/order-facts"): "cases",
    ("GET", "/api/cases/{case_id}/screening"): "screening",
    ("POST", "/api/cases/{case_id}/screening"): "screening",
    ("POST", "/api/cases/{case_id}/screening/conclusion"): "screening",
}


def test_every_case_operation_is_documented_with_its_errors(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): op
        for path, item in schema["paths"].items()
        if path.startswith("/api/cases")
        for method, op in item.items()
    }
    assert set(operations) == {
        ("POST", "/api/cases"),
        ("GET", "/api/cases"),
        ("GET", "/api/cases/graph"),
        ("GET", "/api/cases/{case_id}"),
        ("POST", "/api/cases/{case_id}/actions/{action}"),
        ("POST", "/api/cases/{case_id}/notes/{action}"),
        ("POST", "/api/cases/{case_id}/staff"),
        ("POST", "/api/cases/{case_id}/evidence"),
        *ROOM_OPERATIONS,
    }
    for key, op in operations.items():
        assert op["summary"] and op["tags"] == [ROOM_OPERATIONS.get(key, "cases")], key
        assert "401" in op["responses"] and "422" in op["responses"], key
    for key in [k for k in operations if "{case_id}" in k[1]]:
        assert "404" in operations[key]["responses"], key
    act = operations[("POST", "/api/cases/{case_id}/actions/{action}")]
    assert {"403", "409"} <= set(act["responses"])
    for action in process.default_process().actions:
        assert f"| `{action}` |" in act["description"]
    assert "`decided_penalty` (penalty)" in act["description"]
    models = schema["components"]["schemas"]
    assert models["CaseIn"]["properties"]["summary"]["description"]
    assert models["CaseOut"]["properties"]["options"]["description"]
    assert models["ActionIn"]["additionalProperties"] is True


# -- random payloads ----------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=6,
)  # fmt: skip
_ACTIONS = sorted(process.default_process().actions)


def test_random_payloads_on_a_real_case_never_answer_5xx(api: Api) -> None:
    """What schemathesis cannot reach (its case ids do not exist): a real case, staffed, in
    each state of the walk, given random JSON as every action's payload."""
    case_id = _open(api)
    _staff(api, case_id)
    _ok(api.act("wang", case_id, "register"))

    @given(
        action=st.sampled_from(_ACTIONS),
        who=st.sampled_from(["wang", "head", "rev"]),
        payload=st.dictionaries(
            st.sampled_from(
                sorted({f.name for a in _ACTIONS for f in service_fields(a)} | {"role", "x"})
            ),
            _JSON,
            max_size=4,
        ),
    )
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True)  # fmt: skip
    def no_5xx(action: str, who: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, allow_nan=False).encode()
        reply = api.client.post(
            f"/api/cases/{case_id}/actions/{action}",
            content=body,
            headers={**api.h(who), "content-type": "application/json"},
        )
        assert reply.status_code in (200, 403, 404, 409, 422), (action, payload, reply.text)

    no_5xx()
    view = _ok(api.get("wang", f"/api/cases/{case_id}"))
    events = view["events"]
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(events))


def service_fields(action: str) -> list[Any]:
    from evidence_service.web.api.cases import payload_fields

    return payload_fields(action)


def test_case_service_effects_and_the_api_payload_docs_agree() -> None:
    """Every key an action records is described to clients, with the right kind."""
    from evidence_service.web.api.cases import payload_fields

    for action, effect in service.effects().items():
        described = {f.name: f for f in payload_fields(action)}
        everything = {*effect.payload, *effect.text, *effect.notes, *effect.dates}
        if effect.chooses_procedure:
            everything.add(service.PROCEDURE)
        if effect.serves is not None:
            everything |= {effect.serves.method, *PARTICULARS}
        assert set(described) == everything, action
        assert all(described[n].kind == "date" and described[n].required for n in effect.dates)
        assert all(described[n].kind == "text" and described[n].required for n in effect.text)
        method = effect.serves.method if effect.serves is not None else None
        notes = [n for n in effect.notes if n != method]
        assert all(described[n].kind == "text" and not described[n].required for n in notes)
        if method is not None:  # how it is served: one of the methods, whatever else it is
            assert described[method].kind == "choice", action
            assert set(described[method].choices) == set(METHODS), action


def test_schemathesis_over_the_case_operations_as_an_officer_of_a_unit(api: Api) -> None:
    """tests/service/test_api_fuzz.py runs every operation as an officer with no unit (every
    case route refuses early); here an officer of the unit, with a case to list, so that the
    generated leads are really opened and the lists really read."""
    import schemathesis

    _open(api)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    every = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    operations = [op for op in every if op.path.startswith("/api/cases")]
    assert len(operations) == 8 + len(ROOM_OPERATIONS)
    with TestClient(api.client.app, raise_server_exceptions=False) as client:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True)  # fmt: skip
            def no_5xx(case: Any) -> None:
                reply = case.call(session=client, headers=api.h("wang"))
                assert reply.status_code < 500, (
                    f"{case.method} {case.formatted_path} -> {reply.status_code}: "
                    f"{reply.text[:300]}"
                )

            no_5xx()
    assert len(api.get("wang", "/api/cases", limit=200).json()) > 1  # leads were opened


def test_notes_given_afterwards_through_the_api(api: Api) -> None:
    """The registration's handling opinion left out, then given: a new event naming the
    action it completes; a note the action has not, an action not taken, someone not staffed
    and another unit are each refused as such, and nothing is kept then."""
    case_id = _open(api)
    _staff(api, case_id)
    _ok(api.act("wang", case_id, "register"))
    before = _ok(api.get("wang", f"/api/cases/{case_id}"))["event_count"]
    path = f"/api/cases/{case_id}/notes"

    bad = api.post("wang", f"{path}/register", {"notes": {"colour": "红"}})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "colour", bad.text
    early = api.post("wang", f"{path}/end_investigation", {"notes": {"facts": "事实"}})
    assert early.status_code == 422 and "has not taken" in early.json()["detail"]["message"]
    assert (
        api.post("li", f"{path}/register", {"notes": {"handling_opinion": "x"}}).status_code == 403
    )
    assert (
        api.post("stranger", f"{path}/register", {"notes": {"handling_opinion": "x"}}).status_code
        == 404
    )
    assert (
        api.post("head", f"{path}/register", {"notes": {"handling_opinion": "x"}}).status_code
        == 403
    )
    assert _ok(api.get("wang", f"/api/cases/{case_id}"))["event_count"] == before

    case = _ok(api.post("wang", f"{path}/register", {"notes": {"handling_opinion": "建议核查。"}}))
    assert case["event_count"] == before + 1
    given = case["events"][-1]
    assert given["action"] == "give_notes"
    with api.services.session() as session:
        row = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq.desc())
        ).first()
        assert row is not None
        assert row.details["for_action"] == "register"
        assert row.details["handling_opinion"] == "建议核查。"
