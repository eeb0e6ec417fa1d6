"""The REST API end to end: a capture requested over HTTP is durable, worked, sealed, served."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable

import pytest

from evidence_service.services import Services
from storage.models import Capture, Job
from tests.fixtures.site import PRICE_TEXT, FixtureSite
from tests.service.conftest import client_for, run_worker

pytestmark = pytest.mark.chromium


def test_capture_over_api_is_sealed_and_served(
    services_factory: Callable[..., Services],
    admin_token: Callable[[Services], str],
    database_url: str,
    fixture_site: FixtureSite,
) -> None:
    services = services_factory(database_url=database_url)
    client = client_for(services)
    headers = {"Authorization": f"Bearer {admin_token(services)}"}

    reply = client.post(
        "/api/captures", json={"url": fixture_site.url("/listing")}, headers=headers
    )
    assert reply.status_code == 202, reply.text
    record = reply.json()
    assert record["status"] == "queued"
    # Durable before the reply: the row and its job are committed.
    with services.sessions() as session:
        assert session.get(Capture, record["id"]) is not None
        job = session.query(Job).filter_by(capture_id=record["id"]).one()
        assert job.state == "queued"

    assert run_worker(services) == 1
    record = client.get(f"/api/captures/{record['id']}", headers=headers).json()
    assert record["status"] == "stored", record
    assert record["outcome"] == "complete"
    assert record["http_status"] == 200
    assert record["final_url"] == fixture_site.url("/listing")
    assert record["timestamp"]["trusted_time"]
    assert record["timestamp"]["serial"]

    package = client.get(record["package"]["url"], headers=headers)
    assert package.status_code == 200
    assert hashlib.sha256(package.content).hexdigest() == record["package"]["sha256"]
    with zipfile.ZipFile(io.BytesIO(package.content)) as zf:
        names = set(zf.namelist())
        assert {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl"} <= names
        datapackage = json.loads(zf.read("datapackage.json"))
        for res in datapackage["resources"]:
            digest = hashlib.sha256(zf.read(res["path"])).hexdigest()
            assert res["hash"] == f"sha256:{digest}"
            assert record["hashes"][res["path"]] == res["hash"]
        warc = next(n for n in names if n.startswith("archive/"))
        assert PRICE_TEXT.encode() in _warc_payloads(zf.read(warc))

    for kind, media in [
        ("screenshot", "image/png"),
        ("pdf", "application/pdf"),
        ("provenance", "application/json"),
    ]:
        r = client.get(record["files"][kind]["url"], headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(media)
        assert hashlib.sha256(r.content).hexdigest() == record["files"][kind]["sha256"]
    provenance = client.get(record["files"]["provenance"]["url"], headers=headers).json()
    assert provenance["context"]["capture_id"] == record["id"]

    # The work folder is gone once sealed: nothing unsealed lingers.
    assert not (services.settings.work_dir / record["id"]).exists()


def _warc_payloads(data: bytes) -> bytes:
    from warcio.archiveiterator import ArchiveIterator

    out = io.BytesIO()
    for rec in ArchiveIterator(io.BytesIO(data)):
        out.write(rec.content_stream().read())
    return out.getvalue()


def test_api_requires_token_and_reports_bad_urls(
    services_factory: Callable[..., Services], admin_token: Callable[[Services], str]
) -> None:
    services = services_factory()
    client = client_for(services)
    assert client.post("/api/captures", json={"url": "http://example.com/"}).status_code == 401
    bad = client.post("/api/captures", json={"url": "x"}, headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    headers = {"Authorization": f"Bearer {admin_token(services)}"}
    for url, code in [
        ("not a url", "invalid_url"),
        ("ftp://example.com/x", "unsupported_scheme"),
        ("http://no-such-host.invalid/", "dns_failure"),
    ]:
        r = client.post("/api/captures", json={"url": url}, headers=headers)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["detail"]["code"] == code
        assert r.json()["detail"]["message"]
    with services.sessions() as session:
        assert session.query(Capture).count() == 0  # nothing queued for bad input
    spec = client.get("/openapi.json").json()
    assert "/api/captures" in spec["paths"] and "/api/captures/{capture_id}" in spec["paths"]


def test_ssrf_guard_applies_to_api_requests(
    services_factory: Callable[..., Services], admin_token: Callable[[Services], str]
) -> None:
    services = services_factory(capture_allow_private=False)
    client = client_for(services)
    headers = {"Authorization": f"Bearer {admin_token(services)}"}
    r = client.post("/api/captures", json={"url": "http://127.0.0.1:9/"}, headers=headers)
    assert r.status_code == 422
    assert r.json()["detail"]["code"] == "blocked_address"
    assert "127.0.0.1" in r.json()["detail"]["message"]


def test_failed_capture_is_recorded_and_leaves_nothing_sealed(
    services_factory: Callable[..., Services],
    admin_token: Callable[[Services], str],
    fixture_site: FixtureSite,
) -> None:
    services = services_factory()
    client = client_for(services)
    headers = {"Authorization": f"Bearer {admin_token(services)}"}
    rec = client.post(
        "/api/captures", json={"url": fixture_site.closed_url}, headers=headers
    ).json()
    run_worker(services)
    rec = client.get(f"/api/captures/{rec['id']}", headers=headers).json()
    assert rec["status"] == "failed"
    assert rec["error"]["code"] == "connection_refused"
    assert rec["package"] is None and rec["files"] == {}
    assert (
        client.get(f"/api/captures/{rec['id']}/files/package", headers=headers).status_code == 409
    )
    assert not (services.settings.work_dir / rec["id"]).exists()
    objects = services.settings.objects_dir
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))
