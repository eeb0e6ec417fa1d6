"""``evidence log|renew``: the transparency log (tree heads, proofs, audit) and the archive
time-stamps that keep packages verifiable after their certificates expire."""

from __future__ import annotations

import sys

import click

from evidence_service.cli.common import EXIT_FAILED, EXIT_USAGE, fail, json_out, open_services


@click.group("log")
def log_group() -> None:
    """The transparency log: tree heads, proofs, audit."""


@log_group.command("info")
def log_info() -> None:
    """The log's id, key and size (JSON)."""
    from evidence_service.sealing.transparency import TransparencyLog

    services = open_services()
    services.migrate()
    json_out(TransparencyLog(services).info())


@log_group.command("sth")
@click.option("--publish", is_flag=True, help="Sign and publish a tree head for the current size.")
@click.option("--tree-size", type=int, default=None, help="An earlier published tree head.")
def log_sth(publish: bool, tree_size: int | None) -> None:
    """Print the newest signed tree head (JSON), or publish one now."""
    from evidence_service.sealing.renewal import publish_tree_head
    from evidence_service.sealing.transparency import TransparencyError, TransparencyLog

    services = open_services()
    services.migrate()
    tlog = TransparencyLog(services)
    try:
        if publish:
            sth = publish_tree_head(services)
        elif tree_size is not None:
            sth = tlog.sth(tree_size)
        else:
            found = tlog.latest_sth()
            if found is None:
                fail("no tree head has been published yet (use --publish)", EXIT_FAILED, False, {})
                return
            sth = found
    except TransparencyError as exc:
        fail(str(exc), EXIT_FAILED, False, {})
        return
    json_out(sth)


@log_group.command("proof")
@click.option("--leaf-hash", default=None, help="Inclusion proof of this leaf hash (hex).")
@click.option("--capture", "capture_id", default=None, help="Inclusion proof of a capture.")
@click.option(
    "--tree-size", type=int, default=None, help="Against this tree head (default: newest)."
)
@click.option("--first", type=int, default=None, help="Consistency proof from this tree size ...")
@click.option("--second", type=int, default=None, help="... to this one.")
def log_proof(
    leaf_hash: str | None,
    capture_id: str | None,
    tree_size: int | None,
    first: int | None,
    second: int | None,
) -> None:
    """Print an inclusion proof (--leaf-hash or --capture) or a consistency proof
    (--first, --second) as JSON, each with its signed tree head(s)."""
    from evidence_service.sealing.transparency import TransparencyError, TransparencyLog

    services = open_services()
    services.migrate()
    tlog = TransparencyLog(services)
    try:
        if first is not None or second is not None:
            if first is None or second is None:
                fail("give both --first and --second", EXIT_USAGE, False, {})
                return
            json_out(tlog.consistency_proof(first, second))
            return
        if capture_id is not None:
            entry = tlog.entry_for_capture(capture_id)
            if entry is None:
                fail(f"capture {capture_id} has no log entry", EXIT_FAILED, False, {})
                return
            leaf_hash = entry.leaf_hash
        if leaf_hash is None:
            fail("give --leaf-hash, --capture, or --first and --second", EXIT_USAGE, False, {})
            return
        json_out(tlog.inclusion_proof(leaf_hash.lower(), tree_size))
    except TransparencyError as exc:
        fail(str(exc), EXIT_FAILED, False, {})


@log_group.command("audit")
def log_audit() -> None:
    """Recompute every published root and cached subtree from the stored entries."""
    from evidence_service.sealing.transparency import TransparencyLog

    services = open_services()
    services.migrate()
    problems = TransparencyLog(services).audit()
    for problem in problems:
        click.echo(f"PROBLEM: {problem}")
    if problems:
        sys.exit(EXIT_FAILED)
    click.echo("the stored log matches every published tree head")


@click.command("renew")
@click.option("--all", "renew_all", is_flag=True, help="Renew every stored package now.")
@click.option(
    "--before",
    type=float,
    default=30.0,
    show_default=True,
    help="Renew packages whose certificates expire within this many days.",
)
@click.option("--json", "as_json", is_flag=True)
def renew(renew_all: bool, before: float, as_json: bool) -> None:
    """Add archive time-stamps to the proofs of packages whose certificates near expiry."""
    from datetime import timedelta

    from evidence_service.sealing.renewal import renew_due

    services = open_services()
    services.migrate()
    outcomes = renew_due(services, before=timedelta(days=before), all_=renew_all)
    if as_json:
        json_out(
            [
                {
                    "capture_id": o.capture_id,
                    "renewed": o.renewed,
                    "reason": o.reason,
                    "proofs_key": o.proofs_key,
                    "expires": o.expires.isoformat() if o.expires else None,
                }
                for o in outcomes
            ]
        )
    else:
        for o in outcomes:
            click.echo(f"{o.capture_id}: {'renewed' if o.renewed else 'skipped'} ({o.reason})")
        click.echo(f"{sum(o.renewed for o in outcomes)} of {len(outcomes)} package(s) renewed")
    if any(o.reason.startswith("failed") for o in outcomes):
        sys.exit(EXIT_FAILED)
