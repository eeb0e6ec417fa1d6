"""URL validation and the SSRF guard, without a browser."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from capture import (
    BlockedAddressError,
    CaptureEngine,
    CaptureOptions,
    DnsError,
    InvalidUrlError,
    UnsupportedSchemeError,
    check_url,
)
from capture.urls import address_class, blocked_reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Shop.Example.COM", "https://shop.example.com/"),
        (
            "  https://shop.example.com:443/item?id=1#frag  ",
            "https://shop.example.com/item?id=1#frag",
        ),
        ("http://shop.example.com:8080/a b", "http://shop.example.com:8080/a%20b"),
        ("https://例子.测试/商品", "https://xn--fsqu00a.xn--0zwm56d/%E5%95%86%E5%93%81"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ],
)
def test_normalises(url: str, expected: str) -> None:
    from capture.urls import normalise_url

    assert normalise_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "www.taobao.com/item/1",
        "https://",
        "http://exa mple.com/",
        "http://shop.example.com:99999/",
        "http://user:secret@shop.example.com/",
        "http://shop..example.com/",
        "https:/shop.example.com/",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidUrlError) as info:
        check_url(url, allow_private=False)
    assert info.value.code == "invalid_url"
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "data:text/html,x"]
)
def test_unknown_schemes_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedSchemeError) as info:
        check_url(url, allow_private=True)
    assert info.value.code == "unsupported_scheme"
    assert "http://" in str(info.value)


def test_dns_failure() -> None:
    with pytest.raises(DnsError) as info:
        check_url("http://no-such-shop.invalid/item", allow_private=True)
    assert "no-such-shop.invalid" in str(info.value)
    assert info.value.code == "dns_failure"


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("http://127.0.0.1/", "127.0.0.1", "loopback"),
        ("http://10.0.0.1/", "10.0.0.1", "private"),
        ("http://192.168.1.1/", "192.168.1.1", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud metadata"),
        ("http://[::1]/", "::1", "loopback"),
        ("http://100.64.0.7/", "100.64.0.7", "carrier-grade NAT"),
        ("http://0.0.0.0/", "0.0.0.0", "unspecified"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254", "cloud metadata"),
        ("http://2130706433/", "127.0.0.1", "loopback"),  # decimal IPv4, as Chromium reads it
    ],
)
def test_ssrf_guard_names_the_address(url: str, address: str, kind: str) -> None:
    with pytest.raises(BlockedAddressError) as info:
        check_url(url, allow_private=False)
    assert address in str(info.value)
    assert kind in str(info.value)
    assert info.value.code == "blocked_address"


def test_ssrf_guard_resolves_names() -> None:
    with pytest.raises(BlockedAddressError) as info:
        check_url("http://localhost:8080/", allow_private=False)
    assert "loopback" in str(info.value)
    assert "127.0.0.1" in str(info.value) or "::1" in str(info.value)


def test_allow_private_lifts_the_guard_but_not_for_metadata() -> None:
    assert check_url("http://127.0.0.1:8080/x", allow_private=True) == "http://127.0.0.1:8080/x"
    assert check_url("http://10.0.0.1/", allow_private=True) == "http://10.0.0.1/"
    with pytest.raises(BlockedAddressError):
        check_url("http://169.254.169.254/", allow_private=True)


def test_address_classes() -> None:
    import ipaddress

    assert address_class(ipaddress.ip_address("8.8.8.8")) is None
    assert address_class(ipaddress.ip_address("::ffff:10.1.2.3")) == "private"
    assert address_class(ipaddress.ip_address("224.0.0.1")) == "multicast"
    assert address_class(ipaddress.ip_address("240.0.0.1")) == "reserved"
    assert blocked_reason("8.8.8.8", allow_private=False) is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"]
)
def test_capture_refuses_internal_addresses_before_chromium(url: str, tmp_path: Path) -> None:
    """An engine that was never started stays unstarted: Chromium is not touched at all."""
    engine = CaptureEngine()
    workdir = tmp_path / "out"
    with pytest.raises(BlockedAddressError):
        asyncio.run(engine.capture(url, CaptureOptions(allow_private=False), workdir))
    assert engine.browser_version == ""
    assert not workdir.exists()


@pytest.mark.parametrize(
    ("address", "form", "inner", "kind"),
    [
        ("2002:7f00:1::", "6to4", "127.0.0.1", "loopback"),
        ("2002:a00:1:1234::1", "6to4", "10.0.0.1", "private"),
        ("::7f00:1", "IPv4-compatible", "127.0.0.1", "loopback"),
        ("::c0a8:101", "IPv4-compatible", "192.168.1.1", "private"),
        ("64:ff9b::a00:1", "NAT64", "10.0.0.1", "private"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo", "127.0.0.1", "loopback"),
    ],
)
def test_ipv6_forms_that_embed_a_private_ipv4_address_are_refused(
    address: str, form: str, inner: str, kind: str
) -> None:
    """Each IPv6 form that carries an IPv4 address is judged by that address, and the
    refusal names it (6to4 for 127.0.0.1 used to pass as public)."""
    with pytest.raises(BlockedAddressError) as info:
        check_url(f"http://[{address}]/", allow_private=False)
    message = str(info.value)
    assert kind in message and inner in message and form in message, message


def test_ipv4_mapped_form_is_the_ipv4_address_itself() -> None:
    with pytest.raises(BlockedAddressError, match="loopback"):
        check_url("http://[::ffff:127.0.0.1]/", allow_private=False)


def test_an_embedded_public_ipv4_address_stays_public() -> None:
    assert (
        check_url("http://[2002:808:808::1]/", allow_private=False) == "http://[2002:808:808::1]/"
    )


def test_embedded_metadata_address_is_refused_even_with_allow_private() -> None:
    with pytest.raises(BlockedAddressError, match="cloud metadata"):
        check_url("http://[2002:a9fe:a9fe::]/latest/meta-data/", allow_private=True)
