"""``evidence sign`` and ``evidence document render|templates|sample``: documents and PAdES
signatures from the command line, on the data folder's PKI, with no server running.

``evidence sign IN.pdf -o OUT.pdf`` signs any PDF with a unit's or officer's key (default:
the default unit, ``EVIDENCE_DEFAULT_UNIT_NAME``, at PAdES B-LTA). The time-stamp comes from
the configured TSA (the built-in one in-process by default); revocation data for B-LT/B-LTA
is made by the local CA (``--online-revocation`` fetches it from the service's OCSP/CRL URLs
instead). The output is written atomically: a failure leaves no partial file.

Exit status: 0 done; 2 bad input (missing or non-PDF input, encrypted PDF, unknown or revoked
signer, bad JSON, invalid field); 3 the time-stamp authority is unavailable (try again later);
1 anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from certs.errors import CertsError
from evidence_service.cli.common import EXIT_FAILED, EXIT_USAGE, error_exit, open_services
from evidence_service.config import Settings
from evidence_service.services import Services
from signing.errors import SigningError, TsaUnavailableError
from signing.pdf_render import RenderError

__all__ = ["document_group", "sign_command"]

EXIT_TSA = 3
#: signing.pades.LEVELS (not imported here: pyHanko takes 0.4 s to import, on every command)
LEVELS = ("b-b", "b-t", "b-lt", "b-lta")


@contextmanager
def _errors() -> Iterator[None]:
    """One clear line and an exit status for every expected failure (no traceback)."""
    from signing.pades import PadesError
    from workflow.documents import (
        CaptureFactsError,
        DocumentDataError,
        DocumentInputError,
        SignerError,
        UnknownTemplateError,
    )

    try:
        yield
    except (DocumentDataError, DocumentInputError, SignerError, CaptureFactsError) as exc:
        error_exit(str(exc), EXIT_USAGE)
    except UnknownTemplateError as exc:
        error_exit(str(exc), EXIT_USAGE)
    except TsaUnavailableError as exc:
        error_exit(f"{exc} (try again later)", EXIT_TSA)
    except (PadesError, RenderError, SigningError, CertsError) as exc:
        error_exit(str(exc), EXIT_FAILED)


def _default_signer(services: Services) -> str:
    from workflow.documents import ensure_unit_certificate

    name = services.settings.default_unit_name
    issued = ensure_unit_certificate(services.pki, name)
    if issued is not None:
        click.echo(
            f"note: issued a unit certificate {issued.serial_hex} for {name!r} (first use)",
            err=True,
        )
    return name


def _signed_facts(signed: Any) -> dict[str, Any]:
    """What a signature made by the command line is, as printed and as ``--json`` gives it."""
    return {
        "path": str(signed.path),
        "sha256": signed.sha256,
        "signer": signed.signer_subject,
        "signer_serial": signed.signer_serial,
        "field": signed.field_name,
        "signing_time": signed.signing_time.isoformat().replace("+00:00", "Z"),
        "level": signed.level.upper(),
    }


def _print_signed(signed: Any, as_json: bool) -> None:
    facts = _signed_facts(signed)
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False, indent=2))
        return
    click.echo(f"signed:  {facts['path']}")
    click.echo(f"signer:  {facts['signer']} ({facts['signer_serial']})")
    click.echo(f"field:   {facts['field']}")
    click.echo(f"time:    {facts['signing_time']}")
    click.echo(f"level:   PAdES {facts['level']}")
    click.echo(f"sha256:  {facts['sha256']}")


def _sign(
    services: Services,
    source: Path,
    output: Path,
    *,
    signer: str | None,
    level: str,
    reason: str | None,
    location: str | None,
    visible: bool,
    field_name: str | None,
    certify: bool,
    online_revocation: bool,
) -> Any:
    from workflow.documents import SignatureRequest, sign_document

    request = SignatureRequest(
        signer=signer or _default_signer(services),
        level=level,  # type: ignore[arg-type]
        reason=reason,
        location=location,
        visible=visible,
        field_name=field_name,
        certify=certify,
    )
    return sign_document(
        services.pki,
        source,
        output,
        request,
        timestampers=services.timestampers,
        online_revocation=online_revocation,
    )


_level = click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="b-lta",
    show_default=True,
    help="PAdES baseline level.",
)
_signer = click.option(
    "--signer",
    help="Certificate serial or holder (unit name, officer id, credit code). Default: the "
    "default unit (EVIDENCE_DEFAULT_UNIT_NAME).",
)


@click.command("sign")
@click.argument("input_pdf", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_level
@_signer
@click.option("--reason", help="Reason stated in the signature, e.g. 行政处罚决定.")
@click.option("--location", help="Location stated in the signature.")
@click.option(
    "--visible/--invisible",
    default=True,
    show_default=True,
    help="Draw the signature (the unit's seal, signer name and time) on the last page.",
)
@click.option("--field", "field_name", help="Sign this (empty) signature field.")
@click.option(
    "--certify",
    is_flag=True,
    help="Certification signature (first signature only; later signatures stay allowed).",
)
@click.option(
    "--online-revocation",
    is_flag=True,
    help="Fetch revocation data from the certificates' OCSP/CRL URLs (the running service) "
    "instead of making it with the local CA.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sign_command(
    input_pdf: Path,
    output: Path,
    level: str,
    signer: str | None,
    reason: str | None,
    location: str | None,
    visible: bool,
    field_name: str | None,
    certify: bool,
    online_revocation: bool,
    as_json: bool,
) -> None:
    """Sign a PDF (PAdES) with a unit's or officer's key; no server needed."""
    with _errors():
        services = open_services()
        try:
            signed = _sign(
                services,
                input_pdf,
                output,
                signer=signer,
                level=level,
                reason=reason,
                location=location,
                visible=visible,
                field_name=field_name,
                certify=certify,
                online_revocation=online_revocation,
            )
        finally:
            services.close()
    _print_signed(signed, as_json)


# -- documents ------------------------------------------------------------------------------


@click.group("document")
def document_group() -> None:
    """Administrative documents (文书): render from data, list templates."""


def _read_data(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        error_exit(f"{path}: no such file", EXIT_USAGE)
    except (OSError, UnicodeDecodeError) as exc:
        error_exit(f"{path}: cannot be read as UTF-8 text ({exc})", EXIT_USAGE)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        error_exit(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            EXIT_USAGE,
        )
    if not isinstance(data, dict):
        error_exit(f"{path}: the data must be a JSON object, not {type(data).__name__}", EXIT_USAGE)
    return data


@document_group.command("render")
@click.argument("template")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON data for the template (see `evidence document templates` and `sample`).",
)
@click.option(
    "--capture",
    "capture_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="evidence_extraction_record: fill `capture` from this sealed package (.wacz).",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--english", is_flag=True, help="Add the English rendering.")
@click.option("--sign", "do_sign", is_flag=True, help="Sign it (certifying) after rendering.")
@_signer
@_level
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def document_render(
    template: str,
    data_path: Path,
    capture_path: Path | None,
    output: Path,
    english: bool,
    do_sign: bool,
    signer: str | None,
    level: str,
    as_json: bool,
) -> None:
    """Render TEMPLATE from JSON data to PDF/A-3b (optionally signed).

    A missing ``issuing_unit`` is filled with the default unit's name.
    """
    import tempfile

    from workflow.documents import TEMPLATES, capture_facts, render_document

    data = _read_data(data_path)
    with _errors():
        if template not in TEMPLATES:
            error_exit(
                f"unknown document template {template!r}; one of {', '.join(TEMPLATES)}",
                EXIT_USAGE,
            )
        settings = Settings()
        data.setdefault("issuing_unit", settings.default_unit_name)
        if capture_path is not None:
            data["capture"] = capture_facts(capture_path)
        if not output.parent.is_dir():
            error_exit(f"{output}: the folder {output.parent} does not exist", EXIT_USAGE)
        if not do_sign:
            rendered = render_document(template, data, output, english=english)
            result: dict[str, Any] = {
                "path": str(rendered.path),
                "sha256": rendered.sha256,
                "template": template,
                "signed": False,
            }
        else:
            services = open_services()
            try:
                with tempfile.TemporaryDirectory(dir=output.parent, prefix=".render-") as tmp:
                    unsigned = Path(tmp) / "unsigned.pdf"
                    render_document(template, data, unsigned, english=english)
                    signed = _sign(
                        services,
                        unsigned,
                        output,
                        signer=signer,
                        level=level,
                        reason=f"签发{TEMPLATES[template].title_zh}",
                        location=None,
                        visible=True,
                        field_name=None,
                        certify=True,
                        online_revocation=False,
                    )
            finally:
                services.close()
            result = {"template": template, "signed": True, **_signed_facts(signed)}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for key, value in result.items():
            click.echo(f"{key + ':':<14}{value}")


def _field_lines(model: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str, str]]:
    """(path, required/optional, description) of a schema's fields, nested models expanded."""
    from typing import get_args

    from pydantic import BaseModel

    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        required = "required" if info.is_required() else "optional"
        annotation = info.annotation
        nested = None
        is_list = False
        for candidate in (annotation, *get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                nested = candidate
            for inner in get_args(candidate):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    nested, is_list = inner, True
        yield path + ("[]" if is_list else ""), required, info.description or ""
        if nested is not None and depth < 2:
            yield from _field_lines(nested, f"{path}{'[]' if is_list else ''}.", depth + 1)


@document_group.command("templates")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def document_templates(as_json: bool) -> None:
    """List the document templates and their fields."""
    from workflow.documents import SAMPLES_DIR, TEMPLATES

    listing: list[dict[str, Any]] = []
    for key, doc_type in TEMPLATES.items():
        listing.append(
            {
                "key": key,
                "title_zh": doc_type.title_zh,
                "title_en": doc_type.title_en,
                "description": doc_type.description,
                "signature_slots": [
                    {"name": s.name, "signer": s.kind, "label": s.label_zh} for s in doc_type.slots
                ],
                "sample": str(SAMPLES_DIR / f"{key}.json"),
                "fields": [
                    {"path": p, "required": r == "required", "description": d}
                    for p, r, d in _field_lines(doc_type.schema)
                ],
            }
        )
    if as_json:
        click.echo(json.dumps(listing, ensure_ascii=False, indent=2))
        return
    for item in listing:
        click.echo(f"{item['key']}  {item['title_zh']} / {item['title_en']}")
        click.echo(f"  {item['description']}")
        slots = ", ".join(f"{s['name']} ({s['signer']})" for s in item["signature_slots"])
        click.echo(f"  signature slots: {slots}")
        click.echo(f"  sample data: {item['sample']}")
        for f in item["fields"]:
            mark = "*" if f["required"] else " "
            desc = f"  {f['description']}" if f["description"] else ""
            click.echo(f"    {mark} {f['path']}{desc}")
        click.echo("")
    click.echo("* required")


@document_group.command("sample")
@click.argument("template")
def document_sample(template: str) -> None:
    """Print the sample data of TEMPLATE (a starting point for --data)."""
    from workflow.documents import TEMPLATES, sample_data

    if template not in TEMPLATES:
        error_exit(f"unknown document template {template!r}; one of {', '.join(TEMPLATES)}", 2)
    click.echo(json.dumps(sample_data(template), ensure_ascii=False, indent=2))
