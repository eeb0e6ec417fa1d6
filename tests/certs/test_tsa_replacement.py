"""The built-in TSA stops stamping with a revoked or expiring certificate: a new key and
certificate take over, in this process and in every other one on the same PKI folder, and
tokens made before stay verifiable with the trust bundle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from certs.pki import TSA_RECHECK, TSA_RENEW_BEFORE, Pki, load_pem_certificates
from signing.timestamp import LocalTimestamper, verify_timestamp
from signing.tsa import TimeStampAuthority
from tests.certs.conftest import openssl


def _stamp(pki: Pki, data: bytes, clock: Callable[[], datetime] | None = None) -> bytes:
    """A token from the PKI's current TSA (asked at each stamp, as the service does)."""
    tick = clock or (lambda: datetime.now(UTC))
    timestamper = LocalTimestamper(lambda: TimeStampAuthority(pki.tsa_credential(), clock=tick))
    return timestamper.stamp(data).token_der


def _bundle_certs(pki: Pki) -> set[int]:
    return {c.serial_number for c in load_pem_certificates(pki.trust_bundle_pem())}


def test_revoked_tsa_certificate_is_replaced_at_once(
    open_pki: Callable[..., Pki], tmp_path: Path
) -> None:
    pki = open_pki()
    old = pki.tsa_credential().cert
    before = _stamp(pki, b"stamped before the revocation")

    pki.revoke(old.serial_number, "keyCompromise")
    new = pki.tsa_credential().cert
    assert new.serial_number != old.serial_number
    new.verify_directly_issued_by(pki.issuing)
    ext = new.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert ext.critical and list(ext.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]

    after = _stamp(pki, b"stamped after the revocation")
    bundle = pki.trust_bundle_pem()
    assert verify_timestamp(after, b"stamped after the revocation", bundle).certificates[0] == new
    # The old certificate stays published: the earlier token still names and chains to it.
    assert {old.serial_number, new.serial_number} <= _bundle_certs(pki)
    assert verify_timestamp(before, b"stamped before the revocation", bundle)
    kinds = {r.serial: r.status for r in pki.registry.entries(kind="tsa")}
    assert kinds == {old.serial_number: "revoked", new.serial_number: "good"}

    # openssl, which knows nothing of our code, accepts the new TSA's token.
    (tmp_path / "data").write_bytes(b"stamped after the revocation")
    (tmp_path / "t.tsr").write_bytes(after)
    (tmp_path / "bundle.pem").write_bytes(bundle)
    openssl(
        "ts", "-verify", "-data", str(tmp_path / "data"), "-in", str(tmp_path / "t.tsr"),
        "-token_in", "-CAfile", str(tmp_path / "bundle.pem"),
        "-untrusted", str(tmp_path / "bundle.pem"),
    )  # fmt: skip


def test_reopened_pki_and_other_processes_use_the_new_tsa(open_pki: Callable[..., Pki]) -> None:
    now = [datetime.now(UTC)]
    a = open_pki()
    b = open_pki(clock=lambda: now[0])
    old = b.tsa_credential().cert
    a.revoke(old.serial_number, "keyCompromise")
    replaced = a.tsa_credential().cert

    now[0] += TSA_RECHECK + timedelta(seconds=1)  # b looks at the register again
    assert b.tsa_credential().cert == replaced  # taken over, not replaced a second time
    assert len(b.registry.entries(kind="tsa")) == 2
    reopened = open_pki()
    credential = reopened.tsa_credential()
    assert credential.cert == replaced
    assert _stamp(reopened, b"x")  # its key was found and decrypts


def test_tsa_certificate_near_expiry_hands_over(open_pki: Callable[..., Pki]) -> None:
    first = open_pki().tsa_credential().cert
    late = first.not_valid_after_utc - TSA_RENEW_BEFORE + timedelta(days=1)
    pki = open_pki(clock=lambda: late)
    new = pki.tsa_credential().cert
    assert new.serial_number != first.serial_number
    assert new.not_valid_before_utc <= late < new.not_valid_after_utc - TSA_RENEW_BEFORE
    token = _stamp(pki, b"late", clock=lambda: late)
    assert verify_timestamp(token, b"late", pki.trust_bundle_pem()).certificates[0] == new


def test_the_service_s_timestamper_follows_the_replacement(tmp_path: Path) -> None:
    from evidence_service.config import Settings
    from evidence_service.services import Services

    services = Services(Settings(data_dir=tmp_path / "data", key_passphrase="p" * 20))
    timestamper = services.timestampers[0]
    old = timestamper.stamp(b"one").certificates[0]
    assert services.tsa.credential.cert == old
    services.pki.revoke(old.serial_number, "keyCompromise")
    new = timestamper.stamp(b"two").certificates[0]
    assert new != old and services.tsa.credential.cert == new


def test_a_pki_from_before_replacement_keeps_working(open_pki: Callable[..., Pki]) -> None:
    """PKI folders made by earlier versions keep the TSA key in ``tsa.key.pem``."""
    pki = open_pki()
    cert = pki.tsa_credential().cert
    name = f"{cert.serial_number:x}"
    (pki.directory / "tsa" / f"{name}.key.pem").rename(pki.directory / "tsa.key.pem")
    (pki.directory / "tsa" / f"{name}.pem").unlink()

    old_layout = open_pki()
    assert old_layout.tsa_credential().cert == cert
    assert _stamp(old_layout, b"old layout")
    old_layout.revoke(cert.serial_number, "superseded")
    new = old_layout.tsa_credential().cert
    assert (old_layout.directory / "tsa" / f"{new.serial_number:x}.key.pem").exists()
    assert (old_layout.directory / "tsa" / f"{name}.pem").exists()  # the old one kept
    assert {cert.serial_number, new.serial_number} <= _bundle_certs(old_layout)
