"""``/stats``, ``/stats.csv`` and ``GET /api/stats`` over HTTP: the same numbers three ways,
each unit's officers their own unit's figures, the administrator any unit's, everyone else
refused."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import User
from tests.portal.conftest import csrf_of
from tests.service.conftest import make_settings
from tests.stats.data import TODAY, Built, build
from workflow.cases import access

PASSWORD = "stats password 1"
MARCH = {"from": "2026-03", "to": "2026-03"}


@dataclass
class Site:
    services: Services
    app: Any
    built: Built


def _user(services: Services, username: str, unit_id: int | None, role: str = "officer") -> None:
    with services.session() as session:
        session.add(
            User(username=username, display_name=username, password_hash=hash_password(PASSWORD),
                 role=role, unit_id=unit_id, must_change_password=False)
        )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    services = Services(make_settings(tmp_path_factory.mktemp("stats-web") / "data"))
    services.migrate()
    built = build(services.sessions)
    _user(services, "wang", built.unit_a)
    _user(services, "bob", built.unit_b)
    _user(services, "root", None, role="admin")
    _user(services, "nobody", None)  # an officer account not in any unit
    app = create_app(services=services)
    # the figures as of the day data.py works them out for
    app.state.case_context = replace(case_context(services), today=lambda: TODAY)
    yield Site(services, app, built)
    services.close()


def login(site: Site, username: str, lang: str = "zh") -> TestClient:
    client = TestClient(site.app, headers={"Accept-Language": lang, "Accept": "text/html"})
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def _number(text: str) -> int | float | None:
    text = text.strip().rstrip("%")
    if text in ("", "—"):
        return None
    return float(text) if "." in text else int(text)


def page_cells(text: str) -> dict[tuple[str, str, str], int | float | None]:
    cells = re.findall(
        r'<td class="n" data-figure="([^"]*)" data-item="([^"]*)" data-measure="([^"]*)"'
        r">([^<]*)</td>",
        text,
    )
    return {(f, html.unescape(i), m): _number(html.unescape(v)) for f, i, m, v in cells}


def csv_cells(text: str) -> dict[tuple[str, str, str], int | float | None]:
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:]))
    return {(r["figure"], r["item"], r["measure"]): _number(r["value"]) for r in reader}


def test_page_csv_and_api_give_the_same_figures(site: Site) -> None:
    client = login(site, "wang")
    page = client.get("/stats", params=MARCH)
    assert page.status_code == 200
    api = client.get("/api/stats", params=MARCH).json()
    from_api = {(r["figure"], r["item"], r["measure"]): r["value"] for r in api["rows"]}
    got_csv = client.get("/stats.csv", params=MARCH)
    assert got_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in got_csv.headers["content-disposition"]
    from_csv = csv_cells(got_csv.text)
    from_page = page_cells(page.text)
    # every figure is on the page (shares without their per-rule totals), in the CSV and API
    assert from_api == from_csv == from_page
    assert from_api[("cases_by_month", "2026-03", "opened")] == 6
    assert from_api[("no_penalty_path", "", "guided_percent")] == 66.7
    assert from_api[("working_days_per_step", "4", "average")] == 5.0
    assert api["unit"] == {"id": site.built.unit_a, "name": "示例市市场监督管理局"}
    assert api["period"] == {"from_month": "2026-03", "to_month": "2026-03"}
    assert api["as_of"] == TODAY.isoformat()
    f = api["figures"]
    assert f["cases_by_month"] == [{"month": "2026-03", "opened": 6, "closed": 4, "complaints": 2}]
    assert f["no_penalty_path"]["closed_by_guidance"] == 2
    assert f["complaints"] == {"received": 2, "screened": 1}


def test_the_page_draws_each_chart_with_its_words(site: Site) -> None:
    for lang, words in (("zh", "按月案件数"), ("en", "Cases by month")):
        text = login(site, "wang", lang).get("/stats", params=MARCH).text
        assert text.count("<svg") == 5  # months, types, compliance, no-penalty, steps
        assert text.count("<title id=") == 5 and text.count("<desc id=") == 5
        assert words in text
        assert 'href="/stats"' in text  # in the navigation
        assert "/stats.csv?unit=" in text and "/api/stats?unit=" in text


def test_the_period_filter_over_http(site: Site) -> None:
    client = login(site, "wang")
    april = client.get("/api/stats", params={"from": "2026-04", "to": "2026-04"}).json()
    assert april["figures"]["cases_by_month"][0]["opened"] == 1
    q1 = client.get("/api/stats", params={"from": "2026-01", "to": "2026-03"}).json()
    assert [m["opened"] for m in q1["figures"]["cases_by_month"]] == [1, 2, 6]
    assert (
        'value="2026-01"' in client.get("/stats", params={"from": "2026-01", "to": "2026-03"}).text
    )
    bad = client.get("/api/stats", params={"from": "2026-05", "to": "2026-04"})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "invalid_period"
    page = client.get("/stats", params={"from": "March"})
    assert page.status_code == 422 and "YYYY-MM" in page.text


def test_each_unit_sees_its_own_figures(site: Site) -> None:
    bob = login(site, "bob")
    mine = bob.get("/api/stats", params=MARCH).json()
    assert mine["unit"]["id"] == site.built.unit_b
    assert mine["figures"]["cases_by_month"][0]["opened"] == 1
    refused = bob.get("/api/stats", params={**MARCH, "unit": site.built.unit_a})
    assert refused.status_code == 403
    assert bob.get("/stats", params={"unit": site.built.unit_a}).status_code == 403
    assert bob.get("/stats.csv", params={"unit": site.built.unit_a}).status_code == 403


def test_the_administrator_chooses_any_unit(site: Site) -> None:
    root = login(site, "root")
    page = root.get("/stats", params={**MARCH, "unit": site.built.unit_b})
    assert page.status_code == 200
    assert 'id="stats-unit"' in page.text and "乙市市场监督管理局" in page.text
    a = root.get("/api/stats", params={**MARCH, "unit": site.built.unit_a}).json()
    assert a["figures"]["cases_by_month"][0]["opened"] == 6
    assert root.get("/api/stats", params={"unit": 999_999}).status_code == 404


def test_others_are_refused(site: Site) -> None:
    anonymous = TestClient(site.app, headers={"Accept": "text/html"})
    assert anonymous.get("/stats", follow_redirects=False).status_code == 303  # to login
    assert anonymous.get("/api/stats").status_code == 401
    assert anonymous.get("/stats.csv", follow_redirects=False).status_code == 303
    assert login(site, "nobody").get("/api/stats").status_code == 403  # no unit, no figures
    for role in ("merchant", "complainant", "platform", "public"):
        assert not access.can(role, "stats", access.Subject(actor_unit="1", case_unit="1"))
