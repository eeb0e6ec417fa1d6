"""The capture-environment checks (清洁性检查) Chinese evidence platforms do by hand.

Before a notary or an evidence platform captures a page, they show that the computer was
"clean": which DNS servers it used and what they answered, that no hosts-file entry and no
proxy redirected the site, which network interface went out, and that the clock was right.
A court accepts the capture more readily when the same facts are recorded automatically,
at capture time, for every host the page actually loaded from.

Each check returns plain data for the provenance document and never raises: a check that
cannot be made is recorded as such (an error string), it does not fail the capture.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def iso(ts: datetime) -> str:
    """UTC, microseconds, 'Z'."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def resolver_config(path: Path = Path("/etc/resolv.conf")) -> dict[str, Any]:
    """Nameservers, search domains and options the system resolver uses."""
    out: dict[str, Any] = {"path": str(path), "nameservers": [], "search": [], "options": []}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            out["nameservers"].append(values[0])
        elif key in ("search", "domain"):
            out["search"].extend(values)
        elif key == "options":
            out["options"].extend(values)
    return out


def hosts_file_entries(hosts: Iterable[str], path: Path = Path("/etc/hosts")) -> dict[str, Any]:
    """The lines of the hosts file that map any of ``hosts`` (which would bypass DNS)."""
    wanted = {h.lower().rstrip(".") for h in hosts if h}
    out: dict[str, Any] = {"path": str(path), "entries": {h: [] for h in sorted(wanted)}}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        for name in fields[1:]:
            key = name.lower().rstrip(".")
            if key in wanted:
                out["entries"][key].append(line.strip())
    return out


def _redact_proxy(value: str) -> str:
    """Proxy URLs may carry credentials (http://user:pass@proxy): never record a password."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.password is None:
        return value
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def proxy_settings(environ: Mapping[str, str], chromium_flag: str) -> dict[str, Any]:
    """Proxy variables of the capture process (any case) and what Chromium was told."""
    found = {
        name: _redact_proxy(value)
        for name, value in sorted(environ.items())
        if name.lower() in PROXY_VARIABLES
    }
    return {
        "environment": found,
        "proxy_configured_in_environment": any(
            k.lower() != "no_proxy" and v for k, v in found.items()
        ),
        "chromium": chromium_flag,
        "chromium_environment": "proxy variables removed from Chromium's environment",
        "used_by_capture": False,
    }


def outgoing_address(server_ip: str, port: int) -> str | None:
    """The local address the kernel picks toward ``server_ip`` (UDP connect, sends nothing)."""
    try:
        ip = ipaddress.ip_address(server_ip.strip("[]"))
    except ValueError:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((str(ip), port or 80))
            return str(s.getsockname()[0])
    except OSError:
        return None


def dns_answer(host: str, port: int) -> dict[str, Any]:
    """What the system resolver answers for ``host`` now (IP literals need no DNS)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return {"ip_literal": True, "addresses": [host.strip("[]")]}
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return {"ip_literal": False, "addresses": [], "error": str(exc)}
    return {
        "ip_literal": False,
        "addresses": list(dict.fromkeys(str(i[4][0]) for i in infos)),
    }


def measure_clock(reference: Callable[[], datetime] | None) -> dict[str, Any]:
    """Offset of the local clock to a trusted time (e.g. a TSA's genTime)."""
    if reference is None:
        return {"measured": False, "note": "not measured (no trusted time reference given)"}
    before = datetime.now(UTC)
    try:
        ref = reference()
    except Exception as exc:
        return {
            "measured": False,
            "note": "trusted time reference failed",
            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "local_before": iso(before),
        }
    after = datetime.now(UTC)
    if ref.tzinfo is None:
        ref = ref.replace(tzinfo=UTC)
    midpoint = before + (after - before) / 2
    offset = (ref - midpoint).total_seconds()
    return {
        "measured": True,
        "local_before": iso(before),
        "reference": iso(ref),
        "local_after": iso(after),
        "offset_seconds": round(offset, 6),
        "uncertainty_seconds": round((after - before).total_seconds() / 2, 6),
        "note": "offset = reference - midpoint(local_before, local_after)",
    }


def machine() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "pid": os.getpid()}
