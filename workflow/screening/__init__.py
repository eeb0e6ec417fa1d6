"""Screening complaints for professional claimants (职业索赔人), with an explanation.

A complaint's score (0..100) is the sum of the facts found -- the same person's complaints
across merchants and units, near-duplicate texts, one phone or address behind many names,
buying and complaining within days many times, a demand for punitive compensation -- each
weighted by ``rules.toml`` and pointing at the complaints it rests on. The score suggests;
the officer concludes (:mod:`.conclusion`). Nothing here refuses or closes a complaint.
"""

from __future__ import annotations

from .conclusion import CONCLUSIONS, SCREENING_CONCLUSION, record_conclusion
from .index import index_pending
from .rules import DEFAULT_RULES, Operating, Rules, RulesError, load_rules
from .screen import (
    KIND_NAMES,
    NotAComplaint,
    PointsAt,
    ScreenedCount,
    Screener,
    ScreeningFact,
    ScreeningResult,
    count_screened,
    latest,
    screen,
)

__all__ = [
    "CONCLUSIONS",
    "DEFAULT_RULES",
    "KIND_NAMES",
    "SCREENING_CONCLUSION",
    "NotAComplaint",
    "Operating",
    "PointsAt",
    "Rules",
    "RulesError",
    "ScreenedCount",
    "Screener",
    "ScreeningFact",
    "ScreeningResult",
    "count_screened",
    "index_pending",
    "latest",
    "load_rules",
    "record_conclusion",
    "screen",
]
