"""The unit's figures benchmark (not a test): ``/stats`` on a full unit.

    .venv/bin/python benchmarks/stats.py [--cases 10000] [--events 200000] [--runs 5]
                                         [--backends sqlite,postgresql]

Fills one unit with ``--cases`` cases spread over two years, each walking the case process
(register, file, investigate with inquiries, an order to correct for some, end, review,
notify, decide, serve, pay, close -- cases stop at every stage) with about
``--events / --cases`` events each, the facts the deadline engine counts from, and a
violation type among twenty. Then it times :func:`workflow.stats.unit_figures` for the last
twelve months and for one month (median of ``--runs``), beside a bare ``count(*)`` of the
unit's events (what merely touching every event costs).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from storage.db import make_engine, make_session_factory, migrate  # noqa: E402
from storage.models import Case, CaseEvent, Unit  # noqa: E402
from workflow.stats import Month, Period, unit_figures  # noqa: E402
from workflow.stats.compute import forget_counted_deadlines  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TODAY = date(2026, 11, 20)
#: (action, from, to, fact recorded as the event's day)
PATH: list[tuple[str, str, str, str | None]] = [
    ("record_lead", "new", "received", None),
    ("register", "received", "verifying", "registered_on"),
    ("propose_filing", "verifying", "filing_review", None),
    ("approve_filing", "filing_review", "investigating", "filed_on"),
    ("order_correction", "investigating", "correcting", "correction_ordered_on"),
    ("confirm_correction", "correcting", "investigating", None),
    ("end_investigation", "investigating", "investigation_ended", None),
    ("complete_review", "investigation_ended", "reviewed", None),
    ("notify_penalty", "reviewed", "statement_period", "notification_served_on"),
    ("decide_penalty", "statement_period", "decided", "decided_on"),
    ("serve_decision", "decided", "served", "decision_served_on"),
    ("record_payment", "served", "paid", "paid_on"),
    ("close_case", "paid", "closed", "closed_on"),
]


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _populate(url: str, n_cases: int, n_events: int) -> int:
    rng = random.Random(11)
    engine = make_engine(url)
    per_case = max(len(PATH), n_events // n_cases)
    start = datetime(2024, 12, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        unit_id = conn.execute(
            sa.insert(Unit).values(name="示例市市场监督管理局", created_at=start).returning(Unit.id)
        ).scalar_one()
        cases: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for k in range(n_cases):
            cid = hashlib.sha256(f"case{k}".encode()).hexdigest()[:32]
            at = start + timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
            received = at
            stop = rng.randrange(2, len(PATH) + 1)
            correcting = ("order_correction", "confirm_correction")
            steps = [p for p in PATH[:stop] if p[0] not in correcting or k % 3 == 0]
            facts: dict[str, Any] = {"decided_penalty": {"kind": "fine", "amount_fen": 100_000}}
            rows: list[tuple[datetime, str, str, str, dict[str, Any]]] = []
            for action, src, dst, fact in steps:
                at += timedelta(hours=rng.randrange(4, 24 * 12))
                details = {"suspected_violation": f"违法类型{rng.randrange(20)}"} if (
                    action == "propose_filing") else {}  # fmt: skip
                rows.append((at, action, src, dst, details))
                if fact:
                    facts[fact] = (at + timedelta(hours=8)).date().isoformat()
                if action == "approve_filing":  # inquiries and extractions while investigating
                    for _ in range(rng.randrange(0, per_case)):
                        at += timedelta(hours=rng.randrange(1, 30))
                        rows.append((at, "record_inquiry", dst, dst, {}))
            state = rows[-1][3]
            closed = rows[-1][0] if state == "closed" else None
            while len(rows) < per_case:  # notes, staffing, evidence: events beside the steps
                at += timedelta(hours=rng.randrange(1, 30))
                rows.append((at, "assign", state, state, {}))
            for seq, (t, action, src, dst, details) in enumerate(rows, start=1):
                events.append(dict(
                    case_id=cid, seq=seq, at=t, actor="user:1", actor_name="执法员",
                    role="officer", action=action, from_state=src, to_state=dst,
                    details=details, touches=[], prev_hash=None,
                    hash=hashlib.sha256(f"{cid}:{seq}".encode()).hexdigest(),
                ))  # fmt: skip
            cases.append(dict(
                id=cid, unit_id=unit_id, number=f"示市监处〔2026〕{k + 1}号", title=f"案件 {k}",
                procedure="general", state=state, source="complaint" if k % 4 == 0 else "lead",
                party_kind="organisation", facts=facts, event_count=len(rows), chain_head=None,
                received_at=received, updated_at=at, closed_at=closed,
            ))  # fmt: skip
            if len(events) > 20_000:
                conn.execute(sa.insert(Case), cases)
                conn.execute(sa.insert(CaseEvent), events)
                cases, events = [], []
        if cases:
            conn.execute(sa.insert(Case), cases)
            conn.execute(sa.insert(CaseEvent), events)
    engine.dispose()
    return unit_id


def run_backend(name: str, url: str, n_cases: int, n_events: int, runs: int) -> None:
    migrate(url)
    t0 = time.perf_counter()
    unit_id = _populate(url, n_cases, n_events)
    engine = make_engine(url)
    with engine.connect() as c:
        n = c.execute(sa.select(sa.func.count()).select_from(CaseEvent)).scalar_one()
    print(f"  [{name}] {n_cases} cases, {n} events written in {time.perf_counter() - t0:.1f} s")
    sessions = make_session_factory(engine)
    year = Period(Month(2025, 12), Month(2026, 11))
    month = Period(Month(2026, 6), Month(2026, 6))

    def bare() -> object:
        with engine.connect() as c:
            return c.execute(
                sa.select(sa.func.count())
                .select_from(CaseEvent)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(Case.unit_id == unit_id)
            ).scalar_one()

    forget_counted_deadlines()
    cold = time.perf_counter()
    unit_figures(sessions, unit_id, year, TODAY)
    cold_ms = (time.perf_counter() - cold) * 1000
    figures = {
        "unit_figures, 12 months, first (cold)": cold_ms,
        "unit_figures, 12 months": _median_ms(
            lambda: unit_figures(sessions, unit_id, year, TODAY), runs
        ),
        "unit_figures, 1 month": _median_ms(
            lambda: unit_figures(sessions, unit_id, month, TODAY), runs
        ),
        "bare count(*) of the unit's events": _median_ms(bare, runs),
    }
    f = unit_figures(sessions, unit_id, year, TODAY)
    print(f"  [{name}] 12 months: {f.opened} opened, {f.closed} closed, "
          f"{sum(s.visits for s in f.steps)} step visits, "
          f"{sum(c.total for c in f.compliance)} deadlines")  # fmt: skip
    for label, ms in figures.items():
        print(f"  [{name}] {label:40s} {ms:8.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{tmp}/stats.db"
                run_backend("sqlite", url, args.cases, args.events, args.runs)
        elif backend == "postgresql":
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            name = f"stats_bench_{random.randrange(10**8)}"
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                run_backend("postgresql", PG_ADMIN.rsplit("/", 1)[0] + "/" + name,
                            args.cases, args.events, args.runs)  # fmt: skip
            finally:
                with admin.connect() as c:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            raise SystemExit(f"unknown backend {backend!r}: sqlite or postgresql")


if __name__ == "__main__":
    main()
