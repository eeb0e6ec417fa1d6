"""Property-based API test: schemathesis generates requests from our OpenAPI schema (valid
and invalid values, huge numbers, odd strings) for every operation; none may answer 5xx.

This is what found nothing after the integer parameters were bounded (``web/params.py``);
before, ``/api/log/entries/{index}`` with a 20-digit index was a 500 from SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_service.services import Services
from tests.service.conftest import client_for

from .test_hardening import _officer, _token

# DER request bodies (OCSP, RFC 3161): random bytes, mostly malformed, which is the point.
for _media_type in ("application/ocsp-request", "application/timestamp-query"):
    schemathesis.openapi.media_type(_media_type, st.binary(max_size=600))


@pytest.fixture
def api(services_factory: Callable[..., Services]) -> Iterator[tuple[Any, str]]:
    services = services_factory(capture_allow_private=False)
    with client_for(services) as client:
        token = _token(services, _officer(services))
        yield client.app, token


def test_no_operation_answers_5xx(api: tuple[Any, str]) -> None:
    """Every operation of the schema, a dozen generated requests each (the same ones every
    run: derandomized, so a failure is reproducible)."""
    app, token = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, [op.label for op in operations]
    with TestClient(app, raise_server_exceptions=False) as client:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=12,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            )
            def no_5xx(case: Any) -> None:
                response = case.call(session=client, headers=headers)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

            no_5xx()
