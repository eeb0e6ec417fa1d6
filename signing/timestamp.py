"""RFC 3161 time-stamping client, and verification of time-stamp tokens.

``rfc3161ng`` only encodes the request here (with a digest we compute ourselves: its
``make_timestamp_request(data=...)`` hashes with SHA-1 whatever ``hashname`` says). Everything
else is done with asn1crypto and cryptography, because rfc3161ng does not check the response
status, hides refusals, and verifies RSA PKCS#1 v1.5 only. Every answer is checked before it
is trusted: status, imprint, nonce, the CMS signature and the signing-certificate attribute.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
import rfc3161ng
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.pki import load_pem_certificates

from . import tokens
from .chains import ChainError, build_chain, is_self_signed, validate_chain
from .errors import (
    TimestampError,
    TimestampVerificationError,
    TsaBadResponseError,
    TsaChainError,
    TsaRefusedError,
    TsaUnavailableError,
)
from .tsa import TimeStampAuthority

__all__ = [
    "HttpTimestamper",
    "LocalTimestamper",
    "TimestampError",
    "TimestampToken",
    "Timestamper",
    "read_timestamp",
    "verify_timestamp",
    "verify_timestamp_with",
]

REQUEST_CONTENT_TYPE = "application/timestamp-query"
#: RFC 3161 §3.4; the second is an old draft's name that some TSAs still send.
REPLY_CONTENT_TYPES = ("application/timestamp-reply", "application/timestamp-response")
MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TimestampToken:
    #: The whole TimeStampResp (what a WACZ ``timeSignature`` carries).
    response_der: bytes
    #: The TimeStampToken (CMS ContentInfo), e.g. for PAdES or ``openssl ts -token_in``.
    token_der: bytes
    gen_time: datetime
    serial: int
    policy_oid: str
    #: The TSA certificate's subject, human readable.
    tsa_name: str
    #: The TSA's URL (credentials removed), "builtin" for the in-process TSA.
    tsa_url: str
    #: The TSA certificate first, then its issuers as far as known (root last when known).
    certs_pem: bytes

    @property
    def certificates(self) -> list[x509.Certificate]:
        return load_pem_certificates(self.certs_pem)

    @property
    def chain_complete(self) -> bool:
        """Does ``certs_pem`` end with a self-signed root (what WACZ verifiers need)?"""
        certs = self.certificates
        return bool(certs) and is_self_signed(certs[-1])


class Timestamper(Protocol):
    name: str

    def stamp(self, data: bytes) -> TimestampToken:
        """Time-stamp SHA-256(``data``); raise a :class:`TimestampError` on any failure."""
        ...


def require_complete_chain(token: TimestampToken, purpose: str) -> TimestampToken:
    """``token``, or :class:`TsaChainError` when its TSA's chain does not reach a root.

    Every stamp we keep (a manifest's, a package signature's, an archive time-stamp) must be
    checkable by a verifier from what it embeds; a TSA whose CA certificates are not
    configured gives tokens that cannot be. ``purpose`` ends the message: what the chain is
    for ("verifiers can check archive time-stamps")."""
    if not token.chain_complete:
        raise TsaChainError(
            f"the certificate chain of time-stamp authority {token.tsa_url} does not reach a "
            f"root certificate; configure the TSA's CA certificates (tsa_ca_file) so that "
            f"{purpose}",
            tsa_url=token.tsa_url,
        )
    return token


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def _request(digest: bytes, nonce: int) -> bytes:
    req = rfc3161ng.make_timestamp_request(
        digest=digest, hashname="sha256", include_tsa_certificate=True, nonce=nonce
    )
    return bytes(rfc3161ng.encode_timestamp_request(req))


def subject_name(cert: x509.Certificate) -> str:
    """A certificate's subject as people read it (how a TSA is named in tokens and reports)."""
    from asn1crypto import x509 as asn1_x509

    return str(asn1_x509.Name.load(cert.subject.public_bytes()).human_friendly)


def _token(
    der: bytes,
    parsed: tokens.ParsedToken,
    signer: x509.Certificate,
    chain: Sequence[x509.Certificate],
    tsa_url: str = "",
) -> TimestampToken:
    """``der`` is what was checked: kept as ``response_der`` when it is a whole response."""
    der = bytes(der)
    return TimestampToken(
        response_der=der if parsed.token_der != der else b"",
        token_der=parsed.token_der,
        gen_time=parsed.gen_time,
        serial=parsed.serial,
        policy_oid=parsed.policy_oid,
        tsa_name=subject_name(signer),
        tsa_url=tsa_url,
        certs_pem=tokens.cert_pem(chain),
    )


def _accept(
    response_der: bytes,
    *,
    digest: bytes,
    nonce: int,
    tsa_url: str,
    known_certs: Sequence[x509.Certificate],
) -> TimestampToken:
    """Check one TSA answer against our request; the error names ``tsa_url``."""
    where = f"time-stamp authority {tsa_url}"
    try:
        parsed = tokens.parse_response(response_der)
    except ValueError as exc:
        raise TsaBadResponseError(
            f"{where} answered something that is not an RFC 3161 response ({exc})",
            tsa_url=tsa_url,
        ) from None
    if isinstance(parsed, tokens.Refusal):
        failures = ", ".join(parsed.failure_info) or "no failure info"
        raise TsaRefusedError(
            f"{where} refused the time-stamp request: "
            f"{parsed.status_string or 'no reason given'} ({failures})",
            tsa_url=tsa_url,
            status=parsed.status,
            status_string=parsed.status_string,
            failure_info=parsed.failure_info,
        )
    problem = None
    if parsed.imprint_algorithm != "sha256" or parsed.imprint != digest:
        problem = "the token time-stamps different data than we sent (imprint mismatch)"
    elif parsed.nonce != nonce:
        problem = "the token does not echo our nonce (a replayed or misrouted answer?)"
    if problem:
        raise TsaBadResponseError(f"{where}: {problem}", tsa_url=tsa_url)
    try:
        signer = tokens.find_signer(parsed, known_certs)
        tokens.check_signature(parsed, signer)
    except ValueError as exc:
        raise TsaBadResponseError(f"{where}: {exc}", tsa_url=tsa_url) from None
    chain = build_chain(signer, [*parsed.certificates, *known_certs])
    return _token(response_der, parsed, signer, chain, tsa_url)


def _new_nonce() -> int:
    return secrets.randbits(63) | (1 << 62)  # positive, always 8 bytes


class HttpTimestamper:
    """A remote RFC 3161 TSA over HTTP(S) (RFC 3161 §3.4)."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, extra_certs_pem: bytes | None = None
    ) -> None:
        """``extra_certs_pem``: the TSA's certificate chain (up to its root), for TSAs whose
        tokens omit it; also completes ``certs_pem`` of every token."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"TSA URL must be http:// or https://, got {_redact(url)!r}")
        self.url = url
        self.name = _redact(url)
        self.timeout = timeout
        self.extra_certs = load_pem_certificates(extra_certs_pem) if extra_certs_pem else []

    def __repr__(self) -> str:
        return f"HttpTimestamper({self.name!r})"

    def stamp(self, data: bytes) -> TimestampToken:
        digest = hashlib.sha256(data).digest()
        nonce = _new_nonce()
        body = self._post(_request(digest, nonce))
        return _accept(
            body, digest=digest, nonce=nonce, tsa_url=self.name, known_certs=self.extra_certs
        )

    def _post(self, request_der: bytes) -> bytes:
        where = f"time-stamp authority {self.name}"
        retry = "the package stays unsealed and sealing will be retried"
        try:
            resp = requests.post(
                self.url,
                data=request_der,
                headers={
                    "Content-Type": REQUEST_CONTENT_TYPE,
                    "Accept": REPLY_CONTENT_TYPES[0],
                },
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise TsaUnavailableError(
                f"{where} did not answer within {self.timeout:g} s; {retry}", tsa_url=self.name
            ) from None
        except requests.RequestException as exc:
            raise TsaUnavailableError(
                f"{where} is unreachable ({type(exc).__name__}); {retry}", tsa_url=self.name
            ) from None
        with resp:
            status = resp.status_code
            if status >= 500 or status in (408, 429):
                raise TsaUnavailableError(
                    f"{where} answered HTTP {status} {resp.reason}; {retry}", tsa_url=self.name
                )
            if status != 200:
                raise TsaBadResponseError(
                    f"{where} answered HTTP {status} {resp.reason}; check the TSA URL and "
                    "whether it needs credentials",
                    tsa_url=self.name,
                )
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if ctype not in REPLY_CONTENT_TYPES:
                raise TsaBadResponseError(
                    f"{where} answered Content-Type {ctype or '(none)'!r} instead of "
                    f"{REPLY_CONTENT_TYPES[0]}: is this URL really an RFC 3161 TSA?",
                    tsa_url=self.name,
                )
            try:
                body = resp.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
            except Exception as exc:
                raise TsaUnavailableError(
                    f"{where}: the answer was cut off ({type(exc).__name__}); {retry}",
                    tsa_url=self.name,
                ) from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise TsaBadResponseError(f"{where} sent an answer over 1 MiB", tsa_url=self.name)
        return bytes(body)


class LocalTimestamper:
    """The built-in TSA called in-process: the same DER as over HTTP, without the network."""

    def __init__(self, authority: TimeStampAuthority | Callable[[], TimeStampAuthority]) -> None:
        """``authority``: the TSA, or a function giving the current one (the built-in TSA's
        key and certificate are replaced when revoked or near expiry)."""
        self._authority = authority
        self.name = "builtin"

    @property
    def authority(self) -> TimeStampAuthority:
        if isinstance(self._authority, TimeStampAuthority):
            return self._authority
        return self._authority()

    def stamp(self, data: bytes) -> TimestampToken:
        authority = self.authority
        digest = hashlib.sha256(data).digest()
        nonce = _new_nonce()
        response = authority.respond(_request(digest, nonce))
        credential = authority.credential
        return _accept(
            response,
            digest=digest,
            nonce=nonce,
            tsa_url="builtin",
            known_certs=[credential.cert, *credential.chain],
        )


def verify_timestamp(token_der: bytes, data: bytes, trusted_roots_pem: bytes) -> TimestampToken:
    """Verify a time-stamp over ``data`` and return what it says.

    ``token_der`` may be a TimeStampToken or a whole (granted) TimeStampResp. Checked: the
    imprint (SHA-256/384/512 of ``data``), the CMS signature, the signing-certificate
    attribute, and a path from the TSA certificate to a self-signed root of
    ``trusted_roots_pem`` valid at genTime, with extendedKeyUsage timeStamping (critical).
    Other certificates in ``trusted_roots_pem`` (e.g. our whole trust bundle) serve only as
    intermediates. Revocation is not checked here.
    """
    bundle = load_pem_certificates(trusted_roots_pem)
    anchors = [c for c in bundle if is_self_signed(c)]
    return verify_timestamp_with(token_der, data, anchors=anchors, pool=bundle)


def verify_timestamp_with(
    token_der: bytes,
    data: bytes,
    *,
    anchors: Sequence[x509.Certificate],
    pool: Sequence[x509.Certificate] = (),
) -> TimestampToken:
    """:func:`verify_timestamp` with trust anchors and untrusted intermediates given apart
    (so that certificates shipped next to a token can help build the path, never be trusted)."""
    try:
        parsed = parse_any(token_der)
    except ValueError as exc:
        raise TimestampVerificationError(f"invalid time-stamp: {exc}") from None
    if not tokens.imprint_matches(parsed, data):
        raise TimestampVerificationError(
            f"the time-stamp does not cover this data ({parsed.imprint_algorithm} imprint "
            "differs, or the algorithm is not accepted)"
        )
    candidates = [*parsed.certificates, *pool]
    try:
        signer = tokens.find_signer(parsed, candidates)
        tokens.check_signature(parsed, signer)
        chain = validate_chain(
            signer,
            candidates,
            anchors,
            at=parsed.gen_time,
            required_eku=ExtendedKeyUsageOID.TIME_STAMPING,
            eku_must_be_critical=True,
        )
    except (ValueError, ChainError) as exc:
        raise TimestampVerificationError(f"the time-stamp does not verify: {exc}") from None
    return _token(token_der, parsed, signer, chain)


def read_timestamp(der: bytes, extra_certs_pem: bytes = b"") -> TimestampToken:
    """What a time-stamp (token or whole response) says, for display and search.

    Checks the signature with the TSA certificate found in the token (or ``extra_certs_pem``)
    but not trust: use :func:`verify_timestamp` for that. The TSA is identified by the
    signer, not by the first certificate of the token (a DER SET is sorted by encoding, so the
    TSA certificate is often not first).
    """
    try:
        parsed = parse_any(der)
        extra = load_pem_certificates(extra_certs_pem) if extra_certs_pem else []
        signer = tokens.find_signer(parsed, extra)
        tokens.check_signature(parsed, signer)
    except ValueError as exc:
        raise TimestampVerificationError(f"invalid time-stamp: {exc}") from None
    return _token(der, parsed, signer, build_chain(signer, [*parsed.certificates, *extra]))


def parse_any(der: bytes) -> tokens.ParsedToken:
    """A TimeStampToken or a granted TimeStampResp; ``ValueError`` otherwise (a refusal
    included, with the TSA's reason)."""
    try:
        return tokens.parse_token(der)
    except ValueError as token_error:
        try:
            parsed = tokens.parse_response(der)
        except ValueError:
            raise token_error from None
    if isinstance(parsed, tokens.Refusal):
        raise ValueError(f"the TSA refused: {parsed.status_string or 'no reason given'}")
    return parsed
