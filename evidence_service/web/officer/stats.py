"""The unit's figures: the dashboard ``/stats``, its CSV export ``/stats.csv`` and
``GET /api/stats`` -- the same figures three ways, all from :func:`workflow.stats.unit_figures`
and :func:`workflow.stats.rows`, so the three cannot disagree.

Officers, reviewers and heads see their own unit's figures; an administrator chooses any unit.
Who may is the authorisation table's verb ``stats`` (``workflow/cases/access.toml``), asked
with the unit whose figures are requested as the subject's unit: another unit's officer is
refused, not shown an empty dashboard.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from evidence_service.web.auth import require_api_user
from evidence_service.web.case_views import access_role, case_ctx
from evidence_service.web.i18n import language, translate
from evidence_service.web.pages import render, require_officer
from evidence_service.web.stats_charts import (
    BarChart,
    LineChart,
    StackChart,
    bar_chart,
    line_chart,
    stack_chart,
)
from storage.models import User
from workflow.cases import access
from workflow.stats import (
    Period,
    PeriodError,
    UnitFigures,
    UnknownUnit,
    rows,
    unit_figures,
    units,
)

router = APIRouter()

FromMonth = Annotated[str | None, Query(alias="from", description="first month, YYYY-MM")]
ToMonth = Annotated[str | None, Query(alias="to", description="last month, YYYY-MM")]
UnitParam = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="unit id (default: your own unit)")
]
CSV_COLUMNS = (
    "unit_id", "unit", "period_from", "period_to", "figure", "item", "item_zh", "item_en",
    "measure", "value",
)  # fmt: skip


class StatsRefused(Exception):
    """The figures cannot be given: ``status`` and ``code`` as the API answers, the message in
    both languages."""

    def __init__(self, status: int, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en

    def http(self) -> HTTPException:
        return HTTPException(self.status, detail={"code": self.code, "message": self.en})


def _figures(
    request: Request, user: User, unit: int | None, start: str | None, end: str | None
) -> UnitFigures:
    ctx = case_ctx(request)
    today = ctx.today()
    unit_id = unit if unit is not None else user.unit_id
    if unit_id is None:  # an administrator without a unit: the first one
        known = units(ctx.sessions)
        if not known:
            raise StatsRefused(404, "no_unit", "尚无任何单位", "there is no unit yet")
        unit_id = known[0][0]
    subject = access.Subject(
        actor_unit=str(user.unit_id) if user.unit_id is not None else None,
        case_unit=str(unit_id),
    )
    decision = access.can(access_role(user), "stats", subject)
    if not decision:
        raise StatsRefused(403, "forbidden", decision.zh, decision.en)
    try:
        period = Period.parse(start, end, today)
    except PeriodError as exc:
        raise StatsRefused(422, "invalid_period", str(exc), str(exc)) from None
    try:
        return unit_figures(ctx.sessions, unit_id, period, today)
    except UnknownUnit:
        raise StatsRefused(404, "no_unit", f"没有单位 {unit_id}", f"no unit {unit_id}") from None


# -- the page ----------------------------------------------------------------------------------


def _charts(f: UnitFigures, lang: str) -> dict[str, LineChart | BarChart | StackChart | None]:
    def t(key: str) -> str:
        return translate(lang, key)

    def pick(zh: str, en: str) -> str:
        return zh if lang == "zh" else en

    types: list[tuple[str, int | float | None]] = [(x.name, x.cases) for x in f.violation_types]
    if f.other_types:
        types.append((t("stats.types.other"), f.other_types))
    if f.types_not_recorded:
        types.append((t("stats.types.not_recorded"), f.types_not_recorded))
    np = f.no_penalty
    return {
        "months": line_chart(
            [m.month for m in f.months],
            [
                ("opened", t("stats.opened"), [m.opened for m in f.months]),
                ("closed", t("stats.closed"), [m.closed for m in f.months]),
            ],
        ),
        "types": bar_chart(types),
        "compliance": stack_chart(
            "compliance",
            [("met", t("stats.met")), ("missed", t("stats.missed")), ("open", t("stats.open"))],
            [
                (
                    pick(c.name_zh, c.name_en),
                    (c.met, c.missed, c.open),
                    f"{t('stats.met')} {c.met_percent}%"
                    if c.met_percent is not None
                    else t("stats.none_decided"),
                )
                for c in f.compliance
            ],
        ),
        "no_penalty": stack_chart(
            "no-penalty",
            [("guided", t("stats.guided")), ("other", t("stats.not_guided"))],
            [
                (
                    t("stats.no_penalty.row"),
                    (np.guided, np.eligible - np.guided),
                    f"{np.guided_percent}%" if np.guided_percent is not None else "—",
                )
            ]
            if np.eligible
            else [],
        ),
        "steps": bar_chart(
            [(f"{s.step} {pick(s.name_zh, s.name_en)}", s.average) for s in f.steps],
            unit=" " + t("stats.days_unit"),
        ),
    }


def _query(f: UnitFigures, **extra: Any) -> str:
    values = {"unit": f.unit_id, "from": str(f.period.start), "to": str(f.period.end), **extra}
    return urlencode(values)


@router.get("/stats", include_in_schema=False)
def stats_page(
    request: Request,
    unit: UnitParam = None,
    start: FromMonth = None,
    end: ToMonth = None,
) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    lang = language(request)
    try:
        f = _figures(request, user, unit, start, end)
    except StatsRefused as exc:
        message = exc.zh if lang == "zh" else exc.en
        return render(request, "error.html", exc.status, user=user, message=message)
    choices = units(case_ctx(request).sessions) if user.role == "admin" else []
    return render(
        request,
        "stats.html",
        user=user,
        f=f,
        charts=_charts(f, lang),
        units=choices,
        query=_query(f),
        pick=lambda zh, en: zh if lang == "zh" else en,
    )


# -- CSV and API -------------------------------------------------------------------------------


@router.get("/stats.csv", include_in_schema=False)
def stats_csv(
    request: Request,
    unit: UnitParam = None,
    start: FromMonth = None,
    end: ToMonth = None,
) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    try:
        f = _figures(request, user, unit, start, end)
    except StatsRefused as exc:
        raise exc.http() from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows(f):
        writer.writerow(
            [
                f.unit_id, f.unit_name, f.period.start, f.period.end, r.figure, r.item,
                r.item_zh, r.item_en, r.measure, "" if r.value is None else r.value,
            ]
        )  # fmt: skip
    name = f"stats-unit{f.unit_id}-{f.period.start}-{f.period.end}.csv"
    return Response(
        # a byte-order mark: spreadsheet programs otherwise read the Chinese as mojibake
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class UnitOut(BaseModel):
    id: int
    name: str


class PeriodOut(BaseModel):
    from_month: str
    to_month: str


class FigureRowOut(BaseModel):
    figure: str
    item: str
    item_zh: str
    item_en: str
    measure: str
    value: int | float | None


class StatsOut(BaseModel):
    """The unit's figures for the period, as of ``as_of`` (Beijing): ``figures`` structured,
    ``rows`` one per figure (the CSV file's rows)."""

    unit: UnitOut
    period: PeriodOut
    as_of: str
    figures: dict[str, Any]
    rows: list[FigureRowOut]


def _structured(f: UnitFigures) -> dict[str, Any]:
    return {
        "cases_by_month": [asdict(m) for m in f.months],
        "cases_by_violation_type": {
            "types": [asdict(t) for t in f.violation_types],
            "other_types": f.other_types,
            "not_recorded": f.types_not_recorded,
        },
        "deadline_compliance": [
            {**asdict(c), "total": c.total, "met_percent": c.met_percent} for c in f.compliance
        ],
        "no_penalty_path": {
            "eligible_cases": f.no_penalty.eligible,
            "closed_by_guidance": f.no_penalty.guided,
            "guided_percent": f.no_penalty.guided_percent,
        },
        "working_days_per_step": [{**asdict(s), "average": s.average} for s in f.steps],
        "working_days_unconfirmed_days": f.unconfirmed_days,
        "complaints": {"received": f.complaints_received, "screened": f.complaints_screened},
    }


@router.get("/api/stats", tags=["stats"], response_model=StatsOut)
def stats_api(
    request: Request,
    user: Annotated[User, Depends(require_api_user)],
    unit: UnitParam = None,
    start: FromMonth = None,
    end: ToMonth = None,
) -> StatsOut:
    """The unit's figures (your own unit; an administrator names any with ``unit``) for the
    months ``from`` to ``to`` (default: the last twelve months): cases by month and by
    violation type, deadline compliance by rule, the no-penalty path's share, working days
    per step of the case process, complaints received. The same numbers as ``/stats`` and
    ``/stats.csv``."""
    try:
        f = _figures(request, user, unit, start, end)
    except StatsRefused as exc:
        raise exc.http() from None
    return StatsOut(
        unit=UnitOut(id=f.unit_id, name=f.unit_name),
        period=PeriodOut(from_month=str(f.period.start), to_month=str(f.period.end)),
        as_of=f.today.isoformat(),
        figures=_structured(f),
        rows=[FigureRowOut(**asdict(r)) for r in rows(f)],
    )
