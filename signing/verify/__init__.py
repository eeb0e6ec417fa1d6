"""The court verifier: offline verification of sealed evidence, with a report a court can file.

Accepts our WACZ packages (``docs/evidence-package.md``), WACZ files signed by others
(Webrecorder authsign: identity mode with ``domainCert``/``timeSignature``, or anonymous mode
with ``publicKey``), any PAdES-signed PDF (our evidence certificates included), and a bare RFC
3161 token or response with the data it stamps. Nothing is fetched: trust comes from the trust
bundle given (or the service's own), revocation from the bundle, the proofs sidecar and the
PDF's DSS.

Public API::

    verify_file(path, *, trust, proofs=None, data_path=None, options=VerifyOptions(),
                packages=()) -> Report
        (VerifyOptions(at=moment): validation as of a past moment, with the present verdict)
    verify_stream(fh, size, name, *, trust, proofs=None, data=None, options=...) -> Report
    validate_pdf(path_or_stream, trust_roots_pem, *, extra_crls=None, extra_ocsps=None,
                 require_revocation=False, attachments=()) -> PdfReport
    load_trust_bundle(pem, source=..., description=Text(...)) -> TrustStore
    render_json(report) / render_html(report, lang) / render_pdf(report, lang)

Checks of a WACZ package, in report order (``id``: what it checks)::

    zip.container                 ZIP: no path traversal / absolute names, no duplicates, no
                                  encryption, size and compression-ratio limits, CRC-32 of every
                                  entry, local headers = central directory, no unaccounted bytes
    package.digest                datapackage-digest.json: hash of datapackage.json
    package.signature             signature over that hash; signer chain to a trust anchor at the
                                  time-stamp's time; WACZ rules (domain in SAN, created within 7
                                  days of notBefore, = datapackage.json created); anonymous mode:
                                  the publicKey must be in the trust bundle
    package.signature.revocation  signer chain not revoked at the time-stamp's time
    package.timestamp[.N]         RFC 3161 token(s) over the signature: imprint, CMS signature,
                                  ESS signing-certificate, TSA chain + critical EKU timeStamping,
                                  genTime within [created - 1 s, created + 10 min]
    package.resources             every datapackage.json resource: SHA-256 and size; files in the
                                  ZIP but not listed
    warc.records                  every WARC record's WARC-Block-Digest / WARC-Payload-Digest
    warc.resources                files/screenshot|page.pdf|provenance.json|video.webm = their
                                  urn: records
    manifest.content              files/manifest.json hashes = package files
    manifest.timestamp[.N]        files/manifest[.N].tsr over manifest.json; after capture_ended,
                                  before the package time-stamp (trusted capture time)
    certificate.signature[.N]     files/certificate.pdf PAdES signature(s) (validate_pdf)
    certificate.timestamp.N       its document time-stamps
    certificate.content           hashes in its embedded certificate.json = this package
    proofs.file                   the proofs sidecar parses and names this package's SHA-256
    log.inclusion                 log-entry.json leaf = SHA-256(manifest.json); RFC 9162 audit
                                  path to the STH root; STH signature, signer chain, time-stamp
    proofs.archive_timestamps     archive time-stamp chain of the sidecar

A PDF on its own gives ``pdf.document`` and ``pdf.signature[.N]`` / ``pdf.timestamp.N``; a
comparison report (a PDF with ``comparison.json`` attached) also ``comparison.content``,
``comparison.packages`` (the packages given with ``packages=`` / ``--package`` are the two it
cites, by SHA-256) and ``comparison.package.a|b`` (each verified in full), see
:mod:`signing.verify.comparison`; a
token gives ``timestamp.token`` and ``timestamp.revocation``; anything else ``file.format``.

Mapping to ETSI EN 319 102-1 (status of a check -> overall indication)::

    FAILED        -> TOTAL-FAILED  with the check's sub-indication:
      FORMAT_FAILURE      damaged/unsafe ZIP, bad JSON/DER, file not listed in the signed
                          datapackage.json, WARC unreadable, PDF changed after signing in a way
                          its signature does not allow (pyHanko DiffResult level OTHER)
      HASH_FAILURE        a file, datapackage.json, WARC record, manifest entry, token imprint,
                          certificate.json hash or log leaf/audit path does not match
      SIG_CRYPTO_FAILURE  a signature value (package, token CMS, PDF, STH) does not verify
      REVOKED             a signer certificate was revoked before its proven signing time
      NOT_YET_VALID       a certificate was not yet valid at a proven signing time
    INDETERMINATE -> INDETERMINATE with:
      NO_CERTIFICATE_CHAIN_FOUND   no path to a trust anchor (no/other trust bundle, foreign
                                   CA, anonymous key not in the bundle)
      NO_SIGNING_CERTIFICATE_FOUND unsigned package/PDF, TSA certificate not found
      SIGNED_DATA_NOT_FOUND        a file the signed lists name is missing; no --data for a token
      OUT_OF_BOUNDS_NO_POE         certificate expired and no time-stamp proves earlier existence
      REVOKED_NO_POE / REVOKED_CA_NO_POE  revoked, and no proof the signature came first
      TRY_LATER                    no revocation data offline; no log inclusion proof yet
      NO_POE                       a signature or manifest without any time-stamp
      TIMESTAMP_ORDER_FAILURE      token times out of the allowed order/window
      SIG_CONSTRAINTS_FAILURE      WACZ signing rules (domain, 7-day window, created) broken
      CHAIN_CONSTRAINTS_FAILURE    CA flags, path length, key usage, EKU
      CRYPTO_CONSTRAINTS_FAILURE   weak/unsupported algorithm (e.g. a SHA-1 imprint)
    PASSED / NOT_APPLICABLE -> no effect.

Overall: TOTAL-FAILED if any counting check FAILED; else INDETERMINATE if any counting check is
INDETERMINATE; else TOTAL-PASSED. The sub-indication is the first deciding check's. Two checks
do not count when what they lack is an *optional external input* (validation policy, reported
in ``policy``): revocation data simply unavailable offline (TRY_LATER) under the default
"if-available" revocation policy (``--require-revocation`` makes it count), and a log inclusion
proof not supplied (the sidecar is published later). Anything supplied is verified and every
failure counts. NOT_APPLICABLE means the item is absent and its absence is allowed (e.g. a
package sealed before manifests existed); stripping such an item from a newer package still
fails, because ``package.resources`` then finds a signed file missing.
"""

from __future__ import annotations

from .container import Limits
from .engine import (
    ValidationTimeError,
    VerifyOptions,
    detect_kind,
    parse_validation_time,
    verify_file,
    verify_stream,
)
from .model import (
    REPORT_JSON_SCHEMA,
    Check,
    Indication,
    Report,
    Status,
    Sub,
    Text,
)
from .pdf import PdfReport, PdfSignatureReport, validate_pdf
from .render import render_html, render_json, render_pdf, render_text
from .trust import TrustStore, load_trust_bundle

__all__ = [
    "REPORT_JSON_SCHEMA",
    "Check",
    "Indication",
    "Limits",
    "PdfReport",
    "PdfSignatureReport",
    "Report",
    "Status",
    "Sub",
    "Text",
    "TrustStore",
    "ValidationTimeError",
    "VerifyOptions",
    "detect_kind",
    "load_trust_bundle",
    "parse_validation_time",
    "render_html",
    "render_json",
    "render_pdf",
    "render_text",
    "validate_pdf",
    "verify_file",
    "verify_stream",
]
