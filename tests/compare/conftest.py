"""Fixtures for the comparison tests: the fixture shop's listing /shop/item/<key> sealed by
``evidence capture`` as it first was, after the merchant's edit (price changed, a claim
removed, the image swapped), and after it disappeared (404, and a redirect to the shop
front). One data folder (one PKI, one TSA) for all of them, session-scoped: each capture is
a real Chromium capture with a real seal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port
from tests.fixtures.nss import nss_factory
from tests.fixtures.site import FixtureSite
from tests.seal.conftest import service_environment

ITEM = "bt-pro"


@dataclass
class ShopCaptures:
    base: Path
    env: dict[str, str]
    bundle: Path
    url: str
    #: variant -> sealed package (original, edited, gone, redirect)
    packages: dict[str, Path]
    records: dict[str, dict[str, object]]


def seal_capture(env: dict[str, str], url: str, out: Path) -> dict[str, object]:
    proc = run_cli(["capture", url, "-o", str(out), "--json"], env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record: dict[str, object] = json.loads(proc.stdout)
    return record


@pytest.fixture(scope="session")
def shop_captures(
    tmp_path_factory: pytest.TempPathFactory, fixture_site: FixtureSite
) -> Iterator[ShopCaptures]:
    base = tmp_path_factory.mktemp("compare")
    env = service_environment(base / "data", free_port())
    url = fixture_site.url(f"/shop/item/{ITEM}")
    packages: dict[str, Path] = {}
    records: dict[str, dict[str, object]] = {}
    for variant in ("original", "edited", "gone", "redirect"):
        fixture_site.set_item(ITEM, variant)
        packages[variant] = base / f"{variant}.wacz"
        records[variant] = seal_capture(env, url, packages[variant])
    fixture_site.set_item(ITEM, "original")
    bundle = base / "bundle.pem"
    exported = run_cli(["trust", "export", "-o", str(bundle)], env)
    assert exported.returncode == 0, exported.stderr
    yield ShopCaptures(base, env, bundle, url, packages, records)


@pytest.fixture(scope="session")
def nssdb(tmp_path_factory: pytest.TempPathFactory) -> Callable[[x509.Certificate], str]:
    """``make(root)``: an NSS database trusting ``root`` for pdfsig."""
    return nss_factory(tmp_path_factory.mktemp("nss"))
