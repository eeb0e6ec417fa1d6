"""The pieces a screening is made of, on hand-made inputs: folding and the text keys, the
similarity, the identifiers a complaint gives (and those it must not be taken to give), the
purchase date, the rules file and a fact's strength."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from workflow.screening import text
from workflow.screening.identifiers import identifiers_of, name_key, valid_id_number
from workflow.screening.purchase import purchase_date
from workflow.screening.rules import DEFAULT_RULES, RulesError, load_rules, parse_rules

TEMPLATE = (
    "本人于2026年3月1日在甲店购买了蜂蜜2件，共支付128元。收到商品后发现该产品无中文标签，"
    "违反了《中华人民共和国食品安全法》第三十四条的规定。要求商家退一赔十，并请贵局依法查处。"
)
EDITED = (
    "我于2026年2月11日在乙店买了燕窝5件，共支付960元. 收货后发现该产品无中文标签,"
    "违反了《中华人民共和国食品安全法》第六十七条的规定。请求经营者退一赔十，并请贵局依法处理。"
)
ORDINARY = "前几天在网上丙店买的羽绒服，质量很差，穿了两天就开线了，客服一直不回复，希望商家退款。"
WORDS = ["购买", "下单", "买了", "拍下"]


def test_folding_drops_what_a_refilled_template_changes() -> None:
    assert text.fold("２０２６年３月１日，在 ＡＢＣ店！") == "0年0月0日在abc店"
    assert text.fold("订单号1234567890123456。") == text.fold("订单号 42")


def test_an_edited_template_is_similar_and_shares_keys_an_unrelated_text_does_not() -> None:
    a, b, c = text.fold(TEMPLATE), text.fold(EDITED), text.fold(ORDINARY)
    assert text.similarity(a, b) >= 80
    assert text.similarity(a, c) < 40
    keys_a, keys_b, keys_c = (set(text.text_keys(x)) for x in (a, b, c))
    assert len(keys_a) == text.KEYS
    assert len(keys_a & keys_b) >= text.MIN_SHARED
    assert len(keys_a & keys_c) < text.MIN_SHARED
    assert text.text_keys("短") == []


def test_phones_come_from_the_contact_not_from_the_text() -> None:
    found = identifiers_of(
        "+86 139-1234-5678，备用 010-88886666，Zhang.San@Example.cn",
        "商家电话13700000000，我的地址：示例市东湖区建设路1号2栋301室",
    )
    assert found.phones == ("13912345678", "01088886666")
    assert found.emails == ("zhang.san@example.cn",)
    assert found.addresses == ()  # 地址 alone labels no address of the complainant's
    assert identifiers_of("", "收货地址：示例市东湖区 建设路1号2栋301室。").addresses == (
        "示例市东湖区建设路1号2栋301室",
    )


def test_an_id_number_counts_only_with_its_check_digit() -> None:
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")
    found = identifiers_of("", "身份证号：11010519491231002X，订单号110105194912310021")
    assert found.id_numbers == ("11010519491231002X",)
    assert name_key(" 张 三 ") == "张三" and name_key("") is None


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("本人于2026年3月1日在甲店购买了蜂蜜", date(2026, 3, 1)),
        ("下单时间：2026-02-27，收到后", date(2026, 2, 27)),
        ("12月30日拍下一件，", date(2025, 12, 30)),  # no year: the one before arrival
        ("3月1日到货，发现有问题", None),  # a date, but not of buying
        ("2026年2月30日购买", None),  # no such day
    ],
)
def test_the_purchase_date_is_the_date_next_to_a_purchase_word(
    said: str, expected: date | None
) -> None:
    assert purchase_date(said, date(2026, 3, 2), WORDS) == expected


def test_the_rules_file_is_checked_and_versioned(tmp_path: Path) -> None:
    rules = load_rules(DEFAULT_RULES)
    assert rules.label.startswith("1+") and len(rules.sha256) == 64
    assert "退一赔三" in rules["compensation_demand"].extra["keywords"]
    raw = DEFAULT_RULES.read_bytes()
    with pytest.raises(RulesError, match=r"\[near_duplicate_text\] needs min_similarity"):
        parse_rules(raw.replace(b"min_similarity = 70\n", b""), "r.toml")
    with pytest.raises(RulesError, match=r"r\.toml: unknown tables repeat"):
        parse_rules(raw + b"\n[repeat]\nweight = 1\n", "r.toml")
    with pytest.raises(RulesError, match="cannot read the screening rules"):
        load_rules(tmp_path / "missing.toml")


def test_a_fact_grows_from_its_minimum_to_full_strength() -> None:
    rule = load_rules()["repeat_complainant"]  # min 4, full at 10
    assert [rule.strength(n) for n in (3, 4, 10, 20)] == [0.0, 1 / 7, 1.0, 1.0]
