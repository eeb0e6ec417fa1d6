"""The unit's figures (issue 11, "The unit's figures"): what the dashboard ``/stats``, its
CSV export and ``GET /api/stats`` show, computed in the database for one unit and period.

What is counted is data (``figures.toml``); how each figure is computed is described in
:mod:`workflow.stats.compute`.
"""

from __future__ import annotations

from .compute import UnknownUnit, unit_figures, units, warm
from .definition import StatsDefinition, StatsDefinitionError, default_definition, load_definition
from .figures import (
    ComplianceRow,
    FigureRow,
    MonthRow,
    NoPenaltyShare,
    StepRow,
    TypeRow,
    UnitFigures,
    rows,
)
from .period import Month, Period, PeriodError

__all__ = [
    "ComplianceRow",
    "FigureRow",
    "Month",
    "MonthRow",
    "NoPenaltyShare",
    "Period",
    "PeriodError",
    "StatsDefinition",
    "StatsDefinitionError",
    "StepRow",
    "TypeRow",
    "UnitFigures",
    "UnknownUnit",
    "default_definition",
    "load_definition",
    "rows",
    "unit_figures",
    "units",
    "warm",
]
