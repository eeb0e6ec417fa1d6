"""Benchmark: the seal of one capture of the fixture listing page, stage by stage.

Not collected by pytest (no ``test_`` prefix). Run:

    .venv/bin/python -m tests.seal.bench_seal [runs]

One real capture is made once; each run seals a fresh copy of it (new capture row, new
work folder) with ``pipeline.seal_capture`` and reads the stage timings the seal records in
the capture's summary (``seal_timing``). The first two runs warm up (fonts, keys, adapters).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from capture import CaptureEngine, CaptureOptions
from evidence_service.bootstrap import initialize
from evidence_service.sealing import pipeline
from evidence_service.services import Services
from storage.models import Capture
from tests.fixtures.site import serve_fixture_site
from tests.service.conftest import make_settings


async def _capture(url: str, ca: bytes, out: Path) -> object:
    async with CaptureEngine(extra_ca_pem=ca) as engine:
        return await engine.capture(url, CaptureOptions(allow_private=True), out)


def main(runs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-seal-"))
    try:
        with serve_fixture_site() as site:
            src = tmp / "src"
            result = asyncio.run(_capture(site.url("/listing"), site.ca_pem, src / "capture"))
            pipeline._write_manifest(src / "result.json", result)  # type: ignore[arg-type]
        services = Services(make_settings(tmp / "data"))
        initialize(services)
        totals: list[float] = []
        stages: dict[str, list[float]] = {}
        for i in range(runs + 2):
            with services.session() as session:
                cap = Capture(requested_url=result.requested_url, status="sealing", summary={})  # type: ignore[attr-defined]
                session.add(cap)
                session.flush()
                capture_id = cap.id
            work = services.settings.work_dir / capture_id
            shutil.copytree(src, work)
            manifest = (work / "result.json").read_text().replace(str(src), str(work))
            (work / "result.json").write_text(manifest)
            res = pipeline._read_manifest(work / "result.json")
            t0 = time.perf_counter()
            pipeline.seal_capture(services, capture_id, res, work)
            elapsed = time.perf_counter() - t0
            with services.sessions() as session:
                cap = session.get(Capture, capture_id)
                assert cap is not None and cap.status == "stored"
                timing = dict(cap.summary["seal_timing"])
            if i < 2:
                continue
            totals.append(elapsed)
            for key, value in timing.items():
                stages.setdefault(key, []).append(value)
        print(f"seal of the fixture listing page, median of {runs} runs:")
        for key, values in stages.items():
            print(f"  {key:<28} {1000 * statistics.median(values):7.1f} ms")
        print(
            f"  {'TOTAL (wall clock)':<28} {1000 * statistics.median(totals):7.1f} ms "
            f"(min {1000 * min(totals):.1f}, max {1000 * max(totals):.1f})"
        )
        services.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
