"""Named mobile (and other) devices a capture can emulate: Playwright's device descriptors.

Many shops serve phones a different page (other prices, "app only" offers, other claims), so
an officer must be able to capture what a phone is shown. We do not keep our own list of
phones: Playwright ships descriptors (viewport, screen, device scale factor, touch, mobile
flag and the user agent of the device's own browser) and keeps them current. They are read
from the Playwright driver once per process (``playwright.devices``), in a thread of its own
so that callers inside or outside an event loop can ask.

The descriptor's ``default_browser_type`` says which engine the real device runs (Safari's
WebKit on iPhones); we always capture with Chromium, sending the device's user agent, and the
provenance says so.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .errors import UnknownDeviceError

__all__ = ["Device", "device", "device_from_descriptor", "known_devices"]


@dataclass(frozen=True)
class Device:
    """One emulated device, as given to the browser context and recorded in the provenance."""

    name: str
    user_agent: str
    viewport: tuple[int, int]
    screen: tuple[int, int]
    device_scale_factor: float
    is_mobile: bool
    has_touch: bool
    #: The engine the real device's browser uses ("webkit", "chromium", "firefox").
    default_browser_type: str

    def as_provenance(self) -> dict[str, Any]:
        facts = asdict(self)
        facts["viewport"] = {"width": self.viewport[0], "height": self.viewport[1]}
        facts["screen"] = {"width": self.screen[0], "height": self.screen[1]}
        return facts


def device_from_descriptor(name: str, d: dict[str, Any]) -> Device:
    """A :class:`Device` from one entry of ``playwright.devices``."""
    viewport = d.get("viewport") or {"width": 1280, "height": 800}
    screen = d.get("screen") or viewport
    return Device(
        name=name,
        user_agent=str(d["user_agent"]),
        viewport=(int(viewport["width"]), int(viewport["height"])),
        screen=(int(screen["width"]), int(screen["height"])),
        device_scale_factor=float(d.get("device_scale_factor") or 1),
        is_mobile=bool(d.get("is_mobile")),
        has_touch=bool(d.get("has_touch")),
        default_browser_type=str(d.get("default_browser_type") or "chromium"),
    )


_lock = threading.Lock()
_cache: dict[str, Device] | None = None


def known_devices() -> dict[str, Device]:
    """Every device Playwright describes, by its exact name (read once, then cached)."""
    global _cache
    with _lock:
        if _cache is None:
            _cache = _load()
        return _cache


def _load() -> dict[str, Device]:
    from playwright.async_api import async_playwright

    found: dict[str, dict[str, Any]] = {}
    failure: list[BaseException] = []

    async def read() -> None:
        async with async_playwright() as pw:
            found.update(pw.devices)

    def run() -> None:
        try:
            asyncio.run(read())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="playwright-devices", daemon=True)
    thread.start()
    thread.join(60)
    if failure or not found:
        raise RuntimeError(
            "Playwright's device list could not be read"
            + (f" ({str(failure[0]).splitlines()[0][:200]})" if failure else "")
        )
    return {name: device_from_descriptor(name, d) for name, d in found.items()}


def device(name: str, devices: dict[str, Device] | None = None) -> Device:
    """The device called ``name`` (as Playwright spells it, case-insensitive), from
    ``devices`` (default: :func:`known_devices`).

    Raises :class:`UnknownDeviceError` naming a few known devices (the closest first)."""
    if devices is None:
        devices = known_devices()
    wanted = name.strip()
    if wanted in devices:
        return devices[wanted]
    by_lower = {n.lower(): d for n, d in devices.items()}
    if wanted.lower() in by_lower:
        return by_lower[wanted.lower()]
    raise UnknownDeviceError(
        f"Unknown device {name!r}. Give a device name as Playwright spells it, for example "
        f"{', '.join(repr(n) for n in suggestions(wanted, devices))} "
        f"({len(devices)} devices are known; `evidence devices` lists them)."
    )


def suggestions(wanted: str, devices: dict[str, Device], count: int = 6) -> list[str]:
    """Known names close to ``wanted`` first, then common phones (at least two of them)."""
    import difflib

    close = difflib.get_close_matches(wanted, list(devices), n=count - 2, cutoff=0.4)
    common = ["iPhone 13", "Pixel 7", "iPhone 14 Pro Max", "Galaxy S9+", "iPad Mini"]
    out = [*close, *(c for c in common if c in devices and c not in close)]
    return out[:count]
