"""PAdES baseline signatures (ETSI EN 319 142-1) on PDFs, with pyHanko: B-B, B-T, B-LT, B-LTA.

One general entry point, :func:`sign_pdf`, for everything the service signs (the evidence
certificate now, administrative documents later). What each level adds:

========  =======================================================================
``b-b``   a CAdES-style signature (``ETSI.CAdES.detached``), signing certificate attribute
``b-t``   + an RFC 3161 signature time-stamp (needs ``timestamper``)
``b-lt``  + certificates and revocation data (CRL/OCSP) of the signer and the TSA in the
          document security store (DSS); needs a ``validation_context`` that can produce them
          (offline: locally made CRLs/OCSP responses, ``allow_fetching=False``)
``b-lta`` + a document time-stamp over all of that, so the evidence outlives its certificates
========  =======================================================================

Why the wrappers:

* :func:`credential_signer` keeps the private key object: pyHanko's ``SimpleSigner`` parses
  the key again for every signature (pitfalls: ~28 ms for RSA-2048, twice per signature).
* :func:`pyhanko_timestamper` lets pyHanko use our TSA clients (the built-in TSA in-process,
  or an HTTP TSA) and keeps one adapter per client, because pyHanko time-stamps a dummy digest
  once per adapter to size the signature; a fresh adapter per signature doubles the TSA calls.
* A TSA that is down surfaces as :class:`~signing.errors.TsaUnavailableError`, like
  everywhere else in ``signing``, so callers can defer and retry.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from certs.pki import Credential

from .errors import SigningError, TimestampError, TsaUnavailableError
from .timestamp import HttpTimestamper, LocalTimestamper, Timestamper

__all__ = [
    "LEVELS",
    "Appearance",
    "Level",
    "PadesError",
    "SignedPdf",
    "credential_signer",
    "pyhanko_timestamper",
    "sign_pdf",
]

Level = Literal["b-b", "b-t", "b-lt", "b-lta"]
LEVELS: tuple[Level, ...] = ("b-b", "b-t", "b-lt", "b-lta")


class _OfflineEmbeddingNotice(logging.Filter):
    """pyHanko warns whenever B-LT data is embedded without network fetching; here that is
    the design (revocation data made locally by our PKI), not a problem worth a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_OfflineEmbeddingNotice())


class PadesError(SigningError):
    """The PDF could not be signed as asked (bad input, missing TSA or revocation data)."""


@dataclass(frozen=True)
class Appearance:
    """A visible signature: a text stamp in ``box`` (PDF points, origin bottom-left) on
    ``page`` (0-based; -1 is the last page). ``text`` may use ``%(signer)s`` and ``%(ts)s``.

    pyHanko's built-in font is Latin-only; for Chinese text give ``font_file``, an OpenType
    or TrueType font file (not a .ttc collection: pyHanko cannot pick a face from one).
    """

    box: tuple[int, int, int, int]
    page: int = 0
    text: str = "%(signer)s\n%(ts)s"
    font_file: Path | None = None
    font_size: int = 10


@dataclass(frozen=True)
class SignedPdf:
    field_name: str
    level: Level
    size: int


# -- signer ---------------------------------------------------------------------------------


class _KeptKeySigner(signers.SimpleSigner):
    """A SimpleSigner that signs with an already-loaded ``cryptography`` key."""

    def __init__(self, key: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mechanism["algorithm"].native
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey) and algo.endswith("ecdsa"):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if isinstance(key, rsa.RSAPrivateKey):
            if algo == "rsassa_pss":
                pss, hash_algo = process_pss_params(mechanism["parameters"])
                return key.sign(data, pss, hash_algo)
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        return super().sign_raw(data, digest_algorithm)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def credential_signer(
    credential: Credential, *, extra_certs: Iterable[x509.Certificate] = ()
) -> signers.SimpleSigner:
    """A pyHanko signer for ``credential`` (its chain is embedded in every signature)."""
    key_der = credential.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    registry = SimpleCertificateStore.from_certs(
        [_asn1(c) for c in (*credential.chain, *extra_certs)]
    )
    return _KeptKeySigner(
        credential.key,
        signing_cert=_asn1(credential.cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=registry,
    )


# -- time-stamping --------------------------------------------------------------------------


class _TransportTimeStamper(timestamps.TimeStamper):
    """pyHanko time-stamper over a function DER TimeStampReq -> DER TimeStampResp."""

    def __init__(self, transport: Callable[[bytes], bytes], name: str) -> None:
        super().__init__()
        self._transport = transport
        self.name = name

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            der = await asyncio.to_thread(self._transport, req.dump())
        except TimestampError as exc:
            raise TimestampRequestError(str(exc)) from exc
        return tsp.TimeStampResp.load(der)


def _http_transport(url: str, timeout: float) -> Callable[[bytes], bytes]:
    import requests

    def post(request_der: bytes) -> bytes:
        try:
            resp = requests.post(
                url,
                data=request_der,
                headers={
                    "Content-Type": "application/timestamp-query",
                    "Accept": "application/timestamp-reply",
                },
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise TsaUnavailableError(
                f"time-stamp authority {url} is unreachable ({type(exc).__name__})", tsa_url=url
            ) from None
        if resp.status_code != 200:
            raise TsaUnavailableError(
                f"time-stamp authority {url} answered HTTP {resp.status_code}", tsa_url=url
            )
        return resp.content

    return post


_ADAPTERS: weakref.WeakKeyDictionary[Any, timestamps.TimeStamper] = weakref.WeakKeyDictionary()
_ADAPTERS_LOCK = threading.Lock()


def pyhanko_timestamper(
    timestamper: Timestamper | timestamps.TimeStamper,
) -> timestamps.TimeStamper:
    """The pyHanko time-stamper for one of our clients (kept per client, see module doc)."""
    if isinstance(timestamper, timestamps.TimeStamper):
        return timestamper
    with _ADAPTERS_LOCK:
        adapter = _ADAPTERS.get(timestamper)
        if adapter is None:
            if isinstance(timestamper, LocalTimestamper):
                adapter = _TransportTimeStamper(timestamper.authority.respond, "builtin")
            elif isinstance(timestamper, HttpTimestamper):
                adapter = _TransportTimeStamper(
                    _http_transport(timestamper.url, timestamper.timeout), timestamper.name
                )
            else:
                raise PadesError(
                    f"cannot time-stamp PDF signatures with {timestamper!r}: give a "
                    "LocalTimestamper, an HttpTimestamper or a pyHanko TimeStamper"
                )
            _ADAPTERS[timestamper] = adapter
        return adapter


# -- signing --------------------------------------------------------------------------------


def _open_input(source: Path | bytes | BinaryIO) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, Path | str):
        return io.BytesIO(Path(source).read_bytes())
    return source


def sign_pdf(
    source: Path | bytes | BinaryIO,
    output: Path | BinaryIO,
    signer: signers.Signer,
    *,
    level: Level,
    timestamper: Timestamper | timestamps.TimeStamper | None = None,
    validation_context: ValidationContext | None = None,
    field_name: str = "Signature1",
    reason: str | None = None,
    location: str | None = None,
    contact_info: str | None = None,
    appearance: Appearance | None = None,
    certify: bool = False,
    bytes_reserved: int | None = None,
) -> SignedPdf:
    """Sign ``source`` into ``output`` (a path is written atomically) at PAdES ``level``.

    ``certify=True`` makes it a certification signature that still allows form filling and
    later signatures (a document's counter-signature must stay possible).
    ``bytes_reserved``: room for the CMS signature; pyHanko otherwise signs a dummy first to
    measure it (about a third of the time of a B-B signature). Too small a guess falls back
    to measuring. Raises
    :class:`PadesError` for unusable arguments and :class:`TsaUnavailableError` when the TSA
    does not answer (retry later).
    """
    if level not in LEVELS:
        raise PadesError(f"unknown PAdES level {level!r}; one of {', '.join(LEVELS)}")
    if level != "b-b" and timestamper is None:
        raise PadesError(f"PAdES {level.upper()} needs a time-stamp authority")
    if level in ("b-lt", "b-lta") and validation_context is None:
        raise PadesError(
            f"PAdES {level.upper()} needs a validation context with the certificates and "
            "revocation data to embed (see signing.signers.validation_context)"
        )
    from pyhanko.sign.fields import MDPPerm

    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        contact_info=contact_info,
        embed_validation_info=level in ("b-lt", "b-lta"),
        use_pades_lta=level == "b-lta",
        validation_context=validation_context if level in ("b-lt", "b-lta") else None,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
    )
    field_spec = None
    stamp_style = None
    if appearance is not None:
        from pyhanko.pdf_utils.text import TextBoxStyle
        from pyhanko.stamp import TextStampStyle

        field_spec = fields.SigFieldSpec(
            sig_field_name=field_name, on_page=appearance.page, box=appearance.box
        )
        text_style: dict[str, Any] = {}
        if appearance.font_file is not None:
            from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

            text_style["font"] = GlyphAccumulatorFactory(
                str(appearance.font_file), font_size=appearance.font_size
            )
        stamp_style = TextStampStyle(
            stamp_text=appearance.text, text_box_style=TextBoxStyle(**text_style)
        )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=pyhanko_timestamper(timestamper) if timestamper is not None else None,
        stamp_style=stamp_style,
        new_field_spec=field_spec,
    )
    data_in = _open_input(source).read()
    params = {"signer": _signer_name(signer)} if appearance is not None else None

    def attempt(reserved: int | None) -> bytes:
        buffer = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(data_in), strict=False)
        pdf_signer.sign_pdf(
            writer, output=buffer, appearance_text_params=params, bytes_reserved=reserved
        )
        return buffer.getvalue()

    try:
        try:
            data = attempt(bytes_reserved)
        except PyHankoSigningError as exc:
            if bytes_reserved is None or "larger than expected" not in str(exc):
                raise
            data = attempt(None)  # the guess was too small: let pyHanko measure
    except TimestampRequestError as exc:
        cause = exc.__cause__
        if isinstance(cause, TimestampError):
            raise cause from None
        raise TsaUnavailableError(
            f"the time-stamp authority did not time-stamp the PDF signature: {exc}"
        ) from None
    except TimestampError:
        raise
    except (ValueError, OSError, KeyError) as exc:
        raise PadesError(f"the PDF could not be signed: {type(exc).__name__}: {exc}") from exc
    if isinstance(output, Path | str):
        _atomic_write(Path(output), data)
    else:
        output.write(data)
    return SignedPdf(field_name=field_name, level=level, size=len(data))


def _signer_name(signer: signers.Signer) -> str:
    cert = signer.signing_cert
    if cert is None:
        return ""
    return str(cert.subject.native.get("common_name", cert.subject.human_friendly))


def _atomic_write(path: Path, data: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
