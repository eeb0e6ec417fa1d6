"""What the verifier trusts: a PEM bundle read once into anchors, helpers and revocation data.

A bundle may hold certificates (self-signed ones are the trust anchors, the others only help
build paths), CRLs (``X509 CRL`` blocks, used as revocation evidence) and bare public keys
(``PUBLIC KEY`` blocks: the out-of-band keys that WACZ "anonymous" signatures need). Anything
else is ignored, so our published trust bundle, an ``openssl`` CA file or a hand-made file all
work. Certificates shipped *inside* the evidence (a ``domainCert`` chain, a token's
certificates) never become anchors: :meth:`TrustStore.with_extra` adds them to the pool only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509 import ocsp

from ..chains import is_self_signed
from .model import Text

__all__ = ["MAX_BUNDLE_BYTES", "TrustStore", "load_trust_bundle", "sound", "spki_der"]

MAX_BUNDLE_BYTES = 32 * 1024 * 1024
_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def spki_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _fp(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def sound(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates whose fields can all be read. ``cryptography`` parses lazily, so a
    damaged certificate loads fine and raises later, anywhere; evidence can hold damaged
    certificates, so they are screened once, here, and left out."""
    out = []
    for cert in certs:
        try:
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
            _ = cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc
            cert.public_key()
            cert.public_bytes(serialization.Encoding.DER)
            list(cert.extensions)
            cert.subject.public_bytes()
        except Exception:
            continue
        out.append(cert)
    return out


@dataclass
class TrustStore:
    anchors: list[x509.Certificate] = field(default_factory=list)
    pool: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    ocsps: list[ocsp.OCSPResponse] = field(default_factory=list)
    public_keys: list[PublicKeyTypes] = field(default_factory=list)
    #: "given" (--trust / uploaded), "service" (the server's own), "local" (data folder), "none"
    source: str = "none"
    description: Text = field(
        default_factory=lambda: Text("未提供信任证书包", "no trust bundle was given")
    )
    sha256: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.anchors and not self.public_keys

    def with_extra(
        self,
        *,
        certs: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
        ocsps: Iterable[ocsp.OCSPResponse] = (),
    ) -> TrustStore:
        """A copy with more path-building certificates and revocation data (never anchors)."""
        return replace(
            self,
            pool=[*self.pool, *certs],
            crls=[*self.crls, *crls],
            ocsps=[*self.ocsps, *ocsps],
        )

    def knows_key(self, spki: bytes) -> bool:
        if any(spki_der(k) == spki for k in self.public_keys):
            return True
        return any(spki_der(c.public_key()) == spki for c in self.anchors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "description": self.description.to_dict(),
            "sha256": self.sha256,
            "anchors": [
                {"subject": c.subject.rfc4514_string(), "sha256": _fp(c)} for c in self.anchors
            ],
            "intermediates": len(self.pool),
            "crls": len(self.crls),
            "ocsp_responses": len(self.ocsps),
            "public_keys": [hashlib.sha256(spki_der(k)).hexdigest() for k in self.public_keys],
            "problems": list(self.problems),
        }


def load_trust_bundle(data: bytes, *, source: str, description: Text) -> TrustStore:
    """Parse a PEM bundle; unparsable blocks are listed in ``problems``, never fatal."""
    store = TrustStore(source=source, description=description)
    if len(data) > MAX_BUNDLE_BYTES:
        store.problems.append("the trust bundle is larger than 32 MiB and was ignored")
        return store
    store.sha256 = hashlib.sha256(data).hexdigest()
    seen: set[str] = set()
    for match in _PEM_RE.finditer(data):
        label = match.group(1).decode("ascii", "replace")
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
        except ValueError:
            store.problems.append(f"a {label} block is not valid base64")
            continue
        try:
            if label in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"):
                cert = x509.load_der_x509_certificate(der)
                if not sound([cert]):
                    raise ValueError("unreadable certificate")
                fp = _fp(cert)
                if fp in seen:
                    continue
                seen.add(fp)
                (store.anchors if is_self_signed(cert) else store.pool).append(cert)
            elif label == "X509 CRL":
                store.crls.append(x509.load_der_x509_crl(der))
            elif label == "PUBLIC KEY":
                store.public_keys.append(serialization.load_der_public_key(der))
            elif label == "OCSP RESPONSE":
                store.ocsps.append(ocsp.load_der_ocsp_response(der))
        except (ValueError, TypeError) as exc:
            store.problems.append(f"a {label} block cannot be read ({type(exc).__name__})")
    return store
