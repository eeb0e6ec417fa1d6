"""The case as it is kept (workflow/cases/service.py) on a real database and transparency log:
numbers, staffing, guards judged on recorded facts and on the deadline engine's dates (the
clock moved with time-machine), the hash chain, and events in the log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import CASE_EVENT_KIND, case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from signing.case_chain import ChainedEvent, chain_problems
from storage.models import CaseEvent, LogLeaf, Unit, User
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.process import TransitionRefused
from workflow.cases.service import Actor, CaseContext, PartyIn, PayloadError

CHINA = timezone(timedelta(hours=8))


@dataclass
class World:
    services: Services
    ctx: CaseContext
    unit_id: int
    officer: Actor
    officer_2: Actor
    head: Actor
    reviewer: Actor
    merchant: Actor
    ids: dict[str, int]


def _user(services: Services, unit_id: int, username: str, name: str, badge: str | None) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=name,
            password_hash=hash_password("x" * 12),
            unit_id=unit_id,
            badge_number=badge,
        )
        session.add(user)
        session.flush()
        return user.id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    services = Services(make_settings(tmp_path / "data"))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
    ids = {
        "wang": _user(services, unit_id, "wang", "王五", "SL-0001"),
        "zhao": _user(services, unit_id, "zhao", "赵六", "SL-0002"),
        "head": _user(services, unit_id, "head", "钱局长", "SL-0003"),
        "rev": _user(services, unit_id, "rev", "孙审核", "SL-0004"),
        "nobadge": _user(services, unit_id, "nobadge", "李四", None),
    }

    def actor(key: str, role: str) -> Actor:
        return Actor(f"user:{ids[key]}", key, role, unit_id)

    yield World(
        services,
        case_context(services),
        unit_id,
        actor("wang", "officer"),
        actor("zhao", "officer"),
        actor("head", "head"),
        actor("rev", "reviewer"),
        Actor("merchant:m1", "某网店", "merchant", unit_id),
        ids,
    )
    services.close()


def _open(w: World, title: str = "虚假宣传") -> str:
    return service.open_case(
        w.ctx,
        w.officer,
        unit_id=w.unit_id,
        title=title,
        summary="商品页面宣称“国家级”",
        parties=[PartyIn("某网店", credit_code="9144030071526726XG", shop_url="https://shop/1")],
    )


def _file(w: World, case_id: str) -> None:
    service.assign(w.ctx, w.officer, case_id, w.ids["wang"])
    service.assign(w.ctx, w.officer, case_id, w.ids["zhao"])
    service.act(w.ctx, w.officer, case_id, "register")
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True},
    )
    service.act(w.ctx, w.head, case_id, "approve_filing")


def test_case_numbers_follow_the_unit_format_one_sequence_per_year(world: World) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=False):
        first, second = _open(world), _open(world, "未公示营业执照")
        _file(world, second)
        _file(world, first)
        numbers = [
            service.case_view(world.ctx, world.officer, c).case.number for c in (second, first)
        ]
    assert numbers == ["示市监处〔2026〕1号", "示市监处〔2026〕2号"]
    with time_machine.travel(datetime(2025, 12, 31, 9, tzinfo=CHINA), tick=False):
        third = _open(world)
        _file(world, third)
        assert (
            service.case_view(world.ctx, world.officer, third).case.number == "示市监处〔2025〕1号"
        )


def test_filing_needs_two_officers_with_badges_and_the_lists_consulted(world: World) -> None:
    case_id = _open(world)
    service.assign(world.ctx, world.officer, case_id, world.ids["wang"])
    service.assign(world.ctx, world.officer, case_id, world.ids["nobadge"])
    service.act(world.ctx, world.officer, case_id, "register")
    with pytest.raises(TransitionRefused) as refused:
        service.act(world.ctx, world.officer, case_id, "propose_filing", {})
    guards = {r.guard for r in refused.value.reasons}
    assert {"two_officers_with_badges", "no_penalty_lists_consulted"} <= guards
    view = service.case_view(world.ctx, world.officer, case_id)
    assert view.case.state == "verifying"  # nothing kept
    assert view.case.event_count == 4  # record_lead, 2 assignments, register
    option = next(o for o in view.options if o.action == "propose_filing")
    assert not option.allowed


def test_an_officer_may_not_approve_and_the_head_may(world: World) -> None:
    case_id = _open(world)
    service.assign(world.ctx, world.officer, case_id, world.ids["wang"])
    service.assign(world.ctx, world.officer, case_id, world.ids["zhao"])
    service.act(world.ctx, world.officer, case_id, "register")
    service.act(
        world.ctx,
        world.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True},
    )
    with pytest.raises(TransitionRefused):
        service.act(world.ctx, world.officer, case_id, "approve_filing")
    service.act(world.ctx, world.head, case_id, "approve_filing")
    assert service.case_view(world.ctx, world.officer, case_id).case.state == "investigating"


def test_bad_payloads_are_named(world: World) -> None:
    case_id = _open(world)
    service.act(world.ctx, world.officer, case_id, "register")
    with pytest.raises(PayloadError) as bad:
        service.act(world.ctx, world.officer, case_id, "propose_filing", {"major_case": "yes"})
    assert bad.value.field == "major_case"
    with pytest.raises(PayloadError) as unknown:
        service.act(world.ctx, world.officer, case_id, "propose_filing", {"amount": 5})
    assert unknown.value.field == "amount"


def _to_statement_period(w: World, case_id: str, amount_fen: int = 500_000) -> None:
    _file(w, case_id)
    service.act(w.ctx, w.officer, case_id, "end_investigation", {"major_case": False})
    service.act(w.ctx, w.reviewer, case_id, "complete_review", {"legal_review_done": True})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "notify_penalty",
        {"notified_penalty": {"kind": "fine", "amount_fen": amount_fen}, "hearing_right": True},
    )


def test_general_procedure_with_hearing_to_closing_with_the_clock_moving(world: World) -> None:
    """Filed on Monday 2 March 2026; notified Tuesday 3 March: the 5-working-day window ends
    Tuesday 10 March; the hearing is noticed 7 working days ahead; a decision above the
    notified penalty after the defence is refused; closing needs payment and publicity."""
    w = world
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=False) as clock:
        case_id = _open(w)
        _file(w, case_id)
        service.act(w.ctx, w.officer, case_id, "end_investigation", {"major_case": False})
        service.act(w.ctx, w.reviewer, case_id, "complete_review", {"legal_review_done": True})
        clock.move_to(datetime(2026, 3, 3, 9, tzinfo=CHINA))
        service.act(
            w.ctx,
            w.officer,
            case_id,
            "notify_penalty",
            {"notified_penalty": {"kind": "fine", "amount_fen": 500_000}, "hearing_right": True},
        )
        with pytest.raises(TransitionRefused) as early:
            service.act(
                w.ctx,
                w.head,
                case_id,
                "decide_penalty",
                {"decided_penalty": {"kind": "fine", "amount_fen": 500_000}},
            )
        assert "statement_window_closed" in {r.guard for r in early.value.reasons}
        service.act(w.ctx, w.merchant, case_id, "request_hearing")
        service.act(w.ctx, w.officer, case_id, "schedule_hearing", {"hearing_on": "2026-03-10"})
        with pytest.raises(TransitionRefused) as short:  # 7 working days were not given
            service.act(w.ctx, w.officer, case_id, "hold_hearing")
        assert {r.guard for r in short.value.reasons} == {"hearing_notice_period_met"}
    # a new hearing date far enough ahead: a second schedule is not a transition from
    # hearing_scheduled, so this case is replayed with a proper date instead
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=False) as clock:
        case_id = _open(w)
        _file(w, case_id)
        service.act(w.ctx, w.officer, case_id, "end_investigation", {"major_case": False})
        service.act(w.ctx, w.reviewer, case_id, "complete_review", {"legal_review_done": True})
        service.act(
            w.ctx,
            w.officer,
            case_id,
            "notify_penalty",
            {"notified_penalty": {"kind": "fine", "amount_fen": 500_000}, "hearing_right": True},
        )
        service.act(w.ctx, w.merchant, case_id, "confirm_service_address")
        service.act(w.ctx, w.merchant, case_id, "request_hearing")
        service.act(w.ctx, w.officer, case_id, "schedule_hearing", {"hearing_on": "2026-03-16"})
        clock.move_to(datetime(2026, 3, 16, 9, tzinfo=CHINA))
        service.act(w.ctx, w.officer, case_id, "hold_hearing")
        with pytest.raises(TransitionRefused) as raised:
            service.act(
                w.ctx,
                w.head,
                case_id,
                "decide_penalty",
                {"decided_penalty": {"kind": "fine", "amount_fen": 600_000}},
            )
        assert "penalty_not_raised_after_defence" in {r.guard for r in raised.value.reasons}
        service.act(
            w.ctx,
            w.head,
            case_id,
            "decide_penalty",
            {"decided_penalty": {"kind": "fine", "amount_fen": 400_000}},
        )
        service.act(w.ctx, w.officer, case_id, "serve_decision", {"service_method": "electronic"})
        view = service.case_view(w.ctx, w.officer, case_id)
        kinds = {d.rule_id: d for d in view.deadlines}
        assert kinds["fine_payment"].due_date is not None  # 15 days from service
        with pytest.raises(TransitionRefused):
            service.act(w.ctx, w.head, case_id, "close_case")  # not paid, not published
        service.act(w.ctx, w.merchant, case_id, "record_payment")
        service.act(w.ctx, w.officer, case_id, "publish")
        service.act(w.ctx, w.head, case_id, "close_case")
        view = service.case_view(w.ctx, w.officer, case_id)
    assert view.case.state == "closed" and view.case.closed_at is not None
    decision = kinds["decision"]
    assert decision.suspended_days > 0  # the hearing did not count toward the 90 days
    _check_chain(w, case_id)


def _check_chain(w: World, case_id: str) -> list[CaseEvent]:
    with w.services.sessions() as session:
        rows = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
        logged = set(
            session.scalars(select(LogLeaf.leaf_input).where(LogLeaf.kind == CASE_EVENT_KIND))
        )
    view = service.case_view(w.ctx, w.officer, case_id)
    pairs = [(_chained(r), r.hash) for r in rows]
    assert chain_problems(pairs, head=view.case.chain_head) == []
    assert {r.hash for r in rows} <= logged  # every event is in the transparency log
    return rows


def _chained(r: CaseEvent, **change: object) -> ChainedEvent:
    return replace(service.chained_event(r), **change)  # type: ignore[arg-type]


def test_the_chain_reports_a_changed_removed_or_reordered_event(world: World) -> None:
    case_id = _open(world)
    _file(world, case_id)
    rows = _check_chain(world, case_id)
    head = rows[-1].hash
    pairs = [(_chained(r), r.hash) for r in rows]
    changed = list(pairs)
    changed[2] = (_chained(rows[2], actor_name="别人"), rows[2].hash)
    assert [p.seq for p in chain_problems(changed, head=head)] == [3]
    removed = pairs[:2] + pairs[3:]
    assert chain_problems(removed, head=head)
    reordered = [pairs[1], pairs[0], *pairs[2:]]
    assert chain_problems(reordered, head=head)
    truncated = pairs[:-1]
    assert any("head" in p.en for p in chain_problems(truncated, head=head))


def test_events_cannot_be_changed_in_the_database(world: World) -> None:
    case_id = _open(world)
    with world.services.sessions() as session, pytest.raises(DBAPIError, match="append-only"):
        session.execute(
            text("UPDATE case_events SET actor_name = 'x' WHERE case_id = :c"), {"c": case_id}
        )
        session.commit()


def test_an_event_the_log_missed_is_logged_by_housekeeping(world: World) -> None:
    def down(_digest: bytes) -> object:
        raise ConnectionError("log unavailable")

    broken = CaseContext(sessions=world.services.sessions, log_event=down)
    case_id = service.open_case(
        broken, world.officer, unit_id=world.unit_id, title="线索", summary="s"
    )
    assert service.case_view(world.ctx, world.officer, case_id).case.event_count == 1  # kept
    assert len(service.unlogged_events(world.ctx)) == 1
    assert service.log_unlogged_events(world.ctx) == 1
    assert service.unlogged_events(world.ctx) == []


def test_another_unit_cannot_see_or_act_on_the_case(world: World) -> None:
    case_id = _open(world)
    stranger = Actor("user:999", "x", "officer", world.unit_id + 1)
    with pytest.raises(service.CaseNotFound):
        service.case_view(world.ctx, stranger, case_id)
    with pytest.raises(service.CaseNotFound):
        service.act(world.ctx, stranger, case_id, "register")


def test_registering_chooses_the_procedure_and_a_refusal_keeps_the_old_one(world: World) -> None:
    """A complaint arrives under the general procedure; the officer registering it decides
    it is one for the spot (simplified) or, another, for the fast-track: the event records
    the change, the case then follows that procedure's rows; an unknown one is refused and
    nothing is kept."""
    w = world
    spot = _open(w, "当场处罚")
    with pytest.raises(PayloadError, match="one of general, simplified, fast_track"):
        service.act(w.ctx, w.officer, spot, "register", {"procedure": "quick"})
    assert service.case_view(w.ctx, w.officer, spot).case.state == "received"

    taken = service.act(w.ctx, w.officer, spot, "register", {"procedure": "simplified"})
    assert (taken.procedure, taken.target) == ("simplified", "on_the_spot")
    view = service.case_view(w.ctx, w.officer, spot)
    assert view.case.procedure == "simplified"
    assert view.events[-1].details["procedure"] == "simplified"
    assert view.events[-1].details["procedure_was"] == "general"

    fast = _open(w, "快速办理")
    taken = service.act(w.ctx, w.officer, fast, "register", {"procedure": "fast_track"})
    assert (taken.procedure, taken.target) == ("fast_track", "verifying")
    kept = _open(w, "普通")
    service.act(w.ctx, w.officer, kept, "register", {"procedure": "general"})
    view = service.case_view(w.ctx, w.officer, kept)
    assert "procedure_was" not in view.events[-1].details  # no change, none recorded
    with pytest.raises(PayloadError, match="does not take it"):
        service.act(
            w.ctx,
            w.officer,
            kept,
            "propose_non_filing",
            {"reasons": "x", "procedure": "simplified"},
        )
