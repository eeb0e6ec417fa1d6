"""Bare RFC 3161 tokens (``evidence verify token.tsr --data FILE``), and independent tools that
must agree with the verifier on our artefacts: ``openssl ts -verify`` and ``wacz validate``."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from signing.verify import Indication, Status, Sub
from tests.signing.conftest import openssl
from tests.verify.conftest import Verify, digest_json, member
from tests.verify.sealing import Authorities, Sealed, TestLog, seal
from tests.wacz.conftest import run_wacz_validate, write_capture


@pytest.fixture
def stamped(auth: Authorities, tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "evidence.bin"
    data.write_bytes(b"\x00\x01 some evidence bytes " * 1000)
    token = tmp_path / "evidence.tsr"
    token.write_bytes(auth.timestamper().stamp(data.read_bytes()).response_der)
    return token, data


def test_token_with_its_data(stamped: tuple[Path, Path], verify: Verify, auth: Authorities) -> None:
    token, data = stamped
    from signing.verify import VerifyOptions, verify_file
    from tests.verify.conftest import trust_of

    report = verify_file(
        token, trust=trust_of(auth.bundle(auth.crls_pem())), data_path=data, options=VerifyOptions()
    )
    assert report.kind == "timestamp"
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    assert report.check("timestamp.revocation").status is Status.PASSED
    assert report.facts["time_stamped"]
    other = data.with_name("other.bin")
    other.write_bytes(b"other data")
    report = verify_file(token, trust=trust_of(auth.bundle()), data_path=other)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    report = verify_file(token, trust=trust_of(auth.bundle()))
    assert report.indication_line() == "INDETERMINATE SIGNED_DATA_NOT_FOUND"
    assert "--data" in report.check("timestamp.token").reason.en


def test_token_from_an_untrusted_tsa(stamped: tuple[Path, Path], foreign: Authorities) -> None:
    from signing.verify import verify_file
    from tests.verify.conftest import trust_of

    token, data = stamped
    report = verify_file(token, trust=trust_of(foreign.bundle()), data_path=data)
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"


def test_openssl_accepts_every_token_of_a_sealed_package(
    sealed: Sealed, bundle: Path, tmp_path: Path, verify: Verify
) -> None:
    signed = digest_json(sealed.path)["signedData"]
    (tmp_path / "sig.txt").write_bytes(signed["signature"].encode())
    (tmp_path / "pkg.tsr").write_bytes(base64.b64decode(signed["timeSignature"]))
    (tmp_path / "manifest.json").write_bytes(member(sealed.path, "files/manifest.json"))
    (tmp_path / "manifest.tsr").write_bytes(member(sealed.path, "files/manifest.tsr"))
    for data, tsr in (("sig.txt", "pkg.tsr"), ("manifest.json", "manifest.tsr")):
        out = openssl(
            "ts",
            "-verify",
            "-data",
            str(tmp_path / data),
            "-in",
            str(tmp_path / tsr),
            "-CAfile",
            str(bundle),
            "-untrusted",
            str(bundle),
        )
        assert "Verification: OK" in out.stdout
    # and the verifier agrees on both
    report = verify(sealed.path)
    assert report.check("package.timestamp").status is Status.PASSED
    assert report.check("manifest.timestamp").status is Status.PASSED
    # openssl and the verifier both reject the manifest token over other data
    (tmp_path / "manifest.json").write_bytes(b"{}")
    bad = openssl(
        "ts",
        "-verify",
        "-data",
        str(tmp_path / "manifest.json"),
        "-in",
        str(tmp_path / "manifest.tsr"),
        "-CAfile",
        str(bundle),
        "-untrusted",
        str(bundle),
        check=False,
    )
    assert bad.returncode != 0


def test_wacz_validate_accepts_sealed_packages(sealed: Sealed, plain: Path) -> None:
    for path in (sealed.path, plain):
        proc = run_wacz_validate(path)
        assert proc.returncode == 0 and "Validation succeeded" in proc.stdout, proc.stdout


def test_token_in_a_sealed_package_from_a_second_tsa(
    auth: Authorities, log: TestLog, foreign: Authorities, verify: Verify, tmp_path: Path
) -> None:
    """``additionalTimeSignatures`` from a TSA not in the trust bundle are reported per token.

    The package is sealed here, not shared: the added token must follow the signature's
    stated ``created`` within 10 minutes, and a session-wide package can be older than that
    by the time this test runs (it was, in a 23-minute CI run)."""
    import json

    from tests.verify.conftest import rewrite

    sealed = seal(write_capture(tmp_path / "capture"), tmp_path / "work", auth, log)
    bundle = auth.bundle(auth.crls_pem())  # CRLs issued after this package was sealed
    digest = digest_json(sealed.path)
    signed = digest["signedData"]
    extra = foreign.timestamper().stamp(signed["signature"].encode())
    signed["additionalTimeSignatures"] = [
        {
            "tsa": "https://tsa.example.net",
            "timeSignature": base64.b64encode(extra.response_der).decode(),
            "timestampCert": extra.certs_pem.decode(),
        }
    ]
    out = rewrite(
        sealed.path, tmp_path / "p.wacz", {"datapackage-digest.json": json.dumps(digest).encode()}
    )
    report = verify(out, trust=bundle, proofs=None)
    assert report.check("package.timestamp").status is Status.PASSED
    second = report.check("package.timestamp.2")
    assert (second.status, second.sub_indication) == (
        Status.INDETERMINATE,
        Sub.NO_CERTIFICATE_CHAIN_FOUND,
    )
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    # with the second TSA's root in the bundle too, both tokens verify
    both = verify(out, trust=bundle + foreign.bundle(), proofs=None)
    assert both.check("package.timestamp.2").status is Status.PASSED
    assert both.indication is Indication.TOTAL_PASSED
