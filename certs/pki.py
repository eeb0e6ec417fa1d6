"""The service's own small PKI: a root CA, an issuing CA, the TSA certificate and rotating
package-signing certificates, all in one folder with every private key encrypted.

Folder layout (everything a court needs to check our signatures is in ``trust_bundle_pem``)::

    root.pem        root.key.pem          self-signed trust anchor
    issuing.pem     issuing.key.pem       issues everything below
    tsa.pem         tsa.key.pem           the built-in RFC 3161 time-stamp authority
    signing/<notBefore>-<serial>.pem (+ .key.pem)   package-signing certificates, never deleted
    .lock                                  serializes creation and rotation across processes

A certificate file is written only after its key file, and each file is renamed into place
when complete, so a process killed half-way leaves at worst an unused key that the next run
replaces; it never leaves a certificate without its key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import NameOID

from . import profiles
from .errors import CertificateFileError, KeyFileError, PkiConfigError
from .keys import atomic_write, load_private_key, save_private_key
from .locking import exclusive_lock

__all__ = ["Credential", "Pki", "fingerprint_sha256", "load_pem_certificates"]

ROOT_DAYS = 25 * 365
ISSUING_DAYS = 15 * 365
TSA_DAYS = 10 * 365
#: Existing WACZ verifiers (authsign, wacz-signing) accept a signature only this long after
#: the signing certificate's notBefore.
VERIFIER_WINDOW = timedelta(days=7)


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


@dataclass(frozen=True)
class Credential:
    """A private key with its certificate and the issuers up to and including the root."""

    key: PrivateKeyTypes
    cert: x509.Certificate
    #: Issuers, the leaf's issuer first, the root last (root included).
    chain: tuple[x509.Certificate, ...]

    def chain_pem(self) -> bytes:
        """Leaf first, then its issuers, root last: the order WACZ verifiers walk."""
        return b"".join(_pem(c) for c in (self.cert, *self.chain))

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1] if self.chain else self.cert


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


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
        self.root: x509.Certificate
        self.issuing: x509.Certificate
        self._tsa: Credential

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
        (directory / "signing").mkdir(exist_ok=True, mode=0o700)
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
            )
            atomic_write(issuing_path, _pem(self.issuing))
            self._keys["issuing"] = key
        if tsa_path.exists():
            tsa_cert = self._read_cert(tsa_path)
        else:
            tsa_key = profiles.new_tsa_key()
            save_private_key(self._path("tsa.key.pem"), tsa_key, self._passphrase)
            tsa_cert = profiles.tsa_certificate(
                tsa_key.public_key(),
                label=label,
                issuer=self.issuing,
                issuer_key=self._issuer_key("issuing", self.issuing),
                urls=self.urls,
                now=now,
                days=TSA_DAYS,
            )
            atomic_write(tsa_path, _pem(tsa_cert))
            self._keys["tsa"] = tsa_key
        try:
            self.issuing.verify_directly_issued_by(self.root)
            tsa_cert.verify_directly_issued_by(self.issuing)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CertificateFileError(
                f"the certificates in {self.directory} do not chain (root -> issuing -> TSA): "
                f"{exc}; restore the PKI folder from backup"
            ) from None
        # Decrypting the TSA key now makes a wrong passphrase fail at start-up.
        self._tsa = Credential(self._key("tsa", tsa_cert), tsa_cert, (self.issuing, self.root))

    # -- credentials ------------------------------------------------------------------------

    def tsa_credential(self) -> Credential:
        return self._tsa

    def issuing_credential(self) -> Credential:
        """The issuing CA with its key (for CRL and OCSP signing)."""
        return Credential(self._key("issuing", self.issuing), self.issuing, (self.root,))

    @property
    def root_fingerprint_sha256(self) -> str:
        """What a verifier pins (``CERT_ROOTS``/``TS_ROOTS`` of ``wacz-signing``)."""
        return fingerprint_sha256(self.root)

    def _usable(self, cert: x509.Certificate, now: datetime) -> bool:
        not_before = cert.not_valid_before_utc
        return (
            _common_name(cert) == self.hostname
            and self.hostname in _dns_names(cert)
            and not_before <= now
            and now - not_before < self.rotate_after
            and now < cert.not_valid_after_utc
        )

    def signing_certificates(self) -> list[x509.Certificate]:
        """Every package-signing certificate ever issued here, oldest first."""
        certs = []
        for path in sorted((self.directory / "signing").glob("*.pem")):
            if path.name.endswith(".key.pem"):
                continue
            certs.append(self._read_cert(path))
        return sorted(certs, key=lambda c: (c.not_valid_before_utc, c.serial_number))

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
            if current is not None and self._usable(current.cert, now):
                return current
            with exclusive_lock(self.directory / ".lock"):
                usable = [c for c in self.signing_certificates() if self._usable(c, now)]
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
                    save_private_key(self._path(f"{name}.key.pem"), key, self._passphrase)
                    atomic_write(self._path(f"{name}.pem"), _pem(cert))
                    self._keys[name] = key
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
            ("Time-stamp authority (RFC 3161)", self._tsa.cert),
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


def _public_der(key: PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
