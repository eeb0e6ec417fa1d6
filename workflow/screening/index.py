"""The screening's index: each complaint's profile and keys, written when it is screened.

A screening must find, among every complaint of the period (200,000 a year), those by the
same person, behind the same phone or address, or with nearly the same text -- without
reading them all. So each complaint is reduced once to a profile (name, merchant, folded
text, purchase date) and keys looked up by an index on (kind, value): its identifiers and
its text's bottom-k sketch (:mod:`.text`). Complaints never screened (from before the
screening existed) are indexed by :func:`index_pending`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, timedelta, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_scope
from storage.models import Case, CaseParty, ComplaintKey, ComplaintProfile

from . import text
from .identifiers import identifiers_of, name_key
from .purchase import purchase_date
from .rules import Rules

__all__ = ["BEIJING", "INDEX_VERSION", "TEXT_KIND", "index_complaint", "index_pending"]

#: Changes when what is indexed changes (the folding, the sketch, the identifiers).
INDEX_VERSION = f"1/g{text.GRAM}k{text.KEYS}"
TEXT_KIND = "text"
BEIJING = timezone(timedelta(hours=8))


def merchant_key(parties: Iterable[CaseParty], shop_url: str | None) -> str:
    """The merchant complained about, as compared: the first party's name folded, else the
    shop URL without scheme, query or trailing slash."""
    for party in parties:
        key = re.sub(r"\s", "", unicodedata.normalize("NFKC", party.name)).lower()
        if key:
            return key[:300]
    url = re.sub(r"^[a-z]+://", "", (shop_url or "").strip().lower()).split("?")[0].rstrip("/")
    return url[:300] or "—"


def _rows(
    case: Case, parties: list[CaseParty], rules: Rules
) -> tuple[dict[str, object], list[dict[str, str]]]:
    words = rules["purchase_then_complain"].extra["purchase_words"]
    body = f"{case.title}\n{case.summary or ''}"
    received = case.received_at.astimezone(BEIJING).date()
    folded = text.fold(case.summary or case.title)
    profile = {
        "case_id": case.id,
        "unit_id": case.unit_id,
        "received_at": case.received_at.astimezone(UTC),
        "name_key": name_key(case.complainant_name),
        "merchant_key": merchant_key(parties, case.shop_url),
        "folded": folded,
        "purchased_on": purchase_date(body, received, words),
        "index_version": INDEX_VERSION,
    }
    found = identifiers_of(case.complainant_contact, body)
    keys = [{"case_id": case.id, "kind": k, "value": v[:200]} for k, v in found.pairs()]
    keys += [{"case_id": case.id, "kind": TEXT_KIND, "value": v} for v in text.text_keys(folded)]
    unique = {(k["kind"], k["value"]): k for k in keys}
    return profile, list(unique.values())


def index_complaint(session: Session, case: Case, rules: Rules) -> ComplaintProfile:
    """The complaint's profile and keys, (re)written if missing or of an older index."""
    profile = session.get(ComplaintProfile, case.id)
    if profile is not None and profile.index_version == INDEX_VERSION:
        return profile
    _write(session, [case], rules)
    fresh = session.get(ComplaintProfile, case.id, populate_existing=True)
    assert fresh is not None
    return fresh


def _write(session: Session, cases: list[Case], rules: Rules) -> None:
    """Profiles and keys of ``cases``, replacing any older ones, in bulk (core statements:
    the ORM's bookkeeping per row would cost more than the work)."""
    ids = [c.id for c in cases]
    parties: dict[str, list[CaseParty]] = {}
    for party in session.scalars(
        select(CaseParty).where(CaseParty.case_id.in_(ids)).order_by(CaseParty.id)
    ):
        parties.setdefault(party.case_id, []).append(party)
    profiles, keys = [], []
    for case in cases:
        row, case_keys = _rows(case, parties.get(case.id, []), rules)
        profiles.append(row)
        keys.extend(case_keys)
    plain = {"synchronize_session": False}
    session.execute(
        delete(ComplaintKey).where(ComplaintKey.case_id.in_(ids)).execution_options(**plain)
    )
    session.execute(
        delete(ComplaintProfile).where(ComplaintProfile.case_id.in_(ids)).execution_options(**plain)
    )
    session.execute(insert(ComplaintProfile), profiles)
    if keys:
        session.execute(insert(ComplaintKey), keys)


def index_pending(sessions: sessionmaker[Session], rules: Rules, batch: int = 500) -> int:
    """Index every complaint that has no current profile, ``batch`` per transaction; returns
    how many were indexed."""
    done = 0
    while True:
        with session_scope(sessions) as session:
            cases = list(
                session.scalars(
                    select(Case)
                    .outerjoin(ComplaintProfile, ComplaintProfile.case_id == Case.id)
                    .where(Case.source == "complaint")
                    .where(
                        (ComplaintProfile.case_id.is_(None))
                        | (ComplaintProfile.index_version != INDEX_VERSION)
                    )
                    .limit(batch)
                )
            )
            if cases:
                _write(session, cases, rules)
        done += len(cases)
        if len(cases) < batch:
            return done
