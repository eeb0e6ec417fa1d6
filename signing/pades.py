"""PAdES baseline signatures (ETSI EN 319 142-1) on PDFs, with pyHanko: B-B, B-T, B-LT, B-LTA.

One general entry point, :func:`sign_pdf`, for everything the service signs (the evidence
certificate now, administrative documents later). What each level adds:

========  =======================================================================
``b-b``   a CAdES-style signature (``ETSI.CAdES.detached``), signing certificate attribute
``b-t``   + an RFC 3161 signature time-stamp (needs ``timestamper``)
``b-lt``  + certificates and revocation data (CRL/OCSP) of the signer and the TSA in the
          document security store (DSS); needs a ``validation_context`` that can produce them
          (offline: locally made CRLs/OCSP responses, ``allow_fetching=False``), or the
          data itself (:class:`ValidationData`) from a caller that made all of it
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
* Several signatures in order: sign into an *existing* empty field when one is named (a
  document rendered with signature slots), so a certified document stays valid; an audit
  trail (``audit=``) goes into the signature dictionary itself
  (``/Prop_Build/App/EvidenceAudit``, canonical JSON): covered by that signature's byte
  range, and a new signature dictionary in a new field is a change pyHanko's modification
  analysis accepts after earlier signatures (an embedded file added later would not be).
* :class:`ValidationData`: a caller whose PKI makes every certificate, CRL and OCSP
  response itself (the evidence certificate's seal) hands them over as they are; pyHanko
  otherwise validates the signer's and the TSA's paths only to collect the same data again,
  about half of a certificate's signing time. The DSS is then written by pyHanko's own
  ``DocumentSecurityStore`` in the same incremental update shape.
* The output is written atomically (unique temporary file, fsync, rename): a failed or
  interrupted signature never leaves a partial PDF.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_byterange import BuildProps
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from certs.pki import Credential

from .errors import SigningError, TimestampError, TsaUnavailableError
from .timestamp import HttpTimestamper, LocalTimestamper, Timestamper

__all__ = [
    "AUDIT_KEY",
    "LEVELS",
    "Appearance",
    "Level",
    "PadesError",
    "SignedPdf",
    "ValidationData",
    "atomic_write",
    "credential_signer",
    "pyhanko_timestamper",
    "read_audit",
    "sign_pdf",
]

Level = Literal["b-b", "b-t", "b-lt", "b-lta"]
LEVELS: tuple[Level, ...] = ("b-b", "b-t", "b-lt", "b-lta")
#: Key of the audit trail (a JSON text string) in the signature's ``/Prop_Build /App``.
AUDIT_KEY = "/EvidenceAudit"
APP_NAME = "EvidenceService"
MAX_AUDIT_BYTES = 16 * 1024


class _OfflineEmbeddingNotice(logging.Filter):
    """pyHanko warns whenever B-LT data is embedded without network fetching; here that is
    the design (revocation data made locally by our PKI), not a problem worth a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_OfflineEmbeddingNotice())
log = logging.getLogger(__name__)


class PadesError(SigningError):
    """The PDF could not be signed as asked (bad input, missing TSA or revocation data)."""


@dataclass(frozen=True)
class Appearance:
    """A visible signature: a text stamp in ``box`` (PDF points, origin bottom-left) on
    ``page`` (0-based; -1 is the last page). ``text`` may use ``%(signer)s``, ``%(ts)s`` and
    the keys of ``text_params``. Signing into an existing field uses that field's box
    (``box`` may then be None).

    pyHanko's built-in font is Latin-only; for Chinese text give ``font_file``, an OpenType
    or TrueType font file (not a .ttc collection: pyHanko cannot pick a face from one).
    ``image``: a background picture (a Pillow image, or PNG/JPEG bytes), e.g. a seal, scaled
    to fit the box and centred under the text.
    """

    box: tuple[int, int, int, int] | None = None
    page: int = 0
    text: str = "%(signer)s\n%(ts)s"
    font_file: Path | None = None
    font_size: int = 10
    image: Any = None
    image_opacity: float = 1.0
    border_width: int = 3
    text_params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ValidationData:
    """What a B-LT signature's DSS is to hold, given as it is: the certificates of the
    signer's and the TSA's paths (roots included), OCSP responses and CRLs (DER).

    For a caller that made all of it and knows it covers both paths (see the module
    docstring); anything else should pass a ``validation_context`` and let pyHanko find the
    paths. The verifiers check the result the same way either way."""

    certs: tuple[x509.Certificate, ...]
    ocsps: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class SignedPdf:
    field_name: str
    level: Level
    size: int
    sha256: str = ""
    #: The signer's claimed time (``/M``, the CMS signingTime).
    signing_time: datetime | None = None
    #: genTime of the signature time-stamp (B-T and above).
    timestamp_time: datetime | None = None


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
    validation_data: ValidationData | None = None,
    field_name: str = "Signature1",
    reason: str | None = None,
    location: str | None = None,
    contact_info: str | None = None,
    appearance: Appearance | None = None,
    certify: bool = False,
    bytes_reserved: int | None = None,
    audit: Mapping[str, Any] | None = None,
    reader: Any = None,
) -> SignedPdf:
    """Sign ``source`` into ``output`` (a path is written atomically) at PAdES ``level``.

    ``field_name``: an existing *empty* signature field of that name is filled (its box
    gives the appearance's place); otherwise a new field is made (visible in
    ``appearance.box``, or invisible without an appearance).
    ``certify=True`` makes it a certification signature that still allows form filling and
    later signatures (a document's counter-signature must stay possible).
    ``bytes_reserved``: room for the CMS signature; pyHanko otherwise signs a dummy first to
    measure it (about a third of the time of a B-B signature). Too small a guess falls back
    to measuring. ``audit``: JSON-serialisable facts kept in the signature dictionary (see
    the module docstring; read back with :func:`read_audit`). ``reader``: a pyHanko
    ``PdfFileReader`` the caller already made of the same bytes (saves parsing them again;
    pyHanko's writer takes it over, so do not use it afterwards). Raises
    :class:`PadesError` for unusable arguments and :class:`TsaUnavailableError` when the TSA
    does not answer (retry later).
    """
    if level not in LEVELS:
        raise PadesError(f"unknown PAdES level {level!r}; one of {', '.join(LEVELS)}")
    if level != "b-b" and timestamper is None:
        raise PadesError(f"PAdES {level.upper()} needs a time-stamp authority")
    if validation_data is not None and (level != "b-lt" or validation_context is not None):
        raise PadesError(
            "validation_data is for PAdES B-LT only and replaces the validation context; "
            "B-LTA needs a validation_context"
        )
    if level in ("b-lt", "b-lta") and validation_context is None and validation_data is None:
        raise PadesError(
            f"PAdES {level.upper()} needs a validation context with the certificates and "
            "revocation data to embed (see signing.signers.validation_context)"
        )
    collect = level in ("b-lt", "b-lta") and validation_data is None
    from pyhanko.sign.fields import MDPPerm

    build_props = _AuditBuildProps(_audit_json(audit)) if audit is not None else None
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        contact_info=contact_info,
        embed_validation_info=collect,
        use_pades_lta=level == "b-lta",
        validation_context=validation_context if collect else None,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        app_build_props=build_props,
        prop_auth_type=_auth_type(audit),
    )
    data_in = _open_input(source).read()
    field_spec = None
    stamp_style = None
    if appearance is not None:
        if appearance.box is not None:
            # pyHanko fills an existing empty field of that name and ignores this spec
            field_spec = fields.SigFieldSpec(
                sig_field_name=field_name, on_page=appearance.page, box=appearance.box
            )
        elif _field_state(data_in, field_name) is None:
            raise PadesError(f"no signature field {field_name!r} in the PDF and no box to make one")
        stamp_style = _stamp_style(appearance)
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=pyhanko_timestamper(timestamper) if timestamper is not None else None,
        stamp_style=stamp_style,
        new_field_spec=field_spec,
    )
    params: dict[str, str] | None = None
    if appearance is not None:
        params = {"signer": _signer_name(signer), **(appearance.text_params or {})}

    fresh_reader = [reader]

    def attempt(reserved: int | None) -> bytes:
        buffer = io.BytesIO()
        given = fresh_reader.pop() if fresh_reader else None
        if given is not None:
            writer = IncrementalPdfFileWriter.from_reader(given)
        else:
            writer = IncrementalPdfFileWriter(io.BytesIO(data_in), strict=False)
        pdf_signer.sign_pdf(
            writer, output=buffer, appearance_text_params=params, bytes_reserved=reserved
        )
        if validation_data is not None:
            _add_dss(buffer, validation_data)
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
    except (PathBuildingError, PathValidationError) as exc:
        raise PadesError(
            f"the certificates to embed could not be validated ({exc}); B-LT/B-LTA needs the "
            "signer's and the TSA's chains and revocation data in the validation context"
        ) from exc
    except (ValueError, OSError, KeyError, PyHankoSigningError) as exc:
        raise PadesError(f"the PDF could not be signed: {type(exc).__name__}: {exc}") from exc
    signing_time, timestamp_time = _signature_times(data[len(data_in) :])
    if isinstance(output, Path | str):
        atomic_write(Path(output), data)
    else:
        output.write(data)
    return SignedPdf(
        field_name=field_name,
        level=level,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        signing_time=signing_time,
        timestamp_time=timestamp_time,
    )


def _add_dss(buffer: io.BytesIO, data: ValidationData) -> None:
    """Append the DSS with ``data`` to the signed PDF in ``buffer`` (an incremental update),
    registered in a VRI entry for the signature just made (the last revision's), as pyHanko
    does for B-LT."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    buffer.seek(0)
    writer = IncrementalPdfFileWriter(buffer, strict=False)
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        _last_contents(buffer.getvalue()),
        certs=[_asn1(c) for c in data.certs],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in data.ocsps],
        crls=[asn1_crl.CertificateList.load(c) for c in data.crls],
    )
    writer.write_in_place()


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+\d+\s*\]")


def _last_contents(pdf: bytes) -> bytes:
    """The ``/Contents`` of the last signature in ``pdf`` (its padded CMS): the gap its
    ``/ByteRange`` leaves, between ``<`` and ``>``. Read this way because pyHanko's reader
    parses the 32 KB hex string a token at a time (a quarter of a certificate's signing)."""
    found = list(_BYTE_RANGE.finditer(pdf))
    if not found:
        raise PadesError("the signature just made has no /ByteRange")
    start, end = int(found[-1][1]), int(found[-1][2])
    if not 0 < start < end <= len(pdf) or pdf[start] != 0x3C or pdf[end - 1] != 0x3E:
        raise PadesError("the /ByteRange of the signature just made does not frame its /Contents")
    return bytes.fromhex(pdf[start + 1 : end - 1].decode("ascii"))


def _stamp_style(appearance: Appearance) -> Any:
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    text_style: dict[str, Any] = {}
    if appearance.font_file is not None:
        text_style["font"] = _font_factory(Path(appearance.font_file), appearance.font_size)
    extra: dict[str, Any] = {}
    if appearance.image is not None:
        extra["background"] = _background(appearance.image)
        extra["background_opacity"] = appearance.image_opacity
    return TextStampStyle(
        stamp_text=appearance.text,
        text_box_style=TextBoxStyle(**text_style),
        border_width=appearance.border_width,
        timestamp_format="%Y-%m-%d %H:%M:%S UTC",
        **extra,
    )


#: A TrueType font at most this big is embedded whole instead of being subset again: pyHanko
#: subsets (and recompiles) the font on every signature, about 15 ms even for a tiny font,
#: while a caller's pre-made subset (see ``workflow.documents.seal.stamp_font``) is already
#: as small as it gets.
WHOLE_FONT_MAX_BYTES = 256 * 1024
_FONT_BYTES: dict[tuple[str, float, int], bytes] = {}


def _font_factory(font_file: Path, font_size: int) -> Any:
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    stat = font_file.stat()
    if stat.st_size > WHOLE_FONT_MAX_BYTES or font_file.suffix.lower() not in (".ttf", ".otf"):
        return GlyphAccumulatorFactory(str(font_file), font_size=font_size)
    key = (str(font_file), stat.st_mtime, stat.st_size)
    data = _FONT_BYTES.get(key)
    if data is None:
        data = font_file.read_bytes()
        _FONT_BYTES[key] = data
    return _whole_font_factory()(str(font_file), font_size=font_size, data=data)


@functools.cache
def _whole_font_factory() -> type:
    """The classes are made on first use: pyHanko's OpenType support imports HarfBuzz."""
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory

    class WholeFontAccumulator(GlyphAccumulator):
        """Embeds the font file as it is (no second subsetting, GIDs unchanged)."""

        def __init__(self, *args: Any, data: bytes, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            cidfont = self.cidfont_obj
            if self.cff_charset is not None:  # a CFF font: let pyHanko embed it its way
                return

            def set_font_file(writer: Any) -> Any:
                stream = generic.StreamObject(stream_data=data)
                stream.compress()
                ref = writer.add_object(stream)
                cidfont._font_descriptor[generic.NameObject("/FontFile2")] = ref
                return ref

            setattr(cidfont, "set_font_file", set_font_file)  # noqa: B010 (instance override)
            self._whole = True

        def _extract_subset(self, options: Any = None) -> None:
            if not getattr(self, "_whole", False):
                super()._extract_subset(options)

    class WholeFontFactory(GlyphAccumulatorFactory):
        def __init__(self, font_file: str, *, font_size: int, data: bytes) -> None:
            super().__init__(font_file, font_size=font_size)
            object.__setattr__(self, "_data", data)

        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> Any:
            if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
                obj_stream = writer.prepare_object_stream()
            data = object.__getattribute__(self, "_data")
            return WholeFontAccumulator(
                writer=writer,
                font_handle=io.BytesIO(data),
                font_size=self.font_size,
                obj_stream=obj_stream,
                data=data,
            )

    return WholeFontFactory


#: id(image) -> (weak reference to it, encoding); Pillow images are not hashable.
_ENCODED_IMAGES: dict[int, tuple[Any, tuple[dict[str, Any], bytes, bytes | None]]] = {}
_ENCODED_LOCK = threading.Lock()


def _encode_image(image: Any) -> tuple[dict[str, Any], bytes, bytes | None]:
    """(image dictionary entries, Flate data, Flate alpha or None): what pyHanko's
    ``pil_image`` writes, compressed once per image instead of once per signature (a seal
    image costs several milliseconds of zlib every time)."""
    import zlib

    with _ENCODED_LOCK:
        kept = _ENCODED_IMAGES.get(id(image))
    if kept is not None and kept[0]() is image:
        return kept[1]
    img = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
    alpha = None
    if img.mode.endswith("A"):
        alpha = zlib.compress(img.getchannel("A").tobytes())
        img = img.convert(img.mode[:-1])
    entries = {
        "/Width": img.width,
        "/Height": img.height,
        "/ColorSpace": "/DeviceGray" if img.mode == "L" else "/DeviceRGB",
    }
    encoded = (entries, zlib.compress(img.tobytes()), alpha)
    with _ENCODED_LOCK:
        for key in [k for k, (ref, _e) in _ENCODED_IMAGES.items() if ref() is None]:
            del _ENCODED_IMAGES[key]
        _ENCODED_IMAGES[id(image)] = (weakref.ref(image), encoded)
    return encoded


def _image_stream(width: int, height: int, space: str, data: bytes) -> generic.StreamObject:
    return generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/XObject"),
            generic.NameObject("/Subtype"): generic.NameObject("/Image"),
            generic.NameObject("/Width"): generic.NumberObject(width),
            generic.NameObject("/Height"): generic.NumberObject(height),
            generic.NameObject("/ColorSpace"): generic.NameObject(space),
            generic.NameObject("/BitsPerComponent"): generic.NumberObject(8),
            generic.NameObject("/Filter"): generic.NameObject("/FlateDecode"),
        },
        encoded_data=data,
    )


def _background(image: Any) -> Any:
    from PIL import Image
    from pyhanko.pdf_utils.images import PdfImage

    if isinstance(image, bytes | bytearray):
        image = Image.open(io.BytesIO(image))
        image.load()

    class EncodedOnceImage(PdfImage):
        @property
        def image_ref(self) -> generic.IndirectObject:
            writer = self.writer
            assert writer is not None
            ref = self._image_ref
            if ref is None or ref.get_pdf_handler() is not writer:
                entries, data, alpha = _encode_image(self.image)
                width, height = entries["/Width"], entries["/Height"]
                stream = _image_stream(width, height, entries["/ColorSpace"], data)
                if alpha is not None:
                    mask = _image_stream(width, height, "/DeviceGray", alpha)
                    stream[generic.NameObject("/SMask")] = writer.add_object(mask)
                ref = self._image_ref = writer.add_object(stream)
            return ref

    return EncodedOnceImage(image)


# -- existing fields, audit trail, times ------------------------------------------------------


def _field_state(data: bytes, field_name: str) -> str | None:
    """ "empty", "filled" or None (no such signature field)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        for name, value, _ref in fields.enumerate_sig_fields(reader, with_name=field_name):
            if name == field_name:
                return "empty" if value is None else "filled"
    except (ValueError, KeyError, TypeError) as exc:
        raise PadesError(f"the PDF cannot be read: {type(exc).__name__}: {exc}") from None
    return None


class _AuditBuildProps(BuildProps):
    """``/Prop_Build /App`` naming this software and carrying the audit trail."""

    def __init__(self, audit_json: str) -> None:
        super().__init__(name=APP_NAME, revision=_version())
        object.__setattr__(self, "audit_json", audit_json)

    def as_pdf_object(self) -> generic.DictionaryObject:
        props = super().as_pdf_object()
        props[generic.NameObject(AUDIT_KEY)] = generic.TextStringObject(
            object.__getattribute__(self, "audit_json")
        )
        return props


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("evidence-service")
    except Exception:
        return "unknown"


def _audit_json(audit: Mapping[str, Any]) -> str:
    try:
        text = json.dumps(
            dict(audit), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    except (TypeError, ValueError) as exc:
        raise PadesError(f"the audit trail is not JSON-serialisable: {exc}") from None
    if len(text.encode()) > MAX_AUDIT_BYTES:
        raise PadesError(f"the audit trail is larger than {MAX_AUDIT_BYTES} bytes")
    return text


def _auth_type(audit: Mapping[str, Any] | None) -> Any:
    """The standard ``/Prop_AuthType`` when the audit's auth method is one PDF names."""
    if not audit:
        return None
    method = str(audit.get("auth_method", "")).lower()
    from pyhanko.sign.fields import SigAuthType

    for kind in SigAuthType:
        if kind.name.lower() == method:
            return kind
    return None


def read_audit(sig_object: Any) -> dict[str, Any] | None:
    """The audit trail of a signature dictionary (``EmbeddedPdfSignature.sig_object``), or
    None. A value that is not a JSON object comes back as ``{"unparsed": text}``."""
    try:
        app = sig_object["/Prop_Build"]["/App"]
        text = str(app[AUDIT_KEY])
    except (KeyError, TypeError):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"unparsed": text[:2000]}
    return value if isinstance(value, dict) else {"unparsed": text[:2000]}


_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f]+)>")
_CLAIMED = re.compile(rb"/M\s*\(((?:[^()\\]|\\.)*)\)")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)")


def _pdf_literal(raw: bytes) -> str:
    """A PDF literal string's text (pyHanko escapes ':' and the like as octal)."""
    simple = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def unescape(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8) & 0xFF])
        return simple.get(code, code)

    return _ESCAPE.sub(unescape, raw).decode("latin-1")


def _signature_times(revision: bytes) -> tuple[datetime | None, datetime | None]:
    """The claimed signing time (``/M``) and the signature time-stamp's genTime, read back
    from the signature's own revision (the bytes pyHanko appended, whose first signature
    dictionary is ours): what a validator will see, without parsing the whole PDF again."""
    from asn1crypto import cms
    from pyhanko.pdf_utils.generic import parse_pdf_date

    try:
        contents = _CONTENTS.search(revision)
        if contents is None:
            return None, None
        start = revision.rfind(b" obj", 0, contents.start())
        end = revision.find(b"endobj", contents.end())
        claimed_match = _CLAIMED.search(revision, max(start, 0), end if end > 0 else len(revision))
        claimed = parse_pdf_date(_pdf_literal(claimed_match.group(1))) if claimed_match else None
        stamped = None
        content = cms.ContentInfo.load(bytes.fromhex(contents.group(1).decode()), strict=False)
        unsigned = content["content"]["signer_infos"][0]["unsigned_attrs"]
        for attr in unsigned if isinstance(unsigned, cms.CMSAttributes) else []:
            if attr["type"].dotted == "1.2.840.113549.1.9.16.2.14":  # signature time-stamp
                token = attr["values"][0]
                tst = token["content"]["encap_content_info"]["content"].parsed
                stamped = tst["gen_time"].native
        return claimed, stamped
    except Exception:  # the signature was made; its times are a convenience
        log.debug("could not read the signature's times back", exc_info=True)
        return None, None


def _signer_name(signer: signers.Signer) -> str:
    cert = signer.signing_cert
    if cert is None:
        return ""
    return str(cert.subject.native.get("common_name", cert.subject.human_friendly))


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a unique temporary file in the same folder, fsync, rename; the temporary
    file is removed on any failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_atomic_write = atomic_write  # the name the first version used
