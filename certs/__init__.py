"""The service's own PKI: root CA, issuing CA, TSA certificate and rotating package-signing
certificates, with every private key encrypted at rest. Imports nothing of ours."""

from .errors import (
    CertificateFileError,
    CertsError,
    KeyFileError,
    PkiConfigError,
    PkiLockError,
    WrongPassphraseError,
)
from .keys import load_private_key, save_private_key
from .pki import Credential, Pki, fingerprint_sha256, load_pem_certificates

__all__ = [
    "CertificateFileError",
    "CertsError",
    "Credential",
    "KeyFileError",
    "Pki",
    "PkiConfigError",
    "PkiLockError",
    "WrongPassphraseError",
    "fingerprint_sha256",
    "load_pem_certificates",
    "load_private_key",
    "save_private_key",
]
