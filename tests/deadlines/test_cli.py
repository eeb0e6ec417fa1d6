"""``evidence case deadline|rules|remind`` as a user runs them (subprocesses of the venv's
``evidence``): the due date and why, JSON, and one clear ``error:`` line with exit 2 for bad
input."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port
from workflow.deadlines import library_years, rules

from .conftest import SmtpServer

Cli = Callable[..., CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env["EVIDENCE_DATA_DIR"] = str(tmp_path / "data")

    def call(*args: str, **extra_env: str) -> CompletedProcess[str]:
        return run_cli(["case", *args], {**env, **extra_env}, timeout=60)

    return call


def test_calendar_days_print_the_due_date_and_why(cli: Cli) -> None:
    proc = cli("deadline", "--from", "2026-09-30", "--days", "4", "--today", "2026-10-01")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "due: 2026-10-08 (Thu)"
    assert (
        "  - last day 2026-10-04 (Sun) is a National Day 国庆节 holiday: moved to 2026-10-08 "
        "(Thu), the first working day after it; due 2026-10-08" in lines
    )
    assert lines[-1] == "status on 2026-10-01: running, 7 day(s) left"


def test_working_days_as_json(cli: Cli) -> None:
    proc = cli("deadline", "--from", "2026-02-12", "--working-days", "7", "--json",
               "--today", "2026-02-27")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["due_date"] == "2026-02-28" and record["confirmed"] is True
    assert record["period"] == {"length": 7, "unit": "working_days", "direction": "after"}
    assert (record["status"], record["days_left"]) == ("due_soon", 1)
    assert (
        "2026-02-15 to 2026-02-23 (9 days): Spring Festival 春节 holiday, skipped"
        in (record["explanation"])
    )


def test_a_rule_with_its_sources(cli: Cli) -> None:
    proc = cli("deadline", "--from", "2026-01-05", "--rule", "decision", "--today", "2026-04-06")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("due: 2026-04-07 (Tue)\n")
    assert "source: 中华人民共和国行政处罚法 第六十条 (Administrative Penalty Law)" in proc.stdout
    assert proc.stdout.rstrip().endswith("status on 2026-04-06: due_soon, 1 day(s) left")


@pytest.mark.skipif(2027 in library_years(), reason="chinese-calendar knows 2027 now")
def test_an_unconfirmed_due_date_exits_3_and_says_why(cli: Cli) -> None:
    proc = cli("deadline", "--from", "2026-12-24", "--working-days", "7", "--today", "2026-12-24")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith(
        "due: unconfirmed (not before 2027-01-02; the calendar is known up to 2026-12-31)"
    )
    assert "enter the State Council's notice on the 2027 public holidays" in proc.stdout
    record = json.loads(cli("deadline", "--from", "2026-12-24", "--working-days", "7",
                            "--json").stdout)  # fmt: skip
    assert record["due_date"] is None and record["last_confirmed_date"] == "2026-12-31"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-30", "--days", "3"], "--from '2026-02-30' is not a date"),
        (["--from", "30.09.2026", "--days", "3"], "write it as YYYY-MM-DD"),
        (["--from", "2026-09-30", "--days", "3", "--working-days", "2"], "got --working-days and"),
        (["--from", "2026-09-30"], "none was given"),
        (["--days", "3"], "--from DATE is required"),
        (["--from", "2026-09-30", "--days", "three"], "not a whole number"),
        (["--from", "2026-09-30", "--working-days", "0"], "must be 1 to 3660 days"),
        (["--from", "2026-09-30", "--rule", "decison"], "no deadline rule 'decison'"),
        (["--from", "2026-09-30", "--days", "3", "--today", "tomorrow"], "--today 'tomorrow'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line_and_exit_2(cli: Cli, args: list[str], message: str) -> None:
    proc = cli("deadline", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ")
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


def test_rules_lists_every_rule(cli: Cli) -> None:
    proc = cli("rules")
    assert proc.returncode == 0, proc.stderr
    for rule_id in rules():
        assert f"\n{rule_id}: " in f"\n{proc.stdout}"
    listing = json.loads(cli("rules", "--json").stdout)
    assert [r["id"] for r in listing] == list(rules())
    decision = next(r for r in listing if r["id"] == "decision")
    assert decision["extensions"] == [
        {"by": "head_of_unit", "max_days": 30},
        {"by": "collective_discussion", "max_days": None},
    ]


def test_remind_sends_a_mail_through_the_configured_server(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    proc = cli(
        "remind", "--to", "wang@example.org", "--case", "示市监处罚〔2026〕12号",
        "--rule", "decision", "--from", "2026-01-05", "--today", "2026-04-04",
        EVIDENCE_SMTP_HOST=smtp_server.host, EVIDENCE_SMTP_PORT=str(smtp_server.port),
        EVIDENCE_SMTP_STARTTLS="false", EVIDENCE_SMTP_FROM="deadlines@unit.example.org",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("sent to wang@example.org: 期限提醒：")
    (received,) = smtp_server.handler.messages
    assert received.rcpt_tos == ["wang@example.org"]
    body = received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "作出处理决定（普通程序）」：2026-04-07（星期二）到期，剩余 3 天" in body


def test_remind_without_a_server_says_what_to_set(cli: Cli) -> None:
    args = ["remind", "--to", "wang@example.org", "--case", "1", "--rule", "decision",
            "--from", "2026-01-05"]  # fmt: skip
    proc = cli(*args)
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: no SMTP server configured: set EVIDENCE_SMTP_HOST\n",
    )
    down = cli(*args, EVIDENCE_SMTP_HOST="127.0.0.1", EVIDENCE_SMTP_PORT=str(free_port()),
               EVIDENCE_SMTP_STARTTLS="false")  # fmt: skip
    assert down.returncode == 3
    assert down.stderr.startswith("error: cannot reach the SMTP server 127.0.0.1:")
