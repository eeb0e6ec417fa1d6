"""The proofs sidecar of a sealed package: its transparency-log inclusion proof and the chain
of archive time-stamps that keeps it verifiable after its certificates expire.

The package itself never changes (its hash is what everything else vouches for); what grows
is ``<package>.proofs.json`` (docs/evidence-package.md), stored as a new immutable object each
time, with ``Capture.proofs_key`` pointing to the newest. Two things write it:

* **publication of a signed tree head** (``transparency``): captures the new tree head covers
  for the first time get a sidecar with their inclusion proof. Older sidecars keep their proof
  against an older tree head: tree heads are linked by consistency proofs (``/api/log``), so
  rewriting every sidecar at every publication would buy nothing and cost O(log size).
* **renewal** (``evidence renew`` and the worker once a day): before the certificates that
  the newest time-stamp relies on expire, a fresh RFC 3161 archive time-stamp is added over
  the package hash and all earlier archive time-stamps, together with the certificates and
  the current revocation data (CRLs, OCSP responses of our PKI) of everything it covers -- the
  PAdES B-LTA idea applied to a WACZ. The first renewal comes within days of sealing (the
  package-signing certificate lives one week), which also captures revocation data while the
  CA still reports on those certificates; later ones every few years.

What a verifier must check is in :func:`signing.translog.verify_archive_chain`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import select, update

from certs.pki import load_pem_certificates
from evidence_service.sealing.transparency import (
    NotIncludedError,
    TransparencyLog,
    UnknownEntryError,
)
from evidence_service.services import Services
from signing.timestamp import Timestamper, require_complete_chain
from signing.translog import archive_input
from storage.models import Capture

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_RENEW_BEFORE",
    "RenewalOutcome",
    "publish_tree_head",
    "publish_tree_head_if_due",
    "read_sidecar",
    "renew_capture",
    "renew_due",
    "seal_facts",
    "write_pending_sidecars",
    "write_sidecar_for",
]

SIDECAR_TYPE = "evidence-proofs"
SIDECAR_VERSION = 1
#: Renew when a certificate the newest time-stamp relies on expires within this.
DEFAULT_RENEW_BEFORE = timedelta(days=30)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        seen.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    return list(seen.values())


def seal_facts(certificates: Iterable[x509.Certificate]) -> dict[str, Any]:
    """What renewal needs to know about a package without reading it, kept in the capture's
    summary at sealing: every certificate its signatures and tokens rely on, and when the
    first of them expires."""
    certs = _unique(certificates)
    expires = min((c.not_valid_after_utc for c in certs), default=None)
    return {
        "certificates": [_pem(c) for c in certs],
        "expires": expires.isoformat() if expires else None,
        "archive_timestamps": 0,
    }


# -- reading and writing sidecars ---------------------------------------------------------------


def read_sidecar(services: Services, key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(services.store.read_bytes(key))
    if data.get("type") != SIDECAR_TYPE:
        raise ValueError(f"object {key} is not a proofs sidecar")
    return data


def _sidecar(
    package_sha256: str, inclusion: dict[str, Any] | None, archive: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": SIDECAR_TYPE,
        "version": SIDECAR_VERSION,
        "package_sha256": package_sha256,
        "inclusion": inclusion,
        "archive_timestamps": list(archive),
    }


def _store(
    services: Services, capture_id: str, old_key: str | None, sidecar: dict[str, Any]
) -> bool:
    """Store ``sidecar`` and point the capture at it, unless someone else replaced
    ``old_key`` meanwhile (then nothing is changed and False is returned)."""
    data = json.dumps(sidecar, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
    stored = services.store.put_stream(io.BytesIO(data), content_type="application/json")
    with services.session() as session:
        condition = (
            Capture.proofs_key.is_(None) if old_key is None else Capture.proofs_key == old_key
        )
        result = session.execute(
            update(Capture)
            .where(Capture.id == capture_id, condition)
            .values(proofs_key=stored.key)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


def write_sidecar_for(
    services: Services, capture_id: str, log_: TransparencyLog | None = None
) -> bool:
    """Give a stored capture without a sidecar its first one, if a published tree head
    covers its log entry (called at the end of sealing and after each publication)."""
    log_ = log_ or TransparencyLog(services)
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None or cap.status != "stored" or cap.proofs_key or not cap.package_sha256:
            return False
        package_sha256 = cap.package_sha256
    entry = log_.entry_for_capture(capture_id)
    if entry is None:
        return False
    try:
        inclusion = log_.inclusion_proof(entry.leaf_hash)
    except (NotIncludedError, UnknownEntryError):
        return False
    return _store(services, capture_id, None, _sidecar(package_sha256, inclusion, []))


def publish_tree_head(services: Services, *, force: bool = False) -> dict[str, Any]:
    """Sign and publish a tree head, then give the stored captures it newly covers their
    proofs sidecars (see :meth:`TransparencyLog.publish` for ``force``)."""
    log_ = TransparencyLog(services)
    sth = log_.publish(force=force)
    _sidecars_after(services, log_, sth)
    return sth


def publish_tree_head_if_due(services: Services) -> dict[str, Any] | None:
    """:func:`publish_tree_head` when the log grew and the newest tree head is old, else None."""
    log_ = TransparencyLog(services)
    sth = log_.publish_if_due()
    if sth is not None:
        _sidecars_after(services, log_, sth)
    return sth


def _sidecars_after(services: Services, log_: TransparencyLog, sth: dict[str, Any]) -> None:
    """A best effort: a failure is logged and the sidecars are written at the next publication
    or renewal, never at the cost of the tree head already published."""
    try:
        write_pending_sidecars(services, log_, sth)
    except Exception:
        log.exception("could not write proofs sidecars after publishing size %s", sth["tree_size"])


def write_pending_sidecars(services: Services, log_: TransparencyLog, sth: dict[str, Any]) -> int:
    """After publishing ``sth``: sidecars for the stored captures it newly covers."""
    size = int(sth["tree_size"])
    with services.sessions() as session:
        ids = session.scalars(
            select(Capture.id).where(
                Capture.status == "stored",
                Capture.proofs_key.is_(None),
                Capture.log_leaf_index.is_not(None),
                Capture.log_leaf_index < size,
            )
        ).all()
    written = 0
    for capture_id in ids:
        if write_sidecar_for(services, capture_id, log_):
            written += 1
    return written


# -- renewal ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalOutcome:
    capture_id: str
    renewed: bool
    reason: str
    proofs_key: str | None = None
    #: When the first certificate the package now relies on expires.
    expires: datetime | None = None


def _revocation(services: Services, certs: Sequence[x509.Certificate]) -> dict[str, list[str]]:
    """Current CRLs of our CAs and an OCSP response for each of our end-entity certificates.

    Certificates of other PKIs (an external TSA) get nothing here: their CRLs cannot be
    fetched offline; their own chain and the time-stamp that covers it still count."""
    pki = services.pki
    ours = [c for c in certs if c.issuer == pki.issuing.subject]
    crls = (
        [pki.crl_der("issuing"), pki.crl_der("root")]
        if any(c.issuer in (pki.issuing.subject, pki.root.subject) for c in certs)
        else []
    )
    ocsps = []
    for cert in ours:
        try:
            ocsps.append(pki.ocsp_response_for(cert))
        except Exception as exc:  # not issued by our issuing CA after all, or register trouble
            log.warning("no OCSP response for %s: %s", cert.subject.rfc4514_string(), exc)
    return {
        "crls": [base64.b64encode(d).decode("ascii") for d in crls],
        "ocsps": [base64.b64encode(d).decode("ascii") for d in ocsps],
    }


def _stamp_certs(entry: dict[str, Any]) -> list[x509.Certificate]:
    from signing.timestamp import read_timestamp

    token = read_timestamp(base64.b64decode(entry["time_stamp"]))
    return token.certificates


def renew_capture(
    services: Services,
    capture_id: str,
    *,
    timestamper: Timestamper | None = None,
    now: datetime | None = None,
) -> RenewalOutcome:
    """Add an archive time-stamp to one stored capture's sidecar (whatever its due date)."""
    timestamper = timestamper or services.timestampers[0]
    now = now or datetime.now(UTC)
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None:
            return RenewalOutcome(capture_id, False, "no such capture")
        if cap.status != "stored" or not cap.package_sha256:
            return RenewalOutcome(capture_id, False, f"not sealed (status {cap.status})")
        package_sha256 = cap.package_sha256
        old_key = cap.proofs_key
        facts = dict((cap.summary or {}).get("seal") or {})
    if not facts.get("certificates"):
        return RenewalOutcome(capture_id, False, "sealed before renewals existed (no seal facts)")
    sidecar = read_sidecar(services, old_key) if old_key else None
    archive = list(sidecar["archive_timestamps"]) if sidecar else []
    inclusion = sidecar.get("inclusion") if sidecar else None
    log_ = TransparencyLog(services)
    entry = log_.entry_for_capture(capture_id)
    if entry is not None:
        with contextlib.suppress(NotIncludedError, UnknownEntryError):
            inclusion = log_.inclusion_proof(entry.leaf_hash)  # the newest proof
    covered = [
        c for pem in facts["certificates"] for c in load_pem_certificates(pem.encode("ascii"))
    ]
    for previous in archive:
        covered += _stamp_certs(previous)
    data = archive_input(package_sha256, archive)
    token = require_complete_chain(
        timestamper.stamp(data), "verifiers can check archive time-stamps"
    )
    new_certs = token.certificates
    everything = _unique([*covered, *new_certs])
    archive.append(
        {
            "time_stamp": base64.b64encode(token.response_der).decode("ascii"),
            "covers": "sha256:" + hashlib.sha256(data).hexdigest(),
            "revocation": _revocation(services, everything),
            "certificates": [_pem(c) for c in everything],
        }
    )
    if not _store(services, capture_id, old_key, _sidecar(package_sha256, inclusion, archive)):
        return RenewalOutcome(capture_id, False, "renewed concurrently by another process")
    expires = min(c.not_valid_after_utc for c in new_certs)
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        summary = dict(cap.summary or {})
        seal = dict(summary.get("seal") or {})
        seal.update(expires=expires.isoformat(), archive_timestamps=len(archive))
        seal["renewed_at"] = now.isoformat()
        summary["seal"] = seal
        cap.summary = summary
        cap.seal_expires_at = expires
        new_key = cap.proofs_key
    log.info("renewed capture %s (archive time-stamp %s)", capture_id, len(archive))
    return RenewalOutcome(
        capture_id, True, f"archive time-stamp {len(archive)} added", new_key, expires
    )


def renew_due(
    services: Services,
    *,
    before: timedelta = DEFAULT_RENEW_BEFORE,
    all_: bool = False,
    now: datetime | None = None,
    timestamper: Timestamper | None = None,
) -> list[RenewalOutcome]:
    """Renew every stored capture whose newest time-stamp's certificates (or, before the
    first renewal, its signing certificates) expire within ``before`` -- or all of them."""
    now = now or datetime.now(UTC)
    outcomes = []
    query = select(Capture.id).where(Capture.status == "stored")
    if not all_:
        query = query.where(
            Capture.seal_expires_at.is_not(None), Capture.seal_expires_at < now + before
        )
    with services.sessions() as session:
        ids = session.scalars(query.order_by(Capture.created_at)).all()
    for capture_id in ids:
        try:
            outcomes.append(renew_capture(services, capture_id, timestamper=timestamper, now=now))
        except Exception as exc:  # one package's trouble (a TSA hiccup) must not stop the rest
            log.warning("renewing capture %s failed: %s", capture_id, exc)
            outcomes.append(RenewalOutcome(capture_id, False, f"failed: {exc}"))
    return outcomes
