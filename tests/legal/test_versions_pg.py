"""The catalogue's versions on PostgreSQL: the starter is seeded once, stored as JSONB and read
back to the same digest, an edit adds a version, and the trigger refuses changing a row."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from storage.db import make_engine, make_session_factory, migrate, session_scope
from storage.models import Unit
from workflow.legal import versions
from workflow.legal.catalogue import starter


@pytest.mark.postgres
def test_versions_on_postgresql(pg_database: Callable[[], str]) -> None:
    url = pg_database()
    migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        with session_scope(sessions) as session:
            unit = Unit(name="示例市市场监督管理局")
            session.add(unit)
            session.flush()
            unit_id = unit.id
        first = versions.current(sessions, unit_id)
        again = versions.current(sessions, unit_id)
        assert first.version == again.version == 1
        assert first.sha256 == versions.digest(starter().to_dict()) == again.sha256
        assert first.catalogue.entries == starter().entries
        entry = first.catalogue.entry_dict("fake_reviews")
        entry["keywords"] = [*entry["keywords"], "返现"]
        second = versions.edit_entry(
            sessions,
            unit_id,
            actor="user:1",
            actor_name="法制科",
            base=1,
            entry=entry,
            reason="增加关键词",
        )
        assert second.version == 2 and "返现" in second.catalogue.entry("fake_reviews").keywords
        assert versions.get(sessions, unit_id, 1).sha256 == first.sha256  # type: ignore[union-attr]
        with session_scope(sessions) as session, pytest.raises(DatabaseError):
            session.execute(text("UPDATE legal_catalogue_versions SET reason = 'x'"))
    finally:
        engine.dispose()
