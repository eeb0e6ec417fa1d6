"""The platform as a partner (room ``platform``): the platform's portal (``/platform``), the
officers' pages and the case's ``platform`` panel actions, and the REST API -- one router."""

from __future__ import annotations

from fastapi import APIRouter

from evidence_service.web.platform import api, officer, portal

router = APIRouter()
router.include_router(portal.router)
router.include_router(officer.router)
router.include_router(api.router)

__all__ = ["router"]
