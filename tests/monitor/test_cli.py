"""``evidence watch start|show`` and ``evidence user set-email`` as a user runs them
(subprocesses of the venv's ``evidence`` on one data folder, no server running): a refused
watch is one ``error:`` line, exit 2 and nothing kept; a watch started queues its first
sealed capture for the workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import func, select

from evidence_service.bootstrap import initialize
from evidence_service.security import hash_password
from evidence_service.services import Services
from storage.models import Capture, CaptureWatch, Unit, User
from tests.conftest import run_cli
from tests.fixtures.site import FixtureSite, shop_item_html
from tests.service.conftest import make_settings


def test_watch_from_the_command_line(tmp_path: Path, fixture_site: FixtureSite) -> None:
    data = tmp_path / "data"
    services = Services(make_settings(data))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        session.add(
            User(
                username="wang",
                display_name="王五",
                password_hash=hash_password("x" * 12),
                unit_id=unit_id,
                badge_number="SL-0201",
            )
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(
        EVIDENCE_DATA_DIR=str(data),
        EVIDENCE_KEY_PASSPHRASE="test passphrase",
        EVIDENCE_CAPTURE_ALLOW_PRIVATE="true",
    )
    url = fixture_site.set_page("item-cli", shop_item_html())

    bad = run_cli(["user", "set-email", "wang", "王五 <wang@x.cn>"], env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: not a plain e-mail address")
    ok = run_cli(["user", "set-email", "wang", "wang@unit.example.cn"], env, timeout=60)
    assert ok.returncode == 0, ok.stderr

    refused = run_cli(
        ["watch", "start", url, "--user", "wang", "--until", "14d", "--until-status", "404",
         "--until-gone", "假一赔十"],
        env,
        timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "at most one --until-* condition" in refused.stderr
    too_often = run_cli(
        ["watch", "start", url, "--user", "wang", "--until", "14d", "--every", "10m"],
        env,
        timeout=60,
    )
    assert too_often.returncode == 2
    assert too_often.stderr.strip().splitlines() == [
        "error: capture at most every 1 hours (EVIDENCE_WATCH_MIN_INTERVAL_HOURS)"
    ]
    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(CaptureWatch)) == 0

    started = run_cli(
        ["watch", "start", url, "--user", "wang", "--every", "6h", "--until", "2099-01-01",
         "--until-gone", "假一赔十", "--json"],
        env,
        timeout=60,
    )  # fmt: skip
    assert started.returncode == 2 and "at most 366 days" in started.stderr
    started = run_cli(
        ["watch", "start", url, "--user", "wang", "--every", "6h", "--until", "14d",
         "--until-gone", "假一赔十", "--json"],
        env,
        timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    watch_id = json.loads(started.stdout)["id"]
    shown = run_cli(["watch", "show", watch_id, "--json"], env, timeout=60)
    view = json.loads(shown.stdout)
    assert view["state"] == "active" and view["url"] == url
    [run] = view["runs"]
    assert run["state"] == "capturing"
    with services.session() as session:
        cap = session.get(Capture, run["capture_id"])
        assert cap is not None and cap.status == "queued" and cap.requested_url == url
        wang = session.scalars(select(User).where(User.username == "wang")).one()
        assert wang.email == "wang@unit.example.cn"
    services.close()
