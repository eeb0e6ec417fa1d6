"""``evidence capture|status``: capture a page now and seal it in-process (no server needed).

Exit status of ``evidence capture``: 0 complete, 4 partial (sealed, but a limit was hit),
1 failed (nothing sealed), 3 sealing deferred (TSA or store down; a worker will finish it),
2 bad usage or bad input.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from evidence_service.cli.common import (
    EXIT_DEFERRED,
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    fail,
    open_services,
)
from evidence_service.services import Services


@click.command()
@click.argument("url")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the sealed package (WACZ) here.",
)
@click.option(
    "--cookies",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Session cookies for this capture (Netscape cookies.txt or Playwright JSON).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON.")
@click.option(
    "--wait-seal",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to keep retrying the seal if the TSA or store is down.",
)
@click.option(
    "--certificate",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed evidence certificate (取证证书, PDF) here.",
)
@click.option(
    "--video/--no-video",
    default=None,
    help="Record a video of the session (WebM with a clock, files/video.webm in the package). "
    "Default: the capture_video setting.",
)
@click.option(
    "--device",
    metavar="NAME",
    help='Emulate a device, e.g. "iPhone 13" (Playwright\'s names; `evidence devices` lists '
    "them): its viewport, scale factor, touch and mobile user agent.",
)
def capture(
    url: str,
    output: Path | None,
    cookies: Path | None,
    as_json: bool,
    wait_seal: float,
    certificate: Path | None,
    video: bool | None,
    device: str | None,
) -> None:
    """Capture URL now and seal it (no server needed)."""
    from evidence_service.bootstrap import initialize
    from evidence_service.sealing.capture_record import capture_record
    from evidence_service.sealing.pipeline import CaptureRequestError, create_capture, load_cookies

    services = open_services()
    initialize(services)
    try:
        cookie_list = load_cookies(cookies.read_bytes(), url) if cookies else []
        capture_id = create_capture(
            services,
            url,
            user_id=None,
            cookies=cookie_list,
            enqueue=False,
            video=video,
            device=device,
        )
    except CaptureRequestError as exc:
        fail(f"{exc.code}: {exc}", EXIT_USAGE, as_json, {"code": exc.code, "message": str(exc)})
        return
    deferred = asyncio.run(_capture_now(services, capture_id, wait_seal, as_json))
    from storage.models import Capture

    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        record = capture_record(cap, services.settings.effective_public_url)
        certificate_key = cap.certificate_key
    if record.status == "stored" and output is not None:
        assert record.package is not None
        export_object(services, record.package.sha256, output)
    if record.status == "stored" and certificate is not None and certificate_key:
        export_object(services, certificate_key, certificate)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
    else:
        _print_record(record, output)
        if record.status == "stored" and certificate is not None and certificate_key:
            click.echo(f"  certificate: {certificate}")
        if record.verify_url:
            click.echo(f"  verify at:   {record.verify_url}")
    if deferred:
        sys.exit(EXIT_DEFERRED)
    if record.status == "failed":
        sys.exit(EXIT_FAILED)
    if record.outcome == "partial":
        sys.exit(EXIT_PARTIAL)


async def _capture_now(services: Services, capture_id: str, wait_seal: float, quiet: bool) -> bool:
    """Run the capture in-process; returns True if sealing had to be left to a worker."""
    from capture import CaptureEngine
    from evidence_service.sealing.pipeline import process_capture

    s = services.settings
    extra_ca = s.capture_extra_ca_file.read_bytes() if s.capture_extra_ca_file else None
    deadline = time.monotonic() + wait_seal
    async with CaptureEngine(s.chromium_path, extra_ca_pem=extra_ca) as engine:
        attempt = 1
        while True:
            outcome = await process_capture(services, engine, capture_id, attempt=attempt)
            if outcome.kind != "retry":
                return False
            if time.monotonic() + outcome.delay_s > deadline:
                with services.session() as session:
                    job = services.jobs.enqueue(session, "capture", capture_id=capture_id)
                    job.max_attempts = 1000
                click.echo(
                    f"sealing deferred: {outcome.reason}\n"
                    f"the capture {capture_id} is kept and a worker will seal it "
                    "(`evidence worker`, or `evidence run`)",
                    err=True,
                )
                return True
            if not quiet:
                click.echo(
                    f"waiting to seal ({outcome.reason}); retrying in {outcome.delay_s:.0f} s",
                    err=True,
                )
            await asyncio.sleep(outcome.delay_s)
            attempt += 1


def export_object(services: Services, key: str, output: Path) -> None:
    """Copy a stored object to a file atomically, verifying its hash on the way."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            services.store.copy_to(key, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _print_record(record: Any, output: Path | None) -> None:
    status = record.status.upper()
    if record.status == "stored":
        status = "SEALED" + (
            " (PARTIAL: " + ", ".join(record.limits_hit) + ")"
            if record.outcome == "partial"
            else " (complete)"
        )
    click.echo(f"capture {record.id}: {status}")
    click.echo(f"  requested: {record.requested_url}")
    if record.final_url:
        click.echo(f"  final:     {record.final_url} (HTTP {record.http_status})")
    if record.error:
        click.echo(f"  error:     {record.error.code}: {record.error.message}")
    if record.timestamp:
        click.echo(
            f"  trusted time: {record.timestamp.trusted_time} ({record.timestamp.tsa}, "
            f"serial {record.timestamp.serial})"
        )
    if record.device:
        click.echo(f"  device:    {record.device} ({record.summary.get('user_agent', '')})")
    if "video" in record.files:
        click.echo(f"  video sha256:   {record.files['video'].sha256}")
    if record.package:
        click.echo(f"  package sha256: {record.package.sha256}")
    if output is not None and record.status == "stored":
        click.echo(f"  written to: {output}")


@click.command("status")
@click.argument("capture_id")
@click.option("--json", "as_json", is_flag=True)
def status_cmd(capture_id: str, as_json: bool) -> None:
    """Show a capture's state."""
    from evidence_service.sealing.capture_record import capture_record
    from storage.models import Capture

    services = open_services()
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None:
            fail(
                f"no capture {capture_id}",
                EXIT_USAGE,
                as_json,
                {"code": "not_found", "message": capture_id},
            )
            return
        record = capture_record(cap, services.settings.effective_public_url)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
    else:
        _print_record(record, None)


@click.command("devices")
@click.option("--json", "as_json", is_flag=True, help="Print the descriptors as JSON.")
def devices_cmd(as_json: bool) -> None:
    """List the devices a capture can emulate (`evidence capture --device NAME`)."""
    import json

    from capture.devices import known_devices

    devices = known_devices()
    if as_json:
        click.echo(
            json.dumps(
                {n: d.as_provenance() for n, d in devices.items()}, indent=2, ensure_ascii=False
            )
        )
        return
    for name, d in devices.items():
        kind = "mobile" if d.is_mobile else "desktop/tablet"
        click.echo(
            f"{name:<34} {d.viewport[0]}x{d.viewport[1]} @{d.device_scale_factor:g}x  {kind}"
        )
