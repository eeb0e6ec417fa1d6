"""Capture benchmark (not a test): prints figures for the fixture listing page.

    .venv/bin/python benchmarks/capture.py [--runs 10] [--jobs 40]

1. bare: a warm Playwright Chromium loads the page (network idle), takes a full-page
   screenshot and prints a PDF -- what any capture costs at least;
2. full: the same page through our whole pipeline to a sealed, stored package (one warm
   engine, in-process), and the seal alone (package + sign + time-stamp + store);
3. throughput: captures per minute with 1 and 2 worker processes (`evidence worker`) draining a
   queue of --jobs captures on the same data folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from capture import CaptureEngine  # noqa: E402
from evidence_service.bootstrap import initialize  # noqa: E402
from evidence_service.config import Settings  # noqa: E402
from evidence_service.pipeline import (  # noqa: E402
    _read_manifest,
    create_capture,
    process_capture,
    seal_capture,
)
from evidence_service.services import Services  # noqa: E402
from storage.models import Capture  # noqa: E402
from tests.fixtures.site import serve_fixture_site  # noqa: E402

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


async def bare(url: str, runs: int) -> list[float]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        times = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
            page = await ctx.new_page()
            await page.goto(url, wait_until="networkidle")
            await page.screenshot(full_page=True)
            await page.pdf()
            await ctx.close()
            if i:  # the first run warms caches of the browser process
                times.append(time.perf_counter() - t0)
        await browser.close()
    return times


def settings_for(data: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data,
        capture_allow_private=True,  # type: ignore[call-arg]
        key_passphrase="bench",
    )


async def full(url: str, runs: int, data: Path) -> tuple[list[float], list[float]]:
    services = Services(settings_for(data))
    initialize(services)
    totals, seals = [], []
    async with CaptureEngine(services.settings.chromium_path) as engine:
        for i in range(runs + 1):
            t0 = time.perf_counter()
            cid = create_capture(services, url, user_id=None, enqueue=False)
            outcome = await process_capture(services, engine, cid)
            assert outcome.kind == "done", outcome
            if i:
                totals.append(time.perf_counter() - t0)
        # The seal alone, on a finished capture kept aside.
        for _ in range(runs):
            cid = create_capture(services, url, user_id=None, enqueue=False)
            workdir = services.settings.work_dir / cid
            from evidence_service import pipeline

            await pipeline._load(services, engine, cid, workdir, 1)
            result = _read_manifest(workdir / "result.json")
            t0 = time.perf_counter()
            seal_capture(services, cid, result, workdir)
            seals.append(time.perf_counter() - t0)
    services.close()
    return totals, seals


def throughput(url: str, jobs: int, workers: int, data: Path) -> float:
    services = Services(settings_for(data))
    initialize(services)
    env = {
        **os.environ,
        "EVIDENCE_DATA_DIR": str(data),
        "EVIDENCE_CAPTURE_ALLOW_PRIVATE": "true",
        "EVIDENCE_KEY_PASSPHRASE": "bench",
    }
    exe = ROOT / ".venv" / "bin" / "evidence"
    procs = [subprocess.Popen([str(exe), "worker"], env=env) for _ in range(workers)]
    time.sleep(3)  # let the workers start their browsers before the clock starts
    ids = [create_capture(services, url, user_id=None) for _ in range(jobs)]
    t0 = time.perf_counter()
    while True:
        with services.sessions() as session:
            done = (
                session.query(Capture)
                .filter(Capture.id.in_(ids), Capture.status.in_(("stored", "failed")))
                .count()
            )
        if done == jobs:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)
    with services.sessions() as session:
        failed = (
            session.query(Capture).filter(Capture.id.in_(ids), Capture.status == "failed").count()
        )
    services.close()
    if failed:
        print(f"  warning: {failed} captures failed")
    return jobs / elapsed * 60


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=40)
    args = ap.parse_args()
    with serve_fixture_site() as site, tempfile.TemporaryDirectory() as tmp:
        url = site.url("/listing")
        b = asyncio.run(bare(url, args.runs))
        f, s = asyncio.run(full(url, args.runs, Path(tmp) / "full"))
        mb, mf, ms = statistics.median(b), statistics.median(f), statistics.median(s)
        print(f"page: {url}  (median of {args.runs} runs, warm browser)")
        print(f"bare Playwright load+screenshot+PDF: {mb * 1000:8.1f} ms")
        print(f"full capture to sealed package:      {mf * 1000:8.1f} ms")
        print(
            f"  of which the seal (WACZ+sign+TSA+store): {ms * 1000:6.1f} ms"
            f"  = {ms / mb * 100:5.1f} % of bare"
        )
        print(f"overhead of full over bare:          {(mf - mb) / mb * 100:8.1f} %")
        for n in (1, 2):
            rate = throughput(url, args.jobs, n, Path(tmp) / f"tp{n}")
            print(f"throughput, {n} worker(s): {rate:6.1f} captures/min ({args.jobs} jobs)")


if __name__ == "__main__":
    main()
