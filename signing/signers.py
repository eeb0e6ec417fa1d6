"""pyHanko signers and validation contexts for certificates of the built-in PKI.

Two building blocks for PAdES signing (B-B to B-LTA) on top of ``certs.Pki``:

* :func:`pdf_signer` turns a credential (software key or HSM key) into a
  ``pyhanko.sign.signers.Signer``, refusing revoked or expired certificates;
* :func:`validation_context` gives the ``pyhanko_certvalidator.ValidationContext`` that trusts
  our root and knows where revocation data comes from -- fetched from the service
  (``online=True``) or made locally by the PKI (``online=False``), so that B-LT embedding
  works with the server down.

Typical B-LT use (``evidence sign``, no server needed)::

    credential = pki.credential("北京市市场监督管理局")
    signer = pdf_signer(credential, pki)
    vc = validation_context(pki, online=False, for_certs=[credential.cert])
    meta = PdfSignatureMetadata(
        field_name="Seal", embed_validation_info=True, validation_context=vc,
        subfilter=SigSeedSubFilter.PADES,
    )
    signers.sign_pdf(writer, meta, signer=signer, timestamper=...)

Why a SimpleSigner subclass: pyHanko's ``SimpleSigner.sign_raw`` re-parses the private key
from DER for every signature (about 28 ms for RSA-2048, twice per PAdES signature). Building it
from objects does not avoid that; keeping the ``cryptography`` key object and signing with it
does (B-B about 4x faster here).

Why a PKCS11Signer subclass: an HSM session runs one operation at a time, and the session
(see ``certs.hsm``) is shared by every signer of the process, so signatures are serialized
with the session's lock. ECDSA keys are signed with the raw ``CKM_ECDSA`` mechanism on a
hash computed here: SoftHSM2 (and many HSMs) lack ``CKM_ECDSA_SHA256``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pkcs11 import PKCS11Error
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from certs import hsm
from certs.errors import CertsError, HsmError
from certs.pki import Credential, HsmCredential, Pki

__all__ = ["HsmPdfSigner", "SoftwarePdfSigner", "pdf_signer", "validation_context"]


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class SoftwarePdfSigner(SimpleSigner):
    """A ``SimpleSigner`` that signs with the already-loaded key (see the module docstring).

    The ``signing_key`` attribute pyHanko expects is still set (same key, PKCS#8 DER in
    memory) for code that reads it; signatures never re-parse it.
    """

    def __init__(self, credential: Credential) -> None:
        key = credential.key
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError("PDF signing keys must be RSA or EC keys")
        self._key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = key
        key_info = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        super().__init__(
            signing_cert=_asn1(credential.cert),
            signing_key=key_info,
            cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in credential.chain]),
        )

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            algo = mechanism.signature_algo
        except ValueError:
            algo = mechanism["algorithm"].native
        key = self._key
        if algo == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algo == "rsassa_pss" and isinstance(key, rsa.RSAPrivateKey):
            pss, hash_algo = process_pss_params(mechanism["parameters"])
            return key.sign(data, pss, hash_algo)
        return super().sign_raw(data, digest_algorithm)

    def close(self) -> None:
        """Nothing to release (symmetry with :class:`HsmPdfSigner`)."""


class HsmPdfSigner(PKCS11Signer):
    """A ``PKCS11Signer`` on the process's shared session to the token, its raw signatures
    serialized with the session lock (see the module docstring)."""

    def __init__(self, credential: HsmCredential) -> None:
        opened = hsm.hsm_session(credential.ref)
        self._hsm_lock = opened.lock
        self._ref = credential.ref
        self._where = credential.ref.describe()
        super().__init__(
            opened.session,
            key_label=credential.ref.key_label,
            signing_cert=_asn1(credential.cert),
            ca_chain=[_asn1(c) for c in credential.chain],
            use_raw_mechanism=isinstance(credential.cert.public_key(), ec.EllipticCurvePublicKey),
        )
        try:
            with self._hsm_lock:
                self._load_objects()  # find the key now: a missing key is a clear error here
        except PKCS11Error as exc:
            raise HsmError(f"{self._where}: the signing key is not on the token ({exc})") from None

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        await self.ensure_objects_loaded()
        spec = self._select_pkcs11_signing_params(
            digest_algorithm, sign_kwargs=self.sign_kwargs(data)
        )
        handle = self._key_handle
        assert handle is not None

        def perform() -> bytes:
            payload = data
            if spec.pre_sign_transform is not None:
                payload = spec.pre_sign_transform(payload)
            try:
                with self._hsm_lock:
                    signature = bytes(handle.sign(payload, **spec.sign_kwargs))
            except PKCS11Error as exc:
                hsm.discard_if_dead(self._ref, exc)
                raise HsmError(f"{self._where}: signing failed ({type(exc).__name__})") from None
            if spec.post_sign_transform is not None:
                signature = spec.post_sign_transform(signature)
            return signature

        return await asyncio.to_thread(perform)

    def close(self) -> None:
        """The token session is shared by the process; ``certs.hsm.close_sessions`` ends it."""


def pdf_signer(credential: Credential | HsmCredential | str | int, pki: Pki) -> Signer:
    """A pyHanko signer for ``credential`` -- or for the register entry named by a serial
    number, officer id, credit code or common name (``pki.credential``).

    The certificate's status is checked in the PKI's register first: a revoked or expired
    certificate raises :class:`certs.CertificateRevokedError` instead of producing a
    signature that no validator accepts. Build the signer once and reuse it; software signers
    keep the decrypted key in memory, HSM signers the token session (PIN read from the
    environment variable named by the credential's ``HsmKeyRef``).

    Both kinds have a ``close()`` method, so callers can use ``contextlib.closing``; neither
    releases anything today (the HSM session is shared by the process, see ``certs.hsm``).
    """
    if isinstance(credential, str | int):
        credential = pki.credential(credential)
    else:
        pki.check_can_sign(credential.cert)
    if isinstance(credential, HsmCredential):
        return HsmPdfSigner(credential)
    if isinstance(credential, Credential):
        return SoftwarePdfSigner(credential)
    raise TypeError(f"cannot make a PDF signer from {type(credential).__name__}")


def validation_context(
    pki: Pki,
    *,
    online: bool,
    for_certs: Iterable[x509.Certificate] = (),
    revocation_mode: str = "require",
    moment: datetime | None = None,
) -> ValidationContext:
    """A validation context with this PKI's root as the only trust anchor.

    ``online=True``: CRLs, OCSP responses and missing issuers are fetched from the URLs in
    the certificates (``{public_url}/pki/...``); close it with ``await vc.aclose()`` after
    async use (pyHanko's aiohttp session).

    ``online=False``: nothing is fetched. Revocation data comes straight from the local PKI:
    the current issuing and root CRLs, plus a fresh OCSP response for each certificate in
    ``for_certs`` issued by our issuing CA and for the built-in TSA. Pass the signer's
    certificate in ``for_certs`` when signing with ``embed_validation_info=True`` so the
    document carries OCSP as well as CRLs (what Adobe and pdfsig prefer).

    ``revocation_mode="require"`` (default) demands revocation data for every certificate
    below the root -- which this PKI always provides; ``moment`` validates at another time
    (offline only, as pyHanko requires).
    """
    roots = [_asn1(pki.root)]
    others = [_asn1(pki.issuing), _asn1(pki.ocsp_credential().cert)]
    if online:
        if moment is not None:
            raise ValueError(
                "pyHanko cannot fetch revocation data for a past moment; use online=False"
            )
        return ValidationContext(
            trust_roots=roots,
            other_certs=others,
            allow_fetching=True,
            revocation_mode=revocation_mode,
        )
    wanted = {c.fingerprint(hashes.SHA256()): c for c in [*for_certs, pki.tsa_credential().cert]}
    ocsps = []
    for cert in wanted.values():
        try:
            ocsps.append(pki.ocsp_response_for(cert))
        except CertsError:
            continue  # not ours (an external TSA, another CA): no local data for it

    return ValidationContext(
        trust_roots=roots,
        other_certs=others,
        allow_fetching=False,
        crls=[pki.crl_der("issuing"), pki.crl_der("root")],
        ocsps=ocsps,
        revocation_mode=revocation_mode,
        moment=moment,
    )
