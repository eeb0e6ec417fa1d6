"""Each unit's catalogue as versions: an append-only table (``legal_catalogue_versions``) whose
first row is the starter text (``catalogue.toml``) and each later row one reviewed edit.

Why whole copies: a case names the version (and its SHA-256) its chosen entry came from, and
anyone reading the case file later must see that very catalogue, not a reconstruction from
diffs. The rows are small (kilobytes), and edits are rare.

An edit names the version it was made from (``base``): an edit made from an older version
than the current one is refused, so that two reviewers editing at once cannot silently
undo each other's change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_scope
from storage.models import LegalCatalogueVersion

from .catalogue import Catalogue, CatalogueError, parse, starter

__all__ = [
    "STARTER_REASON",
    "StaleVersion",
    "Version",
    "VersionError",
    "current",
    "current_in",
    "edit_entry",
    "get",
    "history",
]

STARTER_REASON = "起始目录（workflow/legal/catalogue.toml），待法制审核确认 / starter catalogue"
MAX_REASON = 2000


class VersionError(ValueError):
    """An edit that cannot be kept: ``field`` names the input to correct."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class StaleVersion(VersionError):
    """The edit was made from an older version than the current one."""


@dataclass(frozen=True)
class Version:
    version: int
    created_at: datetime
    actor: str
    actor_name: str
    reason: str
    entry_id: str | None
    sha256: str
    catalogue: Catalogue


def digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of the catalogue's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(row: LegalCatalogueVersion) -> Version:
    return Version(
        row.version,
        row.created_at,
        row.actor,
        row.actor_name,
        row.reason,
        row.entry_id,
        row.sha256,
        parse(row.catalogue),
    )


def _newest(session: Session, unit_id: int) -> LegalCatalogueVersion | None:
    return session.scalar(
        select(LegalCatalogueVersion)
        .where(LegalCatalogueVersion.unit_id == unit_id)
        .order_by(LegalCatalogueVersion.version.desc())
        .limit(1)
    )


def _add(
    session: Session,
    unit_id: int,
    version: int,
    data: Mapping[str, Any],
    actor: str,
    actor_name: str,
    reason: str,
    entry_id: str | None,
) -> LegalCatalogueVersion:
    row = LegalCatalogueVersion(
        unit_id=unit_id,
        version=version,
        actor=actor,
        actor_name=actor_name[:200],
        reason=reason,
        entry_id=entry_id,
        sha256=digest(data),
        catalogue=dict(data),
    )
    session.add(row)
    session.flush()
    return row


def current_in(session: Session, unit_id: int) -> Version:
    """The unit's current version, within ``session``: the starter text is added as version
    1 the first time a unit's catalogue is read (inside a savepoint, so that two first
    readers at once leave one row)."""
    row = _newest(session, unit_id)
    if row is None:
        try:
            with session.begin_nested():
                row = _add(
                    session,
                    unit_id,
                    1,
                    starter().to_dict(),
                    "system",
                    "system",
                    STARTER_REASON,
                    None,
                )
        except IntegrityError:
            row = _newest(session, unit_id)
            assert row is not None
    return _version(row)


def current(sessions: sessionmaker[Session], unit_id: int) -> Version:
    with session_scope(sessions) as session:
        return current_in(session, unit_id)


def get(sessions: sessionmaker[Session], unit_id: int, version: int) -> Version | None:
    with sessions() as session:
        row = session.scalar(
            select(LegalCatalogueVersion).where(
                LegalCatalogueVersion.unit_id == unit_id, LegalCatalogueVersion.version == version
            )
        )
        return _version(row) if row is not None else None


@dataclass(frozen=True)
class HistoryItem:
    version: int
    created_at: datetime
    actor_name: str
    reason: str
    entry_id: str | None
    sha256: str


def history(sessions: sessionmaker[Session], unit_id: int) -> list[HistoryItem]:
    """Every version of the unit's catalogue, newest first (seeding the first if need be)."""
    current(sessions, unit_id)
    with sessions() as session:
        rows = session.execute(
            select(
                LegalCatalogueVersion.version,
                LegalCatalogueVersion.created_at,
                LegalCatalogueVersion.actor_name,
                LegalCatalogueVersion.reason,
                LegalCatalogueVersion.entry_id,
                LegalCatalogueVersion.sha256,
            )
            .where(LegalCatalogueVersion.unit_id == unit_id)
            .order_by(LegalCatalogueVersion.version.desc())
        )
        return [HistoryItem(*r) for r in rows]


def count(sessions: sessionmaker[Session], unit_id: int) -> int:
    with sessions() as session:
        q = select(func.count()).where(LegalCatalogueVersion.unit_id == unit_id)
        return int(session.scalar(q) or 0)


def edit_entry(
    sessions: sessionmaker[Session],
    unit_id: int,
    *,
    actor: str,
    actor_name: str,
    base: int,
    entry: Mapping[str, Any],
    reason: str,
) -> Version:
    """A new version with ``entry`` (its TOML shape) replacing the entry of its id, or added.
    Raises :class:`VersionError` (no reason, the catalogue would not be valid: each problem
    named) or :class:`StaleVersion`."""
    why = " ".join(reason.split())[:MAX_REASON]
    if not why:
        raise VersionError("reason", "say why the entry changes; it is kept with the version")
    with session_scope(sessions) as session:
        now = current_in(session, unit_id)
        if base != now.version:
            raise StaleVersion(
                "base",
                f"the catalogue changed meanwhile (now version {now.version}, your form was "
                f"made from version {base}): reload the entry and make your edit again",
            )
        try:
            changed = now.catalogue.with_entry(entry)
        except CatalogueError as exc:
            raise VersionError("entry", "; ".join(exc.problems)) from None
        data = changed.to_dict()
        if digest(data) == now.sha256:
            raise VersionError("entry", "nothing changed")
        try:
            with session.begin_nested():
                row = _add(
                    session,
                    unit_id,
                    now.version + 1,
                    data,
                    actor,
                    actor_name,
                    why,
                    str(entry.get("id")),
                )
        except IntegrityError:
            raise StaleVersion(
                "base", "another edit was saved at the same moment: reload and try again"
            ) from None
        return _version(row)
