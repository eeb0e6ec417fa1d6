"""All settings in one place.

Every setting is an environment variable with the ``EVIDENCE_`` prefix (a ``.env`` file in the
working directory works too). The CLI, the web app and the workers read the same object, so a
command run beside a server works on the same data directory, database, store and keys.

Secrets (the key passphrase, the session secret) are never logged: they are ``SecretStr`` and,
when not given, are generated on first run into ``<data_dir>/secrets/`` with 0600 permissions.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The service's configuration (environment variables ``EVIDENCE_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="EVIDENCE_", env_file=".env", extra="ignore", frozen=False
    )

    # -- where things live ------------------------------------------------------------------
    data_dir: Path = Field(Path("./data"), description="Data folder: database, store, PKI.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/evidence.db"
    )
    store: Literal["file", "s3"] = Field("file", description="Object store backend.")
    s3_endpoint: str = Field("127.0.0.1:9000", description="S3 host:port (MinIO, RGW, AWS).")
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    s3_region: str | None = None
    s3_bucket: str = "evidence"
    s3_retention_days: int = Field(
        3650, ge=1, description="COMPLIANCE retention of every stored object, in days."
    )

    # -- web service ------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        None, description="Base URL the service is reached at; default http://host:port"
    )
    hostname: str | None = Field(
        None,
        description="Service host name put in the signing certificate's SAN; "
        "default: the host of public_url",
    )
    workers: int = Field(1, ge=0, description="Capture workers started by `evidence run`.")
    worker_pipeline: bool = Field(
        True,
        description="A worker loads the next page while the last one seals (at most one seal "
        "outstanding); false: one capture at a time, as a baseline or a fallback.",
    )
    worker_stop_grace_s: float = Field(
        20.0,
        gt=0,
        description="How long `evidence run`, stopping, waits for its workers to hand back or "
        "finish their jobs after SIGTERM before it kills them.",
    )
    session_secret: SecretStr | None = None
    key_passphrase: SecretStr | None = Field(
        None, description="Passphrase encrypting private keys at rest; generated if unset."
    )

    portal_trust_roots_file: Path | None = Field(
        None,
        description="PEM roots (besides ours) trusted for PDFs merchants sign with their own "
        "certificates and upload in the portal",
    )

    # -- time-stamping ----------------------------------------------------------------------
    tsa_url: str | None = Field(
        None,
        description="RFC 3161 TSA URL(s), comma separated; default: the built-in TSA "
        "(in-process for the CLI and workers, /tsa over HTTP for others)",
    )
    tsa_ca_file: Path | None = Field(
        None, description="PEM chain/roots of an external TSA, if its tokens do not carry it."
    )
    tsa_timeout_s: float = 10.0
    seal_retry_initial_s: float = 5.0
    seal_retry_max_s: float = 300.0

    # -- signing certificates ---------------------------------------------------------------
    signing_cert_days: int = Field(7, ge=1, description="Validity of a package-signing cert.")
    signing_cert_rotate_hours: float = Field(
        48, gt=0, description="A new package-signing certificate is issued after this age."
    )

    # -- documents ---------------------------------------------------------------------------
    default_unit_name: str = Field(
        "示例市市场监督管理局",
        min_length=1,
        max_length=64,
        description="The enforcement unit this service issues documents for: `evidence sign` "
        "signs with its seal by default, and its certificate is issued on first run.",
    )

    payment_sandbox: bool = Field(
        False,
        description="Offer online payment of fines through the sandbox bank (a stand-in that "
        "moves no money: for tests and demonstrations only, never in production).",
    )

    # -- the public verifier (/verify, /api/verify) -----------------------------------------
    verify_max_upload_anonymous: int = Field(
        512 * 1024 * 1024, gt=0, description="Largest upload (bytes) from a caller not signed in."
    )
    verify_max_upload_officer: int = Field(
        8 * 1024 * 1024 * 1024, gt=0, description="Largest upload (bytes) from a signed-in officer."
    )
    verify_max_entries: int = Field(
        10_000, gt=0, description="Most ZIP entries a package may have (a WACZ holds a few)."
    )
    verify_max_concurrent: int = Field(
        2, ge=1, description="Verifications run at once per process; more wait 503."
    )
    verify_spool_reserve: int = Field(
        1024 * 1024 * 1024,
        ge=0,
        description="Free bytes the data folder keeps when spooling uploads; below: 507.",
    )

    # -- mail (deadline reminders) ----------------------------------------------------------
    smtp_host: str | None = Field(
        None, description="SMTP server for deadline reminder mails; unset: no mails are sent."
    )
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS.")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field("evidence-service@localhost", description="From address of mails.")
    smtp_ca_file: Path | None = Field(
        None, description="PEM CA certificates to trust for the SMTP server's certificate."
    )
    smtp_timeout_s: float = Field(10.0, gt=0)

    # -- capture ----------------------------------------------------------------------------
    chromium_path: Path = Path("/usr/bin/chromium")
    capture_allow_private: bool = Field(
        False, description="Allow URLs resolving to loopback/private/link-local addresses."
    )
    capture_timeout_s: float = Field(60.0, gt=0)
    capture_max_bytes: int = Field(200_000_000, gt=0)
    capture_max_resources: int = Field(2000, gt=0)
    capture_viewport_width: int = 1280
    capture_viewport_height: int = 800
    capture_user_agent: str | None = None
    capture_accept_language: str = "zh-CN,zh;q=0.9,en;q=0.8"
    capture_extra_ca_file: Path | None = Field(
        None, description="PEM file of extra CA certificates Chromium trusts for captures."
    )
    capture_video: bool = Field(
        False,
        description="Record a video of every capture session (WebM with a clock) unless the "
        "request says otherwise; encoded in-process by PyAV (libvpx).",
    )
    capture_video_fps: int = Field(5, ge=1, le=30, description="Frames per second of videos.")
    capture_video_max_seconds: float = Field(
        120.0, gt=0, description="A session video stops after this long (recorded as truncated)."
    )
    capture_video_max_bytes: int = Field(
        50_000_000, gt=0, description="A session video file never grows beyond this."
    )
    job_lease_s: float = Field(
        30.0, gt=0, description="A job whose worker stops heart-beating is retaken after this."
    )
    # -- operations: logs, metrics, readiness (evidence_service/observability.py) -----------
    log_json: bool = Field(
        False,
        description="Log one JSON object per line (time, level, logger, message, request_id) "
        "from `evidence run|serve|worker`, for a log shipper; plain lines otherwise.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe level logged by `evidence run|serve|worker`."
    )
    metrics_dir: Path | None = Field(
        None,
        description="Folder where the processes on this host share their Prometheus figures "
        "(multiprocess mode); default <data_dir>/metrics. `evidence run` empties it at start.",
    )
    ready_tsa_every_s: float = Field(
        30.0,
        gt=0,
        description="/readyz asks the TSA for a time-stamp at most this often (an external TSA "
        "may count requests); in between it reports the last answer.",
    )
    # -- monitoring: watching a URL until it is corrected (sealing/monitor.py) ---------------
    watch_min_interval_hours: float = Field(
        1.0, gt=0, description="Shortest interval between two runs of a watch, in hours."
    )
    watch_max_days: int = Field(
        366, gt=0, description="Longest a watch may run, in days from its start."
    )
    # -- room legal: the legal-basis and discretion catalogue (workflow/legal) ---------------
    legal_reviewers: str = Field(
        "",
        description="Login names (comma separated) of the legal staff (法制审核人员) who may "
        "edit their unit's legal catalogue on /legal (the access table's reviewer role).",
    )
    # -- room screening: complaints screened for professional claimants (workflow/screening)
    # The operating point is a setting (each unit trades catching professionals against
    # troubling ordinary complainants); what the facts mean and weigh is data (rules.toml).
    screening_flag_score: int = Field(
        40, ge=1, le=100, description="Score (0..100) at which a complaint is flagged."
    )
    screening_period_days: int = Field(
        365, ge=1, le=3650, description="Days before and after a complaint in which others count."
    )
    screening_rules_file: Path | None = Field(
        None, description="Screening rules (TOML); default workflow/screening/rules.toml."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # -- derived values ---------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'evidence.db'}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_hostname(self) -> str:
        return self.hostname or (urlsplit(self.effective_public_url).hostname or "localhost")

    @property
    def tsa_urls(self) -> list[str]:
        """Configured external TSAs; empty means the built-in TSA."""
        if not self.tsa_url:
            return []
        return [u.strip() for u in self.tsa_url.split(",") if u.strip()]

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def spool_dir(self) -> Path:
        """Uploads being verified, kept here (not /tmp) so the free-space check is true."""
        return self.data_dir / "spool"

    @property
    def effective_metrics_dir(self) -> Path:
        return self.metrics_dir or self.data_dir / "metrics"

    @property
    def work_dir(self) -> Path:
        """Unsealed captures in progress; never served, cleaned after sealing."""
        return self.data_dir / "work"

    @cached_property
    def passphrase(self) -> bytes:
        """The key passphrase: from the settings, else generated once and kept 0600."""
        if self.key_passphrase is not None:
            return self.key_passphrase.get_secret_value().encode()
        return _secret_file(self.secrets_dir / "key-passphrase").encode()

    @cached_property
    def session_key(self) -> str:
        if self.session_secret is not None:
            return self.session_secret.get_secret_value()
        return _secret_file(self.secrets_dir / "session-secret")


def _secret_file(path: Path) -> str:
    """Read a generated secret, creating it with 0600 permissions on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its value
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def get_settings() -> Settings:
    return Settings()
