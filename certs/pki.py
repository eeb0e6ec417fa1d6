"""The service's own small PKI: a root CA, an issuing CA, the TSA certificate, rotating
package-signing certificates, a delegated OCSP responder, and the signing certificates of
enforcement units, officers and merchants -- all in one folder with every private key
encrypted (or kept in an HSM), with a register of what was issued and revoked.

Folder layout (everything a court needs to check our signatures is in ``trust_bundle_pem``)::

    root.pem        root.key.pem          self-signed trust anchor
    issuing.pem     issuing.key.pem       issues everything below
    tsa.pem                               the built-in RFC 3161 time-stamp authority now
    tsa/<serial>.pem (+ .key.pem)         every TSA certificate; a revoked or expiring one
                                          is replaced (older PKIs: tsa.key.pem)
    signing/<notBefore>-<serial>.pem (+ .key.pem)   package-signing certificates, never deleted
    ocsp/<notBefore>-<serial>.pem (+ .key.pem)      OCSP responder certificates, rotated
    issued/<serial>.pem (+ .key.pem for software keys)   unit, officer, merchant certificates
    registry.sqlite3                       register of every certificate below the root
    crl/issuing.crl, crl/root.crl          current CRLs (DER), remade when stale or after a
                                           revocation
    .lock                                  serializes creation, issuance, revocation and CRLs

A certificate file is written only after its key file, and each file is renamed into place
when complete, so a process killed half-way leaves at worst an unused key that the next run
replaces; it never leaves a certificate without its key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)

from . import hsm, profiles
from .errors import (
    AmbiguousCertificateError,
    CertificateFileError,
    CertificateRevokedError,
    CertsError,
    KeyFileError,
    PkiConfigError,
    PkiLockError,
    RevocationReasonError,
    SubjectError,
    UnknownCertificateError,
)
from .hsm import HsmKeyRef
from .keys import atomic_write, load_private_key, save_private_key
from .locking import exclusive_lock
from .profiles import common_name, dns_names
from .registry import (
    CertificateKind,
    IssuedCertificate,
    IssuerName,
    NewEntry,
    Registry,
    format_serial,
    parse_serial,
)
from .revocation import (
    CertStatus,
    CrlEntry,
    IssuerHashes,
    OcspRequestError,
    build_crl,
    build_ocsp_response,
    check_reason,
    ocsp_error,
    parse_ocsp_request,
)
from .subjects import SIGNER_KINDS, SignerKind, SubjectInfo, subject_name

log = logging.getLogger(__name__)
#: The log key is asked for on every tree head and every request for the trust bundle; loading
#: it means decrypting it, so it is kept per PKI folder (shared by every Pki on that folder).
_LOG_CREDENTIALS: dict[str, Credential] = {}
_LOG_CREDENTIALS_LOCK = threading.Lock()

__all__ = [
    "Credential",
    "HsmCredential",
    "Pki",
    "fingerprint_sha256",
    "load_pem_certificates",
]

ROOT_DAYS = 25 * 365
ISSUING_DAYS = 15 * 365
TSA_DAYS = 10 * 365
#: The built-in TSA hands over to a new key and certificate this long before its certificate
#: expires: a token is only as good as its TSA certificate, and courts look at tokens for years.
TSA_RENEW_BEFORE = timedelta(days=365)
#: How long :meth:`Pki.tsa_credential` trusts its last look at the register (a revocation made
#: by another process, e.g. `evidence certs revoke`, takes effect within this time).
TSA_RECHECK = timedelta(seconds=5)
#: The transparency log's tree-head signing certificate (never beyond the issuing CA's end),
#: renewed for the same key this long before it expires. Its files: ``translog.pem`` and
#: ``translog.key.pem`` in the PKI folder; replaced certificates stay as ``translog-<serial>.pem``
#: because older tree heads name them.
LOG_CERT_DAYS = 10 * 365
LOG_CERT_RENEW_BEFORE = timedelta(days=90)
LOG_KEY_NAME = "translog"
#: Existing WACZ verifiers (authsign, wacz-signing) accept a signature only this long after
#: the signing certificate's notBefore.
VERIFIER_WINDOW = timedelta(days=7)

#: Default validity of document signer certificates, by kind (``issue(days=...)`` overrides).
SIGNER_DAYS: dict[str, int] = {"unit": 3 * 365, "officer": 2 * 365, "merchant": 365}
MAX_SIGNER_DAYS = 5 * 365
#: The OCSP responder cannot be revoked in any useful way (id-pkix-ocsp-nocheck), so it is
#: short-lived and replaced well before it expires.
OCSP_RESPONDER_LIFETIME = timedelta(days=90)
OCSP_ROTATE_AFTER = timedelta(days=30)
#: nextUpdate of OCSP answers and CRLs. CRLs are re-signed when older than CRL_REFRESH or
#: right after a revocation, so a relying party never waits the whole validity for news.
OCSP_VALIDITY = timedelta(days=1)
CRL_VALIDITY = timedelta(days=3)
CRL_REFRESH = timedelta(hours=1)
#: A revocation may be dated back (when the key was known to be compromised), never ahead.
_FUTURE_TOLERANCE = timedelta(minutes=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Lowercase hex SHA-256 of the DER certificate (the form ``wacz-signing`` compares)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, in order; text between blocks is ignored."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return []
    return x509.load_pem_x509_certificates(data)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class _CertificateChain:
    """What a credential's certificate and issuers give, wherever its private key lives."""

    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    def chain_pem(self) -> bytes:
        """Leaf first, then its issuers, root last: the order WACZ verifiers walk."""
        return b"".join(_pem(c) for c in (self.cert, *self.chain))

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1] if self.chain else self.cert


@dataclass(frozen=True)
class Credential(_CertificateChain):
    """A private key with its certificate and the issuers up to and including the root."""

    key: PrivateKeyTypes
    cert: x509.Certificate
    #: Issuers, the leaf's issuer first, the root last (root included).
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class HsmCredential(_CertificateChain):
    """A certificate whose private key stays in an HSM: sign through PKCS#11 (see
    ``signing.signers.pdf_signer``), the PIN coming from ``ref.pin_env`` at that moment."""

    ref: HsmKeyRef
    cert: x509.Certificate
    #: Issuers, the leaf's issuer first, the root last (root included).
    chain: tuple[x509.Certificate, ...]


class Pki:
    """Open with :meth:`open`; thread-safe, and safe to use from several processes at once."""

    def __init__(
        self,
        directory: Path,
        passphrase: bytes,
        *,
        hostname: str,
        urls: profiles.PkiUrls,
        signing_lifetime: timedelta,
        rotate_after: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        """Use :meth:`open`; this constructor does no I/O."""
        self.directory = directory
        self._passphrase = passphrase
        self.hostname = hostname
        self.urls = urls
        self.signing_lifetime = signing_lifetime
        self.rotate_after = rotate_after
        self._clock = clock
        self._mutex = threading.RLock()
        self._keys: dict[str, PrivateKeyTypes] = {}
        self._signing: Credential | None = None
        self._ocsp: Credential | None = None
        self.registry = Registry(directory / "registry.sqlite3")
        self.root: x509.Certificate
        self.issuing: x509.Certificate
        self._tsa: Credential
        self._tsa_checked: datetime | None = None
        self._issuing_hashes: IssuerHashes

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        passphrase: bytes,
        *,
        hostname: str,
        public_url: str,
        signing_cert_days: int = 7,
        signing_cert_rotate_hours: float = 48,
        clock: Callable[[], datetime] = _utc_now,
    ) -> Pki:
        """Load the PKI in ``directory``, creating whatever is missing (first run).

        Raises :class:`WrongPassphraseError` at once if ``passphrase`` does not open the keys,
        rather than at the first signature.
        """
        if not hostname or any(c.isspace() for c in hostname) or "/" in hostname:
            raise PkiConfigError(f"invalid host name for the signing certificate: {hostname!r}")
        if not public_url.startswith(("http://", "https://")):
            raise PkiConfigError(
                f"public URL {public_url!r} must start with http:// or https:// (it is put in "
                "certificates as the CRL and OCSP location)"
            )
        if signing_cert_days < 1:
            raise PkiConfigError("signing_cert_days must be at least 1")
        rotate_after = timedelta(hours=signing_cert_rotate_hours)
        lifetime = timedelta(days=signing_cert_days)
        if rotate_after <= timedelta(0):
            raise PkiConfigError("signing_cert_rotate_hours must be positive")
        if rotate_after >= min(lifetime, VERIFIER_WINDOW) - timedelta(hours=1):
            raise PkiConfigError(
                f"signing_cert_rotate_hours={signing_cert_rotate_hours:g} is too long: signing "
                f"certificates must be replaced well before they expire ({signing_cert_days} "
                "days) and within 7 days of their start, the window WACZ verifiers accept"
            )
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in ("signing", "ocsp", "issued", "crl", "tsa"):
            (directory / sub).mkdir(exist_ok=True, mode=0o700)
        pki = cls(
            directory,
            passphrase,
            hostname=hostname,
            urls=profiles.PkiUrls.under(public_url),
            signing_lifetime=lifetime,
            rotate_after=rotate_after,
            clock=clock,
        )
        with exclusive_lock(directory / ".lock"):
            pki._ensure_authorities()
        return pki

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise PkiConfigError("the PKI clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    def _path(self, name: str) -> Path:
        return self.directory / name

    def _read_cert(self, path: Path) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError:
            raise CertificateFileError(f"certificate file {path} is missing") from None
        except ValueError:
            raise CertificateFileError(
                f"certificate file {path} is corrupt; restore the PKI folder from backup"
            ) from None

    def _key(self, name: str, cert: x509.Certificate) -> PrivateKeyTypes:
        """Decrypt ``<name>.key.pem`` once and check it belongs to ``cert``."""
        with self._mutex:
            if name not in self._keys:
                key = load_private_key(self._path(f"{name}.key.pem"), self._passphrase)
                if _public_der(key) != cert.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                ):
                    raise KeyFileError(
                        f"{self._path(name + '.key.pem')} does not belong to the certificate "
                        f"{self._path(name + '.pem')}; the PKI folder was mixed up -- restore "
                        "it from backup"
                    )
                self._keys[name] = key
            return self._keys[name]

    def _issuer_key(self, name: str, cert: x509.Certificate) -> CertificateIssuerPrivateKeyTypes:
        key = self._key(name, cert)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyFileError(f"{name}.key.pem is not an RSA or EC key and cannot issue here")
        return key

    def _ensure_authorities(self) -> None:
        """Create the missing authorities in order root -> issuing -> TSA (under the lock)."""
        now = self._now()
        label = self.hostname
        root_path, issuing_path, tsa_path = (
            self._path(n) for n in ("root.pem", "issuing.pem", "tsa.pem")
        )
        if root_path.exists():
            self.root = self._read_cert(root_path)
        else:
            key = profiles.new_ca_key()
            save_private_key(self._path("root.key.pem"), key, self._passphrase)
            self.root = profiles.root_certificate(key, label=label, now=now, days=ROOT_DAYS)
            atomic_write(root_path, _pem(self.root))
            self._keys["root"] = key
        if issuing_path.exists():
            self.issuing = self._read_cert(issuing_path)
        else:
            key = profiles.new_ca_key()
            save_private_key(self._path("issuing.key.pem"), key, self._passphrase)
            self.issuing = profiles.issuing_certificate(
                key.public_key(),
                label=label,
                root=self.root,
                root_key=self._issuer_key("root", self.root),
                now=now,
                days=ISSUING_DAYS,
                urls=self.urls,
            )
            atomic_write(issuing_path, _pem(self.issuing))
            self._keys["issuing"] = key
        if tsa_path.exists():
            tsa_cert = self._read_cert(tsa_path)
        else:
            tsa_key, tsa_cert = self._new_tsa(now)
            name = self._tsa_key_name(tsa_cert)
            save_private_key(self._path(f"{name}.key.pem"), tsa_key, self._passphrase)
            atomic_write(self._path(f"{name}.pem"), _pem(tsa_cert))
            atomic_write(tsa_path, _pem(tsa_cert))
            self._keys[name] = tsa_key
        try:
            self.issuing.verify_directly_issued_by(self.root)
            tsa_cert.verify_directly_issued_by(self.issuing)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CertificateFileError(
                f"the certificates in {self.directory} do not chain (root -> issuing -> TSA): "
                f"{exc}; restore the PKI folder from backup"
            ) from None
        # Decrypting the TSA key now makes a wrong passphrase fail at start-up.
        self._tsa = self._tsa_from(tsa_cert)
        self._issuing_hashes = IssuerHashes.of(self.issuing)
        self.registry.initialize(self._existing_entries(tsa_cert))
        self._ensure_ocsp_responder(now)

    def _existing_entries(self, tsa_cert: x509.Certificate) -> Iterator[NewEntry]:
        """Certificates issued before the register existed (PKIs created by older versions),
        so that OCSP knows them and they can be revoked."""
        yield NewEntry(self.issuing, "root", "issuing-ca", None, "software", "issuing")
        yield NewEntry(tsa_cert, "issuing", "tsa", None, "software", self._tsa_key_name(tsa_cert))
        for cert in self.signing_certificates():
            yield NewEntry(
                cert, "issuing", "package-signing", None, "software", self._signing_name(cert)
            )
        for cert in self._ocsp_certificates():
            yield NewEntry(
                cert, "issuing", "ocsp-responder", None, "software", self._ocsp_name(cert)
            )

    # -- credentials ------------------------------------------------------------------------

    def tsa_credential(self) -> Credential:
        """The built-in TSA's key and certificate, replaced when they must not stamp any more.

        Why it changes: a TSA whose certificate was revoked (its key may be compromised) must
        stop stamping at once, and one whose certificate nears expiry must hand over before
        its tokens lose their anchor. Either way a new key and certificate are made and
        ``tsa.pem`` points at them; every TSA certificate stays under ``tsa/`` and in the trust
        bundle, so tokens made earlier stay verifiable. Another process may have replaced it
        first: under the lock ``tsa.pem`` is read again before deciding.
        """
        now = self._now()
        with self._mutex:
            checked = self._tsa_checked
            if checked is not None and timedelta(0) <= now - checked < TSA_RECHECK:
                return self._tsa
            self._adopt_tsa_file()
            if not self._tsa_usable(self._tsa.cert, now):
                with exclusive_lock(self.directory / ".lock"):
                    self._adopt_tsa_file()
                    if not self._tsa_usable(self._tsa.cert, now):
                        self._replace_tsa(now)
            self._tsa_checked = now
            return self._tsa

    def _adopt_tsa_file(self) -> None:
        """Follow ``tsa.pem`` if another process pointed it at a new certificate (an
        unreadable file is left to the next start-up, which reports it)."""
        try:
            current = self._read_cert(self._path("tsa.pem"))
        except CertificateFileError:
            return
        if current != self._tsa.cert:
            self._tsa = self._tsa_from(current)

    def _tsa_usable(self, cert: x509.Certificate, now: datetime) -> bool:
        if now + TSA_RENEW_BEFORE >= cert.not_valid_after_utc:
            return False
        return self.registry.status(cert.serial_number, "issuing")[0] != "revoked"

    @staticmethod
    def _tsa_key_name(cert: x509.Certificate) -> str:
        return f"tsa/{cert.serial_number:x}"

    def _tsa_from(self, cert: x509.Certificate) -> Credential:
        """The credential of TSA certificate ``cert``: its key is ``tsa/<serial>.key.pem``
        (``tsa.key.pem`` for the first TSA of a PKI made before replacement existed)."""
        name = self._tsa_key_name(cert)
        if not self._path(f"{name}.key.pem").exists():
            name = "tsa"
        return Credential(self._key(name, cert), cert, (self.issuing, self.root))

    def _replace_tsa(self, now: datetime) -> None:
        """Issue a new TSA key and certificate and point ``tsa.pem`` at them (under the lock).

        The pair is written complete under ``tsa/`` before ``tsa.pem`` is replaced atomically,
        so a crash at any point leaves a certificate whose key is found."""
        old = self._tsa.cert
        archived = self._path(f"{self._tsa_key_name(old)}.pem")
        if not archived.exists():
            atomic_write(archived, _pem(old))
        key, cert = self._new_tsa(now)
        self._keep_issued(self._tsa_key_name(cert), key, cert, "tsa")
        atomic_write(self._path("tsa.pem"), _pem(cert))
        self._tsa = Credential(key, cert, (self.issuing, self.root))
        log.info(
            "replaced the TSA certificate %x (revoked or near expiry) by %x",
            old.serial_number,
            cert.serial_number,
        )

    def _new_tsa(self, now: datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key = profiles.new_tsa_key()
        cert = profiles.tsa_certificate(
            key.public_key(),
            label=self.hostname,
            issuer=self.issuing,
            issuer_key=self._issuer_key("issuing", self.issuing),
            urls=self.urls,
            now=now,
            days=TSA_DAYS,
        )
        return key, cert

    def _keep_issued(
        self, name: str, key: PrivateKeyTypes, cert: x509.Certificate, kind: CertificateKind
    ) -> None:
        """Store a certificate the service issued to itself (under the lock): key file first,
        then the register entry, then the certificate file (see the module docstring)."""
        save_private_key(self._path(f"{name}.key.pem"), key, self._passphrase)
        self.registry.add(NewEntry(cert, "issuing", kind, None, "software", name))
        atomic_write(self._path(f"{name}.pem"), _pem(cert))
        self._keys[name] = key

    def _certificates_in(self, folder: str) -> list[x509.Certificate]:
        """The certificates in ``folder`` (not their keys), oldest first."""
        certs = [
            self._read_cert(p)
            for p in (self.directory / folder).glob("*.pem")
            if not p.name.endswith(".key.pem")
        ]
        return sorted(certs, key=lambda c: (c.not_valid_before_utc, c.serial_number))

    def tsa_certificates(self) -> list[x509.Certificate]:
        """Every certificate the built-in TSA has had, oldest first (tokens name any of them)."""
        found = {c.serial_number: c for c in self._certificates_in("tsa")}
        found.setdefault(self._tsa.cert.serial_number, self._tsa.cert)
        return sorted(found.values(), key=lambda c: (c.not_valid_before_utc, c.serial_number))

    def issuing_credential(self) -> Credential:
        """The issuing CA with its key (for CRL and OCSP signing)."""
        return Credential(self._key("issuing", self.issuing), self.issuing, (self.root,))

    def issue_log_certificate(
        self, public_key: ec.EllipticCurvePublicKey, now: datetime | None = None
    ) -> x509.Certificate:
        """A certificate for the transparency log's key (see :func:`profiles.log_certificate`),
        valid ``LOG_CERT_DAYS`` but never beyond the issuing CA. Nothing is written here or added
        to the register (:meth:`log_credential` keeps the files)."""
        return profiles.log_certificate(
            public_key,
            label=self.hostname,
            issuer=self.issuing,
            issuer_key=self._issuer_key("issuing", self.issuing),
            now=self._aware(now),
            days=LOG_CERT_DAYS,
        )

    def log_credential(self, now: datetime | None = None) -> Credential:
        """The transparency log's key with its certificate: the key is made on first use and
        never changes (the log's id is its hash); the certificate is renewed for the same key
        ``LOG_CERT_RENEW_BEFORE`` its end, the old one kept."""
        now = self._aware(now)
        cache_key = str(self.directory)
        with _LOG_CREDENTIALS_LOCK:
            cached = _LOG_CREDENTIALS.get(cache_key)
        if cached is not None and now + LOG_CERT_RENEW_BEFORE < cached.cert.not_valid_after_utc:
            return cached
        cert_path = self._path(f"{LOG_KEY_NAME}.pem")
        key_path = self._path(f"{LOG_KEY_NAME}.key.pem")
        with exclusive_lock(self._path(".lock")):
            key = load_private_key(key_path, self._passphrase) if key_path.exists() else None
            cert = None
            if key is not None and cert_path.exists():
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if key is None:
                key = ec.generate_private_key(ec.SECP256R1())
                save_private_key(key_path, key, self._passphrase)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise KeyFileError(f"{key_path} is not an ECDSA key; restore the PKI folder")
            if cert is None or now + LOG_CERT_RENEW_BEFORE >= cert.not_valid_after_utc:
                if cert is not None:
                    old = self._path(f"{LOG_KEY_NAME}-{cert.serial_number:x}.pem")
                    atomic_write(old, _pem(cert))
                cert = self.issue_log_certificate(key.public_key(), now)
                atomic_write(cert_path, _pem(cert))
            if _public_der(key) != cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ):
                raise CertificateFileError(
                    f"{cert_path} does not belong to {key_path}; restore the PKI folder from backup"
                )
        credential = Credential(key, cert, (self.issuing, self.root))
        with _LOG_CREDENTIALS_LOCK:
            _LOG_CREDENTIALS[cache_key] = credential
        return credential

    @property
    def root_fingerprint_sha256(self) -> str:
        """What a verifier pins (``CERT_ROOTS``/``TS_ROOTS`` of ``wacz-signing``)."""
        return fingerprint_sha256(self.root)

    def _usable(self, cert: x509.Certificate, now: datetime) -> bool:
        not_before = cert.not_valid_before_utc
        return (
            common_name(cert) == self.hostname
            and self.hostname in dns_names(cert)
            and not_before <= now
            and now - not_before < self.rotate_after
            and now < cert.not_valid_after_utc
        )

    def signing_certificates(self) -> list[x509.Certificate]:
        """Every package-signing certificate ever issued here, oldest first."""
        return self._certificates_in("signing")

    def package_signing_credential(self, now: datetime | None = None) -> Credential:
        """The current package-signing credential, rotated when older than the rotation age.

        Rotation keeps the old certificate (and key) on disk: packages it signed must stay
        verifiable, and the trust bundle lists it. Another process may rotate first; under the
        lock we pick the newest usable certificate before deciding to issue one.
        """
        if now is None:
            now = self._now()
        elif now.tzinfo is None:
            raise PkiConfigError("package_signing_credential(now=...) needs an aware datetime")
        now = now.astimezone(UTC)
        with self._mutex:
            current = self._signing
            if (
                current is not None
                and self._usable(current.cert, now)
                and self._good(current.cert.serial_number)
            ):
                return current
            with exclusive_lock(self.directory / ".lock"):
                revoked = self._revoked_serials()
                usable = [
                    c
                    for c in self.signing_certificates()
                    if self._usable(c, now) and c.serial_number not in revoked
                ]
                if usable:
                    cert = usable[-1]
                    name = self._signing_name(cert)
                else:
                    key = profiles.new_signing_key()
                    cert = profiles.signing_certificate(
                        key.public_key(),
                        hostname=self.hostname,
                        issuer=self.issuing,
                        issuer_key=self._issuer_key("issuing", self.issuing),
                        urls=self.urls,
                        now=now,
                        lifetime=self.signing_lifetime,
                    )
                    name = self._signing_name(cert)
                    self._keep_issued(name, key, cert, "package-signing")
                credential = Credential(self._key(name, cert), cert, (self.issuing, self.root))
            self._signing = credential
            return credential

    @staticmethod
    def _signing_name(cert: x509.Certificate) -> str:
        stamp = cert.not_valid_before_utc.strftime("%Y%m%dT%H%M%SZ")
        return f"signing/{stamp}-{cert.serial_number:x}"

    # -- publication ------------------------------------------------------------------------

    def trust_bundle_pem(self) -> bytes:
        """Root, issuing CA, TSA and every package-signing certificate, each labelled.

        The root is the only trust anchor; the others let a verifier build chains offline
        (for ``openssl verify``: ``-CAfile`` with the root, ``-untrusted`` with the rest).
        """
        entries: list[tuple[str, x509.Certificate]] = [
            ("Root CA (the trust anchor: pin its SHA-256 fingerprint)", self.root),
            ("Issuing CA", self.issuing),
        ]
        entries += [("Time-stamp authority (RFC 3161)", c) for c in self.tsa_certificates()]
        entries += [
            ("OCSP responder (RFC 6960 delegated responder, id-pkix-ocsp-nocheck)", c)
            for c in self._ocsp_certificates()
        ]
        entries += [("Package-signing certificate", c) for c in self.signing_certificates()]
        out = [
            f"# evidence-service trust bundle for {self.hostname}\n"
            f"# Generated {self._now():%Y-%m-%dT%H:%M:%SZ}\n\n".encode()
        ]
        for label, cert in entries:
            out.append(
                (
                    f"# {label}\n"
                    f"#   Subject: {cert.subject.rfc4514_string()}\n"
                    f"#   Issuer:  {cert.issuer.rfc4514_string()}\n"
                    f"#   Serial:  {cert.serial_number:x}\n"
                    f"#   Valid:   {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                    f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}\n"
                    f"#   SHA-256: {fingerprint_sha256(cert)}\n"
                ).encode()
            )
            out.append(_pem(cert) + b"\n")
        return b"".join(out)

    def export_bundle_pem(self) -> bytes:
        """The trust bundle plus the current CRLs (issuing and root) in PEM: everything a
        verifier needs for ``openssl verify -crl_check_all`` without reaching the service."""
        out = [self.trust_bundle_pem()]
        for which in ("issuing", "root"):
            crl = x509.load_der_x509_crl(self.crl_der(which))
            out.append(
                (
                    f"# CRL of the {'issuing CA' if which == 'issuing' else 'root CA'} "
                    f"(number {_crl_number(crl)})\n"
                    f"#   Issuer:      {crl.issuer.rfc4514_string()}\n"
                    f"#   This update: {crl.last_update_utc:%Y-%m-%dT%H:%M:%SZ}\n"
                    f"#   Next update: {_next_update(crl):%Y-%m-%dT%H:%M:%SZ}\n"
                    f"#   Revoked:     {len(crl)}\n"
                ).encode()
            )
            out.append(crl.public_bytes(serialization.Encoding.PEM) + b"\n")
        return b"".join(out)

    # -- OCSP responder certificate ------------------------------------------------------------

    @staticmethod
    def _ocsp_name(cert: x509.Certificate) -> str:
        stamp = cert.not_valid_before_utc.strftime("%Y%m%dT%H%M%SZ")
        return f"ocsp/{stamp}-{cert.serial_number:x}"

    def _ocsp_certificates(self) -> list[x509.Certificate]:
        return self._certificates_in("ocsp")

    def _ocsp_usable(self, cert: x509.Certificate, now: datetime, revoked: set[int]) -> bool:
        return (
            cert.not_valid_before_utc <= now
            and now - cert.not_valid_before_utc < OCSP_ROTATE_AFTER
            and now < cert.not_valid_after_utc
            and cert.issuer == self.issuing.subject
            and cert.serial_number not in revoked
        )

    def _ensure_ocsp_responder(self, now: datetime) -> x509.Certificate:
        """The current responder certificate, issued now if none is usable (under the lock)."""
        revoked = self._revoked_serials()
        usable = [c for c in self._ocsp_certificates() if self._ocsp_usable(c, now, revoked)]
        if usable:
            return usable[-1]
        key = profiles.new_signing_key()
        cert = profiles.ocsp_responder_certificate(
            key.public_key(),
            label=self.hostname,
            issuer=self.issuing,
            issuer_key=self._issuer_key("issuing", self.issuing),
            urls=self.urls,
            now=now,
            lifetime=OCSP_RESPONDER_LIFETIME,
        )
        self._keep_issued(self._ocsp_name(cert), key, cert, "ocsp-responder")
        return cert

    def ocsp_credential(self, now: datetime | None = None) -> Credential:
        """The delegated OCSP responder (rotated every 30 days; a revoked one is replaced)."""
        now = self._aware(now)
        with self._mutex:
            current = self._ocsp
            if (
                current is not None
                and self._ocsp_usable(current.cert, now, set())
                and self._good(current.cert.serial_number)
            ):
                return current
            with exclusive_lock(self.directory / ".lock"):
                cert = self._ensure_ocsp_responder(now)
                name = self._ocsp_name(cert)
                credential = Credential(self._key(name, cert), cert, (self.issuing, self.root))
            self._ocsp = credential
            return credential

    # -- the register ------------------------------------------------------------------------

    def _aware(self, now: datetime | None) -> datetime:
        if now is None:
            return self._now()
        if now.tzinfo is None:
            raise PkiConfigError("times given to the PKI must be timezone-aware")
        return now.astimezone(UTC)

    def _good(self, serial: int) -> bool:
        return self.registry.status(serial, "issuing")[0] != "revoked"

    def _revoked_serials(self) -> set[int]:
        return {e.serial for e in self.registry.revoked("issuing")}

    def list_certificates(
        self, kind: str | None = None, *, status: Literal["good", "revoked"] | None = None
    ) -> list[IssuedCertificate]:
        """Register entries (oldest first), optionally of one kind (``unit``, ``officer``,
        ``merchant``, ``tsa``, ``ocsp-responder``, ``package-signing``, ``issuing-ca``)."""
        return self.registry.entries(kind=kind, status=status)

    def certificate(self, serial_or_name: str | int) -> IssuedCertificate:
        """Find a register entry by serial (hex as openssl prints it, or int) or by holder:
        common name, officer id or credit code. A name picks the holder's newest valid
        certificate; a name shared by several holders is refused (use the serial)."""
        if isinstance(serial_or_name, int):
            record = self.registry.get(serial_or_name)
            if record is None:
                raise UnknownCertificateError(
                    f"no certificate with serial {format_serial(serial_or_name)} was issued by "
                    "this PKI (see `evidence certs list`)"
                )
            return record
        text = serial_or_name.strip()
        try:
            record = self.registry.get(parse_serial(text))
        except ValueError:
            record = None
        if record is not None:
            return record
        matches = self.registry.find(text)
        if not matches:
            raise UnknownCertificateError(
                f"no certificate with serial or holder {text!r} in this PKI "
                "(see `evidence certs list`)"
            )
        now = self._now()
        valid = [m for m in matches if m.status == "good" and not m.expired(now)]
        pool = valid or matches
        holders = {(m.kind, m.owner_id or m.subject) for m in pool}
        if len(holders) > 1:
            serials = ", ".join(f"{m.serial_hex} ({m.subject})" for m in pool[:5])
            raise AmbiguousCertificateError(
                f"{text!r} names several holders' certificates: {serials}; give the serial"
            )
        return pool[0]

    def credential(self, serial_or_name: str | int) -> Credential | HsmCredential:
        """The signing credential of a register entry (see :meth:`certificate` for the
        lookup): a :class:`Credential` with the decrypted key, or an :class:`HsmCredential`
        when the key is in an HSM. Refuses revoked and expired certificates -- a signature
        made with them would not validate, and must not be made."""
        record = self.certificate(serial_or_name)
        self._refuse_unusable(record)
        chain = (self.issuing, self.root) if record.issuer == "issuing" else (self.root,)
        if record.key_storage == "hsm":
            assert record.hsm is not None
            return HsmCredential(record.hsm, record.certificate, chain)
        if not record.key_name:
            raise KeyFileError(f"certificate {record.serial_hex} has no key in this PKI")
        return Credential(self._key(record.key_name, record.certificate), record.certificate, chain)

    def check_can_sign(self, cert: x509.Certificate) -> None:
        """Raise :class:`CertificateRevokedError` if ``cert`` is in the register as revoked,
        or is outside its validity. Certificates the register does not know pass (they may
        come from elsewhere; their validator will judge)."""
        record = self.registry.get(cert.serial_number, issuer="issuing")
        if record is None and cert.issuer == self.root.subject:
            record = self.registry.get(cert.serial_number, issuer="root")
        if record is not None and record.fingerprint_sha256 == fingerprint_sha256(cert):
            self._refuse_unusable(record)
            return
        now = self._now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateRevokedError(
                f"certificate {cert.serial_number:x} ({cert.subject.rfc4514_string()}) is not "
                f"valid now (valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d})"
            )

    def _refuse_unusable(self, record: IssuedCertificate) -> None:
        now = self._now()
        if record.status == "revoked":
            assert record.revoked_at is not None
            raise CertificateRevokedError(
                f"certificate {record.serial_hex} ({record.subject}) was revoked at "
                f"{record.revoked_at:%Y-%m-%dT%H:%M:%SZ} ({record.revocation_reason}); issue a "
                "new one"
            )
        if record.expired(now) or now < record.not_before:
            raise CertificateRevokedError(
                f"certificate {record.serial_hex} ({record.subject}) is valid only from "
                f"{record.not_before:%Y-%m-%d} to {record.not_after:%Y-%m-%d}; issue a new one"
            )

    # -- issuing -------------------------------------------------------------------------------

    def issue(
        self,
        kind: SignerKind,
        subject: SubjectInfo,
        *,
        key: Literal["software"] | HsmKeyRef = "software",
        key_type: profiles.KeyType = "ec-p256",
        days: int | None = None,
    ) -> IssuedCertificate:
        """Issue a document-signing certificate for a unit (organisation seal), an officer or
        a merchant, and record it in the register.

        ``key="software"``: a new key, stored encrypted under ``issued/``. An
        :class:`HsmKeyRef`: the key pair is generated on the token (non-extractable), proven
        to sign, certified, and the certificate is stored on the token beside it.
        """
        if kind not in SIGNER_KINDS:
            raise SubjectError(
                f"unknown certificate kind {kind!r}; use one of {', '.join(SIGNER_KINDS)}"
            )
        if key_type not in profiles.KEY_TYPES:
            raise PkiConfigError(
                f"unknown key type {key_type!r}; use one of {', '.join(profiles.KEY_TYPES)}"
            )
        name, owner_id = subject_name(kind, subject)
        if days is None:
            days = SIGNER_DAYS[kind]
        if not 1 <= days <= MAX_SIGNER_DAYS:
            raise PkiConfigError(f"days must be between 1 and {MAX_SIGNER_DAYS}, not {days}")
        now = self._now()
        if now - profiles.BACKDATE + timedelta(days=days) > self.issuing.not_valid_after_utc:
            raise PkiConfigError(
                f"a {days}-day certificate would outlive the issuing CA (valid until "
                f"{self.issuing.not_valid_after_utc:%Y-%m-%d}); ask for fewer days"
            )
        software_key = None
        hsm_key = None
        public_key: CertificatePublicKeyTypes
        if key == "software":
            software_key = profiles.new_signer_key(key_type)
            public_key = software_key.public_key()
        elif isinstance(key, HsmKeyRef):
            hsm_key = hsm.generate_key(key, key_type)
            public_key = hsm_key.public_key
        else:
            raise PkiConfigError(f"key must be 'software' or an HsmKeyRef, not {key!r}")
        with self._mutex, exclusive_lock(self.directory / ".lock"):
            cert = profiles.document_signer_certificate(
                public_key,
                subject=name,
                issuer=self.issuing,
                issuer_key=self._issuer_key("issuing", self.issuing),
                urls=self.urls,
                now=now,
                days=days,
            )
            key_name = f"issued/{format_serial(cert.serial_number)}"
            if software_key is not None:
                save_private_key(self._path(f"{key_name}.key.pem"), software_key, self._passphrase)
                self._keys[key_name] = software_key
                entry = NewEntry(cert, "issuing", kind, owner_id, "software", key_name)
            else:
                assert isinstance(key, HsmKeyRef) and hsm_key is not None
                hsm.store_certificate(key, cert, hsm_key.key_id)
                entry = NewEntry(cert, "issuing", kind, owner_id, "hsm", None, key)
            record = self.registry.add(entry)
            atomic_write(self._path(f"{key_name}.pem"), _pem(cert))
        return record

    # -- revocation ----------------------------------------------------------------------------

    def revoke(
        self, serial: str | int, reason: str, *, when: datetime | None = None
    ) -> IssuedCertificate:
        """Revoke a certificate for good (RFC 5280 reason name, e.g. ``keyCompromise``).

        ``when`` dates the revocation back, e.g. to when a key was known to be compromised
        (default: now). The CRL of the certificate's issuer is remade on next request; OCSP
        answers change at once.
        """
        try:
            number = parse_serial(serial)
        except ValueError as exc:
            raise UnknownCertificateError(str(exc)) from None
        if number == self.root.serial_number:
            raise RevocationReasonError(
                "the root CA is the trust anchor and cannot be revoked: relying parties must "
                "remove it from their trust stores (create a new PKI)"
            )
        record = self.registry.get(number)
        if record is None:
            raise UnknownCertificateError(
                f"no certificate with serial {format_serial(number)} was issued by this PKI "
                "(see `evidence certs list`)"
            )
        reason = check_reason(reason, is_ca=record.kind == "issuing-ca")
        now = self._now()
        when = now if when is None else self._aware(when)
        if when > now + _FUTURE_TOLERANCE:
            raise RevocationReasonError(
                "a revocation cannot be dated in the future (certificate holds are not supported)"
            )
        when = min(when, now)
        if when < record.not_before:
            raise RevocationReasonError(
                f"the revocation time {when:%Y-%m-%dT%H:%M:%SZ} is before the certificate was "
                f"valid ({record.not_before:%Y-%m-%dT%H:%M:%SZ})"
            )
        with self._mutex, exclusive_lock(self.directory / ".lock"):
            updated = self.registry.revoke(number, when=when, reason=reason)
            self._crl_path(record.issuer).unlink(missing_ok=True)
            if self._signing is not None and self._signing.cert.serial_number == number:
                self._signing = None
            if self._ocsp is not None and self._ocsp.cert.serial_number == number:
                self._ocsp = None
            if self._tsa.cert.serial_number == number:
                self._tsa_checked = None  # replaced at the next time-stamp
        return updated

    def _crl_path(self, which: IssuerName) -> Path:
        return self.directory / "crl" / f"{which}.crl"

    def _crl_fresh(self, der: bytes, now: datetime) -> bool:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            return False
        this_update = crl.last_update_utc
        return (
            this_update <= now + _FUTURE_TOLERANCE
            and now - this_update < CRL_REFRESH
            and (now < _next_update(crl))
        )

    def _fresh_crl(self, path: Path, now: datetime) -> bytes | None:
        """The CRL kept at ``path`` if it need not be re-signed yet."""
        try:
            der = path.read_bytes()
        except FileNotFoundError:
            return None
        return der if der and self._crl_fresh(der, now) else None

    def crl_der(self, which: IssuerName = "issuing") -> bytes:
        """The current CRL of the issuing CA (``"issuing"``) or of the root (``"root"``, which
        lists revoked issuing CAs), DER. Re-signed with a higher CRL number when older than an
        hour or after a revocation; nextUpdate is three days after thisUpdate."""
        if which not in ("issuing", "root"):
            raise PkiConfigError(f"which must be 'issuing' or 'root', not {which!r}")
        path = self._crl_path(which)
        now = self._now()
        if (der := self._fresh_crl(path, now)) is not None:
            return der
        with self._mutex, exclusive_lock(self.directory / ".lock"):
            if (der := self._fresh_crl(path, now)) is not None:
                return der
            issuer, issuer_key = (
                (self.issuing, self._issuer_key("issuing", self.issuing))
                if which == "issuing"
                else (self.root, self._issuer_key("root", self.root))
            )
            der = build_crl(
                issuer=issuer,
                issuer_key=issuer_key,
                entries=[
                    CrlEntry(e.serial, e.revoked_at, e.reason) for e in self.registry.revoked(which)
                ],
                number=self.registry.next_crl_number(which),
                this_update=now,
                next_update=now + CRL_VALIDITY,
            )
            atomic_write(path, der)
            return der

    # -- OCSP ----------------------------------------------------------------------------------

    def _lookup_status(self, serial: int) -> CertStatus:
        status, revoked_at, reason = self.registry.status(serial, "issuing")
        if status == "revoked":
            return CertStatus("revoked", revoked_at, reason)
        if status == "good":
            return CertStatus("good")
        return CertStatus("unknown")

    def ocsp_response(self, request_der: bytes) -> bytes:
        """Answer a DER OCSPRequest (RFC 6960) for certificates of the issuing CA: always a
        DER OCSPResponse, errors included (``malformedRequest``, ``unauthorized`` for
        another CA's certificates, ``tryLater`` when the PKI is busy)."""
        try:
            parsed = parse_ocsp_request(request_der)
        except OcspRequestError:
            return ocsp_error("malformed_request")
        if not all(self._issuing_hashes.matches(cid) for cid in parsed.cert_ids):
            return ocsp_error("unauthorized")
        try:
            responder = self.ocsp_credential()
        except PkiLockError:
            return ocsp_error("try_later")
        return build_ocsp_response(
            parsed.cert_ids,
            lookup=self._lookup_status,
            responder_cert=responder.cert,
            responder_key=responder.key,
            extra_certs=[self.issuing],
            now=self._now(),
            validity=OCSP_VALIDITY,
            nonce=parsed.nonce,
        )

    def ocsp_response_for(
        self, cert: x509.Certificate, *, hash_algorithm: Literal["sha1", "sha256"] = "sha1"
    ) -> bytes:
        """A signed OCSP response about ``cert``, made locally: what a document embeds for
        long-term validation when no HTTP is possible (``evidence sign`` with the server
        down). SHA-1 CertIDs by default, as RFC 5019 clients (and so most validators) send;
        the hash only identifies the certificate, it protects nothing."""
        if cert.issuer != self.issuing.subject or not _issued_by(cert, self.issuing):
            raise CertsError(
                f"{cert.subject.rfc4514_string()} was not issued by this PKI's issuing CA; OCSP "
                "covers only its certificates (the issuing CA's own status is in the root CRL)"
            )
        return build_ocsp_response(
            [self._issuing_hashes.cert_id(cert.serial_number, hash_algorithm)],
            lookup=self._lookup_status,
            responder_cert=(responder := self.ocsp_credential()).cert,
            responder_key=responder.key,
            extra_certs=[self.issuing],
            now=self._now(),
            validity=OCSP_VALIDITY,
        )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _next_update(crl: x509.CertificateRevocationList) -> datetime:
    next_update = crl.next_update_utc
    return next_update if next_update is not None else crl.last_update_utc


def _public_der(key: PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
