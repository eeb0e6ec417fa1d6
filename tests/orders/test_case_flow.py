"""Order facts on a case: proposals read from the sealed package in the store, the officer's
confirmations and corrections recorded as one event of the case chain (the extracted value
kept beside a correction, the capture, record and offset named), and what is refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from capture.order_facts import read_record_payload
from capture.wacz import WARC_PATH
from evidence_service.sealing.case_orders import (
    OrderFactsUnavailable,
    confirm_order_facts,
    propose_order_facts,
)
from evidence_service.web.i18n import MESSAGES
from storage.models import Capture, CaseEvent
from workflow.cases import service
from workflow.cases.order_facts import CONFIRM_ORDER_FACTS, Decision, confirmed_facts
from workflow.cases.service import PayloadError

from .conftest import World, fields_of
from .warcs import URLS


def test_proposals_point_into_the_sealed_package(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"taobao": URLS["taobao"]})
    found = propose_order_facts(world.services, case_id, capture_id)
    assert found.capture_id == capture_id and len(found.facts) == 6
    with world.services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None and cap.package_key is not None
        package = world.services.store.read_bytes(cap.package_key)
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        warc = z.read(WARC_PATH)
    for p in found.facts:
        assert p.source.package_sha256 == found.package_sha256 == cap.package_sha256
        assert p.source.warc_path == WARC_PATH
        record_id, payload = read_record_payload(io.BytesIO(warc), p.source.offset)
        assert record_id == p.source.record_id
        assert p.source.span is not None
        if p.field != "buyer_account":
            assert payload[p.source.span[0] : p.source.span[1]].decode() == p.source_text


def test_confirm_and_correct_record_one_event_with_both_values(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"plain": URLS["plain"]})
    props = fields_of(list(propose_order_facts(world.services, case_id, capture_id).facts))
    decisions = [
        Decision(props["order_number"].id, "confirm"),
        Decision(props["price_paid"].id, "correct", "¥ 99.90"),  # normalised as extracted ones
        Decision(props["buyer_account"].id, "correct", "wxid_father77"),  # redacted too
    ]
    seq = confirm_order_facts(
        world.services, world.ctx, world.actor("wang"), case_id, capture_id, decisions
    )
    with world.services.sessions() as session:
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
        ).one()
    assert event.action == CONFIRM_ORDER_FACTS and event.from_state == event.to_state
    assert event.details["capture_id"] == capture_id
    recorded = fields_of(event.details["facts"])
    assert set(recorded) == {"order_number", "price_paid", "buyer_account"}
    number = recorded["order_number"]
    assert (number["decision"], number["value"], number["corrected"]) == (
        "confirm", "NX-20260311-0042", None,
    )  # fmt: skip
    price = recorded["price_paid"]
    assert (price["extracted"], price["corrected"], price["value"]) == (
        "89.90 CNY", "99.90 CNY", "99.90 CNY",
    )  # fmt: skip
    assert price["source_text"] == "89.9 元"
    assert recorded["buyer_account"]["value"] == "w***********7"
    assert "wxid_father77" not in repr(event.details) and "wxid_mother88" not in repr(event.details)
    src = price["source"]
    assert (
        src["capture_id"] == capture_id and src["record_id"] == props["price_paid"].source.record_id
    )
    assert src["offset"] == props["price_paid"].source.offset and src["span"]
    # the event is in the chain and the case view; the timeline has a name for it
    view = service.case_view(world.ctx, world.actor("wang"), case_id)
    assert view.events[-1].action == CONFIRM_ORDER_FACTS
    assert f"cases.event.{CONFIRM_ORDER_FACTS}" in MESSAGES
    held = fields_of(confirmed_facts(view.events))
    assert held["price_paid"].value == "99.90 CNY" and held["price_paid"].extracted == "89.90 CNY"
    # a later decision supersedes the earlier for the same field; the earlier event stays
    confirm_order_facts(
        world.services, world.ctx, world.actor("wang"), case_id, capture_id,
        [Decision(props["price_paid"].id, "confirm")],
    )  # fmt: skip
    view = service.case_view(world.ctx, world.actor("wang"), case_id)
    held = fields_of(confirmed_facts(view.events))
    assert held["price_paid"].value == "89.90 CNY" and held["price_paid"].corrected is None
    assert [e.action for e in view.events].count(CONFIRM_ORDER_FACTS) == 2


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda p: [Decision(p["price_paid"].id, "correct", "")], "value"),
        (lambda p: [Decision(p["price_paid"].id, "correct", "免费")], "value"),
        (lambda p: [Decision(p["order_time"].id, "correct", "昨天")], "value"),
        (lambda p: [Decision("nope", "confirm")], "proposal"),
        (lambda p: [Decision(p["item"].id, "confirm")] * 2, "proposal"),
        (lambda p: [], "facts"),
    ],
)
def test_bad_decisions_are_refused_and_nothing_is_kept(
    world: World, make: Callable[[dict[str, Any]], list[Decision]], field: str
) -> None:
    case_id, capture_id = world.case_with_capture({"plain": URLS["plain"]})
    props = fields_of(list(propose_order_facts(world.services, case_id, capture_id).facts))
    before = len(service.case_view(world.ctx, world.actor("wang"), case_id).events)
    with pytest.raises(PayloadError) as refused:
        confirm_order_facts(
            world.services, world.ctx, world.actor("wang"), case_id, capture_id, make(props)
        )
    assert refused.value.field == field
    assert len(service.case_view(world.ctx, world.actor("wang"), case_id).events) == before


def test_only_the_cases_own_sealed_captures_are_read(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"jd": URLS["jd"]})
    other_case, other_capture = world.case_with_capture({"jd": URLS["jd"]})
    with pytest.raises(OrderFactsUnavailable) as not_ours:
        propose_order_facts(world.services, case_id, other_capture)
    assert not_ours.value.code == "not_evidence"
    with pytest.raises(service.CaseNotFound):  # another unit's officer
        confirm_order_facts(
            world.services, world.ctx, world.actor("bob"), case_id, capture_id,
            [Decision(fields_of(list(propose_order_facts(
                world.services, case_id, capture_id).facts))["item"].id, "confirm")],
        )  # fmt: skip
    assert other_case != case_id
