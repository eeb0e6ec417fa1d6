"""The running service makes the documents cases owe (evidence_service/sealing/case_documents):
the worker's housekeeping, not the request that took the action. A case is worked through
once per new event; a document waiting for a person's note does not make it look again; a
TSA that is down leaves it to be retried, and the retry makes the document; two workers never
hold one case at once; and the worker loop itself makes them."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from evidence_service.sealing import case_documents, housekeeping
from evidence_service.sealing.worker import Worker
from signing.timestamp import HttpTimestamper
from storage.models import CaseDocumentCursor
from tests.cases.test_case_documents import (
    FILING_NOTES,
    World,
    _open,
    _table_of_contents,
)
from tests.cases.test_case_documents import world as world  # the builders' case world
from workflow.cases import service


def _templates(w: World, case_id: str) -> list[str]:
    return [t for t, _ in _table_of_contents(w, case_id)]


def test_the_worker_makes_what_the_case_owes_once_per_new_event(world: World) -> None:
    w = world
    w.ctx.after_action = None  # as in the web app: the action returns before any document
    w.services.__dict__["portal"] = w.portal
    case_id = _open(w)
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    assert _templates(w, case_id) == []

    # The registration form waits for the head's approval: worked through, nothing made.
    run = case_documents.generate_due(w.services)
    assert run.cases == [case_id] and run.made == []
    assert "approve_filing" in (run.outcomes[0].error or "")
    again = case_documents.generate_due(w.services)
    assert again.cases == []  # no new event: not looked at again

    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True, **FILING_NOTES},
    )
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})
    housekeeping.frequent(w.services)
    assert sorted(_templates(w, case_id)) == ["case_source_registration", "filing_approval"]
    assert case_documents.generate_due(w.services).cases == []  # its own add_document events
    with w.services.session() as session:
        cursor = session.get(CaseDocumentCursor, case_id)
        assert cursor is not None and cursor.lease_until is None and cursor.last_error is None


def test_a_tsa_that_is_down_leaves_the_document_owed_and_the_retry_makes_it(
    world: World,
) -> None:
    w = world
    w.ctx.after_action = None
    down = dataclasses.replace(w.portal, timestampers=[HttpTimestamper("http://127.0.0.1:9/")])
    w.services.__dict__["portal"] = down
    case_id = _open(w)
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True, **FILING_NOTES},
    )
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})

    first = case_documents.generate_due(w.services)
    assert first.cases == [case_id] and first.made == []
    with w.services.session() as session:
        cursor = session.get(CaseDocumentCursor, case_id)
        assert cursor is not None and cursor.checked_events == 0
        assert "127.0.0.1:9" in (cursor.last_error or "") or "Timestamp" in (
            cursor.last_error or ""
        ), cursor.last_error
    assert case_documents.generate_due(w.services).cases == [case_id]  # tried again

    w.services.__dict__["portal"] = w.portal  # the TSA is back
    made = case_documents.generate_due(w.services).made
    assert sorted(o.template for o in made) == ["case_source_registration", "filing_approval"]


def test_two_workers_never_hold_one_case(world: World) -> None:
    w = world
    w.ctx.after_action = None
    case_id = _open(w)
    now = datetime.now(UTC)
    assert case_documents._claim(w.services, case_id, now)
    assert not case_documents._claim(w.services, case_id, now)
    assert case_documents.generate_due(w.services).cases == []  # leased: left alone
    later = now + case_documents.LEASE + case_documents.LEASE
    assert case_documents._claim(w.services, case_id, later)  # a dead worker's lease expires


@pytest.mark.chromium
def test_an_idle_worker_makes_the_documents(world: World) -> None:
    w = world
    w.ctx.after_action = None
    w.services.__dict__["portal"] = w.portal
    case_id = _open(w)
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True, **FILING_NOTES},
    )
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})

    async def idle_until_made() -> None:
        worker = Worker(w.services, poll_s=0.05)
        task = asyncio.create_task(worker.run())
        try:
            for _ in range(600):
                await asyncio.sleep(0.1)
                with w.services.session() as session:
                    cursor = session.scalars(select(CaseDocumentCursor)).first()
                    if cursor is not None and cursor.checked_events and not cursor.lease_until:
                        return
            raise AssertionError("the idle worker made no documents in 60 s")
        finally:
            worker.stop()
            await task

    asyncio.run(idle_until_made())
    assert sorted(_templates(w, case_id)) == ["case_source_registration", "filing_approval"]
