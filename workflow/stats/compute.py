"""The unit's figures, computed by the database: counts and sums grouped in SQL, so that a
unit with 10,000 cases and 200,000 events is answered without reading its events.

Only the deadline compliance reads one row per case (its facts: the dates the deadline
engine counts from), because what a deadline's due date is -- working days, make-up days,
suspensions -- is the deadline engine's knowledge (:func:`workflow.cases.service.deadlines_of`),
not something to restate in SQL.

What each figure counts (the period's months, in Beijing time):

* cases by month: received (opened) and ended (closed: any final state) in each month, and
  the complaints among those received;
* cases by violation type: the cases received in the period, by the type their events name
  (``figures.toml``: ``[violation_type]``);
* deadline compliance, by rule: the deadlines that started in the period, met / missed / open
  as of today;
* the no-penalty path: minor and first-violation cases that ended in the period, and those of
  them closed by guidance and self-correction (``[no_penalty_path]``);
* working days per step: step visits that ended in the period (the time between the event
  that entered a step of the process and the one that entered the next);
* complaints received in the period, and how many of them were screened for professional
  claimants (``complaint_screenings``, room screening).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Case, CaseEvent, ComplaintScreening, Unit
from storage.types import UTCDateTime
from workflow.cases.process import default_process
from workflow.cases.service import deadlines_of
from workflow.deadlines import DeadlineStatus, rules

from .definition import StatsDefinition, default_definition
from .figures import ComplianceRow, MonthRow, NoPenaltyShare, StepRow, TypeRow, UnitFigures
from .local_time import as_date, beijing_day, beijing_month
from .period import Period
from .working_days import ordinals

__all__ = ["UnknownUnit", "forget_counted_deadlines", "unit_figures", "units", "warm"]


class UnknownUnit(LookupError):
    """No unit with that id."""


def units(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    """Every unit (id, name), for the administrator's choice."""
    with sessions() as session:
        return [(i, n) for i, n in session.execute(select(Unit.id, Unit.name).order_by(Unit.id))]


def unit_figures(
    sessions: sessionmaker[Session],
    unit_id: int,
    period: Period,
    today: date,
    definition: StatsDefinition | None = None,
) -> UnitFigures:
    """All the figures of one unit for one period, as of ``today`` (Beijing)."""
    d = definition or default_definition()
    with sessions() as session:
        name = session.scalar(select(Unit.name).where(Unit.id == unit_id))
        if name is None:
            raise UnknownUnit(f"no unit {unit_id}")
        dialect = session.get_bind().dialect.name
        months = _months(session, dialect, unit_id, period)
        types, other, not_recorded = _violation_types(session, unit_id, period, d, months)
        compliance = _compliance(session, unit_id, period, today, d)
        no_penalty = _no_penalty(session, unit_id, period, d)
        steps, unconfirmed = _steps(session, dialect, unit_id, period, d)
        screened = _screened(session, unit_id, period)
    return UnitFigures(
        unit_id=unit_id,
        unit_name=name,
        period=period,
        today=today,
        months=months,
        violation_types=types,
        other_types=other,
        types_not_recorded=not_recorded,
        compliance=compliance,
        no_penalty=no_penalty,
        steps=steps,
        unconfirmed_days=unconfirmed,
        complaints_received=sum(m.complaints for m in months),
        complaints_screened=screened,
    )


def _in_period(column: SQLColumnExpression[Any], period: Period) -> ColumnElement[bool]:
    return and_(column >= period.utc_from, column < period.utc_until)


def _screened(session: Session, unit_id: int, period: Period) -> int:
    """Complaints received in the period that were screened for professional claimants (room
    screening: one ``complaint_screenings`` row per screening; a complaint screened again is
    still one complaint)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Case)
            .where(
                Case.unit_id == unit_id,
                Case.source == "complaint",
                _in_period(Case.received_at, period),
                exists().where(ComplaintScreening.case_id == Case.id),
            )
        )
        or 0
    )


def _months(session: Session, dialect: str, unit_id: int, period: Period) -> list[MonthRow]:
    # Grouped over a subquery: PostgreSQL would not see two bound copies of the month
    # expression's format text as the same GROUP BY expression.
    opened = (
        select(
            beijing_month(Case.received_at, dialect).label("month"),
            case((Case.source == "complaint", 1), else_=0).label("complaint"),
        )
        .where(Case.unit_id == unit_id, _in_period(Case.received_at, period))
        .subquery()
    )
    closed = (
        select(beijing_month(Case.closed_at, dialect).label("month"))
        .where(Case.unit_id == unit_id, _in_period(Case.closed_at, period))
        .subquery()
    )
    got_opened = {
        m: (n, c)
        for m, n, c in session.execute(
            select(opened.c.month, func.count(), func.sum(opened.c.complaint)).group_by(
                opened.c.month
            )
        )
    }
    got_closed: dict[str, int] = {
        str(m): int(n)
        for m, n in session.execute(select(closed.c.month, func.count()).group_by(closed.c.month))
    }
    out = []
    for m in period.months():
        n, c = got_opened.get(str(m), (0, 0))
        out.append(MonthRow(str(m), int(n), int(got_closed.get(str(m), 0)), int(c or 0)))
    return out


def _violation_types(
    session: Session, unit_id: int, period: Period, d: StatsDefinition, months: list[MonthRow]
) -> tuple[list[TypeRow], int, int]:
    sources = d.violation_sources
    value = func.trim(
        case(
            *[
                (CaseEvent.action == s.action, CaseEvent.details[s.detail].as_string())
                for s in sources
            ]
        )
    )
    preference = case(*[(CaseEvent.action == s.action, i) for i, s in enumerate(sources)])
    cohort = select(Case.id).where(
        Case.unit_id == unit_id,
        _in_period(Case.received_at, period),
    )
    ranked = (
        select(
            func.substr(value, 1, d.violation_max_length).label("name"),
            func.row_number()
            .over(partition_by=CaseEvent.case_id, order_by=(preference, CaseEvent.seq.desc()))
            .label("rank"),
        )
        .where(
            CaseEvent.case_id.in_(cohort),
            CaseEvent.action.in_({s.action for s in sources}),
            func.coalesce(value, "") != "",
        )
        .subquery()
    )
    first = select(ranked.c.name, func.count()).where(ranked.c.rank == 1)
    counted = Counter(
        {str(name): int(n) for name, n in session.execute(first.group_by(ranked.c.name))}
    )
    ordered = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
    top = [TypeRow(name, n) for name, n in ordered[: d.violation_top]]
    other = sum(n for _, n in ordered[d.violation_top :])
    not_recorded = sum(m.opened for m in months) - sum(counted.values())
    return top, other, not_recorded


#: One case's deadlines as the figures count them: (rule, start, "met"|"missed"|"open", zh, en).
_Counted = tuple[tuple[str, date, str, str, str], ...]


class _DeadlineCache:
    """The counted deadlines of each case, by (case, its ``updated_at``, today).

    The deadline engine is the one authority on due dates (working days, make-up days,
    suspensions, and whatever deadlines other rooms add to ``deadlines_of``), but it costs a
    fraction of a millisecond per deadline: thousands of cases on every page view would take
    seconds. A case's deadlines change only when its row changes (its facts are on the row,
    and ``updated_at`` moves with every change) or the day changes, so they are kept between
    requests, bounded, and recomputed for the cases that moved."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, datetime, date], _Counted] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, datetime, date]) -> _Counted | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def put(self, key: tuple[str, datetime, date], value: _Counted) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_CACHE = _DeadlineCache()


def warm(sessions: sessionmaker[Session], today: date) -> int:
    """Count every unit's deadlines for the dashboard's default period into this process's
    cache, so that the first person to open the figures (after a restart, or on a new day,
    when every count is stale) does not wait for thousands of counts. Returns how many cases
    were counted anew. The web process runs it at start and just after each midnight."""
    before = len(_CACHE)
    period = Period.parse(None, None, today)
    for unit_id, _ in units(sessions):
        unit_figures(sessions, unit_id, period, today)
    return len(_CACHE) - before


def forget_counted_deadlines() -> None:
    """Empty the deadline cache (benchmarks measure the first view after a restart)."""
    _CACHE.clear()


def _counted(case: Case, today: date) -> _Counted:
    out = []
    for dl in deadlines_of(case, today):
        if dl.status == DeadlineStatus.MET:
            kind = "met"
        elif dl.status == DeadlineStatus.OVERDUE:  # past due unmet, or met late
            kind = "missed"
        else:  # running, due soon, suspended, not yet confirmed
            kind = "open"
        rule = dl.rule_id or ""
        out.append((rule, dl.start_event_date, kind, dl.name_zh or rule, dl.name_en or rule))
    return tuple(out)


def _mentions_period(period: Period) -> ColumnElement[bool]:
    """The case's facts hold a date of the period (every deadline counts from a date among
    them): a cheap superset of the cases with a deadline that started in the period."""
    text = cast(Case.facts, String)
    return or_(*[text.like(f'%"{m}-%') for m in period.months()])


def _compliance(
    session: Session, unit_id: int, period: Period, today: date, d: StatsDefinition
) -> list[ComplianceRow]:
    """Deadlines that started in the period. Only cases open at some time in it whose facts
    name a date in it can have one, so only those cases' rows are read (no events)."""
    q = select(Case.id, Case.updated_at, Case.procedure, Case.state, Case.number, Case.facts).where(
        Case.unit_id == unit_id,
        Case.received_at < period.utc_until,
        or_(Case.closed_at.is_(None), Case.closed_at >= period.utc_from),
        _mentions_period(period),
    )
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, tuple[str, str]] = {}
    for case_id, updated_at, procedure, state, number, facts in session.execute(q):
        key = (case_id, updated_at, today)
        counted = _CACHE.get(key)
        if counted is None:
            probe = Case(procedure=procedure, state=state, number=number, facts=facts or {})
            counted = _counted(probe, today)
            _CACHE.put(key, counted)
        for rule, started, kind, zh, en in counted:
            if rule in d.excluded_rules or not period.covers(started):
                continue
            tally[rule][kind] += 1
            names[rule] = (zh, en)
    order = {rule: i for i, rule in enumerate(rules())}
    return [
        ComplianceRow(rule, *names[rule], c["met"], c["missed"], c["open"])
        for rule, c in sorted(tally.items(), key=lambda kv: order.get(kv[0], len(order)))
    ]


def _no_penalty(
    session: Session, unit_id: int, period: Period, d: StatsDefinition
) -> NoPenaltyShare:
    np = d.no_penalty
    by_decision = Case.facts[np.decision_fact].as_string().in_(np.decision_grounds)
    by_non_filing = and_(
        Case.state == np.non_filing_end,
        exists().where(
            CaseEvent.case_id == Case.id,
            CaseEvent.action == np.non_filing_action,
            CaseEvent.details[np.non_filing_detail].as_string().in_(np.non_filing_grounds),
        ),
    )
    guided = or_(by_decision, by_non_filing)
    ended = (
        select(case((guided, 1), else_=0).label("guided"))
        .where(
            Case.unit_id == unit_id,
            _in_period(Case.closed_at, period),
            or_(Case.facts[np.listed_fact].as_boolean().is_(True), guided),
        )
        .subquery()
    )
    eligible, n_guided = session.execute(
        select(func.count(), func.coalesce(func.sum(ended.c.guided), 0))
    ).one()
    return NoPenaltyShare(int(eligible), int(n_guided))


def _steps(
    session: Session, dialect: str, unit_id: int, period: Period, d: StatsDefinition
) -> tuple[list[StepRow], int]:
    proc = default_process()
    step_of = {s.id: s.step for s in proc.states.values()}
    terminal = [s.id for s in proc.states.values() if s.terminal]
    to_step = case(step_of, value=CaseEvent.to_state)
    # The start state is before every step: the case's first event enters step 1.
    from_step = case({**step_of, proc.start: 0}, value=CaseEvent.from_state, else_=0)
    open_in_period = select(Case.id).where(
        Case.unit_id == unit_id,
        Case.received_at < period.utc_until,
        or_(Case.closed_at.is_(None), Case.closed_at >= period.utc_from),
    )
    entries = (
        select(
            CaseEvent.case_id,
            CaseEvent.at,
            to_step.label("step"),
            func.lead(CaseEvent.at, type_=UTCDateTime())
            .over(partition_by=CaseEvent.case_id, order_by=CaseEvent.seq)
            .label("left_at"),
        )
        .where(
            CaseEvent.case_id.in_(open_in_period),
            # a step left after the period does not count: later events are not needed
            CaseEvent.at < period.utc_until,
            CaseEvent.to_state.is_not(None),
            # most events stay in their state (inquiries, notes, staffing): the cheap test
            # first, so that the step table is looked up only for changes of state
            or_(CaseEvent.from_state.is_(None), CaseEvent.from_state != CaseEvent.to_state),
            # entering another step, or ending the case (a lead not filed ends in step 2:
            # its time in step 2 ends then)
            or_(to_step != from_step, CaseEvent.to_state.in_(terminal)),
        )
        .subquery()
    )
    visits = (
        select(
            entries.c.case_id,
            entries.c.step,
            beijing_day(entries.c.at, dialect).label("entered"),
            beijing_day(entries.c.left_at, dialect).label("left"),
        )
        .where(entries.c.left_at >= period.utc_from, entries.c.left_at < period.utc_until)
        .cte("visits")
    )
    # One statement over the visits (the database materialises them once): per step the
    # visits and cases, and per step and day the visits entered (-1) and left (+1) that day.
    # The constants are literal SQL, not bound values, so that PostgreSQL groups by them.
    v = visits.c
    per_step = select(
        v.step, literal_column("0").label("sign"), func.min(v.entered).label("day"),
        func.count().label("n"), func.count(distinct(v.case_id)).label("cases"),
    ).group_by(v.step)  # fmt: skip
    entered = select(
        v.step, literal_column("-1"), v.entered, func.count(), literal_column("0")
    ).group_by(v.step, v.entered)
    left = select(v.step, literal_column("1"), v.left, func.count(), literal_column("0")).group_by(
        v.step, v.left
    )
    counts: dict[int, tuple[int, int]] = {}
    per_day: list[tuple[int, date, int, int]] = []  # step, day, sign, visits
    for step, sign, day, n, cases in session.execute(union_all(per_step, entered, left)):
        if int(sign) == 0:
            counts[int(step)] = (int(n), int(cases))
        else:
            per_day.append((int(step), as_date(day), int(sign), int(n)))
    ords = ordinals(day for _, day, _, _ in per_day)
    total: Counter[int] = Counter()
    for step, day, sign, n in per_day:
        total[step] += sign * n * ords.of[day]
    out = [
        StepRow(step, *d.steps[step], cases, n, total[step])
        for step, (n, cases) in sorted(counts.items())
    ]
    return out, ords.unconfirmed
