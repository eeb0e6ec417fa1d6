"""Who presides over and who records a hearing stands apart from the case: each an account
of the unit, two different people, neither of them the case's investigators
(办案人员不得担任听证主持人、听证员和记录员). The case refuses the hearing's notes when the
action is taken or its notes are given later, and records nothing then, instead of the
hearing notice waiting on a name it can never accept (or one certificate signing two seats).
``effects.toml`` says which notes are judged so (``impartial``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from storage.models import CaseEvent
from tests.cases.test_service import (  # noqa: F401  (world is a fixture)
    CHINA,
    World,
    _open,
    _to_statement_period,
    _user,
    world,
)
from workflow.cases import service
from workflow.cases.service import PayloadError

SCHEDULE = {"hearing_on": "2026-03-16", "place": "听证室"}


def _events(w: World, case_id: str) -> int:
    with w.services.session() as session:
        return int(session.scalar(select(func.count()).where(CaseEvent.case_id == case_id)) or 0)


def _hearing_requested(w: World) -> str:
    case_id = _open(w)
    _to_statement_period(w, case_id)
    service.act(w.ctx, w.merchant, case_id, "request_hearing")
    return case_id


@pytest.mark.parametrize(
    ("notes", "field", "words"),
    [
        ({"hearing_officer": "wang", "recorder": "rev"}, "hearing_officer", "investigates"),
        ({"hearing_officer": "rev", "recorder": "zhao"}, "recorder", "investigates"),
        ({"hearing_officer": "rev", "recorder": "rev"}, "recorder", "already the hearing_officer"),
        ({"hearing_officer": "nobody", "recorder": "head"}, "hearing_officer", "not the login"),
    ],
    ids=["investigator-presides", "investigator-records", "one-person-two-seats", "no-account"],
)
def test_scheduling_refuses_a_hearing_staffed_against_the_rule(
    world: World,  # noqa: F811 (the fixture)
    notes: dict[str, str],
    field: str,
    words: str,
) -> None:
    w = world
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=False):
        case_id = _hearing_requested(w)
        before = _events(w, case_id)
        with pytest.raises(PayloadError) as refused:
            service.act(w.ctx, w.officer, case_id, "schedule_hearing", {**SCHEDULE, **notes})
        assert refused.value.field == field and words in str(refused.value), str(refused.value)
        assert _events(w, case_id) == before  # nothing recorded
        view = service.case_view(w.ctx, w.officer, case_id)
        assert view.case.state == "hearing_requested"


def test_a_hearing_staffed_apart_is_scheduled_and_later_notes_are_judged_too(
    world: World,  # noqa: F811 (the fixture)
) -> None:
    w = world
    clerk = _user(w.services, w.unit_id, "clerk", "郑记录", "SL-0009")
    assert clerk
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=False):
        case_id = _hearing_requested(w)
        # the presiding officer now, the recorder later (the notice waits for it)
        service.act(
            w.ctx, w.officer, case_id, "schedule_hearing", {**SCHEDULE, "hearing_officer": "rev"}
        )
        assert service.case_view(w.ctx, w.officer, case_id).case.state == "hearing_scheduled"
        before = _events(w, case_id)
        refusals: list[tuple[dict[str, Any], str]] = [
            ({"recorder": "rev"}, "already the hearing_officer"),  # against the earlier note
            ({"recorder": "wang"}, "investigates"),
            ({"hearing_officer": "zhao"}, "investigates"),
            ({"recorder": "ghost"}, "not the login"),
        ]
        for notes, words in refusals:
            with pytest.raises(PayloadError) as refused:
                service.give_notes(w.ctx, w.officer, case_id, "schedule_hearing", notes)
            assert words in str(refused.value), (notes, str(refused.value))
        assert _events(w, case_id) == before
        # the presiding officer given with the action is the one the documents read: one
        # given later does not free the seat, so the reviewer still cannot record
        service.give_notes(
            w.ctx, w.officer, case_id, "schedule_hearing", {"hearing_officer": "head"}
        )
        with pytest.raises(PayloadError) as refused:
            service.give_notes(w.ctx, w.officer, case_id, "schedule_hearing", {"recorder": "rev"})
        assert "already the hearing_officer" in str(refused.value)
        service.give_notes(w.ctx, w.officer, case_id, "schedule_hearing", {"recorder": "clerk"})
        # the place is no seat: given alone, it is not judged against the seats
        service.give_notes(w.ctx, w.officer, case_id, "schedule_hearing", {"place": "二号听证室"})
        assert _events(w, case_id) == before + 3


def test_every_impartial_note_is_a_note_of_its_action() -> None:
    """The table's ``impartial`` names only notes its action takes (a typo would otherwise
    make a seat that is never judged); the hearing's two seats are among them."""
    table = service.effects()
    assert set(table["schedule_hearing"].impartial) == {"hearing_officer", "recorder"}
    for action, effect in table.items():
        assert set(effect.impartial) <= set(effect.notes), action
