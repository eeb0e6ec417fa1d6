"""The capture engine: one warm Chromium, a fresh browser context per capture.

Why one browser and many contexts: launching Chromium costs about half a second; a context is
an incognito-like profile (no cookies, cache, storage or service workers from earlier
captures) that costs a few milliseconds. The browser itself runs with a private ``HOME``
created at start, so nothing of the service account's profile (its NSS certificate database,
fontconfig, crash reports, proxy variables) leaks into the capture; its NSS database holds
only the extra CAs the engine was given (and the provenance says which).

Opening a context and its first page costs 100-200 ms; one never-used context is therefore
opened in advance after each capture and handed to the next capture with the same viewport,
user agent and language (``SPARE_CONTEXTS``). Nothing is ever loaded in it before.

Timing model (``CaptureLimits.timeout_s``): the limit covers loading (navigation, scrolling,
waiting for the network to go quiet). When it is hit after the main document arrived, the
remaining requests are aborted and listed, and the page is still snapshotted and sealed as
``partial``. The snapshot and writing steps have their own guard (``SNAPSHOT_TIMEOUT_S``)
so that a partial capture is not lost to the limit that made it partial.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from cryptography.hazmat.primitives import serialization
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from . import environment as envcheck
from .cookies import REDACTED, playwright_cookies, redact_cookie_header, redact_set_cookie
from .devices import Device, device_from_descriptor
from .devices import device as find_device
from .errors import (
    BlockedAddressError,
    BrowserError,
    CaptureError,
    CaptureTimeoutError,
    LimitExceededError,
    NetworkError,
)
from .neterrors import error_for, net_error_name
from .provenance import (
    FORMAT,
    ca_summary,
    certificate_info,
    pem_certificates,
    render_html,
    to_json_bytes,
)
from .recorder import Exchange, NetworkRecorder
from .types import CaptureOptions, CaptureResult
from .urls import check_url
from .video import VIDEO_MEDIA_TYPE, VIDEO_NAME, ScreencastRecorder, VideoFacts, check_encoder
from .warc import WarcBuilder

log = logging.getLogger(__name__)

#: Given to every headless Chromium launched here (captures, and the tests and benchmarks that
#: drive a browser themselves), on top of Playwright's own switches. Never a
#: ``--disable-features``: Chromium keeps only the last one, which would wipe Playwright's list.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
#: A capture's Chromium: :data:`CHROMIUM_ARGS` and what clean evidence needs besides.
LAUNCH_ARGS: tuple[str, ...] = (
    *CHROMIUM_ARGS,
    # A page-level CDP session sees cross-site iframe requests only if they run in-process.
    "--disable-site-isolation-trials",
    # Direct connections only: a capture through an unknown proxy is not a clean capture.
    "--no-proxy-server",
)
#: The network counts as idle after this long without any request event.
QUIET_WINDOW_S = 0.25
#: Guard for the snapshot/writing steps, independent of the loading time limit.
SNAPSHOT_TIMEOUT_S = 60.0
#: Never-used contexts kept ready for the next captures.
SPARE_CONTEXTS = 1
#: Scrolling stops after this many viewport heights (infinite-scroll pages).
SCROLL_MAX_STEPS = 40

#: What a prepared context must match: viewport width/height, user agent, Accept-Language,
#: and the emulated device (None: the desktop browser).
_PageKey = tuple[int, int, str | None, str, Device | None]

OUTPUT_NAMES = (
    "capture.warc.gz",
    "screenshot.png",
    "snapshot.pdf",
    "provenance.json",
    "provenance.html",
    VIDEO_NAME,
    VIDEO_NAME + ".part",
)

_SCROLL_JS = """
async (maxSteps) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const vh = window.innerHeight || 800;
  let y = 0, steps = 0;
  const height = () => Math.max(
    document.documentElement ? document.documentElement.scrollHeight : 0,
    document.body ? document.body.scrollHeight : 0);
  while (steps < maxSteps && y + vh < height()) {
    y += vh;
    window.scrollTo(0, y);
    steps++;
    await frame();
  }
  await frame();
  window.scrollTo(0, 0);
  await frame();
  return {steps, height: height()};
}
"""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _prepare_home(home: Path, extra_ca_pem: bytes | None) -> list[dict[str, str]]:
    """Create the browser's private HOME; put ``extra_ca_pem`` into its NSS database."""
    for sub in (".config", ".cache", ".local/share"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    if not extra_ca_pem:
        return []
    try:
        certs = pem_certificates(extra_ca_pem)
    except ValueError as exc:
        raise BrowserError(
            "extra_ca_pem is not a valid PEM certificate bundle; give the CA certificates as "
            "PEM (-----BEGIN CERTIFICATE-----)."
        ) from exc
    certutil = shutil.which("certutil")
    if certutil is None:
        raise BrowserError(
            "certutil is needed to trust extra CA certificates in Chromium; install the "
            "Debian package libnss3-tools."
        )
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    db = f"sql:{nssdb}"
    _run([certutil, "-N", "-d", db, "--empty-password"])
    summaries = []
    for i, cert in enumerate(certs):
        path = home / f"extra-ca-{i}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _run([certutil, "-A", "-d", db, "-n", f"extra-ca-{i}", "-t", "C,,", "-i", str(path)])
        summaries.append(ca_summary(cert))
    return summaries


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise BrowserError(
            f"Setting up Chromium's certificate store failed ({Path(cmd[0]).name} exited "
            f"{proc.returncode}: {proc.stderr.strip()[:300]})."
        )


def _browser_env(home: Path) -> dict[str, str | float | bool]:
    env: dict[str, str | float | bool] = {
        k: v for k, v in os.environ.items() if k.lower() not in envcheck.PROXY_VARIABLES
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local/share"),
    )
    return env


def _browser_command_line(home: Path) -> list[str] | None:
    """The browser process's real argv (Playwright's switches, the Debian wrapper's flags).

    Found through /proc: the browser process is the one whose HOME is our private home and
    that is not a child process type (``--type=...``). Linux only; None elsewhere.
    """
    marker = f"HOME={home}".encode()
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
            if marker not in env:
                continue
            argv = [
                a.decode(errors="replace")
                for a in (entry / "cmdline").read_bytes().split(b"\0")
                if a
            ]
        except OSError:
            continue
        if argv and "crashpad" not in argv[0] and not any(a.startswith("--type=") for a in argv):
            return argv
    return None


class CaptureEngine:
    """One warm Chromium reused across captures; a fresh browser context per capture.

    The context is a clean profile: nothing of earlier captures is visible to the next one.
    """

    def __init__(
        self,
        chromium_path: Path = Path("/usr/bin/chromium"),
        *,
        extra_ca_pem: bytes | None = None,
        headless: bool = True,
    ) -> None:
        self.chromium_path = Path(chromium_path)
        self._extra_ca_pem = extra_ca_pem
        self._headless = headless
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._home: Path | None = None
        self._extra_cas: list[dict[str, str]] = []
        self._command_line: list[str] | None = None
        self._lock = asyncio.Lock()
        self._spares: list[tuple[_PageKey, asyncio.Task[tuple[BrowserContext, Page]]]] = []
        self._discarding: set[asyncio.Task[None]] = set()
        self.browser_version = ""

    async def __aenter__(self) -> CaptureEngine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Launch Chromium (Playwright with ``executable_path``)."""
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return
            await self._stop()
            await self._launch()

    async def _launch(self) -> None:
        if not self.chromium_path.exists():
            raise BrowserError(
                f"Chromium was not found at {self.chromium_path}; install the Debian package "
                "chromium or configure the path to the browser."
            )
        home = Path(tempfile.mkdtemp(prefix="capture-chromium-home-"))
        pw: Playwright | None = None
        try:
            self._extra_cas = await asyncio.to_thread(_prepare_home, home, self._extra_ca_pem)
            pw = await async_playwright().start()
            browser = await pw.chromium.launch(
                executable_path=str(self.chromium_path),
                args=list(LAUNCH_ARGS),
                headless=self._headless,
                env=_browser_env(home),
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except BaseException as exc:
            if pw is not None:
                with contextlib.suppress(Exception):
                    await pw.stop()
            shutil.rmtree(home, ignore_errors=True)
            if isinstance(exc, CaptureError) or not isinstance(exc, Exception):
                raise
            raise BrowserError(
                f"Chromium could not be started ({str(exc).splitlines()[0][:300]}). Check that "
                f"{self.chromium_path} runs on this machine; retrying may help."
            ) from exc
        self._pw, self._browser, self._home = pw, browser, home
        self.browser_version = browser.version
        self._command_line = await asyncio.to_thread(_browser_command_line, home)
        log.info("Chromium %s started for captures", self.browser_version)

    async def close(self) -> None:
        async with self._lock:
            await self._stop()

    async def _stop(self) -> None:
        self._discard_spare()
        if self._discarding:
            await asyncio.wait(set(self._discarding), timeout=10)
        browser, pw, home = self._browser, self._pw, self._home
        self._browser = self._pw = None
        self._home = None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        if pw is not None:
            with contextlib.suppress(Exception):
                await pw.stop()
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)

    # -- contexts: a never-used context+page is prepared while the service is idle -------

    @staticmethod
    async def _open_page(browser: Browser, key: _PageKey) -> tuple[BrowserContext, Page]:
        width, height, user_agent, accept_language, device = key
        screen = device.screen if device is not None else (width, height)
        context = await browser.new_context(
            viewport={"width": width, "height": height},
            screen={"width": screen[0], "height": screen[1]},
            device_scale_factor=device.device_scale_factor if device is not None else 1,
            is_mobile=device.is_mobile if device is not None else False,
            has_touch=device.has_touch if device is not None else False,
            user_agent=user_agent or (device.user_agent if device is not None else None),
            extra_http_headers={"Accept-Language": accept_language},
            service_workers="block",
            accept_downloads=False,
            ignore_https_errors=False,
        )
        try:
            page = await context.new_page()
        except BaseException:
            with contextlib.suppress(Exception):
                await context.close()
            raise
        return context, page

    async def _take_page(self, browser: Browser, key: _PageKey) -> tuple[BrowserContext, Page]:
        """A fresh context and page that no page has ever been loaded in.

        Opening a context and its first page costs 100-200 ms, so after each capture one is
        opened in advance (same viewport, user agent and language) for the next capture. It
        is as clean as a new one: nothing was ever navigated in it.
        """
        for i, (spare_key, task) in enumerate(self._spares):
            if spare_key != key:
                continue
            del self._spares[i]
            if browser.is_connected():
                try:
                    context, page = await task
                except Exception:
                    break
                if not page.is_closed():
                    return context, page
                with contextlib.suppress(Exception):
                    await context.close()
            break
        return await self._open_page(browser, key)

    def _prepare_spare(self, browser: Browser, key: _PageKey) -> None:
        if SPARE_CONTEXTS <= 0 or not browser.is_connected() or self._browser is not browser:
            return
        if len(self._spares) >= SPARE_CONTEXTS:
            _, oldest = self._spares.pop(0)
            self._discard(oldest)
        task = asyncio.get_running_loop().create_task(self._open_page(browser, key))
        self._spares.append((key, task))

    def _discard_spare(self) -> None:
        spares, self._spares = self._spares, []
        for _, task in spares:
            self._discard(task)

    def _discard(self, task: asyncio.Task[tuple[BrowserContext, Page]]) -> None:
        async def close() -> None:
            with contextlib.suppress(Exception):
                context, _ = await task
                await context.close()

        closer = asyncio.get_running_loop().create_task(close())
        self._discarding.add(closer)
        closer.add_done_callback(self._discarding.discard)

    async def _ready_browser(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            await self.start()
        assert self._browser is not None
        return self._browser

    async def capture(self, url: str, options: CaptureOptions, workdir: Path) -> CaptureResult:
        """Capture ``url`` into ``workdir``; raises a CaptureError subclass on failure.

        The URL is validated and its host checked by the SSRF guard before Chromium is used.
        """
        normalised = await asyncio.to_thread(check_url, url, allow_private=options.allow_private)
        if options.video is not None:
            check_encoder()  # before loading anything: a capture that cannot keep its video fails
        browser = await self._ready_browser()
        device = self.device(options.device) if options.device else None
        run = _CaptureRun(self, browser, url, normalised, options, Path(workdir), device)
        return await run.run()

    def device(self, name: str) -> Device:
        """The named device from this browser's Playwright (``playwright.devices``)."""
        assert self._pw is not None
        known = {n: device_from_descriptor(n, d) for n, d in self._pw.devices.items()}
        return find_device(name, known)


class _CaptureRun:
    """State of one capture (so that several can share one engine concurrently)."""

    def __init__(
        self,
        engine: CaptureEngine,
        browser: Browser,
        requested: str,
        normalised: str,
        options: CaptureOptions,
        workdir: Path,
        device: Device | None = None,
    ) -> None:
        self.engine = engine
        self.browser = browser
        self.requested = requested
        self.url = normalised
        self.o = options
        self.workdir = workdir
        self.secrets = frozenset(c.name for c in options.cookies)
        self.device = device
        self.viewport = device.viewport if device is not None else options.viewport
        self.page_key: _PageKey = (
            self.viewport[0],
            self.viewport[1],
            options.user_agent,
            options.accept_language,
            device,
        )
        self.screencast: ScreencastRecorder | None = None

    def _progress(self, state: str) -> None:
        if self.o.on_progress is not None:
            try:
                self.o.on_progress(state)
            except Exception:
                log.exception("on_progress callback failed (ignored)")

    async def run(self) -> CaptureResult:
        created = not self.workdir.exists()
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"Cannot create the capture folder {self.workdir}: {exc}.") from exc
        outputs = [self.workdir / n for n in OUTPUT_NAMES]
        clock_task = asyncio.create_task(
            asyncio.to_thread(envcheck.measure_clock, self.o.clock_reference)
        )
        context: BrowserContext | None = None
        recorder: NetworkRecorder | None = None
        try:
            context, page = await self.engine._take_page(self.browser, self.page_key)
            if self.o.cookies:
                await context.add_cookies(playwright_cookies(self.o.cookies))  # type: ignore[arg-type]
            cdp = await context.new_cdp_session(page)
            tree = await cdp.send("Page.getFrameTree")
            recorder = NetworkRecorder(
                cdp.send,
                allow_private=self.o.allow_private,
                limits=self.o.limits,
                main_frame_id=tree["frameTree"]["frame"]["id"],
            )
            for event, handler in recorder.handlers().items():
                cdp.on(event, handler)
            await recorder.enable()
            if self.o.video is not None:
                self.screencast = ScreencastRecorder(
                    cdp.send,
                    self.o.video,
                    viewport=self.viewport,
                    device_scale_factor=self.device.device_scale_factor if self.device else 1.0,
                )
                for event, handler in self.screencast.handlers().items():
                    cdp.on(event, handler)
                await self.screencast.start(self.workdir / VIDEO_NAME)
            return await self._run(context, page, cdp, recorder, clock_task)
        except BaseException as exc:
            for path in outputs:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            if created:
                with contextlib.suppress(OSError):
                    self.workdir.rmdir()  # only if empty
            if isinstance(exc, PlaywrightError) and not isinstance(exc, CaptureError):
                if context is not None and not self.browser.is_connected():
                    raise BrowserError(
                        "Chromium crashed or was closed during the capture; retry it."
                    ) from exc
                raise BrowserError(
                    f"The browser failed during the capture ({str(exc).splitlines()[0][:300]}); "
                    "retry it."
                ) from exc
            raise
        finally:
            if context is not None:
                with contextlib.suppress(Exception):
                    await context.close()
            if recorder is not None:
                recorder.dispose()
            if self.screencast is not None:
                self.screencast.dispose()
            if not clock_task.done():
                clock_task.cancel()
            self.engine._prepare_spare(self.browser, self.page_key)

    # ------------------------------------------------------------------ the capture

    async def _run(
        self,
        context: BrowserContext,
        page: Page,
        cdp: Any,
        recorder: NetworkRecorder,
        clock_task: asyncio.Task[dict[str, Any]],
    ) -> CaptureResult:
        limits = self.o.limits
        started_at = datetime.now(UTC)
        deadline = time.monotonic() + limits.timeout_s
        self._progress("loading")

        async def watchdog() -> None:
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            await recorder.close_loading("timeout")

        dog = asyncio.create_task(watchdog())
        try:
            response = await self._navigate(page, recorder, deadline)
            try:
                await page.wait_for_load_state("load", timeout=_ms_left(deadline))
            except PlaywrightTimeoutError:
                recorder.note_limit("timeout")  # the load event never came
            except PlaywrightError as exc:
                log.debug("waiting for the load event failed: %s", str(exc).splitlines()[0][:200])
            if recorder.closed is None:
                self._progress("scrolling")
                try:
                    await asyncio.wait_for(
                        page.evaluate(_SCROLL_JS, SCROLL_MAX_STEPS),
                        timeout=max(0.05, deadline - time.monotonic()),
                    )
                except TimeoutError:
                    recorder.note_limit("timeout")  # not scrolled to the end: lazy parts missing
                except PlaywrightError as exc:
                    log.debug("scrolling failed: %s", str(exc).splitlines()[0][:200])
            idle = await recorder.wait_idle(QUIET_WINDOW_S, deadline)
            if not idle and recorder.closed is None:
                await recorder.close_loading("timeout")
        finally:
            dog.cancel()

        self._progress("snapshot")
        screenshot = self.workdir / "screenshot.png"
        pdf = self.workdir / "snapshot.pdf"
        video_task: asyncio.Future[VideoFacts | None] | None = None
        if self.screencast is not None:
            # The video shows the load; its last ticks are encoded (in a thread)
            # while the page is photographed and the environment checked.
            await self.screencast.stop()
            video_task = asyncio.ensure_future(asyncio.to_thread(self.screencast.finish))
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
                title = await page.title()
                final_url = page.url
                page_env = await _page_environment(page)
                await page.screenshot(path=screenshot, full_page=True)
                await page.emulate_media(media="screen")
                await page.pdf(path=pdf, print_background=True, format="A4")
                snapshot_at = datetime.now(UTC)
                await recorder.close_loading("snapshot")
                await recorder.drain()
                certificates = await self._certificates(cdp, recorder)
        except BaseException as exc:
            if video_task is not None:  # no encoder left writing behind a failed capture
                with contextlib.suppress(BaseException):
                    await video_task
            if isinstance(exc, TimeoutError):
                raise CaptureTimeoutError(
                    f"The page {self.url} stopped responding while it was being photographed "
                    f"(more than {SNAPSHOT_TIMEOUT_S:.0f} s). Try again.",
                    url=self.url,
                ) from exc
            raise
        ended_at = datetime.now(UTC)
        with contextlib.suppress(Exception):
            await context.close()

        self._progress("writing")
        exchanges = [
            ex
            for ex in recorder.exchanges
            if ex.url and ex.got_response_stage and ex.status is not None and not ex.refused
        ]
        exchanges.sort(key=lambda ex: ex.wall_time or ex.response_wall_time or 0.0)
        hosts = _hosts(self.url, exchanges)
        env_task = asyncio.gather(
            *(asyncio.to_thread(_host_checks, netloc, info) for netloc, info in hosts.items()),
            asyncio.to_thread(envcheck.resolver_config),
            asyncio.to_thread(
                envcheck.hosts_file_entries, [urlsplit("//" + n).hostname or n for n in hosts]
            ),
            asyncio.to_thread(_file_facts, screenshot),
            asyncio.to_thread(_file_facts, pdf),
        )
        *host_results, resolver, hosts_file, shot_facts, pdf_facts = await env_task
        clock = await clock_task
        video = await video_task if video_task is not None else None
        video_path = self.workdir / VIDEO_NAME if video is not None else None
        for netloc, result in zip(hosts, host_results, strict=True):
            hosts[netloc].update(result)
            tls = certificates.get(netloc)
            if tls:
                hosts[netloc]["tls"] = tls

        ua = _sent_user_agent(recorder) or str(page_env.pop("user_agent_js", ""))
        page_env.pop("user_agent_js", None)
        main = _main_document(recorder)
        http_status = (main.status if main else None) or (response.status if response else 0)
        uris = {
            "screenshot": f"urn:screenshot:{final_url}",
            "pdf": f"urn:pdf:{final_url}",
            "provenance": f"urn:provenance:{final_url}",
        }
        artifacts: dict[str, Any] = {
            "screenshot": {"uri": uris["screenshot"], "file": screenshot.name, **shot_facts},
            "pdf": {"uri": uris["pdf"], "file": pdf.name, "media": "screen", **pdf_facts},
            "provenance": {"uri": uris["provenance"], "file": "provenance.json"},
            "warc": {"file": "capture.warc.gz", "format": "WARC/1.1, gzip per record"},
        }
        if video is not None and video_path is not None:
            uris["video"] = f"urn:video:{final_url}"
            video_facts = await asyncio.to_thread(_file_facts, video_path)
            artifacts["video"] = {"uri": uris["video"], **video.as_dict(), **video_facts}
        state = recorder.state
        outcome: Literal["complete", "partial"] = "partial" if state.limits_hit else "complete"
        resource_count = len(exchanges)
        total_bytes = sum(ex.body_length for ex in exchanges)
        prov = self._provenance(
            recorder=recorder,
            exchanges=exchanges,
            hosts=hosts,
            main=main,
            title=title,
            final_url=final_url,
            http_status=http_status,
            outcome=outcome,
            started_at=started_at,
            ended_at=ended_at,
            user_agent=ua,
            page_env=page_env,
            resolver=resolver,
            hosts_file=hosts_file,
            clock=clock,
            artifacts=artifacts,
        )
        prov_bytes = to_json_bytes(prov)
        prov = json.loads(prov_bytes)  # the result carries exactly what the file says
        warc_path = self.workdir / "capture.warc.gz"
        await asyncio.to_thread(
            self._write_files,
            warc_path,
            exchanges,
            prov,
            prov_bytes,
            uris,
            screenshot,
            pdf,
            snapshot_at,
            ua,
            video_path,
        )
        return CaptureResult(
            outcome=outcome,
            requested_url=self.requested,
            final_url=final_url,
            http_status=int(http_status or 0),
            title=title,
            started_at=started_at,
            ended_at=ended_at,
            warc_path=warc_path,
            screenshot_path=screenshot,
            pdf_path=pdf,
            provenance_json_path=self.workdir / "provenance.json",
            provenance_html_path=self.workdir / "provenance.html",
            limits_hit=tuple(state.limits_hit),
            not_loaded=tuple(state.not_loaded),
            resource_count=resource_count,
            total_bytes=total_bytes,
            browser_version=self.engine.browser_version,
            user_agent=ua,
            provenance=prov,
            resource_uris=uris,
            video_path=video_path,
        )

    async def _navigate(self, page: Page, recorder: NetworkRecorder, deadline: float) -> Any:
        try:
            response = await page.goto(self.url, wait_until="commit", timeout=_ms_left(deadline))
        except PlaywrightTimeoutError as exc:
            raise self._timeout_error() from exc
        except PlaywrightError as exc:
            refusal = recorder.main_document_refusal()
            if refusal and refusal.startswith("blocked_address"):
                blocked = recorder.state.blocked[-1] if recorder.state.blocked else None
                where = f" ({blocked.url})" if blocked else ""
                raise BlockedAddressError(
                    f"Refusing to capture {self.url}: it redirects to an internal address"
                    f"{where}: {refusal.split(': ', 1)[-1]}. Internal addresses are refused to "
                    "protect the agency network (SSRF guard).",
                    url=self.url,
                ) from exc
            if refusal == "max_bytes":
                raise LimitExceededError(
                    f"The page {self.url} alone is larger than the byte limit "
                    f"({self.o.limits.max_bytes} bytes); raise max_bytes to capture it.",
                    url=self.url,
                ) from exc
            if refusal == "timeout" or recorder.closed == "timeout":
                raise self._timeout_error() from exc
            raise error_for(net_error_name(str(exc)), self.url, str(exc)[:200]) from exc
        if response is None:
            raise NetworkError(f"Chromium did not load {self.url} as a page.", url=self.url)
        return response

    def _timeout_error(self) -> CaptureTimeoutError:
        return CaptureTimeoutError(
            f"The page {self.url} did not load within the time limit of "
            f"{self.o.limits.timeout_s:g} s, so there is nothing to capture. The site may be "
            "slow or overloaded: try again later or with a longer time limit.",
            url=self.url,
        )

    async def _certificates(self, cdp: Any, recorder: NetworkRecorder) -> dict[str, Any]:
        """The chain Chromium used for each HTTPS origin (Network.getCertificate)."""
        details: dict[str, dict[str, Any]] = {}
        for ex in recorder.exchanges:
            parts = urlsplit(ex.url)
            if parts.scheme == "https" and ex.security_details and parts.netloc not in details:
                details[parts.netloc] = ex.security_details

        async def one(netloc: str, sec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            info: dict[str, Any] = {
                "protocol": sec.get("protocol"),
                "cipher": sec.get("cipher"),
                "key_exchange": sec.get("keyExchange") or sec.get("keyExchangeGroup"),
                "certificate_transparency": sec.get("certificateTransparencyCompliance"),
                "subject_name": sec.get("subjectName"),
                "san_list": sec.get("sanList"),
                "issuer": sec.get("issuer"),
                "verified_by": "Chromium (its own certificate verifier and trust store)",
            }
            try:
                reply = await cdp.send("Network.getCertificate", {"origin": f"https://{netloc}"})
                info["certificate_chain"] = [
                    certificate_info(base64.b64decode(c)) for c in reply.get("tableNames", [])
                ]
            except Exception as exc:
                info["certificate_chain"] = []
                info["certificate_error"] = str(exc).splitlines()[0][:200]
            return netloc, info

        results = await asyncio.gather(*(one(n, s) for n, s in details.items()))
        return dict(results)

    # ------------------------------------------------------------------ provenance

    def _provenance(
        self,
        *,
        recorder: NetworkRecorder,
        exchanges: list[Exchange],
        hosts: dict[str, dict[str, Any]],
        main: Exchange | None,
        title: str,
        final_url: str,
        http_status: int,
        outcome: str,
        started_at: datetime,
        ended_at: datetime,
        user_agent: str,
        page_env: dict[str, Any],
        resolver: dict[str, Any],
        hosts_file: dict[str, Any],
        clock: dict[str, Any],
        artifacts: dict[str, Any],
    ) -> dict[str, Any]:
        o = self.o
        engine = self.engine
        state = recorder.state
        chain = _redirect_chain(recorder)
        main_doc: dict[str, Any] = {}
        if main is not None:
            headers_text = main.raw_headers_text
            if headers_text:
                headers_text = "\r\n".join(
                    _redact_header_line(line, self.secrets) for line in headers_text.split("\r\n")
                )
            main_doc = {
                "url": main.url,
                "status": main.status,
                "status_text": main.status_text,
                "protocol": main.protocol,
                "server_ip": main.remote_ip,
                "server_port": main.remote_port,
                "mime_type": main.mime_type,
                "headers": [
                    [k, redact_set_cookie(v, self.secrets) if k.lower() == "set-cookie" else v]
                    for k, v in _wire_pairs(main)
                ],
                "headers_text": headers_text,
            }
        prov: dict[str, Any] = {
            "format": FORMAT,
            "requested_url": self.requested,
            "normalised_url": self.url,
            "final_url": final_url,
            "redirect_chain": chain,
            "navigations": _navigations(recorder),
            "http_status": http_status,
            "title": title,
            "outcome": outcome,
            "started_at": envcheck.iso(started_at),
            "ended_at": envcheck.iso(ended_at),
            "limits": asdict(o.limits),
            "limits_hit": list(state.limits_hit),
            "not_loaded": list(state.not_loaded),
            "blocked_requests": [
                {"url": b.url, "address": b.address, "reason": b.reason} for b in state.blocked
            ],
            "failed_requests": [
                {"url": ex.url, "error": ex.error}
                for ex in recorder.exchanges
                if ex.url and ex.error and not ex.refused and not ex.url.startswith("data:")
            ],
            "resource_count": len(exchanges),
            "total_bytes": sum(ex.body_length for ex in exchanges),
            "browser": {
                "name": "Chromium",
                "version": engine.browser_version,
                "executable": str(engine.chromium_path),
                "headless": engine._headless,
                "user_agent": user_agent,
                "user_agent_overridden": o.user_agent is not None or self.device is not None,
                "viewport": {"width": self.viewport[0], "height": self.viewport[1]},
                "device_scale_factor": (
                    self.device.device_scale_factor if self.device is not None else 1
                ),
                "is_mobile": self.device.is_mobile if self.device is not None else False,
                "has_touch": self.device.has_touch if self.device is not None else False,
                "emulated_device": (
                    {
                        **self.device.as_provenance(),
                        "source": f"Playwright {_version('playwright')} device descriptors",
                        "note": "emulated in Chromium: the device's viewport, screen, scale "
                        "factor, touch, mobile flag and its browser's user agent; the page "
                        "is rendered by Chromium, not by the device's own browser engine",
                    }
                    if self.device is not None
                    else None
                ),
                "accept_language": o.accept_language,
                **page_env,
                "launch_args": list(LAUNCH_ARGS),
                "command_line": engine._command_line,
                "automation": (
                    f"Playwright {_version('playwright')} over the Chrome DevTools Protocol"
                ),
            },
            "main_document": main_doc,
            "hosts": hosts,
            "environment": {
                "clean_profile": {
                    "fresh_context": True,
                    "description": "new incognito-like browser context for this capture only: "
                    "no cookies, cache, storage or service workers from other captures",
                    "extensions": "none (Chromium started with --disable-extensions)",
                    "cookies_preloaded": sorted(self.secrets),
                    "cache": "empty at start; disabled during the capture",
                    "service_workers": "blocked",
                    "browser_home": "private temporary HOME created for this browser",
                },
                "extra_trusted_cas": engine._extra_cas,
                "resolver": resolver,
                "hosts_file": hosts_file,
                "proxy": envcheck.proxy_settings(
                    os.environ, "--no-proxy-server (direct connections, no proxy)"
                ),
                "clock": clock,
                "machine": envcheck.machine(),
            },
            "authentication": {
                "authenticated": bool(o.cookies),
                "cookie_names": sorted(self.secrets),
                "cookie_domains": sorted({c.domain for c in o.cookies}),
                "cookie_values": "not recorded" if o.cookies else None,
                "warc_redaction": (
                    f"values of these cookies are replaced by {REDACTED} in the WARC"
                    if o.cookies
                    else None
                ),
            },
            "artifacts": artifacts,
            "resources": [
                {
                    "method": ex.method,
                    "status": ex.status,
                    "url": ex.url,
                    "server_ip": ex.remote_ip,
                    "bytes": ex.body_length,
                    "type": ex.resource_type,
                }
                for ex in exchanges
            ],
            "context": dict(o.extra_provenance),
            "software": {
                "capture": f"evidence-service capture {_version('evidence-service')}",
                "playwright": _version("playwright"),
                "warcio": _version("warcio"),
                "python": platform.python_version(),
                "os": platform.platform(),
            },
        }
        return prov

    def _write_files(
        self,
        warc_path: Path,
        exchanges: list[Exchange],
        prov: dict[str, Any],
        prov_bytes: bytes,
        uris: dict[str, str],
        screenshot: Path,
        pdf: Path,
        snapshot_at: datetime,
        user_agent: str,
        video_path: Path | None = None,
    ) -> None:
        with warc_path.open("wb") as out:
            warc = WarcBuilder(out, secret_cookie_names=self.secrets)
            warc.write_warcinfo(warc_path.name, self._warcinfo(user_agent))
            for ex in exchanges:
                warc.write_exchange(ex)
            warc.write_resource(uris["screenshot"], "image/png", screenshot, None, snapshot_at)
            warc.write_resource(uris["pdf"], "application/pdf", pdf, None, snapshot_at)
            if video_path is not None and self.screencast is not None:
                began = datetime.fromtimestamp(self.screencast.started_at or 0, UTC)
                warc.write_resource(uris["video"], VIDEO_MEDIA_TYPE, video_path, None, began)
            warc.write_resource(
                uris["provenance"], "application/json", None, prov_bytes, datetime.now(UTC)
            )
        (self.workdir / "provenance.json").write_bytes(prov_bytes)
        (self.workdir / "provenance.html").write_text(render_html(prov), encoding="utf-8")

    def _warcinfo(self, user_agent: str) -> dict[str, str]:
        fields = {
            "software": (
                f"evidence-service capture {_version('evidence-service')} (Playwright "
                f"{_version('playwright')}, Chromium {self.engine.browser_version}, warcio "
                f"{_version('warcio')})"
            ),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/",
            "description": f"Browser capture of {self.url} for evidence preservation",
            "http-header-user-agent": user_agent,
            "http-header-accept-language": self.o.accept_language,
            "robots": "ignore",
            "body-encoding": (
                "Payloads are the bodies as Chromium decoded them (Fetch.getResponseBody): "
                "content-coding and chunking removed, bytes otherwise exact. The original "
                "Content-Encoding and Transfer-Encoding headers, and Content-Length where it "
                "no longer matches, are kept as X-Orig-Content-Encoding, "
                "X-Orig-Transfer-Encoding and X-Orig-Content-Length; Content-Length is the "
                "stored body length."
            ),
            "http-headers": (
                "HTTP/1.x responses: Chromium's raw status line and header text "
                "(Network.responseReceivedExtraInfo), in wire order. HTTP/2 and HTTP/3: "
                "Chromium's header list under an HTTP/1.1 status line, the real protocol in "
                "WARC-Protocol. Request headers as Chromium reports them "
                "(Network.requestWillBeSentExtraInfo); Chromium does not expose their wire "
                "order. The browser cache was disabled (requests carry Cache-Control: "
                "no-cache, as on a hard reload)."
            ),
            "redirects": (
                "Each redirect is its own request/response pair. Chromium does not expose "
                "redirect bodies: their payload is empty (WARC-Truncated when one was announced)."
            ),
            "digests": "sha256, hexadecimal",
        }
        if self.secrets:
            names = ", ".join(sorted(self.secrets))
            fields["cookie-redaction"] = (
                f"Values of the cookies supplied for this capture ({names}) are replaced by "
                f"{REDACTED} in Cookie and Set-Cookie headers."
            )
        return fields


# ---------------------------------------------------------------------- helpers


def _ms_left(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000.0)


_PAGE_ENV_JS = """() => ({
  user_agent_js: navigator.userAgent,
  navigator_language: navigator.language,
  timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  webdriver: navigator.webdriver === true,
})"""


async def _page_environment(page: Page) -> dict[str, Any]:
    """What the page's scripts saw: language, time zone (page dates are rendered in it)."""
    try:
        found = await page.evaluate(_PAGE_ENV_JS)
    except PlaywrightError:
        return {}
    return dict(found) if isinstance(found, dict) else {}


def _wire_pairs(ex: Exchange) -> list[tuple[str, str]]:
    if ex.wire_response_headers:
        return [
            (k, part) for k, v in ex.wire_response_headers.items() for part in str(v).split("\n")
        ]
    return list(ex.fallback_response_headers or [])


def _redact_header_line(line: str, secrets: frozenset[str]) -> str:
    name, sep, value = line.partition(":")
    if sep and name.strip().lower() == "set-cookie":
        return f"{name}: {redact_set_cookie(value.strip(), secrets)}"
    if sep and name.strip().lower() == "cookie":
        return f"{name}: {redact_cookie_header(value.strip(), secrets)}"
    return line


def _sent_user_agent(recorder: NetworkRecorder) -> str:
    for ex in recorder.main_hops():
        for source in (ex.wire_request_headers, ex.page_request_headers):
            for k, v in (source or {}).items():
                if k.lower() == "user-agent":
                    return str(v)
    return ""


def _main_document(recorder: NetworkRecorder) -> Exchange | None:
    hops = [ex for ex in recorder.main_hops() if ex.status is not None and not ex.refused]
    return hops[-1] if hops else None


def _location(ex: Exchange) -> str | None:
    for k, v in _wire_pairs(ex):
        if k.lower() == "location":
            return urljoin(ex.url, v.strip())
    return None


def _redirect_chain(recorder: NetworkRecorder) -> list[dict[str, Any]]:
    hops = recorder.main_hops()
    if not hops:
        return []
    first = hops[0].request_id
    return [
        {
            "url": ex.url,
            "status": ex.status,
            "location": _location(ex) if ex.status and 300 <= ex.status < 400 else None,
            "server_ip": ex.remote_ip,
        }
        for ex in hops
        if ex.request_id == first
    ]


def _navigations(recorder: NetworkRecorder) -> list[str]:
    seen: list[str] = []
    for ex in recorder.main_hops():
        if ex.status is not None and not (300 <= ex.status < 400) and ex.url not in seen:
            seen.append(ex.url)
    return seen


def _hosts(url: str, exchanges: list[Exchange]) -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    first = urlsplit(url)
    hosts[first.netloc] = {"scheme": first.scheme, "server_ips": []}
    for ex in exchanges:
        parts = urlsplit(ex.url)
        if parts.scheme not in ("http", "https"):
            continue
        entry = hosts.setdefault(parts.netloc, {"scheme": parts.scheme, "server_ips": []})
        if ex.remote_ip and ex.remote_ip not in entry["server_ips"]:
            entry["server_ips"].append(ex.remote_ip)
    return hosts


def _host_checks(netloc: str, info: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit("//" + netloc)
    host = parts.hostname or netloc
    port = parts.port or (443 if info.get("scheme") == "https" else 80)
    out: dict[str, Any] = {"dns": envcheck.dns_answer(host, port)}
    target = (info.get("server_ips") or out["dns"].get("addresses") or [None])[0]
    out["outgoing_address"] = envcheck.outgoing_address(target, port) if target else None
    return out


def _file_facts(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": size}


def capture_url(
    url: str,
    options: CaptureOptions,
    workdir: Path,
    *,
    chromium_path: Path = Path("/usr/bin/chromium"),
    extra_ca_pem: bytes | None = None,
) -> CaptureResult:
    """Synchronous convenience: validate, start Chromium, capture, close."""
    check_url(url, allow_private=options.allow_private)

    async def _go() -> CaptureResult:
        async with CaptureEngine(chromium_path, extra_ca_pem=extra_ca_pem) as engine:
            return await engine.capture(url, options, workdir)

    return asyncio.run(_go())
