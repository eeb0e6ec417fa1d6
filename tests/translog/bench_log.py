"""Benchmark: the transparency log with 100 000 entries (SQLite, and PostgreSQL if given).

Not collected by pytest (no ``test_`` prefix). Run:

    .venv/bin/python -m tests.translog.bench_log [entries] [--pg]

Measures: bulk insertion, the first (cold) root with the subtree cache empty, a root on the
warm cache, inclusion and consistency proofs, one append + publish, the plain O(n) root
without a cache (what the audit does), and the audit.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from evidence_service.sealing import transparency
from evidence_service.sealing.transparency import TransparencyLog
from evidence_service.services import Services
from signing.translog import leaf_hash, merkle_root
from tests.service.conftest import make_settings
from tests.translog.conftest import bulk_leaves, leaf_input


def timed(label: str, fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    print(
        f"{label:<48} {1000 * statistics.median(times):9.1f} ms"
        + (f" (median of {repeat})" if repeat > 1 else "")
    )
    return result


def main(n: int, pg: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = None
        if pg:
            import secrets

            import sqlalchemy as sa

            admin = sa.create_engine(
                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                isolation_level="AUTOCOMMIT",
            )
            name = f"bench_{secrets.token_hex(4)}"
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        services = Services(
            make_settings(Path(tmp) / "data", **({"database_url": url} if url else {}))
        )
        services.migrate()
        tlog = TransparencyLog(services)
        print(f"{n} entries on {'PostgreSQL' if pg else 'SQLite'}")
        timed("bulk insert", lambda: bulk_leaves(services, 0, n))
        with services.session() as session:
            timed(
                "root, cold (fills the subtree cache)", lambda: transparency._tree(session).root(n)
            )
        with services.session() as session:
            timed("root, warm cache", lambda: transparency._tree(session).root(n), 5)
        timed("publish STH (consistency check, sign, RFC 3161)", tlog.publish)
        leaves = [leaf_hash(leaf_input(i)) for i in (0, n // 3, n // 2, n - 1)]
        timed(
            "inclusion proof (API path, incl. verification)",
            lambda: [tlog.inclusion_proof(h.hex()) for h in leaves][-1],
            5,
        )
        timed("append one entry", lambda: tlog.append(leaf_input(n)), 1)
        timed("publish STH for n+1", tlog.publish)
        timed("consistency proof n -> n+1", lambda: tlog.consistency_proof(n, n + 1), 5)
        all_leaves = [leaf_hash(leaf_input(i)) for i in range(n)]
        timed("plain O(n) root in memory (no cache)", lambda: merkle_root(all_leaves))
        timed("audit (all roots and cached nodes from raw entries)", tlog.audit)
        services.close()
        if pg:
            admin.dispose()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 100_000, "--pg" in sys.argv)
