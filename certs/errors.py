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


class SubjectError(CertsError, ValueError):
    """The subject given for a new certificate is incomplete or cannot be encoded."""


class UnknownCertificateError(CertsError, LookupError):
    """No certificate with that serial number (or name) was issued by this PKI."""


class AmbiguousCertificateError(CertsError, LookupError):
    """A name matches certificates of several holders; use the serial number."""


class CertificateRevokedError(CertsError):
    """The certificate is revoked (or expired) and must not be used to sign."""


class AlreadyRevokedError(CertsError):
    """A revocation was asked for a certificate that is already revoked."""


class RevocationReasonError(CertsError, ValueError):
    """The revocation reason is not one RFC 5280 defines for this kind of certificate."""


class OcspRequestError(CertsError, ValueError):
    """An OCSP request could not be parsed (answered with ``malformedRequest``)."""


class HsmError(CertsError):
    """The PKCS#11 module, token or key could not be used."""


class HsmPinError(HsmError):
    """The token PIN is missing from its environment variable, wrong, or locked."""
