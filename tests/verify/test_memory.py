"""A 200 MB package verifies in a separate process with bounded memory (the 1 GB figures come
from ``benchmarks/verify.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.verify.bigpackage import build_big_package
from tests.verify.sealing import Authorities

REPO = Path(__file__).resolve().parents[2]
MAX_RSS_MB = 150

CHILD = r"""
import json, sys, time


def peak_mb():
    # VmHWM: this process's peak RSS since exec (ru_maxrss may carry the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


from signing.verify import load_trust_bundle, verify_file, Text
trust = load_trust_bundle(
    open(sys.argv[2], "rb").read(), source="given", description=Text("t", "t")
)
started = time.monotonic()
report = verify_file(sys.argv[1], trust=trust)
elapsed = time.monotonic() - started
print(json.dumps({
    "indication": report.indication_line(),
    "seconds": elapsed,
    "rss_mb": peak_mb(),
    "records": report.check("warc.records").facts["archive/data.warc.gz"]["records"],
}))
"""


@pytest.mark.slow
def test_200_mb_package_with_bounded_memory(auth: Authorities, tmp_path: Path) -> None:
    package = tmp_path / "big.wacz"
    info = build_big_package(package, 200 << 20, sign=auth.signer.sign)
    assert info["size"] > 200 << 20
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(auth.bundle())
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(package), str(bundle)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["indication"] == "TOTAL-PASSED"
    assert result["records"] == info["records"] + 1
    assert result["rss_mb"] < MAX_RSS_MB, result
    # The bound is on the verification, timed inside the child. The child's start (a Python
    # interpreter importing pyHanko, cryptography and warcio) took 5.9 s of a 10.6 s run on a
    # CI machine whose other core ran the rest of the suite, the verification itself 4.7 s;
    # the start is not what a court waits for per package.
    assert result["seconds"] < 10, result
