"""``evidence watch``: watch a URL until it is corrected (``sealing/monitor.py``). The runs
are made by ``evidence worker`` / ``evidence run`` (their idle work), not by this command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from evidence_service.cli.common import EXIT_USAGE, fail, open_services


@click.group("watch")
def watch_group() -> None:
    """Watch pages until they are corrected."""


def _until(value: str) -> datetime:
    """``2026-12-31`` (the end of that day, Beijing time), an ISO time, or ``14d``/``36h``."""
    from evidence_service.sealing.monitor import WatchError, parse_interval
    from workflow.deadlines import CHINA

    raw = value.strip()
    try:
        if len(raw) == 10:
            day = datetime.fromisoformat(raw).date()
            return datetime.combine(day, datetime.max.time(), CHINA).astimezone(UTC)
        moment = datetime.fromisoformat(raw)
        return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) + timedelta(hours=parse_interval(raw))
    except WatchError:
        fail(f"--until: not a date, time or duration: {value!r}", EXIT_USAGE, False, {})


@watch_group.command("start")
@click.argument("url")
@click.option("--every", default="24h", show_default=True, help="Interval: 6h, 2d, 90m.")
@click.option("--until", "until", required=True, help="Last day (YYYY-MM-DD), or 14d.")
@click.option("--until-gone", "gone", default=None, help="Stop when this text is gone.")
@click.option("--until-present", "present", default=None, help="Stop when this text shows.")
@click.option("--until-status", "status", type=int, default=None, help="Stop on this status.")
@click.option("--until-redirected", "redirected", is_flag=True, help="Stop when sent away.")
@click.option("--case", "case_ref", default=None, help="The case (number or id) it belongs to.")
@click.option("--user", "username", required=True, help="The officer it is made for.")
@click.option("--json", "as_json", is_flag=True)
def watch_start(
    url: str,
    every: str,
    until: str,
    gone: str | None,
    present: str | None,
    status: int | None,
    redirected: bool,
    case_ref: str | None,
    username: str,
    as_json: bool,
) -> None:
    """Watch URL: a sealed capture now and every --every until --until or the condition."""
    from sqlalchemy import select

    from evidence_service.sealing.case_file import case_context
    from evidence_service.sealing.monitor import WatchError, WatchIn, create_watch, parse_interval
    from storage.models import User
    from workflow.cases.service import CaseError, find_case

    chosen = [
        c
        for c, on in (
            ("text_gone", gone),
            ("text_present", present),
            ("status", status),
            ("redirected", redirected),
        )
        if on
    ]
    if len(chosen) > 1:
        fail("give at most one --until-* condition", EXIT_USAGE, as_json, {"code": "conditions"})
    services = open_services()
    services.migrate()
    with services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            session.expunge(user)
    if user is None:
        fail(f"no user named {username!r}", EXIT_USAGE, as_json, {"code": "no_user"})
    try:
        case_id = find_case(case_context(services), case_ref) if case_ref else None
        spec = WatchIn(
            until=_until(until),
            url=url,
            interval_hours=parse_interval(every),
            condition=chosen[0] if chosen else "none",
            text=gone or present,
            status=status,
            case_id=case_id,
        )
        watch_id = create_watch(services, spec, user)
    except WatchError as exc:
        fail(str(exc), EXIT_USAGE, as_json, {"code": exc.code, "field": exc.field})
    except CaseError as exc:
        fail(str(exc), EXIT_USAGE, as_json, {"code": "no_case"})
    if as_json:
        click.echo(json.dumps({"status": "watching", "id": watch_id}))
    else:
        click.echo(f"watching {url}: watch {watch_id}")


@watch_group.command("show")
@click.argument("watch_id")
@click.option("--json", "as_json", is_flag=True)
def watch_show(watch_id: str, as_json: bool) -> None:
    """A watch and the timeline of its runs."""
    from evidence_service.sealing.monitor import watch_view
    from storage.models import CaptureWatch

    services = open_services()
    services.migrate()
    with services.session() as session:
        row = session.get(CaptureWatch, watch_id)
        unit_id = row.unit_id if row is not None else None
    view = watch_view(services, watch_id, unit_id) if row is not None else None
    if view is None:
        fail(f"no watch {watch_id}", EXIT_USAGE, as_json, {"code": "not_found"})
    if as_json:
        runs = [
            {
                "seq": r.seq,
                "state": r.state,
                "capture_id": r.capture_id,
                "http_status": r.http_status,
                "text_changed": r.text_changed,
                "condition_met": r.condition_met,
            }
            for r in view.runs
        ]
        click.echo(
            json.dumps(
                {
                    "id": view.id,
                    "state": view.state,
                    "url": view.url,
                    "met_capture_id": view.met_capture_id,
                    "runs": runs,
                }
            )
        )
        return
    click.echo(f"{view.url}: {view.state} ({view.condition})")
    for r in view.runs:
        changed = "-" if r.text_changed is None else ("changed" if r.text_changed else "same")
        met = "MET" if r.condition_met else ""
        click.echo(
            f"  #{r.seq} {r.scheduled_at:%Y-%m-%d %H:%M} {r.state} "
            f"{r.http_status or '-'} {changed} {r.capture_id or ''} {met}".rstrip()
        )
