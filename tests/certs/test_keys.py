"""Private keys at rest: encrypted PKCS#8 that openssl opens only with the passphrase."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs.errors import KeyFileError, WrongPassphraseError
from certs.keys import load_private_key, save_private_key
from tests.certs.conftest import openssl

PASS = b"s3cret passphrase"


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    "key",
    [ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)],
    ids=["ec", "rsa"],
)
def test_key_file_is_encrypted_pkcs8_openssl_needs_the_passphrase(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "k.pem"
    save_private_key(path, key, PASS)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "BEGIN PRIVATE KEY" not in text

    wrong = openssl("pkey", "-in", str(path), "-passin", "pass:wrong", "-noout", check=False)
    assert wrong.returncode != 0
    right = openssl("pkey", "-in", str(path), "-passin", f"pass:{PASS.decode()}", "-pubout")
    assert right.stdout == _public_pem(key)
    # openssl sees PBES2 (PKCS#5 v2) encryption, not a legacy PEM cipher.
    parsed = openssl("asn1parse", "-in", str(path))
    assert "PBES2" in parsed.stdout


def test_round_trip_and_no_temporary_files_left(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "k.pem"
    save_private_key(path, key, PASS)
    save_private_key(path, key, PASS)  # overwrite keeps mode and leaves no temp file
    loaded = load_private_key(path, PASS)
    assert _public_pem(loaded) == _public_pem(key)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_passphrase_is_reported_clearly(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    save_private_key(path, ec.generate_private_key(ec.SECP256R1()), PASS)
    with pytest.raises(WrongPassphraseError) as info:
        load_private_key(path, b"not it")
    message = str(info.value)
    assert "passphrase is wrong" in message and str(path) in message
    assert "not it" not in message and PASS.decode() not in message


def test_missing_corrupt_and_unencrypted_files_are_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_private_key(tmp_path / "missing.pem", PASS)

    path = tmp_path / "k.pem"
    save_private_key(path, ec.generate_private_key(ec.SECP256R1()), PASS)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1][:20], lines[-1]]) + "\n")
    with pytest.raises(KeyFileError):
        load_private_key(path, PASS)

    plain = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(plain)
    with pytest.raises(KeyFileError, match="not an encrypted PKCS#8"):
        load_private_key(path, PASS)


def test_refuses_to_write_a_key_without_passphrase(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        save_private_key(tmp_path / "k.pem", ec.generate_private_key(ec.SECP256R1()), b"")
    assert not (tmp_path / "k.pem").exists()
