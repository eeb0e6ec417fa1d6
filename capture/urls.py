"""URL validation and the SSRF guard.

Why a guard at all: the service runs inside the agency's network and captures whatever URL an
officer (or a complaint form) hands it. Without a guard, "capture http://10.0.0.5/admin" or
"http://169.254.169.254/..." turns the capture browser into a probe of internal systems, and
the result (an internal page, a cloud credential) would even be sealed and stored. So every
host is resolved and checked *before* Chromium is touched, and again for every subresource
and redirect during the capture (see :mod:`capture.recorder`).

Residual risk, stated plainly: Chromium resolves names itself after our check, so a DNS
rebinding attacker could answer differently the second time. The address Chromium actually
connected to is recorded per response (``WARC-IP-Address``) and checked again afterwards
(:func:`blocked_reason`), so such a capture is at least flagged in the provenance.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import BlockedAddressError, DnsError, InvalidUrlError, UnsupportedSchemeError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud instance-metadata endpoints: refused even with ``allow_private`` (no intranet page
#: an officer is authorised to capture lives there, and they hand out credentials).
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Alibaba Cloud ECS
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud metadata
    }
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_ALLOWED_SCHEMES = ("http", "https")
_BAD_HOST_CHARS = re.compile(r"[\s<>\"{}|\\^`%]")


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, with the name of the form, or None.

    Why: a packet to such an address may end up at the IPv4 host (a 6to4 relay, a NAT64
    gateway, a dual-stack socket), so ``http://[2002:7f00:1::]/`` is 127.0.0.1 in disguise.
    The forms: IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002:AABB:CCDD::/48``, NAT64
    ``64:ff9b::a.b.c.d``, IPv4-compatible ``::a.b.c.d`` (deprecated, RFC 4291 §2.5.5.1) and
    Teredo (the client address, RFC 4380).
    """
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    if int(ip) >> 32 == 0 and int(ip) > 1:  # not :: nor ::1, which are themselves
        return ipaddress.IPv4Address(int(ip)), "IPv4-compatible"
    return None


def address_class(ip: IPAddress) -> str | None:
    """The kind of non-public address ``ip`` is, or None for a public unicast address.
    An IPv6 address that embeds a non-public IPv4 address is that kind too."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        v4, form = inner
        kind = address_class(v4)
        if form == "IPv4-mapped":
            return kind  # the IPv4 address itself, as a dual-stack socket writes it
        if kind is not None:
            return f"{kind} ({v4} embedded in the {form} address {ip})"
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT (100.64.0.0/10)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def blocked_reason(ip_text: str, *, allow_private: bool) -> str | None:
    """Why a connection to ``ip_text`` must be refused, or None if it is allowed."""
    try:
        ip = ipaddress.ip_address(ip_text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    kind = address_class(ip)
    if kind is None:
        return None
    if allow_private and not kind.startswith("cloud metadata"):
        return None
    return kind


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for ``host`` (IP literals returned as is)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DnsError(
            f"The host name {host!r} could not be resolved ({exc}). Check the spelling of the "
            "address; if it is correct the site may no longer exist or DNS is unreachable "
            "from the capture server.",
        ) from exc
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an already normalised http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, host, port


def normalise_url(url: str) -> str:
    """Validate ``url`` syntactically and return it normalised (no DNS)."""
    raw = url.strip() if isinstance(url, str) else ""
    if not raw:
        raise InvalidUrlError("The URL is empty. Paste the full page address, e.g. https://...")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise InvalidUrlError(
            "The URL contains control characters; copy it again from the browser."
        )
    m = _SCHEME_RE.match(raw)
    if m is None or "." in m.group(1):
        raise InvalidUrlError(
            f"The URL {raw!r} has no scheme. Give the full address starting with https:// or "
            "http://.",
            url=raw,
        )
    scheme = m.group(1).lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise UnsupportedSchemeError(
            f"Only http:// and https:// pages can be captured, not {scheme}:. Open the page in a "
            "browser and copy the address of the web page itself.",
            url=raw,
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrlError(f"The URL {raw!r} is malformed: {exc}.", url=raw) from exc
    if not raw[len(scheme) + 1 :].startswith("//"):
        raise InvalidUrlError(
            f"The URL {raw!r} is malformed: expected {scheme}://host/...", url=raw
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidUrlError(
            "The URL contains a user name or password (user:pass@host). Credentials must not be "
            "put into evidence URLs; log in with a cookies file instead.",
            url=raw,
        )
    host = parts.hostname
    if not host:
        raise InvalidUrlError(f"The URL {raw!r} has no host name.", url=raw)
    if port == 0:
        raise InvalidUrlError(f"The URL {raw!r} has an invalid port 0.", url=raw)
    host_out = _normalise_host(host, raw)
    netloc = host_out
    if port is not None and port != (443 if scheme == "https" else 80):
        netloc = f"{host_out}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    fragment = quote(parts.fragment, safe="/?%:@!$&'()*+,;=-._~#")
    return urlunsplit((scheme, netloc, path, query, fragment))


def _normalise_host(host: str, raw: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    if _BAD_HOST_CHARS.search(host) or host.startswith(".") or ".." in host:
        raise InvalidUrlError(f"The host name {host!r} in {raw!r} is not valid.", url=raw)
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidUrlError(
            f"The host name {host!r} is not a valid internationalised domain name ({exc}).",
            url=raw,
        ) from exc
    if not ascii_host or len(ascii_host) > 253:
        raise InvalidUrlError(f"The host name {host!r} is not valid.", url=raw)
    return ascii_host


def guard_addresses(host: str, addresses: list[str], *, allow_private: bool, url: str) -> None:
    """Raise BlockedAddressError if any address of ``host`` is refused."""
    for addr in addresses:
        kind = blocked_reason(addr, allow_private=allow_private)
        if kind is not None:
            shown = host if host == addr else f"{host} ({addr})"
            hint = (
                "Cloud metadata addresses are never captured."
                if kind == "cloud metadata"
                else "Internal addresses are refused to protect the agency network (SSRF "
                "guard); if this is an intranet page you are authorised to capture, an "
                "administrator must enable private addresses for this capture."
            )
            raise BlockedAddressError(
                f"Refusing to capture {url}: {shown} is a {kind} address, not a public web "
                f"server. {hint}",
                url=url,
            )


def check_url(url: str, *, allow_private: bool) -> str:
    """Validate and normalise ``url``, resolve its host and apply the SSRF guard.

    Returns the normalised URL; raises InvalidUrlError, UnsupportedSchemeError, DnsError or
    BlockedAddressError. It blocks (DNS): call it from a thread in async code.
    """
    normalised = normalise_url(url)
    _, host, port = split_url(normalised)
    try:
        addresses = resolve_host(host, port)
    except DnsError as exc:
        exc.url = normalised
        raise
    guard_addresses(host, addresses, allow_private=allow_private, url=normalised)
    return normalised
