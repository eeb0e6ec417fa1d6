"""``evidence merchants``: the merchant register on the command line (room: register).

``import FILE`` reads a CSV or XLSX register file (a header row with at least ``name``,
``credit_code``, ``legal_representative``, ``address``, ``shop_url``), prints each bad row as
``line N: field: problem`` and imports the rest; ``lookup TEXT`` takes a shop or listing URL,
a shop ID, a credit code or (part of) a name and prints the matches with their earlier
cases. Both work on the service's database with no server running. The register's modules
(SQLAlchemy, openpyxl, lxml) are imported inside the commands, as the other groups do, so that
``evidence --help`` stays quick.

Exit status: 0 done (bad rows are reported, not failures), 2 a file that is missing or
cannot be read at all, or an unknown ``--as`` account; ``lookup`` exits 1 when nothing
matches, so scripts can tell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from evidence_service.cli.common import EXIT_FAILED, EXIT_USAGE, error_exit, json_out, open_services

if TYPE_CHECKING:
    from evidence_service.services import Services

__all__ = ["merchants_group"]


@click.group("merchants")
def merchants_group() -> None:
    """The merchant register: import files, look up the operator behind a shop."""


def _unit_of(services: Services, username: str | None) -> tuple[int | None, str]:
    """The unit whose cases the record shows: the ``--as`` officer's, else the only one."""
    from sqlalchemy import select

    from storage.models import Unit, User

    with services.session() as session:
        if username is not None:
            user = session.scalar(select(User).where(User.username == username))
            if user is None or user.disabled:
                error_exit(f"--as {username!r}: no such active account", EXIT_USAGE)
            return user.unit_id, f"user:{user.id} {user.username}"
        units = list(session.scalars(select(Unit.id)))
    return (units[0] if len(units) == 1 else None), "cli"


@merchants_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--as", "username", metavar="USERNAME", help="Record the import as this officer's.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
def import_command(file: Path, username: str | None, as_json: bool) -> None:
    """Import a CSV or XLSX register file; re-importing updates entries with a change log."""
    from workflow.register import RegisterFileError, import_file

    if not file.is_file():
        error_exit(f"{file}: no such file", EXIT_USAGE)
    services = open_services()
    services.migrate()
    _unit, who = _unit_of(services, username)
    try:
        report = import_file(services.sessions, file, imported_by=who)
    except RegisterFileError as exc:
        error_exit(str(exc), EXIT_USAGE)
    if as_json:
        json_out(report.as_json())
        return
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(
        f"import {report.import_id}: {report.rows} rows, {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.bad_rows} bad"
    )


@merchants_group.command("lookup")
@click.argument("text")
@click.option(
    "--as", "username", metavar="USERNAME", help="Earlier cases as this officer sees them."
)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
def lookup_command(text: str, username: str | None, as_json: bool) -> None:
    """Find the operator behind a shop URL, shop ID, credit code or name."""
    from workflow.register import lookup, party_record

    services = open_services()
    services.migrate()
    unit_id, _who = _unit_of(services, username)
    with services.session() as session:
        result = lookup(session, text)
        records = [
            party_record(
                session,
                unit_id=unit_id,
                credit_code=m.credit_code,
                shop_urls=[s.shop_url for s in m.shops if s.shop_url],
            )
            for m in result.matches
        ]
    if as_json:
        out = result.as_json()
        for match, record in zip(out["matches"], records, strict=True):
            match["record"] = record.as_json()
        json_out(out)
    else:
        for _code, detail in result.notes:
            click.echo(f"note: {detail}", err=True)
        for m, record in zip(result.matches, records, strict=True):
            click.echo(f"{m.name}  {m.credit_code}  (matched by {m.matched_by})")
            if m.legal_representative or m.address:
                click.echo(f"  {m.legal_representative or '-'}; {m.address or '-'}")
            for s in m.shops:
                click.echo(
                    f"  shop: {s.platform or '-'} {s.shop_url or ''} {s.shop_id or ''}".rstrip()
                )
            first = "yes" if record.first_violation else "no"
            click.echo(
                f"  earlier cases: {len(record.cases)}, decisions: {record.decisions}, "
                f"first violation: {first}"
            )
            for c in record.cases:
                click.echo(
                    f"    {c.number or c.case_id} {c.title or ''} {c.decision or 'undecided'}"
                )
        if not result.matches:
            click.echo(f"no register entry matches {result.query!r} (looked up as {result.kind})")
    if not result.matches:
        raise SystemExit(EXIT_FAILED)
