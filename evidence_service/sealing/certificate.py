"""The evidence certificate (取证证书): a signed PDF stating what a capture is, for a court.

What it states (all from ``certificate.json``, embedded in the PDF as an attachment so a
machine reads exactly what a person reads): the requested and final URL; the trusted time
(genTime of the manifest's RFC 3161 token -- the local clock's start and end are shown as such,
with the measured offset); the capture environment and its cleanliness checks (fresh profile,
DNS answers, hosts-file entries, proxy, outgoing address); the server's IP and TLS
certificate; a screenshot thumbnail; the SHA-256 of every file the manifest lists and of the
manifest itself; the TSA and token serial; the transparency-log entry; a QR code with the
public verification link. The certificate cannot state the package signature's token: that
token covers the package, which contains this certificate.

Signed by the service's seal (a "unit" document-signing certificate of our PKI, ECDSA P-256,
keyUsage digitalSignature + nonRepudiation, no EKU: what pdfsig and pyHanko accept) at PAdES
B-LT: signature time-stamp from the configured TSA, and the certificates, CRLs and OCSP
responses -- made locally by the PKI, no network -- in the document security store.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.errors import CertsError
from certs.locking import exclusive_lock
from certs.pki import Credential, HsmCredential
from certs.subjects import SubjectInfo
from evidence_service.sealing.certificate_layout import (
    certificate_face,
    render_certificate_pdf,
    srgb_profile,
)
from evidence_service.sealing.pdf.writer import JpegImage, jpeg_image
from evidence_service.services import Services
from signing.pades import ValidationData, pyhanko_timestamper, sign_pdf
from signing.timestamp import LocalTimestamper, Timestamper, TimestampToken
from signing.translog import canonical_json

log = logging.getLogger(__name__)

__all__ = [
    "CERTIFICATE_TYPE",
    "CertificateImages",
    "CertificateInputs",
    "IssuedCertificateInfo",
    "ManifestStamp",
    "certificate_facts",
    "certificate_images",
    "make_certificate",
    "qr_modules",
    "render_certificate",
    "service_seal_credential",
    "sign_certificate",
    "warm_up",
]

CERTIFICATE_TYPE = "evidence-certificate"
CERTIFICATE_VERSION = 1
#: The seal certificate is replaced this long before it expires.
SEAL_RENEW_BEFORE = timedelta(days=30)
BEIJING = timedelta(hours=8)
THUMB_WIDTH = 520
#: Room for the CMS signature (about 5.5 kB with our chains and token; a longer foreign TSA
#: chain makes signing measure it instead).
CMS_RESERVED_BYTES = 12 * 1024
THUMB_MAX_HEIGHT = 480


@dataclass(frozen=True)
class ManifestStamp:
    """One RFC 3161 token over files/manifest.json, as stored in the package."""

    file: str
    token: TimestampToken


@dataclass(frozen=True)
class CertificateInputs:
    capture_id: str
    service: str
    verify_url: str
    manifest: dict[str, Any]
    manifest_sha256: str
    stamps: Sequence[ManifestStamp]
    log_entry: dict[str, Any]
    provenance: dict[str, Any]
    screenshot: Path | None
    title: str | None
    authenticated: bool
    cookie_names: Sequence[str]


# -- facts ------------------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _display(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _stamp_facts(stamp: ManifestStamp) -> dict[str, Any]:
    tok = stamp.token
    return {
        "gen_time": _utc(tok.gen_time),
        "gen_time_display": _display(tok.gen_time),
        "gen_time_beijing": (tok.gen_time.astimezone(UTC) + BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "tsa": tok.tsa_name,
        "serial": str(tok.serial),
        "serial_hex": format(tok.serial, "x"),
        "policy": tok.policy_oid,
        "token_file": stamp.file,
    }


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _environment(prov: dict[str, Any]) -> dict[str, Any]:
    env = prov.get("environment") or {}
    browser = prov.get("browser") or {}
    proxy = env.get("proxy") or {}
    hosts_file = (env.get("hosts_file") or {}).get("entries") or {}
    hosts = []
    for netloc, info in (prov.get("hosts") or {}).items():
        host = netloc.rsplit(":", 1)[0].strip("[]") if ":" in netloc else netloc
        dns = info.get("dns") or {}
        hosts.append(
            {
                "host": netloc,
                "dns_addresses": list(dns.get("addresses") or []),
                "ip_literal": bool(dns.get("ip_literal")),
                "server_ips": list(info.get("server_ips") or []),
                "hosts_entries": list(hosts_file.get(host.lower(), []) or []),
                "outgoing_address": info.get("outgoing_address"),
            }
        )
    clean = env.get("clean_profile") or {}
    device = browser.get("emulated_device") or {}
    return {
        "clean_profile": bool(clean.get("fresh_context")),
        "browser": " ".join(str(x) for x in (browser.get("name"), browser.get("version")) if x)
        + (f" · 模拟设备 emulating {device['name']}" if device.get("name") else "")
        + (f" · {browser.get('user_agent')}" if browser.get("user_agent") else ""),
        "proxy_used": bool(proxy.get("used_by_capture")),
        "proxy_in_environment": bool(proxy.get("proxy_configured_in_environment")),
        "nameservers": list((env.get("resolver") or {}).get("nameservers") or []),
        "hosts": hosts,
    }


def _server(prov: dict[str, Any]) -> dict[str, Any]:
    main = prov.get("main_document") or {}
    final = prov.get("final_url") or ""
    tls = None
    for netloc, info in (prov.get("hosts") or {}).items():
        if info.get("tls") and final.split("/")[2:3] == [netloc]:
            chain = info["tls"].get("certificate_chain") or []
            leaf = chain[0] if chain else {}
            tls = {
                "subject": leaf.get("subject") or info["tls"].get("subject_name"),
                "issuer": leaf.get("issuer") or info["tls"].get("issuer"),
                "not_before": leaf.get("not_before"),
                "not_after": leaf.get("not_after"),
                "sha256": leaf.get("sha256"),
                "protocol": info["tls"].get("protocol"),
            }
    return {
        "ip": main.get("server_ip"),
        "port": main.get("server_port"),
        "protocol": main.get("protocol"),
        "tls": tls,
    }


def certificate_facts(inputs: CertificateInputs, *, issued_at: datetime) -> dict[str, Any]:
    """``certificate.json``: every fact the certificate shows (docs/evidence-package.md)."""
    if not inputs.stamps:
        raise ValueError("a certificate needs at least one time-stamp over the manifest")
    manifest = inputs.manifest
    prov = inputs.provenance
    clock = (prov.get("environment") or {}).get("clock") or {}
    started = _parse_time(manifest.get("capture_started"))
    ended = _parse_time(manifest.get("capture_ended"))
    return {
        "type": CERTIFICATE_TYPE,
        "version": CERTIFICATE_VERSION,
        "capture_id": inputs.capture_id,
        "service": inputs.service,
        "issued_at": _utc(issued_at),
        "verify_url": inputs.verify_url,
        "target": {
            "requested_url": manifest.get("requested_url"),
            "final_url": manifest.get("final_url"),
            "http_status": manifest.get("http_status"),
            "title": inputs.title,
            "outcome": manifest.get("outcome"),
            "limits_hit": list(manifest.get("limits_hit") or []),
            "authenticated": inputs.authenticated,
            "cookie_names": list(inputs.cookie_names),
        },
        "trusted_time": _stamp_facts(inputs.stamps[0]),
        "additional_timestamps": [_stamp_facts(s) for s in inputs.stamps[1:]],
        "local_clock": {
            "capture_started": manifest.get("capture_started"),
            "capture_ended": manifest.get("capture_ended"),
            "capture_started_display": _display(started) if started else "—",
            "capture_ended_display": _display(ended) if ended else "—",
            "clock_measured": bool(clock.get("measured")),
            "clock_offset_seconds": clock.get("offset_seconds"),
            "clock_uncertainty_seconds": clock.get("uncertainty_seconds"),
        },
        "environment": _environment(prov),
        "server": _server(prov),
        "files": dict(manifest.get("files") or {}),
        "manifest": {"path": "files/manifest.json", "sha256": inputs.manifest_sha256},
        "transparency_log": dict(inputs.log_entry),
    }


# -- rendering --------------------------------------------------------------------------------


def _thumbnail(screenshot: Path | None) -> JpegImage | None:
    """The top of the screenshot, scaled down, as a JPEG (embedded in the PDF as it is).

    Full-page screenshots are tall (a listing page is often 1280 x 5000 px and more): only
    the rows shown are decoded when the PNG allows it, which is most of the cost saved."""
    if screenshot is None or not screenshot.is_file():
        return None
    try:
        top = _top_rows(screenshot, partial=True)
    except Exception:  # a Pillow without the internals used: decode everything
        log.debug("partial PNG decoding failed; decoding the whole screenshot", exc_info=True)
        top = _top_rows(screenshot, partial=False)
    if top is None:
        return None
    if top.mode != "RGB":
        top = top.convert("RGB")
    factor = max(1, top.width // THUMB_WIDTH)
    if factor > 1:
        top = top.reduce(factor)
    out = io.BytesIO()
    top.save(out, format="JPEG", quality=80)
    return jpeg_image(out.getvalue())


def _top_rows(path: Path, *, partial: bool) -> Any:
    """The first rows of the image (as many as the thumbnail shows), or None if empty.

    ``partial``: for a plain PNG (one tile, not interlaced) shorten the tile and the image
    size before decoding, so Pillow stops after those rows."""
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
        if width == 0 or height == 0:
            return None
        rows = min(height, int(width * THUMB_MAX_HEIGHT / THUMB_WIDTH))
        tiles = list(getattr(img, "tile", None) or [])
        if (
            partial
            and rows < height
            and img.format == "PNG"
            and len(tiles) == 1
            and not img.info.get("interlace")
            and tuple(tiles[0][1]) == (0, 0, width, height)
        ):
            img.tile = [tiles[0]._replace(extents=(0, 0, width, rows))]
            img._size = (width, rows)
            img.load()
            return img.copy()
        img.load()
        return img.crop((0, 0, width, rows))


def qr_modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code's modules (with a two-module quiet zone), drawn as vector squares."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2)
    code.add_data(url)
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


@dataclass(frozen=True)
class CertificateImages:
    """The thumbnail and QR code (made ahead, while the manifest is stamped)."""

    thumbnail: JpegImage | None
    qr: tuple[tuple[bool, ...], ...]


def certificate_images(
    screenshot: Path | None, verify_url: str, *, qr: tuple[tuple[bool, ...], ...] | None = None
) -> CertificateImages:
    """The thumbnail and the QR code of ``verify_url`` (``qr``: already made for it)."""
    try:
        thumbnail = _thumbnail(screenshot)
    except Exception:  # an unreadable screenshot must not stop the seal; the package has it
        log.warning("no thumbnail for the certificate: %s is unreadable", screenshot, exc_info=True)
        thumbnail = None
    return CertificateImages(thumbnail, qr or qr_modules(verify_url))


def render_certificate(
    facts: dict[str, Any], screenshot: Path | None, images: CertificateImages | None = None
) -> bytes:
    """The unsigned certificate: PDF/A-3b with ``certificate.json`` attached (see
    :mod:`evidence_service.sealing.certificate_layout` for the layout)."""
    if images is None or not images.qr:
        images = certificate_images(screenshot, facts["verify_url"])
    return render_certificate_pdf(
        facts, thumbnail=images.thumbnail, qr=images.qr, attachment=canonical_json(facts)
    )


# -- the service seal ---------------------------------------------------------------------------


_SEALS: dict[str, tuple[Credential, Any]] = {}
_SEALS_LOCK = threading.Lock()


def seal_name(hostname: str) -> str:
    """The seal certificate's holder name (O and CN), at most 64 characters (X.520)."""
    name = f"电子证据固定服务 {hostname}"
    return name if len(name) <= 64 else name[:64]


def service_seal_credential(services: Services) -> Credential:
    """The service's seal: found in the PKI register by name, issued on first use and again
    when the current one nears expiry or was revoked."""
    pki = services.pki
    key = str(pki.directory)
    now = datetime.now(UTC)
    with _SEALS_LOCK:
        cached = _SEALS.get(key)
    if cached is not None and now + SEAL_RENEW_BEFORE < cached[0].cert.not_valid_after_utc:
        try:
            pki.check_can_sign(cached[0].cert)  # revoked meanwhile? (a register lookup)
            return cached[0]
        except CertsError:
            log.warning(
                "the service seal %x was revoked; issuing a new one", cached[0].cert.serial_number
            )
    name = seal_name(pki.hostname)
    with exclusive_lock(pki.directory / ".seal.lock"):
        credential: Credential | HsmCredential | None
        try:
            credential = pki.credential(name)
        except CertsError:
            credential = None
        if (
            credential is not None
            and now + SEAL_RENEW_BEFORE >= credential.cert.not_valid_after_utc
        ):
            credential = None
        if credential is None:
            record = pki.issue("unit", SubjectInfo(name=name))
            credential = pki.credential(record.serial)
    if not isinstance(credential, Credential):
        raise CertsError(f"the service seal {name!r} must be a software key of this PKI")
    with _SEALS_LOCK:
        _SEALS[key] = (credential, None)
    return credential


_SIGNERS: dict[int, Any] = {}


def _pdf_signer(services: Services, credential: Credential) -> Any:
    """A pyHanko signer for the seal, kept per certificate (the key stays loaded)."""
    from signing.signers import pdf_signer

    serial = credential.cert.serial_number
    signer = _SIGNERS.get(serial)
    if signer is None:
        signer = pdf_signer(credential, services.pki)
        _SIGNERS[serial] = signer
    return signer


#: Locally made OCSP responses are reused for at most this long (and only while both CRLs
#: are unchanged: a revocation replaces the CRL, see ``certs.pki.Pki.revoke``). Making them
#: is the costliest part of the validation data (two signed responses per certificate).
OCSP_REUSE = timedelta(seconds=60)
_OCSPS: dict[tuple[Any, ...], tuple[datetime, list[bytes]]] = {}
_OCSPS_LOCK = threading.Lock()


def _local_revocation(
    services: Services, certs: Sequence[x509.Certificate]
) -> tuple[list[bytes], list[bytes]]:
    """The current CRLs of our CAs and an OCSP response for each of ``certs`` (ours)."""
    import hashlib

    from cryptography.hazmat.primitives import hashes

    pki = services.pki
    crls = [pki.crl_der("issuing"), pki.crl_der("root")]
    key = (
        str(pki.directory),
        tuple(c.fingerprint(hashes.SHA256()) for c in certs),
        *(hashlib.sha256(c).digest() for c in crls),
    )
    now = datetime.now(UTC)
    with _OCSPS_LOCK:
        cached = _OCSPS.get(key)
    if cached is not None and now - cached[0] < OCSP_REUSE:
        return crls, cached[1]
    ocsps = []
    for cert in certs:
        try:
            ocsps.append(pki.ocsp_response_for(cert))
        except CertsError:
            continue  # not issued by our issuing CA: no local data for it
    with _OCSPS_LOCK:
        for old in [k for k, (made, _o) in _OCSPS.items() if now - made >= OCSP_REUSE]:
            del _OCSPS[old]
        _OCSPS[key] = (now, ocsps)
    return crls, ocsps


def _validation_data(
    services: Services, seal: Credential, tsa_certs: Sequence[x509.Certificate]
) -> ValidationData:
    """Certificates and revocation data to embed (B-LT), all made locally, no network.

    Handed to the signature as they are (:class:`signing.pades.ValidationData`): our PKI
    made every one of them, so pyHanko need not validate the seal's and the TSA's paths to
    collect them again (that was half of the certificate's signing time). What it would
    have checked on the way is checked here: the seal's OCSP response says good.

    With the built-in TSA everything chains to our root and carries revocation data (the
    seal's and the TSA's OCSP responses, both CRLs). A foreign TSA's chain (it came with
    its token, its root pinned by the operator's tsa_ca_file) is embedded without
    revocation data, which cannot be had offline. The OCSP responses may be reused for a
    while (:data:`OCSP_REUSE`).
    """
    from cryptography.x509 import ocsp

    pki = services.pki
    foreign = [c for c in tsa_certs if c.issuer not in (pki.issuing.subject, pki.root.subject)]
    if not foreign:
        tsa = pki.tsa_credential()
        crls, ocsps = _local_revocation(services, [seal.cert, tsa.cert])
        tsa_path = [tsa.cert, *tsa.chain]
    else:
        crls, ocsps = _local_revocation(services, [seal.cert])
        tsa_path = list(tsa_certs)
    seal_status = next(
        (
            r.certificate_status
            for r in map(ocsp.load_der_ocsp_response, ocsps)
            if r.serial_number == seal.cert.serial_number
        ),
        None,
    )
    if seal_status is not ocsp.OCSPCertStatus.GOOD:
        raise CertsError(
            f"the service seal {seal.cert.serial_number:x} is not in good standing "
            f"({seal_status.name.lower() if seal_status else 'no OCSP response'}); "
            "it cannot sign a certificate"
        )
    certs: dict[bytes, x509.Certificate] = {}
    for cert in [seal.cert, *seal.chain, *tsa_path, pki.ocsp_credential().cert]:
        certs.setdefault(cert.public_bytes(serialization.Encoding.DER), cert)
    return ValidationData(certs=tuple(certs.values()), ocsps=tuple(ocsps), crls=tuple(crls))


def _signature_timestamper(timestamper: Timestamper) -> Any:
    """The pyHanko time-stamper for the certificate's signature time-stamp.

    The built-in TSA is called directly in pyHanko's event loop: it is CPU work of a few
    milliseconds, and ``signing.pades``'s generic adapter would hand every call to a new
    thread of a new loop's executor (pyHanko runs one event loop per signature). One adapter
    per TSA: pyHanko sizes the signature with a dummy token once per adapter."""
    if not isinstance(timestamper, LocalTimestamper):
        return pyhanko_timestamper(timestamper)
    authority = timestamper.authority
    with _STAMPERS_LOCK:
        adapter = _STAMPERS.get(authority)
        if adapter is None:
            adapter = _STAMPERS[authority] = _in_process_timestamper(authority)
        return adapter


_STAMPERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_STAMPERS_LOCK = threading.Lock()


def _in_process_timestamper(authority: Any) -> Any:
    from asn1crypto import tsp
    from pyhanko.sign.timestamps import TimeStamper

    class InProcessTimeStamper(TimeStamper):
        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            return tsp.TimeStampResp.load(authority.respond(req.dump()))

    return InProcessTimeStamper()


def sign_certificate(
    services: Services,
    pdf: bytes,
    output: Path,
    *,
    tsa_certs: Sequence[x509.Certificate] = (),
    credential: Credential | None = None,
    reason: str = "电子数据取证证书 / evidence capture certificate",
) -> str:
    """PAdES-sign the certificate with the service seal; returns the level reached.

    B-LT: the signature time-stamp comes from the first configured TSA (``tsa_certs``: its
    chain, from a token it issued); certificates, CRLs and OCSP responses of our PKI are
    embedded, made locally (see :func:`_validation_data`). ``credential``: the seal, if
    the caller already has it from :func:`service_seal_credential`. ``reason``: the
    signature's stated reason (the comparison report signs the same way with its own).
    """
    credential = credential or service_seal_credential(services)
    timestamper = services.timestampers[0]
    if isinstance(timestamper, LocalTimestamper):
        tsa_certs = ()
    sign_pdf(
        pdf,
        output,
        _pdf_signer(services, credential),
        level="b-lt",
        timestamper=_signature_timestamper(timestamper),
        validation_data=_validation_data(services, credential, tsa_certs),
        field_name="EvidenceServiceSeal",
        reason=reason,
        location=services.settings.effective_hostname,
        bytes_reserved=CMS_RESERVED_BYTES,
    )
    return "b-lt"


#: Facts of the shape the template needs, for warming up (never signed or stored).
_SAMPLE_FACTS: dict[str, Any] = {
    "type": CERTIFICATE_TYPE,
    "version": CERTIFICATE_VERSION,
    "capture_id": "0" * 32,
    "service": "warm-up",
    "issued_at": "2026-01-01T00:00:00Z",
    "verify_url": "https://x/v/x",
    "target": {
        "requested_url": "https://example.com/",
        "final_url": "https://example.com/",
        "http_status": 200,
        "title": "商品详情",
        "outcome": "complete",
        "limits_hit": [],
        "authenticated": False,
        "cookie_names": [],
    },
    "trusted_time": {
        "gen_time": "2026-01-01T00:00:00Z",
        "gen_time_display": "2026-01-01 00:00:00.000 UTC",
        "gen_time_beijing": "2026-01-01 08:00:00",
        "tsa": "TSA",
        "serial": "1",
        "serial_hex": "1",
        "policy": "1.2.3",
        "token_file": "files/manifest.tsr",
    },
    "additional_timestamps": [],
    "local_clock": {
        "capture_started_display": "—",
        "capture_ended_display": "—",
        "clock_measured": True,
        "clock_offset_seconds": 0.0,
        "clock_uncertainty_seconds": 0.0,
    },
    "environment": {
        "clean_profile": True,
        "browser": "Chromium",
        "proxy_used": False,
        "proxy_in_environment": False,
        "nameservers": ["127.0.0.1"],
        "hosts": [
            {
                "host": "example.com",
                "dns_addresses": ["127.0.0.1"],
                "ip_literal": False,
                "hosts_entries": [],
                "outgoing_address": "127.0.0.1",
            }
        ],
    },
    "server": {"ip": "127.0.0.1", "port": 443, "protocol": "h2", "tls": None},
    "files": {"archive/data.warc.gz": "sha256:" + "0" * 64},
    "manifest": {"path": "files/manifest.json", "sha256": "0" * 64},
    "transparency_log": {
        "log_id": "0" * 64,
        "leaf_index": 0,
        "leaf_hash": "0" * 64,
        "log_url": "https://x/api/log",
    },
}
_WARMED: set[str] = set()
_WARM_LOCK = threading.Lock()


def warm_up(services: Services) -> None:
    """Do once per process what the first certificate would otherwise pay for: read the CJK
    face, make the sRGB profile, find or issue the seal and load its key, build the PDF signer
    and time-stamp adapter. Run while the browser captures the page."""
    key = str(services.pki.directory)
    with _WARM_LOCK:
        if key in _WARMED:
            return
        _WARMED.add(key)
    try:
        certificate_face()
        srgb_profile()
        render_certificate(
            _SAMPLE_FACTS, None, CertificateImages(None, qr_modules("https://x/v/x"))
        )
        credential = service_seal_credential(services)
        _pdf_signer(services, credential)
        timestamper = services.timestampers[0]
        adapter = _signature_timestamper(timestamper)
        if isinstance(timestamper, LocalTimestamper):  # in-process: no TSA traffic for this
            import asyncio

            asyncio.run(adapter.async_dummy_response("sha256"))
    except Exception:  # the seal will do (and report) it properly
        log.debug("certificate warm-up failed", exc_info=True)


@dataclass(frozen=True)
class IssuedCertificateInfo:
    """What :func:`make_certificate` produced: the facts and how long each step took."""

    facts: dict[str, Any]
    render_s: float
    sign_s: float
    #: PEM chain of the seal that signed it (leaf first).
    seal_chain_pem: bytes = b""


def make_certificate(
    services: Services,
    inputs: CertificateInputs,
    output: Path,
    *,
    images: CertificateImages | None = None,
) -> IssuedCertificateInfo:
    """Render and sign the certificate into ``output`` (written atomically)."""
    started = time.perf_counter()
    facts = certificate_facts(inputs, issued_at=datetime.now(UTC))
    pdf = render_certificate(facts, inputs.screenshot, images)
    rendered = time.perf_counter()
    credential = service_seal_credential(services)
    sign_certificate(
        services,
        pdf,
        output,
        tsa_certs=inputs.stamps[0].token.certificates,
        credential=credential,
    )
    return IssuedCertificateInfo(
        facts, rendered - started, time.perf_counter() - rendered, credential.chain_pem()
    )
