"""``evidence backup|restore``: the database, every stored object and the PKI in one folder,
and back onto a fresh machine (see ``evidence_service.backup`` for what a backup holds).

Exit status: 0 done; 1 the backup or restore failed, or the backup is not intact (nothing was
restored); 4 the restore target already holds data (nothing was written; ``--force`` replaces
it). The last line on stderr is ``error: ...`` naming what to do.
"""

from __future__ import annotations

from pathlib import Path

import click

from evidence_service.cli.common import EXIT_FAILED, EXIT_PARTIAL, error_exit, json_out

__all__ = ["backup", "restore"]


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--include-secrets",
    is_flag=True,
    help="Also copy the generated key passphrase (data/secrets/): the backup then opens the "
    "keys by itself, so keep it as safe as the keys. Default: leave it out.",
)
def backup(dest: Path, include_secrets: bool) -> None:
    """Write a consistent backup of the running service into the new folder DEST (JSON
    summary on stdout)."""
    from evidence_service.backup import BackupError, write_backup
    from evidence_service.cli.common import open_services

    services = open_services()
    try:
        summary = write_backup(services, dest, include_secrets=include_secrets)
    except BackupError as exc:
        error_exit(str(exc), EXIT_FAILED)
    finally:
        services.close()
    json_out(summary.as_dict())


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a database that holds rows and a PKI folder that exists (moved aside to "
    "pki.replaced-<time>). Objects already in the store are kept.",
)
@click.option("--check", "check_only", is_flag=True, help="Only check SOURCE against its manifest.")
def restore(source: Path, force: bool, check_only: bool) -> None:
    """Restore the backup folder SOURCE onto this machine's database, store and data folder
    (from the settings). The whole backup is checked first; nothing is written if any file
    is missing, altered or truncated."""
    from evidence_service.backup import (
        BackupError,
        RestoreRefusedError,
        check_backup,
        restore_backup,
    )
    from evidence_service.config import Settings

    try:
        if check_only:
            checked = check_backup(source)
            json_out({"source": str(checked.root), "files": len(checked.sums), "intact": True})
            return
        summary = restore_backup(Settings(), source, force=force)
    except RestoreRefusedError as exc:
        error_exit(str(exc), EXIT_PARTIAL)
    except BackupError as exc:
        error_exit(str(exc), EXIT_FAILED)
    json_out(summary.as_dict())
