"""``evidence case deadline|rules|remind``: the deadline engine of the administrative case from
the command line -- the same function (:func:`workflow.deadlines.due`) the case workflow uses,
so an officer or a lawyer can check a due date, and why, against a paper calendar. And
``evidence case open|list|show|act|assign|graph``: the cases themselves, with the checks and
the JSON of the REST API (``evidence_service/web/api/cases.py``); a refused action prints
every reason and exits 2.

``evidence case deadline --from 2026-09-30 --days 4`` prints the due date (2026-10-08: the
last day is in the National Day holiday) and every step of the count. ``--working-days N``
counts working days, ``--rule ID`` a rule of ``workflow/deadlines/rules.toml``.

Exit status: 0 done; 2 bad input (a bad date or number, none or several of --days /
--working-days / --rule, an unknown rule, an unsendable address); 3 the due date is
unconfirmed (it needs a year not yet in the holiday calendar), or for ``remind`` the SMTP
server is unavailable (try again later); 1 anything else.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from sqlalchemy import select

from evidence_service.cli.common import (
    EXIT_DEFERRED,
    EXIT_FAILED,
    EXIT_USAGE,
    error_exit,
    json_out,
    open_services,
)
from evidence_service.config import Settings

if TYPE_CHECKING:
    from evidence_service.services import Services
    from evidence_service.web.api.cases import CaseApiError, CaseOut
    from storage.models import User
    from workflow.cases.service import CaseContext
    from workflow.deadlines import Deadline
    from workflow.mail import SmtpSettings

__all__ = ["case_group", "smtp_settings"]


@click.group("case")
def case_group() -> None:
    """Administrative cases: open, list, show, act, assign; the process graph; deadlines,
    their rules, reminder mails."""


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


@case_group.command("export")
@click.argument("case")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the case file (e.g. case.zip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def export_command(case: str, output: Path, as_json: bool) -> None:
    """Export the whole electronic case file of CASE (its id or case number) as one signed,
    time-stamped ZIP that `evidence verify` checks offline (docs/case-file.md).

    Exit status: 0 written; 2 no such case; 3 not yet (evidence still being sealed or
    awaiting its log proof: try again later); 1 anything else (nothing is written then).
    """
    from evidence_service.cli.common import open_services
    from evidence_service.sealing.case_export import (
        CaseExportError,
        CaseExportPending,
        export_case,
    )
    from evidence_service.sealing.case_file import case_context
    from workflow.cases.service import CaseNotFound, find_case

    services = open_services()
    try:
        case_id = find_case(case_context(services), case)
        result = export_case(services, case_id, output, exported_by="cli")
    except CaseNotFound as exc:
        error_exit(str(exc), EXIT_USAGE)
    except CaseExportPending as exc:
        error_exit(str(exc), EXIT_DEFERRED)
    except (CaseExportError, OSError) as exc:
        error_exit(str(exc), EXIT_FAILED)
    finally:
        services.close()
    if as_json:
        json_out({"path": str(output), **dataclasses.asdict(result)})
        return
    click.echo(
        f"wrote {output}: {result.size} bytes, SHA-256 {result.sha256}; case "
        f"{result.case_number or result.case_id}: {result.events} events, {result.documents} "
        f"documents ({result.document_versions} versions), {result.evidence} evidence; "
        f"tree head of {result.tree_size} entries"
    )


# -- the cases themselves: open, list, show, act, assign, graph ---------------------------------
#
# The same checks and the same JSON as the REST API (evidence_service/web/api/cases.py): with
# ``--as USERNAME`` a command acts as that account, in the roles it is staffed as on the case,
# and is refused what the API would refuse it; without it, the command acts as the system
# (the process role ``system``: it may record a lead, close a lead, record a payment or
# publish, and it staffs cases; it sees the cases of every unit).

_CASE_STATES_HELP = "A state of workflow/cases/process.toml (evidence case graph shows them)."


def _system() -> Any:
    """The actor of a command run without ``--as``."""
    from workflow.cases.service import Actor

    return Actor("system", "evidence 命令行 / command line", "system", None)


def _case_services() -> tuple[Services, CaseContext]:
    from evidence_service.sealing.case_file import case_context

    services = open_services()
    services.migrate()
    return services, case_context(services)


def _as_user(services: Services, username: str | None, what: str = "--as ") -> User | None:
    """The active account ``--as`` names (None without ``--as``); exit 2 otherwise."""
    from storage.models import User

    if username is None:
        return None
    with services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            error_exit(f"{what}{username!r}: no such account", EXIT_USAGE)
        if user.disabled:
            error_exit(f"{what}{username!r}: the account is disabled", EXIT_USAGE)
        session.expunge(user)
        return user


def _case_id(ctx: CaseContext, text: str) -> str:
    """The id of the case with this id or number (示市监处〔2026〕12号); exit 2 if none."""
    from workflow.cases.service import CaseNotFound, find_case

    try:
        return find_case(ctx, text)
    except CaseNotFound as exc:
        error_exit(str(exc), EXIT_USAGE)


def _refuse(exc: CaseApiError, as_json: bool) -> NoReturn:
    """The API's refusal, as the CLI says it: ``error: ...`` and each reason on its own line."""
    reasons = exc.extra.get("reasons") or []
    detail = {"code": exc.code, "message": str(exc), **exc.extra}
    if as_json:
        click.echo(json.dumps({"status": "rejected", "error": detail}, ensure_ascii=False))
    field = exc.extra.get("field")
    message = str(exc) if not field or str(exc).startswith(f"{field}:") else f"{field}: {exc}"
    if exc.code == "refused" and "action" in exc.extra:
        message = f"{exc.extra['action']!r} refused in state {exc.extra['state']!r}:"
        if exc.extra.get("hint"):
            message = f"{message[:-1]} {exc.extra['hint']}:"
    click.echo(f"error: {message}", err=True)
    for reason in reasons:
        click.echo(f"  - {reason['zh']} / {reason['en']} [{reason['guard']}]", err=True)
    sys.exit(EXIT_USAGE)


def _procedures() -> click.Choice:
    return click.Choice(["general", "simplified", "fast_track"])


@case_group.command("open")
@click.option("--title", required=True, help="Short title of the lead.")
@click.option("--summary", required=True, help="What was found and where.")
@click.option("--party", "party_name", help="The party: name of the shop or person.")
@click.option("--credit-code", help="The party's unified social credit code (needs --party).")
@click.option("--shop-url", help="The shop's URL.")
@click.option("--procedure", type=_procedures(), default="general", show_default=True)
@click.option(
    "--party-kind",
    type=click.Choice(["organisation", "natural_person"]),
    default="organisation",
    show_default=True,
)
@click.option("--as", "username", metavar="USERNAME", help="Open it as this officer (staffed).")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON.")
def open_command(
    title: str,
    summary: str,
    party_name: str | None,
    credit_code: str | None,
    shop_url: str | None,
    procedure: str,
    party_kind: str,
    username: str | None,
    as_json: bool,
) -> None:
    """Open a case from a lead (state received); with --as, the officer is staffed on it.

    Without --as the system records the lead, in the only unit there is."""
    from pydantic import ValidationError

    from evidence_service.web.api.cases import (
        CaseApiError,
        CaseIn,
        actor_of,
        open_lead,
        opening_unit,
        view_of,
    )
    from storage.models import Unit
    from workflow.errors import FieldError
    from workflow.merchants import normalize_credit_code

    if credit_code is not None and party_name is None:
        error_exit("--credit-code is the party's: give --party NAME too", EXIT_USAGE)
    if credit_code is not None:
        try:
            credit_code = normalize_credit_code(credit_code, "--credit-code")
        except FieldError as exc:
            error_exit(str(exc), EXIT_USAGE)
    party: dict[str, Any] = {"name": party_name, "credit_code": credit_code, "shop_url": shop_url}
    try:
        body = CaseIn.model_validate(
            {
                "title": title,
                "summary": summary,
                "parties": [party] if party_name is not None else [],
                "procedure": procedure,
                "party_kind": party_kind,
                "shop_url": shop_url,
            }
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = "--" + "-".join(str(p) for p in problem["loc"] if not isinstance(p, int))
        where = {"--parties-name": "--party", "--parties-credit-code": "--credit-code"}.get(
            where, where.replace("_", "-")
        )
        error_exit(f"{where}: {problem['msg']}", EXIT_USAGE)
    services, ctx = _case_services()
    user = _as_user(services, username)
    try:
        if user is not None:
            unit_id = opening_unit(user)
            case_id, _ = open_lead(ctx, body, actor_of(user, "officer"), unit_id, user)
        else:
            with services.session() as session:
                units = list(session.scalars(select(Unit.id)))
            if len(units) != 1:
                error_exit(
                    f"{'no unit yet: run evidence init' if not units else 'several units'}; "
                    "give --as USERNAME to open the case in that officer's unit",
                    EXIT_USAGE,
                )
            case_id, _ = open_lead(ctx, body, _system(), units[0], None)
    except CaseApiError as exc:
        _refuse(exc, as_json)
    if as_json:
        out = view_of(ctx, user, case_id) if user is not None else _system_view(ctx, case_id)
        json_out(out.model_dump(mode="json"))
        return
    staffed = f"; {user.username} staffed as officer" if user is not None else ""
    click.echo(f"case {case_id} opened (received){staffed}")


def _system_view(ctx: CaseContext, case_id: str) -> CaseOut:
    """The case as the command line sees it: no role of its own, every staff role's options."""
    from evidence_service.web.api.cases import STAFF_ROLES, case_out
    from workflow.cases import service

    return case_out(service.case_view(ctx, _system(), case_id), [], STAFF_ROLES)


def _next_deadline(deadlines: list[Any]) -> str:
    running = [d for d in deadlines if d.status not in ("met",) and d.met_on is None]
    if not running:
        return ""
    d = min(running, key=lambda d: (d.due_date is None, d.due_date or date.max))
    left = "" if d.days_left is None else f", {d.days_left} day(s) left"
    return f"{d.rule} due {d.due_date or 'unconfirmed'} ({d.status}{left})"


@case_group.command("list")
@click.option("--state", help=_CASE_STATES_HELP)
@click.option("--procedure", type=_procedures(), help="Only cases in this procedure.")
@click.option("--all", "everything", is_flag=True, help="Closed cases too.")
@click.option("--as", "username", metavar="USERNAME", help="Only this officer's unit's cases.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the cases as JSON.")
def list_command(
    state: str | None,
    procedure: str | None,
    everything: bool,
    username: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List cases, newest first, with their next deadline (open ones unless --all or
    --state)."""
    from evidence_service.web.api.cases import account_role, actor_of, row_out
    from workflow.cases import access, process, service

    if state is not None and state not in process.default_process().states:
        states = ", ".join(process.default_process().states)
        error_exit(f"--state {state!r} is no state of the process; states: {states}", EXIT_USAGE)
    services, ctx = _case_services()
    user = _as_user(services, username)
    unit_id: int | None = None
    who = _system()
    if user is not None:
        subject = access.Subject(actor_unit=None if user.unit_id is None else str(user.unit_id))
        decision = access.can(account_role(user), "case_list", subject)
        if not decision:
            error_exit(f"--as {username}: {decision.en}", EXIT_USAGE)
        unit_id = user.unit_id if decision.scope == "own_unit" else None
        who = actor_of(user, account_role(user))
    rows = [
        row_out(r)
        for r in service.list_cases(
            ctx,
            who,
            unit_id=unit_id,
            state=state,
            procedure=procedure,
            open_only=not (everything or state is not None),
            limit=limit,
        )
    ]
    if as_json:
        json_out([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        click.echo("no cases")
    for r in rows:
        line = f"{r.number or '(no number)'}  {r.id}  {r.state} {r.state_zh}  {r.procedure}  "
        click.echo(f"{line}{r.title}  {_next_deadline(r.deadlines)}".rstrip())


@case_group.command("show")
@click.argument("case")
@click.option("--as", "username", metavar="USERNAME", help="As this officer sees it.")
@click.option("--json", "as_json", is_flag=True, help="Print the case as JSON (as the API).")
def show_command(case: str, username: str | None, as_json: bool) -> None:
    """Show CASE (its id or number): parties, staff, deadlines, events, evidence and what
    may be done now."""
    from evidence_service.web.api.cases import CaseApiError, view_of

    services, ctx = _case_services()
    user = _as_user(services, username)
    case_id = _case_id(ctx, case)
    try:
        out = view_of(ctx, user, case_id) if user is not None else _system_view(ctx, case_id)
    except CaseApiError as exc:
        _refuse(exc, as_json)
    if as_json:
        json_out(out.model_dump(mode="json"))
    else:
        _print_case(out)


def _print_case(c: CaseOut) -> None:
    def local(at: datetime) -> str:
        return at.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")

    click.echo(f"case {c.number or '(no number yet)'}  id {c.id}")
    click.echo(f"title: {c.title}")
    click.echo(f"state: {c.state} {c.state_zh} / {c.state_en} (step {c.step}), {c.procedure}")
    if c.summary:
        click.echo(f"summary: {c.summary}")
    for p in c.parties:
        extra = ", ".join(x for x in (p.credit_code, p.shop_url, p.platform) if x)
        click.echo(f"party: {p.name}" + (f" ({extra})" if extra else ""))
    for s in c.staff:
        click.echo(f"staff: {s.name} ({s.role}, badge {s.badge_number or 'none'})")
    click.echo("deadlines:" if c.deadlines else "deadlines: none running")
    for d in c.deadlines:
        left = "" if d.days_left is None else f", {d.days_left} day(s) left"
        click.echo(
            f"  {d.rule} {d.name_zh} / {d.name_en}: due {d.due_date or 'unconfirmed'} "
            f"({d.status}{left})"
        )
    for e in c.evidence:
        click.echo(f"evidence {e.id}: {e.file_name} sha256 {e.sha256}")
    for doc in c.documents:
        click.echo(f"document: {doc.template} {doc.document_id}")
    click.echo("events:")
    for ev in c.events:
        move = f" {ev.from_state} -> {ev.to_state}" if ev.from_state != ev.to_state else ""
        click.echo(
            f"  {ev.seq:>3} {local(ev.at)} {ev.actor_name} ({ev.role}) {ev.action}{move}  "
            f"{ev.hash[:16]}"
        )
    click.echo("options:" if c.options else "options: none")
    for o in c.options:
        click.echo(f"  [{'x' if o.allowed else ' '}] {o.role}: {o.action} {o.zh} -> {o.target}")
        for r in o.reasons:
            click.echo(f"        - {r.zh} / {r.en}")


def _parse_value(kind: str | None, key: str, text: str) -> Any:
    """``--set`` values: true/false, whole numbers, dates, ``fine:500000`` (fen) and
    ``warning`` for penalties; kept as text for the action's text and choice fields."""
    value = text.strip()
    if kind in ("text", "choice"):
        return text
    if kind == "penalty" or (kind is None and (value == "warning" or value.startswith("fine:"))):
        if value == "warning":
            return {"kind": "warning"}
        amount = value.removeprefix("fine:")
        if not value.startswith("fine:") or not amount.isdigit() or int(amount) <= 0:
            error_exit(
                f"--set {key}={text}: a penalty is warning or fine:AMOUNT_IN_FEN "
                "(fine:500000 is 5,000 yuan)",
                EXIT_USAGE,
            )
        return {"kind": "fine", "amount_fen": int(amount)}
    if value in ("true", "false"):
        return value == "true"
    if kind == "boolean":
        error_exit(f"--set {key}={text}: true or false", EXIT_USAGE)
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        if kind == "date":
            error_exit(f"--set {key}={text}: a date, YYYY-MM-DD", EXIT_USAGE)
    if value.lstrip("-").isdigit():
        return int(value)
    return text


def _payload(action: str, assignments: tuple[str, ...]) -> dict[str, Any]:
    from evidence_service.web.api.cases import payload_fields

    kinds = {f.name: f.kind for f in payload_fields(action)}
    payload: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            error_exit(f"--set {item!r}: write it as key=value", EXIT_USAGE)
        if key in payload:
            error_exit(f"--set {key} is given twice", EXIT_USAGE)
        payload[key] = _parse_value(kinds.get(key), key, text)
    return payload


@case_group.command("act")
@click.argument("case")
@click.argument("action")
@click.option("--as", "username", metavar="USERNAME", help="Act as this officer.")
@click.option(
    "--role",
    type=click.Choice(["officer", "reviewer", "head"]),
    help="Which of your roles on the case (when you hold several).",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A payload value (repeat): true/false, 12, 2026-03-16, fine:500000 (fen), warning.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (as the API).")
def act_command(
    case: str,
    action: str,
    username: str | None,
    role: str | None,
    assignments: tuple[str, ...],
    as_json: bool,
) -> None:
    """Take ACTION in CASE (its id or number); a refusal prints every reason (exit 2).

    ``evidence case show CASE`` lists the actions of the current state and what each takes."""
    from evidence_service.web.api.cases import (
        ActionOut,
        CaseApiError,
        clean_payload,
        take_action,
        view_of,
    )
    from workflow.cases import process, service
    from workflow.cases.process import TransitionRefused, UnknownAction

    if role is not None and username is None:
        error_exit("--role is one of your roles on the case: give --as USERNAME too", EXIT_USAGE)
    payload = _payload(action, assignments)
    services, ctx = _case_services()
    user = _as_user(services, username)
    case_id = _case_id(ctx, case)
    try:
        if user is not None:
            done = take_action(ctx, user, case_id, action, payload, role)
        else:
            if action not in process.default_process().actions:
                known = ", ".join(process.default_process().actions)
                error_exit(f"no action {action!r}; actions: {known}", EXIT_USAGE)
            try:
                done = service.act(ctx, _system(), case_id, action, clean_payload(action, payload))
            except TransitionRefused as exc:
                reasons = [{"guard": r.guard, "zh": r.zh, "en": r.en} for r in exc.reasons]
                hint = "(use --as USERNAME to act as a person)" if "role" in exc.guards else ""
                raise CaseApiError(
                    409,
                    "refused",
                    str(exc),
                    action=exc.action,
                    state=exc.state,
                    reasons=reasons,
                    **({"hint": hint} if hint else {}),
                ) from exc
            except UnknownAction as exc:
                raise CaseApiError(409, "not_available", str(exc)) from exc
            except service.PayloadError as exc:
                raise CaseApiError(422, "invalid_payload", str(exc), field=exc.field) from exc
    except CaseApiError as exc:
        _refuse(exc, as_json)
    if as_json:
        out = view_of(ctx, user, case_id) if user is not None else _system_view(ctx, case_id)
        record = ActionOut(
            action=done.action,
            role=done.role,
            from_state=done.source,
            to_state=done.target,
            documents=list(done.documents),
            step=done.step,
            case=out,
        )
        json_out(record.model_dump(mode="json"))
        return
    click.echo(f"{done.action}: {done.source} -> {done.target} (as {done.role})")
    if done.documents:
        click.echo(f"documents to issue: {', '.join(done.documents)}")


@case_group.command("assign")
@click.argument("case")
@click.argument("username")
@click.option("--role", type=click.Choice(["officer", "reviewer", "head"]), required=True)
@click.option("--as", "acting", metavar="USERNAME", help="Staff the case as this officer.")
def assign_command(case: str, username: str, role: str, acting: str | None) -> None:
    """Put USERNAME on CASE (its id or number) as officer, reviewer or head."""
    from evidence_service.web.api.cases import CaseApiError, assign_staff
    from workflow.cases import service

    services, ctx = _case_services()
    user = _as_user(services, acting)
    case_id = _case_id(ctx, case)
    target = _as_user(services, username, "")
    assert target is not None
    try:
        if user is not None:
            assign_staff(ctx, user, case_id, role, username=username)
        else:
            service.assign(ctx, _system(), case_id, target.id, role)
    except CaseApiError as exc:
        _refuse(exc, False)
    except service.CaseError as exc:
        error_exit(f"{username}: {exc}", EXIT_USAGE)
    click.echo(f"{username} staffed on case {case} as {role}")


@case_group.command("graph")
@click.option(
    "--format", "drawing", type=click.Choice(["mermaid", "dot"]), default="mermaid",
    show_default=True,
)  # fmt: skip
@click.option("--procedure", type=_procedures(), help="Draw one procedure only.")
def graph_command(drawing: str, procedure: str | None) -> None:
    """Draw the case process (the table the service obeys; docs/case-process.md shows it)."""
    from workflow.cases import graph

    click.echo(graph.mermaid(procedure) if drawing == "mermaid" else graph.dot(procedure), nl=False)
