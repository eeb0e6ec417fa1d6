"""Publicity on schedule, without a person: ``publicity.run_due`` publishes every decided
penalty not yet published (the ``publish`` step taken by ``system`` in the case's chain) and
takes down what expired; run again it does nothing; run by two processes at the same moment
(two services, two connection pools, one database) each decision is published once and each
expired entry taken down once. On SQLite and PostgreSQL, with the clock moved."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from signing.case_chain import chain_problems
from storage.models import Case, CaseEvent, PublicityEntry, Unit, User
from tests.service.conftest import make_settings
from workflow import publicity
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn

CHINA = timezone(timedelta(hours=8))
DECIDED = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA)  # Monday
WARNING: dict[str, object] = {"kind": "warning"}
FINE: dict[str, object] = {"kind": "fine", "amount_fen": 150_000}  # 1,500 yuan: 3 years


@dataclass
class Two:
    """One database, as two processes of the service see it (each its own pool)."""

    services: Services
    other: Services
    ctx: CaseContext
    other_ctx: CaseContext
    unit_id: int
    officer: Actor
    user_id: int


@pytest.fixture
def two(tmp_path: Path, database_url: str) -> Iterator[Two]:
    with time_machine.travel(DECIDED, tick=False):
        services = Services(make_settings(tmp_path / "data", database_url=database_url))
        initialize(services)
        with services.session() as session:
            unit_id = session.scalars(select(Unit.id)).one()
            user = User(
                username="wang",
                display_name="王五",
                password_hash=hash_password("x" * 12),
                unit_id=unit_id,
                badge_number="SL-0001",
            )
            session.add(user)
            session.flush()
            user_id = user.id
    other = Services(make_settings(tmp_path / "data", database_url=database_url))
    officer = Actor(f"user:{user_id}", "王五", "officer", unit_id)
    yield Two(
        services, other, case_context(services), case_context(other), unit_id, officer, user_id
    )
    other.close()
    services.close()


def _decided(t: Two, title: str, penalty: dict[str, object]) -> str:
    """A simplified case decided on the spot (no one publishes it by hand)."""
    case_id = service.open_case(
        t.ctx,
        t.officer,
        unit_id=t.unit_id,
        title=title,
        summary="网店商品页面虚构原价",
        parties=[PartyIn("广州某某电子商务有限公司", credit_code="9144030071526726XG")],
        procedure="simplified",
    )
    service.assign(t.ctx, t.officer, case_id, t.user_id)
    service.act(t.ctx, t.officer, case_id, "register")
    service.act(t.ctx, t.officer, case_id, "decide_on_the_spot", {"decided_penalty": penalty})
    return case_id


def _publish_events(t: Two, case_id: str) -> list[CaseEvent]:
    with t.services.sessions() as session:
        rows = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
        head = session.scalars(select(Case.chain_head).where(Case.id == case_id)).one()
    assert chain_problems([(service.chained_event(r), r.hash) for r in rows], head=head) == []
    return [r for r in rows if r.action == "publish"]


def _entries(t: Two) -> dict[str, PublicityEntry]:
    with t.services.sessions() as session:
        rows = list(session.scalars(select(PublicityEntry)))
        session.expunge_all()
    return {r.case_id: r for r in rows}


def test_the_schedule_publishes_and_takes_down_without_a_person(two: Two) -> None:
    with time_machine.travel(DECIDED, tick=False) as clock:
        warned = _decided(two, "虚构原价（警告）", WARNING)
        undecided = service.open_case(
            two.ctx, two.officer, unit_id=two.unit_id, title="线索", summary="待核查"
        )
        clock.move_to(datetime(2026, 11, 3, 2, 0, tzinfo=CHINA))  # the job's next minute
        first = publicity.run_due(two.ctx, base_url="https://evidence.example.gov.cn")
        assert (first.as_of, first.taken_down, first.failed) == (date(2026, 11, 3), 0, ())
        entries = _entries(two)
        assert set(entries) == {warned} and undecided not in entries
        assert first.published == (entries[warned].id,)
        [event] = _publish_events(two, warned)
        assert (event.actor, event.role) == ("system", "system")
        assert event.at.astimezone(CHINA) == datetime(2026, 11, 3, 2, 0, tzinfo=CHINA)
        assert event.details["url"] == (
            f"https://evidence.example.gov.cn/publicity/{entries[warned].id}"
        )
        # published the day after the decision: well inside the 20 working days
        assert entries[warned].published_on == date(2026, 11, 3)
        assert entries[warned].due_on == date(2026, 11, 30)
        assert publicity.run_due(two.ctx).published == ()  # a minute later: nothing new

        clock.move_to(datetime(2026, 11, 10, 15, 0, tzinfo=CHINA))  # a week later, a fine
        fined = _decided(two, "虚构原价（罚款）", FINE)
        [made] = publicity.run_due(two.ctx).published
        assert _entries(two)[fined].id == made
        assert _entries(two)[fined].last_day == date(2029, 11, 10)

        clock.move_to(datetime(2029, 11, 3, 23, 0, tzinfo=CHINA))  # the warning's last day
        assert publicity.run_due(two.ctx).taken_down == 0
        # the moment may be given instead of read from the clock
        after = datetime(2029, 11, 4, 0, 1, tzinfo=CHINA)
        summary = publicity.run_due(two.ctx, after)
        assert (summary.as_of, summary.published, summary.taken_down) == (date(2029, 11, 4), (), 1)
        assert publicity.run_due(two.ctx, after).taken_down == 0
        entries = _entries(two)
        taken = entries[warned].taken_down_at
        assert taken is not None and taken.astimezone(CHINA) == after
        assert entries[fined].taken_down_at is None
        assert [e.id for e in publicity.entries(two.ctx, today=after.date())] == [entries[fined].id]

        clock.move_to(datetime(2029, 11, 11, 0, 0, tzinfo=CHINA))  # the fine's 3 years are over
        assert publicity.run_due(two.ctx).taken_down == 1
        assert publicity.entries(two.ctx) == []
        assert len(_publish_events(two, warned)) == len(_publish_events(two, fined)) == 1


def _at_once(
    contexts: list[CaseContext], job: Callable[[CaseContext], publicity.RunSummary]
) -> list[publicity.RunSummary]:
    together = threading.Barrier(len(contexts))

    def run(ctx: CaseContext) -> publicity.RunSummary:
        together.wait()
        return job(ctx)

    with ThreadPoolExecutor(len(contexts)) as pool:
        return list(pool.map(run, contexts))


def test_two_processes_at_once_publish_each_decision_once(two: Two) -> None:
    with time_machine.travel(DECIDED, tick=False) as clock:
        cases = [_decided(two, f"虚构原价 {i}", WARNING) for i in range(4)]
        runs = _at_once([two.ctx, two.other_ctx], publicity.run_due)
        assert all(r.failed == () for r in runs)
        published = [entry_id for r in runs for entry_id in r.published]
        entries = _entries(two)
        assert set(entries) == set(cases)
        # every entry reported once, by the one process that published it
        assert sorted(published) == sorted(e.id for e in entries.values())
        for case_id in cases:
            assert len(_publish_events(two, case_id)) == 1

        clock.move_to(datetime(2029, 11, 3, 8, 0, tzinfo=CHINA))  # every period is over
        runs = _at_once([two.ctx, two.other_ctx], publicity.run_due)
        assert sum(r.taken_down for r in runs) == len(cases)
        assert all(e.taken_down_at is not None for e in _entries(two).values())
        assert all(r.published == () for r in runs)
