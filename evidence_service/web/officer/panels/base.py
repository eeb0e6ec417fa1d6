"""What a panel of the case page is: a partial template and the function that fills it.

Why panels: the case page gathers what several rooms know about one case (the party's record,
the suggested legal basis, the order facts read from a capture, the complaint's screening...).
Each room keeps its own query and template beside it and registers one :class:`Panel` in
``panels/__init__.py``; the case page's handler neither knows nor imports what they show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from storage.models import User
from workflow.cases.service import CaseContext, CaseView


@dataclass(frozen=True)
class PanelInput:
    """What every panel may read: the request (language), the signed-in officer, the case's
    context (sessions, clock, settings), the case as the officer may see it, and the roles the
    officer holds on it."""

    request: Request
    user: User
    ctx: CaseContext
    view: CaseView
    roles: frozenset[str]
    lang: str


@dataclass(frozen=True)
class Panel:
    """One section of the case page: ``template`` is rendered with ``panel`` (this object) and
    ``data`` (what ``fill`` returned); a ``fill`` that returns None hides the section."""

    key: str
    template: str
    fill: Callable[[PanelInput], dict[str, Any] | None]


@dataclass(frozen=True)
class Filled:
    panel: Panel
    data: dict[str, Any]


def fill_all(panels: list[Panel], given: PanelInput) -> list[Filled]:
    """Each panel's data, in the order registered; a hidden panel is left out."""
    out = []
    for panel in panels:
        data = panel.fill(given)
        if data is not None:
            out.append(Filled(panel, data))
    return out
