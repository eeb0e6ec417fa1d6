"""Cookie files and redaction, without a browser."""

from __future__ import annotations

import json

import pytest

from capture import Cookie, CookieFileError, parse_cookies_file
from capture.cookies import REDACTED, redact_cookie_header, redact_set_cookie

NETSCAPE = b"""# Netscape HTTP Cookie File
# exported for the test

.shop.example.com\tTRUE\t/\tTRUE\t1893456000\tsession\ts3cr3t-value
#HttpOnly_shop.example.com\tFALSE\t/account\tFALSE\t0\tcsrf\tabc123
"""


def test_netscape_cookies_txt() -> None:
    cookies = parse_cookies_file(NETSCAPE)
    assert cookies == [
        Cookie("session", "s3cr3t-value", ".shop.example.com", "/", True, False, 1893456000.0),
        Cookie("csrf", "abc123", "shop.example.com", "/account", False, True, None),
    ]


def test_playwright_json_list_and_storage_state() -> None:
    items = [
        {
            "name": "session",
            "value": "s3cr3t-value",
            "domain": "shop.example.com",
            "path": "/",
            "expires": -1,
            "httpOnly": True,
            "secure": True,
            "sameSite": "Lax",
        },
        {"name": "lang", "value": "zh"},
    ]
    as_list = parse_cookies_file(json.dumps(items).encode(), default_domain="shop.example.com")
    state = parse_cookies_file(
        json.dumps({"cookies": items, "origins": []}).encode(), default_domain="shop.example.com"
    )
    assert as_list == state
    assert as_list[0] == Cookie(
        "session", "s3cr3t-value", "shop.example.com", "/", True, True, None, "Lax"
    )
    assert as_list[1].domain == "shop.example.com"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe garbage",
        b"session=s3cr3t-value; other=1",
        b'{"name": "session", "value": "s3cr3t-value"}',
        b'[{"name": "session", "value": "s3cr3t-value"}]',  # no domain, no default
        b"shop.example.com\tTRUE\t/\tMAYBE\t0\tsession\ts3cr3t-value\n",
        b"[{]",
    ],
)
def test_bad_cookie_files_are_refused_without_leaking_values(data: bytes) -> None:
    with pytest.raises(CookieFileError) as info:
        parse_cookies_file(data)
    assert info.value.code == "invalid_cookies"
    assert "s3cr3t" not in str(info.value)


def test_redaction_keeps_other_cookies() -> None:
    names = frozenset({"session"})
    assert (
        redact_cookie_header("visitor=v1; session=s3cr3t; ab=B", names)
        == f"visitor=v1; session={REDACTED}; ab=B"
    )
    assert redact_set_cookie("session=s3cr3t; Path=/; HttpOnly", names) == (
        f"session={REDACTED}; Path=/; HttpOnly"
    )
    assert redact_set_cookie("visitor=v1; Path=/", names) == "visitor=v1; Path=/"
