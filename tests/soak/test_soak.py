"""The soak and fault test (short form): 4 workers under a burst of captures and officers'
document signing, with faults injected at random moments; then nothing may be lost.

Configuration: ``evidence run --workers 4`` (the operator's command) on a PostgreSQL cluster of
the test's own, the S3 server (Ceph RGW, object lock) behind a TCP proxy, the built-in TSA over
HTTP behind a proxy, the work folder on a small tmpfs, the fixture shop (with a page that never
finishes loading). Faults, in a random order (seed printed): ``kill -9`` of a worker while it
loads a page and of one while it seals; PostgreSQL restarted; S3 unreachable for a window; the
TSA answering HTTP 500 or garbage for a window; the work folder full for a window.

Why proxies and a private PostgreSQL: the shared PostgreSQL and S3 server serve every other
test running at the same time and must never be stopped. Closing the proxy's listener and its
connections is, seen from the service, exactly the S3 server going away; the private cluster is
really stopped and started.

The page that never finishes loading ends ``failed`` (code ``timeout``, the reason said): the
recorder keeps the exact bytes of the main document, which never end, so Chromium never shows
it; the worker is free again after the capture time limit.

The disk-full fault mounts a tmpfs on the work folder, so the test needs root (as CI runs).

The long form (500 captures, 30 s windows, beside a no-fault baseline) is
``benchmarks/soak.py``. ``EVIDENCE_SOAK_SEED`` replays a run's fault order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fixtures.site import FixtureSite
from tests.soak.harness import S3Target, SoakConfig, format_figures, run_soak
from tests.storage.conftest import S3Settings, s3_settings  # noqa: F401  (fixture)

pytestmark = [pytest.mark.soak, pytest.mark.chromium, pytest.mark.postgres, pytest.mark.s3,
              pytest.mark.slow, pytest.mark.timeout(900)]  # fmt: skip


def test_soak_with_faults_loses_nothing(
    fixture_site: FixtureSite,
    s3_settings: S3Settings,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host, port = s3_settings.endpoint.rsplit(":", 1)
    seed = os.environ.get("EVIDENCE_SOAK_SEED")
    cfg = SoakConfig(**({"seed": int(seed)} if seed else {}))
    result = run_soak(
        cfg,
        fixture_site,
        tmp_path,
        S3Target(host, int(port), s3_settings.access_key, s3_settings.secret_key),
    )
    with capsys.disabled():
        print(f"\nsoak (seed {cfg.seed}):\n" + format_figures({"faults": result.figures}))
        print(json.dumps(result.injected, indent=1, ensure_ascii=False))
        print("failed captures:", json.dumps(result.failures, indent=1, ensure_ascii=False))
        print("phases:", result.phases)
        print("supervision:", json.dumps(result.supervision, indent=1, ensure_ascii=False))
    assert not result.problems, "\n".join(result.problems) + "\n--- run.log ---\n" + result.log_tail
    # `evidence run` started the killed workers again and stopped every one at the end.
    assert not result.supervision, result.supervision
    f = result.figures
    assert f["accepted"] == cfg.captures
    assert f["completed"] + f["partial"] + f["failed"] == f["accepted"]
    # The killed workers' captures were taken over by another attempt.
    assert f["retried"] >= 2
