"""The portal's append-only audit trail (``portal_audit``): one row per thing that happened.

Rows are added inside the same transaction as the change they describe, so the trail never
claims what did not happen, and never misses what did. Nothing updates or deletes them (the
ORM and database triggers refuse).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Document, PortalAudit

from .context import Client, OfficerRef

__all__ = ["audit_trail", "record", "record_document_action"]


def record(
    session: Session,
    action: str,
    *,
    actor_type: str,
    actor_id: str,
    at: datetime,
    client: Client | None = None,
    unit_id: int | None = None,
    merchant_id: str | None = None,
    document_id: str | None = None,
    auth_method: str | None = None,
    sha256_before: str | None = None,
    sha256_after: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> PortalAudit:
    c = (client or Client()).trimmed()
    row = PortalAudit(
        at=at,
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        unit_id=unit_id,
        merchant_id=merchant_id,
        document_id=document_id,
        ip=c.ip,
        user_agent=c.user_agent,
        auth_method=auth_method,
        sha256_before=sha256_before,
        sha256_after=sha256_after,
        details=dict(details or {}),
    )
    session.add(row)
    return row


def record_document_action(
    session: Session,
    action: str,
    officer: OfficerRef,
    doc: Document,
    *,
    at: datetime,
    client: Client | None = None,
    sha256_before: str | None = None,
    sha256_after: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> PortalAudit:
    """:func:`record` for what an officer did to a document: the unit, merchant and document
    come from the document itself, so no call can name them inconsistently."""
    return record(
        session,
        action,
        actor_type="officer",
        actor_id=officer.actor,
        at=at,
        client=client,
        unit_id=doc.unit_id,
        merchant_id=doc.merchant_id,
        document_id=doc.id,
        sha256_before=sha256_before,
        sha256_after=sha256_after,
        details=details,
    )


def audit_trail(
    session: Session, *, document_id: str | None = None, merchant_id: str | None = None
) -> list[PortalAudit]:
    """Rows about a document or a merchant, oldest first."""
    query = select(PortalAudit).order_by(PortalAudit.id)
    if document_id is not None:
        query = query.where(PortalAudit.document_id == document_id)
    if merchant_id is not None:
        query = query.where(PortalAudit.merchant_id == merchant_id)
    return list(session.scalars(query))
