"""Backup and restore benchmark (not a test): `write_backup` / `restore_backup` against copying
the same bytes with the system's tools.

    .venv/bin/python benchmarks/backup.py [--objects 200] [--object-mb 1] [--rows 20000]

It makes a service on a temporary SQLite database and file store, fills the store with
``--objects`` incompressible objects and the ``log_leaves`` table with ``--rows`` rows, then
measures, best of ``--runs``:

* ``evidence backup`` (``write_backup``: one database snapshot, every object read verified and
  hashed into SHA256SUMS, the PKI under its lock), against the baseline ``cp -a`` of the
  objects folder, the SQLite online-backup copy (``storage.dump.copy_sqlite``), ``sha256sum`` of
  the copied objects and ``sync``: the same bytes copied and hashed once, with no manifest;
* ``evidence restore`` (``restore_backup``: the whole backup checked first, every object put
  and re-hashed by the store, every row loaded in one transaction) onto a fresh data folder,
  against ``sha256sum -c SHA256SUMS`` (the check alone) plus ``cp -a`` back.

Figures are MB/s of object bytes and the ratio to the baseline, side by side.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evidence_service.backup import restore_backup, write_backup  # noqa: E402
from evidence_service.bootstrap import initialize  # noqa: E402
from evidence_service.config import Settings  # noqa: E402
from evidence_service.services import Services  # noqa: E402
from storage.dump import copy_sqlite  # noqa: E402
from storage.models import LogLeaf  # noqa: E402
from storage.types import utcnow  # noqa: E402

PASSPHRASE = "benchmark passphrase"


def _settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, key_passphrase=PASSPHRASE)  # type: ignore[call-arg]


def _fill(services: Services, objects: int, size: int, rows: int) -> int:
    total = 0
    for _ in range(objects):
        path = services.settings.data_dir / "blob"
        path.write_bytes(os.urandom(size))
        services.store.put_file(path)
        total += size
        path.unlink()
    with services.session() as session:
        for i in range(rows):
            digest = hashlib.sha256(str(i).encode()).digest()
            session.add(
                LogLeaf(
                    leaf_index=i,
                    leaf_hash=digest.hex(),
                    leaf_input=hashlib.sha256(digest).hexdigest(),
                    kind="benchmark",
                    created_at=utcnow(),
                )
            )
    return total


def _best(runs: int, action) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--object-mb", type=float, default=1.0)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp_name:
        tmp = Path(tmp_name)
        source = Services(_settings(tmp / "source"))
        initialize(source)
        nbytes = _fill(source, args.objects, int(args.object_mb * 1024 * 1024), args.rows)
        mb = nbytes / 1e6
        counter = iter(range(10**6))

        def backup() -> None:
            write_backup(source, tmp / f"backup-{next(counter)}")

        def baseline_backup() -> None:
            dest = tmp / f"copy-{next(counter)}"
            dest.mkdir()
            subprocess.run(
                ["cp", "-a", str(source.settings.objects_dir), str(dest / "objects")], check=True
            )
            copy_sqlite(source.settings.data_dir / "evidence.db", dest / "evidence.db")
            # A copy worth keeping is checked: hash what was copied (as the backup does).
            files = [str(p) for p in (dest / "objects").rglob("*") if p.is_file()]
            subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["sync"], check=True)

        t_backup = _best(args.runs, backup)
        t_copy = _best(args.runs, baseline_backup)
        kept = tmp / "backup-0"

        def restore() -> None:
            target = _settings(tmp / f"target-{next(counter)}")
            restore_backup(target, kept)

        def baseline_restore() -> None:
            subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=kept, check=True)
            dest = tmp / f"back-{next(counter)}"
            subprocess.run(["cp", "-a", str(kept / "objects"), str(dest)], check=True)

        t_restore = _best(args.runs, restore)
        t_check = _best(args.runs, baseline_restore)
        source.close()
        print(f"{args.objects} objects, {mb:.0f} MB; {args.rows} log rows; best of {args.runs}")
        print(f"{'':32}{'seconds':>10}{'MB/s':>10}{'x baseline':>12}")
        for label, seconds, base in (
            ("evidence backup", t_backup, t_copy),
            ("  baseline cp + sha256sum + sync", t_copy, t_copy),
            ("evidence restore", t_restore, t_check),
            ("  baseline sha256sum -c + cp -a", t_check, t_check),
        ):
            print(f"{label:32}{seconds:10.2f}{mb / seconds:10.0f}{seconds / base:12.2f}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
