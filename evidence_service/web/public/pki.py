"""The PKI's public HTTP face: CA certificates, CRLs and the OCSP responder under ``/pki``.

These are the URLs put in every certificate (AIA caIssuers, CRL distribution points, AIA
OCSP), so any relying party -- ``openssl``, pyHanko, Adobe, a court's expert -- checks
revocation without an account: no authentication here.

Caching follows RFC 5019 §6 (and the same idea for CRLs): ``Last-Modified`` is thisUpdate,
``Expires`` is nextUpdate, and ``max-age`` never reaches past nextUpdate. CRLs are re-signed
hourly or right after a revocation, so ``max-age`` also stops at the next re-signing; OCSP
answers to GET are cacheable for at most five minutes (revocations must show quickly), answers
to POST not at all. OCSP errors are OCSP responses with HTTP 200, as RFC 6960 Appendix A
expects; only a wrong content type or an oversized body gets an HTTP error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal

from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request, Response

from certs.pki import CRL_REFRESH, Pki
from certs.revocation import ocsp_error
from evidence_service.web.auth import services_of

router = APIRouter(prefix="/pki", tags=["pki"])
log = logging.getLogger(__name__)

MAX_OCSP_REQUEST = 64 * 1024
#: Longest time a cache may keep a GET OCSP answer (a revocation must show within it).
OCSP_GET_MAX_AGE = timedelta(minutes=5)
CA_CERT_MAX_AGE = timedelta(days=1)

PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"


def _pki(request: Request) -> Pki:
    return services_of(request).pki


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _cache_headers(
    body: bytes, *, this_update: datetime, next_update: datetime, max_age: timedelta
) -> dict[str, str]:
    now = datetime.now(UTC)
    seconds = int(max(timedelta(0), min(max_age, next_update - now)).total_seconds())
    return {
        "Cache-Control": f"public, max-age={seconds}, no-transform, must-revalidate",
        "Last-Modified": _http_date(this_update),
        "Expires": _http_date(next_update),
        "ETag": '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"',
    }


def _certificate(cert: x509.Certificate) -> Response:
    der = cert.public_bytes(serialization.Encoding.DER)
    return Response(
        der,
        media_type=PKIX_CERT,
        headers={
            "Cache-Control": f"public, max-age={int(CA_CERT_MAX_AGE.total_seconds())}",
            "ETag": '"' + hashlib.sha1(der, usedforsecurity=False).hexdigest() + '"',
        },
    )


@router.get(
    "/root.crt",
    summary="Root CA certificate (the trust anchor), DER",
    response_class=Response,
    responses={200: {"content": {PKIX_CERT: {}}}},
)
def root_certificate(request: Request) -> Response:
    return _certificate(_pki(request).root)


@router.get(
    "/issuing.crt",
    summary="Issuing CA certificate, DER (AIA caIssuers of every end-entity certificate)",
    response_class=Response,
    responses={200: {"content": {PKIX_CERT: {}}}},
)
def issuing_certificate(request: Request) -> Response:
    return _certificate(_pki(request).issuing)


async def _crl(request: Request, which: Literal["issuing", "root"]) -> Response:
    der = await asyncio.to_thread(_pki(request).crl_der, which)
    crl = x509.load_der_x509_crl(der)
    this_update = crl.last_update_utc
    next_update = crl.next_update_utc or this_update
    refresh = this_update + CRL_REFRESH - datetime.now(UTC)
    return Response(
        der,
        media_type=PKIX_CRL,
        headers=_cache_headers(
            der, this_update=this_update, next_update=next_update, max_age=refresh
        ),
    )


@router.get(
    "/issuing.crl",
    summary="CRL of the issuing CA (every end-entity certificate), DER",
    response_class=Response,
    responses={200: {"content": {PKIX_CRL: {}}}},
)
async def issuing_crl(request: Request) -> Response:
    return await _crl(request, "issuing")


@router.get(
    "/root.crl",
    summary="CRL of the root CA (revoked issuing CAs), DER",
    response_class=Response,
    responses={200: {"content": {PKIX_CRL: {}}}},
)
async def root_crl(request: Request) -> Response:
    return await _crl(request, "root")


async def _answer(request: Request, body: bytes, *, cacheable: bool) -> Response:
    pki = _pki(request)
    try:
        der = await asyncio.to_thread(pki.ocsp_response, body)
    except Exception:
        log.exception("OCSP responder failed")
        return Response(ocsp_error("internal_error"), media_type=OCSP_RESPONSE)
    headers = {"Cache-Control": "no-store"}
    if cacheable:
        times = _response_times(der)
        if times is not None:
            headers = _cache_headers(
                der, this_update=times[0], next_update=times[1], max_age=OCSP_GET_MAX_AGE
            )
    return Response(der, media_type=OCSP_RESPONSE, headers=headers)


def _response_times(der: bytes) -> tuple[datetime, datetime] | None:
    """(thisUpdate, earliest nextUpdate) of a successful response; None for errors."""
    response = asn1_ocsp.OCSPResponse.load(der)
    if response["response_status"].native != "successful":
        return None
    data = response.basic_ocsp_response["tbs_response_data"]
    singles = list(data["responses"])
    this_update = max(s["this_update"].native for s in singles)
    next_update = min(s["next_update"].native for s in singles)
    return this_update, next_update


@router.post(
    "/ocsp",
    summary="OCSP responder (RFC 6960), POST",
    response_class=Response,
    openapi_extra={
        "requestBody": {"content": {OCSP_REQUEST: {"schema": {"type": "string"}}}},
    },
    responses={200: {"content": {OCSP_RESPONSE: {}}}},
)
async def ocsp_post(request: Request) -> Response:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != OCSP_REQUEST:
        return Response(
            f"Send a DER OCSPRequest with Content-Type: {OCSP_REQUEST}\n",
            status_code=415,
            media_type="text/plain",
        )
    body = await request.body()
    if len(body) > MAX_OCSP_REQUEST:
        return Response("OCSP request too large\n", status_code=413, media_type="text/plain")
    return await _answer(request, body, cacheable=False)


@router.get(
    "/ocsp/{encoded:path}",
    summary="OCSP responder (RFC 6960 Appendix A.1), GET with the base64 DER request",
    response_class=Response,
    responses={200: {"content": {OCSP_RESPONSE: {}}}},
)
async def ocsp_get(request: Request, encoded: str) -> Response:
    if len(encoded) > MAX_OCSP_REQUEST * 2:
        return Response("OCSP request too large\n", status_code=414, media_type="text/plain")
    text = encoded.strip().replace(" ", "+")  # a '+' decoded as a space by a proxy
    text = text.replace("-", "+").replace("_", "/")  # tolerate base64url
    text += "=" * (-len(text) % 4)
    try:
        body = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return Response(ocsp_error("malformed_request"), media_type=OCSP_RESPONSE)
    return await _answer(request, body, cacheable=True)
