"""Shop URLs as the register keys them: one shop, one key, however the URL was pasted.

Officers paste URLs copied from a phone share sheet (tracking parameters, a mobile host),
from a desktop browser (``https://www.``), or typed by hand (no scheme, a trailing slash).
The rules that make these one key are data (``urls.toml``) so that a new platform or a new
tracking parameter is a line in a file, not a code change."""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from workflow.register.errors import RulesError

__all__ = ["RULES_FILE", "ShopKey", "UrlRules", "default_rules", "looks_like_url", "shop_key"]

RULES_FILE = Path(__file__).with_name("urls.toml")
_DEFAULT_PORTS = {":80", ":443"}
_HOSTLIKE = re.compile(r"^[\w.-]+\.[a-z]{2,}(?::\d+)?(?:[/?#]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Platform:
    name: str
    hosts: tuple[str, ...]
    shop_id: tuple[re.Pattern[str], ...]

    def owns(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)


@dataclass(frozen=True)
class UrlRules:
    strip_host_prefixes: tuple[str, ...]
    index_pages: tuple[str, ...]
    drop_params: frozenset[str]
    drop_param_prefixes: tuple[str, ...]
    host_aliases: dict[str, str]
    platforms: tuple[Platform, ...]


@dataclass(frozen=True)
class ShopKey:
    """A normalised shop URL: ``key`` (what the register indexes), the platform its host
    belongs to and the shop id read from it, if the rules know how."""

    key: str
    host: str
    platform: str | None
    shop_id: str | None


def _strings(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{RULES_FILE.name}: {name} must be a list of strings")
    return tuple(value)


def parse_rules(text: str) -> UrlRules:
    """The rules from the text of ``urls.toml``; a wrong entry raises :class:`RulesError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{RULES_FILE.name} is not valid TOML: {exc}") from None
    platforms = []
    for i, row in enumerate(data.get("platform", []), 1):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise RulesError(f"{RULES_FILE.name}: platform #{i} needs a name")
        try:
            patterns = tuple(re.compile(p, re.IGNORECASE) for p in _strings(row, "shop_id"))
        except re.error as exc:
            raise RulesError(f"{RULES_FILE.name}: platform {row['name']}: {exc}") from None
        bad = [p.pattern for p in patterns if p.groups != 1]
        if bad:
            raise RulesError(
                f"{RULES_FILE.name}: platform {row['name']}: {bad[0]!r} needs one group"
            )
        platforms.append(Platform(row["name"], _strings(row, "hosts"), patterns))
    aliases = data.get("host_aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise RulesError(f"{RULES_FILE.name}: [host_aliases] maps host names to host names")
    return UrlRules(
        strip_host_prefixes=_strings(data, "strip_host_prefixes"),
        index_pages=_strings(data, "index_pages"),
        drop_params=frozenset(p.lower() for p in _strings(data, "drop_params")),
        drop_param_prefixes=tuple(p.lower() for p in _strings(data, "drop_param_prefixes")),
        host_aliases={k.lower(): v.lower() for k, v in aliases.items()},
        platforms=tuple(platforms),
    )


@functools.cache
def default_rules() -> UrlRules:
    return parse_rules(RULES_FILE.read_text(encoding="utf-8"))


def looks_like_url(text: str) -> bool:
    """Whether pasted text is meant as a URL (with a scheme, or a bare ``host.tld/...``)."""
    value = text.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
        return True
    return bool(_HOSTLIKE.match(value)) and not re.search(r"\s", value)


def _host(netloc: str, rules: UrlRules) -> str:
    host = netloc.rsplit("@", 1)[-1].lower().rstrip(".")
    for port in _DEFAULT_PORTS:
        if host.endswith(port):
            host = host[: -len(port)]
    with contextlib.suppress(UnicodeError):  # else kept as typed: one key per spelling
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    for prefix in rules.strip_host_prefixes:
        if host.startswith(prefix) and host.count(".") > 1:
            host = host[len(prefix) :]
    return rules.host_aliases.get(host, host)


def _tracking(name: str, rules: UrlRules) -> bool:
    low = name.lower()
    return low in rules.drop_params or low.startswith(rules.drop_param_prefixes)


def shop_key(url: str, rules: UrlRules | None = None) -> ShopKey:
    """The register's key of a shop URL. Raises ``ValueError`` for text that is no http(s)
    URL (the import reports it on the row's ``shop_url``)."""
    rules = rules or default_rules()
    raw = url.strip()
    if not raw:
        raise ValueError("the shop URL is empty")
    if not re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.IGNORECASE):
        raw = "https://" + raw.lstrip("/")
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http(s) URL")
    host = _host(parts.netloc, rules)
    if not host or "." not in host or re.search(r"[\s/\\]", host):
        raise ValueError(f"{url!r} has no host name")
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~")
    for page in rules.index_pages:
        if path.lower().endswith("/" + page):
            path = path[: -len(page)]
    path = re.sub(r"/{2,}", "/", path).rstrip("/")
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k, rules)
    )
    key = host + path + ("?" + urlencode(query) if query else "")
    platform = next((p for p in rules.platforms if p.owns(host)), None)
    shop_id = None
    if platform is not None:
        for pattern in platform.shop_id:
            m = pattern.search(key)
            if m:
                shop_id = m.group(1)
                break
    return ShopKey(key[:1000], host, platform.name if platform else None, shop_id)
