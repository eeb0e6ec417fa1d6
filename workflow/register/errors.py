"""The register's errors: each says what the user can do about it."""

from __future__ import annotations

__all__ = ["RegisterError", "RegisterFileError", "RulesError"]


class RegisterError(Exception):
    """Base of the merchant register's errors."""


class RegisterFileError(RegisterError):
    """The import file cannot be read at all (missing, unreadable, not CSV/XLSX, no header
    row, a required column missing). Bad *rows* are not errors: they are reported."""


class RulesError(RegisterError):
    """A rules file of the register (``urls.toml``, ``columns.toml``, ``operator.toml``) is
    wrong; the message names the file and the entry."""
