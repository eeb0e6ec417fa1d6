"""What operators ask the server: /healthz, /readyz (database, store, TSA, queue), /metrics, and
the request id a capture carries from the API into its job; the logs' JSON and redaction.

In-process, with the real database, store and built-in TSA; an external TSA that is down is a
real closed port."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from evidence_service.observability import JsonFormatter, redact, request_context
from evidence_service.services import Services
from storage.models import Job
from tests.fixtures.http_tsa import free_port
from tests.service.conftest import client_for


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_healthz_and_readyz_report_each_dependency(
    services_factory: Callable[..., Services],
) -> None:
    client = client_for(services_factory())
    assert client.get("/healthz").json()["status"] == "ok"
    reply = client.get("/readyz")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert {name: checks[name]["ok"] for name in ("database", "store", "tsa", "queue")} == {
        "database": True,
        "store": True,
        "tsa": True,
        "queue": True,
    }
    assert checks["tsa"]["tsas"][0]["name"] == "builtin"
    assert checks["queue"]["queued"] == 0 and checks["queue"]["oldest_due_waiting_s"] is None
    # The TSA is asked again only after ready_tsa_every_s: the second answer is the first one.
    again = client.get("/readyz").json()["checks"]["tsa"]
    assert again["cached"] is True
    assert again["checked_at"] == checks["tsa"]["checked_at"]


def test_readyz_is_503_and_names_the_tsa_that_does_not_answer(
    services_factory: Callable[..., Services],
) -> None:
    port = free_port()  # nothing listens there
    client = client_for(services_factory(tsa_url=f"http://user:hunter2@127.0.0.1:{port}/tsa"))
    reply = client.get("/readyz")
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "not ready"
    tsa = body["checks"]["tsa"]
    assert tsa["ok"] is False and tsa["tsas"][0]["ok"] is False
    assert f"127.0.0.1:{port}" in tsa["tsas"][0]["name"]
    assert tsa["tsas"][0]["error"]
    assert "hunter2" not in reply.text  # the TSA's password is never shown
    assert body["checks"]["database"]["ok"] and body["checks"]["store"]["ok"]
    # The failure is counted, under the TSA's (redacted) name.
    samples = _samples(client.get("/metrics").text)
    failures = [v for (name, labels), v in samples.items() if name == "evidence_tsa_failures_total"]
    assert failures and max(failures) >= 1


def test_request_id_goes_from_the_api_into_the_capture_job_and_metrics_count_the_queue(
    services_factory: Callable[..., Services], admin_token: Callable[[Services], str]
) -> None:
    services = services_factory()
    client = client_for(services)
    auth = {"Authorization": f"Bearer {admin_token(services)}"}
    reply = client.post(
        "/api/captures",
        json={"url": "http://127.0.0.1:9/a"},
        headers={**auth, "X-Request-ID": "case-2026-12.req_1"},
    )
    assert reply.status_code == 202, reply.text
    assert reply.headers["X-Request-ID"] == "case-2026-12.req_1"
    # A header that is not a plain token (here: a forged log line) is replaced, not carried.
    forged = client.post(
        "/api/captures",
        json={"url": "http://127.0.0.1:9/b"},
        headers={**auth, "X-Request-ID": "x\tlevel=ERROR forged"},
    )
    new_id = forged.headers["X-Request-ID"]
    assert new_id != "x\tlevel=ERROR forged" and len(new_id) == 32
    with services.sessions() as session:
        payloads = {j.capture_id: j.payload for j in session.query(Job).all()}
    assert payloads[reply.json()["id"]] == {"request_id": "case-2026-12.req_1"}
    assert payloads[forged.json()["id"]] == {"request_id": new_id}
    assert client.get("/healthz").headers["X-Request-ID"]  # every answer carries one

    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = _samples(metrics.text)
    assert samples[("evidence_queue_jobs", (("kind", "capture"), ("state", "queued")))] == 2
    # Every family is named from the start (no samples yet), so dashboards can refer to them.
    families = {f.name for f in text_string_to_metric_families(metrics.text)}
    assert {
        "evidence_queue_jobs",
        "evidence_captures",
        "evidence_capture_stage_seconds",
        "evidence_seal_stage_seconds",
        "evidence_seal_failures",
        "evidence_tsa_request_seconds",
        "evidence_tsa_failures",
        "evidence_store_seconds",
        "evidence_worker_restarts",
    } <= families, families
    readyz = client.get("/readyz").json()
    assert readyz["checks"]["queue"]["queued"] == 2
    assert readyz["checks"]["queue"]["oldest_due_waiting_s"] >= 0


def test_json_log_lines_carry_the_request_id_and_no_credentials() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.ops.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        with request_context("req-7"):
            logger.info(
                "fetched %s with Cookie: sid=s3cr3t; other=1",
                "https://officer:pa55w0rd@shop.example/p?token=abc123&x=1",
                extra={"job_id": 12, "capture_id": "c-1"},
            )
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-7" and first["job_id"] == 12
    assert first["capture_id"] == "c-1" and first["level"] == "INFO"
    for secret in ("s3cr3t", "pa55w0rd", "abc123"):
        assert secret not in first["message"]
    assert "shop.example/p" in first["message"] and "x=1" in first["message"]
    assert second["request_id"] is None and second["message"] == "outside any request"
    assert redact("Authorization: Bearer abc.def") == "Authorization: [redacted]"
