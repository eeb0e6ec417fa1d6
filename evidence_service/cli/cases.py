"""``evidence case deadline|rules|remind``: the deadline engine of the administrative case from
the command line -- the same function (:func:`workflow.deadlines.due`) the case workflow uses,
so an officer or a lawyer can check a due date, and why, against a paper calendar.

``evidence case deadline --from 2026-09-30 --days 4`` prints the due date (2026-10-08: the
last day is in the National Day holiday) and every step of the count. ``--working-days N``
counts working days, ``--rule ID`` a rule of ``workflow/deadlines/rules.toml``.

Exit status: 0 done; 2 bad input (a bad date or number, none or several of --days /
--working-days / --rule, an unknown rule, an unsendable address); 3 the due date is
unconfirmed (it needs a year not yet in the holiday calendar), or for ``remind`` the SMTP
server is unavailable (try again later); 1 anything else.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from evidence_service.cli.common import (
    EXIT_DEFERRED,
    EXIT_FAILED,
    EXIT_USAGE,
    error_exit,
    json_out,
)
from evidence_service.config import Settings

if TYPE_CHECKING:
    from workflow.deadlines import Deadline
    from workflow.mail import SmtpSettings

__all__ = ["case_group", "smtp_settings"]


@click.group("case")
def case_group() -> None:
    """Administrative cases: deadlines, their rules, reminder mails."""


def _date(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        error_exit(f"{option} {value!r} is not a date: write it as YYYY-MM-DD", EXIT_USAGE)


def _days(option: str, value: str) -> int:
    from workflow.deadlines.rules import MAX_PERIOD_DAYS

    try:
        number = int(value)
    except ValueError:
        error_exit(f"{option} {value!r} is not a whole number of days", EXIT_USAGE)
    if not 1 <= number <= MAX_PERIOD_DAYS:
        error_exit(f"{option} must be 1 to {MAX_PERIOD_DAYS} days, not {number}", EXIT_USAGE)
    return number


def _compute(
    from_date: str | None,
    working_days: str | None,
    days: str | None,
    rule_id: str | None,
    today: str | None,
) -> Deadline:
    from workflow.deadlines import DeadlineError, Period, PeriodUnit, due

    given = [
        name
        for name, value in (("--working-days", working_days), ("--days", days), ("--rule", rule_id))
        if value is not None
    ]
    if len(given) != 1:
        which = "none was given" if not given else f"got {' and '.join(given)}"
        error_exit(
            f"give exactly one of --working-days N, --days N or --rule ID ({which})", EXIT_USAGE
        )
    if from_date is None:
        error_exit("--from DATE is required (the day of the event, YYYY-MM-DD)", EXIT_USAGE)
    start = _date("--from", from_date)
    assert start is not None
    target: Period | str
    if working_days is not None:
        target = Period(_days("--working-days", working_days), PeriodUnit.WORKING_DAYS)
    elif days is not None:
        target = Period(_days("--days", days), PeriodUnit.CALENDAR_DAYS)
    else:
        assert rule_id is not None
        target = rule_id
    try:
        return due(target, start, today=_date("--today", today))
    except DeadlineError as exc:
        error_exit(str(exc), EXIT_USAGE)


def _print(deadline: Deadline) -> None:
    from workflow.deadlines.workdays import describe

    if deadline.due_date is not None:
        click.echo(f"due: {describe(deadline.due_date)}")
    elif not deadline.confirmed:
        click.echo(
            f"due: unconfirmed (not before {deadline.not_before or 'an unknown date'}; "
            f"the calendar is known up to {deadline.last_confirmed_date or 'an unknown date'})"
        )
    else:
        click.echo(f"due: not yet known (suspended since {deadline.suspended_since})")
    title = f"{deadline.name_en} ({deadline.name_zh}): " if deadline.rule_id else ""
    period = deadline.period
    length = f" + {deadline.length - period.length} extension" if deadline.extensions else ""
    click.echo(
        f"{title}{period.describe}{length} {period.direction.value} {deadline.start_event_date}"
    )
    for source in deadline.sources:
        click.echo(f"source: {source}")
    click.echo("why:")
    for step in deadline.explanation:
        click.echo(f"  - {step}")
    left = "" if deadline.days_left is None else f", {deadline.days_left} day(s) left"
    click.echo(f"status on {deadline.today}: {deadline.status.value}{left}")


@case_group.command("deadline")
@click.option("--from", "from_date", metavar="DATE", help="Day of the event (not counted).")
@click.option("--working-days", metavar="N", help="A period of N working days (工作日).")
@click.option("--days", metavar="N", help="A period of N calendar days (日).")
@click.option("--rule", "rule_id", metavar="ID", help="A rule of rules.toml (evidence case rules).")
@click.option("--today", metavar="DATE", help="Status and days left as of this day.")
@click.option("--json", "as_json", is_flag=True, help="Print the deadline as JSON.")
def deadline_command(
    from_date: str | None,
    working_days: str | None,
    days: str | None,
    rule_id: str | None,
    today: str | None,
    as_json: bool,
) -> None:
    """Print the due date of a period and why (every day skipped or moved)."""
    deadline = _compute(from_date, working_days, days, rule_id, today)
    if as_json:
        json_out(deadline.to_dict())
    else:
        _print(deadline)
    if not deadline.confirmed:
        raise SystemExit(EXIT_DEFERRED)


@case_group.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def rules_command(as_json: bool) -> None:
    """List the deadline rules (workflow/deadlines/rules.toml)."""
    from workflow.deadlines import DeadlineError, rules

    try:
        found = rules()
    except DeadlineError as exc:
        error_exit(str(exc), EXIT_FAILED)
    if as_json:
        json_out(
            [
                {
                    "id": r.id,
                    "name_zh": r.name_zh,
                    "name_en": r.name_en,
                    "length": r.period.length,
                    "unit": r.period.unit.value,
                    "direction": r.period.direction.value,
                    "from_event": r.from_event,
                    "suspended_by": sorted(r.suspended_by),
                    "extensions": [
                        {"by": t.by.value, "max_days": t.max_days} for t in r.extensions
                    ],
                    "sources": [s.citation for s in r.sources],
                }
                for r in found.values()
            ]
        )
        return
    for r in found.values():
        ext = ", ".join(f"+{t.max_days or '?'} by {t.by.value}" for t in r.extensions) or "none"
        click.echo(
            f"{r.id}: {r.period.describe} {r.period.direction.value} {r.from_event}; "
            f"extension: {ext} -- {r.name_zh} / {r.name_en}"
        )


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The mail settings of ``EVIDENCE_SMTP_*``; exit 2 when no server is configured."""
    from workflow.mail import SmtpSettings

    if not settings.smtp_host:
        error_exit("no SMTP server configured: set EVIDENCE_SMTP_HOST", EXIT_USAGE)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=password,
        from_addr=settings.smtp_from,
        ca_file=settings.smtp_ca_file,
        timeout_s=settings.smtp_timeout_s,
    )


@case_group.command("remind")
@click.option("--to", "recipient", required=True, help="E-mail address of the officer.")
@click.option("--case", "case_number", required=True, help="Case number shown in the mail.")
@click.option("--rule", "rule_id", required=True, metavar="ID", help="A rule of rules.toml.")
@click.option("--from", "from_date", required=True, metavar="DATE", help="Day of the event.")
@click.option("--today", metavar="DATE", help="Days left as of this day.")
def remind_command(
    recipient: str, case_number: str, rule_id: str, from_date: str, today: str | None
) -> None:
    """Send a deadline reminder mail now (through EVIDENCE_SMTP_*)."""
    from workflow.mail import (
        InvalidRecipientError,
        MailError,
        SmtpUnavailableError,
        reminder_for,
        send_reminders,
    )

    deadline = _compute(from_date, None, None, rule_id, today)
    settings = smtp_settings(Settings())
    try:
        sent = send_reminders([reminder_for(recipient, case_number, deadline)], settings)
    except InvalidRecipientError as exc:
        error_exit(str(exc), EXIT_USAGE)
    except SmtpUnavailableError as exc:
        error_exit(str(exc), EXIT_DEFERRED)
    except MailError as exc:
        error_exit(str(exc), EXIT_DEFERRED if not deadline.confirmed else EXIT_FAILED)
    for mail in sent:
        click.echo(f"sent to {mail.recipient}: {mail.subject}")
