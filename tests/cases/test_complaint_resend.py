"""The public complaint form sent again is one complaint, on SQLite and PostgreSQL.

A complainant whose reply was lost (a timeout, a 5xx after the commit) or who went back and
sent the form again used to make a second complaint: two cases in the queue, and a count of
complaints that feeds the professional-claimant screening. The same words from the same
browser session now get the complaint they made, with a new receipt code (only a code's hash
is kept) while the code shown before stops working. Other words, or another session, are
another complaint. (Going back in Chromium is tested in test_walks_chromium's complaint.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from evidence_service.bootstrap import initialize
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.public import complaints as complaints_web
from storage.models import Case, ComplaintReceipt, ComplaintScreening
from tests.fixtures.races import after_each_first_call, run_together
from tests.portal.conftest import csrf_of
from tests.service.conftest import make_settings
from workflow.cases import service

CODE = re.compile(r"/complaints/([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\?new=1(&again=1)?")


@dataclass
class Public:
    services: Services
    client: TestClient

    def form(self) -> dict[str, str]:
        page = self.client.get("/complaints/new").text
        return {
            "csrf": csrf_of(page),
            "shop_name": "某某旗舰店",
            "shop_url": "https://shop.example/complained",
            "title": "页面宣称“最佳”",
            "summary": "2026 年 3 月 1 日，商品页面宣称“全网最佳”。",
            "name": "张三",
            "contact": "13900000000",
        }

    def send(self, form: dict[str, str]) -> tuple[int, str | None, bool]:
        """(status, the receipt code, whether the reply says it was sent before)."""
        r = self.client.post("/complaints", data=form, follow_redirects=False)
        found = CODE.fullmatch(r.headers.get("location", ""))
        return r.status_code, found.group(1) if found else None, bool(found and found.group(2))

    def complaints(self) -> int:
        with self.services.sessions() as session:
            return session.scalar(select(func.count()).select_from(Case)) or 0

    def receipts(self) -> int:
        with self.services.sessions() as session:
            return session.scalar(select(func.count()).select_from(ComplaintReceipt)) or 0


@pytest.fixture
def public(database_url: str, tmp_path: Path) -> Iterator[Public]:
    services = Services(make_settings(tmp_path / "data", database_url=database_url))
    initialize(services)
    app = create_app(services=services)
    with TestClient(app, headers={"Accept-Language": "zh"}, raise_server_exceptions=False) as c:
        yield Public(services, c)
    services.close()


def test_the_form_sent_again_is_one_complaint_with_a_new_code(public: Public) -> None:
    form = public.form()
    status, first, again = public.send(form)
    assert status == 303 and first and not again
    assert public.complaints() == 1
    status, second, again = public.send(form)
    assert status == 303 and second and again
    assert second != first
    assert public.complaints() == 1 and public.receipts() == 1
    page = public.client.get(f"/complaints/{second}?new=1&again=1")
    assert page.status_code == 200 and second in page.text
    assert "没有重复登记" in page.text and "之前显示的查询码已失效" in page.text
    assert public.client.get(f"/complaints/{first}").status_code == 404  # no longer works
    with public.services.sessions() as session:
        screened = session.scalar(select(func.count()).select_from(ComplaintScreening)) or 0
    assert screened == 1  # screened when it arrived, not again


def test_other_words_or_another_session_are_another_complaint(public: Public) -> None:
    form = public.form()
    assert public.send(form)[0] == 303
    changed = {**form, "summary": form["summary"] + "另：页面还宣称“第一”。"}
    status, _code, again = public.send(changed)
    assert status == 303 and not again
    assert public.send(public.form())[2] is True  # the same words, a new form, one session
    other = Public(public.services, TestClient(public.client.app))
    assert other.send(other.form())[2] is False  # the same words from another browser
    assert public.complaints() == 3 and public.receipts() == 3


def test_a_refused_form_corrected_and_sent_twice_is_one_complaint(public: Public) -> None:
    form = {**public.form(), "shop_url": "not a url"}
    page = public.client.post("/complaints", data=form)
    assert page.status_code == 422 and public.complaints() == 0
    fixed = {**form, "shop_url": "https://shop.example/complained"}
    assert public.send(fixed)[2] is False and public.send(fixed)[2] is True
    assert public.complaints() == 1


def test_the_reply_lost_after_the_commit_and_the_retry_gets_a_code_that_works(
    public: Public, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*_args: Any) -> None:
        raise RuntimeError("the process was stopped here")

    monkeypatch.setattr(complaints_web, "screen_arrival", stop)
    form = public.form()
    assert public.send(form)[0] == 500  # the complaint is kept; its reply never came
    monkeypatch.undo()
    status, code, again = public.send(form)
    assert status == 303 and code and again
    assert public.complaints() == 1
    assert public.client.get(f"/complaints/{code}").status_code == 200


def test_two_sends_at_the_same_moment_make_one_complaint(
    public: Public, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both look for the form's key before either has opened the complaint; the partial
    unique index lets one in, and the other answers with it (and a new code)."""
    after_each_first_call(monkeypatch, service, "requested_case")
    form = public.form()
    results, errors = run_together(lambda: public.send(form))
    assert errors == []
    assert sorted(status for status, _, _ in results) == [303, 303]
    assert sorted(again for _, _, again in results) == [False, True]
    assert public.complaints() == 1 and public.receipts() == 1
