"""Signing and time-stamping errors. Each has ``retryable`` (may a later attempt succeed?)
and a message that names the TSA and says what to do; none carries key material."""

from __future__ import annotations


class SigningError(Exception):
    """Base class of every error raised by ``signing``."""

    retryable = False


class TimestampError(SigningError):
    """Getting a time-stamp failed; the package stays unsealed (the caller may retry)."""

    def __init__(self, message: str, *, tsa_url: str | None = None) -> None:
        super().__init__(message)
        self.tsa_url = tsa_url


class TsaUnavailableError(TimestampError):
    """The TSA could not be reached, timed out or answered with a server error."""

    retryable = True


class TsaRefusedError(TimestampError):
    """The TSA answered with an RFC 3161 refusal (PKIStatus rejection or waiting)."""

    #: Failures that are the TSA's own temporary trouble, not a problem of our request.
    TRANSIENT = frozenset({"timeNotAvailable", "systemFailure"})

    def __init__(
        self,
        message: str,
        *,
        tsa_url: str | None = None,
        status: int,
        status_string: str | None,
        failure_info: tuple[str, ...],
    ) -> None:
        super().__init__(message, tsa_url=tsa_url)
        self.status = status
        self.status_string = status_string
        self.failure_info = failure_info
        self.retryable = status == 3 or bool(self.TRANSIENT & set(failure_info))


class TsaBadResponseError(TimestampError):
    """The TSA answered something that is not a valid time-stamp for our request."""


class TsaChainError(TimestampError):
    """The TSA's certificate chain cannot be completed up to a root (configuration)."""


class ClockSkewError(TimestampError):
    """The TSA's time and ours differ by more than verifiers tolerate."""


class TimestampVerificationError(SigningError):
    """A time-stamp token does not verify (imprint, signature, certificate or chain)."""


class SignatureError(SigningError):
    """A package signature could not be produced correctly (checked before it is returned)."""
