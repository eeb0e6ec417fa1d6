"""What the officers' page, the API and the platform's portal do alike (room platform): send
a request and serve its letter, and queue the sealed re-capture that checks a takedown.

Why here and not in ``workflow.platforms``: the re-capture is a capture of the service
(``sealing.pipeline.create_capture``, the case page's own capture button) that ``workflow``
may not know of; the letter is made and served in the request that sends it, so the officer
sees at once whether it reached the platform or what the case still lacks."""

from __future__ import annotations

from dataclasses import dataclass

from evidence_service.sealing.pipeline import CaptureRequestError, create_capture
from evidence_service.services import Services
from storage.models import CaseCaptureRequest, PlatformRequest, User
from workflow import platforms
from workflow.cases.documents import CaseDocuments, MissingCaseData
from workflow.cases.service import Actor, CaseContext
from workflow.context import Client, OfficerRef

__all__ = ["Sent", "deliver_request", "queue_recheck", "requester", "send_request"]


@dataclass(frozen=True)
class Sent:
    """A request sent: served on the platform, or recorded and waiting (``missing``)."""

    request: platforms.RequestView
    missing: list[tuple[str, str]]


def send_request(
    services: Services,
    ctx: CaseContext,
    officer: OfficerRef,
    who: Actor,
    case_id: str,
    form: platforms.RequestIn,
    client: Client | None = None,
) -> Sent:
    """Record the request, make and seal its letter from the case, serve it on the
    platform's account with its proof of service. A letter the case cannot fill yet leaves
    the request recorded (state ``sending``) with what is missing."""
    request_id = platforms.open_request(ctx, who, case_id, form)
    return deliver_request(services, ctx, officer, who, request_id, client)


def deliver_request(
    services: Services,
    ctx: CaseContext,
    officer: OfficerRef,
    who: Actor,
    request_id: str,
    client: Client | None = None,
) -> Sent:
    documents = CaseDocuments(services.portal, ctx)
    try:
        view = platforms.deliver(
            services.portal, ctx, documents, officer, who, request_id, client=client
        )
        return Sent(view, [])
    except MissingCaseData as exc:
        with ctx.sessions() as session:
            row = session.get(PlatformRequest, request_id)
            assert row is not None
            case_id = row.case_id
        views = platforms.requests_of_case(ctx, who, case_id)
        return Sent(next(v for v in views if v.id == request_id), exc.fields)


def queue_recheck(services: Services, url: str, user_id: int | None, case_id: str) -> str | None:
    """Queue a sealed capture of a listing from inside its case (linked as the case's
    evidence when stored, as the case page's capture button does); None when the address is
    refused (the officer starts the check later from the case page)."""
    try:
        capture_id = create_capture(services, url, user_id=user_id)
    except CaptureRequestError:
        return None
    with services.session() as session:
        session.add(
            CaseCaptureRequest(capture_id=capture_id, case_id=case_id, requested_by_id=user_id)
        )
    return capture_id


def requester(services: Services, request_id: str) -> User | None:
    """The officer who sent a request (the re-capture is made in their name)."""
    with services.session() as session:
        row = session.get(PlatformRequest, request_id)
        user = session.get(User, row.created_by_id) if row and row.created_by_id else None
        if user is not None:
            session.expunge(user)
        return user
