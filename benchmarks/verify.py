"""Court verifier benchmark (not a test): verification speed and memory on large packages.

    .venv/bin/python benchmarks/verify.py [--sizes 10,100,1000] [--runs 3] [--keep DIR]

For each size (MB) it builds a signed WACZ of incompressible HTTP responses (1 MiB payloads,
gzip per record, the WARC stored in the ZIP as real WACZ do), then, ``--runs`` times:

* verifies it in a fresh process (``signing.verify.verify_file`` with our trust bundle) and
  reads that process's peak RSS;
* hashes the same file with ``sha256sum``.

It prints the best time of each, MB/s, peak RSS, and the ratio verify/sha256sum. The file is
read from the page cache in both cases (it was just written, and each run reads it whole), so
the comparison is CPU against CPU: the verifier does, per byte of WARC, the whole-file SHA-256,
the member SHA-256 and CRC-32, gzip inflation and the WARC block and payload digests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from certs.pki import Pki  # noqa: E402
from signing.timestamp import LocalTimestamper  # noqa: E402
from signing.tsa import TimeStampAuthority  # noqa: E402
from signing.wacz_sign import PackageSigner  # noqa: E402
from tests.verify.bigpackage import build_big_package  # noqa: E402

HOST = "bench.evidence.example.org"
CHILD = r"""
import json, sys, time


def peak_mb():
    # VmHWM: this process's peak RSS since exec (ru_maxrss may carry the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


from signing.verify import Text, load_trust_bundle, verify_file
trust = load_trust_bundle(
    open(sys.argv[2], "rb").read(), source="given", description=Text("b", "b")
)
started = time.monotonic()
report = verify_file(sys.argv[1], trust=trust)
print(json.dumps({"seconds": time.monotonic() - started, "indication": report.indication_line(),
                  "rss_mb": peak_mb()}))
"""


def _verify(package: Path, bundle: Path) -> dict[str, float | str]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(package), str(bundle)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, float | str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _sha256sum(package: Path) -> float:
    started = time.monotonic()
    subprocess.run(["sha256sum", str(package)], capture_output=True, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="package sizes in MB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="build packages here, keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="verify-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        pki = Pki.open(work / "pki", b"benchmark", hostname=HOST, public_url=f"https://{HOST}")
        signer = PackageSigner(
            pki.package_signing_credential,
            [LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))],
            domain=HOST,
        )
        bundle = work / "bundle.pem"
        bundle.write_bytes(pki.trust_bundle_pem())
        print(
            f"{'size':>8} {'verify s':>9} {'MB/s':>8} {'peak RSS':>9} {'sha256sum s':>12} "
            f"{'MB/s':>8} {'ratio':>6}  result"
        )
        for size_mb in (int(s) for s in args.sizes.split(",")):
            package = work / f"package-{size_mb}MB.wacz"
            if not package.exists():
                build_big_package(package, size_mb << 20, sign=signer.sign)
            size = package.stat().st_size
            runs = [_verify(package, bundle) for _ in range(args.runs)]
            sums = [_sha256sum(package) for _ in range(args.runs)]
            best = min(runs, key=lambda r: float(r["seconds"]))
            verify_s, sum_s = float(best["seconds"]), min(sums)
            rss = max(float(r["rss_mb"]) for r in runs)
            print(
                f"{size / 1e6:>6.0f}MB {verify_s:>9.2f} {size / 1e6 / verify_s:>8.0f} "
                f"{rss:>7.0f}MB {sum_s:>12.2f} {size / 1e6 / sum_s:>8.0f} "
                f"{sum_s / verify_s:>6.2f}  {best['indication']}",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
