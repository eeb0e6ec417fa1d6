"""The case page's panels, in the order they appear (see :mod:`.base`). A room adds its panel
by importing its module here and appending its ``PANEL``."""

from __future__ import annotations

from evidence_service.web.officer.panels import (
    legal,
    orders,
    platform,
    register,
    screening,
    watch,
)
from evidence_service.web.officer.panels.base import Filled, Panel, PanelInput, fill_all

PANELS: list[Panel] = []
PANELS.append(orders.PANEL)
PANELS.append(watch.PANEL)
PANELS.append(platform.PANEL)
PANELS.append(register.PANEL)
PANELS.append(legal.PANEL)
PANELS.append(screening.PANEL)

__all__ = ["PANELS", "Filled", "Panel", "PanelInput", "fill_all"]
