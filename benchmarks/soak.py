"""Soak benchmark (the long form of tests/soak/; not a test): a burst of captures with faults,
beside a baseline of the same size without faults, measured in the same run.

    .venv/bin/python benchmarks/soak.py [--captures 500] [--window 30] [--workers 4]
                                        [--documents 20] [--seed N] [--no-baseline]

Needs what the test needs: Debian's Chromium, PostgreSQL's server binaries (a private cluster is
made and restarted; the shared one is never touched), the S3 server (S3_ENDPOINT and its keys, or
``../shared/services/s3-server start`` is run), and root for the tmpfs of the disk-full fault.
Prints, side by side: captures accepted, completed, partial, failed, retried, time to drain,
captures/min, p50/p95 time from request to sealed; then what each fault hit and any problem
the checks found (exit status 1 if any).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.site import serve_fixture_site  # noqa: E402
from tests.soak.harness import S3Target, SoakConfig, SoakResult, format_figures, run_soak  # noqa: E402


def s3_target() -> S3Target:
    env = dict(os.environ)
    if not env.get("S3_ENDPOINT"):
        script = Path(env.get("S3_SERVER_SCRIPT", ROOT.parent / "shared/services/s3-server"))
        out = subprocess.run(
            [str(script), "start"], capture_output=True, text=True, timeout=600, check=True
        ).stdout
        env.update(dict(re.findall(r"(S3_[A-Z_]+)=(\S+)", out)))
    host, port = env["S3_ENDPOINT"].rsplit(":", 1)
    return S3Target(host, int(port), env.get("S3_ACCESS_KEY", ""), env.get("S3_SECRET_KEY", ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--captures", type=int, default=500)
    ap.add_argument("--window", type=float, default=30.0, help="fault window, seconds")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--documents", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-baseline", action="store_true", help="only the run with faults")
    args = ap.parse_args()

    base = SoakConfig(
        captures=args.captures,
        workers=args.workers,
        clients=args.clients,
        documents=args.documents,
        window_s=args.window,
        hang_pages=max(2, args.captures // 100),
        capture_timeout_s=30.0,
        lease_s=10.0,
        drain_timeout_s=max(600.0, args.captures * 12.0),
    )
    if args.seed is not None:
        base = replace(base, seed=args.seed)
    s3 = s3_target()
    runs: dict[str, SoakResult] = {}
    with serve_fixture_site() as site:
        plan = [("faults", True)] if args.no_baseline else [("baseline", False), ("faults", True)]
        for name, faults in plan:
            cfg = replace(base, faults=faults)
            print(f"{name}: {cfg.captures} captures, {cfg.workers} workers, seed {cfg.seed} ...")
            with tempfile.TemporaryDirectory(prefix=f"evidence-soak-{name}-") as tmp:
                runs[name] = run_soak(cfg, site, Path(tmp), s3)
            print(f"  {name} took {runs[name].phases}", flush=True)
    print()
    print(format_figures({name: r.figures for name, r in runs.items()}))
    bad = False
    for name, r in runs.items():
        print(f"\n{name}: faults injected:")
        print(json.dumps(r.injected, indent=1, ensure_ascii=False))
        if r.failures:
            print(f"{name}: failed captures:", json.dumps(r.failures, indent=1, ensure_ascii=False))
        for problem in r.problems + r.supervision:
            bad = True
            print(f"{name}: PROBLEM: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
