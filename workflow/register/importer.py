"""Importing a register file: new entries created, known ones updated with a change log.

Why batches and one commit per batch: a register file can hold hundreds of thousands of rows
and SQLite has one writer; a batch of rows is checked against what the register already holds
with a few ``IN`` queries, written, and committed, so the service keeps answering while a big
file is imported. What a re-import changed is written field by field (old -> new, which
import) into ``register_changes``, which is append-only.

A shop missing from a re-import is kept (a file may list only some operators or shops); a
shop listed under another credit code than before has changed hands and moves, logged on
both entries."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_scope
from storage.models import (
    RegisterChange,
    RegisterEntry,
    RegisterGramCount,
    RegisterImport,
    RegisterNameGram,
    RegisterShop,
)
from storage.types import utcnow
from workflow.register.errors import RegisterFileError
from workflow.register.names import grams, name_key
from workflow.register.rows import Problem, RowIn, read_rows

__all__ = ["BATCH", "ImportReport", "import_file", "import_rows"]

BATCH = 1000
#: Bad rows kept in the import's record (the report to the caller has them all, up to this
#: many times ten).
KEPT_PROBLEMS = 1000
_ENTRY_FIELDS = ("name", "legal_representative", "address", "licences")


@dataclass
class ImportReport:
    """What an import did. ``problems`` are the bad rows, each by line and field."""

    import_id: int
    file_name: str
    sha256: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    bad_rows: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "import_id": self.import_id,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "bad_rows": self.bad_rows,
            "problems": [
                {"line": p.line, "field": p.field, "problem": p.problem, "code": p.code}
                for p in self.problems
            ],
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _bump_grams(session: Session, counts: Counter[str]) -> None:
    """Add ``counts`` to the bigram counts (an upsert: two imports may meet on one gram)."""
    rows = [{"gram": g, "entries": n} for g, n in counts.items() if n]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(RegisterGramCount).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["gram"],
            set_={"entries": RegisterGramCount.entries + stmt.excluded.entries},
        )
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return "；".join(str(v) for v in value) or None
    return str(value)


class _Batch:
    """One batch of rows written in one transaction."""

    def __init__(self, session: Session, import_id: int, now: datetime) -> None:
        self.session = session
        self.import_id = import_id
        self.now = now
        self.grams: Counter[str] = Counter()
        self.changed: set[int] = set()

    def log(self, entry_id: int, name: str, old: object, new: object) -> None:
        self.session.add(
            RegisterChange(
                entry_id=entry_id,
                import_id=self.import_id,
                field=name,
                old_value=_text(old),
                new_value=_text(new),
                at=self.now,
            )
        )
        self.changed.add(entry_id)

    def entries(self, rows: list[RowIn], report: ImportReport, fresh: set[int]) -> dict[str, int]:
        codes = list(dict.fromkeys(r.credit_code for r in rows))
        known = {
            e.credit_code: e
            for e in self.session.scalars(
                select(RegisterEntry).where(RegisterEntry.credit_code.in_(codes))
            )
        }
        ids: dict[str, int] = {}
        for row in rows:
            entry = known.get(row.credit_code)
            if entry is None:
                entry = RegisterEntry(
                    credit_code=row.credit_code,
                    name=row.name,
                    name_key=name_key(row.name),
                    legal_representative=row.legal_representative,
                    address=row.address,
                    licences=list(row.licences),
                    created_import_id=self.import_id,
                    updated_import_id=self.import_id,
                    created_at=self.now,
                    updated_at=self.now,
                )
                self.session.add(entry)
                self.session.flush()
                known[row.credit_code] = entry
                fresh.add(entry.id)
                self._add_grams(entry.id, entry.name_key)
                report.created += 1
            elif entry.id not in fresh and row.credit_code not in ids:
                self._update(entry, row)
            ids[row.credit_code] = entry.id
        return ids

    def _add_grams(self, entry_id: int, key: str) -> None:
        new = grams(key)
        self.session.add_all(RegisterNameGram(gram=g, entry_id=entry_id) for g in new)
        self.grams.update(new)

    def _update(self, entry: RegisterEntry, row: RowIn) -> None:
        given = {
            "name": row.name,
            "legal_representative": row.legal_representative,
            "address": row.address,
            "licences": list(row.licences),
        }
        for name in _ENTRY_FIELDS:
            old = getattr(entry, name)
            if old != given[name]:
                self.log(entry.id, name, old, given[name])
                setattr(entry, name, given[name])
        key = name_key(row.name)
        if key != entry.name_key:
            old_grams = grams(entry.name_key)
            self.session.execute(
                delete(RegisterNameGram).where(
                    RegisterNameGram.entry_id == entry.id, RegisterNameGram.gram.in_(old_grams)
                )
            )
            self.grams.subtract(old_grams)
            entry.name_key = key
            self._add_grams(entry.id, key)
        if entry.id in self.changed:
            entry.updated_import_id = self.import_id
            entry.updated_at = self.now

    def shops(self, rows: list[RowIn], ids: dict[str, int], fresh: set[int]) -> None:
        with_shop = [r for r in rows if r.url_key]
        keys = list(dict.fromkeys(r.url_key for r in with_shop if r.url_key))
        known = {
            s.url_key: s
            for s in self.session.scalars(
                select(RegisterShop).where(RegisterShop.url_key.in_(keys))
            )
        }
        for row in with_shop:
            entry_id = ids[row.credit_code]
            shop = known.get(row.url_key)
            if shop is None:
                shop = RegisterShop(
                    entry_id=entry_id,
                    platform=row.platform,
                    shop_url=row.shop_url,
                    url_key=row.url_key,
                    shop_id=row.shop_id,
                )
                self.session.add(shop)
                known[row.url_key] = shop
                if entry_id not in fresh:
                    self.log(entry_id, "shop", None, row.shop_url)
                continue
            if shop.entry_id != entry_id:
                self.log(shop.entry_id, "shop", shop.shop_url, None)
                self.log(entry_id, "shop", None, row.shop_url)
                shop.entry_id = entry_id
            for name in ("platform", "shop_id"):
                new = getattr(row, name)
                if new is not None and getattr(shop, name) != new:
                    self.log(entry_id, f"shop.{name}", getattr(shop, name), new)
                    setattr(shop, name, new)

    def finish(self, touched: Iterable[int], fresh: set[int], report: ImportReport) -> None:
        _bump_grams(self.session, self.grams)
        touched = set(touched)
        moved_from = self.changed - touched
        if moved_from:  # an entry that lost a shop to another is changed too
            self.session.execute(
                update(RegisterEntry)
                .where(RegisterEntry.id.in_(moved_from))
                .values(updated_import_id=self.import_id, updated_at=self.now)
            )
        for entry_id in touched - fresh:
            if entry_id in self.changed:
                report.updated += 1
            else:
                report.unchanged += 1


def _consistent(
    rows: list[RowIn], seen: dict[str, tuple[int, tuple[object, ...]]]
) -> Iterator[RowIn | Problem]:
    """A credit code given twice in one file must describe the same operator (more shops of
    it are welcome); a row that contradicts an earlier one is reported, not guessed at."""
    for row in rows:
        values = (row.name, row.legal_representative, row.address, row.licences)
        first = seen.get(row.credit_code)
        if first is None:
            seen[row.credit_code] = (row.line, values)
            yield row
            continue
        differs = [f for f, a, b in zip(_ENTRY_FIELDS, first[1], values, strict=True) if a != b]
        if differs:
            yield Problem(
                row.line,
                differs[0],
                f"differs from line {first[0]} for the same credit code {row.credit_code}",
                "differs",
            )
        else:
            yield row


def import_rows(
    sessions: sessionmaker[Session],
    rows: Iterable[RowIn | Problem],
    *,
    file_name: str,
    sha256: str,
    imported_by: str,
    now: Callable[[], datetime] = utcnow,
) -> ImportReport:
    """Import checked rows (see :func:`import_file`)."""
    with session_scope(sessions) as session:
        record = RegisterImport(
            file_name=file_name[:255],
            sha256=sha256,
            imported_by=imported_by[:200],
            started_at=now(),
        )
        session.add(record)
        session.flush()
        report = ImportReport(record.id, file_name, sha256)
    seen: dict[str, tuple[int, tuple[object, ...]]] = {}
    bad_lines: set[int] = set()
    pending: list[RowIn] = []
    failure: RegisterFileError | None = None

    fresh: set[int] = set()  # entries this import created
    counted: set[int] = set()  # entries already counted as updated or unchanged

    def note(problem: Problem, *, counted_row: bool = False) -> None:
        if problem.line not in bad_lines:
            bad_lines.add(problem.line)
            report.rows += 0 if counted_row else 1
        if len(report.problems) < KEPT_PROBLEMS * 10:
            report.problems.append(problem)

    def flush() -> None:
        good = []
        for item in _consistent(pending, seen):
            if isinstance(item, Problem):
                note(item, counted_row=True)
            else:
                good.append(item)
        pending.clear()
        if not good:
            return
        with session_scope(sessions) as session:
            batch = _Batch(session, report.import_id, now())
            ids = batch.entries(good, report, fresh)
            batch.shops(good, ids, fresh)
            batch.finish(set(ids.values()) - counted, fresh, report)
            counted.update(ids.values())

    try:
        for item in rows:
            if isinstance(item, Problem):
                note(item)
                continue
            report.rows += 1
            pending.append(item)
            if len(pending) >= BATCH:
                flush()
    except RegisterFileError as exc:
        failure = exc
    flush()
    report.bad_rows = len(bad_lines)
    with session_scope(sessions) as session:
        session.execute(
            update(RegisterImport)
            .where(RegisterImport.id == report.import_id)
            .values(
                finished_at=now(),
                rows=report.rows,
                created=report.created,
                updated=report.updated,
                unchanged=report.unchanged,
                bad=report.bad_rows,
                problems=[
                    {"line": p.line, "field": p.field, "problem": p.problem, "code": p.code}
                    for p in report.problems[:KEPT_PROBLEMS]
                ]
                + ([{"line": 0, "field": "file", "problem": str(failure)}] if failure else []),
            )
        )
    if failure is not None:
        raise RegisterFileError(
            f"{failure} -- the rows before it were imported (import {report.import_id})"
        )
    return report


def import_file(
    sessions: sessionmaker[Session],
    path: Path,
    *,
    imported_by: str,
    file_name: str | None = None,
    now: Callable[[], datetime] = utcnow,
) -> ImportReport:
    """Import a CSV or XLSX register file. A file that cannot be read at all raises
    :class:`RegisterFileError` before anything is written; bad rows are in the report."""
    path = Path(path)
    rows = read_rows(path)
    first = next(rows, None)  # the header is checked here, before an import is recorded

    def all_rows() -> Iterator[RowIn | Problem]:
        if first is not None:
            yield first
        yield from rows

    return import_rows(
        sessions,
        all_rows(),
        file_name=file_name or path.name,
        sha256=_sha256(path),
        imported_by=imported_by,
        now=now,
    )
