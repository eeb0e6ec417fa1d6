"""``evidence compare A.wacz B.wacz -o report.pdf [--json]``: what changed between two sealed
captures of a page, as a sealed and signed comparison report.

Both packages are verified first (a package that fails verification is refused, exit 1); the
report is signed with this service's seal, like an evidence certificate, and verifies offline
with ``evidence verify report.pdf --package A.wacz --package B.wacz``. Without ``-o`` the
comparison is only printed (nothing is signed). ``--json`` prints the report's facts: the text
lines added and removed, the changed fields (old and new value), the images added and removed
(by SHA-256), the changed-pixel share, and both packages' hashes and trusted times.

Exit status: 0 compared, 1 a package does not verify, 2 bad usage or a file that is not a
sealed package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evidence_service.cli.common import EXIT_FAILED, EXIT_USAGE, error_exit, json_out, open_services

__all__ = ["compare_command"]


def _print(facts: dict[str, Any], output: Path | None, sha256: str | None) -> None:
    a, b = facts["a"], facts["b"]
    click.echo(f"A: {a['file']}  sha256 {a['sha256']}  trusted time {a['trusted_time'] or '—'}")
    click.echo(f"B: {b['file']}  sha256 {b['sha256']}  trusted time {b['trusted_time'] or '—'}")
    if facts.get("page_gone"):
        click.echo(f"the page is gone in B (HTTP {b['http_status']}, {b['final_url']})")
    for change in facts["fields"]["changed"]:
        click.echo(f"field {change['field']}: {change['old']} -> {change['new']}")
    for line in facts["text"]["removed"]:
        click.echo(f"- {line}")
    for line in facts["text"]["added"]:
        click.echo(f"+ {line}")
    for ref in facts["images"]["removed"]:
        click.echo(f"image removed sha256:{ref['sha256']} {' '.join(ref['urls'])}")
    for ref in facts["images"]["added"]:
        click.echo(f"image added   sha256:{ref['sha256']} {' '.join(ref['urls'])}")
    visual = facts.get("visual")
    if visual:
        click.echo(f"changed pixels: {visual['changed_pixel_share'] * 100:.2f} %")
    if output is not None:
        click.echo(f"report: {output} (sha256 {sha256})")


@click.command("compare")
@click.argument("a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the sealed, signed comparison report (PDF) here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison's facts as JSON.")
def compare_command(a: Path, b: Path, output: Path | None, as_json: bool) -> None:
    """Compare two sealed captures A (earlier) and B (later) of a page."""
    from capture.compare import PackageError, compare

    if output is None:
        try:
            facts = compare(a, b).summary()
        except PackageError as exc:
            error_exit(str(exc), EXIT_USAGE)
        json_out(facts) if as_json else _print(facts, None, None)
        return

    from evidence_service.bootstrap import initialize
    from evidence_service.sealing.comparison import ComparisonError, make_comparison_report

    if output.suffix.lower() != ".pdf":
        raise click.BadParameter(f"{output}: the report is a PDF; name it .pdf", param_hint="-o")
    services = open_services()
    initialize(services)
    try:
        made = make_comparison_report(services, a, b, output)
    except ComparisonError as exc:
        error_exit(f"{exc.code}: {exc}", EXIT_FAILED if exc.code == "not_verified" else EXIT_USAGE)
    facts = dict(made.facts)
    facts["report"] = {"path": str(output), "sha256": made.sha256}
    if as_json:
        json_out(facts)
    else:
        _print(facts, output, made.sha256)
