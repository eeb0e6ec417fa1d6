"""Redaction of personal data before publication (redaction.toml): one test per pattern, the
names of natural persons, and properties over arbitrary text: no mobile number and no resident
ID number survives, whatever surrounds it."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.redaction import load_rules, mask_name, redact, rules

ID = "[身份证号码已隐去]"
MOBILE = "[手机号码已隐去]"
PHONE = "[电话号码已隐去]"
ADDRESS = "[详细地址已隐去]"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("王小明", "王**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("李", "李"),
    ],
)
def test_names_keep_the_surname_only(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 18-digit resident ID numbers, with an X check character too
        ("身份证号码：110101199003071234。", f"身份证号码：{ID}。"),
        ("证件 44030119851231002X 已核验", f"证件 {ID} 已核验"),
        ("４４０３０１１９８５１２３１００２Ｘ", ID),  # full-width
        # mobile numbers: plain, grouped, with +86, next to Chinese text
        ("手机13912345678联系", f"手机{MOBILE}联系"),
        ("电话 139 1234 5678，", f"电话 {MOBILE}，"),
        ("+86 139-1234-5678", MOBILE),
        ("８６１３９１２３４５６７８", MOBILE),
        # landlines: with an area code (any form), or labelled as a phone
        ("联系电话0755-86001234转801。", f"联系电话{PHONE}。"),
        ("（020）87654321", PHONE),
        ("电话 020 8765 4321", f"电话 {PHONE}"),
        ("座机：87654321", f"座机：{PHONE}"),
        # a name after a label, even when the case did not know it
        ("法定代表人：王小明，男", "法定代表人：王**，男"),
        ("经营者：欧阳娜娜。", "经营者：欧阳**。"),
        # addresses keep the district
        ("住所：广州市天河区某某路1号", f"住所：广州市天河区{ADDRESS}"),
        ("北京市朝阳区建国路88号SOHO现代城5号楼1001室", f"北京市朝阳区{ADDRESS}"),
        ("浙江省杭州市西湖区文三路 90 号，", f"浙江省杭州市西湖区{ADDRESS}，"),
        ("某某县某某镇某某村3组15号", f"某某县{ADDRESS}"),
        ("深圳市科技园路1号A栋1001室", f"深圳市{ADDRESS}"),  # no district: keep the city
        # what is not personal data stays
        ("罚款5000元，没收违法所得3200元", "罚款5000元，没收违法所得3200元"),
        (
            "于2026-11-03作出决定，订单号2024138001380001",
            "于2026-11-03作出决定，订单号2024138001380001",
        ),
        ("统一社会信用代码9144030071526726XG", "统一社会信用代码9144030071526726XG"),
    ],
)
def test_each_pattern(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_names_are_masked_wherever_they_occur() -> None:
    text = "当事人张三丰在网店销售假冒商品，张三丰对违法事实无异议。"
    assert redact(text, names=["张三丰"]) == "当事人张**在网店销售假冒商品，张**对违法事实无异议。"


def test_the_rules_are_data_and_name_their_source() -> None:
    r = rules()
    assert {x.id for x in r.redactions} >= {"resident_id", "mobile", "landline"}
    assert r.source["name_zh"] == "市场监督管理行政处罚信息公示规定"
    assert r.source["confirmed"] is False  # for legal staff to confirm
    assert load_rules() == r


def _plain(text: str) -> str:
    """An independent view for the check: NFKC, then every Unicode decimal digit as ASCII."""
    norm = unicodedata.normalize("NFKC", text)
    return "".join(
        str(unicodedata.decimal(c)) if unicodedata.decimal(c, None) is not None else c for c in norm
    )


_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

mobiles = st.builds(
    lambda prefix, second, rest, sep, grouped: (
        prefix
        + (f"1{second}{rest[0]}{sep}{rest[1:5]}{sep}{rest[5:]}" if grouped else f"1{second}{rest}")
    ),
    st.sampled_from(["", "+86", "+86 ", "86", "0086-"]),
    st.sampled_from("3456789"),
    st.text("0123456789", min_size=9, max_size=9),
    st.sampled_from([" ", "-"]),
    st.booleans(),
)
#: What may stand between a number and the text around it (not a digit).
separators = st.sampled_from([" ", "，", "：", "电话", "手机", "\n", "（", "）", "a", "号"])


@given(st.lists(st.tuples(st.text(max_size=30), separators, mobiles, separators), max_size=6))
def test_no_mobile_number_survives(parts: list[tuple[str, str, str, str]]) -> None:
    text = "".join(f"{before}{a}{number}{b}" for before, a, number, b in parts)
    out = redact(text)
    assert not _MOBILE.search(_plain(out)), out
    for _, _, number, _ in parts:
        digits = re.sub(r"\D", "", number)[-11:]
        assert digits not in re.sub(r"[ \-]", "", _plain(out)), (number, out)


resident_ids = st.builds(
    lambda area, y, m, d, seq, check: f"{area}{y}{m:02d}{d:02d}{seq}{check}",
    st.text("0123456789", min_size=6, max_size=6).filter(lambda s: s[0] != "0"),
    st.integers(1900, 2025),
    st.integers(1, 12),
    st.integers(1, 28),
    st.text("0123456789", min_size=3, max_size=3),
    st.sampled_from("0123456789X"),
)


@given(st.lists(st.tuples(st.text(max_size=30), separators, resident_ids, separators), max_size=4))
def test_no_resident_id_number_survives(parts: list[tuple[str, str, str, str]]) -> None:
    text = "".join(f"{before}{a}{number}{b}" for before, a, number, b in parts)
    out = redact(text)
    for _, _, number, _ in parts:
        assert number.upper() not in _plain(out).upper(), out
