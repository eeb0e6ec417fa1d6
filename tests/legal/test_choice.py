"""Choosing on a case: the event records what was suggested and what was chosen; a departure
without a reason is refused and leaves nothing; the catalogue's versions are append-only and
a new one keeps the old; the case names the version it used."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DatabaseError

from storage.models import Case, CaseEvent, LegalCatalogueVersion
from tests.legal.conftest import World
from workflow.cases import legal_basis
from workflow.cases.service import PayloadError
from workflow.legal import versions
from workflow.legal.choice import EVENT, ChoiceIn
from workflow.legal.ranking import Observed

LICENCE = Observed(frozenset({"no_business_licence_shown", "cooperated"}))


def _events(w: World, case_id: str) -> list[CaseEvent]:
    with w.services.session() as session:
        rows = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == EVENT)
            )
        )
        session.expunge_all()
        return rows


def test_choosing_the_top_suggestion_records_suggested_and_chosen(world: World) -> None:
    w = world
    case_id = w.open_case()
    seq = legal_basis.choose(
        w.ctx,
        w.actor("wang"),
        case_id,
        LICENCE,
        ChoiceIn("business_licence_not_displayed", None, 1500_00),
    )
    [event] = _events(w, case_id)
    assert event.seq == seq
    d = event.details
    assert d["entry"] == "business_licence_not_displayed" and d["band"] == "mild"
    assert d["amount_fen"] == 1500_00 and d["range_fen"] == [0, 2000_00]
    assert d["suggested"][0]["entry"] == "business_licence_not_displayed"
    assert {"kind": "fact", "tag": "no_business_licence_shown"} in d["suggested"][0]["reasons"]
    assert d["departs"] == [] and "reason" not in d
    now = versions.current(w.ctx.sessions, w.unit_id)
    assert (d["catalogue_version"], d["catalogue_sha256"]) == (now.version, now.sha256)
    assert d["basis"] == [{"rule": "中华人民共和国电子商务法", "article": "第七十六条第一款第一项"}]
    assert d["needs_confirmation"] is True


@pytest.mark.parametrize(
    ("choice", "departs"),
    [
        (ChoiceIn("fake_reviews"), ["entry"]),
        (ChoiceIn("business_licence_not_displayed", "serious"), ["band"]),
        (ChoiceIn("business_licence_not_displayed", None, 9000_00), ["amount"]),
    ],
)
def test_a_departure_needs_a_reason_and_is_recorded_with_it(
    world: World, choice: ChoiceIn, departs: list[str]
) -> None:
    w = world
    case_id = w.open_case()
    with w.services.session() as session:
        before = session.get(Case, case_id).event_count  # type: ignore[union-attr]
    with pytest.raises(PayloadError) as info:
        legal_basis.choose(w.ctx, w.actor("wang"), case_id, LICENCE, choice)
    assert info.value.field == "reason"
    with w.services.session() as session:
        assert session.get(Case, case_id).event_count == before  # type: ignore[union-attr]
    assert _events(w, case_id) == []
    with_reason = ChoiceIn(choice.entry, choice.band, choice.amount_fen, "当事人拒不改正，情节较重")
    legal_basis.choose(w.ctx, w.actor("wang"), case_id, LICENCE, with_reason)
    [event] = _events(w, case_id)
    assert event.details["departs"] == departs
    assert event.details["reason"] == "当事人拒不改正，情节较重"
    assert event.details["suggested"][0]["entry"] == "business_licence_not_displayed"


def test_only_an_officer_chooses_and_bad_input_names_its_field(world: World) -> None:
    w = world
    case_id = w.open_case()
    with pytest.raises(PayloadError) as info:
        legal_basis.choose(
            w.ctx, w.actor("rev", "reviewer"), case_id, LICENCE, ChoiceIn("fake_reviews")
        )
    assert info.value.field == "role"
    for choice, field in [
        (ChoiceIn("no_such_entry", reason="x"), "entry"),
        (ChoiceIn("fake_reviews", "severe", reason="x"), "band"),
        (ChoiceIn("business_licence_not_displayed", "no_penalty", 100, "x"), "amount"),
    ]:
        with pytest.raises(PayloadError) as info:
            legal_basis.choose(w.ctx, w.actor("wang"), case_id, LICENCE, choice)
        assert info.value.field == field
    assert _events(w, case_id) == []


def test_nothing_suggested_means_any_choice_needs_a_reason(world: World) -> None:
    w = world
    case_id = w.open_case()
    with pytest.raises(PayloadError):
        legal_basis.choose(w.ctx, w.actor("wang"), case_id, Observed(), ChoiceIn("fake_reviews"))
    legal_basis.choose(
        w.ctx,
        w.actor("wang"),
        case_id,
        Observed(),
        ChoiceIn("fake_reviews", reason="询问笔录证实刷单"),
    )
    assert _events(w, case_id)[0].details["departs"] == ["nothing_suggested"]


def test_a_new_catalogue_version_keeps_the_old_and_cases_name_theirs(world: World) -> None:
    w = world
    unit = w.other_unit  # a unit of its own, so that the versions counted here are this test's
    first = versions.current(w.ctx.sessions, unit)
    assert first.version == 1 and first.actor == "system"
    entry = first.catalogue.entry_dict("business_licence_not_displayed")
    entry["bands"]["mild"]["max_yuan"] = 1000
    entry["bands"]["ordinary"]["min_yuan"] = 1000
    entry["needs_confirmation"] = False
    with pytest.raises(versions.VersionError) as info:
        versions.edit_entry(
            w.ctx.sessions,
            unit,
            actor="user:1",
            actor_name="法制科",
            base=1,
            entry=entry,
            reason=" ",
        )
    assert info.value.field == "reason"
    second = versions.edit_entry(
        w.ctx.sessions,
        unit,
        actor="user:1",
        actor_name="法制科",
        base=1,
        entry=entry,
        reason="法制审核确认，调整从轻幅度",
    )
    assert second.version == 2 and second.entry_id == "business_licence_not_displayed"
    assert second.catalogue.entry("business_licence_not_displayed").bands["mild"].max_yuan == 1000
    assert not second.catalogue.entry("business_licence_not_displayed").needs_confirmation
    old = versions.get(w.ctx.sessions, unit, 1)
    assert old is not None and old.sha256 == first.sha256
    assert old.catalogue.entry("business_licence_not_displayed").bands["mild"].max_yuan == 2000
    assert [h.version for h in versions.history(w.ctx.sessions, unit)] == [2, 1]
    # an edit made from version 1 after version 2 was saved is refused
    with pytest.raises(versions.StaleVersion):
        versions.edit_entry(
            w.ctx.sessions,
            unit,
            actor="user:1",
            actor_name="x",
            base=1,
            entry=entry,
            reason="again",
        )
    # an invalid entry names its problem and keeps nothing
    bad = dict(entry, basis=[{"rule": "某法", "article": "第一条", "source": "nowhere"}])
    with pytest.raises(versions.VersionError, match="nowhere"):
        versions.edit_entry(
            w.ctx.sessions, unit, actor="user:1", actor_name="x", base=2, entry=bad, reason="x"
        )
    assert versions.current(w.ctx.sessions, unit).version == 2
    # rows are never changed: by the ORM, nor by SQL past it (the table's trigger)
    with w.ctx.sessions() as session:
        row = session.scalars(
            select(LegalCatalogueVersion).where(LegalCatalogueVersion.unit_id == unit)
        ).first()
        assert row is not None
        row.reason = "rewritten"
        with pytest.raises(PermissionError):
            session.flush()
    with w.ctx.sessions() as session, pytest.raises(DatabaseError):
        session.execute(update(LegalCatalogueVersion).values(reason="rewritten"))


def test_amounts_in_yuan_count_the_multiples_in_the_recorded_range(world: World) -> None:
    w = world
    case_id = w.open_case()
    observed = Observed(frozenset({"return_refused"}), {"illegal_income_yuan": Decimal("3200")})
    legal_basis.choose(
        w.ctx,
        w.actor("wang"),
        case_id,
        observed,
        ChoiceIn("seven_day_return_refused", None, 12_000_00),
    )
    d = _events(w, case_id)[0].details
    assert d["range_fen"] == [9_600_00, 19_200_00] and d["amounts_yuan"] == {
        "illegal_income_yuan": "3200"
    }
