"""The provenance document: TLS chain as Chromium used it, environment checks, times."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.capture.conftest import Captured, EngineRunner, capture_and_read
from tests.fixtures.site import FixtureSite

pytestmark = pytest.mark.chromium

ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _sha256_der(pem: bytes) -> str:
    return hashlib.sha256(
        x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    ).hexdigest()


@pytest.fixture(scope="module")
def https_capture(
    engine: EngineRunner,
    fixture_site: FixtureSite,
    tmp_path_factory: pytest.TempPathFactory,
) -> Captured:
    return capture_and_read(
        engine,
        fixture_site.https("/listing"),
        tmp_path_factory.mktemp("https"),
        clock_reference=lambda: datetime.now(UTC) + timedelta(seconds=5),
        extra_provenance={"case": "市监处罚〔2026〕17号", "officer": "王五"},
    )


def test_tls_chain_is_the_one_chromium_used(
    https_capture: Captured, fixture_site: FixtureSite
) -> None:
    netloc = fixture_site.https_url.removeprefix("https://")
    host = https_capture.result.provenance["hosts"][netloc]
    tls = host["tls"]
    assert tls["protocol"].startswith("TLS")
    chain = tls["certificate_chain"]
    assert [c["sha256"] for c in chain] == [
        _sha256_der(fixture_site.https_cert_pem),
        _sha256_der(fixture_site.ca_pem),
    ]
    # the PEM recorded is the certificate itself, not a description of it
    assert x509.load_pem_x509_certificate(chain[0]["pem"].encode()) == (
        x509.load_pem_x509_certificate(fixture_site.https_cert_pem)
    )
    assert host["server_ips"] == ["127.0.0.1"]


def test_extra_trusted_ca_is_recorded(https_capture: Captured, fixture_site: FixtureSite) -> None:
    cas = https_capture.result.provenance["environment"]["extra_trusted_cas"]
    assert [c["sha256"] for c in cas] == [_sha256_der(fixture_site.ca_pem)]


def test_environment_checks(https_capture: Captured, fixture_site: FixtureSite) -> None:
    prov = https_capture.result.provenance
    env = prov["environment"]
    netloc = fixture_site.https_url.removeprefix("https://")
    host = prov["hosts"][netloc]
    assert "127.0.0.1" in host["dns"]["addresses"]
    assert host["dns"]["ip_literal"] is False
    assert host["outgoing_address"] == "127.0.0.1"
    expected_ns = [
        line.split()[1]
        for line in Path("/etc/resolv.conf").read_text().splitlines()
        if line.startswith("nameserver") and len(line.split()) > 1
    ]
    assert env["resolver"]["nameservers"] == expected_ns
    hosts_lines = [
        line.strip()
        for line in Path("/etc/hosts").read_text().splitlines()
        if "localhost" in line.split("#")[0].split()[1:]
    ]
    assert env["hosts_file"]["entries"]["localhost"] == hosts_lines
    assert env["proxy"]["chromium"].startswith("--no-proxy-server")
    assert env["clean_profile"]["fresh_context"] is True
    assert "--disable-extensions" in (prov["browser"]["command_line"] or [])
    assert "--no-proxy-server" in prov["browser"]["command_line"]


def test_clock_offset_to_reference(https_capture: Captured) -> None:
    clock = https_capture.result.provenance["environment"]["clock"]
    assert clock["measured"] is True
    assert 4.5 < clock["offset_seconds"] < 5.5
    for key in ("local_before", "reference", "local_after"):
        assert ISO_MICROS.match(clock[key])


def test_basic_facts_and_context(https_capture: Captured, fixture_site: FixtureSite) -> None:
    result = https_capture.result
    prov = result.provenance
    assert json.loads(result.provenance_json_path.read_bytes()) == prov
    assert prov["requested_url"] == fixture_site.https("/listing")
    assert prov["final_url"] == fixture_site.https("/listing")
    assert prov["http_status"] == 200 == result.http_status
    assert ISO_MICROS.match(prov["started_at"]) and ISO_MICROS.match(prov["ended_at"])
    assert result.started_at < result.ended_at
    browser = prov["browser"]
    assert browser["name"] == "Chromium"
    assert browser["version"] == result.browser_version and result.browser_version.count(".") == 3
    assert "HeadlessChrome" in browser["user_agent"] == result.user_agent
    assert browser["viewport"] == {"width": 1280, "height": 800}
    assert browser["timezone"] and browser["navigator_language"]
    assert prov["limits"] == {"timeout_s": 60.0, "max_bytes": 200_000_000, "max_resources": 2000}
    assert prov["context"] == {"case": "市监处罚〔2026〕17号", "officer": "王五"}
    assert prov["authentication"]["authenticated"] is False
    headers = dict((k.lower(), v) for k, v in prov["main_document"]["headers"])
    assert headers["content-encoding"] == "gzip"  # as the server sent it
    assert prov["main_document"]["headers_text"].startswith("HTTP/1.1 200 OK\r\n")
    assert (
        prov["artifacts"]["screenshot"]["sha256"]
        == hashlib.sha256(result.screenshot_path.read_bytes()).hexdigest()
    )


def test_html_is_bilingual_and_shows_the_facts(https_capture: Captured) -> None:
    html = https_capture.result.provenance_html_path.read_text(encoding="utf-8")
    for text in ("请求网址", "Requested URL", "证书", "Certificate", "DNS", "代理", "Proxy"):
        assert text in html
    assert https_capture.result.provenance["hosts"]
    chain = next(iter(https_capture.result.provenance["hosts"].values()))["tls"][
        "certificate_chain"
    ]
    assert chain[0]["sha256"] in html
    assert "市监处罚〔2026〕17号" in html


def test_clock_not_measured_and_proxy_variables(
    engine: EngineRunner,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy in the environment is reported (password hidden); Chromium still goes direct."""
    monkeypatch.setenv("HTTPS_PROXY", "http://agent:pr0xy-pass@proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "localhost")
    result = engine.capture(fixture_site.url("/latin1"), tmp_path)
    env = result.provenance["environment"]
    assert env["clock"]["measured"] is False
    assert env["clock"]["note"].startswith("not measured")
    proxy = env["proxy"]
    assert proxy["environment"]["HTTPS_PROXY"] == "http://agent:***@proxy.internal:3128"
    assert proxy["environment"]["no_proxy"] == "localhost"
    assert proxy["proxy_configured_in_environment"] is True
    assert "pr0xy-pass" not in result.provenance_json_path.read_text(encoding="utf-8")
    assert result.http_status == 200  # connected directly despite the variables
    assert result.provenance["hosts"][fixture_site.http_url.removeprefix("http://")]["dns"][
        "ip_literal"
    ]
