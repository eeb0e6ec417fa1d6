"""A request to take a listing down: refused before a decision or an order to correct; sent
after one; confirmed by the platform in its portal, which queues a sealed re-capture of the
listing; the capture (a real one, of a fixture page answering 404) recorded on the case as
the check's result."""

from __future__ import annotations

import time

from sqlalchemy import select

from evidence_service.sealing import housekeeping
from storage.models import Capture, CaseCaptureRequest, CaseEvent, Document, PlatformRequest
from tests.fixtures.site import FixtureSite
from tests.platform.conftest import (
    PLATFORM_A_CODE,
    World,
    api_client,
    officer_client,
    platform_client,
    stated_due_on,
)
from tests.portal.conftest import csrf_of
from tests.service.conftest import run_worker
from workflow import platforms
from workflow.cases import service
from workflow.documents import validate_data


def _body(w: World, url: str) -> dict[str, object]:
    return {
        **stated_due_on("takedown"),
        "kind": "takedown",
        "platform_id": w.platform_a,
        "contact_phone": "020-12345678",
        "listing_url": url,
        "listing_title": "特价蓝牙耳机",
        "reason": "商品页面标示“原价 199 元”，促销前七日内无该价格的成交记录。",
    }


def test_a_takedown_is_confirmed_then_checked_by_a_sealed_recapture(
    world: World, fixture_site: FixtureSite
) -> None:
    api = api_client(world)
    url = fixture_site.url("/item/42-taken-down")
    r = api.post(f"/api/cases/{world.case_id}/platform-requests", json=_body(world, url))
    assert r.status_code == 409 and r.json()["detail"]["code"] == "not_decided"

    service.act(
        world.ctx,
        world.actor(),
        world.case_id,
        "order_correction",
        {
            "correction_due_on": "2099-12-31",
            "facts": "商品页面标示虚构原价。",
            "correction": "删除虚构的原价。",
            "notice_service_method": "direct",
        },
    )
    r = api.post(f"/api/cases/{world.case_id}/platform-requests", json=_body(world, url))
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["state"] == "served" and sent["deadline"]["rule"] == "platform_takedown"
    with world.services.session() as session:
        doc = session.get(Document, sent["document_id"])
        assert doc is not None and doc.merchant_id == world.platform_a
        data = validate_data("takedown_request", doc.data).model_dump(mode="json")
    assert data["listings"] == [{"url": url, "title": "特价蓝牙耳机", "item_id": None}]
    assert data["deadline"] == sent["due_on"]
    assert data["violated_provisions"][0]["rule"] == "中华人民共和国价格法"

    portal = platform_client(world, PLATFORM_A_CODE)
    page = portal.get(f"/platform/requests/{sent['id']}")
    assert page.status_code == 200 and url in page.text
    # A takedown request takes no data upload.
    r = portal.post(
        f"/platform/requests/{sent['id']}/export",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("x.csv", b"a\n", "text/csv")},
    )
    assert r.status_code == 422
    r = portal.post(
        f"/platform/requests/{sent['id']}/takedown",
        data={"csrf": csrf_of(page.text), "note": "已于今日删除该商品链接。"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    again = portal.post(
        f"/platform/requests/{sent['id']}/takedown",
        data={"csrf": csrf_of(page.text), "note": "again"},
    )
    assert again.status_code == 409
    with world.services.session() as session:
        row = session.get(PlatformRequest, sent["id"])
        assert row is not None and row.state == "confirmed" and row.capture_id
        capture_id = row.capture_id
        assert session.get(CaseCaptureRequest, capture_id) is not None

    started = time.monotonic()
    run_worker(world.services, timeout=60)
    took = time.monotonic() - started
    with world.services.session() as session:
        capture = session.get(Capture, capture_id)
        assert capture is not None
        assert capture.status == "stored" and capture.http_status == 404, capture.progress_detail
    assert took < 20, f"the re-capture took {took:.1f} s"
    # the worker's idle work records the result without anyone opening the case
    housekeeping.periodic(world.services)
    with world.services.session() as session:
        row = session.get(PlatformRequest, sent["id"])
        assert row is not None and row.state == "checked" and row.recheck == "not_found"

    listed = api.get(f"/api/cases/{world.case_id}/platform-requests").json()
    mine = next(x for x in listed if x["id"] == sent["id"])
    assert mine["state"] == "checked" and mine["recheck"] == "not_found"
    assert mine["deadline"]["status"] == "met"
    with world.services.session() as session:
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == world.case_id).order_by(CaseEvent.seq)
            )
        )
        session.expunge_all()
    by_action = {e.action: e for e in events}
    assert by_action["platform_takedown_confirmed"].role == "platform"
    assert by_action["platform_takedown_confirmed"].details["recheck_capture"] == capture_id
    checked = by_action["platform_takedown_checked"]
    assert checked.details["result"] == "not_found" and checked.details["http_status"] == 404
    assert checked.details["package_sha256"] == capture.package_sha256
    case_page = officer_client(world).get(f"/cases/{world.case_id}")
    assert 'data-result="not_found"' in case_page.text


def _capture(status: str, http: int | None, final: str | None) -> Capture:
    return Capture(
        status=status,
        http_status=http,
        requested_url="https://shop.example.com/item/42",
        final_url=final,
    )


def test_what_a_recapture_shows() -> None:
    url = "https://shop.example.com/item/42"
    assert platforms.recheck_result(_capture("stored", 200, url)) == "still_there"
    assert platforms.recheck_result(_capture("stored", 404, url)) == "not_found"
    assert platforms.recheck_result(_capture("stored", 410, url)) == "not_found"
    assert platforms.recheck_result(_capture("stored", 500, url)) == "gone"
    assert platforms.recheck_result(_capture("stored", 200, "https://shop.example.com/")) == "gone"
    assert platforms.recheck_result(_capture("failed", None, None)) == "gone"
    assert platforms.recheck_result(_capture("loading", None, None)) is None
