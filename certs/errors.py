"""Errors of the built-in PKI. Messages say what failed and what to do; never a secret."""

from __future__ import annotations


class CertsError(Exception):
    """Base class of every error raised by ``certs``."""


class WrongPassphraseError(CertsError):
    """A private key file could not be decrypted with the configured passphrase."""


class KeyFileError(CertsError):
    """A private key file is missing, unreadable or not an encrypted PKCS#8 PEM key."""


class CertificateFileError(CertsError):
    """A certificate file of the PKI folder is missing or corrupt."""


class PkiConfigError(CertsError):
    """The PKI was opened with settings that cannot produce verifiable signatures."""


class PkiLockError(CertsError):
    """The PKI folder's lock could not be taken (another process holds it too long)."""
