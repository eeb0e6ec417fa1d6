"""The built-in PKI: certificate profiles as openssl sees them, keys at rest, concurrency and
rotation of the package-signing certificate."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from certs.errors import PkiConfigError, WrongPassphraseError
from certs.pki import Pki, fingerprint_sha256, load_pem_certificates
from tests.certs.conftest import HOST, PASSPHRASE, PUBLIC_URL, openssl

REPO = Path(__file__).resolve().parents[2]


def _x509_text(path: Path) -> str:
    return openssl("x509", "-in", str(path), "-noout", "-text").stdout


def _write(path: Path, cert: x509.Certificate) -> Path:
    from cryptography.hazmat.primitives.serialization import Encoding

    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def test_authority_profiles_as_openssl_reads_them(open_pki: Callable[..., Pki]) -> None:
    pki = open_pki()
    d = pki.directory

    root = _x509_text(d / "root.pem")
    assert "CA:TRUE" in root and "Basic Constraints: critical" in root
    assert "Key Usage: critical" in root and "Certificate Sign, CRL Sign" in root
    assert "Subject Key Identifier" in root

    issuing = _x509_text(d / "issuing.pem")
    assert "CA:TRUE, pathlen:0" in issuing and "Basic Constraints: critical" in issuing
    assert "Certificate Sign, CRL Sign" in issuing
    assert "Authority Key Identifier" in issuing and "Subject Key Identifier" in issuing

    tsa = _x509_text(d / "tsa.pem")
    assert "Public-Key: (2048 bit)" in tsa and "rsaEncryption" in tsa
    assert "Extended Key Usage: critical" in tsa and "Time Stamping" in tsa
    assert "Key Usage: critical" in tsa and "Digital Signature, Non Repudiation" in tsa
    assert "CA:FALSE" in tsa
    assert f"URI:{PUBLIC_URL}/pki/issuing.crl" in tsa
    assert f"OCSP - URI:{PUBLIC_URL}/pki/ocsp" in tsa

    verified = openssl(
        "verify",
        "-CAfile",
        str(d / "root.pem"),
        "-untrusted",
        str(d / "issuing.pem"),
        "-purpose",
        "timestampsign",
        str(d / "tsa.pem"),
    )
    assert verified.stdout.strip().endswith("OK")


def test_package_signing_certificate_profile(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki()
    cred = pki.package_signing_credential()
    leaf = _write(tmp_path / "leaf.pem", cred.cert)
    text = _x509_text(leaf)
    assert f"CN = {HOST}" in text
    assert f"DNS:{HOST}" in text
    assert "ASN1 OID: prime256v1" in text
    assert "Key Usage: critical" in text and "Digital Signature" in text
    assert "Certificate Sign" not in text and "CA:FALSE" in text
    assert f"URI:{PUBLIC_URL}/pki/issuing.crl" in text
    assert f"OCSP - URI:{PUBLIC_URL}/pki/ocsp" in text
    assert cred.cert.not_valid_after_utc - cred.cert.not_valid_before_utc == timedelta(days=7)

    d = pki.directory
    ok = openssl(
        "verify", "-CAfile", str(d / "root.pem"), "-untrusted", str(d / "issuing.pem"), str(leaf)
    )
    assert ok.stdout.strip().endswith("OK")
    # The purpose check is real: a package-signing certificate is no TSA certificate.
    refused = openssl(
        "verify",
        "-CAfile",
        str(d / "root.pem"),
        "-untrusted",
        str(d / "issuing.pem"),
        "-purpose",
        "timestampsign",
        str(leaf),
        check=False,
    )
    assert refused.returncode != 0

    # chain_pem: leaf, issuing, root -- the order WACZ verifiers walk.
    chain = load_pem_certificates(cred.chain_pem())
    assert chain == [cred.cert, pki.issuing, pki.root]
    assert cred.chain == (pki.issuing, pki.root)


def test_ip_host_gets_dns_and_ip_san(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki(hostname="127.0.0.1", public_url="http://127.0.0.1:8000")
    text = _x509_text(_write(tmp_path / "leaf.pem", pki.package_signing_credential().cert))
    assert "DNS:127.0.0.1" in text and "IP Address:127.0.0.1" in text


def test_every_key_is_encrypted_and_private(open_pki: Callable[..., Pki]) -> None:
    pki = open_pki()
    pki.package_signing_credential()
    keys = sorted(pki.directory.rglob("*.key.pem"))
    assert {k.name for k in keys} >= {"root.key.pem", "issuing.key.pem"}
    tsa_serial = pki.tsa_credential().cert.serial_number
    assert pki.directory / "tsa" / f"{tsa_serial:x}.key.pem" in keys
    # root, issuing, TSA, OCSP responder, package signing
    assert len(keys) == 5
    assert len(list((pki.directory / "ocsp").glob("*.key.pem"))) == 1
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        bad = openssl("pkey", "-in", str(key), "-passin", "pass:wrong", "-noout", check=False)
        assert bad.returncode != 0
        openssl("pkey", "-in", str(key), "-passin", f"pass:{PASSPHRASE.decode()}", "-noout")


def test_reopening_keeps_the_pki_and_checks_the_passphrase(
    open_pki: Callable[..., Pki],
) -> None:
    first = open_pki()
    before = {p: p.read_bytes() for p in first.directory.glob("*.pem")}
    again = open_pki()
    assert again.root_fingerprint_sha256 == first.root_fingerprint_sha256
    assert {p: p.read_bytes() for p in first.directory.glob("*.pem")} == before
    with pytest.raises(WrongPassphraseError):
        open_pki(passphrase=b"wrong passphrase")


_RACE = """
import json, sys, time
from pathlib import Path
from certs.pki import Pki
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
pki = Pki.open(Path(sys.argv[1]), b"pw", hostname="race.example", public_url="http://x")
cred = pki.package_signing_credential()
print(json.dumps({"root": pki.root_fingerprint_sha256, "signing": cred.cert.serial_number}))
"""


def test_processes_opening_a_fresh_folder_at_once_share_one_pki(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    start = time.time() + 2.0  # all processes are running when the gate opens
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(directory), str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert len({r["root"] for r in results}) == 1
    assert len({r["signing"] for r in results}) == 1
    roots = load_pem_certificates((directory / "root.pem").read_bytes())
    assert len(roots) == 1 and fingerprint_sha256(roots[0]) == results[0]["root"]
    signing = [p for p in (directory / "signing").glob("*.pem") if not p.name.endswith(".key.pem")]
    assert len(signing) == 1
    assert not list(directory.rglob("*.tmp"))


def test_rotation_with_injected_clock_keeps_old_certificates(tmp_path: Path) -> None:
    now = [datetime.now(UTC)]
    directory = tmp_path / "pki"

    def clock() -> datetime:
        return now[0]

    pki = Pki.open(
        directory,
        PASSPHRASE,
        hostname=HOST,
        public_url=PUBLIC_URL,
        clock=clock,
        signing_cert_rotate_hours=48,
    )
    first = pki.package_signing_credential()
    now[0] += timedelta(hours=47)
    assert pki.package_signing_credential().cert == first.cert

    now[0] += timedelta(hours=2)  # 49 h: older than the rotation age
    second = pki.package_signing_credential()
    assert second.cert.serial_number != first.cert.serial_number
    assert second.cert.not_valid_before_utc > first.cert.not_valid_before_utc
    assert now[0] - second.cert.not_valid_before_utc < timedelta(minutes=5)

    # Another process (another Pki object) picks the rotated certificate, no third one.
    other = Pki.open(directory, PASSPHRASE, hostname=HOST, public_url=PUBLIC_URL, clock=clock)
    assert other.package_signing_credential().cert == second.cert

    bundle = pki.trust_bundle_pem()
    certs = load_pem_certificates(bundle)
    assert certs[:4] == [
        pki.root,
        pki.issuing,
        pki.tsa_credential().cert,
        pki.ocsp_credential().cert,
    ]
    assert first.cert in certs and second.cert in certs and len(certs) == 6
    assert bundle.count(b"# Package-signing certificate") == 2
    assert f"SHA-256: {pki.root_fingerprint_sha256}".encode() in bundle
    # Old keys stay on disk: what they signed stays verifiable and attributable.
    assert len(list((directory / "signing").glob("*.key.pem"))) == 2

    # The explicit ``now`` argument works the same way.
    third = pki.package_signing_credential(now[0] + timedelta(hours=49))
    assert third.cert not in (first.cert, second.cert)


def test_a_new_host_name_gets_its_own_certificate(open_pki: Callable[..., Pki]) -> None:
    old = open_pki().package_signing_credential()
    new = open_pki(hostname="new.example.org").package_signing_credential()
    assert new.cert != old.cert
    cn = new.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "new.example.org"


def test_trust_bundle_verifies_with_openssl(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki()
    leaf = _write(tmp_path / "leaf.pem", pki.package_signing_credential().cert)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.trust_bundle_pem())
    root = _write(tmp_path / "root.pem", pki.root)
    ok = openssl("verify", "-CAfile", str(root), "-untrusted", str(bundle), str(leaf))
    assert ok.stdout.strip().endswith("OK")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signing_cert_rotate_hours": 7 * 24}, "too long"),
        ({"signing_cert_days": 2, "signing_cert_rotate_hours": 48}, "too long"),
        ({"signing_cert_rotate_hours": 0}, "positive"),
        ({"hostname": "bad host"}, "invalid host"),
        ({"public_url": "ftp://x"}, "http"),
    ],
)
def test_settings_that_would_produce_unverifiable_signatures_are_refused(
    open_pki: Callable[..., Pki], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(PkiConfigError, match=message):
        open_pki(**kwargs)
