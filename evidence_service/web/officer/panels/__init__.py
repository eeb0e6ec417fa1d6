"""The case page's panels, in the order they appear (see :mod:`.base`). A room adds its panel
by importing its module here and appending its ``PANEL``."""

from __future__ import annotations

from evidence_service.web.officer.panels.base import Filled, Panel, PanelInput, fill_all

PANELS: list[Panel] = []

__all__ = ["PANELS", "Filled", "Panel", "PanelInput", "fill_all"]
