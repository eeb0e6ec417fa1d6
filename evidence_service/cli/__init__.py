"""The ``evidence`` command.

It works on the same data directory, database, store and keys as the server and needs no
server running: ``evidence capture`` runs the capture and the seal in-process (with the built-in
TSA in-process too when no ``EVIDENCE_TSA_URL`` is set), records it in the database like any
other capture, and writes the sealed package where asked.

One module per group of commands; each defines its commands on its own and this module puts
them together, so no command module imports this one. Heavy modules (Chromium, the sealing
pipeline, the verifier's PDF stack) are imported inside the commands that need them, so that
``evidence verify`` or ``evidence --help`` start quickly.
"""

from __future__ import annotations

import logging

import click

from evidence_service import __version__
from evidence_service.cli.accounts import token, user
from evidence_service.cli.backup import backup, restore
from evidence_service.cli.captures import capture, devices_cmd, status_cmd
from evidence_service.cli.cases import case_group
from evidence_service.cli.certs import certs_group, trust
from evidence_service.cli.compare import compare_command
from evidence_service.cli.documents import document_group, sign_command
from evidence_service.cli.log import log_group, renew
from evidence_service.cli.merchants import merchants_group
from evidence_service.cli.screening import screening_group
from evidence_service.cli.service import init, run, serve, worker
from evidence_service.cli.verify import verify as verify_command
from evidence_service.cli.watches import watch_group


@click.group()
@click.version_option(__version__, prog_name="evidence")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """Evidence service: sealed web captures, verification and signing."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for command in (
    init,
    run,
    serve,
    worker,
    capture,
    status_cmd,
    compare_command,
    devices_cmd,
    trust,
    user,
    token,
    certs_group,
    verify_command,
    sign_command,
    document_group,
    log_group,
    renew,
    case_group,
    merchants_group,
    screening_group,
    backup,
    restore,
    watch_group,
):
    main.add_command(command)
