"""Complaint screening benchmark (not a test): quality on synthetic complaints with known
answers, and the time one screening takes with many complaints in the database.

    .venv/bin/python benchmarks/screening.py [--quality 10000] [--sizes 10000,100000]
                                             [--samples 200] [--seed 7] [--flag-score 40]
                                             [--backend sqlite|postgresql]

1. Quality: ``--quality`` complaints (``workflow.screening.synthetic``, 20 % by professional
   claimants) are loaded and every one screened; precision, recall and F1 are printed for
   the screening at the flag score, side by side with the count-only baseline (the same
   person filed at least ``repeat_complainant.min`` complaints in the period), and per fact:
   how many professionals' and ordinary complaints each fired on.
2. Speed: for each of ``--sizes`` complaints in the database (generated, loaded, indexed),
   the median and 95th percentile time of one on-demand screening (index read, facts, the
   result written and committed) over ``--samples`` complaints, and the prefilter's
   candidates per screening.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from evidence_service.config import Settings  # noqa: E402
from storage.db import make_engine, make_session_factory, migrate  # noqa: E402
from storage.models import Unit  # noqa: E402
from workflow.screening import Operating, Screener, index_pending, load_rules, screen  # noqa: E402
from workflow.screening.measure import count_only_baseline, quality  # noqa: E402
from workflow.screening.rules import FACTS  # noqa: E402
from workflow.screening.synthetic import generate, load  # noqa: E402

#: The deployment default (EVIDENCE_SCREENING_FLAG_SCORE).
FLAG_SCORE = int(Settings.model_fields["screening_flag_score"].default)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / f'screening-{uuid.uuid4().hex[:8]}.db'}"
    name = f"bench_screening_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _filled(
    backend: str, folder: Path, n: int, seed: int
) -> tuple[sessionmaker[Session], list[str], list[bool], float]:
    url = _database(backend, folder)
    migrate(url)
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        units = [Unit(name=f"单位{i}市场监督管理局") for i in range(5)]
        session.add_all(units)
        session.commit()
        unit_ids = [u.id for u in units]
    complaints = generate(n, seed)
    ids = load(sessions, complaints, unit_ids)
    t0 = time.perf_counter()
    index_pending(sessions, load_rules(), batch=2000)
    return sessions, ids, [c.professional for c in complaints], time.perf_counter() - t0


def _quality(args: argparse.Namespace, folder: Path) -> None:
    rules = load_rules()
    operating = Operating(args.flag_score, 365)
    sessions, ids, truth, took = _filled(args.backend, folder, args.quality, args.seed)
    print(
        f"quality: {len(ids)} synthetic complaints, {sum(truth)} by professional claimants "
        f"(seed {args.seed}); indexed in {took:.1f} s; flag score {operating.flag_score}"
    )
    screener = Screener(sessions, rules, operating)
    results = [screen(screener, case_id, trigger="batch", by="benchmark") for case_id in ids]
    flags = [r.flagged for r in results]
    baseline = count_only_baseline(sessions, ids, rules, operating)
    print(f"{'rule':<34}{'flagged':>8}{'precision':>11}{'recall':>8}{'F1':>7}")
    for label, chosen in (
        (f"screening (score >= {operating.flag_score})", flags),
        (f"count-only (>= {rules['repeat_complainant'].min:.0f} by same person)", baseline),
    ):
        q = quality(chosen, truth)
        print(f"{label:<34}{q.flagged:>8}{q.precision:>11.3f}{q.recall:>8.3f}{q.f1:>7.3f}")
    for score in (30, 40, 50, 60, 70):
        q = quality([r.score >= score for r in results], truth)
        print(
            f"  at score >= {score}: precision {q.precision:.3f} "
            f"recall {q.recall:.3f} F1 {q.f1:.3f}"
        )
    print("facts fired on (professional / ordinary complaints):")
    for fact in FACTS:
        fired = [any(f.fact == fact for f in r.facts) for r in results]
        pro = sum(1 for f, t in zip(fired, truth, strict=True) if f and t)
        ordinary = sum(1 for f, t in zip(fired, truth, strict=True) if f and not t)
        print(f"  {fact:<24}{pro:>7} / {ordinary}")


def _speed(args: argparse.Namespace, folder: Path) -> None:
    rules = load_rules()
    for size in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        sessions, ids, _, took = _filled(args.backend, folder, size, args.seed + size)
        loaded = time.perf_counter() - t0 - took
        screener = Screener(sessions, rules, Operating(args.flag_score, 365))
        sample = random.Random(args.seed).sample(ids, min(args.samples, len(ids)))
        times = []
        for case_id in sample:
            t1 = time.perf_counter()
            screen(screener, case_id, trigger="batch", by="benchmark")
            times.append((time.perf_counter() - t1) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"speed: {size:>7} complaints in the database (loaded {loaded:.1f} s, indexed "
            f"{took:.1f} s): one screening median {statistics.median(times):.1f} ms, "
            f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms ({len(times)} screenings, {args.backend})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quality", type=int, default=10000)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--flag-score", type=int, default=FLAG_SCORE)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.quality:
            _quality(args, Path(tmp))
        if args.sizes:
            _speed(args, Path(tmp))


if __name__ == "__main__":
    main()
