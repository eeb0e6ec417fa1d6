"""Certificate paths: build them from a pool, validate them against pinned roots.

Why our own small path validator: the checks the evidence formats need are few and offline
(issuer signatures, validity at the time that matters -- genTime or the signature's creation --,
CA flags, path length, one extended key usage), and they must work with the exact PEM bundles
we publish. Revocation is not checked here; that belongs to the court verifier, which has the
CRLs and OCSP responses of the moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

__all__ = ["ChainError", "build_chain", "is_self_signed", "validate_chain"]

MAX_DEPTH = 8


class ChainError(ValueError):
    """No acceptable path from the certificate to a trusted root."""


def _fp(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


@lru_cache(maxsize=512)
def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``cert``, remembered per pair: a seal checks the same
    few chains (its TSA's, its seal's) several times, at about 1 ms per P-384 signature.
    Sound to remember: certificates compare and hash by their DER, and the answer depends on
    nothing else."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and _issued_by(cert, cert)


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def build_chain(leaf: x509.Certificate, pool: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """``leaf`` and its issuers found in ``pool``, leaf first, as far up as the pool allows
    (ending at a self-signed certificate when the pool has it)."""
    candidates = list(pool)
    path = [leaf]
    seen = {_fp(leaf)}
    current = leaf
    while len(path) < MAX_DEPTH and not is_self_signed(current):
        issuer = next(
            (
                c
                for c in candidates
                if c.subject == current.issuer and _fp(c) not in seen and _issued_by(current, c)
            ),
            None,
        )
        if issuer is None:
            break
        path.append(issuer)
        seen.add(_fp(issuer))
        current = issuer
    return path


def validate_chain(
    leaf: x509.Certificate,
    pool: Iterable[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    at: datetime,
    required_eku: x509.ObjectIdentifier | None = None,
    eku_must_be_critical: bool = False,
) -> list[x509.Certificate]:
    """The path leaf -> ... -> trusted root, checked at time ``at``; raises :class:`ChainError`.

    ``anchors`` are the trusted roots (only self-signed certificates count); ``pool`` holds
    certificates that may serve as intermediates but are not trusted by themselves.
    """
    anchor_fps = {_fp(a) for a in anchors if is_self_signed(a)}
    if not anchor_fps:
        raise ChainError("no trusted root certificate was given")
    path = build_chain(leaf, [*anchors, *pool])
    if _fp(path[-1]) not in anchor_fps:
        top = path[-1]
        if is_self_signed(top):
            raise ChainError(f"the chain ends at an untrusted root: {_describe(top)}")
        raise ChainError(
            f"the issuer of {_describe(top)} ({top.issuer.rfc4514_string()}) is not available"
        )
    for cert in path:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise ChainError(
                f"{_describe(cert)} is not valid at {at:%Y-%m-%dT%H:%M:%SZ} (valid "
                f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})"
            )
    for depth, ca in enumerate(path[1:]):
        try:
            bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        if bc is None or not bc.ca:
            raise ChainError(f"{_describe(ca)} issued a certificate but is not a CA")
        # ``depth`` = number of intermediate CAs between this CA and the leaf.
        if bc.path_length is not None and depth > bc.path_length:
            raise ChainError(f"{_describe(ca)}: path length constraint exceeded")
        try:
            ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            ku = None
        if ku is not None and not ku.key_cert_sign:
            raise ChainError(f"{_describe(ca)} may not sign certificates (keyUsage)")
    if required_eku is not None:
        try:
            ext = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            raise ChainError(
                f"{_describe(leaf)} has no extendedKeyUsage {required_eku.dotted_string}"
            ) from None
        if required_eku not in ext.value:
            raise ChainError(
                f"{_describe(leaf)} is not allowed for {required_eku.dotted_string} "
                "(extendedKeyUsage)"
            )
        if eku_must_be_critical and not ext.critical:
            raise ChainError(f"{_describe(leaf)}: its extendedKeyUsage must be critical")
    return path
