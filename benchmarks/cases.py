"""Case workflow benchmark (not a test): the console's queries and one action on a full unit.

    .venv/bin/python benchmarks/cases.py [--cases 10000] [--events 200000] [--runs 15]
                                            [--backends sqlite,postgresql]

For each backend it builds a unit with ``--cases`` open cases and ``--events`` events (real
hash chains), ten officers staffed on them, then measures at the server (in process, no HTTP):

* the case list of one officer (``list_cases(mine=True)``, 100 rows with their deadlines)
  beside a bare SQL select of the same 100 rows (the baseline: what the deadlines and the
  model cost on top);
* the case page (``case_view``: timeline, evidence, documents, deadlines, options) beside a
  bare select of that case's events;
* one action with its event append (``act``, not signing) beside a bare one-row insert and
  commit (the database's own write cost).

Each figure is the median of ``--runs`` runs; targets (issue 10): list and page <= 100 ms,
an action <= 50 ms plus its signing.

``--sections export`` (also run by default): the export of the electronic case file
(``evidence case export``) of a case holding ``--packages`` sealed captures (``--package-mb``
each) and ``--documents`` documents, side by side with the store's own read of the same
objects, a plain read of their files, and the offline verification of the case file.
``--stores file,s3`` runs it on the local file store and on the S3 server (the deployment's
store) one after the other.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from signing.case_chain import ChainedEvent, event_hash  # noqa: E402
from storage.db import make_engine, make_session_factory, migrate  # noqa: E402
from storage.models import Case, CaseEvent, CaseStaff, Unit, User  # noqa: E402
from workflow.cases import service  # noqa: E402
from workflow.cases.service import Actor, CaseContext  # noqa: E402

if TYPE_CHECKING:
    from evidence_service.services import Services

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _populate(url: str, n_cases: int, n_events: int) -> tuple[int, list[int], list[str]]:
    engine = make_engine(url)
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with engine.begin() as conn:
        unit_id = conn.execute(
            sa.insert(Unit).values(name="示例市市场监督管理局", created_at=now).returning(Unit.id)
        ).scalar_one()
        users = []
        for i in range(10):
            users.append(
                conn.execute(
                    sa.insert(User)
                    .values(
                        username=f"officer{i}",
                        display_name=f"执法员{i}",
                        password_hash="x",
                        role="officer",
                        unit_id=unit_id,
                        badge_number=f"SL-{i:04d}",
                        created_at=now,
                        must_change_password=False,
                        disabled=False,
                    )
                    .returning(User.id)
                ).scalar_one()
            )
        per_case = max(1, n_events // n_cases)
        case_ids = [secrets.token_hex(16) for _ in range(n_cases)]
        case_rows, staff_rows, event_rows = [], [], []
        for k, cid in enumerate(case_ids):
            filed = date(2026, 10, 1) + timedelta(days=k % 30)
            prev = None
            for seq in range(1, per_case + 1):
                at = now + timedelta(minutes=seq)
                e = ChainedEvent(
                    cid,
                    seq,
                    at,
                    f"user:{users[k % 10]}",
                    "执法员",
                    "officer",
                    "record_inquiry",
                    "investigating",
                    "investigating",
                    {},
                    [],
                    prev,
                )
                h = event_hash(e)
                event_rows.append(
                    dict(
                        case_id=cid,
                        seq=seq,
                        at=at,
                        actor=e.actor,
                        actor_name=e.actor_name,
                        role="officer",
                        action=e.action,
                        from_state=e.from_state,
                        to_state=e.to_state,
                        details={},
                        touches=[],
                        prev_hash=prev,
                        hash=h,
                    )
                )
                prev = h
            case_rows.append(
                dict(
                    id=cid,
                    unit_id=unit_id,
                    number=f"示市监处〔2026〕{k + 1}号",
                    title=f"案件 {k + 1}",
                    procedure="general",
                    state="investigating",
                    source="lead",
                    party_kind="organisation",
                    facts={
                        "registered_on": (filed - timedelta(days=3)).isoformat(),
                        "filed_on": filed.isoformat(),
                    },
                    event_count=per_case,
                    chain_head=prev,
                    received_at=now - timedelta(days=k),
                    updated_at=now,
                )
            )
            for u in (users[k % 10], users[(k + 1) % 10]):
                staff_rows.append(
                    dict(
                        case_id=cid,
                        user_id=u,
                        role="officer",
                        badge_number=f"SL-{users.index(u):04d}",
                    )
                )
            if len(event_rows) > 20_000:
                conn.execute(sa.insert(Case), case_rows)
                conn.execute(sa.insert(CaseStaff), staff_rows)
                conn.execute(sa.insert(CaseEvent), event_rows)
                case_rows, staff_rows, event_rows = [], [], []
        if case_rows:
            conn.execute(sa.insert(Case), case_rows)
            conn.execute(sa.insert(CaseStaff), staff_rows)
            conn.execute(sa.insert(CaseEvent), event_rows)
    engine.dispose()
    return unit_id, users, case_ids


def run_backend(name: str, url: str, n_cases: int, n_events: int, runs: int) -> dict[str, float]:
    migrate(url)
    t0 = time.perf_counter()
    unit_id, users, case_ids = _populate(url, n_cases, n_events)
    print(
        f"  [{name}] {n_cases} cases, {n_events} events written in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    engine = make_engine(url)
    ctx = CaseContext(sessions=make_session_factory(engine), today=lambda: date(2026, 11, 20))
    who = Actor(f"user:{users[0]}", "执法员0", "officer", unit_id)
    target = case_ids[n_cases // 2]

    def bare_list() -> object:
        with engine.connect() as c:
            return c.execute(
                sa.select(Case.id, Case.number, Case.title, Case.state)
                .where(
                    Case.unit_id == unit_id,
                    Case.id.in_(sa.select(CaseStaff.case_id).where(CaseStaff.user_id == users[0])),
                )
                .order_by(Case.received_at.desc())
                .limit(100)
            ).all()

    def bare_events() -> object:
        with engine.connect() as c:
            return c.execute(sa.select(CaseEvent).where(CaseEvent.case_id == target)).all()

    counter = iter(range(10**9))

    def bare_insert() -> object:
        with engine.begin() as c:
            return c.execute(
                sa.insert(CaseEvent).values(
                    case_id=target,
                    seq=10_000 + next(counter),
                    at=datetime.now(UTC),
                    actor="x",
                    actor_name="x",
                    role="officer",
                    action="bench",
                    details={},
                    touches=[],
                    hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                )
            )

    def one_action() -> object:
        return service.act(ctx, who, target, "record_inquiry")

    figures = {
        "list (100 rows, deadlines)": _median_ms(
            lambda: service.list_cases(ctx, who, unit_id=unit_id, mine=True), runs
        ),
        "  baseline: bare select": _median_ms(bare_list, runs),
        "case page": _median_ms(lambda: service.case_view(ctx, who, target), runs),
        "  baseline: bare event select": _median_ms(bare_events, runs),
        "action + event append": _median_ms(one_action, runs),
        "  baseline: bare insert+commit": _median_ms(bare_insert, runs),
    }
    engine.dispose()
    return figures


# -- export of the electronic case file ---------------------------------------------------------


def store_settings(store: str) -> dict[str, Any]:
    """Settings for the export's store: ``file`` (the embedded default, objects as files on
    this machine) or ``s3`` (the deployment's: the S3 server named by ``S3_ENDPOINT``,
    ``S3_ACCESS_KEY``, ``S3_SECRET_KEY``, as ``../shared/services/s3-server start`` prints
    them; a new bucket each run)."""
    if store == "file":
        return {}
    if store != "s3":
        raise SystemExit(f"--stores: {store!r} is not a store (file, s3)")
    import os

    try:
        endpoint, access, secret = (
            os.environ["S3_ENDPOINT"],
            os.environ["S3_ACCESS_KEY"],
            os.environ["S3_SECRET_KEY"],
        )
    except KeyError as missing:
        raise SystemExit(
            f"--stores s3 needs {missing} (start ../shared/services/s3-server and load its exports)"
        ) from None
    return {
        "store": "s3",
        "s3_endpoint": endpoint,
        "s3_access_key": access,
        "s3_secret_key": secret,
        "s3_secure": os.environ.get("S3_SECURE", "0") in ("1", "true"),
        "s3_bucket": f"bench-export-{secrets.token_hex(5)}",
        "s3_retention_days": 1,
    }


def export_fixture(
    base: Path, n_packages: int, n_documents: int, package_mb: int, store: str = "file"
) -> tuple[Services, str, list[str]]:
    """A service in ``base`` with one case of ``n_packages`` sealed captures (``package_mb``
    MB of random payload each) and ``n_documents`` rendered documents: (services, the case's
    id, the store keys of what the export reads)."""
    import os

    from evidence_service.bootstrap import initialize
    from evidence_service.sealing.case_file import case_context
    from evidence_service.services import Services
    from evidence_service.web.portal.deps import build_context, officer_ref
    from storage.models import Capture, DocumentVersion
    from tests.cases.test_export import attach_capture, seal_capture
    from tests.portal.conftest import credit_code, order_data, setup_merchant
    from tests.service.conftest import make_settings
    from workflow import serving
    from workflow.cases.service import PartyIn

    services = Services(make_settings(base / "data", **store_settings(store)))
    initialize(services)
    t0 = time.perf_counter()
    with services.session() as session:
        unit_id = session.scalars(sa.select(Unit.id)).one()
        user = User(
            username="wang",
            display_name="王五",
            password_hash="x",
            unit_id=unit_id,
            badge_number="SL-0001",
        )
        session.add(user)
        session.flush()
        session.expunge(user)
    ctx = case_context(services)
    who = Actor(f"user:{user.id}", "王五", "officer", unit_id)
    case_id = service.open_case(
        ctx, who, unit_id=unit_id, title="基准案件", summary="s", parties=[PartyIn("某网店")]
    )
    for _ in range(n_packages):
        payload = os.urandom(package_mb << 20)
        attach_capture(ctx, who, case_id, services, seal_capture(services, extra_payload=payload))
    portal = build_context(services)
    ref = officer_ref(user)
    merchant = setup_merchant(portal, ref, "某网店有限公司", credit_code(7), consent=False)
    for i in range(n_documents):
        data = order_data(deadline=f"2099-12-{1 + i % 28:02d}")
        doc = serving.create_document(
            portal, ref, merchant_id=merchant, template="order_to_correct", data=data
        )
        with services.sessions() as session:
            sha = session.scalar(
                sa.select(DocumentVersion.sha256).where(DocumentVersion.document_id == doc)
            )
        service.link_document(ctx, who, case_id, doc, "order_to_correct", str(sha))
    print(
        f"  a case of {n_packages} packages (~{package_mb} MB) and {n_documents} documents "
        f"built in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    with services.sessions() as session:
        keys = [
            k
            for c in session.scalars(sa.select(Capture).where(Capture.status == "stored"))
            for k in (c.package_key, c.proofs_key)
            if k
        ] + list(session.scalars(sa.select(DocumentVersion.object_key)))

    return services, case_id, keys


def run_export(
    n_packages: int,
    n_documents: int,
    package_mb: int,
    runs: int,
    profile: Path | None = None,
    store: str = "file",
) -> None:
    """``case.zip`` of one case holding ``n_packages`` sealed captures of about ``package_mb``
    MB each (incompressible payloads, sealed by the real pipeline) and ``n_documents``
    rendered documents, beside the store's own read of the same objects (verified against
    their keys, as the export reads them) and a plain read of their files. Best of ``runs``,
    the export and the reads taking turns (the machine's other load falls on both alike);
    everything is in the page cache (just written), so this compares CPU with CPU."""
    from evidence_service.sealing.case_export import export_case
    from signing.verify import Text, load_trust_bundle, verify_file

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        print(f"\n-- export, {store} store", flush=True)
        services, case_id, keys = export_fixture(base, n_packages, n_documents, package_mb, store)

        def store_read() -> int:
            total = 0
            for key in keys:
                with services.store.open(key) as fh:
                    while chunk := fh.read(1 << 20):
                        total += len(chunk)
            return total

        def plain_read() -> int:
            total = 0
            for key in keys:
                with open(services.settings.objects_dir / key[:2] / key[2:4] / key, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        total += len(chunk)
            return total

        out = base / "case.zip"
        if profile is not None:
            _profile(profile, services, case_id, out)
        # The first export publishes a tree head and writes the proofs sidecars; later ones
        # (what is timed) find them.
        export_case(services, case_id, out)
        exports, reads = [], []
        for _ in range(runs):
            out.unlink()  # removing the last run's file is not part of an export
            exports.append(_timed(lambda: export_case(services, case_id, out).size))
            reads.append(_timed(store_read))
        rows: list[tuple[str, float, int]] = [
            ("export case.zip (store -> ZIP, signed)", *min(exports)),
            ("store read, verified (same objects)", *min(reads)),
        ]
        if (services.settings.objects_dir / keys[0][:2] / keys[0][2:4] / keys[0]).is_file():
            rows.append(
                ("plain file read (same objects)", *min(_timed(plain_read) for _ in range(runs)))
            )
        trust = load_trust_bundle(
            services.trust_bundle_pem(), source="given", description=Text("基准", "bench")
        )
        verdict: list[str] = []

        def verify() -> int:
            report = verify_file(out, trust=trust)
            verdict.append(report.indication_line())
            return out.stat().st_size

        rows.append(
            (
                "verify case.zip offline (all nested)",
                *min(_timed(verify) for _ in range(min(runs, 3))),
            )
        )
        services.close()
    title = f"case file export ({store} store)"
    print(f"\n{title:<42}{'seconds':>10}{'MB':>10}{'MB/s':>10}{'vs store':>10}")
    store_s = rows[1][1]
    for label, seconds, size in rows:
        print(
            f"{label:<42}{seconds:>10.3f}{size / 1e6:>10.1f}{size / 1e6 / seconds:>10.0f}"
            f"{seconds / store_s:>9.2f}x"
        )
    print(f"export speed / store read speed: {store_s / rows[0][1]:.2f} (target >= 0.5)")
    print(f"verdict: {verdict[-1]}")


def _profile(where: Path, services: Services, case_id: str, out: Path) -> None:
    """cProfile one export and one verification into ``where`` (``export.prof``,
    ``verify.prof``; read them with ``python -m pstats``), and print the top of each. One
    export runs first unprofiled: the first publishes a tree head and writes the captures'
    proofs sidecars, which the timed (best of) runs do not do again."""
    import cProfile
    import pstats

    from evidence_service.sealing.case_export import export_case
    from signing.verify import Text, load_trust_bundle, verify_file

    where.mkdir(parents=True, exist_ok=True)
    export_case(services, case_id, out)
    trust = load_trust_bundle(
        services.trust_bundle_pem(), source="given", description=Text("基准", "bench")
    )
    steps: list[tuple[str, Callable[[], object]]] = [
        ("export", lambda: export_case(services, case_id, out)),
        ("verify", lambda: verify_file(out, trust=trust)),
    ]
    for name, fn in steps:
        profiler = cProfile.Profile()
        profiler.runcall(fn)
        profiler.dump_stats(where / f"{name}.prof")
        print(f"\n-- {name}: top 15 by own time ({where / (name + '.prof')})")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    size = fn()
    return time.perf_counter() - t0, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--sections", default="workflow,export", help="workflow, export or both")
    ap.add_argument("--packages", type=int, default=20, help="export: sealed captures in the case")
    ap.add_argument("--documents", type=int, default=30, help="export: documents in the case")
    ap.add_argument("--package-mb", type=int, default=8, help="export: payload of each capture")
    ap.add_argument("--export-runs", type=int, default=3)
    ap.add_argument(
        "--stores",
        default="file",
        help="export: file (embedded default) and/or s3 (the S3 server of S3_ENDPOINT)",
    )
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="export: also cProfile one export and one verification into DIR",
    )
    args = ap.parse_args()
    sections = {s.strip() for s in args.sections.split(",")}
    if "workflow" in sections:
        _workflow(args)
    if "export" in sections:
        for store in (s.strip() for s in args.stores.split(",")):
            run_export(
                args.packages,
                args.documents,
                args.package_mb,
                args.export_runs,
                args.profile,
                store,
            )


def _workflow(args: argparse.Namespace) -> None:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                results["SQLite"] = run_backend("sqlite", url, args.cases, args.events, args.runs)
            elif backend == "postgresql":
                name = f"evidence_bench_{secrets.token_hex(4)}"
                admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(sa.text(f'CREATE DATABASE "{name}"'))
                try:
                    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
                    results["PostgreSQL"] = run_backend(
                        "postgresql", url, args.cases, args.events, args.runs
                    )
                finally:
                    with admin.connect() as c:
                        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()
    names = list(results)
    print(f"\n{'median ms':<34}" + "".join(f"{n:>14}" for n in names))
    for label in next(iter(results.values())):
        print(f"{label:<34}" + "".join(f"{results[n][label]:>14.1f}" for n in names))
    print("\ntargets: list and case page <= 100 ms, an action <= 50 ms (+ its signing)")


if __name__ == "__main__":
    main()
