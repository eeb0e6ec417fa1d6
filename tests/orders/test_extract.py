"""Order facts read from real WARCs (written with warcio from the fixture pages): each platform
layout and the generic readers (JSON-LD, microdata, visible labels) give the right values,
normalised; every fact's pointer leads back to its record and text; the buyer's account is
redacted; the rules table refuses what it cannot run."""

from __future__ import annotations

import io

import pytest

from capture.order_facts import OrderPage, extract_order_facts, read_record_payload
from capture.order_rules import (
    LAYOUTS_PATH,
    NormaliseError,
    OrderRulesError,
    default_rules,
    parse_rules,
    redact_account,
)
from tests.fixtures.order_pages import NAMES, order_page

from .warcs import URLS, write_warc

EXPECTED = {
    "taobao": {
        "order_number": "341720958830122658",
        "item": "无线蓝牙耳机 Pro 降噪版",
        "price_paid": "1299.00 CNY",
        "order_time": "2026-03-02T14:05:33+08:00",
        "seller": "测试旗舰店",
        "buyer_account": "t**********6",
    },
    "jd": {
        "order_number": "280012345678",
        "item": "智能电饭煲 4L 家用",
        "price_paid": "459.00 CNY",
        "order_time": "2026-03-05T09:12:00+08:00",
        "seller": "京选电器专营店",
        "buyer_account": "j*********d",
    },
    "plain": {
        "order_number": "NX-20260311-0042",
        "item": "儿童益智积木 200 粒",
        "price_paid": "89.90 CNY",
        "order_time": "2026-03-11T20:31:00+08:00",
        "seller": "小熊玩具店",
        "buyer_account": "w***********8",
    },
    "jsonld": {
        "order_number": "SO-77812",
        "item": "Trekking tent 2P",
        "price_paid": "2399.00 CNY",
        "order_time": "2026-03-08T10:15:00+08:00",  # 02:15Z is 10:15 in Beijing
        "seller": "Example Outdoor Store",
        "buyer_account": "h********u",
    },
    "microdata": {
        "order_number": "MD-8890",
        "item": "明前龙井 250g",
        "price_paid": "368.00 CNY",
        "order_time": "2026-02-27T18:40:00+08:00",
        "seller": "山野茶庄",
    },
}
METHODS = {
    "taobao": "layout:taobao",
    "jd": "layout:jd",
    "plain": "label",
    "jsonld": "json-ld",
    "microdata": "microdata",
}
#: The buyer's account as the page shows it (what must never leave the WARC unredacted).
ACCOUNTS = {"taobao": "tb_buyer2026", "jd": "jd_0a1b2c3d", "plain": "wxid_mother88",
            "jsonld": "hiker_zhou"}  # fmt: skip


@pytest.fixture(scope="module")
def warc() -> bytes:
    return write_warc(dict(URLS))


@pytest.fixture(scope="module")
def pages(warc: bytes) -> dict[str, OrderPage]:
    found = extract_order_facts(io.BytesIO(warc))
    by_url = {p.record.target_uri: p for p in found}
    assert set(by_url) == set(URLS.values())  # the CSS and image records give nothing
    return {name: by_url[url] for name, url in URLS.items()}


def test_there_are_fixture_pages_of_each_kind() -> None:
    assert set(NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_layout_and_reader_gives_the_right_values(
    pages: dict[str, OrderPage], name: str
) -> None:
    page = pages[name]
    assert {f.field: f.value for f in page.facts} == EXPECTED[name]
    assert {f.method for f in page.facts} == {METHODS[name]}
    assert page.layout == (name if name in ("taobao", "jd") else None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_pointer_leads_to_its_record_and_text(
    warc: bytes, pages: dict[str, OrderPage], name: str
) -> None:
    """Seek to the offset in the WARC file, read one record: it is the one named, its target
    the page, and the payload bytes of the span are the text (the GBK page in GBK)."""
    charset = order_page(name).charset
    stream = io.BytesIO(warc)
    for fact in pages[name].facts:
        record_id, payload = read_record_payload(stream, fact.record.offset)
        assert record_id == fact.record.record_id
        assert fact.record.target_uri == URLS[name]
        assert fact.span is not None, fact
        text = payload[fact.span[0] : fact.span[1]].decode(charset)
        if fact.field == "buyer_account":
            assert text == ACCOUNTS[name]
        else:
            assert text == fact.source_text
        # the record ends where the pointer says: the next bytes start another gzip member
        end = fact.record.offset + fact.record.length
        assert warc[fact.record.offset : fact.record.offset + 2] == b"\x1f\x8b"
        assert warc[end : end + 2] == b"\x1f\x8b"


def test_the_buyer_account_is_redacted_everywhere_but_in_the_warc(
    pages: dict[str, OrderPage],
) -> None:
    for name, account in ACCOUNTS.items():
        fact = pages[name].fact("buyer_account")
        assert fact is not None
        assert fact.value == fact.source_text == account[0] + "*" * (len(account) - 2) + account[-1]
        assert account not in repr(pages[name].facts)
    assert redact_account("ab") == "a*" and redact_account("王") == "王*"
    assert redact_account(" 张三丰 ") == "张*丰"


def test_a_layout_applies_by_its_marker_on_another_host() -> None:
    """The Taobao page served from a mirror host (or the fixture shop) is still read by its
    layout: the marker element identifies it."""
    warc = write_warc({"taobao": "http://127.0.0.1:8123/orders/taobao"}, noise=False)
    (page,) = extract_order_facts(io.BytesIO(warc))
    assert page.layout == "taobao"
    assert page.fact("price_paid") is not None
    assert page.fact("price_paid").method == "layout:taobao"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("price_paid", "¥1,299.00", "1299.00 CNY"),
        ("price_paid", "￥ 12", "12.00 CNY"),
        ("price_paid", "89.9 元", "89.90 CNY"),
        ("price_paid", "US$5.5", "5.50 USD"),
        ("order_time", "2026-03-02 14:05:33", "2026-03-02T14:05:33+08:00"),
        ("order_time", "2026/3/5 9:12", "2026-03-05T09:12:00+08:00"),
        ("order_time", "2026年3月11日 20:31", "2026-03-11T20:31:00+08:00"),
        ("order_time", "2026-03-08T02:15:00Z", "2026-03-08T10:15:00+08:00"),
        ("order_number", "3417 2095 88", "3417209588"),
        ("buyer_account", "tb_buyer2026", "t**********6"),
    ],
)
def test_normalisation(field: str, text: str, value: str) -> None:
    assert default_rules().normalise(field, text) == value


@pytest.mark.parametrize(
    ("field", "text"),
    [("price_paid", "免费"), ("order_time", "昨天"), ("order_time", "2026-02-30 10:00"),
     ("seller", "   ")],
)  # fmt: skip
def test_values_that_cannot_be_read_are_refused(field: str, text: str) -> None:
    with pytest.raises(NormaliseError):
        default_rules().normalise(field, text)


BASE = """
[fields]
order_number = "code"
item = "text"
price_paid = "money"
order_time = "time"
seller = "text"
buyer_account = "account"
"""


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('[[layout]]\nname = "x"\n[layout.fields]\nitem = [{ css = "a:hover" }]', "x.item[0]"),
        ('[[layout]]\nname = "y"\n[layout.fields]\nitem = [{ xpath = "//[" }]', "y.item[0]"),
        ('[[layout]]\nname = "z"\n[layout.fields]\nprice = [{ css = "a" }]', "no field 'price'"),
        ('[[layout]]\nname = "w"\n[layout.fields]\nitem = [{ regex = "a" }]', "w.item[0]"),
    ],
)
def test_the_rules_table_names_a_rule_it_cannot_run(extra: str, named: str) -> None:
    with pytest.raises(OrderRulesError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(BASE + extra)
    parse_rules(BASE)  # the base alone is fine


def test_a_changed_rule_in_the_table_changes_what_is_read(warc: bytes) -> None:
    """The rules are data: a table that reads the Taobao page's item from another element."""
    shipped = LAYOUTS_PATH.read_text(encoding="utf-8")
    changed = shipped.replace(
        '{ css = "#J_TradeDetail .item-list .item-title a" }',
        '{ css = "#J_TradeDetail .item-list td.price" }',
    )
    assert changed != shipped
    rules = parse_rules(changed)
    pages = extract_order_facts(io.BytesIO(warc), rules)
    taobao = next(p for p in pages if p.layout == "taobao")
    assert taobao.fact("item").value == "¥1,399.00"  # type: ignore[union-attr]
