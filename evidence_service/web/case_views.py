"""What the case pages of the officer console, the merchant portal and the public complaint
page share: the case workflow's context, names in the page's language, deadline badges and
the deadline chart, and the access questions asked of ``workflow/cases/access.py``.

Kept apart from the three routers so that none of them imports another (the web package's
modules point one way); nothing here renders a page or reads a request body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from itertools import product
from typing import Any, get_args

from fastapi import Request

from evidence_service.sealing.case_file import case_context
from evidence_service.web import deadline_steps, document_hints
from evidence_service.web.auth import services_of
from evidence_service.web.i18n import MESSAGES, translate
from storage.models import User
from workflow.cases import access, delivery, process
from workflow.cases.documents import note_choices
from workflow.cases.guards import CaseFacts, NoPenaltyGround, Penalty, Refusal, ServiceMethod
from workflow.cases.process import Option, default_process
from workflow.cases.service import PROCEDURE, CaseContext, Effect, effects
from workflow.deadlines import Deadline, DeadlineStatus

__all__ = [
    "CHINA",
    "Badge",
    "Chart",
    "ChartRow",
    "access_role",
    "badge",
    "case_ctx",
    "deadline_chart",
    "fen_from_yuan",
    "helpers",
    "short_time",
    "subject_for_officer",
    "yuan",
]

CHINA = timezone(timedelta(hours=8))
#: The roles a person can be staffed as, in the order their actions are shown.
STAFF_ROLES = ("officer", "reviewer", "head")
_NO_EFFECT = Effect({}, (), (), (), ())


def case_ctx(request: Request) -> CaseContext:
    """The app's case context (made on first use, kept on ``app.state``)."""
    state = request.app.state
    ctx: CaseContext | None = getattr(state, "case_context", None)
    if ctx is None:
        ctx = case_context(services_of(request))
        state.case_context = ctx
    return ctx


# -- access ---------------------------------------------------------------------------------


def access_role(user: User, staffed: Sequence[str] = ()) -> str:
    """The access table's role for an account: an administrator is ``admin`` (no case is
    theirs to see), anyone else the first role they are staffed as on the case, else
    ``officer`` (every officer of the unit may read its cases)."""
    if user.role == "admin":
        return "admin"
    return next((r for r in STAFF_ROLES if r in staffed), "officer")


def subject_for_officer(user: User, case_unit: int | None = None) -> access.Subject:
    return access.Subject(
        actor_unit=str(user.unit_id) if user.unit_id is not None else None,
        case_unit=str(case_unit) if case_unit is not None else None,
    )


# -- names in the page's language -------------------------------------------------------------


def helpers(lang: str) -> dict[str, Any]:
    """Template helpers: the name of a state, action, role or procedure of the process
    table, a refusal's reason, a deadline's name and badge, times and amounts."""
    proc = default_process()

    def pick(zh: str | None, en: str | None) -> str:
        return (zh if lang == "zh" else en) or zh or en or ""

    def state_name(state_id: str | None) -> str:
        s = proc.states.get(state_id or "")
        return pick(s.zh, s.en) if s else (state_id or "—")

    def action_name(action_id: str) -> str:
        a = proc.actions.get(action_id)
        if a is not None:
            return pick(a.zh, a.en)
        return translate(lang, f"cases.event.{action_id}")

    def role_name(role_id: str) -> str:
        r = proc.roles.get(role_id)
        return pick(r.zh, r.en) if r else role_id

    def procedure_name(procedure_id: str) -> str:
        p = proc.procedures.get(procedure_id)
        return pick(p.zh, p.en) if p else procedure_id

    def deadline_name(d: Deadline) -> str:
        return pick(d.name_zh, d.name_en) or (d.rule_id or "")

    def label(name: str) -> str:
        key = f"cases.field.{name}"
        return translate(lang, key) if key in MESSAGES else name

    def hint(text: str) -> str:
        return document_hints.say(lang, text, action=action_name, field=label, role=role_name)

    return {
        "pick": pick,
        "state_name": state_name,
        "action_name": action_name,
        "role_name": role_name,
        "procedure_name": procedure_name,
        "deadline_name": deadline_name,
        "label": label,
        "hint": hint,
        "badge": lambda d: badge(d, lang),
        "explain_steps": lambda d: deadline_steps.explain(
            d.explanation, lang, {d.rule_id: d.name_zh} if d.rule_id and d.name_zh else None
        ),
        "short_time": short_time,
        "yuan": yuan,
    }


def short_time(value: datetime | None) -> str:
    """An instant in China time, to the minute (the timeline's column)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    whole, cents = divmod(int(fen), 100)
    return f"{whole:,}.{cents:02d}"


def fen_from_yuan(text: str) -> int:
    """``"1234.5"`` yuan as 123450 fen, exactly (no float). Raises ValueError for anything
    but a non-negative amount with at most two decimals."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in yuan") from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{text!r}: a non-negative amount with at most two decimals")
    if amount > Decimal("1e12"):
        raise ValueError(f"{text!r} is too large")
    return int(amount * 100)


# -- deadlines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    """A deadline as a badge: ``css`` colours it (due soon, overdue, unconfirmed ...)."""

    text: str
    css: str
    status: str
    title: str


#: Periods that run for the party, not for the authority (the window to state, defend or ask
#: for a hearing): once over they have *ended* -- silence waives the right -- and nobody is
#: overdue, so they are neither shown red nor kept among the running deadlines.
PARTY_WINDOWS = ("statement_defence",)


def _status(d: Deadline) -> str:
    if d.status == DeadlineStatus.MET or d.met_on is not None:
        return "met"
    if d.rule_id in PARTY_WINDOWS and d.status == DeadlineStatus.OVERDUE:
        return "ended"
    if not d.confirmed and d.due_date is None and d.suspended_since is None:
        return "unconfirmed"
    return d.status.value


def badge(d: Deadline, lang: str) -> Badge:
    """Days left in words: "3 days left", "overdue by 2 days", "unconfirmed (not before
    ...)"; the title attribute holds the due date (and how it was counted)."""
    status = _status(d)

    def t(key: str, **values: object) -> str:
        text = translate(lang, key)
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    if status == "met":
        text = t("cases.deadline.met", date=d.met_on.isoformat() if d.met_on else "")
    elif status == "ended":
        text = t("cases.deadline.ended", date=d.due_date.isoformat() if d.due_date else "?")
    elif status == "unconfirmed":
        earliest = d.not_before or d.last_confirmed_date
        text = t("cases.deadline.unconfirmed", date=earliest.isoformat() if earliest else "?")
    elif status == "suspended" and d.suspended_since is not None:
        text = t("cases.deadline.suspended", date=d.suspended_since.isoformat())
    elif d.days_left is None:
        text = t("cases.deadline.running")
    elif d.days_left < 0:
        text = t("cases.deadline.overdue", n=-d.days_left)
    elif d.days_left == 0:
        text = t("cases.deadline.today")
    else:
        text = t("cases.deadline.left", n=d.days_left)
    due_text = d.due_date.isoformat() if d.due_date else "?"
    return Badge(text, f"d-{status}", status, f"{t('cases.deadline.due')} {due_text}")


def open_deadlines(deadlines: Sequence[Deadline]) -> list[Deadline]:
    """The ones still running (met ones, and the party's windows that ended, are history,
    shown on the case page only)."""
    return [d for d in deadlines if _status(d) not in ("met", "ended")]


@dataclass(frozen=True)
class ChartRow:
    label: str
    badge: Badge
    y: int
    x_start: float
    x_due: float
    due_text: str
    #: The due date is not known yet: drawn as an open, dashed end at the earliest date.
    open_end: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    axis_y: int
    today_x: float
    today_text: str
    first_text: str
    last_text: str
    rows: list[ChartRow]


CHART_WIDTH = 960
_LEFT, _RIGHT = 16, 16
_TOP, _ROW = 46, 58


def deadline_chart(deadlines: Sequence[Deadline], today: date, lang: str) -> Chart | None:
    """The case's deadlines as a drawing: one bar per deadline from the day its period
    started to its due date (an open, dashed end while the date is unconfirmed), a line for
    today, and beside each end the date and the days left. None when nothing is running."""
    if not deadlines:
        return None

    def end(d: Deadline) -> date:
        return d.due_date or d.not_before or d.last_confirmed_date or d.start_event_date

    days = [today, *(d.start_event_date for d in deadlines), *(end(d) for d in deadlines)]
    lo, hi = min(days), max(days)
    span = max((hi - lo).days, 7)
    pad = max(1, span // 12)
    lo, hi = lo - timedelta(days=pad), lo + timedelta(days=span + pad)
    total = (hi - lo).days

    def x(day: date) -> float:
        return round(_LEFT + (CHART_WIDTH - _LEFT - _RIGHT) * (day - lo).days / total, 1)

    rows = []
    for i, d in enumerate(deadlines):
        b = badge(d, lang)
        name = (d.name_zh if lang == "zh" else d.name_en) or d.name_zh or d.rule_id or ""
        rows.append(
            ChartRow(
                label=name,
                badge=b,
                y=_TOP + i * _ROW,
                x_start=x(d.start_event_date),
                x_due=x(end(d)),
                due_text=(
                    d.due_date.isoformat()
                    if d.due_date
                    else ("" if d.suspended_since else f"≥ {end(d).isoformat()}")
                ),
                open_end=d.due_date is None,
            )
        )
    height = _TOP + len(rows) * _ROW + 10
    return Chart(
        width=CHART_WIDTH,
        height=height,
        axis_y=height - 26,
        today_x=x(today),
        today_text=f"{translate(lang, 'cases.deadline.today_mark')} {today.isoformat()}",
        first_text=lo.isoformat(),
        last_text=hi.isoformat(),
        rows=rows,
    )


# -- actions: their form fields, and whether some input lets them through ---------------------

PENALTY_FIELDS = ("notified_penalty", "decided_penalty")
#: The methods of service (workflow.cases.delivery) and what each needs: a postal service
#: its tracking number and posting date, a public notice where and when it was published
#: (dates default to today).
SERVICE_METHODS: tuple[str, ...] = tuple(delivery.METHODS)
SERVICE_PARTICULARS: tuple[tuple[str, str], ...] = (
    ("tracking_number", "service"),
    ("posted_on", "service_date"),
    ("notice_medium", "service"),
    ("published_on", "service_date"),
)

CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "no_penalty_ground": get_args(NoPenaltyGround),
    "service_method": get_args(ServiceMethod),
}


@dataclass(frozen=True)
class Field:
    """One input of an action's form, from ``effects.toml``: ``bool`` (a checkbox),
    ``penalty`` (kind and amount in yuan), ``choice``, ``text`` or ``date``; ``note`` is
    optional free text the action's documents need (a payment number, the head's opinion):
    offered so that a person can give it where the action is taken, never required;
    ``note_choice`` such a note that must be one of ``choices`` (whether the hearing is
    public, the non-filing ground)."""

    name: str
    kind: str
    choices: tuple[str, ...] = ()


def action_fields(action: str) -> list[Field]:
    effect = effects().get(action)
    if effect is None:
        return []
    out: list[Field] = []
    for name in effect.payload:
        if name in PENALTY_FIELDS:
            out.append(Field(name, "penalty", ("warning", "fine")))
        elif name in CHOICE_FIELDS:
            out.append(Field(name, "choice", CHOICE_FIELDS[name]))
        else:
            out.append(Field(name, "bool"))
    if effect.chooses_procedure:
        out.append(Field(PROCEDURE, "choice", tuple(default_process().procedures)))
    out += [Field(name, "text") for name in effect.text]
    out += [Field(name, "date") for name in effect.dates]
    serves = effect.serves
    method = serves.method if serves is not None else None
    choices = note_choices()
    out += [
        Field(name, "note_choice", choices[name]) if name in choices else Field(name, "note")
        for name in effect.notes
        if name != method
    ]
    if serves is not None:  # how the document is served, and that method's particulars
        if method not in effect.payload:
            out.append(Field(serves.method, "choice", SERVICE_METHODS))
        out += [Field(name, kind) for name, kind in SERVICE_PARTICULARS]
    return out


class FieldProblem(ValueError):
    """A form value that cannot become the action's payload; ``key`` is its message."""

    def __init__(self, field_name: str, key: str, detail: str = "") -> None:
        super().__init__(f"{field_name}: {detail or key}")
        self.field = field_name
        self.key = key
        self.detail = detail


def payload_from_form(action: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The action's payload from its form: every checkbox is recorded (unticked is
    ``False``: what the person saw and left), a penalty as ``{"kind", "amount_fen"}`` from an
    amount in yuan, empty choices and penalties left out (the guards then say what is
    missing), notes only when written."""
    payload: dict[str, Any] = {}
    for f in action_fields(action):
        if f.kind == "bool":
            payload[f.name] = form.get(f.name) == "true"
        elif f.kind == "penalty":
            kind = (form.get(f"{f.name}_kind") or "").strip()
            if not kind:
                continue
            if kind == "warning":
                payload[f.name] = {"kind": "warning"}
            elif kind == "fine":
                raw = (form.get(f"{f.name}_yuan") or "").strip()
                try:
                    fen = fen_from_yuan(raw)
                except ValueError as exc:
                    raise FieldProblem(f.name, "cases.err.amount", str(exc)) from None
                if fen <= 0:
                    raise FieldProblem(f.name, "cases.err.amount", raw)
                payload[f.name] = {"kind": "fine", "amount_fen": fen}
            else:
                raise FieldProblem(f.name, "cases.err.choice", kind)
        elif f.kind in ("choice", "note_choice"):
            value = (form.get(f.name) or "").strip()
            if value and value not in f.choices:
                raise FieldProblem(f.name, "cases.err.choice", value)
            if value:
                payload[f.name] = value
        elif f.kind == "text":
            value = (form.get(f.name) or "").strip()
            if not value:
                raise FieldProblem(f.name, "cases.err.required")
            payload[f.name] = value
        elif f.kind == "date":
            value = (form.get(f.name) or "").strip()
            try:
                date.fromisoformat(value)
            except ValueError:
                raise FieldProblem(f.name, "cases.err.date", value) from None
            payload[f.name] = value
        elif f.kind in ("note", "service"):
            value = (form.get(f.name) or "").strip()
            if value:
                payload[f.name] = value
        elif f.kind == "service_date":
            value = (form.get(f.name) or "").strip()
            if value:
                try:
                    date.fromisoformat(value)
                except ValueError:
                    raise FieldProblem(f.name, "cases.err.date", value) from None
                payload[f.name] = value
    return payload


@dataclass(frozen=True)
class Judged:
    """An action as offered to one person now.

    ``offered``: some input of its form lets it through (then it is a button); ``hints``:
    what the guards ask of that input, shown in the form; ``reasons``: why it cannot be
    taken whatever is entered (then it is listed greyed, with these)."""

    option: Option
    role: str
    offered: bool
    hints: tuple[Refusal, ...]
    reasons: tuple[Refusal, ...]
    fields: tuple[Field, ...]


def _candidates(action: str, facts: CaseFacts) -> list[dict[str, Any]]:
    """Every input the action's form can give, as changes of the facts (small: at most a
    few booleans, one choice, one penalty)."""
    effect = effects().get(action)
    if effect is None:
        return [{}]
    axes: list[list[tuple[str, Any]]] = []
    for name in effect.payload:
        if name in PENALTY_FIELDS:
            notified = facts.notified_penalty
            fine = Penalty("fine", notified.amount_fen if notified and notified.amount_fen else 100)
            current = getattr(facts, name)
            axes.append([(name, current), (name, Penalty("warning")), (name, fine)])
        elif name in CHOICE_FIELDS:
            axes.append([(name, getattr(facts, name)), *((name, v) for v in CHOICE_FIELDS[name])])
        else:
            axes.append([(name, False), (name, True)])
    return [dict(combo) for combo in product(*axes)]


def judge(state: str, role: str, procedure: str, facts: CaseFacts) -> list[Judged]:
    """The actions leaving ``state`` for ``role``, judged as the service will judge them: on
    the facts as they would be *after* the action recorded what it sets and what its form
    gives (``process.available`` alone judges the facts before, so "approve filing" would
    look refused for want of the approval it is)."""
    out: list[Judged] = []
    for option in process.available(state, role, procedure, facts):
        fields_ = tuple(action_fields(option.action))
        if any(r.guard == "role" for r in option.reasons):
            out.append(Judged(option, role, False, (), option.reasons, fields_))
            continue
        sets = dict(effects().get(option.action, _NO_EFFECT).sets)
        base = facts.with_(**sets)
        best: tuple[Refusal, ...] | None = None
        default: tuple[Refusal, ...] | None = None
        for combo in _candidates(option.action, base):
            judged = next(
                o
                for o in process.available(state, role, procedure, base.with_(**combo))
                if o.action == option.action
            )
            if default is None:
                default = judged.reasons
            if best is None or len(judged.reasons) < len(best):
                best = judged.reasons
            if not best:
                break
        offered = best == ()
        out.append(
            Judged(
                option,
                role,
                offered,
                (default or ()) if offered else (),
                () if offered else (best or option.reasons),
                fields_,
            )
        )
    return out


def judge_for_roles(
    state: str, roles: Sequence[str], procedure: str, facts: CaseFacts
) -> list[Judged]:
    """One entry per action for a person holding several roles on the case: the role in
    which it is offered, else the most telling refusal (a guard's, before "not your
    role")."""
    per_role = [judge(state, r, procedure, facts) for r in roles]
    if not per_role:
        return []
    out: list[Judged] = []
    for i, first in enumerate(per_role[0]):
        same = [judged[i] for judged in per_role]
        chosen = next((j for j in same if j.offered), None)
        if chosen is None:
            chosen = next((j for j in same if not any(r.guard == "role" for r in j.reasons)), first)
        out.append(chosen)
    return out
