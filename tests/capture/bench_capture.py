"""Benchmark: warm-engine capture vs a bare Playwright load + screenshot + PDF.

Not collected by pytest (no ``test_`` prefix). Run:

    .venv/bin/python -m tests.capture.bench_capture [runs] [--no-spare]

It alternates the two measurements on the same page (the fixture's /listing) so that machine
noise hits both alike, then measures throughput with 2 concurrent captures on one engine.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import Browser, async_playwright

from capture import CaptureEngine, CaptureOptions
from capture.engine import LAUNCH_ARGS
from tests.fixtures.site import serve_fixture_site


async def bare(browser: Browser, url: str, out: Path) -> float:
    t0 = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(url)
    await page.screenshot(path=out / "s.png", full_page=True)
    await page.pdf(path=out / "p.pdf")
    await context.close()
    return time.perf_counter() - t0


async def main(runs: int) -> None:
    with serve_fixture_site() as site, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = site.url("/listing")
        options = CaptureOptions(allow_private=True)
        async with async_playwright() as pw, CaptureEngine(extra_ca_pem=site.ca_pem) as engine:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=list(LAUNCH_ARGS)
            )
            for i in range(2):  # warm-up both
                await bare(browser, url, root)
                await engine.capture(url, options, root / f"w{i}")
            b_times, c_times = [], []
            for i in range(runs):
                # let the engine finish preparing its next context before the bare run, so
                # that the two measurements do not compete for the CPU
                await asyncio.sleep(0.5)
                b_times.append(await bare(browser, url, root))
                await asyncio.sleep(0.5)
                t0 = time.perf_counter()
                await engine.capture(url, options, root / f"c{i}")
                c_times.append(time.perf_counter() - t0)
            await browser.close()

            def fmt(xs: list[float]) -> str:
                return (
                    f"median {statistics.median(xs):.3f} s, mean {statistics.mean(xs):.3f} s, "
                    f"min {min(xs):.3f} s"
                )

            print(f"bare Playwright goto+screenshot+pdf ({runs} runs): {fmt(b_times)}")
            print(f"warm-engine capture            ({runs} runs): {fmt(c_times)}")

            n = max(runs, 20)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    await engine.capture(url, options, root / f"t{i}")

            t0 = time.perf_counter()
            await asyncio.gather(worker(), worker())
            elapsed = time.perf_counter() - t0
            print(
                f"throughput, 2 concurrent captures on one engine: {n} captures in "
                f"{elapsed:.1f} s = {n / elapsed * 60:.0f} captures/min"
            )


if __name__ == "__main__":
    if "--no-spare" in sys.argv:  # measure without the context prepared in advance
        import capture.engine

        capture.engine.SPARE_CONTEXTS = 0
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    asyncio.run(main(int(numbers[0]) if numbers else 15))
