"""Finding the operator behind pasted text: a shop URL, a shop id, a credit code or a name.

Every kind of key has an index of its own, so that a look-up stays within tens of
milliseconds over a million entries on SQLite and PostgreSQL alike (``benchmarks/register.py``
measures it):

- shop URL: the URL's normalised key (``urls.toml``), a unique index; a URL the platform rules
  read a shop id from also finds the shop by that id;
- credit code: the unique index (also for a code whose check character fails: the page says so);
- shop id: an index on (shop id, platform);
- name: the exact key and a prefix through the name index (a range scan), and any substring
  of two characters or more through its *rarest* bigram (``register_gram_counts``), each
  candidate then checked with ``LIKE`` -- a million names are never scanned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.subjects import SubjectError, check_credit_code
from storage.models import (
    Merchant,
    RegisterEntry,
    RegisterGramCount,
    RegisterNameGram,
    RegisterShop,
)
from workflow.register.names import grams, name_key
from workflow.register.urls import ShopKey, looks_like_url, shop_key

__all__ = ["LIMIT", "LookupResult", "Match", "Shop", "lookup", "query_kind"]

LIMIT = 20
_CODE = re.compile(r"^[0-9A-Za-z]{18}$")
_SHOP_ID = re.compile(r"^[0-9A-Za-z_-]{3,100}$")
#: How each match was found, best first (the order of the results).
MATCHED_BY = ("shop_url", "shop_id", "credit_code", "name_exact", "name_prefix", "name_substring")


@dataclass(frozen=True)
class Shop:
    platform: str | None
    shop_url: str | None
    url_key: str | None
    shop_id: str | None


@dataclass(frozen=True)
class Match:
    """A register entry that matches, how it was found, and its portal account if any."""

    entry_id: int
    name: str
    credit_code: str
    legal_representative: str | None
    address: str | None
    licences: list[str]
    shops: list[Shop]
    matched_by: str
    merchant_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "name": self.name,
            "credit_code": self.credit_code,
            "legal_representative": self.legal_representative,
            "address": self.address,
            "licences": self.licences,
            "shops": [s.__dict__ for s in self.shops],
            "matched_by": self.matched_by,
            "merchant_id": self.merchant_id,
        }


@dataclass(frozen=True)
class LookupResult:
    """``kind``: what the text was taken for (``url``, ``credit_code``, ``text``). ``notes``:
    (key, detail) pairs the UI words, e.g. a credit code whose check character fails."""

    query: str
    kind: str
    matches: list[Match]
    elapsed_ms: float
    shop: ShopKey | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "kind": self.kind,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "shop": self.shop.__dict__ if self.shop else None,
            "notes": [{"code": c, "detail": d} for c, d in self.notes],
            "matches": [m.as_json() for m in self.matches],
        }


def query_kind(text: str) -> str:
    value = text.strip()
    if looks_like_url(value):
        return "url"
    if _CODE.match(value.replace(" ", "")):
        return "credit_code"
    return "text"


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _by_shops(session: Session, where: Any, limit: int) -> list[int]:
    return list(session.scalars(select(RegisterShop.entry_id).where(where).limit(limit)))


def _name_ids(session: Session, key: str, limit: int) -> list[tuple[int, str]]:
    found: dict[int, str] = {}
    for entry_id in session.scalars(
        select(RegisterEntry.id).where(RegisterEntry.name_key == key).limit(limit)
    ):
        found.setdefault(entry_id, "name_exact")
    prefix = (
        select(RegisterEntry.id)
        .where(RegisterEntry.name_key > key, RegisterEntry.name_key < key + "\U0010ffff")
        .order_by(RegisterEntry.name_key)
        .limit(limit)
    )
    for entry_id in session.scalars(prefix):
        found.setdefault(entry_id, "name_prefix")
    wanted = grams(key)
    if len(key) >= 2 and len(found) < limit:
        counts: dict[str, int] = {
            gram: n
            for gram, n in session.execute(
                select(RegisterGramCount.gram, RegisterGramCount.entries).where(
                    RegisterGramCount.gram.in_(wanted)
                )
            )
        }
        if len(counts) == len(wanted) and all(n > 0 for n in counts.values()):
            rarest = min(counts, key=lambda g: (counts[g], g))
            substring = (
                select(RegisterEntry.id)
                .join(RegisterNameGram, RegisterNameGram.entry_id == RegisterEntry.id)
                .where(
                    RegisterNameGram.gram == rarest,
                    RegisterEntry.name_key.like(f"%{_like(key)}%", escape="\\"),
                )
                .limit(limit + len(found))
            )
            for entry_id in session.scalars(substring):
                found.setdefault(entry_id, "name_substring")
    return list(found.items())


def _matches(session: Session, ranked: list[tuple[int, str]], limit: int) -> list[Match]:
    order: dict[int, str] = {}
    for entry_id, how in ranked:
        order.setdefault(entry_id, how)
    if not order:
        return []
    entries = {
        e.id: e
        for e in session.scalars(select(RegisterEntry).where(RegisterEntry.id.in_(list(order))))
    }
    shops: dict[int, list[Shop]] = {}
    for s in session.scalars(
        select(RegisterShop).where(RegisterShop.entry_id.in_(list(order))).order_by(RegisterShop.id)
    ):
        shops.setdefault(s.entry_id, []).append(Shop(s.platform, s.shop_url, s.url_key, s.shop_id))
    codes = [e.credit_code for e in entries.values()]
    accounts: dict[str, str] = {
        code: merchant_id
        for code, merchant_id in session.execute(
            select(Merchant.credit_code, Merchant.id).where(Merchant.credit_code.in_(codes))
        )
    }
    out = [
        Match(
            e.id,
            e.name,
            e.credit_code,
            e.legal_representative,
            e.address,
            list(e.licences or []),
            shops.get(e.id, []),
            how,
            accounts.get(e.credit_code),
        )
        for entry_id, how in order.items()
        if (e := entries.get(entry_id)) is not None
    ]
    out.sort(key=lambda m: (MATCHED_BY.index(m.matched_by), len(m.name), m.name))
    return out[:limit]


def lookup(session: Session, text: str, *, limit: int = LIMIT) -> LookupResult:
    """The register entries ``text`` names, best first (at most ``limit``)."""
    started = time.perf_counter()
    value = " ".join(text.split())[:1000]
    kind = query_kind(value)
    ranked: list[tuple[int, str]] = []
    notes: list[tuple[str, str]] = []
    key: ShopKey | None = None
    if kind == "url":
        try:
            key = shop_key(value)
        except ValueError as exc:
            notes.append(("bad_url", str(exc)))
        if key is not None:
            ranked += [
                (i, "shop_url") for i in _by_shops(session, RegisterShop.url_key == key.key, limit)
            ]
            if key.shop_id:
                where = RegisterShop.shop_id == key.shop_id
                if key.platform:
                    where = where & (RegisterShop.platform == key.platform)
                ranked += [(i, "shop_id") for i in _by_shops(session, where, limit)]
    elif kind == "credit_code":
        code = value.replace(" ", "").upper()
        try:
            check_credit_code(code)
        except SubjectError as exc:
            notes.append(("bad_credit_code", str(exc)))
        ranked += [
            (i, "credit_code")
            for i in session.scalars(
                select(RegisterEntry.id).where(RegisterEntry.credit_code == code)
            )
        ]
    else:
        if _SHOP_ID.match(value):
            ranked += [
                (i, "shop_id") for i in _by_shops(session, RegisterShop.shop_id == value, limit)
            ]
        nk = name_key(value)
        if nk:
            ranked += _name_ids(session, nk, limit)
    matches = _matches(session, ranked, limit)
    return LookupResult(value, kind, matches, (time.perf_counter() - started) * 1000, key, notes)
