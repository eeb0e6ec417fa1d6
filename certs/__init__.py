"""The service's own PKI: root CA, issuing CA, TSA, OCSP responder, rotating package-signing
certificates and the signing certificates of units, officers and merchants, with a register,
CRLs and OCSP, every private key encrypted at rest or kept in an HSM. Imports nothing of ours."""

from .errors import (
    AlreadyRevokedError,
    AmbiguousCertificateError,
    CertificateFileError,
    CertificateRevokedError,
    CertsError,
    HsmError,
    HsmPinError,
    KeyFileError,
    OcspRequestError,
    PkiConfigError,
    PkiLockError,
    RevocationReasonError,
    SubjectError,
    UnknownCertificateError,
    WrongPassphraseError,
)
from .hsm import HsmKeyRef
from .keys import load_private_key, save_private_key
from .pki import Credential, HsmCredential, Pki, fingerprint_sha256, load_pem_certificates
from .profiles import KEY_TYPES, KeyType
from .registry import IssuedCertificate
from .revocation import REVOCATION_REASONS
from .subjects import SIGNER_KINDS, SignerKind, SubjectInfo, check_credit_code

__all__ = [
    "KEY_TYPES",
    "REVOCATION_REASONS",
    "SIGNER_KINDS",
    "AlreadyRevokedError",
    "AmbiguousCertificateError",
    "CertificateFileError",
    "CertificateRevokedError",
    "CertsError",
    "Credential",
    "HsmCredential",
    "HsmError",
    "HsmKeyRef",
    "HsmPinError",
    "IssuedCertificate",
    "KeyFileError",
    "KeyType",
    "OcspRequestError",
    "Pki",
    "PkiConfigError",
    "PkiLockError",
    "RevocationReasonError",
    "SignerKind",
    "SubjectError",
    "SubjectInfo",
    "UnknownCertificateError",
    "WrongPassphraseError",
    "check_credit_code",
    "fingerprint_sha256",
    "load_pem_certificates",
    "load_private_key",
    "save_private_key",
]
