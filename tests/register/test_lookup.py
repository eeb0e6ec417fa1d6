"""Looking up the operator: shop URLs normalised by the rules in urls.toml, look-up by each
key (shop URL, shop id, credit code, name exact/prefix/substring), the party's record and
first violation; and the same look-up on PostgreSQL (its upsert and LIKE differ)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Case, CaseParty, PublicityEntry, Unit
from tests.register.conftest import code, sessions_for, write_csv, wrong_check
from workflow.register import import_file, lookup, party_record, shop_key

ROWS = (
    f"深圳市某某网络科技有限公司,{code(1)},张三,深圳市南山区,https://shop101.taobao.com/,,,",
    f"深圳市某某网络科技有限公司二店,{code(2)},张三,深圳市南山区,https://mall.jd.com/index-202.html,,,",
    f"杭州好物电子商务有限公司,{code(3)},李四,杭州市,https://mobile.yangkeduo.com/mall_page.html?mall_id=303,,,",
    f"华为终端有限公司,{code(4)},王五,东莞市,,,,",
    f"某某百货商行,{code(5)},赵六,宁波市,https://example-shop.cn/store/55?utm_source=x,自营,SHOP-55,",
)


@pytest.mark.parametrize(
    ("pasted", "key"),
    [
        ("https://shop101.taobao.com/", "shop101.taobao.com"),
        ("http://WWW.Shop101.TaoBao.com", "shop101.taobao.com"),
        ("shop101.taobao.com/?spm=a1z10.1-c&utm_source=wechat&scm=1", "shop101.taobao.com"),
        ("https://shop101.taobao.com:443/index.htm#top", "shop101.taobao.com"),
        ("https://m.taobao.com/shop?id=9&b=2&a=1", "taobao.com/shop?a=1&b=2&id=9"),
        ("https://mall.jd.com/index-202.html?from=pc", "mall.jd.com/index-202.html"),
        ("https://shop.m.jd.com/?shopId=202", "mall.jd.com?shopId=202"),
    ],
)
def test_shop_urls_are_normalised_by_the_rules(pasted: str, key: str) -> None:
    assert shop_key(pasted).key == key


def test_the_platform_and_shop_id_are_read_from_the_url() -> None:
    assert (shop_key("shop101.taobao.com").platform, shop_key("shop101.taobao.com").shop_id) == (
        "淘宝",
        "101",
    )
    jd = shop_key("https://shop.m.jd.com/?shopId=202")
    assert (jd.platform, jd.shop_id) == ("京东", "202")
    assert shop_key("https://unknown.example/s/1").platform is None
    with pytest.raises(ValueError, match="not an http"):
        shop_key("ftp://shop.example/a")
    with pytest.raises(ValueError, match="no host name"):
        shop_key("javascript:alert(1)")


@pytest.fixture
def filled(tmp_path: Path, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    import_file(sessions, write_csv(tmp_path / "r.csv", *ROWS), imported_by="t")
    return sessions


def found(sessions: sessionmaker[Session], q: str) -> list[tuple[str, str]]:
    with sessions() as s:
        return [(m.name, m.matched_by) for m in lookup(s, q).matches]


def test_lookup_by_each_key(filled: sessionmaker[Session]) -> None:
    s = filled
    # a pasted shop URL, however it was copied
    assert found(s, "http://www.shop101.taobao.com/?spm=a.b.c") == [
        ("深圳市某某网络科技有限公司", "shop_url")
    ]
    # a mobile URL of the same JD shop: found by the shop id the platform rules read from it
    assert found(s, "https://shop.m.jd.com/?shopId=202") == [
        ("深圳市某某网络科技有限公司二店", "shop_id")
    ]
    # another host of the same platform: not the same URL, but the same shop id
    assert found(s, "yangkeduo.com/mall_page.html?mall_id=303&refer_page=x") == [
        ("杭州好物电子商务有限公司", "shop_id")
    ]
    assert found(s, "mobile.yangkeduo.com/mall_page.html?mall_id=303&_u=1&mm_x=2") == [
        ("杭州好物电子商务有限公司", "shop_url")
    ]
    # shop id typed alone
    assert found(s, "SHOP-55") == [("某某百货商行", "shop_id")]
    # credit code, in lower case too
    assert found(s, code(3).lower()) == [("杭州好物电子商务有限公司", "credit_code")]
    # names: exact, prefix, any part of two characters or more, best first
    assert found(s, "华为终端有限公司") == [("华为终端有限公司", "name_exact")]
    assert found(s, "深圳市某某") == [
        ("深圳市某某网络科技有限公司", "name_prefix"),
        ("深圳市某某网络科技有限公司二店", "name_prefix"),
    ]
    assert found(s, "某某") == [
        ("某某百货商行", "name_prefix"),
        ("深圳市某某网络科技有限公司", "name_substring"),
        ("深圳市某某网络科技有限公司二店", "name_substring"),
    ]
    assert found(s, "好物电子") == [("杭州好物电子商务有限公司", "name_substring")]
    assert found(s, "好物 电子") == [
        ("杭州好物电子商务有限公司", "name_substring")
    ]  # spaces ignored
    assert found(s, "电子好物") == []  # every bigram exists, the substring does not
    assert found(s, "不存在的名字") == []
    assert found(s, "100%") == []  # LIKE wildcards are literal


def test_a_credit_code_with_a_wrong_check_character_says_so(filled: sessionmaker[Session]) -> None:
    with filled() as s:
        result = lookup(s, wrong_check(code(3)))
    assert result.kind == "credit_code" and result.matches == []
    assert [c for c, _ in result.notes] == ["bad_credit_code"]


def _case(
    s: Session, unit: int, n: int, *, party_code: str | None = None, shop_url: str | None = None,
    decided: dict[str, object] | None = None, source: str = "lead", received: int = 2025,
) -> str:  # fmt: skip
    case = Case(
        unit_id=unit,
        number=f"示市监处〔{received}〕{n}号",
        title=f"案件{n}",
        state="closed" if decided else "investigating",
        source=source,
        facts={"decided_penalty": decided, "decided_on": f"{received}-06-01"} if decided else {},
        received_at=datetime(received, 3, 1, tzinfo=UTC),
        shop_url=shop_url,
    )
    s.add(case)
    s.flush()
    s.add(CaseParty(case_id=case.id, name="深圳市某某网络科技有限公司", credit_code=party_code))
    s.flush()
    return case.id


def test_the_party_record_and_first_violation(filled: sessionmaker[Session]) -> None:
    with filled() as s:
        mine, other = Unit(name="示例市市场监督管理局"), Unit(name="乙市市场监督管理局")
        s.add_all([mine, other])
        s.flush()
        complaint = _case(s, mine.id, 1, party_code=code(1), source="complaint")
        by_url = _case(s, mine.id, 2, shop_url="HTTP://WWW.Shop101.TaoBao.com/?spm=x")
        hidden = _case(
            s, other.id, 3, party_code=code(1), decided={"kind": "warning", "amount_fen": 0}
        )
        current = _case(s, mine.id, 4, party_code=code(1), received=2026)
        s.commit()
        record = party_record(
            s, unit_id=mine.id, credit_code=code(1), shop_urls=["https://shop101.taobao.com"],
            exclude_case=current, before=datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip
        assert {c.case_id: c.matched_by for c in record.cases} == {
            complaint: "credit_code",
            by_url: "shop_url",
        }  # the other unit's undecided-or-unpublished case is not this officer's to see
        assert record.complaints == 1 and record.decisions == 0 and record.first_violation
        # the other unit's decision, once published, counts: no longer a first violation
        s.add(
            PublicityEntry(
                case_id=hidden, unit_id=other.id, decision_number="乙市监处〔2025〕3号",
                decided_on=date(2025, 6, 1), published_on=date(2025, 6, 5),
                last_day=date(2028, 6, 5),
                period_rule="r", period_years=3, content={},
            )
        )  # fmt: skip
        s.commit()
        record = party_record(s, unit_id=mine.id, credit_code=code(1), exclude_case=current)
        other_case = next(c for c in record.cases if c.case_id == hidden)
        assert other_case.title is None and not other_case.own_unit  # only what was published
        assert other_case.decision == "penalty" and not record.first_violation
        # an own-unit fine decided earlier makes it no first violation either
        _case(s, mine.id, 5, party_code=code(1), decided={"kind": "fine", "amount_fen": 500_000})
        s.commit()
        record = party_record(s, unit_id=mine.id, credit_code=code(1), exclude_case=current)
        assert record.penalties == 2 and record.decisions == 2


@pytest.mark.postgres
def test_import_and_lookup_on_postgresql(tmp_path: Path, pg_database: Callable[[], str]) -> None:
    sessions = sessions_for(pg_database())
    try:
        import_file(sessions, write_csv(tmp_path / "r.csv", *ROWS), imported_by="t")
        # the bigram counts are upserted (ON CONFLICT) when a second import meets the same grams
        import_file(
            sessions,
            write_csv(tmp_path / "r2.csv", f"深圳市某某网络贸易有限公司,{code(6)},钱七,深圳,,,,"),
            imported_by="t",
        )
        assert found(sessions, "某某网络") == [
            ("深圳市某某网络科技有限公司", "name_substring"),
            ("深圳市某某网络贸易有限公司", "name_substring"),
            ("深圳市某某网络科技有限公司二店", "name_substring"),
        ]
        assert found(sessions, "深圳市某某网络科") == [
            ("深圳市某某网络科技有限公司", "name_prefix"),
            ("深圳市某某网络科技有限公司二店", "name_prefix"),
        ]
        assert found(sessions, "HTTP://SHOP101.taobao.com") == [
            ("深圳市某某网络科技有限公司", "shop_url")
        ]
        assert found(sessions, "100%") == []
    finally:
        sessions.kw["bind"].dispose()
