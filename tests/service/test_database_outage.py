"""The database restarting under the web service: requests get 503 with ``Retry-After`` and a
code to branch on (not a 500 with a traceback), and work again once it is back.

A PostgreSQL cluster of this test's own is really stopped and started (the shared one serves
other tests and is never touched); found by the soak test, whose clients saw 500s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from evidence_service.services import Services
from tests.service.conftest import client_for
from tests.soak.faults import PrivatePostgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


def test_api_answers_503_while_the_database_restarts(
    private_pg: PrivatePostgres,
    services_factory: Callable[..., Services],
    admin_token: Callable[[Services], str],
) -> None:
    services = services_factory(database_url=private_pg.url)
    client = client_for(services)
    auth = {"Authorization": f"Bearer {admin_token(services)}"}
    assert client.get("/api/captures", headers=auth).status_code == 200

    private_pg.stop_server()
    try:
        r = client.get("/api/captures", headers=auth)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json()["detail"]["code"] == "database_unavailable"
        assert "Try again" in r.json()["detail"]["message"]
        r = client.post("/api/captures", headers=auth, json={"url": "http://127.0.0.1:1/x"})
        assert r.status_code == 503 and r.json()["detail"]["code"] == "database_unavailable"
        page = client.get("/v/abcdefghjk?lang=zh", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "数据库暂时无法连接" in page.text
    finally:
        private_pg.start_server()
    assert client.get("/api/captures", headers=auth).status_code == 200
