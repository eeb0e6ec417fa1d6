"""Certificate profiles of the built-in PKI (RFC 5280), one function per kind of certificate.

Root CA -> issuing CA -> {TSA, OCSP responder, package-signing, unit/officer/merchant signers}.

Why these choices:

* CAs use ECDSA P-384: fast to create on first run, accepted by OpenSSL, pyHanko and the
  ``wacz-signing`` verifier (which checks each certificate with the next one's RSA or EC key).
* The TSA key is RSA-2048 signing with PKCS#1 v1.5, because ``rfc3161ng.check_timestamp`` --
  used by the ``wacz-signing`` verifier -- verifies nothing else. RFC 3161 §2.3 requires its
  extendedKeyUsage to be exactly ``timeStamping`` and critical.
* Package-signing certificates are short-lived ECDSA P-256 leaves named after the host, as
  the WACZ signing spec expects of a "domain" certificate: verifiers accept a signature only
  within 7 days of the certificate's notBefore.
* Every end-entity certificate names a CRL distribution point, an OCSP responder and its
  issuer's certificate (AIA caIssuers) under the service's public URL, so a relying party can
  check revocation with standard tools.
* The issuing CA names the root's CRL and certificate too: pyHanko's LTV validation wants
  revocation data for every certificate below the root, the issuing CA included.
* Document signers (units, officers, merchants) get keyUsage digitalSignature +
  nonRepudiation (pyHanko requires nonRepudiation by default) and NO extendedKeyUsage:
  Poppler's ``pdfsig`` reports "Unknown issue with Certificate" for an EKU list without
  emailProtection, and RFC 5280 reads a missing EKU as "any purpose".
* The OCSP responder is a delegated responder (RFC 6960 §4.2.2.2): id-kp-OCSPSigning and
  id-pkix-ocsp-nocheck, short-lived and rotated, since nobody checks its revocation.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

ORGANIZATION = "evidence-service"

#: Certificates are back-dated a little so that a verifier whose clock is slightly behind ours
#: does not see a certificate "from the future".
BACKDATE = timedelta(minutes=1)


@dataclass(frozen=True)
class PkiUrls:
    """Where relying parties find revocation data (served by the app under ``/pki``)."""

    crl: str
    ocsp: str
    #: The issuing CA's certificate (AIA caIssuers of end-entity certificates).
    ca_issuers: str = ""
    #: The root's CRL and certificate (named by the issuing CA certificate).
    root_crl: str = ""
    root_cert: str = ""

    @classmethod
    def under(cls, public_url: str) -> PkiUrls:
        base = public_url.rstrip("/")
        return cls(
            crl=f"{base}/pki/issuing.crl",
            ocsp=f"{base}/pki/ocsp",
            ca_issuers=f"{base}/pki/issuing.crt",
            root_crl=f"{base}/pki/root.crl",
            root_cert=f"{base}/pki/root.crt",
        )


def new_ca_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def new_tsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


KeyType = Literal["ec-p256", "rsa-2048"]
KEY_TYPES: tuple[KeyType, ...] = ("ec-p256", "rsa-2048")


def new_signer_key(key_type: KeyType) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A document signer's key. ECDSA P-256 is the default: every verifier that can check our
    chain already handles ECDSA (the CAs are P-384), and keys are quick to make; RSA-2048 is
    there for relying parties whose tools predate ECDSA in PDF."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r}; use one of {', '.join(KEY_TYPES)}")


def _hash_for(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _ee_key_usage(*, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _revocation_pointers(
    builder: x509.CertificateBuilder, urls: PkiUrls
) -> x509.CertificateBuilder:
    return builder.add_extension(_crl_pointer(urls.crl), critical=False).add_extension(
        x509.AuthorityInformationAccess(_access(ocsp=urls.ocsp, ca_issuers=urls.ca_issuers)),
        critical=False,
    )


def _access(*, ocsp: str, ca_issuers: str) -> list[x509.AccessDescription]:
    out = []
    if ocsp:
        out.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp)
            )
        )
    if ca_issuers:
        out.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers)
            )
        )
    return out


def _crl_pointer(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: CertificatePublicKeyTypes,
    now: datetime,
    lifetime: timedelta,
) -> x509.CertificateBuilder:
    not_before = (now - BACKDATE).replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + lifetime)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def root_certificate(
    key: CertificateIssuerPrivateKeyTypes, *, label: str, now: datetime, days: int
) -> x509.Certificate:
    name = _name(f"{label} Evidence Root CA")
    builder = (
        _base(name, name, key.public_key(), now, timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
    )
    return builder.sign(key, _hash_for(key))


def issuing_certificate(
    public_key: CertificatePublicKeyTypes,
    *,
    label: str,
    root: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
    now: datetime,
    days: int,
    urls: PkiUrls | None = None,
) -> x509.Certificate:
    """``urls`` (given for every PKI created since the PKI grew revocation) adds the root's CRL
    distribution point and AIA caIssuers: LTV validators want revocation data for the issuing
    CA too, and the only place it can come from is a root-signed CRL."""
    builder = (
        _base(
            _name(f"{label} Evidence Issuing CA"),
            root.subject,
            public_key,
            now,
            timedelta(days=days),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(_aki(root), critical=False)
    )
    if urls is not None and urls.root_crl:
        builder = builder.add_extension(_crl_pointer(urls.root_crl), critical=False)
        if urls.root_cert:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(_access(ocsp="", ca_issuers=urls.root_cert)),
                critical=False,
            )
    return builder.sign(root_key, _hash_for(root_key))


def tsa_certificate(
    public_key: CertificatePublicKeyTypes,
    *,
    label: str,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    urls: PkiUrls,
    now: datetime,
    days: int,
) -> x509.Certificate:
    builder = (
        _base(
            _name(f"{label} Time-Stamp Authority", "Time-Stamping"),
            issuer.subject,
            public_key,
            now,
            timedelta(days=days),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ee_key_usage(non_repudiation=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_aki(issuer), critical=False)
    )
    return _revocation_pointers(builder, urls).sign(issuer_key, _hash_for(issuer_key))


def log_certificate(
    public_key: CertificatePublicKeyTypes,
    *,
    label: str,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    now: datetime,
    days: int,
) -> x509.Certificate:
    """The transparency log's certificate: it signs tree heads, so digitalSignature only and
    no extendedKeyUsage (it is neither a TLS nor a document key); never valid beyond its
    issuer."""
    not_before = (now - BACKDATE).replace(microsecond=0)
    lifetime = min(timedelta(days=days), issuer.not_valid_after_utc - not_before)
    builder = (
        _base(
            _name(f"{label} Transparency Log"[:64], "Transparency Log"),
            issuer.subject,
            public_key,
            now,
            lifetime,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ee_key_usage(non_repudiation=False), critical=True)
        .add_extension(_aki(issuer), critical=False)
    )
    return builder.sign(issuer_key, _hash_for(issuer_key))


def common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def dns_names(cert: x509.Certificate) -> list[str]:
    """The dNSName entries of the certificate's subjectAltName (none if it has none)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def host_general_names(hostname: str) -> list[x509.GeneralName]:
    """SAN entries for ``hostname``: always a dNSName (string comparison by WACZ verifiers),
    plus an iPAddress when the host is an IP literal (what TLS-style checkers compare)."""
    names: list[x509.GeneralName] = [x509.DNSName(hostname)]
    with contextlib.suppress(ValueError):
        names.append(x509.IPAddress(ipaddress.ip_address(hostname)))
    return names


def signing_certificate(
    public_key: CertificatePublicKeyTypes,
    *,
    hostname: str,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    urls: PkiUrls,
    now: datetime,
    lifetime: timedelta,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Package Signing"),
            x509.NameAttribute(NameOID.COMMON_NAME, hostname),
        ]
    )
    builder = (
        _base(subject, issuer.subject, public_key, now, lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ee_key_usage(non_repudiation=False), critical=True)
        .add_extension(x509.SubjectAlternativeName(host_general_names(hostname)), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    return _revocation_pointers(builder, urls).sign(issuer_key, _hash_for(issuer_key))


def document_signer_certificate(
    public_key: CertificatePublicKeyTypes,
    *,
    subject: x509.Name,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    urls: PkiUrls,
    now: datetime,
    days: int,
) -> x509.Certificate:
    """A unit seal, officer or merchant signing certificate (see the module docstring for why
    there is no extendedKeyUsage)."""
    builder = (
        _base(subject, issuer.subject, public_key, now, timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ee_key_usage(non_repudiation=True), critical=True)
        .add_extension(_aki(issuer), critical=False)
    )
    return _revocation_pointers(builder, urls).sign(issuer_key, _hash_for(issuer_key))


def ocsp_responder_certificate(
    public_key: CertificatePublicKeyTypes,
    *,
    label: str,
    issuer: x509.Certificate,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    urls: PkiUrls,
    now: datetime,
    lifetime: timedelta,
) -> x509.Certificate:
    """RFC 6960 §4.2.2.2 delegated responder. No CRL DP or OCSP pointer: id-pkix-ocsp-nocheck
    says its revocation is not checked (hence the short lifetime); caIssuers helps clients
    that get the response without the issuing CA."""
    builder = (
        _base(
            _name(f"{label} OCSP Responder", "OCSP"),
            issuer.subject,
            public_key,
            now,
            lifetime,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ee_key_usage(non_repudiation=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    if urls.ca_issuers:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(_access(ocsp="", ca_issuers=urls.ca_issuers)),
            critical=False,
        )
    return builder.sign(issuer_key, _hash_for(issuer_key))
