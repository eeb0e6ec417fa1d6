"""The date a letter to a platform states. Counted from the working-day calendar while the
calendar reaches it; when the period runs into a year whose public holidays are not entered
yet, the officer states the date, never earlier than the count could end, and the request
records who set it. The case's own clock is set here (``CaseContext.today``), so the test
says the same thing whatever day it runs."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from storage.models import CaseEvent, PlatformRequest
from tests.platform.conftest import World, assistance_body
from workflow import platforms
from workflow.cases.service import Actor, CaseContext
from workflow.errors import ConflictError, FieldError

KNOWN = dt.date(2026, 11, 2)  # a Monday; the 2026 calendar is known
UNKNOWN = dt.date(2099, 6, 1)  # a year no calendar will hold for a long time


def _ctx(w: World, today: dt.date) -> CaseContext:
    return dataclasses.replace(w.ctx, today=lambda: today)


def _form(w: World, due_on: dt.date | None = None) -> platforms.RequestIn:
    body = assistance_body(w.platform_a)
    return platforms.RequestIn(**{**body, "due_on": due_on})  # type: ignore[arg-type]


def _wang(w: World) -> Actor:
    return Actor(f"user:{w.ids['wang']}", "wang", "officer", w.unit_id)


def _sent(w: World, request_id: str) -> tuple[PlatformRequest, dict[str, object]]:
    with w.services.session() as session:
        row = session.get(PlatformRequest, request_id)
        assert row is not None
        event = session.query(CaseEvent).filter_by(case_id=w.case_id, seq=row.event_seq).one()
        session.expunge_all()
        return row, dict(event.details or {})


def test_a_known_calendar_states_the_counted_date(world: World) -> None:
    counted = platforms.letter_deadline("assistance", KNOWN)
    assert counted.due_date == dt.date(2026, 11, 16)  # 10 working days after Monday 2 November
    ctx = _ctx(world, KNOWN)
    with pytest.raises(FieldError) as wrong:
        platforms.open_request(ctx, _wang(world), world.case_id, _form(world, KNOWN))
    assert wrong.value.field == "due_on" and "2026-11-16" in str(wrong.value)
    request_id = platforms.open_request(ctx, _wang(world), world.case_id, _form(world))
    row, details = _sent(world, request_id)
    assert row.due_on == dt.date(2026, 11, 16)
    assert details["due_on"] == "2026-11-16" and details["due_on_set_by"] == "calendar"


def test_an_unknown_year_asks_the_officer_for_the_date_and_keeps_the_count_as_its_floor(
    world: World,
) -> None:
    counted = platforms.letter_deadline("assistance", UNKNOWN)
    assert counted.due_date is None and counted.not_before is not None
    floor = counted.not_before
    assert floor >= UNKNOWN + dt.timedelta(days=10)  # 10 working days take at least 10 days
    ctx = _ctx(world, UNKNOWN)
    with pytest.raises(ConflictError) as asked:
        platforms.open_request(ctx, _wang(world), world.case_id, _form(world))
    assert asked.value.code == "deadline_unconfirmed"
    assert f"not before {floor.isoformat()}" in str(asked.value)
    assert "calendar_overrides.toml" in str(asked.value)
    with pytest.raises(FieldError) as early:
        platforms.open_request(
            ctx, _wang(world), world.case_id, _form(world, floor - dt.timedelta(days=1))
        )
    assert early.value.field == "due_on" and floor.isoformat() in str(early.value)
    stated = floor + dt.timedelta(days=3)
    request_id = platforms.open_request(ctx, _wang(world), world.case_id, _form(world, stated))
    row, details = _sent(world, request_id)
    assert row.due_on == stated
    assert details["due_on"] == stated.isoformat() and details["due_on_set_by"] == "officer"
