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
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.db import session_scope
from storage.models import (
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
    "build",
    "load_snapshot",
    "owed",
]

DATA_PATH = Path(__file__).with_name("document_data.toml")
_log = logging.getLogger(__name__)


@cache
def _data() -> Mapping[str, Any]:
    return tomllib.loads(DATA_PATH.read_text(encoding="utf-8"))


class MissingCaseData(CaseError):
    """A document the case cannot fill yet: ``fields`` lists ``(field, what to do)``."""

    def __init__(self, template: str, fields: Sequence[tuple[str, str]]) -> None:
        self.template = template
        self.fields = list(fields)
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
        )
        session.expunge_all()
    return snap


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


def owed(snap: CaseSnapshot) -> list[Pending]:
    """The documents the case's transitions made owed and no ``add_document`` has paid yet,
    oldest first (the n-th document of a template pays the n-th event owing it)."""
    due: dict[str, list[Pending]] = {}
    for event in snap.events:
        for template in _documents_of(event, snap.case.procedure):
            due.setdefault(template, []).append(Pending(template, event.seq, event.action))
    paid: dict[str, int] = {}
    for doc in snap.documents:
        paid[doc.template] = paid.get(doc.template, 0) + 1
    out = [p for t, items in due.items() for p in items[paid.get(t, 0) :]]
    return sorted(out, key=lambda p: (p.event_seq, p.template))


# -- building the data --------------------------------------------------------------------------


class _Need:
    """Collects what the case cannot supply, so that one answer names every missing field."""

    def __init__(self, snap: CaseSnapshot) -> None:
        self.snap = snap
        self.missing: list[tuple[str, str]] = []

    def miss(self, name: str, hint: str) -> None:
        self.missing.append((name, hint))

    def note(self, name: str, *actions: str, field_name: str | None = None) -> str | None:
        """The newest text ``name`` given with one of ``actions`` (their ``notes``)."""
        for event in reversed(self.snap.events):
            if event.action in actions and str(event.details.get(name) or "").strip():
                return str(event.details[name]).strip()
        self.miss(field_name or name, f"give {name!r} with the {actions[0]} action")
        return None

    def fact(self, name: str, hint: str) -> Any:
        value = self.snap.facts.get(name)
        if value is None:
            self.miss(name, hint)
        return value


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


def _citations(need: _Need) -> list[dict[str, str]]:
    text = need.note("violated_provisions", "propose_filing", "end_investigation")
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
    opinion = str(event.details.get("opinion") or "").strip()
    if not opinion:
        need.miss("approval.opinion", f"give 'opinion' with the {event.action} action")
    return {"name": _person(need, event), "opinion": opinion, "date": _day(event.at)}


def _number(need: _Need) -> str:
    if not need.snap.case.number:
        need.miss("case_number", "the case is numbered when it is filed (approve_filing)")
        return ""
    return need.snap.case.number


def _base(need: _Need, template: str, event: CaseEvent) -> dict[str, Any]:
    basis = default_legal_basis(template)
    if not basis:
        need.miss("legal_basis", f"legal staff add the legal basis of {template} to its sample")
    return {
        "case_number": _number(need),
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
    data = _base(need, "case_source_registration", event)
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
        list_check={"list_name": _data()["lists"]["no_penalty"], "result": "not_listed"},
        officers=_officers(need),
        officer_opinion=need.note("officer_opinion", "propose_filing"),
        approval=_approval(need, "approve_filing"),
    )
    return data


def _discretion(need: _Need) -> dict[str, Any]:
    band = need.note("discretion_band", "end_investigation", field_name="discretion.band")
    reasoning = need.note(
        "discretion_reasoning", "end_investigation", field_name="discretion.reasoning"
    )
    out: dict[str, Any] = {"band": band, "reasoning": reasoning}
    event = need.snap.latest("end_investigation")
    mitigating = str((event.details if event else {}).get("mitigating") or "")
    items = [m.strip()[:200] for m in re.split(r"[\n；;]+", mitigating) if m.strip()]
    if items:
        out["mitigating"] = items
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
        facts=need.note("facts", "end_investigation"),
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
        facts=need.note("facts", "end_investigation"),
        evidence=_evidence_lines(need),
        violated_provisions=_citations(need),
        proposed_penalty=_penalty(need.fact("notified_penalty", "give the proposed penalty")),
        hearing_right=bool(f.get("hearing_right")),
        officers=_officers(need),
    )
    return data


def _proof_of_service(need: _Need, event: CaseEvent) -> dict[str, Any]:
    title = _data()["titles"].get(event.action, event.action)
    if event.action == "serve_decision":
        method = need.snap.facts.get("service_method")
    else:
        method = need.note("notice_service_method", event.action, field_name="method")
    party = _party(need)
    data = _base(need, "proof_of_service", event)
    data.update(
        party=party,
        documents=[{"title": title, "number": _number(need)}],
        method=method,
        served_at=_local(event.at).isoformat(),
        servers=[_acting_officer(need, event, "servers")],
    )
    if method == "electronic":
        data["electronic_address"] = f"portal account {party.get('credit_code') or party['name']}"
    return data


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
    data.update(
        party=_party(need),
        facts=need.note("facts", "end_investigation"),
        evidence=_evidence_lines(need),
        hearing_held=bool(f.get("hearing_held")),
        violated_provisions=_citations(need),
        penalty=penalty,
        remedies={
            "review_authority": need.note(
                "review_authority", "decide_penalty", field_name="remedies.review_authority"
            ),
            "court": need.note("court", "decide_penalty", field_name="remedies.court"),
        },
    )
    if statement is not None:
        data["statement_summary"] = statement.details.get("statement")
    if event.details.get("discretion"):
        data["discretion"] = event.details["discretion"]
    if penalty and penalty.get("fine_yuan"):
        data["payment"] = {
            "channel": need.note("payment_channel", "decide_penalty", field_name="payment.channel")
        }
    return data


def _payment_receipt(need: _Need, event: CaseEvent) -> dict[str, Any]:
    penalty = _penalty(need.fact("decided_penalty", "the penalty is decided first")) or {}
    fine = penalty.get("fine_yuan") or "0.00"
    data = _base(need, "payment_receipt", event)
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
        filed_on=need.fact("filed_on", "the case is filed first"),
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


#: The templates the case can fill so far, by name. Others are reported as not built yet.
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
        raise MissingCaseData(template, need.missing)
    try:
        model = validate_data(template, data)
    except DocumentDataError as exc:
        raise MissingCaseData(template, exc.errors) from None
    return dict(model.model_dump(mode="json", exclude_none=True))


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
        """Try every owed document of the case, oldest first; never raises for one document."""
        snap = load_snapshot(self.cases, case_id)
        out = []
        for item in owed(snap):
            try:
                out.append(self._generate(who, snap, item))
            except MissingCaseData as exc:
                out.append(
                    Outcome(item.template, item.event_seq, error=str(exc), missing=exc.fields)
                )
            except Exception as exc:  # a signer, the TSA or the store failed: retried later
                _log.warning("case %s: %s not generated: %s", case_id, item.template, exc)
                out.append(
                    Outcome(item.template, item.event_seq, error=f"{type(exc).__name__}: {exc}")
                )
        return out

    def _generate(self, who: Actor, snap: CaseSnapshot, item: Pending) -> Outcome:
        data = build(snap, item.template, item.event_seq)
        merchant_id = snap.parties[0].merchant_id if snap.parties else None
        if merchant_id is None:
            raise MissingCaseData(
                item.template,
                [
                    (
                        "party.merchant",
                        f"{snap.parties[0].name if snap.parties else 'the party'} has no "
                        "portal account (merchant): invite it in the portal, then link it to "
                        "the case; its documents are kept as merchant documents",
                    )
                ],
            )
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
        service.link_document(self.cases, who, snap.case.id, document_id, item.template, sha256)
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
                if item.template == "statement" and event.actor.startswith("merchant:"):
                    people.append(self._merchant_signer(snap, slot.name, event))
                # else the party signs it in the portal
            else:
                index = 1 if slot.name.endswith("_2") else 0
                if slot.name in ("officer", "officer_2"):
                    staff = officers[index] if len(officers) > index else None
                else:
                    staff = by_role.get(slot.name)
                if staff is None:
                    missing.append((f"signer.{slot.name}", f"assign the case's {slot.name}"))
                    continue
                serial = officer_certificate_serial(self.portal, staff.user_id)
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
