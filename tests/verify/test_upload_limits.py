"""The public verifier's limits (issue 14): ZIP entry count, upload size per caller (lower
for anonymous callers than for signed-in officers), free space where uploads are spooled,
and how many verifications run at once. Each is a real request to the real app."""

from __future__ import annotations

import asyncio
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.public.uploads import UploadLimits, read_form
from storage.models import ApiToken, User
from tests.service.conftest import make_settings

MIB = 1024 * 1024


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Services]]]:
    made: list[Services] = []

    def make(**overrides: Any) -> tuple[TestClient, Services]:
        services = Services(make_settings(tmp_path / f"data{len(made)}", **overrides))
        services.migrate()
        made.append(services)
        return TestClient(create_app(services=services)), services

    yield make
    for s in made:
        s.close()


def _empty_entries_zip(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            z.writestr(f"e/{i}", b"")
    return buf.getvalue()


def _officer_token(services: Services) -> str:
    token = new_api_token()
    with services.session() as session:
        user = User(username="li", display_name="李四", password_hash=hash_password("x" * 12))
        session.add(user)
        session.flush()
        session.add(ApiToken(user_id=user.id, name="t", token_hash=hash_token(token)))
    return token


def test_a_zip_with_too_many_entries_is_refused_quickly(
    make_client: Callable[..., tuple[TestClient, Services]],
) -> None:
    """The probe's 100,000 empty entries cost 15 s of CPU; the default limit is 10,000 and
    the refusal comes from the end-of-central-directory record, before any entry is read."""
    client, _services = make_client()
    body = _empty_entries_zip(12_000)
    started = time.monotonic()
    reply = client.post("/api/verify", files={"file": ("many.wacz", body)})
    elapsed = time.monotonic() - started
    assert reply.status_code == 200
    report = reply.json()
    assert report["indication"] == "TOTAL-FAILED", report["indication"]
    assert "12000 entries, more than the limit of 10000" in reply.text
    assert elapsed < 5, elapsed


def test_the_entry_limit_is_a_setting(
    make_client: Callable[..., tuple[TestClient, Services]],
) -> None:
    client, _services = make_client(verify_max_entries=50)
    reply = client.post("/api/verify", files={"file": ("x.wacz", _empty_entries_zip(60))})
    assert "60 entries, more than the limit of 50" in reply.text


def test_anonymous_uploads_are_capped_lower_than_an_officer_s(
    make_client: Callable[..., tuple[TestClient, Services]],
) -> None:
    client, services = make_client(
        verify_max_upload_anonymous=1 * MIB, verify_max_upload_officer=4 * MIB
    )
    body = b"\0" * (2 * MIB)
    anonymous = client.post("/api/verify", files={"file": ("big.pdf", body)})
    assert anonymous.status_code == 413, anonymous.text
    assert anonymous.json()["detail"]["code"] == "too_large"
    assert "1 MiB" in anonymous.json()["detail"]["message"]
    token = _officer_token(services)
    officer = client.post(
        "/api/verify",
        files={"file": ("big.pdf", body)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert officer.status_code == 200, officer.text  # verified (and found not to be a PDF)
    assert officer.json()["indication"] != "TOTAL-PASSED"


def test_a_streamed_upload_without_length_is_cut_off_at_the_limit(
    make_client: Callable[..., tuple[TestClient, Services]],
) -> None:
    """No Content-Length (chunked): the body is counted as it arrives."""
    client, services = make_client(verify_max_upload_anonymous=1 * MIB)
    boundary = "xyzzy"
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.wacz"\r\n\r\n'
        ).encode()
        for _ in range(64):  # 8 MiB if nobody stops it
            sent += 128 * 1024
            yield b"\0" * (128 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    reply = client.post(
        "/api/verify",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.status_code == 413, reply.text
    spool = services.settings.spool_dir
    assert not any(spool.iterdir()), list(spool.iterdir())  # nothing left behind


def test_no_room_to_spool_is_507_with_retry_after(
    make_client: Callable[..., tuple[TestClient, Services]],
) -> None:
    client, _services = make_client(verify_spool_reserve=1 << 60)
    reply = client.post("/api/verify", files={"file": ("x.wacz", b"PK")})
    assert reply.status_code == 507, reply.text
    assert int(reply.headers["Retry-After"]) > 0
    assert "free space" in reply.json()["detail"]["message"]


def test_more_verifications_than_slots_get_503_with_retry_after(
    make_client: Callable[..., tuple[TestClient, Services]],
) -> None:
    client, _services = make_client(verify_max_concurrent=1)
    gate = client.app.state.verifier_gate  # type: ignore[attr-defined]
    with gate.slot():  # one verification is running
        busy = client.post("/api/verify", files={"file": ("x.wacz", b"PK")})
        page = client.post(
            "/verify", files={"file": ("x.wacz", b"PK")}, headers={"Accept": "text/html"}
        )
    assert busy.status_code == 503 and int(busy.headers["Retry-After"]) > 0
    assert busy.json()["detail"]["code"] == "busy"
    assert page.status_code == 503 and "Retry-After" in page.headers
    assert page.headers["content-type"].startswith("text/html")
    free = client.post("/api/verify", files={"file": ("x.wacz", b"PK")})
    assert free.status_code == 200  # the slot is given back


def test_uploads_are_spooled_in_the_data_folder(tmp_path: Path) -> None:
    """Not in /tmp: the free-space check must be about the disk the upload lands on."""
    spool = tmp_path / "data" / "spool"
    payload = b"\1" * (3 * MIB)  # above the in-memory part: rolls over to a file
    boundary = "b0undary"
    raw = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="p.wacz"\r\n\r\n'
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    messages = [{"type": "http.request", "body": raw, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/verify",
        "headers": [
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", str(len(raw)).encode()),
        ],
    }

    async def parse() -> None:
        form = await read_form(
            Request(scope, receive),
            UploadLimits(max_bytes=8 * MIB, spool_dir=spool, reserve_bytes=0),
            max_files=4,
            max_fields=8,
        )
        upload: Any = form["file"]
        spooled = upload.file
        assert spooled._rolled, "the part should be on disk"
        where = os.readlink(f"/proc/self/fd/{spooled.fileno()}")  # O_TMPFILE has no name
        assert where.startswith(str(spool) + "/"), where
        upload.file.seek(0)
        assert upload.file.read() == payload
        await form.close()

    asyncio.run(parse())
