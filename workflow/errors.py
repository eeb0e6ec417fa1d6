"""Errors of the merchant portal and document service, each with a stable ``code``.

The web layer maps them to HTTP: :class:`NotFoundError` to 404 (also for what exists but is not
the caller's: a merchant or an officer of another unit must not learn that an id exists),
:class:`ThrottledError` to 429, :class:`AuthenticationError` to 401, :class:`ConflictError` to
409, every other :class:`PortalError` to 422. Messages say what failed and what to do; they
never contain a password, a setup code or a session token.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "FieldError",
    "NotFoundError",
    "PortalError",
    "SetupCodeError",
    "ThrottledError",
    "UploadRejectedError",
]


class PortalError(Exception):
    """Something the caller asked for cannot be done; ``code`` is stable, the message is for
    people."""

    code = "portal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class FieldError(PortalError):
    """Input refused; ``field`` names the form field or data path (``credit_code``,
    ``party.credit_code``) so a form can put the message next to it."""

    code = "invalid_input"

    def __init__(
        self,
        field: str,
        message: str,
        *,
        code: str | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{field}: {message}", code=code)
        self.field = field
        self.reason = message
        #: Every (field, message) found, the first one repeated in ``field``/``reason``.
        self.errors = errors or [(field, message)]


class NotFoundError(PortalError):
    """No such thing -- or not the caller's to see (deliberately indistinguishable)."""

    code = "not_found"


class AuthenticationError(PortalError):
    """Wrong password or unknown account (never says which)."""

    code = "authentication_failed"


class SetupCodeError(PortalError):
    """The one-time setup code is unknown, expired, already used or replaced."""

    code = "invalid_setup_code"


class ThrottledError(PortalError):
    """Too many failed attempts: locked for ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConflictError(PortalError):
    """The document is not in a state that allows this (already signed, not yet served...)."""

    code = "conflict"


class UploadRejectedError(PortalError):
    """A PDF the merchant signed elsewhere was refused; ``reasons`` says why, one per line."""

    code = "upload_rejected"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("the signed PDF was not accepted: " + "; ".join(reasons))
        self.reasons = reasons
