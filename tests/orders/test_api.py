"""The order-data REST API: extract (proposals with their pointers, nothing kept) and
confirm/correct (one event), with the access rules of ``/api/cases``."""

from __future__ import annotations

from .conftest import World, fields_of
from .warcs import URLS


def test_extract_then_confirm_and_correct_through_the_api(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"jd": URLS["jd"], "jsonld": URLS["jsonld"]})
    path = f"/api/cases/{case_id}/captures/{capture_id}/order-facts"
    before = world.client.get(f"/api/cases/{case_id}", headers=world.h("wang")).json()
    r = world.client.post(path, headers=world.h("wang"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["capture_id"] == capture_id and len(body["proposals"]) == 12  # 2 pages x 6
    jd = [p for p in body["proposals"] if p["source"]["target_uri"] == URLS["jd"]]
    props = fields_of(jd)
    assert props["price_paid"]["value"] == "459.00 CNY"
    assert props["price_paid"]["source_text"] == "￥459.00"
    src = props["price_paid"]["source"]
    assert src["record_id"].startswith("<urn:uuid:") and src["offset"] > 0 and src["length"] > 0
    assert src["warc_path"] == "archive/data.warc.gz" and len(src["span"]) == 2
    after = world.client.get(f"/api/cases/{case_id}", headers=world.h("wang")).json()
    assert len(after["events"]) == len(before["events"])  # extracting keeps nothing

    r = world.client.post(
        f"/api/cases/{case_id}/order-facts",
        json={
            "capture_id": capture_id,
            "facts": [
                {"proposal": props["order_number"]["id"], "decision": "confirm"},
                {"proposal": props["seller"]["id"], "decision": "correct", "value": "京选电器"},
            ],
        },
        headers=world.h("wang"),
    )
    assert r.status_code == 201, r.text
    recorded = fields_of(r.json()["facts"])
    assert recorded["seller"]["extracted"] == "京选电器专营店"
    assert recorded["seller"]["corrected"] == "京选电器"
    assert recorded["order_number"]["source"]["offset"] == props["order_number"]["source"]["offset"]
    case = world.client.get(f"/api/cases/{case_id}", headers=world.h("wang")).json()
    assert case["events"][-1]["action"] == "confirm_order_facts"
    assert case["events"][-1]["seq"] == r.json()["event_seq"]

    bad = world.client.post(
        f"/api/cases/{case_id}/order-facts",
        json={"capture_id": capture_id, "facts": [
            {"proposal": props["item"]["id"], "decision": "correct"}]},
        headers=world.h("wang"),
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "value"


def test_access(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"plain": URLS["plain"]})
    path = f"/api/cases/{case_id}/captures/{capture_id}/order-facts"
    assert world.client.post(path).status_code == 401
    # another unit's officer: the case does not exist for them
    stranger = world.client.post(path, headers=world.h("bob"))
    assert stranger.status_code == 404 and stranger.json()["detail"]["code"] == "not_found"
    # an officer of the unit not on the case may read the evidence but not record facts
    props = fields_of(world.client.post(path, headers=world.h("zhao")).json()["proposals"])
    decide = {"capture_id": capture_id,
              "facts": [{"proposal": props["item"]["id"], "decision": "confirm"}]}  # fmt: skip
    r = world.client.post(f"/api/cases/{case_id}/order-facts", json=decide, headers=world.h("zhao"))
    assert r.status_code == 403 and r.json()["detail"]["code"] == "not_staffed"
    # a capture that is not the case's evidence
    _, elsewhere = world.case_with_capture({"plain": URLS["plain"]})
    other = world.client.post(
        f"/api/cases/{case_id}/captures/{elsewhere}/order-facts", headers=world.h("wang")
    )
    assert other.status_code == 404 and other.json()["detail"]["code"] == "not_evidence"
    r = world.client.post(
        f"/api/cases/{case_id}/order-facts",
        json={**decide, "capture_id": elsewhere},
        headers=world.h("wang"),
    )
    assert r.status_code == 404, r.text
