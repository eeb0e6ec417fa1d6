"""storage.dump: the database read in one snapshot while others write, and loaded back whole
or not at all."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from storage.db import head_revision, make_engine, make_session_factory, session_scope
from storage.dump import DumpError, load, nonempty_tables, schema_tables, snapshot
from storage.models import LogLeaf


def _leaf(i: int) -> LogLeaf:
    return LogLeaf(leaf_index=i, leaf_hash=f"{i:064x}", leaf_input="0" * 64, kind="test")


def _add(url: str, *indexes: int) -> None:
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            session.add_all(_leaf(i) for i in indexes)
    finally:
        engine.dispose()


def test_a_snapshot_does_not_see_what_is_committed_after_it(db_url: str) -> None:
    _add(db_url, 0, 1)
    table = next(t for t in schema_tables() if t.name == "log_leaves")
    with snapshot(db_url) as snap:
        _add(db_url, 2)  # another process commits while the backup reads
        rows = [json.loads(line) for line in snap.rows(table)]
    assert [r["leaf_index"] for r in rows] == [0, 1]
    assert rows[0]["created_at"].keys() == {"$dt"}
    with snapshot(db_url) as snap:  # the next backup has it
        assert len(list(snap.rows(table))) == 3


def test_a_load_that_fails_keeps_nothing(db_url: str) -> None:
    """A bad row half-way: the rows before it are not kept either, and the target stays
    restorable."""
    _add(db_url, 0)
    with snapshot(db_url) as snap:
        dumped = {t.name: list(snap.rows(t)) for t in schema_tables()}
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(LogLeaf.__table__.delete())  # type: ignore[attr-defined]
    assert not nonempty_tables(db_url)

    def lines(name: str) -> list[bytes]:
        if name == "log_leaves":
            return [*dumped[name], b'{"leaf_index": 1, "no_such_column": 2}\n']
        return dumped[name]

    with pytest.raises(DumpError, match="columns this schema lacks"):
        load(db_url, head_revision() or "", [(t, lines(t.name)) for t in schema_tables()],
             replace=False)  # fmt: skip
    assert not nonempty_tables(db_url)
    counts = load(db_url, head_revision() or "", [(t, dumped[t.name]) for t in schema_tables()],
                  replace=False)  # fmt: skip
    assert counts["log_leaves"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LogLeaf)).scalar_one() == 1
    engine.dispose()


def test_a_dump_of_another_revision_is_refused(db_url: str) -> None:
    with pytest.raises(DumpError, match="schema revision 0001"):
        load(db_url, "0001", [], replace=False)
