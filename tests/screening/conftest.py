"""Fixtures of the screening tests: a migrated database (copied from one migrated once, so
each test starts empty in a fraction of a second), two units, and a helper that files
complaints through the workflow (``service.open_case``, as the public form does) at a chosen
time."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidence_service.services import Services
from storage.models import Case, Unit
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn
from workflow.screening import Operating, Screener, load_rules
from workflow.screening.index import index_complaint

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("screening-template") / "data"
    services = Services(make_settings(data))
    services.migrate()
    services.close()
    return data


@dataclass
class Desk:
    """A database with two units and a clock; ``file`` files a complaint."""

    services: Services
    units: list[int]
    clock: list[datetime] = field(default_factory=lambda: [T0])

    @property
    def ctx(self) -> CaseContext:
        return CaseContext(sessions=self.services.sessions, now=lambda: self.clock[0])

    def screener(self, flag_score: int = 40, period_days: int = 365) -> Screener:
        return Screener(
            self.services.sessions,
            load_rules(),
            Operating(flag_score, period_days),
            now=lambda: self.clock[0],
        )

    def file(
        self,
        summary: str,
        *,
        name: str | None = "张三",
        contact: str = "13800000001",
        shop: str = "某某旗舰店",
        unit: int = 0,
        days: float = 0,
        title: str = "投诉",
    ) -> str:
        """A complaint received ``days`` after T0, indexed as on arrival (where the public
        form's screening indexes it) but not screened."""
        self.clock[0] = T0 + timedelta(days=days)
        case_id = service.open_case(
            self.ctx,
            Actor("complainant", name or "—", "complainant", None),
            unit_id=self.units[unit],
            title=title,
            summary=summary,
            parties=[PartyIn(shop, shop_url="https://shop.example/1")],
            source="complaint",
            shop_url="https://shop.example/1",
            complainant_name=name,
            complainant_contact=contact,
        )
        with self.services.session() as session:
            case = session.get(Case, case_id)
            assert case is not None
            index_complaint(session, case, load_rules())
        return case_id


@pytest.fixture
def desk(migrated: Path, tmp_path: Path) -> Iterator[Desk]:
    data = tmp_path / "data"
    shutil.copytree(migrated, data)
    services = Services(make_settings(data))
    with services.session() as session:
        units = [Unit(name="甲市市场监督管理局"), Unit(name="乙市市场监督管理局")]
        session.add_all(units)
        session.flush()
        ids = [u.id for u in units]
    yield Desk(services, ids)
    services.close()
