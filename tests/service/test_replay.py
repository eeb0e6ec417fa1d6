"""pywb, a replay tool we did not write, replays our sealed package: price and lazy image."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from capture.engine import CHROMIUM_ARGS
from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import PRICE_TEXT, FixtureSite
from tests.fixtures.tools import pywb_bin

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def test_pywb_replays_listing_with_js_price_and_lazy_image(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    package = tmp_path / "listing.wacz"
    listing = fixture_site.url("/listing")
    proc = run_cli(["capture", listing, "-o", str(package)], service_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr

    root = tmp_path / "pywb"
    root.mkdir()
    bin_dir = pywb_bin()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(
        ["wb-manager", "init", "evidence"], cwd=root, env=env, check=True, capture_output=True
    )
    added = subprocess.run(
        ["wb-manager", "add", "--unpack-wacz", "evidence", str(package)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert list((root / "collections" / "evidence" / "archive").glob("*.warc.gz"))
    # Frameless replay: the archived page itself at the top level, rewritten by pywb.
    (root / "config.yaml").write_text("framed_replay: false\n")

    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/evidence/", timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS)
            )
            page = browser.new_page()
            live_hits: list[str] = []
            page.on(
                "request",
                lambda r: (
                    live_hits.append(r.url) if r.url.startswith(fixture_site.http_url) else None
                ),
            )
            page.goto(f"{base}/evidence/{listing}", wait_until="networkidle")
            page.mouse.wheel(0, 5000)
            page.wait_for_timeout(500)
            assert PRICE_TEXT in page.content(), "the JS-loaded price replays from the archive"
            lazy = page.locator("img[loading=lazy]").first
            lazy.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0",
                arg=lazy.element_handle(),
                timeout=10_000,
            )
            assert not live_hits, f"replay must not reach the live site: {live_hits}"
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    shutil.rmtree(root, ignore_errors=True)
