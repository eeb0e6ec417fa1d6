"""``evidence verify``: the court verifier on the command line, fully offline.

Exit status: 0 TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE (and click's usage errors, which
print nothing on stdout, as does a bad ``--at``); 3 when a requested report file could not be
written. The last line printed on stdout is the indication, e.g. ``TOTAL-PASSED`` or
``INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND``; with ``--json``, stdout is the report as JSON
and nothing else (warnings stay on stderr), so that scripts need no temporary file.

``--at MOMENT`` validates as of a past moment (ISO 8601 with a time zone); the report, the
exit status and the last line are that validation's, and the report shows the present-time
verdict next to it.

Trust comes from ``--trust`` (a PEM bundle: root certificates, intermediates, CRLs, public
keys); without it, from the local data folder's PKI if this machine runs the service (the same
certificates ``evidence trust export`` publishes); otherwise there is none, and the report says
that signers could not be checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from signing.verify import (
    Text,
    TrustStore,
    ValidationTimeError,
    VerifyOptions,
    load_trust_bundle,
    parse_validation_time,
    render_html,
    render_json,
    render_pdf,
    render_text,
    verify_file,
)

__all__ = ["local_trust_bundle", "verify"]

EXIT_REPORT_NOT_WRITTEN = 3
EXIT_USAGE = 2
REPORT_SUFFIXES = (".json", ".html", ".htm", ".pdf")
MAX_PROOFS = 64 * 1024 * 1024


def local_trust_bundle(pki_dir: Path) -> bytes | None:
    """The public certificates (and CRLs) of a local PKI folder, without touching its keys.

    Read file by file rather than through ``certs.Pki`` so that no passphrase is needed and
    nothing is created: a court's machine running the verifier must not grow a PKI.
    """
    if not (pki_dir / "root.pem").is_file():
        return None
    parts: list[bytes] = []
    for path in sorted(pki_dir.rglob("*")):
        if (
            not path.is_file()
            or path.name.endswith(".key.pem")
            or path.suffix
            not in (
                ".pem",
                ".crt",
                ".crl",
            )
        ):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"PRIVATE KEY" in data:
            continue
        if data.startswith(b"-----BEGIN"):
            parts.append(data.rstrip() + b"\n")
    return b"".join(parts) or None


def _trust(trust_path: Path | None) -> TrustStore:
    if trust_path is not None:
        return load_trust_bundle(
            trust_path.read_bytes(),
            source="given",
            description=Text(
                f"命令行 --trust 指定的信任证书包：{trust_path.name}",
                f"the trust bundle given with --trust: {trust_path.name}",
            ),
        )
    try:
        from evidence_service.config import Settings

        pki_dir = Settings().pki_dir
    except Exception:
        pki_dir = None
    bundle = local_trust_bundle(pki_dir) if pki_dir is not None else None
    if bundle is not None and pki_dir is not None:
        return load_trust_bundle(
            bundle,
            source="local",
            description=Text(
                f"本机服务数据目录中的证书（{pki_dir}）",
                f"the certificates of this machine's service data folder ({pki_dir})",
            ),
        )
    return TrustStore(
        source="none",
        description=Text(
            "未提供信任证书包（请用 --trust 指定），签名者身份无法确认",
            "no trust bundle (give one with --trust): signers could not be checked",
        ),
    )


def _proofs(file: Path, proofs_path: Path | None) -> tuple[bytes | None, Path | None]:
    candidate = proofs_path or file.with_name(file.name + ".proofs.json")
    if proofs_path is None and not candidate.is_file():
        return None, None
    with candidate.open("rb") as fh:
        data = fh.read(MAX_PROOFS + 1)
    if len(data) > MAX_PROOFS:
        raise click.BadParameter("the proofs file is larger than 64 MiB", param_hint="--proofs")
    return data, candidate


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    "trust_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM trust bundle (root certificates; may add intermediates, CRLs, public keys).",
)
@click.option(
    "--proofs",
    "proofs_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Proofs sidecar (default: FILE.proofs.json next to FILE, if present).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For a bare RFC 3161 token: the file it time-stamps.",
)
@click.option(
    "--package",
    "package_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For a comparison report: a package it compares (give both A and B; repeatable). "
    "Checked to be the one the report cites (SHA-256) and verified.",
)
@click.option(
    "--report",
    "report_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to report.json, report.html or report.pdf (repeatable).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--require-revocation",
    is_flag=True,
    help="Make revocation data required: without it the result is INDETERMINATE TRY_LATER.",
)
@click.option(
    "--at",
    "at_text",
    metavar="MOMENT",
    help="Validate as of this past moment, e.g. 2022-02-01T00:00:00Z (a time zone is required); "
    "the report also gives the present-time result.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the report as JSON on stdout (nothing else); the exit status is unchanged.",
)
def verify(
    file: Path,
    trust_path: Path | None,
    proofs_path: Path | None,
    data_path: Path | None,
    package_paths: tuple[Path, ...],
    report_paths: tuple[Path, ...],
    lang: str,
    require_revocation: bool,
    at_text: str | None,
    as_json: bool,
) -> None:
    """Verify a sealed package, a signed PDF (a comparison report: with --package A
    --package B) or an RFC 3161 token, offline.

    Exit status 0 TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE; the last line printed is the
    indication.
    """
    for path in report_paths:
        if path.suffix.lower() not in REPORT_SUFFIXES:
            raise click.BadParameter(
                f"{path}: use a .json, .html or .pdf file name", param_hint="--report"
            )
    at = None
    if at_text is not None:
        try:
            at = parse_validation_time(at_text)
        except ValidationTimeError as exc:
            click.echo(f"error: --at: {exc}", err=True)
            raise SystemExit(EXIT_USAGE) from None
    trust = _trust(trust_path)
    if trust.source == "none":
        click.echo(
            "warning: no trust bundle given (--trust) and no local service data folder: "
            "signatures can be checked for integrity but not for who made them",
            err=True,
        )
    proofs, used = _proofs(file, proofs_path)
    report = verify_file(
        file,
        trust=trust,
        proofs=proofs,
        data_path=data_path,
        options=VerifyOptions(require_revocation=require_revocation, at=at),
        packages=package_paths,
    )
    if used is not None:
        report.facts["proofs_file"] = used.name
    failed = False
    for path in report_paths:
        try:
            _write(report, path, lang)
        except OSError as exc:
            click.echo(f"error: could not write the report {path}: {exc}", err=True)
            failed = True
    click.echo(render_json(report) if as_json else render_text(report, lang), nl=False)
    sys.stdout.flush()
    raise SystemExit(EXIT_REPORT_NOT_WRITTEN if failed else report.exit_code)


def _write(report: object, path: Path, lang: str) -> None:
    from signing.verify import Report

    assert isinstance(report, Report)
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(render_json(report), encoding="utf-8")
    elif suffix in (".html", ".htm"):
        path.write_text(render_html(report, lang), encoding="utf-8")
    else:
        path.write_bytes(render_pdf(report, lang))
