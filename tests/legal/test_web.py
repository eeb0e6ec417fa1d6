"""The legal room over HTTP: the case page's panel (ranked on ticked facts and on the text of a
sealed capture's WARC), choosing from the panel's form, the REST API, and the catalogue page
with its edit form for legal staff only."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from evidence_service.sealing.page_text import case_page_text
from evidence_service.security import hash_token, new_api_token
from storage.models import ApiToken, Capture, CaseEvent
from tests.legal.conftest import World
from tests.portal.conftest import csrf_of
from workflow.cases import service
from workflow.legal.choice import EVENT

SHOP = "https://shop.example.com/store/1"
HTML = (
    "<html><head><title>某某旗舰店</title><script>var x='营业执照';</script></head>"
    "<body><h1>爆款蓝牙耳机</h1><p>好评返现5元！五星好评晒图返现</p></body></html>"
).encode()


def _package(tmp_path: Path) -> Path:
    warc = io.BytesIO()
    writer = WARCWriter(warc, gzip=True)
    headers = StatusAndHeaders(
        "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
    )
    writer.write_record(
        writer.create_warc_record(SHOP, "response", payload=io.BytesIO(HTML), http_headers=headers)
    )
    path = tmp_path / "package.wacz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.warc.gz", warc.getvalue())
    return path


def _case_with_capture(w: World, tmp_path: Path) -> str:
    case_id = w.open_case("好评返现")
    stored = w.services.store.put_file(_package(tmp_path))
    with w.services.session() as session:
        cap = Capture(
            requested_url=SHOP,
            final_url=SHOP,
            status="stored",
            title="某某旗舰店",
            package_key=stored.key,
            package_sha256=stored.sha256,
            created_by_id=w.ids["wang"],
        )
        session.add(cap)
        session.flush()
        capture_id = cap.id
    service.add_evidence(
        w.ctx, w.actor("wang"), case_id, kind="capture", file_name="package.wacz",
        sha256=stored.sha256, capture_id=capture_id, object_key=stored.key,
    )  # fmt: skip
    return case_id


def test_the_page_text_is_read_from_the_sealed_warc(world: World, tmp_path: Path) -> None:
    case_id = _case_with_capture(world, tmp_path)
    text = case_page_text(world.services, case_id)
    assert "好评返现5元" in text and "爆款蓝牙耳机" in text
    assert "营业执照" not in text  # scripts are not page text


def test_the_panel_ranks_on_the_capture_and_records_the_choice(
    world: World, tmp_path: Path
) -> None:
    w = world
    case_id = _case_with_capture(w, tmp_path)
    client = w.login("wang")
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert 'aria-labelledby="legal-h"' in page.text
    assert 'id="legal-s-fake_reviews"' in page.text
    assert "好评返现" in page.text and "待法制审核确认" in page.text
    first = page.text.index('id="legal-s-')
    assert page.text[first:].startswith('id="legal-s-fake_reviews"')
    # ticking a fact re-ranks
    ticked = client.get(
        f"/cases/{case_id}", params={"legal": "1", "fact": "no_business_licence_shown"}
    )
    first = ticked.text.index('id="legal-s-')
    assert ticked.text[first:].startswith('id="legal-s-business_licence_not_displayed"')
    # a departure without a reason comes back with the error and keeps nothing
    form = {
        "csrf": csrf_of(page.text),
        "entry": "seven_day_return_refused",
        "band": "",
        "amount": "",
        "reason": "",
    }
    r = client.post(f"/cases/{case_id}/legal-basis", data=form, follow_redirects=False)
    assert r.status_code == 303 and "legal_error=reason" in r.headers["location"]
    back = client.get(r.headers["location"])
    assert 'id="legal-error"' in back.text and "偏离推送须填写理由" in back.text
    r = client.post(
        f"/cases/{case_id}/legal-basis",
        data={**form, "entry": "fake_reviews", "amount": "500000"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "legal_done=1" in r.headers["location"]
    with w.services.session() as session:
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == EVENT)
        ).one()
        assert (
            event.details["entry"] == "fake_reviews" and event.details["amount_fen"] == 500_000_00
        )
        assert event.details["suggested"][0]["reasons"][0]["kind"] == "keyword"
    shown = client.get(f"/cases/{case_id}")
    assert 'id="legal-chosen"' in shown.text and "选定法律依据与裁量" in shown.text  # the timeline


def _token(w: World, key: str) -> dict[str, str]:
    token = new_api_token()
    with w.services.session() as session:
        session.add(ApiToken(user_id=w.ids[key], name="t", token_hash=hash_token(token)))
    return {"Authorization": f"Bearer {token}"}


def test_the_api_suggests_chooses_and_serves_the_catalogue(world: World, tmp_path: Path) -> None:
    w = world
    case_id = _case_with_capture(w, tmp_path)
    client = w.login("wang")
    wang, bob, rev = _token(w, "wang"), _token(w, "bob"), _token(w, "rev")
    url = f"/api/cases/{case_id}/legal-suggestions"
    r = client.get(
        url, params={"fact": ["return_refused"], "amount_illegal_income_yuan": "1000"}, headers=wang
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["suggestions"][0]["entry"] == "seven_day_return_refused"
    assert body["suggestions"][0]["min_fen"] == 3000_00  # ordinary: 3x-6x of 1,000 yuan
    assert body["page_text_chars"] > 0 and body["catalogue"]["version"] >= 1
    assert client.get(url, params={"fact": ["nonsense"]}, headers=wang).status_code == 422
    assert client.get(url, headers=bob).status_code == 404  # another unit's case
    post = f"/api/cases/{case_id}/legal-basis"
    choice = {
        "entry": "fake_reviews",
        "facts": ["return_refused"],
        "amounts_yuan": {"illegal_income_yuan": "1000"},
    }
    r = client.post(post, json=choice, headers=wang)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "reason"
    assert client.post(post, json={**choice, "reason": "x"}, headers=rev).status_code == 403
    r = client.post(post, json={**choice, "reason": "证据显示系刷单而非拒绝退货"}, headers=wang)
    assert r.status_code == 201, r.text
    assert r.json()["chosen"]["departs"] == ["entry"]
    assert client.get(url, headers=wang).json()["chosen"]["entry"] == "fake_reviews"
    cat = client.get("/api/legal/catalogue", headers=wang).json()
    assert cat["current"]["catalogue"]["entry"][0]["id"] == "false_commercial_publicity"
    assert cat["history"][-1]["version"] == 1
    assert (
        client.get("/api/legal/catalogue", params={"version": 999}, headers=wang).status_code == 404
    )


def test_the_catalogue_page_and_its_edit_form_for_legal_staff_only(world: World) -> None:
    w = world
    officer = w.login("wang", "en")
    page = officer.get("/legal")
    assert page.status_code == 200 and "awaiting legal staff" in page.text
    assert 'id="edit-fake_reviews"' not in page.text
    assert officer.get("/legal/entries/fake_reviews").status_code == 403
    legal = w.login("fa")
    page = legal.get("/legal")
    assert 'id="edit-fake_reviews"' in page.text
    form_page = legal.get("/legal/entries/fake_reviews")
    assert form_page.status_code == 200 and 'name="mild_max"' in form_page.text
    fields = re.findall(r'name="([a-z_]+)" value="([^"]*)"', form_page.text)
    fields += re.findall(r'name="([a-z_]+)" rows="\d">([^<]*)</textarea>', form_page.text)
    data = {k: html.unescape(v) for k, v in fields if k != "confirmed"}
    data["mild_max"] = "300000"
    data["ordinary_min"] = "300000"
    r = legal.post("/legal/entries/fake_reviews", data={**data, "reason": ""})
    assert r.status_code == 422 and "reason" in r.text
    before = legal.get("/api/legal/catalogue").json()["current"]["version"]
    r = legal.post(
        "/legal/entries/fake_reviews",
        data={**data, "reason": "调整从轻幅度", "confirmed": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    after = legal.get("/api/legal/catalogue").json()
    assert after["current"]["version"] == before + 1
    assert (
        after["history"][0]["entry_id"] == "fake_reviews"
        and after["history"][0]["reason"] == "调整从轻幅度"
    )
    entry = next(e for e in after["current"]["catalogue"]["entry"] if e["id"] == "fake_reviews")
    assert entry["bands"]["mild"]["max_yuan"] == 300000 and entry["needs_confirmation"] is False
    old = legal.get("/api/legal/catalogue", params={"version": before}).json()["current"][
        "catalogue"
    ]
    assert (
        next(e for e in old["entry"] if e["id"] == "fake_reviews")["bands"]["mild"]["max_yuan"]
        == 400000
    )
