"""Capture benchmark (not a test): prints figures for the fixture listing page.

    .venv/bin/python benchmarks/capture.py [--runs 10] [--jobs 40] [--workers 1,2]

1. bare vs full, interleaved (the machine is shared: alternating the two in one run keeps
   other load from favouring either; the order flips every round):
   bare -- a warm Playwright Chromium loads the page (network idle), takes a full-page
   screenshot and prints a PDF, what any capture costs at least;
   full -- the same page through our whole pipeline to a sealed, stored package (one warm
   engine, in-process), split into our browser capture, the seal (manifest, time-stamps, log,
   certificate, package, signature, store) and the rest (database, work folder);
2. the seal's stages (medians of the timings each seal records in its capture's summary);
3. throughput: captures per minute with N worker processes (`evidence worker`) draining a
   queue of --jobs captures on the same data folder, --rounds times (median): 1 worker without
   pipelining (EVIDENCE_WORKER_PIPELINE=false: load, seal, then the next page), then each of
   --workers pipelined (the next page loads while the last one seals), side by side with the
   bare warm-Chromium rate of step 1 (60 s / its median) and against the targets of issue 13:
   2 workers >= 1.6 x 1 worker, 2 workers >= 0.9 x bare rate, seal <= 10 % of bare time.
4. the session video (``--sections video``): the same pipeline with and without ``video``
   (interleaved, order flipping, one warm engine), time per capture both ways (whole pipeline,
   and its browser capture), and the video's size per minute of recording, on the listing page
   and on a page whose last image takes --slow-ms to arrive (a longer recording). Target: video
   adds at most 20 % to the time per capture.

``--sections bare,throughput,video`` chooses what to run (default: all; throughput also runs the
bare comparison, the throughput being read against the bare rate; bare alone skips it).
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import Browser, async_playwright  # noqa: E402

from capture import CaptureEngine  # noqa: E402
from capture.engine import CHROMIUM_ARGS  # noqa: E402
from evidence_service.bootstrap import initialize  # noqa: E402
from evidence_service.config import Settings  # noqa: E402
from evidence_service.sealing.pipeline import create_capture, process_capture  # noqa: E402
from evidence_service.services import Services  # noqa: E402
from storage.models import Capture  # noqa: E402
from tests.fixtures.site import serve_fixture_site  # noqa: E402


async def bare_once(browser: Browser, url: str) -> float:
    t0 = time.perf_counter()
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await ctx.new_page()
    await page.goto(url, wait_until="networkidle")
    await page.screenshot(full_page=True)
    await page.pdf()
    await ctx.close()
    return time.perf_counter() - t0


def settings_for(data: Path, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data,
        capture_allow_private=True,  # type: ignore[call-arg]
        key_passphrase="bench",
        **extra,
    )


async def full_once(
    services: Services,
    engine: CaptureEngine,
    url: str,
    loads: list[float],
    *,
    video: bool = False,
    facts: list[dict[str, Any]] | None = None,
) -> tuple[float, dict[str, float]]:
    t0 = time.perf_counter()
    cid = create_capture(services, url, user_id=None, enqueue=False, video=video)
    outcome = await process_capture(services, engine, cid)
    elapsed = time.perf_counter() - t0
    assert outcome.kind == "done", outcome
    with services.sessions() as session:
        cap = session.get(Capture, cid)
        assert cap is not None
        assert cap.status == "stored", cap.progress_detail
        timing = dict((cap.summary or {}).get("seal_timing") or {})
        assert bool(cap.video_key) == video
        if video and facts is not None:
            with services.store.open(cap.provenance_key) as fh:  # type: ignore[arg-type]
                import json

                facts.append(json.loads(fh.read())["artifacts"]["video"])
    timing["capture_s"] = loads[-1]
    return elapsed, timing


async def interleaved(
    url: str, runs: int, data: Path
) -> tuple[list[float], list[float], list[dict[str, float]]]:
    services = Services(settings_for(data))
    initialize(services)
    bare: list[float] = []
    full: list[float] = []
    timings: list[dict[str, float]] = []
    loads: list[float] = []
    async with async_playwright() as p, CaptureEngine(services.settings.chromium_path) as engine:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS)
        )
        capture = engine.capture

        async def timed_capture(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await capture(*args, **kwargs)
            finally:
                loads.append(time.perf_counter() - t0)

        engine.capture = timed_capture  # type: ignore[method-assign]
        for i in range(runs + 1):  # the first round warms both up (browser caches, fonts, keys)
            for which in ("bare", "full") if i % 2 else ("full", "bare"):
                if which == "bare":
                    b = await bare_once(browser, url)
                    if i:
                        bare.append(b)
                else:
                    f, timing = await full_once(services, engine, url, loads)
                    if i:
                        full.append(f)
                        timings.append(timing)
        await browser.close()
    services.close()
    return bare, full, timings


async def video_interleaved(url: str, runs: int, data: Path, fps: int) -> dict[str, Any]:
    """Full captures with and without video, alternating (order flips every round)."""
    services = Services(settings_for(data, capture_video_fps=fps))
    initialize(services)
    out: dict[str, Any] = {"plain": [], "video": [], "plain_cap": [], "video_cap": [], "facts": []}
    loads: list[float] = []
    async with CaptureEngine(services.settings.chromium_path) as engine:
        capture = engine.capture

        async def timed_capture(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await capture(*args, **kwargs)
            finally:
                loads.append(time.perf_counter() - t0)

        engine.capture = timed_capture  # type: ignore[method-assign]
        for i in range(runs + 1):  # round 0 warms up (the encoder, fonts, caches)
            for which in ("plain", "video") if i % 2 else ("video", "plain"):
                facts: list[dict[str, Any]] = []
                elapsed, timing = await full_once(
                    services, engine, url, loads, video=which == "video", facts=facts
                )
                if i:
                    out[which].append(elapsed)
                    out[f"{which}_cap"].append(timing["capture_s"])
                    out["facts"] += facts
    services.close()
    return out


def report_video(name: str, url: str, v: dict[str, Any], runs: int, fps: int) -> None:
    plain, video = ms(v["plain"]), ms(v["video"])
    pc, vc = ms(v["plain_cap"]), ms(v["video_cap"])
    facts = v["facts"]
    size = statistics.median(f["bytes"] for f in facts)
    secs = statistics.median(f["duration_s"] for f in facts)
    frames = statistics.median(f["frames_received"] for f in facts)
    per_min = sum(f["bytes"] for f in facts) / max(sum(f["duration_s"] for f in facts), 1e-9) * 60
    print(f"video, {name}: {url}  (median of {runs} interleaved runs, whole pipeline, {fps} fps)")
    added, added_cap = (video - plain) / plain * 100, (vc - pc) / pc * 100
    print("                           without video   with video   added")
    print(f"  time per capture:        {plain:10.1f} ms {video:10.1f} ms  {added:+6.1f} %")
    print(f"  of which browser capture:{pc:10.1f} ms {vc:10.1f} ms  {added_cap:+6.1f} %")
    print(
        f"  video: {size / 1000:.1f} kB for {secs:.1f} s ({frames:.0f} screencast frames); "
        f"{per_min / 1e6:.2f} MB per minute of recording"
    )


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores were busy on average between two :func:`cpu_times` (whole machine)."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / max(total, 1) * (os.cpu_count() or 1)


def throughput(
    url: str, jobs: int, workers: int, data: Path, *, pipeline: bool = True
) -> tuple[float, float]:
    """Captures per minute of ``workers`` worker processes draining ``jobs`` captures, and
    the cores the machine kept busy meanwhile (so a CPU-bound ceiling can be read off)."""
    services = Services(settings_for(data))
    initialize(services)
    env = {
        **os.environ,
        "EVIDENCE_DATA_DIR": str(data),
        "EVIDENCE_CAPTURE_ALLOW_PRIVATE": "true",
        "EVIDENCE_KEY_PASSPHRASE": "bench",
        "EVIDENCE_WORKER_PIPELINE": "true" if pipeline else "false",
        "EVIDENCE_LOG_LEVEL": "WARNING",  # the figures, not every job's log line
    }
    exe = Path(sys.executable).parent / "evidence"
    procs = [subprocess.Popen([str(exe), "worker"], env=env) for _ in range(workers)]
    time.sleep(3)  # let the workers start their browsers before the clock starts
    ids = [create_capture(services, url, user_id=None) for _ in range(jobs)]
    t0, cpu0 = time.perf_counter(), cpu_times()
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
    elapsed, cores = time.perf_counter() - t0, busy_cores(cpu0, cpu_times())
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
    return jobs / elapsed * 60, cores


def ms(values: list[float]) -> float:
    return 1000 * statistics.median(values) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--workers", default="1,2", help="worker counts to measure, e.g. 1,2")
    ap.add_argument("--rounds", type=int, default=1, help="throughput repetitions")
    ap.add_argument("--sections", default="bare,throughput,video")
    ap.add_argument("--slow-ms", type=int, default=5000, help="last image of the slow page")
    ap.add_argument("--video-fps", type=int, default=5, help="the capture_video_fps setting")
    args = ap.parse_args()
    sections = {x.strip() for x in args.sections.split(",")}
    with serve_fixture_site() as site, tempfile.TemporaryDirectory() as tmp:
        url = site.url("/listing")
        if sections & {"bare", "throughput"}:
            bare, full, timings = asyncio.run(interleaved(url, args.runs, Path(tmp) / "full"))
            stage = {k: [t[k] for t in timings if k in t] for k in timings[0]}
            mb, mf = ms(bare), ms(full)
            seal, cap = ms(stage["seal_total_s"]), ms(stage["capture_s"])
            print(f"page: {url}  (median of {args.runs} interleaved runs, warm browser)")
            print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min)")
            print(f"bare Playwright load+screenshot+PDF: {mb:8.1f} ms")
            print(f"full capture to sealed package:      {mf:8.1f} ms")
            print(f"  our browser capture (CDP, provenance): {cap:7.1f} ms")
            share = seal / mb * 100
            print(
                f"  the seal (manifest..store):           {seal:7.1f} ms = {share:5.1f} % of bare"
            )
            print(f"  the rest (database, work folder):     {mf - cap - seal:7.1f} ms")
            print(f"overhead of full over bare:          {(mf - mb) / mb * 100:8.1f} %")
            print("seal stages (median):")
            for key, values in stage.items():
                if key not in ("capture_s", "seal_total_s"):
                    print(f"  {key:<28} {ms(values):7.1f} ms")
            bare_rate = 60 / statistics.median(bare)
            print(f"bare warm-Chromium rate (60 s / bare median): {bare_rate:6.1f} captures/min")

            if "throughput" in sections:
                cores_used: dict[int, float] = {}

                def rate(n: int, pipeline: bool) -> float:
                    tag = "p" if pipeline else "s"
                    runs = [
                        throughput(
                            url, args.jobs, n, Path(tmp) / f"tp{tag}{n}-{r}", pipeline=pipeline
                        )
                        for r in range(args.rounds)
                    ]
                    rates = [r for r, _ in runs]
                    each = ", ".join(f"{v:.1f}" for v in rates)
                    mode = "pipelined" if pipeline else "one at a time"
                    median = statistics.median(rates)
                    cores = statistics.median(c for _, c in runs)
                    if pipeline:
                        cores_used[n] = cores
                    print(
                        f"throughput, {n} worker(s), {mode:<13}: {median:6.1f} captures/min "
                        f"= {median / bare_rate:4.2f} x bare ({args.jobs} jobs; {each}); "
                        f"{cores:.2f} of {os.cpu_count()} cores busy"
                    )
                    return median

                serial = rate(1, pipeline=False)
                counts = [int(x) for x in args.workers.split(",") if x.strip()]
                piped = {n: rate(n, pipeline=True) for n in counts}
                if 1 in piped:
                    print(f"pipelining, 1 worker: {piped[1] / serial:4.2f} x one at a time")
                if 1 in piped and 2 in piped:
                    print(f"target 2 workers >= 1.6 x 1 worker:  {piped[2] / piped[1]:4.2f} x")
                    ceiling = (os.cpu_count() or 1) / cores_used[1]
                    print(
                        f"  CPU ceiling: one worker keeps {cores_used[1]:.2f} cores busy, so no "
                        f"number of workers can exceed {ceiling:4.2f} x one worker on "
                        f"{os.cpu_count()} cores"
                    )
                if 2 in piped:
                    print(f"target 2 workers >= 0.9 x bare rate: {piped[2] / bare_rate:4.2f} x")
            print(f"target seal <= 10 % of bare time:   {share:5.1f} %")
            print(
                f"load average at the end: {os.getloadavg()[0]:.1f} (figures from a busy machine "
                "are not comparable between runs, only within one)"
            )
        if "video" in sections:
            for name, page in (
                ("listing page", url),
                ("slow page", site.url(f"/slow-page?ms={args.slow_ms}")),
            ):
                data = Path(tmp) / f"video-{len(name)}"
                figures = asyncio.run(video_interleaved(page, args.runs, data, args.video_fps))
                report_video(name, page, figures, args.runs, args.video_fps)


if __name__ == "__main__":
    main()
