"""Officer-supplied cookies: parsing the files browsers export, and keeping values secret.

A session cookie is a credential for someone's account. It is needed to capture what a
logged-in buyer sees (an order page), but it must not end up readable in the evidence package,
in logs or in error messages. So parsing errors name line numbers and cookie *names* only,
and :func:`redact_cookie_header` rewrites the ``Cookie`` / ``Set-Cookie`` values of those
names before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal, cast

from .errors import CookieFileError
from .types import Cookie

REDACTED = "REDACTED"
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None", "no_restriction": "None"}
_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def parse_cookies_file(data: bytes, default_domain: str | None = None) -> list[Cookie]:
    """Parse a Netscape ``cookies.txt`` or Playwright JSON (a list, or ``{"cookies": [...]}``).

    ``default_domain`` is used for JSON cookies that carry no domain (e.g. exported by hand).
    Raises CookieFileError naming what is wrong (never a cookie value).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CookieFileError(
            "The cookies file is not UTF-8 text. Export it again as 'cookies.txt' (Netscape "
            "format) or as Playwright/JSON."
        ) from exc
    stripped = text.strip()
    if not stripped:
        raise CookieFileError("The cookies file is empty.")
    if stripped[0] in "[{":
        return _parse_json(stripped, default_domain)
    return _parse_netscape(text, default_domain)


def _parse_json(text: str, default_domain: str | None) -> list[Cookie]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CookieFileError(
            f"The cookies file looks like JSON but is not valid JSON (line {exc.lineno}, "
            f"column {exc.colno}): {exc.msg}."
        ) from exc
    if isinstance(doc, dict) and isinstance(doc.get("cookies"), list):
        items = doc["cookies"]
    elif isinstance(doc, list):
        items = doc
    else:
        raise CookieFileError(
            'The JSON cookies file must be a list of cookies or an object {"cookies": [...]} '
            "(Playwright storage state)."
        )
    cookies: list[Cookie] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise CookieFileError(f"Cookie #{i} in the JSON file is not an object.")
        name = item.get("name")
        value = item.get("value")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise CookieFileError(f"Cookie #{i} has no valid 'name'.")
        if not isinstance(value, str):
            raise CookieFileError(f"Cookie #{i} ({name}) has no string 'value'.")
        domain = item.get("domain") or default_domain
        if not isinstance(domain, str) or not domain:
            raise CookieFileError(
                f"Cookie #{i} ({name}) has no 'domain' and no default domain was given."
            )
        expires = item.get("expires", item.get("expirationDate"))
        same_site = item.get("sameSite")
        cookies.append(
            Cookie(
                name=name,
                value=value,
                domain=domain,
                path=str(item.get("path") or "/"),
                secure=bool(item.get("secure", False)),
                http_only=bool(item.get("httpOnly", item.get("http_only", False))),
                expires=_expires(expires),
                same_site=_same_site(same_site, i, name),
            )
        )
    if not cookies:
        raise CookieFileError("The JSON cookies file contains no cookies.")
    return cookies


def _expires(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f > 0 else None


def _same_site(value: Any, index: int, name: str) -> Literal["Strict", "Lax", "None"] | None:
    if value in (None, "", "unspecified"):
        return None
    mapped = _SAME_SITE.get(str(value).lower())
    if mapped is None:
        raise CookieFileError(
            f"Cookie #{index} ({name}) has an unknown sameSite value; use Strict, Lax or None."
        )
    return cast(Literal["Strict", "Lax", "None"], mapped)


def _parse_netscape(text: str, default_domain: str | None) -> list[Cookie]:
    cookies: list[Cookie] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        http_only = False
        if line.startswith("#HttpOnly_"):
            http_only = True
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) == 6:  # some exporters drop an empty value's tab
            fields.append("")
        if len(fields) != 7:
            raise CookieFileError(
                f"Line {lineno} of the cookies file is neither a comment nor a cookies.txt "
                f"entry (expected 7 tab-separated fields, found {len(fields)}). Export the "
                "file again as Netscape cookies.txt or as JSON."
            )
        domain, _subdomains, path, secure, expires, name, value = fields
        domain = domain.strip() or (default_domain or "")
        if not domain:
            raise CookieFileError(f"Line {lineno} of the cookies file has no domain.")
        if not _NAME_RE.match(name):
            raise CookieFileError(f"Line {lineno} of the cookies file has no valid cookie name.")
        if secure.upper() not in ("TRUE", "FALSE"):
            raise CookieFileError(
                f"Line {lineno} ({name}): the 'secure' field must be TRUE or FALSE."
            )
        try:
            exp = int(expires or "0")
        except ValueError as exc:
            raise CookieFileError(
                f"Line {lineno} ({name}): the expiry must be a Unix time in seconds."
            ) from exc
        cookies.append(
            Cookie(
                name=name,
                value=value,
                domain=domain,
                path=path or "/",
                secure=secure.upper() == "TRUE",
                http_only=http_only,
                expires=float(exp) if exp > 0 else None,
            )
        )
    if not cookies:
        raise CookieFileError("The cookies file contains no cookies (only comments or blanks).")
    return cookies


def playwright_cookies(cookies: Iterable[Cookie]) -> list[dict[str, Any]]:
    """The cookies in the shape ``BrowserContext.add_cookies`` wants."""
    out: list[dict[str, Any]] = []
    for c in cookies:
        d: dict[str, Any] = {
            "name": c.name,
            "value": c.value,
            "domain": c.domain,
            "path": c.path or "/",
            "secure": c.secure,
            "httpOnly": c.http_only,
            "expires": c.expires if c.expires is not None else -1,
        }
        if c.same_site is not None:
            d["sameSite"] = c.same_site
        out.append(d)
    return out


def redact_cookie_header(value: str, names: frozenset[str]) -> str:
    """Replace the values of ``names`` in a ``Cookie`` request header with REDACTED."""
    if not names:
        return value
    parts = value.split(";")
    for i, part in enumerate(parts):
        name, sep, _ = part.partition("=")
        if sep and name.strip() in names:
            lead = part[: len(part) - len(part.lstrip())]
            parts[i] = f"{lead}{name.strip()}={REDACTED}"
    return ";".join(parts)


def redact_set_cookie(value: str, names: frozenset[str]) -> str:
    """Replace the value of a ``Set-Cookie`` response header if it sets one of ``names``."""
    if not names:
        return value
    first, sep, rest = value.partition(";")
    name, eq, _ = first.partition("=")
    if eq and name.strip() in names:
        return f"{name.strip()}={REDACTED}{sep}{rest}"
    return value
