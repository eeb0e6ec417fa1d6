"""The documents (文书) of a case, generated from the case itself.

Each transition of ``process.toml`` lists the documents its action makes. Which are still
owed is *derived* from the case, never kept as a flag that could drift: every event of a
transition owes its documents, every ``add_document`` event (``service.link_document``) pays
one. So a document that could not be made (a field the case cannot supply yet, the TSA down,
a party without a portal account) is simply still owed: :func:`CaseDocuments.pending` lists
it with the reason, and the next :func:`CaseDocuments.generate_pending` (after any later
action, or by housekeeping) tries again. The action itself is committed before any document
is made, so no document failure can lose it.

Why builders read the case and nothing else: a document states what the case file holds --
its number, unit, party, staff with their badge numbers, the facts the actions recorded
(penalties in fen become yuan), the events' texts and the evidence with its hashes. A field
the case does not hold yet is named (:class:`MissingCaseData`: "fill X first"), never made
up; texts only a person can write are the actions' ``notes`` (``effects.toml``).

Signing follows the documents' rules (``workflow.documents.types``): a document with a
``unit`` slot (a notice, a decision, a receipt) is sealed by the unit first (certifying, form
filling and signing still allowed) and then signed by the officers; an internal form is
certified by its first officer and then signed by the others, the head and the reviewer in
their named slots. Slots of the party (``party``) are left for the party in the portal;
serving is the officer's act (``workflow.serving.serve``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.db import session_scope
from storage.models import (
    Capture,
    Case,
    CaseDocument,
    CaseEvent,
    CaseEvidence,
    CaseParty,
    CaseStaff,
    Document,
    Merchant,
    Unit,
    User,
)
from workflow import audit
from workflow.context import PortalContext
from workflow.document_versions import (
    BEIJING,
    add_version,
    default_legal_basis,
    officer_certificate_serial,
    put_pdf,
    render,
    scratch,
    sign,
    unit_seal_serial,
)
from workflow.documents.types import TEMPLATES, DocumentDataError, validate_data
from workflow.errors import ConflictError, FieldError
from workflow.legal import catalogue as legal_catalogue
from workflow.legal import choice as legal_choice

from . import process, service
from .process import Transition
from .service import Actor, CaseContext, CaseError

__all__ = [
    "BUILDERS",
    "CaseDocuments",
    "CaseSnapshot",
    "MissingCaseData",
    "Outcome",
    "Pending",
    "Waiting",
    "build",
    "load_snapshot",
    "owed",
    "waiting",
]

DATA_PATH = Path(__file__).with_name("document_data.toml")
_log = logging.getLogger(__name__)


@cache
def _data() -> Mapping[str, Any]:
    return tomllib.loads(DATA_PATH.read_text(encoding="utf-8"))


@cache
def note_choices() -> Mapping[str, tuple[str, ...]]:
    """Notes that must be one of a few values (``document_data.toml``), so that a form can
    offer the values instead of a text box in which a wrong one is only named afterwards."""
    data = _data()
    return {
        "non_filing_ground": tuple(data["grounds"]["non_filing"]),
        **{name: tuple(values) for name, values in data.get("note_choices", {}).items()},
    }


class MissingCaseData(CaseError):
    """A document the case cannot fill yet: ``fields`` lists ``(field, what to do)``."""

    def __init__(
        self,
        template: str,
        fields: Sequence[tuple[str, str]],
        notes: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.template = template
        self.fields = list(fields)
        #: The missing fields that are notes of an action: ``(action, note)``, which
        #: ``service.give_notes`` can give afterwards.
        self.notes = list(dict.fromkeys(notes))
        title = TEMPLATES[template].title_zh if template in TEMPLATES else template
        what = "; ".join(f"fill {name} first ({hint})" for name, hint in self.fields)
        super().__init__(f"{template} ({title}): {what}")


# -- the case as the builders see it ---------------------------------------------------------


@dataclass(frozen=True)
class CaseSnapshot:
    """One consistent read of the case (detached rows): what every builder works from."""

    case: Case
    unit: Unit
    parties: list[CaseParty]
    #: Staff in the order they were assigned: (row, display name).
    staff: list[tuple[CaseStaff, str]]
    events: list[CaseEvent]
    evidence: list[CaseEvidence]
    documents: list[CaseDocument]
    #: Display names and badge numbers of the unit's accounts that acted, by ``user:<id>``.
    people: Mapping[str, tuple[str, str | None]]
    #: The stored capture rows of the case's captures, by capture id.
    captures: Mapping[str, Capture] = field(default_factory=dict)
    #: The portal documents of the case, by id (their service records).
    portal_documents: Mapping[str, Document] = field(default_factory=dict)
    #: The unit's accounts named in the events by login name (a hearing officer, a recorder):
    #: login name -> (user id, display name).
    accounts: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    #: The parties' portal accounts, by merchant id.
    merchants: Mapping[str, Merchant] = field(default_factory=dict)

    @property
    def facts(self) -> Mapping[str, Any]:
        return self.case.facts or {}

    def latest(self, *actions: str) -> CaseEvent | None:
        return next((e for e in reversed(self.events) if e.action in actions), None)

    def event(self, seq: int) -> CaseEvent:
        return next(e for e in self.events if e.seq == seq)


def load_snapshot(ctx: CaseContext, case_id: str) -> CaseSnapshot:
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise service.CaseNotFound(f"no case {case_id}")
        unit = session.get(Unit, case.unit_id)
        assert unit is not None
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
        order = {
            (e.details.get("user_id"), e.details.get("role")): e.seq
            for e in events
            if e.action == "assign"
        }
        rows = list(session.scalars(select(CaseStaff).where(CaseStaff.case_id == case_id)))
        rows.sort(key=lambda s: order.get((s.user_id, s.role), 0))
        ids = {s.user_id for s in rows} | {
            int(e.actor.split(":", 1)[1]) for e in events if e.actor.startswith("user:")
        }
        users = {
            u.id: (u.display_name, u.badge_number)
            for u in session.scalars(select(User).where(User.id.in_(ids)))
        }
        logins = {
            str(e.details[key]).strip()
            for e in events
            for key in ACCOUNT_NOTES
            if str(e.details.get(key) or "").strip()
        }
        accounts = {
            u.username: (u.id, u.display_name)
            for u in session.scalars(
                select(User).where(User.username.in_(logins), User.unit_id == case.unit_id)
            )
        }
        snap = CaseSnapshot(
            case=case,
            unit=unit,
            parties=list(
                session.scalars(
                    select(CaseParty).where(CaseParty.case_id == case_id).order_by(CaseParty.id)
                )
            ),
            staff=[(s, users.get(s.user_id, ("", None))[0]) for s in rows],
            events=events,
            evidence=list(
                session.scalars(
                    select(CaseEvidence)
                    .where(CaseEvidence.case_id == case_id)
                    .order_by(CaseEvidence.id)
                )
            ),
            documents=list(
                session.scalars(
                    select(CaseDocument)
                    .where(CaseDocument.case_id == case_id)
                    .order_by(CaseDocument.event_seq)
                )
            ),
            people={f"user:{uid}": v for uid, v in users.items()},
            accounts=accounts,
        )
        capture_ids = [e.capture_id for e in snap.evidence if e.capture_id]
        document_ids = [d.document_id for d in snap.documents]
        merchant_ids = [p.merchant_id for p in snap.parties if p.merchant_id]
        snap = CaseSnapshot(
            **{f.name: getattr(snap, f.name) for f in fields(CaseSnapshot)}
            | {
                "captures": {
                    c.id: c
                    for c in session.scalars(select(Capture).where(Capture.id.in_(capture_ids)))
                },
                "portal_documents": {
                    d.id: d
                    for d in session.scalars(select(Document).where(Document.id.in_(document_ids)))
                },
                "merchants": {
                    m.id: m
                    for m in session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))
                },
            }
        )
        session.expunge_all()
    return snap


#: Notes that name an account of the unit by its login name (who presides, who records).
ACCOUNT_NOTES = ("hearing_officer", "recorder")
#: Documents that are the party's own act when the party takes the action in the portal:
#: signed with its certificate at once (a statement, its address confirmation).
_PARTY_ACTS = ("statement", "service_address_confirmation")


# -- which documents the case owes ------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A document the case owes: ``template`` for the event ``event_seq`` (its action)."""

    template: str
    event_seq: int
    action: str


def _documents_of(event: CaseEvent, procedure: str) -> tuple[str, ...]:
    if event.from_state is None or event.action not in process.default_process().actions:
        return ()
    for rule in process.default_process().rules_from(event.from_state, procedure):
        if rule.action == event.action and rule.target == event.to_state:
            return tuple(rule.documents)
    return ()


def _payments(snap: CaseSnapshot) -> tuple[dict[tuple[str, int], int], dict[str, int]]:
    """Which documents paid which owing events: ``(template, owing event) -> add_document
    event`` where the document names it (``for_event``), and per template how many older
    documents name none (they pay the oldest owing events, in order)."""
    named: dict[tuple[str, int], int] = {}
    unnamed: dict[str, int] = {}
    for e in snap.events:
        if e.action != "add_document":
            continue
        template = str(e.details.get("template"))
        if isinstance(e.details.get("for_event"), int):
            named[(template, int(e.details["for_event"]))] = e.seq
        else:
            unnamed[template] = unnamed.get(template, 0) + 1
    return named, unnamed


def owed(snap: CaseSnapshot) -> list[Pending]:
    """The documents the case's transitions made owed and no ``add_document`` has paid yet,
    oldest first. A document names the event it pays (``for_event``); one that does not
    (made before documents could be made out of order) pays the oldest owing event."""
    due: dict[str, list[Pending]] = {}
    named, unnamed = _payments(snap)
    for event in snap.events:
        for template in _documents_of(event, snap.case.procedure):
            if (template, event.seq) not in named:
                due.setdefault(template, []).append(Pending(template, event.seq, event.action))
    out = [p for t, items in due.items() for p in items[unnamed.get(t, 0) :]]
    return sorted(out, key=lambda p: (p.event_seq, p.template))


# -- building the data --------------------------------------------------------------------------


class _Need:
    """Collects what the case cannot supply, so that one answer names every missing field."""

    def __init__(self, snap: CaseSnapshot) -> None:
        self.snap = snap
        self.missing: list[tuple[str, str]] = []
        self.notes: list[tuple[str, str]] = []

    def miss(self, name: str, hint: str) -> None:
        self.missing.append((name, hint))

    def given(self, name: str, *actions: str) -> str | None:
        """The newest text ``name`` given with one of ``actions`` (their ``notes``), or given
        for one of them afterwards (``service.give_notes``); None if none was."""

        def counts(event: CaseEvent) -> bool:
            given_for = (
                event.details.get("for_action") if event.action == service.GIVE_NOTES else None
            )
            return event.action in actions or given_for in actions

        return self._newest(name, counts)

    def _newest(self, name: str, counts: Callable[[CaseEvent], bool]) -> str | None:
        """The newest non-blank text ``name`` of the events ``counts`` accepts."""
        for event in reversed(self.snap.events):
            if counts(event) and str(event.details.get(name) or "").strip():
                return str(event.details[name]).strip()
        return None

    def note(self, name: str, *actions: str, field_name: str | None = None) -> str | None:
        """:meth:`given`, or the field named missing (until a person gives it)."""
        found = self.given(name, *actions)
        if found is not None:
            return found
        self.miss(
            field_name or name,
            f"give {name!r} with the {actions[0]} action, or afterwards (give_notes)",
        )
        taken = next((a for a in actions if self.snap.latest(a) is not None), None)
        if taken is not None:
            self.notes.append((taken, name))
        return None

    def fact(self, name: str, hint: str) -> Any:
        value = self.snap.facts.get(name)
        if value is None:
            self.miss(name, hint)
        return value

    def own(self, event: CaseEvent, name: str, field_name: str | None = None) -> str | None:
        """The text ``name`` given with this very event, or given for it afterwards (a
        ``give_notes`` naming this event: ``for_event``). Never another event's: a notice's
        own place and time, a later notice's must not fill an earlier one."""
        value = str(event.details.get(name) or "").strip()
        if value:
            return value
        later = self._newest(
            name,
            lambda e: e.action == service.GIVE_NOTES and e.details.get("for_event") == event.seq,
        )
        if later is not None:
            return later
        if name in service.effects().get(event.action, service.NO_EFFECT).notes:
            self.miss(
                field_name or name,
                f"give {name!r} with the {event.action} action, or afterwards (give_notes)",
            )
            self.notes.append((event.action, name))
        else:
            self.miss(field_name or name, f"give {name!r} with the {event.action} action")
        return None

    def optional(self, event: CaseEvent, name: str) -> str | None:
        return str(event.details.get(name) or "").strip() or None


def _local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BEIJING)


def _day(moment: dt.datetime) -> str:
    return _local(moment).date().isoformat()


def _yuan(fen: int) -> str:
    return str((Decimal(int(fen)) / 100).quantize(Decimal("0.01")))


def _penalty(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    if value.get("kind") == "warning":
        return {"warning": True}
    return {"fine_yuan": _yuan(int(value.get("amount_fen") or 0))}


_CITATION = re.compile(r"^《?(?P<rule>[^》]+?)》?\s*(?P<article>第\S.*)$")
_PROVISION_ACTIONS = (
    "propose_filing",
    "end_investigation",
    "notify_penalty",  # fast-track: the notification follows the admission at once
    "decide_on_the_spot",
)


def _chosen(need: _Need) -> legal_choice.Chosen | None:
    """The legal basis the officer chose from the catalogue (workflow/legal), if any."""
    return legal_choice.latest(need.snap.events)


def _citations(need: _Need) -> list[dict[str, str]]:
    """The provisions violated: as the officer typed them, else the chosen entry's."""
    chosen = _chosen(need)
    if chosen is not None and need.given("violated_provisions", *_PROVISION_ACTIONS) is None:
        return [dict(c) for c in chosen.violated]
    text = need.note("violated_provisions", *_PROVISION_ACTIONS)
    if text is None:
        return []
    out = []
    for line in re.split(r"[\n；;]+", text):
        line = line.strip()
        if not line:
            continue
        m = _CITATION.match(line)
        if m is None:
            need.miss(
                "violated_provisions",
                f"{line!r} is not a rule and article such as 《中华人民共和国电子商务法》第十七条",
            )
            continue
        out.append({"rule": m.group("rule").strip(), "article": m.group("article").strip()})
    return out


def _party(need: _Need) -> dict[str, Any]:
    snap = need.snap
    if not snap.parties:
        need.miss("party", "add the party to the case")
        return {}
    p = snap.parties[0]
    kind = "individual" if snap.case.party_kind == "natural_person" else "organization"
    out: dict[str, Any] = {"kind": kind, "name": p.name}
    for key in ("credit_code", "shop_url", "platform"):
        value = getattr(p, key)
        if value:
            out[key] = value
    if kind == "organization" and not p.credit_code:
        need.miss("party.credit_code", "record the party's unified social credit code")
    return out


def _officers(need: _Need, least: int = 2) -> list[dict[str, str]]:
    out = [
        {"name": name, "officer_id": s.badge_number}
        for s, name in need.snap.staff
        if s.role == "officer" and s.badge_number
    ]
    if len(out) < least:
        need.miss("officers", f"assign at least {least} officers with badge numbers")
    return out


def _person(need: _Need, event: CaseEvent) -> str:
    return need.snap.people.get(event.actor, (event.actor_name, None))[0] or event.actor_name


def _acting_officer(need: _Need, event: CaseEvent, name: str) -> dict[str, str]:
    person, badge = need.snap.people.get(event.actor, (event.actor_name, None))
    if not badge:
        need.miss(name, f"{event.actor_name} has no badge number (执法证号)")
        return {}
    return {"name": person, "officer_id": badge}


def _approval(need: _Need, *actions: str) -> dict[str, Any]:
    event = need.snap.latest(*actions)
    if event is None:
        need.miss("approval", f"the head approves first ({actions[0]})")
        return {}
    opinion = need.own(event, "opinion", "approval.opinion") or ""
    return {"name": _person(need, event), "opinion": opinion, "date": _day(event.at)}


def _number(need: _Need) -> str:
    if not need.snap.case.number:
        need.miss("case_number", "the case is numbered when it is filed (approve_filing)")
        return ""
    return need.snap.case.number


def _base(
    need: _Need, template: str, event: CaseEvent, number: str | None = None
) -> dict[str, Any]:
    """What every document states; ``number``: a document number of its own (a lead that is
    not filed has no case number)."""
    chosen = _chosen(need)
    if chosen is not None and template in _data()["chosen_legal_basis"]["templates"]:
        basis = [dict(c) for c in chosen.basis]
    else:
        basis = default_legal_basis(template)
    if not basis:
        need.miss("legal_basis", f"legal staff add the legal basis of {template} to its sample")
    return {
        "case_number": number if number is not None else _number(need),
        "issuing_unit": need.snap.unit.name,
        "date": _day(event.at),
        "legal_basis": basis,
    }


def _evidence_lines(need: _Need) -> list[str]:
    out = [f"{e.file_name}（SHA-256 {e.sha256}）"[:200] for e in need.snap.evidence]
    if not out:
        need.miss("evidence", "attach the evidence to the case (add_evidence)")
    return out


def _evidence_items(need: _Need) -> list[dict[str, Any]]:
    out = []
    for e in need.snap.evidence:
        item: dict[str, Any] = {
            "name": e.file_name[:200],
            "kind": "electronic",
            "source": (
                e.description or ("网页电子数据取证" if e.kind == "capture" else "上传文件")
            )[:200],
        }
        if e.kind == "capture" and e.capture_id:
            item.update(package_id=e.capture_id, package_sha256=e.sha256)
        out.append(item)
    if not out:
        need.miss("evidence", "attach the evidence to the case (add_evidence)")
    return out


def _decision_ref(need: _Need) -> dict[str, str]:
    return {"title": "行政处罚决定书", "number": _number(need)}


Builder = Callable[[_Need, CaseEvent], dict[str, Any]]


def _case_source_registration(need: _Need, event: CaseEvent) -> dict[str, Any]:
    case = need.snap.case
    complaint = case.source == "complaint"
    number = None
    if not case.number and (proposal := need.snap.latest("propose_non_filing")) is not None:
        # a lead not filed is never numbered: the form carries the non-filing document's own
        number = need.own(proposal, "document_number", "case_number") or ""
    data = _base(need, "case_source_registration", event, number)
    party = _party(need)
    shop = case.shop_url or party.get("shop_url")
    if not shop:
        need.miss("shop_url", "record the shop or listing address the lead concerns")
    data.update(
        source="complaint" if complaint else "inspection",
        received_on=_day(case.received_at),
        party=party,
        shop_url=shop,
        summary=case.summary,
        registering_officer=_acting_officer(need, event, "registering_officer"),
        handling_opinion=need.note("handling_opinion", "register"),
        approval=_approval(need, "approve_filing", "approve_non_filing"),
    )
    if complaint:
        data["complainant"] = {"name": case.complainant_name, "phone": case.complainant_contact}
    return data


def _filing_approval(need: _Need, event: CaseEvent) -> dict[str, Any]:
    f = need.snap.facts
    if not f.get("no_penalty_lists_consulted"):
        need.miss("list_check", "consult the no-penalty lists (propose_filing)")
    if f.get("no_penalty_list_match"):
        need.miss("list_check.item", "a list match is not filed as an ordinary case")
    data = _base(need, "filing_approval", event)
    data.update(
        party=_party(need),
        source_ref={"title": "案件来源登记表"},
        received_on=_day(need.snap.case.received_at),
        verification_facts=need.note("verification_facts", "propose_filing"),
        suspected_violation=need.note("suspected_violation", "propose_filing"),
        violated_provisions=_citations(need),
        list_check={
            "list_name": legal_catalogue.starter().no_penalty_list,
            "result": "not_listed",
        },
        officers=_officers(need),
        officer_opinion=need.note("officer_opinion", "propose_filing"),
        approval=_approval(need, "approve_filing"),
    )
    return data


def _discretion(need: _Need) -> dict[str, Any]:
    chosen = _chosen(need)
    if (
        chosen is not None
        and need.given("discretion_band", "end_investigation", "notify_penalty") is None
    ):
        return _chosen_discretion(need, chosen)
    band = need.note(
        "discretion_band", "end_investigation", "notify_penalty", field_name="discretion.band"
    )
    reasoning = need.note(
        "discretion_reasoning",
        "end_investigation",
        "notify_penalty",
        field_name="discretion.reasoning",
    )
    out: dict[str, Any] = {"band": band, "reasoning": reasoning}
    event = need.snap.latest("end_investigation", "notify_penalty")
    mitigating = str((event.details if event else {}).get("mitigating") or "")
    items = [m.strip()[:200] for m in re.split(r"[\n；;]+", mitigating) if m.strip()]
    if items:
        out["mitigating"] = items
    return out


def _chosen_discretion(need: _Need, chosen: legal_choice.Chosen) -> dict[str, Any]:
    """The discretion of the entry and band chosen on the case; the officer's typed
    reasoning still wins. A band the factors did not give keeps the officer's reason as
    its circumstance."""
    typed = need.given("discretion_reasoning", "end_investigation", "notify_penalty")
    out: dict[str, Any] = {
        "band": chosen.document_band,
        "reasoning": typed or chosen.discretion_text(),
        "standard": chosen.standard,
    }
    reason = [chosen.reason[:200]] if chosen.reason else []
    out["mitigating"] = [m[:200] for m in chosen.mitigating] or (
        reason if chosen.band == "mild" else []
    )
    out["aggravating"] = [a[:200] for a in chosen.aggravating] or (
        reason if chosen.band == "serious" else []
    )
    return out


def _proposed_penalty(need: _Need) -> dict[str, Any] | None:
    event = need.snap.latest("end_investigation")
    given = str((event.details if event else {}).get("proposed_fine_yuan") or "").strip()
    if given:
        return {"fine_yuan": given}
    found = _penalty(need.snap.facts.get("notified_penalty"))
    if found is None:
        need.miss(
            "proposed_penalty", "give 'proposed_fine_yuan' with end_investigation (e.g. 5000)"
        )
    return found


def _investigation_end_report(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "investigation_end_report", event)
    data.update(
        party=_party(need),
        filed_on=need.fact("filed_on", "the case is filed first (approve_filing)"),
        facts=need.note("facts", "end_investigation", "notify_penalty"),
        evidence=_evidence_items(need),
        violated_provisions=_citations(need),
        discretion=_discretion(need),
        proposed_outcome="penalty",
        proposed_penalty=_proposed_penalty(need),
        officers=_officers(need),
    )
    return data


def _case_review_form(need: _Need, event: CaseEvent) -> dict[str, Any]:
    f = need.snap.facts
    submitted = need.snap.latest("end_investigation")
    if submitted is None:
        need.miss("submitted_on", "end the investigation first")
    opinions = {
        key: need.note(f"review_{key}", "complete_review", field_name=f"opinions.{key}")
        for key in ("facts", "evidence", "procedure", "law", "discretion")
    }
    data = _base(need, "case_review_form", event)
    data.update(
        party=_party(need),
        reviewed_document={"title": "案件调查终结报告", "number": _number(need)},
        submitted_on=_day(submitted.at) if submitted else None,
        opinions=opinions,
        major_case=bool(f.get("major_case")),
        legal_review=bool(f.get("legal_review_done")),
        conclusion="agree",
        reviewer=_person(need, event),
        reviewed_on=_day(event.at),
    )
    return data


def _penalty_notification(need: _Need, event: CaseEvent) -> dict[str, Any]:
    f = need.snap.facts
    data = _base(need, "penalty_notification", event)
    data.update(
        party=_party(need),
        facts=need.note("facts", "end_investigation", "notify_penalty"),
        evidence=_evidence_lines(need),
        violated_provisions=_citations(need),
        proposed_penalty=_penalty(need.fact("notified_penalty", "give the proposed penalty")),
        hearing_right=bool(f.get("hearing_right")),
        officers=_officers(need),
    )
    return data


# -- service (送达): which document an action served, how, and when it counts as served -------


@dataclass(frozen=True)
class Service:
    """One serving of a document, as the case's events record it."""

    #: The event of the serving action (notify_penalty, serve_decision, ...).
    event: CaseEvent
    method: str
    #: The method's particulars as the action recorded them (``details["service"]``).
    record: Mapping[str, Any]
    #: The case document served (None while it is not made yet).
    document: CaseDocument | None
    #: The legal time of service, once known (None: not served yet).
    served_at: dt.datetime | None
    #: The postal receipt or the portal delivery that completed it.
    completion: CaseEvent | None


def _paying(snap: CaseSnapshot, template: str, event: CaseEvent) -> CaseDocument | None:
    """The document of ``template`` that pays what ``event`` owes (the n-th document of a
    template pays the n-th event owing it)."""
    named, unnamed = _payments(snap)
    if (template, event.seq) in named:
        seq = named[(template, event.seq)]
        return next((d for d in snap.documents if d.event_seq == seq), None)
    owing = [
        e.seq
        for e in snap.events
        if template in _documents_of(e, snap.case.procedure) and (template, e.seq) not in named
    ]
    made = [
        d
        for d in snap.documents
        if d.template == template and d.event_seq not in set(named.values())
    ]
    n = owing.index(event.seq) if event.seq in owing else -1
    return made[n] if 0 <= n < min(len(made), unnamed.get(template, 0)) else None


def served_document(snap: CaseSnapshot, event: CaseEvent) -> CaseDocument | None:
    """The document a serving action served: the one the same action makes, else the newest
    the case held before it (``document_data.toml`` [served])."""
    templates = list(_data()["served"].get(event.action, ()))
    own = _documents_of(event, snap.case.procedure)
    for template in templates:
        if template in own:
            return _paying(snap, template, event)
    earlier = [d for d in snap.documents if d.template in templates and d.event_seq < event.seq]
    return earlier[-1] if earlier else None


def _completion(snap: CaseSnapshot, action: str, seq: int) -> CaseEvent | None:
    return next(
        (e for e in snap.events if e.action == action and e.details.get("event_seq") == seq),
        None,
    )


def _start_of(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(0), tzinfo=BEIJING)


def service_of(snap: CaseSnapshot, event: CaseEvent) -> Service:
    record = dict(event.details.get("service") or {})
    method = str(record.get("method") or event.details.get("service_method") or "direct")
    served_at: dt.datetime | None = None
    completion: CaseEvent | None = None
    if method == "direct":
        served_at = event.at
    elif method == "electronic":
        completion = _completion(snap, "deliver_document", event.seq)
        if completion is not None:
            served_at = dt.datetime.fromisoformat(str(completion.details["served_at"]))
    elif method == "postal":
        completion = _completion(snap, "record_service_receipt", event.seq)
        if completion is not None:
            served_at = _start_of(str(completion.details["received_on"]))
    elif record.get("served_on"):
        served_at = _start_of(str(record["served_on"]))
    return Service(event, method, record, served_document(snap, event), served_at, completion)


def serving_events(snap: CaseSnapshot) -> list[CaseEvent]:
    return [e for e in snap.events if e.action in _data()["served"] and e.to_state is not None]


_NOT_SERVED = {
    "electronic": "the document has not reached the party's portal account yet (the party "
    "needs an account linked to the case: link_party)",
    "postal": "record the postal return receipt first (record_service_receipt)",
    "public_notice": "the public notice has no publication date",
}


def _proof_of_service(need: _Need, event: CaseEvent) -> dict[str, Any]:
    snap = need.snap
    served = service_of(snap, event)
    template = served.document.template if served.document else None
    title = (
        TEMPLATES[template].title_zh
        if template
        else _data()["titles"].get(event.action, event.action)
    )
    if served.served_at is None:
        need.miss("served_at", _NOT_SERVED.get(served.method, "serve the document first"))
    party = _party(need)
    data = _base(need, "proof_of_service", event)
    data.update(
        party=party,
        documents=[{"title": title, "number": _number(need)}],
        method=served.method,
        served_at=_local(served.served_at).isoformat() if served.served_at else None,
        servers=[_acting_officer(need, event, "servers")],
    )
    r = served.record
    if served.method == "electronic":
        account = next(
            (snap.merchants.get(p.merchant_id) for p in snap.parties if p.merchant_id), None
        )
        code = account.credit_code if account else party.get("credit_code") or party.get("name")
        data["electronic_address"] = f"portal account {code}"
    elif served.method == "postal" and served.completion is not None:
        c = served.completion.details
        data["remarks"] = (
            f"邮寄送达：邮件号 {r.get('tracking_number')}，{r.get('posted_on')} 交邮，"
            f"回执载明 {c.get('received_on')} 签收。"
        )
        if c.get("receiver"):
            data["receiver_name"] = c["receiver"]
    elif served.method == "public_notice":
        data["place"] = str(r.get("notice_medium") or "")[:200] or None
        data["remarks"] = (
            f"公告送达：{r.get('published_on')} 在{r.get('notice_medium')}发布公告，自发布之日起"
            f"经过三十日即视为送达（{r.get('served_on')}）。"
        )
    return {k: v for k, v in data.items() if v is not None}


def _statement(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "statement", event)
    data.update(
        party=_party(need),
        responds_to={"title": "行政处罚告知书", "number": _number(need)},
        statement=str(event.details.get("statement") or ""),
        submitted_at=_local(event.at).isoformat(),
    )
    return data


def _penalty_decision(need: _Need, event: CaseEvent) -> dict[str, Any]:
    f = need.snap.facts
    penalty = _penalty(need.fact("decided_penalty", "give the decided penalty"))
    statement = need.snap.latest("record_statement")
    data = _base(need, "penalty_decision", event)
    # a decision on the spot (简易程序) states the facts and provisions its own action noted:
    # there was no investigation to end
    deciding = ("decide_penalty", "decide_on_the_spot")
    data.update(
        party=_party(need),
        facts=need.note("facts", "end_investigation", "notify_penalty", "decide_on_the_spot"),
        evidence=_evidence_lines(need),
        hearing_held=bool(f.get("hearing_held")),
        violated_provisions=_citations(need),
        penalty=penalty,
        remedies={
            "review_authority": need.note(
                "review_authority", *deciding, field_name="remedies.review_authority"
            ),
            "court": need.note("court", *deciding, field_name="remedies.court"),
        },
    )
    if statement is not None:
        data["statement_summary"] = statement.details.get("statement")
    if event.details.get("discretion"):
        data["discretion"] = event.details["discretion"]
    elif (chosen := _chosen(need)) is not None:
        data["discretion"] = chosen.discretion_text()
    if penalty and penalty.get("fine_yuan"):
        data["payment"] = {
            "channel": need.note("payment_channel", *deciding, field_name="payment.channel")
        }
    return data


def _payment_receipt(need: _Need, event: CaseEvent) -> dict[str, Any]:
    """罚没款收据. Paid through the payment channel, its figures are the ones
    ``workflow.payments`` computed and recorded in the case when the money was counted (the
    ``settlement`` of the ``payment_received`` event that settled the fine): copied, never
    recomputed, so this document and the channel's receipt state the same fine, surcharge,
    total, time, channel and payment number. A payment recorded by hand (no channel
    involved) states the fine as decided and the number and channel the action noted."""
    # workflow.payments' ReceiptFigures.fields(): the template's own field names
    figure_names = (
        "payment_number",
        "fine_yuan",
        "surcharge_yuan",
        "total_yuan",
        "paid_at",
        "channel",
        "payee",
    )
    data = _base(need, "payment_receipt", event)
    settled = next(
        (
            e
            for e in reversed(need.snap.events)
            if e.seq < event.seq
            and e.action == "payment_received"
            and isinstance((e.details or {}).get("settlement"), Mapping)
        ),
        None,
    )
    if settled is not None:
        figures = settled.details["settlement"]
        data.update(
            party=_party(need),
            decision=_decision_ref(need),
            **{name: figures[name] for name in figure_names if name in figures},
        )
        return data
    penalty = _penalty(need.fact("decided_penalty", "the penalty is decided first")) or {}
    fine = penalty.get("fine_yuan") or "0.00"
    data.update(
        payment_number=need.note("payment_number", "record_payment"),
        party=_party(need),
        decision=_decision_ref(need),
        fine_yuan=fine,
        total_yuan=fine,
        paid_at=_local(event.at).isoformat(),
        channel=need.note("payment_channel", "record_payment", "decide_penalty"),
        payee=need.snap.unit.name,
    )
    return data


def _closing_approval(need: _Need, event: CaseEvent) -> dict[str, Any]:
    f = need.snap.facts
    penalty = _penalty(f.get("decided_penalty"))
    outcome = "penalty" if penalty else "no_penalty" if f.get("no_penalty_decision") else None
    if outcome is None:
        need.miss("outcome", "the case is decided first")
    if penalty and penalty.get("fine_yuan") and f.get("paid"):
        execution = {
            "status": "paid",
            "paid_yuan": penalty["fine_yuan"],
            "paid_on": f.get("paid_on"),
        }
    elif f.get("enforcement_application_recorded"):
        execution = {
            "status": "enforcement_applied",
            "enforcement_court": need.note("court", "decide_penalty", field_name="execution"),
            "enforcement_applied_on": f.get("enforcement_applied_on"),
        }
    else:
        execution = {"status": "not_applicable"}
    data = _base(need, "closing_approval", event)
    data.update(
        party=_party(need),
        # a decision on the spot is not filed: the case began when it was registered
        filed_on=need.fact("filed_on", "the case is filed first")
        if need.snap.case.procedure != "simplified"
        else need.fact("registered_on", "the case is registered first"),
        decision=_decision_ref(need) if outcome == "penalty" else {"title": "不予行政处罚决定书"},
        decided_on=f.get("decided_on"),
        outcome=outcome,
        outcome_summary=need.note("outcome_summary", "close_case"),
        execution=execution,
        officers=_officers(need),
        officer_opinion=need.note("officer_opinion", "close_case"),
        approval=_approval(need, "close_case"),
    )
    if f.get("published"):
        data["publicity"] = {
            "published_on": f.get("published_on"),
            "url": need.note("url", "publish", field_name="publicity.url"),
        }
    return data


# -- the ten documents of investigation, hearing and no penalty -----------------------------

_SPLIT = re.compile(r"[\n；;]+")
_FIELD_SEP = re.compile(r"\s*[|｜]\s*")
_SPEAKER = re.compile(r"^(?P<who>[^：:]{1,100})[：:]\s*(?P<text>.+)$")


def _lines(text: str | None) -> list[str]:
    return [line.strip()[:200] for line in _SPLIT.split(text or "") if line.strip()]


def _moment(need: _Need, text: str | None, name: str) -> str | None:
    """A time an officer wrote (``2026-03-02T09:30``, Beijing time unless it says otherwise),
    as ISO 8601 with its offset."""
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        need.miss(name, f"{text!r} is not a time such as 2026-03-02T09:30")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    return value.isoformat()


def _iso_date(need: _Need, text: str | None, name: str) -> str | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        need.miss(name, f"{text!r} is not a date such as 2026-03-02")
        return None


def _flag(text: str | None, default: bool) -> bool:
    if text is None:
        return default
    return text.strip().lower() not in ("false", "no", "0", "否", "不公开")


def _contact(need: _Need, event: CaseEvent) -> dict[str, Any]:
    return {
        "person": need.own(event, "contact_person", "contact.person"),
        "phone": need.own(event, "contact_phone", "contact.phone"),
    }


def _remedies(need: _Need, *actions: str) -> dict[str, Any]:
    return {
        "review_authority": need.note(
            "review_authority", *actions, field_name="remedies.review_authority"
        ),
        "court": need.note("court", *actions, field_name="remedies.court"),
    }


def _account(need: _Need, event: CaseEvent, name: str) -> tuple[int, str] | None:
    """The unit's account an event names by login name (who presides, who records)."""
    login = need.own(event, name)
    if login is None:
        return None
    found = need.snap.accounts.get(login)
    if found is None:
        need.miss(name, f"{login!r} is not the login name of an account of the unit")
    return found


def _facts_text(need: _Need, event: CaseEvent) -> str | None:
    """The facts found: given with this action, else as the investigation-end report states
    them."""
    return need.optional(event, "facts") or need.note(
        "facts", "end_investigation", "notify_penalty"
    )


def _non_filing_approval(need: _Need, event: CaseEvent) -> dict[str, Any]:
    case = need.snap.case
    kind = need.own(event, "non_filing_ground", "grounds[0].kind")
    if kind is not None and kind not in _data()["grounds"]["non_filing"]:
        need.miss("grounds[0].kind", f"one of {', '.join(_data()['grounds']['non_filing'])}")
    number = need.snap.case.number or need.own(event, "document_number", "case_number")
    data = _base(need, "non_filing_approval", event, number or "")
    notify = case.source == "complaint"
    data.update(
        received_on=_day(case.received_at),
        source_ref={"title": "案件来源登记表"},
        verification_facts=need.own(event, "verification_facts"),
        grounds=[{"kind": kind, "explanation": str(event.details.get("reasons") or "")}],
        notify_complainant=notify,
        officers=_officers(need, least=1),
        officer_opinion=need.own(event, "officer_opinion"),
        approval=_approval(need, "approve_non_filing"),
    )
    if need.snap.parties:
        data["party"] = _party(need)
    if notify:
        data["complainant"] = {"name": case.complainant_name, "phone": case.complainant_contact}
    if need.optional(event, "transfer_to"):
        data["transfer_to"] = need.optional(event, "transfer_to")
    return data


def _inquiry_notice(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "inquiry_notice", event)
    data.update(
        party=_party(need),
        matter=need.own(event, "matter"),
        inquiry_at=_moment(need, need.own(event, "inquiry_at"), "inquiry_at"),
        place=need.own(event, "place"),
        persons_to_bring=_lines(need.own(event, "persons_to_bring")),
        documents_to_bring=_lines(need.own(event, "documents_to_bring")),
        officers=_officers(need),
        contact=_contact(need, event),
    )
    return data


def _qa(need: _Need, text: str | None) -> list[dict[str, str]]:
    """Questions and answers as the officer wrote them: lines starting 问： and 答：."""
    out: list[dict[str, str]] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        head, body = line[:1], line[1:].lstrip("：: ").strip()
        if head == "问":
            out.append({"question": body, "answer": ""})
        elif head == "答" and out and not out[-1]["answer"]:
            out[-1]["answer"] = body
        elif out:
            key = "answer" if out[-1]["answer"] else "question"
            out[-1][key] = f"{out[-1][key]}\n{line}"
        else:
            need.miss("qa", "write each question as 问：… and its answer as 答：…")
            return []
    if text is not None and (not out or any(not qa["answer"] for qa in out)):
        need.miss("qa", "every question (问：…) needs its answer (答：…)")
    return out


def _inquiry_record(need: _Need, event: CaseEvent) -> dict[str, Any]:
    started = _moment(need, need.own(event, "started_at"), "started_at")
    data = _base(need, "inquiry_record", event)
    if started is not None:
        data["date"] = dt.datetime.fromisoformat(started).astimezone(BEIJING).date().isoformat()
    person: dict[str, Any] = {
        "name": need.own(event, "person_name", "person.name"),
        "id_type": need.optional(event, "person_id_type") or "resident_id",
        "id_number": need.own(event, "person_id_number", "person.id_number"),
        "role": need.own(event, "person_role", "person.role"),
    }
    if need.optional(event, "person_phone"):
        person["phone"] = need.optional(event, "person_phone")
    data.update(
        party=_party(need),
        started_at=started,
        ended_at=_moment(need, need.own(event, "ended_at"), "ended_at"),
        place=need.own(event, "place"),
        inquirers=_officers(need),
        recorder=need.optional(event, "recorder") or _person(need, event),
        person=person,
        qa=_qa(need, need.own(event, "qa")),
    )
    if need.optional(event, "rights_answer"):
        data["rights_answer"] = need.optional(event, "rights_answer")
    return data


def _capture_of(need: _Need, event: CaseEvent) -> tuple[CaseEvidence, Capture] | None:
    """The capture an event is about: the one it names (``capture_id``), else the newest
    capture attached to the case before it."""
    wanted = need.optional(event, "capture_id")
    found = [
        e
        for e in need.snap.evidence
        if e.kind == "capture" and e.capture_id and e.event_seq < event.seq
    ]
    if wanted:
        found = [e for e in found if e.capture_id == wanted]
    if not found:
        need.miss(
            "capture",
            f"attach the sealed capture {wanted} to the case first"
            if wanted
            else "attach a sealed capture to the case first (the capture button, or link one)",
        )
        return None
    evidence = found[-1]
    row = need.snap.captures.get(str(evidence.capture_id))
    if row is None:
        need.miss("capture", f"capture {evidence.capture_id} is not in the store")
        return None
    return evidence, row


def _utc(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


def _capture_facts(need: _Need, evidence: CaseEvidence, row: Capture) -> dict[str, Any]:
    """What the stored capture row knows of its sealed package (the extraction record states
    these; a court checks them against the package with ``evidence verify``)."""
    summary = row.summary or {}
    files = {
        str(r["path"]): str(r["hash"])
        for r in summary.get("resources") or []
        if isinstance(r, Mapping) and r.get("path") and str(r.get("hash", "")).startswith("sha256:")
    }
    if row.status != "stored" or not row.package_sha256:
        need.miss("capture", f"capture {row.id} is not sealed yet ({row.status})")
    for name, value in (
        ("capture.capture_started", row.started_at),
        ("capture.capture_ended", row.ended_at),
        ("capture.trusted_time", row.trusted_time),
        ("capture.tsa", row.tsa_name),
        ("capture.tsa_serial", row.tsa_serial),
        ("capture.manifest_sha256", row.manifest_sha256),
    ):
        if not value:
            need.miss(name, f"the stored capture {row.id} does not record it")
    if not files:
        need.miss("capture.files", f"the stored capture {row.id} lists no sealed files")
    out: dict[str, Any] = {
        "package_id": row.id,
        "requested_url": row.requested_url,
        "capture_started": _utc(row.started_at),
        "capture_ended": _utc(row.ended_at),
        "trusted_time": _utc(row.trusted_time),
        "tsa": row.tsa_name,
        "tsa_serial": row.tsa_serial,
        "manifest_sha256": row.manifest_sha256,
        "package_sha256": row.package_sha256 or evidence.sha256,
        "package_size": row.package_size or evidence.size,
        "package_name": evidence.file_name[:200],
        "files": files,
    }
    extra: tuple[tuple[str, object], ...] = (
        ("final_url", row.final_url),
        ("title", row.title),
        ("http_status", row.http_status),
    )
    for key, known in extra:
        if known:
            out[key] = known
    return out


def _evidence_extraction_record(need: _Need, event: CaseEvent) -> dict[str, Any]:
    found = _capture_of(need, event)
    data = _base(need, "evidence_extraction_record", event)
    data.update(
        capture=_capture_facts(need, *found) if found else None,
        place=need.own(event, "place"),
        officers=_officers(need),
    )
    if need.snap.parties:
        data["party"] = _party(need)
    for key in ("witness", "remarks"):
        if need.optional(event, key):
            data[key] = need.optional(event, key)
    return data


def _preserved_items(need: _Need, text: str | None) -> list[dict[str, Any]]:
    """Items as 名称｜数量｜单位｜存放地点[｜规格], one a line."""
    out = []
    for line in _lines(text):
        parts = _FIELD_SEP.split(line)
        if len(parts) < 4:
            need.miss("items", f"{line!r}: write 名称｜数量｜单位｜存放地点[｜规格型号]")
            continue
        item: dict[str, Any] = {
            "name": parts[0],
            "quantity": parts[1],
            "unit": parts[2],
            "location": parts[3],
        }
        if len(parts) > 4 and parts[4]:
            item["specification"] = parts[4]
        out.append(item)
    return out


def _evidence_preservation_notice(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "evidence_preservation_notice", event)
    data.update(
        party=_party(need),
        reason=need.own(event, "reason"),
        items=_preserved_items(need, need.own(event, "items")),
        approved_by=need.own(event, "approved_by"),
        approved_on=_iso_date(need, need.optional(event, "approved_on"), "approved_on")
        or _day(event.at),
        officers=_officers(need),
        remedies=_remedies(need, "preserve_evidence"),
    )
    return data


def _service_address_confirmation(need: _Need, event: CaseEvent) -> dict[str, Any]:
    party = _party(need)
    account = next(
        (need.snap.merchants.get(p.merchant_id) for p in need.snap.parties if p.merchant_id),
        None,
    )
    electronic: dict[str, Any] = {"consent": False}
    for key in ("email", "mobile"):
        if need.optional(event, key):
            electronic[key] = need.optional(event, key)
    if account is not None:
        electronic["portal_account"] = f"{account.name}（{account.credit_code}）"[:200]
    electronic["consent"] = len(electronic) > 1
    recipient: dict[str, Any] = {
        "name": need.own(event, "recipient_name", "recipient.name"),
        "phone": need.own(event, "recipient_phone", "recipient.phone"),
        "address": need.own(event, "recipient_address", "recipient.address"),
    }
    if need.optional(event, "postal_code"):
        recipient["postal_code"] = need.optional(event, "postal_code")
    data = _base(need, "service_address_confirmation", event)
    data.update(party=party, recipient=recipient, electronic_service=electronic)
    return data


def _order_to_correct(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "order_to_correct", event)
    data.update(
        party=_party(need),
        facts=need.own(event, "facts"),
        violated_provisions=_citations(need),
        correction=need.own(event, "correction"),
        deadline=need.fact("correction_due_on", "give correction_due_on with order_correction"),
        officers=_officers(need),
    )
    return data


def _matter(need: _Need) -> str:
    suspected = need.snap.latest("propose_filing")
    what = str((suspected.details if suspected else {}).get("suspected_violation") or "")
    matter = f"当事人{what or need.snap.case.title}一案"
    proposed = _penalty(need.snap.facts.get("notified_penalty"))
    if proposed and proposed.get("fine_yuan"):
        matter += f"，拟作出罚款 {proposed['fine_yuan']} 元的行政处罚"
    elif proposed:
        matter += "，拟作出警告的行政处罚"
    return matter


def _hearing_notice(need: _Need, event: CaseEvent) -> dict[str, Any]:
    presiding = _account(need, event, "hearing_officer")
    recorder = _account(need, event, "recorder")
    public = _flag(need.optional(event, "public"), True)
    data = _base(need, "hearing_notice", event)
    data.update(
        party=_party(need),
        matter=_matter(need),
        requested_on=need.snap.facts.get("hearing_requested_on"),
        hearing_at=_moment(need, need.own(event, "hearing_at"), "hearing_at"),
        place=need.own(event, "place"),
        hearing_officer=presiding[1] if presiding else None,
        recorder=recorder[1] if recorder else None,
        public=public,
        investigators=_officers(need),
        contact=_contact(need, event),
    )
    if not public:
        data["non_public_reason"] = need.own(event, "non_public_reason")
    return data


def _participants(need: _Need, text: str | None) -> list[dict[str, Any]]:
    """The investigators (the case's officers) and the people the record names, one a line
    as 姓名｜角色｜单位 (角色: party, agent, third_party, witness, interpreter, other)."""
    out: list[dict[str, Any]] = [
        {"name": o["name"], "role": "investigator", "officer_id": o["officer_id"]}
        for o in _officers(need)
    ]
    for line in _lines(text):
        parts = _FIELD_SEP.split(line)
        if len(parts) < 2:
            need.miss("participants", f"{line!r}: write 姓名｜角色[｜单位]")
            continue
        person: dict[str, Any] = {"name": parts[0], "role": parts[1]}
        if len(parts) > 2 and parts[2]:
            person["organization"] = parts[2]
        out.append(person)
    return out


def _utterances(need: _Need, text: str | None, name: str) -> list[dict[str, str]]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        m = _SPEAKER.match(line)
        if m is None:
            need.miss(name, f"{line[:40]!r}: write 发言人：内容, one a line")
            continue
        out.append({"speaker": m.group("who").strip(), "text": m.group("text").strip()})
    return out


def _hearing_record(need: _Need, event: CaseEvent) -> dict[str, Any]:
    scheduled = need.snap.latest("schedule_hearing")
    if scheduled is None:
        need.miss("hearing_officer", "schedule the hearing first")
        return {}
    presiding = _account(need, scheduled, "hearing_officer")
    recorder = _account(need, scheduled, "recorder")
    data = _base(need, "hearing_record", event)
    data.update(
        party=_party(need),
        started_at=_moment(need, need.own(event, "started_at"), "started_at"),
        ended_at=_moment(need, need.own(event, "ended_at"), "ended_at"),
        place=need.optional(event, "place") or need.own(scheduled, "place"),
        public=_flag(need.optional(scheduled, "public"), True),
        hearing_officer=presiding[1] if presiding else None,
        recorder=recorder[1] if recorder else None,
        participants=_participants(need, need.own(event, "participants")),
        investigators_case=need.own(event, "investigators_case"),
        party_statement=need.own(event, "party_statement"),
        cross_examination=_utterances(
            need, need.own(event, "cross_examination"), "cross_examination"
        ),
        final_statements=_utterances(need, need.own(event, "final_statements"), "final_statements"),
    )
    return data


def _correction(need: _Need, event: CaseEvent) -> dict[str, Any] | None:
    """How the correction was verified: the confirming event and the re-capture before it."""
    confirmed = next(
        (
            e
            for e in reversed(need.snap.events)
            if e.action == "confirm_correction" and e.seq < event.seq
        ),
        None,
    )
    if confirmed is None:
        need.miss("correction", "confirm the correction (confirm_correction) first")
        return None
    out: dict[str, Any] = {
        "verified_on": _day(confirmed.at),
        "method": need.optional(event, "correction_method")
        or "对当事人网店页面重新进行电子数据取证（封存的取证包），核查页面已改正。",
    }
    found = _capture_of(need, confirmed)
    if found is not None:
        evidence, row = found
        out["recapture"] = {
            "package_id": row.id,
            "package_sha256": row.package_sha256 or evidence.sha256,
            "captured_at": _utc(row.trusted_time or row.started_at),
            "url": row.final_url or row.requested_url,
        }
    return out


def _no_penalty_decision(need: _Need, event: CaseEvent) -> dict[str, Any]:
    ground = need.fact("no_penalty_ground", "give the ground with decide_no_penalty")
    grounds = _data()["no_penalty_grounds"]
    statement = need.snap.latest("record_statement")
    data = _base(need, "no_penalty_decision", event)
    data.update(
        party=_party(need),
        facts=_facts_text(need, event),
        evidence=_evidence_lines(need),
        violated_provisions=_citations(need),
        grounds=[grounds.get(str(ground), "other")] if ground else [],
        reasoning=need.own(event, "reasoning"),
        guidance=need.own(event, "guidance"),
        remedies=_remedies(need, "decide_no_penalty"),
    )
    if ground in ("first_violation", "minor_violation"):
        data["correction"] = _correction(need, event)
    if statement is not None:
        data["statement_summary"] = statement.details.get("statement")
    return data


#: The templates the case can fill so far, by name. Others are reported as not built yet.
# -- letters to a platform (room platform: workflow.platforms sends them) -------------------


def _letter_contact(need: _Need, event: CaseEvent) -> dict[str, Any]:
    """Whom the platform answers: the officer who sent the letter, at the phone given."""
    return {
        "person": _person(need, event),
        "phone": need.own(event, "contact_phone", "contact.phone"),
        "address": need.optional(event, "contact_address"),
    }


def _platform_of(need: _Need, event: CaseEvent) -> dict[str, Any]:
    platform = event.details.get("platform")
    if not isinstance(platform, Mapping) or not platform.get("credit_code"):
        need.miss("platform", "send the request to a platform's portal account")
        return {}
    return {k: v for k, v in platform.items() if v}


def _assistance_request(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "assistance_request", event)
    data.update(
        platform=_platform_of(need, event),
        seller=_party(need),
        matter=need.own(event, "matter"),
        data_requested=list(event.details.get("data_requested") or []),
        reply_deadline=event.details.get("due_on"),
        reply_method=need.optional(event, "reply_method"),
        contact=_letter_contact(need, event),
    )
    return data


def _takedown_request(need: _Need, event: CaseEvent) -> dict[str, Any]:
    data = _base(need, "takedown_request", event)
    url = need.own(event, "listing_url")
    listing = {"url": url, "title": need.optional(event, "listing_title")}
    data.update(
        platform=_platform_of(need, event),
        seller=_party(need),
        listings=[{k: v for k, v in listing.items() if v}] if url else [],
        reason=need.own(event, "reason"),
        violated_provisions=_citations(need),
        deadline=event.details.get("due_on"),
        contact=_letter_contact(need, event),
    )
    return data


BUILDERS: Mapping[str, Builder] = {
    "case_source_registration": _case_source_registration,
    "filing_approval": _filing_approval,
    "investigation_end_report": _investigation_end_report,
    "case_review_form": _case_review_form,
    "penalty_notification": _penalty_notification,
    "proof_of_service": _proof_of_service,
    "statement": _statement,
    "penalty_decision": _penalty_decision,
    "payment_receipt": _payment_receipt,
    "closing_approval": _closing_approval,
    "non_filing_approval": _non_filing_approval,
    "inquiry_notice": _inquiry_notice,
    "inquiry_record": _inquiry_record,
    "evidence_extraction_record": _evidence_extraction_record,
    "evidence_preservation_notice": _evidence_preservation_notice,
    "service_address_confirmation": _service_address_confirmation,
    "order_to_correct": _order_to_correct,
    "hearing_notice": _hearing_notice,
    "hearing_record": _hearing_record,
    "no_penalty_decision": _no_penalty_decision,
    "assistance_request": _assistance_request,
    "takedown_request": _takedown_request,
}


def build(snap: CaseSnapshot, template: str, event_seq: int) -> dict[str, Any]:
    """The data of ``template`` for the event ``event_seq``, checked against its schema.

    Raises :class:`MissingCaseData` naming every field the case cannot supply yet, or the
    fields the schema refuses (the same exception: either way the officer fills them)."""
    builder = BUILDERS.get(template)
    if builder is None:
        raise MissingCaseData(template, [("(document)", "this template is not generated yet")])
    need = _Need(snap)
    data = builder(need, snap.event(event_seq))
    if need.missing:
        raise MissingCaseData(template, need.missing, need.notes)
    try:
        model = validate_data(template, data)
    except DocumentDataError as exc:
        raise MissingCaseData(template, exc.errors) from None
    return dict(model.model_dump(mode="json", exclude_none=True))


@dataclass(frozen=True)
class Waiting:
    """An owed document as the case page shows it: what it waits for (``missing``, as
    ``MissingCaseData`` names it; empty: it is being made), and which of those are notes an
    officer can give now (``notes``: ``(action, note)``)."""

    template: str
    title_zh: str
    event_seq: int
    action: str
    missing: list[tuple[str, str]]
    notes: list[tuple[str, str]]


def waiting(snap: CaseSnapshot) -> list[Waiting]:
    """Every document the case owes, with what it waits for (no rendering: data only)."""
    out = []
    for item in owed(snap):
        missing: list[tuple[str, str]] = []
        notes: list[tuple[str, str]] = []
        try:
            build(snap, item.template, item.event_seq)
        except MissingCaseData as exc:
            missing, notes = exc.fields, exc.notes
        title = TEMPLATES[item.template].title_zh if item.template in TEMPLATES else item.template
        out.append(Waiting(item.template, title, item.event_seq, item.action, missing, notes))
    return out


# -- rendering, signing, storing, linking -----------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one owed document: made (``document_id``) or still owed (``error``)."""

    template: str
    event_seq: int
    document_id: str | None = None
    sha256: str | None = None
    error: str | None = None
    missing: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Signer:
    slot: str
    serial: str
    kind: str  # version kind: unit-signed, officer-signed, merchant-signed
    reason: str


@dataclass
class CaseDocuments:
    """Generates a case's owed documents through the portal's documents (``documents`` and
    ``document_versions`` rows, PDFs in the object store).

    ``after_action`` fits ``CaseContext.after_action``: it makes what the case owes now
    (slow: rendering and B-LTA signatures; a host that wants ``act`` to return at once calls
    :meth:`generate_pending` from a worker instead)."""

    portal: PortalContext
    cases: CaseContext

    def pending(self, case_id: str) -> list[Pending]:
        return owed(load_snapshot(self.cases, case_id))

    def after_action(self, case_id: str, who: Actor, transition: Transition) -> None:
        for outcome in self.generate_pending(who, case_id):
            if outcome.error:
                _log.info(
                    "case %s: %s still to generate: %s", case_id, outcome.template, outcome.error
                )

    def generate_pending(self, who: Actor, case_id: str) -> list[Outcome]:
        """Try every owed document of the case, oldest first; never raises for one document.

        After each document made, what was served is put in the party's account or marked
        served (:meth:`deliver`), so that a proof of service made next states its service."""
        snap = load_snapshot(self.cases, case_id)
        out: list[Outcome] = []
        for item in owed(snap):
            try:
                made = self._generate(who, snap, item)
                out.append(made)
                snap = load_snapshot(self.cases, case_id)
                if self._deliver(who, snap)[1]:
                    snap = load_snapshot(self.cases, case_id)
            except MissingCaseData as exc:
                out.append(
                    Outcome(item.template, item.event_seq, error=str(exc), missing=exc.fields)
                )
            except Exception as exc:  # a signer, the TSA or the store failed: retried later
                _log.warning("case %s: %s not generated: %s", case_id, item.template, exc)
                out.append(
                    Outcome(item.template, item.event_seq, error=f"{type(exc).__name__}: {exc}")
                )
        try:
            out += self._deliver(who, snap)[0]
        except Exception as exc:  # the store or the database failed: retried later
            _log.warning("case %s: documents not delivered: %s", case_id, exc)
        return out

    def deliver(self, who: Actor, case_id: str) -> list[Outcome]:
        """Put what the case served in the party's account (electronic service: served when
        it reaches it, recorded with :func:`service.record_delivery`), mark documents served
        by other methods as served on their legal date, and put the records the party signs
        in the portal in its account. Returns what is still waiting (a party without an
        account)."""
        return self._deliver(who, load_snapshot(self.cases, case_id))[0]

    def _deliver(self, who: Actor, snap: CaseSnapshot) -> tuple[list[Outcome], bool]:
        account = next((p.merchant_id for p in snap.parties if p.merchant_id), None)
        waiting: list[Outcome] = []
        changed = False
        for event in serving_events(snap):
            served = service_of(snap, event)
            doc = (
                snap.portal_documents.get(served.document.document_id) if served.document else None
            )
            if doc is None or served.document is None:
                continue
            if served.method == "electronic" and served.completion is None:
                if account is None and doc.served_at is None:
                    waiting.append(
                        Outcome(
                            served.document.template,
                            event.seq,
                            error="electronic service waits for the party's portal account "
                            "(link_party)",
                            missing=[("party.merchant", "link the party to its portal account")],
                        )
                    )
                    continue
                at = doc.served_at or self._put_in_account(who, doc.id, account, None, "electronic")
                service.record_delivery(self.cases, who, snap.case.id, event.seq, doc.id, at)
                changed = True
            elif doc.served_at is None and served.served_at is not None:
                self._put_in_account(who, doc.id, account, served.served_at, served.method)
                changed = True
        if account is not None:
            for cd in snap.documents:
                doc = snap.portal_documents.get(cd.document_id)
                if (
                    cd.template in _data()["portal_signing"]["templates"]
                    and doc is not None
                    and doc.served_at is None
                ):
                    self._put_in_account(who, doc.id, account, None, "portal_signing")
                    changed = True
        return waiting, changed

    def _put_in_account(
        self,
        who: Actor,
        document_id: str,
        merchant_id: str | None,
        served_at: dt.datetime | None,
        method: str,
    ) -> dt.datetime:
        """Mark a case document served (``served_at``: its legal time; None: now, when it
        reaches the account) and, when the party has an account, make it the party's."""
        now = self.portal.now()
        user_id = int(who.actor.split(":", 1)[1]) if who.actor.startswith("user:") else None
        with session_scope(self.portal.sessions) as session:
            doc = session.get(Document, document_id)
            assert doc is not None
            if doc.served_at is not None:
                return doc.served_at
            doc.merchant_id = doc.merchant_id or merchant_id
            doc.served_at = served_at or now
            doc.served_by_id = user_id
            doc.status = "served"
            audit.record(
                session,
                "document.served",
                actor_type="officer" if user_id is not None else "system",
                actor_id=who.actor,
                at=now,
                unit_id=doc.unit_id,
                merchant_id=doc.merchant_id,
                document_id=doc.id,
                details={
                    "method": method,
                    "served_at": doc.served_at.isoformat(),
                    "delivered_to": f"portal account {merchant_id}" if merchant_id else None,
                },
            )
            return doc.served_at

    def make_letter(
        self, who: Actor, case_id: str, template: str, event_seq: int, addressee: str
    ) -> Outcome:
        """The document of an event beside the process (a letter to a platform), made,
        signed and put in the case file like an owed one, but addressed to the portal
        account ``addressee`` rather than the party's. Raises :class:`MissingCaseData`."""
        snap = load_snapshot(self.cases, case_id)
        item = Pending(template, event_seq, snap.event(event_seq).action)
        return self._generate(who, snap, item, addressee)

    def _generate(
        self, who: Actor, snap: CaseSnapshot, item: Pending, addressee: str | None = None
    ) -> Outcome:
        data = build(snap, item.template, item.event_seq)
        # A party without a portal account still gets its documents: kept as the unit's
        # (no merchant) until an officer links the party to an account (link_party).
        merchant_id = addressee or (snap.parties[0].merchant_id if snap.parties else None)
        signers = self._signers(snap, item)
        now = self.portal.now()
        actor = who.actor
        with scratch(self.portal) as rendered_path:
            try:
                rendered = render(self.portal, item.template, data, rendered_path)
            except FieldError as exc:
                raise MissingCaseData(
                    item.template, list(exc.errors or [(exc.field, str(exc))])
                ) from None
            stored: list[tuple[str, Any, tuple[_Signer, Any] | None]] = [
                ("rendered", put_pdf(self.portal, rendered_path), None)
            ]
            current = rendered_path
            for i, signer in enumerate(signers):
                with scratch(self.portal) as out_path:
                    result = sign(
                        self.portal,
                        current,
                        out_path,
                        signer=signer.serial,
                        reason=signer.reason,
                        location=snap.unit.name,
                        certify=i == 0,
                        field_name=signer.slot,
                    )
                    stored.append((signer.kind, put_pdf(self.portal, out_path), (signer, result)))
                    current.write_bytes(out_path.read_bytes())
        user_id = int(actor.split(":", 1)[1]) if actor.startswith("user:") else None
        with session_scope(self.portal.sessions) as session:
            doc = Document(
                unit_id=snap.case.unit_id,
                merchant_id=merchant_id,
                kind="notice",
                template=item.template,
                title=TEMPLATES[item.template].title_zh,
                data=rendered.data,
                status="signed" if signers else "draft",
                created_by_id=user_id,
                created_at=now,
                updated_at=now,
            )
            session.add(doc)
            session.flush()
            for kind, obj, signed in stored:
                extra: dict[str, Any] = {}
                if signed is not None:
                    s, result = signed
                    extra = dict(
                        signer_subject=result.signer_subject,
                        signer_serial=s.serial,
                        signing_time=result.signing_time,
                        level=result.level,
                    )
                add_version(session, doc.id, obj, kind=kind, actor=actor, at=now, **extra)
            document_id = doc.id
        sha256 = stored[-1][1].sha256
        service.link_document(
            self.cases, who, snap.case.id, document_id, item.template, sha256, item.event_seq
        )
        return Outcome(item.template, item.event_seq, document_id=document_id, sha256=sha256)

    def _signers(self, snap: CaseSnapshot, item: Pending) -> list[_Signer]:
        """Who signs which slot, in order: the unit's seal first when the document has one
        (it certifies), the officers, then the head and the reviewer in their named slots."""
        doc_type = TEMPLATES[item.template]
        officers = [s for s, _ in snap.staff if s.role == "officer" and s.badge_number]
        by_role = {s.role: s for s, _ in snap.staff}
        event = snap.event(item.event_seq)
        unit: list[_Signer] = []
        people: list[_Signer] = []
        missing: list[tuple[str, str]] = []
        for slot in doc_type.slots:
            if slot.kind == "unit":
                serial = unit_seal_serial(self.portal, snap.case.unit_id)
                unit.append(_Signer(slot.name, serial, "unit-signed", "行政机关盖章 / Sealed"))
            elif slot.kind == "merchant":
                if item.template in _PARTY_ACTS and event.actor.startswith("merchant:"):
                    people.append(self._merchant_signer(snap, slot.name, event))
                # else the party signs it in the portal
            else:
                index = 1 if slot.name.endswith("_2") else 0
                user_id: int | None = None
                if slot.name in ("officer", "officer_2"):
                    staff = officers[index] if len(officers) > index else None
                    user_id = staff.user_id if staff else None
                elif slot.name in ACCOUNT_NOTES:
                    scheduled = snap.latest("schedule_hearing")
                    login = str((scheduled.details if scheduled else {}).get(slot.name) or "")
                    user_id = snap.accounts.get(login.strip(), (None, ""))[0]
                else:
                    staff = by_role.get(slot.name)
                    user_id = staff.user_id if staff else None
                if user_id is None:
                    missing.append((f"signer.{slot.name}", f"assign the case's {slot.name}"))
                    continue
                serial = officer_certificate_serial(self.portal, user_id)
                people.append(_Signer(slot.name, serial, "officer-signed", slot.label_zh))
        if missing:
            raise MissingCaseData(item.template, missing)
        return unit + people

    def _merchant_signer(self, snap: CaseSnapshot, slot: str, event: CaseEvent) -> _Signer:
        merchant_id = event.actor.split(":", 1)[1]
        with self.portal.sessions() as session:
            merchant = session.get(Merchant, merchant_id)
            serial = merchant.cert_serial if merchant is not None else None
        if not serial:
            raise ConflictError("the party has no signing certificate", code="no_certificate")
        return _Signer(slot, serial, "merchant-signed", "当事人签名 / Signed by the party")
