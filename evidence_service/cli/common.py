"""What the ``evidence`` commands share: the services they open, exit statuses, error output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from evidence_service.config import Settings
from evidence_service.services import Services

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEFERRED, EXIT_PARTIAL = 0, 1, 2, 3, 4


def open_services() -> Services:
    """The same data folder, database, store and keys as the server (from the settings)."""
    return Services(Settings())


def error_exit(message: str, code: int) -> NoReturn:
    """One line ``error: ...`` on stderr (what scripts and the tests read), then exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def fail(message: str, code: int, as_json: bool, detail: dict[str, Any]) -> NoReturn:
    """``error_exit``, and with ``--json`` a rejection record on stdout as well."""
    if as_json:
        click.echo(json.dumps({"status": "rejected", "error": detail}, ensure_ascii=False))
    error_exit(message, code)


def json_out(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
