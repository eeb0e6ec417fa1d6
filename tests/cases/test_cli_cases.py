"""``evidence case open|list|show|act|assign|graph`` as a user runs them (subprocesses of the
venv's ``evidence`` on one data folder, no server running): the same checks and JSON as the
REST API, ``--set`` values parsed, refusals printed reason by reason, and every error one
``error:`` line with exit 2 and nothing done."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.security import hash_password
from evidence_service.services import Services
from storage.models import Unit, User
from tests.conftest import run_cli
from tests.service.conftest import make_settings
from workflow.cases import graph

Cli = Callable[..., CompletedProcess[str]]
CREDIT_CODE = "9144030071526726XG"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """``cli(*args)`` runs ``evidence case ...`` on a data folder with a unit's officers (and
    one of another unit, and a disabled one)."""
    data = tmp_path_factory.mktemp("cases-cli") / "data"
    services = Services(make_settings(data))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        other = Unit(name="别的市场监督管理局")
        session.add(other)
        session.flush()
        for name, badge, unit, disabled in [
            ("wang", "SL-0001", unit_id, False),
            ("zhao", "SL-0002", unit_id, False),
            ("head", "SL-0003", unit_id, False),
            ("rev", "SL-0004", unit_id, False),
            ("stranger", "SL-9001", other.id, False),
            ("gone", "SL-0009", unit_id, True),
        ]:
            session.add(
                User(
                    username=name,
                    display_name=f"{name} 名",
                    password_hash=hash_password("x" * 12),
                    unit_id=unit,
                    badge_number=badge,
                    disabled=disabled,
                )
            )
    services.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(EVIDENCE_DATA_DIR=str(data), EVIDENCE_KEY_PASSPHRASE="test passphrase")

    def call(*args: str) -> CompletedProcess[str]:
        return run_cli(["case", *args], env, timeout=120)

    return call


def _ok(proc: CompletedProcess[str]) -> CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    return proc


def _json(proc: CompletedProcess[str]) -> Any:
    return json.loads(_ok(proc).stdout)


def _error(proc: CompletedProcess[str], *parts: str) -> list[str]:
    """Exit 2, stderr ``error: ...`` (with each of ``parts``); returns its lines."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: "), proc.stderr
    for part in parts:
        assert part in proc.stderr, proc.stderr
    return proc.stderr.splitlines()


def _open(cli: Cli, title: str, *extra: str) -> str:
    case = _json(cli("open", "--title", title, "--summary", "页面宣称“国家级”", "--json", *extra))
    return str(case["id"])


def _events(cli: Cli, case_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = _json(cli("show", case_id, "--json"))["events"]
    return events


def test_open_list_and_show_as_an_officer(cli: Cli) -> None:
    proc = _ok(
        cli("open", "--title", "虚假宣传", "--summary", "商品页面宣称“国家级”", "--party",
            "某网店", "--credit-code", CREDIT_CODE.lower(), "--shop-url", "https://shop/1",
            "--as", "wang")
    )  # fmt: skip
    assert proc.stdout.startswith("case ") and "wang staffed as officer" in proc.stdout
    case_id = proc.stdout.split()[1]
    shown = _json(cli("show", case_id, "--json", "--as", "wang"))
    assert (shown["state"], shown["roles"], shown["title"]) == ("received", ["officer"], "虚假宣传")
    assert shown["parties"] == [
        {"name": "某网店", "credit_code": CREDIT_CODE, "shop_url": "https://shop/1",
         "platform": None, "merchant_id": None}
    ]  # fmt: skip
    assert [(s["name"], s["role"]) for s in shown["staff"]] == [("wang 名", "officer")]
    assert {o["action"] for o in shown["options"]} >= {"register"}
    rows = _json(cli("list", "--json"))
    assert case_id in [r["id"] for r in rows]
    assert next(r for r in rows if r["id"] == case_id)["state"] == "received"
    text = _ok(cli("list", "--state", "received")).stdout
    assert any(case_id in line and "虚假宣传" in line for line in text.splitlines())
    page = _ok(cli("show", case_id)).stdout
    assert "state: received 已接收待登记" in page
    assert "staff: wang 名 (officer, badge SL-0001)" in page
    assert "record_lead" in page and "[x] officer: register" in page


def test_a_general_case_acted_on_from_the_command_line(cli: Cli) -> None:
    case_id = _open(cli, "未公示证照", "--as", "wang")
    _ok(cli("assign", case_id, "zhao", "--role", "officer", "--as", "wang"))
    _ok(cli("assign", case_id, "head", "--role", "head"))  # as the system
    _ok(cli("assign", case_id, "rev", "--role", "reviewer"))
    assert _ok(cli("act", case_id, "register", "--as", "wang")).stdout.startswith(
        "register: received -> verifying (as officer)"
    )
    # refused: every reason on its own line; nothing kept
    before = len(_events(cli, case_id))
    lines = _error(cli("act", case_id, "propose_filing", "--as", "wang"), "refused")
    assert any("no_penalty_lists_consulted" in line and " / " in line for line in lines[1:])
    assert all(line.startswith("  - ") for line in lines[1:]) and len(lines) >= 2
    _error(cli("act", case_id, "propose_filing", "--as", "wang", "--set", "major_case=maybe"),
           "major_case", "true or false")  # fmt: skip
    _error(cli("act", case_id, "propose_filing", "--as", "wang", "--set", "amount=5"),
           "amount: this action does not take it")  # fmt: skip
    _error(cli("act", case_id, "propose_filing", "--as", "wang", "--set", "major_case"),
           "key=value")  # fmt: skip
    assert len(_events(cli, case_id)) == before
    _ok(cli("act", case_id, "propose_filing", "--as", "wang",
            "--set", "no_penalty_lists_consulted=true", "--set", "no_penalty_path_offered=true",
            "--set", "major_case=false"))  # fmt: skip
    lines = _error(cli("act", case_id, "approve_filing", "--as", "wang"), "refused")
    assert "机关负责人" in lines[1] and "[role]" in lines[1]
    approved = _json(cli("act", case_id, "approve_filing", "--as", "head", "--json"))
    assert (approved["role"], approved["to_state"]) == ("head", "investigating")
    number = approved["case"]["number"]
    assert number and number.startswith("示市监处〔")
    # from here on the case is named by its number
    _ok(cli("act", number, "end_investigation", "--as", "wang", "--set", "major_case=false"))
    _ok(cli("act", number, "complete_review", "--as", "rev", "--set", "legal_review_done=true"))
    _ok(cli("act", number, "notify_penalty", "--as", "wang", "--role", "officer",
            "--set", "notified_penalty=fine:500000", "--set", "hearing_right=true"))  # fmt: skip
    _error(cli("act", number, "schedule_hearing", "--as", "wang",
               "--set", "hearing_on=2030-01-07"),
           "no action 'schedule_hearing' from state 'statement_period'")  # fmt: skip
    _ok(cli("act", number, "request_hearing", "--as", "wang"))
    for bad in ("soon", "2026-02-30"):
        _error(cli("act", number, "schedule_hearing", "--as", "wang", "--set", f"hearing_on={bad}"),
               "hearing_on", "YYYY-MM-DD")  # fmt: skip
    _ok(cli("act", number, "schedule_hearing", "--as", "wang", "--set", "hearing_on=2030-01-07"))
    events = _events(cli, number)
    notified = next(e for e in events if e["action"] == "notify_penalty")
    assert notified["details"]["notified_penalty"] == {"kind": "fine", "amount_fen": 500_000}
    assert notified["details"]["hearing_right"] is True
    assert events[-1]["details"]["hearing_on"] == "2030-01-07"
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(events))


def test_a_warning_on_the_spot_and_what_the_system_may_do(cli: Cli) -> None:
    case_id = _open(cli, "未亮照经营", "--procedure", "simplified", "--as", "wang")
    lines = _error(cli("act", case_id, "register"), "--as USERNAME")  # the system may not
    assert "[role]" in lines[1]
    _ok(cli("act", case_id, "register", "--as", "wang"))
    _error(cli("act", case_id, "decide_on_the_spot", "--as", "wang",
               "--set", "decided_penalty=fine:0"), "fine:AMOUNT_IN_FEN")  # fmt: skip
    decided = _json(cli("act", case_id, "decide_on_the_spot", "--as", "wang",
                        "--set", "decided_penalty=warning", "--json"))  # fmt: skip
    assert decided["to_state"] == "decided"
    assert decided["case"]["events"][-1]["details"]["decided_penalty"] == {
        "kind": "warning", "amount_fen": 0
    }  # fmt: skip
    published = _json(cli("act", case_id, "publish", "--json"))  # the system publishes
    assert (published["role"], published["to_state"]) == ("system", "decided")


def test_access_is_the_apis(cli: Cli) -> None:
    case_id = _open(cli, "他人案件", "--as", "wang")
    _error(cli("show", case_id, "--as", "stranger"), f"no case {case_id}")
    _error(cli("act", case_id, "register", "--as", "stranger"), f"no case {case_id}")
    _error(cli("assign", case_id, "stranger", "--role", "officer", "--as", "wang"),
           "not an active account of the case's unit")  # fmt: skip
    _error(cli("show", case_id, "--as", "gone"), "disabled")
    _error(cli("act", case_id, "register", "--as", "nobody"), "no such account")
    _error(cli("act", case_id, "register", "--as", "zhao"), "not staffed")
    _error(cli("act", case_id, "register", "--role", "officer"), "--as")
    _error(cli("act", case_id, "approve_filing", "--as", "wang", "--role", "head"),
           "not staffed as head")  # fmt: skip
    assert [e["action"] for e in _events(cli, case_id)] == ["record_lead", "assign"]
    listed = [r["id"] for r in _json(cli("list", "--json", "--as", "stranger"))]
    assert case_id not in listed


def test_bad_input_is_one_error_line_and_nothing_is_opened(cli: Cli) -> None:
    before = _json(cli("list", "--json", "--all"))
    _error(cli("open", "--title", "t", "--summary", "s", "--credit-code", CREDIT_CODE),
           "--party")  # fmt: skip
    _error(cli("open", "--title", "t", "--summary", "s", "--party", "p", "--credit-code", "12"),
           "--credit-code")  # fmt: skip
    _error(cli("open", "--title", "t", "--summary", "s"), "several units", "--as USERNAME")
    _error(cli("open", "--title", "", "--summary", "s"), "--title")
    _error(cli("open", "--title", "t", "--summary", "s", "--as", "gone"), "disabled")
    _error(cli("list", "--state", "nonsense"), "no state")
    _error(cli("show", "no-such-case"), "no case 'no-such-case'")
    _error(cli("act", "no-such-case", "register"), "no case")
    _error(cli("assign", "no-such-case", "wang", "--role", "officer"), "no case")
    assert _json(cli("list", "--json", "--all")) == before


def test_graph_draws_the_process_table(cli: Cli) -> None:
    mermaid = _ok(cli("graph")).stdout
    assert mermaid == graph.mermaid()
    assert _ok(cli("graph", "--format", "dot")).stdout == graph.dot()
    assert _ok(cli("graph", "--format", "dot", "--procedure", "simplified")).stdout == (
        graph.dot("simplified")
    )
    doc = (Path(__file__).parents[2] / "docs" / "case-process.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid}```" in doc  # the page shows the same graph
    assert cli("graph", "--format", "png").returncode == 2
