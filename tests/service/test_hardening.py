"""Holes found by probing the running service as an attacker would (issue 14), each shut:
officer/admin logins and API tokens throttled, security headers on every HTML page,
integer parameters bounded at the edge, and IPv6 forms of private IPv4 addresses refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from storage.models import ApiToken, User
from tests.service.conftest import client_for

PASSWORD = "correct horse battery staple"


@pytest.fixture
def services(services_factory: Callable[..., Services]) -> Services:
    return services_factory(capture_allow_private=False)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with client_for(services) as c:
        yield c


def _officer(services: Services, username: str = "wang") -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name="王五",
            password_hash=hash_password(PASSWORD),
            role="officer",
        )
        session.add(user)
        session.flush()
        return user.id


def _token(services: Services, user_id: int, *, revoked: bool = False) -> str:
    token = new_api_token()
    with services.session() as session:
        session.add(
            ApiToken(user_id=user_id, name="t", token_hash=hash_token(token), revoked=revoked)
        )
    return token


def _login(client: TestClient, username: str, password: str) -> int:
    page = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    reply = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": match[1], "next": "/captures"},
        follow_redirects=False,
    )
    return reply.status_code


# -- throttling ---------------------------------------------------------------------------------


def test_officer_login_is_locked_after_five_wrong_passwords(
    services: Services, client: TestClient
) -> None:
    _officer(services)
    assert [_login(client, "wang", "wrong") for _ in range(5)] == [401] * 5
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    locked = client.post(
        "/login",
        data={"username": "wang", "password": PASSWORD, "csrf": csrf[1]},
        follow_redirects=False,
    )
    assert locked.status_code == 429  # even the right password, while locked
    assert int(locked.headers["Retry-After"]) > 0
    assert "失败次数过多" in locked.text or "Too many" in locked.text


def test_unknown_names_are_throttled_like_real_ones(services: Services, client: TestClient) -> None:
    """The lockout must not tell which account names exist."""
    codes = [_login(client, "nobody", "wrong") for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_password_spraying_from_one_address_is_locked(
    services: Services, client: TestClient
) -> None:
    _officer(services)
    codes = [_login(client, f"user{i}", "wrong") for i in range(20)]
    assert codes == [401] * 20
    assert _login(client, "wang", PASSWORD) == 429  # the address is locked


def test_a_right_password_resets_the_account_count(services: Services, client: TestClient) -> None:
    _officer(services)
    assert [_login(client, "wang", "wrong") for _ in range(4)] == [401] * 4
    assert _login(client, "wang", PASSWORD) == 303
    assert [_login(client, "wang", "wrong") for _ in range(4)] == [401] * 4


def test_api_token_guessing_is_throttled_per_address(
    services: Services, client: TestClient
) -> None:
    good = _token(services, _officer(services))
    for _ in range(20):
        assert (
            client.get("/api/captures", headers={"Authorization": "Bearer evt_x"}).status_code
            == 401
        )
    reply = client.get("/api/captures", headers={"Authorization": "Bearer evt_x"})
    assert reply.status_code == 429, reply.text
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json()["detail"]["code"] == "too_many_attempts"
    assert (
        client.get("/api/captures", headers={"Authorization": f"Bearer {good}"}).status_code == 429
    )


def test_a_revoked_token_replayed_locks_its_account(services: Services, client: TestClient) -> None:
    user = _officer(services)
    old = _token(services, user, revoked=True)
    good = _token(services, user)
    for _ in range(10):
        assert (
            client.get("/api/captures", headers={"Authorization": f"Bearer {old}"}).status_code
            == 401
        )
    reply = client.get("/api/captures", headers={"Authorization": f"Bearer {good}"})
    assert reply.status_code == 429 and "Retry-After" in reply.headers


# -- security headers ---------------------------------------------------------------------------

_REQUIRED = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, through included routers (FastAPI 0.165 wraps them; ours carry their
    prefixes in their own paths)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def _html_get_paths(client: TestClient) -> list[str]:
    paths = [
        re.sub(r"\{[^}]+\}", "1", route.path)
        for route in _routes(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(route, APIRoute | Route) and "GET" in (route.methods or ())
    ]
    assert len(paths) > 30, paths  # the walk found the included routers
    return sorted(set(paths))


def test_every_html_page_has_the_security_headers(services: Services, client: TestClient) -> None:
    """Every GET route, as an anonymous browser and as a signed-in officer: each HTML answer
    (pages, error pages, redirects' targets) carries CSP, framing, sniffing and referrer
    headers. The pages the probe named must be among them."""
    _officer(services)
    seen_html: set[str] = set()
    for signed_in in (False, True):
        if signed_in:
            assert _login(client, "wang", PASSWORD) == 303
        for path in _html_get_paths(client):
            reply = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
            assert reply.status_code < 500, (path, reply.status_code)
            if not reply.headers.get("content-type", "").startswith("text/html"):
                continue
            seen_html.add(path)
            for name, must_contain in _REQUIRED.items():
                assert must_contain in reply.headers.get(name, ""), (path, name, reply.headers)
            assert "script-src 'self'" in reply.headers["content-security-policy"] or path in (
                "/docs",
                "/redoc",
            )
    assert {"/login", "/captures", "/verify", "/docs", "/portal/login"} <= seen_html


def test_html_pages_have_no_inline_script(services: Services, client: TestClient) -> None:
    """The CSP forbids inline script, so no page may need one."""
    _officer(services)
    assert _login(client, "wang", PASSWORD) == 303
    for path in ("/login", "/captures", "/verify", "/documents", "/portal/login"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+=", html), path


def test_a_route_s_own_policy_wins(services: Services, client: TestClient) -> None:
    """Stored files keep their own frame-ancestors 'self' (the portal shows PDFs in a frame)."""
    reply = client.get("/static/app.css")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in reply.headers  # not HTML: left alone


def test_session_cookie_is_secure_when_the_public_url_is_https(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(public_url="https://evidence.example.gov.cn")
    with client_for(services) as client:
        client.base_url = "https://testserver"  # type: ignore[assignment]
        reply = client.get("/login")
        cookie = reply.headers["set-cookie"]
        assert "evidence_session=" in cookie and "secure" in cookie.lower()


# -- integers bounded at the edge ---------------------------------------------------------------

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/log/entries/{HUGE}",
        f"/api/log/sth/{HUGE}",
        f"/api/log/proof/consistency?first=1&second={HUGE}",
        "/api/log/entries/-1",
    ],
)
def test_anonymous_out_of_range_numbers_are_422(client: TestClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 422, (path, reply.status_code, reply.text)
    assert reply.json()["detail"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/captures?offset={HUGE}",
        "/api/captures?offset=-1",
        f"/api/documents/x/versions/{HUGE}/file",
        f"/api/documents/x/attachments/{HUGE}",
    ],
)
def test_signed_in_out_of_range_numbers_are_422(
    services: Services, client: TestClient, path: str
) -> None:
    token = _token(services, _officer(services))
    reply = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 422, (path, reply.status_code, reply.text)


def test_portal_version_number_out_of_range_is_a_page_not_a_500(client: TestClient) -> None:
    reply = client.get(f"/portal/documents/x/file?v={HUGE}", headers={"Accept": "text/html"})
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("text/html")


# -- IPv6 forms of private addresses ------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["[2002:7f00:1::]", "[::7f00:1]", "[::ffff:127.0.0.1]", "[64:ff9b::a00:1]"],
)
def test_capture_of_an_embedded_private_ipv4_address_is_refused(
    services: Services, client: TestClient, host: str
) -> None:
    token = _token(services, _officer(services))
    reply = client.post(
        "/api/captures",
        json={"url": f"http://{host}/"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 422, reply.text
    assert "loopback" in reply.text or "private" in reply.text
