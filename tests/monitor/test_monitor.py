"""Watching a page of the fixture shop until it is corrected, with real captures (Chromium),
real seals (the built-in RFC 3161 TSA) and a real SMTP server: the shop edits its page
between runs (price changed, picture swapped, then the claim removed); each run is a sealed
capture linked to the watch and to the first; the condition is judged on the sealed WARC;
the case records it, attaches every run and mails its officers; the order to correct is
confirmed with the capture that proves it. Time goes by with time-machine, never sleeping."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from evidence_service.bootstrap import initialize
from evidence_service.sealing import monitor
from evidence_service.sealing.monitor import WatchError, WatchIn
from evidence_service.sealing.page_text import MainPage
from evidence_service.services import Services
from storage.models import Capture, CaptureWatch, CaseEvent, CaseEvidence, Job, User, WatchRun
from tests.fixtures.site import FixtureSite, shop_item_html
from tests.monitor.conftest import World, correcting_case
from tests.service.conftest import make_settings, run_worker
from workflow.cases import service

CLAIM = "全网最低价，假一赔十"


def _runs(w: World, watch_id: str) -> list[WatchRun]:
    with w.services.session() as session:
        rows = list(
            session.scalars(
                select(WatchRun).where(WatchRun.watch_id == watch_id).order_by(WatchRun.seq)
            )
        )
        session.expunge_all()
        return rows


def _watch(w: World, watch_id: str) -> CaptureWatch:
    with w.services.session() as session:
        row = session.get(CaptureWatch, watch_id)
        assert row is not None
        session.expunge(row)
        return row


def _later(w: World, start: datetime, hours: float, jobs: int = 1) -> monitor.TickResult:
    """``hours`` after ``start``: one tick of the schedule (which queues the runs due), the
    worker captures and seals them, and the next tick judges them -- all in that later time
    (the job queue, the TSA and the seal see the same clock)."""
    with time_machine.travel(start + timedelta(hours=hours, minutes=1), tick=True):
        monitor.tick(w.services)
        run_worker(w.services, jobs=jobs, timeout=120)
        return monitor.tick(w.services)


@pytest.mark.chromium
def test_a_case_watch_proves_the_correction(world: World, fixture_site: FixtureSite) -> None:
    w = world
    case_id = correcting_case(w)
    url = fixture_site.set_page("item-7", shop_item_html())
    start = datetime.now(UTC)
    watch_id = monitor.create_watch(
        w.services,
        WatchIn(
            url=url,
            interval_hours=6,
            until=start + timedelta(days=7),
            condition="text_gone",
            text=CLAIM,
            case_id=case_id,
        ),
        w.user(),
    )
    first = _runs(w, watch_id)
    assert [(r.seq, r.state) for r in first] == [(1, "capturing")] and first[0].capture_id
    run_worker(w.services, jobs=1, timeout=90)
    monitor.tick(w.services)
    [one] = _runs(w, watch_id)
    assert one.state == "done", one.detail
    assert one.condition_met is False and one.text_changed is None and one.http_status == 200
    assert _watch(w, watch_id).first_capture_id == one.capture_id

    # nothing is due before six hours have passed
    with time_machine.travel(start + timedelta(hours=5), tick=True):
        monitor.tick(w.services)
    assert len(_runs(w, watch_id)) == 1

    # the shop changes the price and swaps the picture, but keeps the claim
    fixture_site.set_page("item-7", shop_item_html(price="¥219.00", image="product-b.png"))
    _later(w, start, 6)
    two = _runs(w, watch_id)[1]
    assert (two.state, two.condition_met, two.text_changed) == ("done", False, True), two.detail
    assert _watch(w, watch_id).state == "active"

    # the claim is removed: met at the next run, proved by that run's sealed capture
    fixture_site.set_page(
        "item-7", shop_item_html(price="¥219.00", image="product-b.png", claim=None)
    )
    result = _later(w, start, 12)
    assert result.met == [watch_id]
    three = _runs(w, watch_id)[2]
    assert (three.condition_met, three.text_changed) == (True, True)
    watch = _watch(w, watch_id)
    assert watch.state == "met" and watch.met_capture_id == three.capture_id
    with w.services.session() as session:
        cap = session.get(Capture, three.capture_id)
        assert cap is not None and cap.status == "stored"
        events = {
            e.action: e
            for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))
        }
        evidence = set(
            session.scalars(select(CaseEvidence.capture_id).where(CaseEvidence.case_id == case_id))
        )
    assert {r.capture_id for r in _runs(w, watch_id)} <= evidence  # every run is evidence
    met = events["watch_condition_met"].details
    assert met["capture_id"] == cap.id and met["package_sha256"] == cap.package_sha256
    assert met["http_status"] == 200 and met["condition"] == "text_gone"
    assert events["watch_started"].details["watch_id"] == watch_id

    # the officers with an address are told by mail, once
    assert watch.notified_at is not None and watch.notify_error is None
    mails = [m for m in w.mail.messages if watch_id in m.message.get_content()]
    assert sorted(r for m in mails for r in m.rcpt_tos) == [
        "wang@unit.example.cn",
        "zhao@unit.example.cn",
    ]
    assert "页面监测条件已满足" in str(mails[0].message["Subject"])
    body = mails[0].message.get_content()
    assert f"文字已删除：{CLAIM}" in body and f"the text is gone: {CLAIM}" in body
    assert cap.id in body
    monitor.tick(w.services)
    assert len([m for m in w.mail.messages if watch_id in m.message.get_content()]) == 2

    # no run after the watch is met
    with time_machine.travel(start + timedelta(hours=30), tick=True):
        monitor.tick(w.services)
    assert len(_runs(w, watch_id)) == 3

    # the met condition is the proof the order to correct asks for
    service.act(
        w.ctx,
        w.actor(),
        case_id,
        "confirm_correction",
        {"correction_verified_by_recapture": True, "capture_id": cap.id, "watch_id": watch_id},
    )
    with w.services.session() as session:
        confirmed = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.action == "confirm_correction"
            )
        ).one()
        assert confirmed.details["capture_id"] == cap.id
        assert confirmed.to_state == "investigating"


@pytest.mark.chromium
def test_pages_that_disappear(world: World, fixture_site: FixtureSite) -> None:
    """A page that starts answering 404, and one that redirects to the shop's front page."""
    w = world
    start = datetime.now(UTC)
    gone = fixture_site.set_page("item-8", shop_item_html())
    moved = fixture_site.set_page("item-9", shop_item_html())
    w404 = monitor.create_watch(
        w.services,
        WatchIn(
            url=gone,
            interval_hours=24,
            until=start + timedelta(days=3),
            condition="status",
            status=404,
        ),
        w.user(),
    )
    wred = monitor.create_watch(
        w.services,
        WatchIn(
            url=moved, interval_hours=24, until=start + timedelta(days=3), condition="redirected"
        ),
        w.user(),
    )
    run_worker(w.services, jobs=2, timeout=120)
    monitor.tick(w.services)
    assert [r.condition_met for r in _runs(w, w404) + _runs(w, wred)] == [False, False]

    fixture_site.set_page("item-8", status="404 Not Found", body=b"<h1>404</h1>")
    fixture_site.set_page("item-9", status="302 Found", location="/shop/")
    result = _later(w, start, 24, jobs=2)
    assert sorted(result.met) == sorted([w404, wred])
    r404 = _runs(w, w404)[1]
    assert (r404.http_status, r404.condition_met, r404.redirected) == (404, True, False)
    rred = _runs(w, wred)[1]
    assert rred.redirected is True and rred.final_url == fixture_site.url("/shop/")
    assert rred.http_status == 200 and rred.text_changed is True
    # no case, no address of the creator's... wang has one: mailed; a watch without a case
    # records no case event
    assert _watch(w, w404).notified_at is not None

    # the date passes on a watch that never met its condition: it ends, no more runs
    never = fixture_site.set_page("item-10", shop_item_html())
    wend = monitor.create_watch(
        w.services,
        WatchIn(
            url=never,
            interval_hours=24,
            until=start + timedelta(days=1),
            condition="text_gone",
            text=CLAIM,
        ),
        w.user(),
    )
    run_worker(w.services, jobs=1, timeout=90)
    with time_machine.travel(start + timedelta(days=1, minutes=1), tick=True):
        result = monitor.tick(w.services)
    assert result.ended == [wend] and _watch(w, wend).state == "ended"
    assert len(_runs(w, wend)) == 1


def _hourly_watch(w: World, fixture_site: FixtureSite, page: str) -> tuple[datetime, str, str]:
    """A watch of a shop page, one run an hour for a day, condition ``none``; its first run
    starts at once: (now, the page's URL, the watch's id)."""
    start = datetime.now(UTC)
    url = fixture_site.set_page(page, shop_item_html())
    watch_id = monitor.create_watch(
        w.services,
        WatchIn(url=url, interval_hours=1, until=start + timedelta(days=1), condition="none"),
        w.user(),
    )
    return start, url, watch_id


def _captures_of(w: World, url: str) -> list[str]:
    with w.services.session() as session:
        return list(session.scalars(select(Capture.id).where(Capture.requested_url == url)))


def test_two_workers_start_a_due_run_once(world: World, fixture_site: FixtureSite) -> None:
    """Workers racing on the same due watch: the guarded UPDATE lets one start the run."""
    w = world
    start, url, watch_id = _hourly_watch(w, fixture_site, "item-11")
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def racer() -> None:
        try:
            barrier.wait()
            monitor.tick(w.services, now=start + timedelta(hours=1, minutes=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runs = _runs(w, watch_id)
    assert [r.seq for r in runs] == [1, 2]
    assert len(_captures_of(w, url)) == 2  # the first run and the one due: never twice
    assert _watch(w, watch_id).next_run_at is not None


class _Killed(BaseException):
    """The worker process ended at this point (kill -9 leaves no chance to clean up)."""


def test_a_worker_killed_after_starting_a_run_leaves_one_capture(
    world: World, fixture_site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies right after the run's capture was made: the capture and the run
    naming it were committed together, so the next worker (past the time a stale claim is
    taken over) finds the run started and makes no second capture of it."""
    w = world
    start, url, watch_id = _hourly_watch(w, fixture_site, "item-13")
    real = monitor.create_capture
    made: list[str] = []

    def then_killed(*args: Any, **kwargs: Any) -> str:
        made.append(real(*args, **kwargs))
        raise _Killed

    monkeypatch.setattr(monitor, "create_capture", then_killed)
    with pytest.raises(_Killed):
        monitor.tick(w.services, now=start + timedelta(hours=1, minutes=1))
    monkeypatch.setattr(monitor, "create_capture", real)
    later = start + timedelta(hours=1, minutes=1) + monitor.STALE_CLAIM * 2
    monitor.tick(w.services, now=later)
    runs = _runs(w, watch_id)
    assert [(r.seq, r.state) for r in runs] == [(1, "capturing"), (2, "capturing")]
    assert runs[1].capture_id == made[0]
    assert len(_captures_of(w, url)) == 2  # one per run, never a second for run 2


def test_a_database_lost_while_starting_a_run_leaves_no_capture_behind(
    world: World, fixture_site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between the capture's insert and the run's update: both are
    rolled back (no capture that no run names, no job for it), and the next tick starts the
    run with one capture."""
    w = world
    start, url, watch_id = _hourly_watch(w, fixture_site, "item-14")
    first = _captures_of(w, url)
    real = monitor._take_pending

    def lost(*args: Any, **kwargs: Any) -> bool:
        raise OperationalError("UPDATE watch_runs", {}, Exception("server closed the connection"))

    monkeypatch.setattr(monitor, "_take_pending", lost)
    with pytest.raises(OperationalError):
        monitor.tick(w.services, now=start + timedelta(hours=1, minutes=1))
    assert _captures_of(w, url) == first  # nothing half-made
    with w.services.session() as session:
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.kind == "capture"))
    assert [(r.seq, r.state) for r in _runs(w, watch_id)] == [(1, "capturing"), (2, "pending")]
    monkeypatch.setattr(monitor, "_take_pending", real)
    monitor.tick(w.services, now=start + timedelta(hours=1, minutes=2))
    runs = _runs(w, watch_id)
    assert [(r.seq, r.state) for r in runs] == [(1, "capturing"), (2, "capturing")]
    captures = _captures_of(w, url)
    assert len(captures) == 2 and runs[1].capture_id in captures
    with w.services.session() as session:
        after = session.scalar(select(func.count()).select_from(Job).where(Job.kind == "capture"))
    assert after == (jobs or 0) + 1


def test_bad_watches_are_refused_with_the_reason(world: World) -> None:
    w = world
    now = datetime.now(UTC)
    cases = [
        (WatchIn(url="ftp://x.example/", until=now + timedelta(days=1)), "url"),
        (WatchIn(url="", until=now + timedelta(days=1)), "url"),
        (WatchIn(url="http://127.0.0.1/", until=now - timedelta(hours=1)), "until"),
        (WatchIn(url="http://127.0.0.1/", until=now + timedelta(days=999)), "until"),
        (
            WatchIn(url="http://127.0.0.1/", until=now + timedelta(days=1), interval_hours=0.1),
            "interval",
        ),
        (
            WatchIn(url="http://127.0.0.1/", until=now + timedelta(days=1), condition="text_gone"),
            "text",
        ),
        (
            WatchIn(url="http://127.0.0.1/", until=now + timedelta(days=1), condition="status"),
            "status",
        ),
        (
            WatchIn(url="http://127.0.0.1/", until=now + timedelta(days=1), condition="x"),
            "condition",
        ),
        (
            WatchIn(url="http://127.0.0.1/", until=now + timedelta(days=1), case_id="nope"),
            "case_id",
        ),
    ]
    before = _count_watches(w)
    for spec, field_name in cases:
        with pytest.raises(WatchError) as caught:
            monitor.create_watch(w.services, spec, w.user())
        assert caught.value.field == field_name, (spec, caught.value)
        assert str(caught.value)
    assert _count_watches(w) == before  # nothing kept


def _count_watches(w: World) -> int:
    with w.services.session() as session:
        return int(session.scalar(select(func.count()).select_from(CaptureWatch)) or 0)


def test_the_conditions() -> None:
    url = "https://shop.example.com/item/7"
    page = MainPage(200, url, 200, "价格 ¥199  宣传语：全网最低价，假一赔十")
    assert not monitor.judge("text_gone", CLAIM, None, page, url)
    assert monitor.judge("text_present", "全网最低价", None, page, url)
    assert monitor.judge("text_gone", "包邮", None, page, url)
    assert not monitor.judge("status", None, 404, page, url)
    assert monitor.judge("status", None, 404, MainPage(404, url, 404, ""), url)
    front = MainPage(302, "https://shop.example.com/", 200, "首页")
    assert monitor.judge("redirected", None, None, front, url)
    same = MainPage(301, url + "/", 200, "")
    assert not monitor.judge("redirected", None, None, same, url)
    assert not monitor.judge("none", None, None, front, url)
    assert monitor.parse_interval("6h") == 6 and monitor.parse_interval("2d") == 48
    assert monitor.parse_interval("90m") == 1.5
    with pytest.raises(WatchError):
        monitor.parse_interval("often")
    a = monitor.normalised_text_sha256("价格  ¥199\n")
    assert (
        a
        == monitor.normalised_text_sha256("价格 ¥199")
        != monitor.normalised_text_sha256("价格 ¥219")
    )


def test_two_workers_on_postgresql_start_a_due_run_once(
    tmp_path: Path, pg_database: Callable[[], str], fixture_site: FixtureSite
) -> None:
    """The same race on PostgreSQL (row locks, READ COMMITTED): eight workers, one run."""
    services = Services(make_settings(tmp_path / "data", database_url=pg_database()))
    try:
        initialize(services)
        with services.session() as session:
            user = session.scalars(select(User).where(User.username == "admin")).one()
            session.expunge(user)
        start = datetime.now(UTC)
        url = fixture_site.set_page("item-12", shop_item_html())
        watch_id = monitor.create_watch(
            services,
            WatchIn(url=url, interval_hours=2, until=start + timedelta(days=1)),
            user,
        )
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def racer() -> None:
            try:
                barrier.wait()
                monitor.tick(services, now=start + timedelta(hours=2, minutes=1))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=racer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with services.session() as session:
            runs = list(session.scalars(select(WatchRun).where(WatchRun.watch_id == watch_id)))
            made = session.scalar(
                select(func.count()).select_from(Capture).where(Capture.requested_url == url)
            )
        assert sorted(r.seq for r in runs) == [1, 2]
        assert all(r.capture_id for r in runs) and made == 2
    finally:
        services.close()
