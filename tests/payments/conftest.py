"""A live service for the payment tests: uvicorn on a free port, the sandbox bank switched on,
the clock held by time-machine from Monday 2 November 2026 09:00 (Beijing) so that every
deadline of the test falls in a year the working-day calendar knows, and a fined case served
through the real case workflow."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
import uvicorn
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.portal.deps import build_context
from storage.models import Unit, User
from tests.fixtures.http_tsa import free_port
from tests.service.conftest import make_settings
from workflow import payments
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn

CHINA = timezone(timedelta(hours=8))
#: Monday. A decision served on Tuesday 3 November is due on Wednesday 18 November (the 15th
#: day, a working day); the surcharge runs from Thursday 19 November.
START = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA)
SERVED = datetime(2026, 11, 3, 10, 0, tzinfo=CHINA)
CREDIT_CODE = "9144030071526726XG"


@dataclass
class Live:
    url: str
    services: Services
    cases: CaseContext
    pay: payments.PaymentContext
    bank: payments.SandboxBank
    clock: Any  # time_machine.Coordinates
    unit_id: int
    officer: Actor
    head: Actor
    ids: dict[str, int]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, follow_redirects=False)


def _user(services: Services, unit_id: int, username: str, name: str, badge: str) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=name,
            password_hash=hash_password("x" * 12),
            unit_id=unit_id,
            badge_number=badge,
        )
        session.add(user)
        session.flush()
        return user.id


@contextmanager
def _live(data_dir: Path, database_url: str | None = None) -> Iterator[Live]:
    with time_machine.travel(START, tick=True) as clock:
        port = free_port()
        extra = {"database_url": database_url} if database_url else {}
        services = Services(make_settings(data_dir, port=port, payment_sandbox=True, **extra))
        initialize(services)
        with services.session() as session:
            unit_id = session.scalars(select(Unit.id)).one()
        ids = {
            "wang": _user(services, unit_id, "wang", "王五", "SL-0001"),
            "head": _user(services, unit_id, "head", "钱局长", "SL-0003"),
        }
        app = create_app(services=services)
        url = services.settings.effective_public_url
        bank = payments.SandboxBank(
            services.settings.data_dir / "sandbox-bank", page_url=f"{url}/sandbox-bank/orders"
        )
        cases = case_context(services)
        ctx = payments.PaymentContext(
            cases=cases, portal=build_context(services), channel=bank, public_url=url
        )
        app.state.payment_context = ctx  # the app and the test share one context
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        web = threading.Thread(target=server.run, daemon=True)
        web.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the live server did not start"
        try:
            yield Live(
                url,
                services,
                cases,
                ctx,
                bank,
                clock,
                unit_id,
                Actor(f"user:{ids['wang']}", "王五", "officer", unit_id),
                Actor(f"user:{ids['head']}", "钱局长", "head", unit_id),
                ids,
            )
        finally:
            server.should_exit = True
            web.join(10)
            services.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with _live(tmp_path / "data") as made:
        yield made


@pytest.fixture
def live_db(tmp_path: Path, database_url: str) -> Iterator[Live]:
    """``live`` on SQLite and on PostgreSQL (for what depends on the database's locking)."""
    with _live(tmp_path / "data", database_url) as made:
        yield made


def served_fine(live: Live, amount_fen: int = 200_000, merchant_id: str | None = None) -> str:
    """A simplified-procedure case: fine decided on the spot on 2 November, the decision
    served on 3 November; returns the case id. ``merchant_id``: the party's portal account
    (the case's own documents are kept as its documents)."""
    ctx, officer = live.cases, live.officer
    case_id = service.open_case(
        ctx,
        officer,
        unit_id=live.unit_id,
        title="未按规定公示营业执照信息",
        summary="网店首页未公示营业执照信息",
        parties=[
            PartyIn("深圳某某电子商务有限公司", merchant_id=merchant_id, credit_code=CREDIT_CODE)
        ],
        procedure="simplified",
    )
    service.assign(ctx, officer, case_id, live.ids["wang"])
    service.assign(ctx, officer, case_id, live.ids["head"], role="head")
    service.act(ctx, officer, case_id, "register")
    service.act(
        ctx,
        officer,
        case_id,
        "decide_on_the_spot",
        {"decided_penalty": {"kind": "fine", "amount_fen": amount_fen}},
    )
    live.clock.move_to(SERVED)
    service.act(ctx, officer, case_id, "serve_decision", {"service_method": "direct"})
    return case_id


def csrf_of(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)
