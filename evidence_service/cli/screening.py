"""``evidence screening``: screen complaints for professional claimants from the command line
(the same screening as on arrival and on the case page), and show a complaint's result.

``run CASE`` screens one complaint (its id or number); ``run --pending`` indexes and screens
every complaint never screened yet (complaints from before the screening existed, or whose
screening on arrival failed). ``show CASE`` prints the newest result. Exit 2 for a case that
does not exist or is no complaint.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import click

from evidence_service.cli.common import EXIT_USAGE, error_exit, json_out, open_services

__all__ = ["screening_group"]

_BY = "evidence 命令行 / command line"


@click.group("screening")
def screening_group() -> None:
    """Complaints screened for professional claimants (a suggestion, never a refusal)."""


def _print(result: object) -> None:
    from workflow.screening import ScreeningResult

    assert isinstance(result, ScreeningResult)
    china = timezone(timedelta(hours=8))
    flag = "FLAGGED" if result.flagged else "not flagged"
    when = result.screened_at.astimezone(china)
    click.echo(
        f"case {result.case_id}: score {result.score}/100, {flag} (flag score "
        f"{result.flag_score}), {result.trigger} {when:%Y-%m-%d %H:%M}, rules {result.version}"
    )
    for f in result.facts:
        click.echo(f"  +{f.points:g} {f.fact}: {f.zh} / {f.en}")
        for p in f.points_at[:10]:
            click.echo(
                f"      {p.case_id} {p.received_at.astimezone(china):%Y-%m-%d} unit {p.unit_id} "
                f"{p.name or '-'} {p.merchant} ({p.why})"
            )


def _out(result: object, as_json: bool) -> None:
    from workflow.screening import ScreeningResult

    assert isinstance(result, ScreeningResult)
    if as_json:
        json_out(
            {
                "case_id": result.case_id,
                "id": result.id,
                "score": result.score,
                "flagged": result.flagged,
                "flag_score": result.flag_score,
                "period_days": result.period_days,
                "version": result.version,
                "trigger": result.trigger,
                "screened_at": result.screened_at.isoformat(),
                "facts": [f.to_json() for f in result.facts],
            }
        )
    else:
        _print(result)


@screening_group.command("run")
@click.argument("case", required=False)
@click.option("--pending", is_flag=True, help="Every complaint never screened yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run_command(case: str | None, pending: bool, as_json: bool) -> None:
    """Screen CASE (id or number), or with --pending every complaint not screened yet."""
    from sqlalchemy import select

    from evidence_service.sealing.case_file import case_context
    from evidence_service.web.api.screening import screener_of
    from storage.models import Case, ComplaintScreening
    from workflow.cases.service import CaseNotFound, find_case
    from workflow.screening import NotAComplaint, index_pending, screen

    if (case is None) == (not pending):
        error_exit("give a CASE or --pending (one of them)", EXIT_USAGE)
    services = open_services()
    services.migrate()
    screener = screener_of(services)
    if case is not None:
        try:
            case_id = find_case(case_context(services), case)
            _out(screen(screener, case_id, trigger="on_demand", by=_BY), as_json)
        except (CaseNotFound, NotAComplaint) as exc:
            error_exit(str(exc), EXIT_USAGE)
        return
    index_pending(services.sessions, screener.rules)
    with services.session() as session:
        todo = list(
            session.scalars(
                select(Case.id)
                .where(Case.source == "complaint")
                .where(~Case.id.in_(select(ComplaintScreening.case_id)))
                .order_by(Case.received_at)
            )
        )
    flagged = 0
    for case_id in todo:
        flagged += screen(screener, case_id, trigger="batch", by=_BY).flagged
    click.echo(f"screened {len(todo)} complaint(s), {flagged} flagged")


@screening_group.command("show")
@click.argument("case")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def show_command(case: str, as_json: bool) -> None:
    """The newest screening of CASE (id or number)."""
    from evidence_service.sealing.case_file import case_context
    from workflow.cases.service import CaseNotFound, find_case
    from workflow.screening import latest

    services = open_services()
    services.migrate()
    try:
        case_id = find_case(case_context(services), case)
    except CaseNotFound as exc:
        error_exit(str(exc), EXIT_USAGE)
    result = latest(services.sessions, case_id)
    if result is None:
        error_exit(f"case {case} has not been screened: evidence screening run {case}", EXIT_USAGE)
    _out(result, as_json)
