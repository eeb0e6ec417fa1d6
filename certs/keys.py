"""Private keys at rest: encrypted PKCS#8 PEM, owner-only, never half-written.

Why PKCS#8 with ``BestAvailableEncryption``: any tool (``openssl pkey``, pyHanko, a court's
expert) can open it with the passphrase, and nothing readable is ever on disk. cryptography
currently writes PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC); the passphrase is what protects the
key, so it must be a long random secret.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from .errors import KeyFileError, WrongPassphraseError

__all__ = ["atomic_write", "load_private_key", "save_private_key"]


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    The temporary file is created in the target folder (same file system, so ``rename`` is
    atomic) with its final mode from the start, fsynced, renamed, and the folder fsynced so
    the rename survives a power loss.
    """
    path = Path(path)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_private_key(path: Path, key: PrivateKeyTypes, passphrase: bytes) -> None:
    """Store ``key`` encrypted with ``passphrase`` (mode 0600, atomic)."""
    if not passphrase:
        raise KeyFileError(
            f"refusing to write {path} without a passphrase: private keys are always "
            "encrypted at rest (set the key passphrase)"
        )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    atomic_write(Path(path), pem, mode=0o600)


def load_private_key(path: Path, passphrase: bytes) -> PrivateKeyTypes:
    """Read and decrypt a key written by :func:`save_private_key`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"private key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read private key file {path}: {exc.strerror}") from None
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        raise KeyFileError(
            f"{path} is not an encrypted PKCS#8 PEM private key (corrupt or replaced file); "
            "restore it from backup"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except ValueError as exc:
        if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise WrongPassphraseError(
                f"cannot decrypt {path}: the key passphrase is wrong (or the file is damaged). "
                "Use the passphrase the PKI was created with."
            ) from None
        raise KeyFileError(
            f"{path} is corrupt and cannot be parsed as a private key; restore it from backup"
        ) from None
    except TypeError:
        raise WrongPassphraseError(f"cannot decrypt {path}: no key passphrase was given") from None
    return key
