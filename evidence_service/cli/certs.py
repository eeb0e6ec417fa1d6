"""``evidence certs``: issue, revoke, list and publish the PKI's certificates.

Works on the data directory's PKI directly (no server needed), like every ``evidence``
command. Exit status: 0 done, 2 bad input (unknown serial, already revoked, bad subject or
reason), 1 anything else that failed (HSM, PIN, locked PKI, unreadable files).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from certs import (
    KEY_TYPES,
    REVOCATION_REASONS,
    SIGNER_KINDS,
    AlreadyRevokedError,
    AmbiguousCertificateError,
    CertsError,
    HsmKeyRef,
    IssuedCertificate,
    PkiConfigError,
    RevocationReasonError,
    SubjectError,
    SubjectInfo,
    UnknownCertificateError,
)
from certs.keys import atomic_write
from evidence_service.cli.common import EXIT_FAILED, EXIT_USAGE, error_exit, open_services

_INPUT_ERRORS = (
    SubjectError,
    UnknownCertificateError,
    AmbiguousCertificateError,
    AlreadyRevokedError,
    RevocationReasonError,
    PkiConfigError,
)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the PKI's errors into one clear line and an exit status (no traceback)."""
    try:
        yield
    except _INPUT_ERRORS as exc:
        error_exit(str(exc), EXIT_USAGE)
    except CertsError as exc:
        error_exit(str(exc), EXIT_FAILED)


@click.group("certs")
def certs_group() -> None:
    """Signing certificates of units, officers and merchants: issue, revoke, list, publish."""


def _print_record(record: IssuedCertificate) -> None:
    click.echo(f"{record.kind} certificate {record.serial_hex}")
    click.echo(f"  subject:  {record.subject}")
    if record.owner_id:
        click.echo(f"  holder:   {record.owner_id}")
    click.echo(
        f"  valid:    {record.not_before:%Y-%m-%dT%H:%M:%SZ} to "
        f"{record.not_after:%Y-%m-%dT%H:%M:%SZ}"
    )
    if record.hsm is not None:
        click.echo(f"  key:      {record.hsm.describe()}")
    else:
        click.echo("  key:      software, encrypted at rest in the PKI folder")
    click.echo(f"  status:   {record.status}")
    if record.revoked_at is not None:
        click.echo(
            f"  revoked:  {record.revoked_at:%Y-%m-%dT%H:%M:%SZ} ({record.revocation_reason})"
        )
    click.echo(f"  sha-256:  {record.fingerprint_sha256}")


@certs_group.command("issue")
@click.option("--kind", type=click.Choice(SIGNER_KINDS), required=True)
@click.option("--name", required=True, help="Unit, officer or merchant name (Chinese is fine).")
@click.option("--org", help="Officer's unit (officers only).")
@click.option("--id", "officer_id", help="Officer id (officers only).")
@click.option(
    "--credit-code",
    help="Unified social credit code (merchants: required; units: optional).",
)
@click.option("--days", type=int, default=None, help="Validity in days (default by kind).")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default="ec-p256", show_default=True)
@click.option(
    "--hsm-module",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PKCS#11 module: generate the key on this HSM instead of in software.",
)
@click.option("--hsm-token", help="Token label on the HSM.")
@click.option("--hsm-key-label", help="Label for the new key (default: generated).")
@click.option("--hsm-pin-env", help="Name of the environment variable holding the user PIN.")
@click.option("--json", "as_json", is_flag=True, help="Print the register entry as JSON.")
def issue(
    kind: str,
    name: str,
    org: str | None,
    officer_id: str | None,
    credit_code: str | None,
    days: int | None,
    key_type: str,
    hsm_module: Path | None,
    hsm_token: str | None,
    hsm_key_label: str | None,
    hsm_pin_env: str | None,
    as_json: bool,
) -> None:
    """Issue a document-signing certificate (unit seal, officer or merchant)."""
    key: str | HsmKeyRef = "software"
    hsm_given = [hsm_module, hsm_token, hsm_key_label, hsm_pin_env]
    if any(v is not None for v in hsm_given):
        missing = [
            flag
            for flag, value in (
                ("--hsm-module", hsm_module),
                ("--hsm-token", hsm_token),
                ("--hsm-pin-env", hsm_pin_env),
            )
            if not value
        ]
        if missing:
            error_exit(f"an HSM key also needs {', '.join(missing)}", EXIT_USAGE)
        assert hsm_module is not None and hsm_token is not None and hsm_pin_env is not None
        key = HsmKeyRef(
            module=hsm_module,
            token_label=hsm_token,
            key_label=hsm_key_label or f"evidence-{kind}-{secrets.token_hex(4)}",
            pin_env=hsm_pin_env,
        )
    subject = SubjectInfo(
        name=name, organization=org, officer_id=officer_id, credit_code=credit_code
    )
    with _errors():
        pki = open_services().pki
        record = pki.issue(
            kind,  # type: ignore[arg-type]
            subject,
            key=key,  # type: ignore[arg-type]
            key_type=key_type,  # type: ignore[arg-type]
            days=days,
        )
    if as_json:
        click.echo(json.dumps(record.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_record(record)


@certs_group.command("revoke")
@click.argument("serial")
@click.option(
    "--reason",
    type=click.Choice(REVOCATION_REASONS, case_sensitive=False),
    required=True,
    help="RFC 5280 reason.",
)
@click.option(
    "--when",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    default=None,
    help="Date the revocation back (UTC), e.g. when the key was compromised.",
)
@click.option("--json", "as_json", is_flag=True)
def revoke(serial: str, reason: str, when: datetime | None, as_json: bool) -> None:
    """Revoke certificate SERIAL (hex, as `certs list` shows it). Revocations are final."""
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    with _errors():
        record = open_services().pki.revoke(serial, reason, when=when)
    if as_json:
        click.echo(json.dumps(record.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_record(record)


@certs_group.command("list")
@click.option(
    "--kind",
    type=click.Choice([*SIGNER_KINDS, "tsa", "ocsp-responder", "package-signing", "issuing-ca"]),
    default=None,
)
@click.option("--status", type=click.Choice(["good", "revoked"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def list_certificates(kind: str | None, status: str | None, as_json: bool) -> None:
    """List the certificates in the register (oldest first)."""
    with _errors():
        records = open_services().pki.list_certificates(kind, status=status)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        click.echo("no certificates")
        return
    now = datetime.now(UTC)
    for r in records:
        state = "expired" if r.status == "good" and r.expired(now) else r.status
        click.echo(
            f"{r.serial_hex:<42} {r.kind:<16} {state:<8} {r.not_after:%Y-%m-%d}  {r.subject}"
        )


@certs_group.command("export-bundle")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_bundle(output: Path) -> None:
    """Write root, issuing CA, TSA, OCSP responder and package-signing certificates and the
    current CRLs (PEM) to OUTPUT: what a verifier needs offline."""
    with _errors():
        pem = open_services().pki.export_bundle_pem()
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, pem)
    click.echo(
        f"bundle written to {output} ({pem.count(b'BEGIN CERTIFICATE')} certificates, "
        f"{pem.count(b'BEGIN X509 CRL')} CRLs)"
    )


@click.group()
def trust() -> None:
    """The public trust bundle verifiers need."""


@trust.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def trust_export(output: Path) -> None:
    """Write root CA, TSA chain and signing certificates (PEM) to OUTPUT."""
    services = open_services()
    pem = services.trust_bundle_pem()
    output.write_bytes(pem)
    click.echo(f"trust bundle written to {output} ({pem.count(b'BEGIN CERTIFICATE')} certificates)")
