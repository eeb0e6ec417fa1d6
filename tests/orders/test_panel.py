"""The case page's order-data panel over HTTP: the extract button for each sealed capture,
the proposals with their pointers, the form that confirms and corrects, and the facts the
case then holds, in Chinese and English."""

from __future__ import annotations

import re

from .conftest import World
from .warcs import URLS


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _panel(html: str) -> str:
    """The orders section of the case page (other rooms' panels are theirs to test)."""
    start = html.index('<section aria-labelledby="orders-h"')
    return html[start : html.index("</section>", start)]


def test_the_panel_extracts_and_records_through_the_page(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"taobao": URLS["taobao"]})
    client = world.login("wang")
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert '<section aria-labelledby="orders-h" id="orders"' in page.text
    assert f'id="orders-extract-{capture_id}"' in page.text and "提取订单数据" in page.text
    assert 'id="orders-proposals"' not in page.text  # nothing read until asked

    page = client.get(f"/cases/{case_id}", params={"orders": capture_id})
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr id="proposal-([0-9a-f]+)" data-field="([a-z_]+)">', page.text))
    assert sorted(rows.values()) == sorted(
        ["order_number", "item", "price_paid", "order_time", "seller", "buyer_account"]
    )
    panel = _panel(page.text)
    assert "1299.00 CNY" in panel and "¥1,299.00" in panel
    assert "tb_buyer2026" not in panel and "t**********6" in panel
    ids = {field: pid for pid, field in rows.items()}
    form = {
        "csrf": _csrf(page.text),
        "capture_id": capture_id,
        f"decision:{ids['order_number']}": "confirm",
        f"decision:{ids['price_paid']}": "correct",
        f"value:{ids['price_paid']}": "¥1,199.00",
        f"decision:{ids['item']}": "",  # not now
    }
    r = client.post(f"/cases/{case_id}/order-facts", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("orders_done=1#orders")
    page = client.get(r.headers["location"])
    panel = _panel(page.text)
    confirmed = panel[panel.index('id="orders-confirmed"') :]
    assert "1199.00 CNY" in confirmed and "1299.00 CNY" in confirmed  # corrected, and what was read
    assert "341720958830122658" in confirmed and "无线蓝牙耳机" not in confirmed
    assert "订单数据已记入案件日志" in page.text and "确认订单数据" in page.text  # the timeline

    # a correction without a value comes back with the reason
    form = {"csrf": _csrf(page.text), "capture_id": capture_id,
            f"decision:{ids['seller']}": "correct", f"value:{ids['seller']}": " "}  # fmt: skip
    r = client.post(f"/cases/{case_id}/order-facts", data=form, follow_redirects=True)
    assert r.status_code == 200 and 'id="orders-error"' in r.text and "更正需要" in r.text

    english = world.login("wang", "en").get(f"/cases/{case_id}", params={"orders": capture_id})
    assert "Extract order data" in english.text and "Confirmed order data" in english.text
    assert "Price paid" in english.text


def test_an_officer_not_on_the_case_sees_proposals_but_no_form(world: World) -> None:
    case_id, capture_id = world.case_with_capture({"plain": URLS["plain"]})
    page = world.login("zhao").get(f"/cases/{case_id}", params={"orders": capture_id})
    assert page.status_code == 200 and 'id="orders-proposals"' in page.text
    assert 'id="orders-submit"' not in page.text and "只有本案的办案人员" in page.text
