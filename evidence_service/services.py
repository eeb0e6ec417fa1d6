"""The composed service: one object holding the database, the store, the PKI and the signers.

The web app, each worker and each CLI command build one ``Services`` from the same settings, so
they share the data directory, database, object store and keys without talking to each other.
Opening it is cheap after the first run; the first run creates the data folder, migrates the
database and creates the built-in CA and TSA (see ``bootstrap``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from certs.pki import Pki
from evidence_service import __version__
from evidence_service.config import Settings
from evidence_service.observability import observe_tsa
from evidence_service.security import SecretBox, hash_password, verify_password
from signing.timestamp import HttpTimestamper, LocalTimestamper, Timestamper, TimestampToken
from signing.tsa import TimeStampAuthority
from signing.wacz_sign import PackageSigner
from storage.db import make_engine, make_session_factory, migrate, session_scope
from storage.fs import FileStore
from storage.jobs import JobQueue
from storage.objects import ObjectStore
from storage.s3 import S3Store
from workflow.context import PortalContext


@dataclass
class Services:
    settings: Settings
    _tsa: TimeStampAuthority | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Seal images and stamp fonts made for document signatures are kept with the data
        # (not in /tmp), so that restarts and every process of this service share them.
        from workflow.documents import seal

        seal.set_cache_dir(self.settings.data_dir / "cache" / "documents")

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        return session_scope(self.sessions)

    @cached_property
    def jobs(self) -> JobQueue:
        return JobQueue(self.sessions, lease_s=self.settings.job_lease_s)

    @cached_property
    def store(self) -> ObjectStore:
        s = self.settings
        if s.store == "s3":
            return S3Store(
                s.s3_endpoint,
                s.s3_access_key,
                s.s3_secret_key.get_secret_value(),
                bucket=s.s3_bucket,
                secure=s.s3_secure,
                region=s.s3_region,
                retention_days=s.s3_retention_days,
            )
        return FileStore(s.objects_dir)

    @cached_property
    def pki(self) -> Pki:
        s = self.settings
        return Pki.open(
            s.pki_dir,
            s.passphrase,
            hostname=s.effective_hostname,
            public_url=s.effective_public_url,
            signing_cert_days=s.signing_cert_days,
            signing_cert_rotate_hours=s.signing_cert_rotate_hours,
        )

    @property
    def tsa(self) -> TimeStampAuthority:
        """The built-in TSA (served at /tsa, and used in-process when no TSA URL is set).

        Asked of the PKI each time: its key and certificate are replaced when revoked or near
        expiry, and from then on no token may carry the old ones."""
        credential = self.pki.tsa_credential()
        current = self._tsa
        if current is None or current.credential is not credential:
            current = self._tsa = TimeStampAuthority(credential)
        return current

    @cached_property
    def timestampers(self) -> list[Timestamper]:
        urls = self.settings.tsa_urls
        if not urls:
            return [_TimedLocalTimestamper(lambda: self.tsa)]
        ca_file = self.settings.tsa_ca_file
        extra = ca_file.read_bytes() if ca_file else None
        return [
            _TimedHttpTimestamper(u, timeout=self.settings.tsa_timeout_s, extra_certs_pem=extra)
            for u in urls
        ]

    @cached_property
    def package_signer(self) -> PackageSigner:
        return PackageSigner(
            self.pki.package_signing_credential,
            self.timestampers,
            domain=self.settings.effective_hostname,
            software=f"evidence-service {__version__}",
        )

    @cached_property
    def portal(self) -> PortalContext:
        """The context of the portal's documents and of the case documents made from them:
        one per process, shared by the web app and the worker's housekeeping (which generates
        the documents a case owes)."""
        return build_portal_context(self)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.settings.passphrase)

    def trust_bundle_pem(self) -> bytes:
        """Everything a verifier needs offline: root and issuing CA, TSA, package-signing,
        OCSP-responder and transparency-log certificates, and the current CRLs."""
        log_cert = self.pki.log_credential().cert
        return (
            self.pki.export_bundle_pem()
            + b"# Transparency log signing certificate\n"
            + log_cert.public_bytes(Encoding.PEM)
        )

    def migrate(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(self.settings.effective_database_url)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


class _TimedLocalTimestamper(LocalTimestamper):
    """The built-in TSA, its latency in the metrics (a subclass: code that treats the built-in
    TSA differently, such as PAdES asking it in-process, still recognises it)."""

    def stamp(self, data: bytes) -> TimestampToken:
        with observe_tsa(self.name):
            return super().stamp(data)


class _TimedHttpTimestamper(HttpTimestamper):
    """An external TSA over HTTP, its latency and failures in the metrics."""

    def stamp(self, data: bytes) -> TimestampToken:
        with observe_tsa(self.name):
            return super().stamp(data)


def _extra_roots(services: Services) -> bytes:
    """Extra trust anchors for PDFs merchants sign with certificates from other CAs:
    ``EVIDENCE_PORTAL_TRUST_ROOTS_FILE`` (a PEM file)."""
    path = services.settings.portal_trust_roots_file
    if not path:
        return b""
    return Path(path).read_bytes()


def build_portal_context(services: Services) -> PortalContext:
    """A new :class:`~workflow.context.PortalContext` on ``services`` (``Services.portal``
    keeps one; tests build their own beside a moved clock)."""
    settings = services.settings
    pki = services.pki
    return PortalContext(
        sessions=services.sessions,
        store=services.store,
        pki=pki,
        timestampers=services.timestampers,
        work_dir=settings.work_dir / "portal",
        hash_password=hash_password,
        verify_password=verify_password,
        trust_roots_pem=pki.root.public_bytes(Encoding.PEM) + _extra_roots(services),
        portal_url=settings.effective_public_url,
    )
