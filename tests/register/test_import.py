"""Importing register files: CSV and XLSX, bad rows reported by line and field while the rest
is imported, re-import with a change log, and files that cannot be read at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from storage.models import RegisterChange, RegisterEntry, RegisterImport, RegisterShop
from tests.register.conftest import code, write_csv, wrong_check
from workflow.register import RegisterFileError, import_file, read_rows
from workflow.register.rows import Problem, RowIn


def entries(sessions: sessionmaker[Session]) -> dict[str, RegisterEntry]:
    with sessions() as s:
        return {e.credit_code: e for e in s.scalars(select(RegisterEntry))}


def test_the_credit_code_check_character_is_verified(tmp_path: Path) -> None:
    good = code(1)
    f = write_csv(
        tmp_path / "r.csv",
        f"甲网络科技有限公司,{good},张三,杭州市,https://shop1.taobao.com,,,",
        f"乙网络科技有限公司,{wrong_check(good)},李四,杭州市,https://shop2.taobao.com,,,",
        "丙网络科技有限公司,91330100ABC,王五,杭州市,,,,",
        "丁网络科技有限公司,91330100000000001I,王五,杭州市,,,,",
    )
    got = list(read_rows(f))
    assert isinstance(got[0], RowIn) and got[0].credit_code == good
    problems = [p for p in got if isinstance(p, Problem)]
    assert [(p.line, p.field) for p in problems] == [
        (3, "credit_code"),
        (4, "credit_code"),
        (5, "credit_code"),
    ]
    assert "check character" in problems[0].problem
    assert "18 characters" in problems[1].problem
    assert "'I'" in problems[2].problem


def test_csv_import_reports_bad_rows_by_line_and_field_and_imports_the_rest(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    f = write_csv(
        tmp_path / "register.csv",
        f"深圳市某某网络科技有限公司,{code(1)},张三,深圳市南山区,https://shop1.taobao.com/?spm=a1,,,"
        "食品经营许可证JY1;出版物经营许可证",
        f",{code(2)},李四,杭州市,https://shop2.taobao.com,,,",  # no name
        f"杭州好物电子商务有限公司,{code(3)},李四,杭州市,ftp://x.example/shop,,,",  # not http
        '"多行地址有限公司",'
        + code(4)
        + ',王五,"浙江省\n杭州市",https://mall.jd.com/index-4.html,,,',
        f"坏代码有限公司,{wrong_check(code(5))},赵六,宁波市,,,,",
    )
    report = import_file(sessions, f, imported_by="test")
    assert [str(p) for p in report.problems] == [
        "line 3: name: is empty; the register needs it",
        "line 4: shop_url: 'ftp://x.example/shop' is not an http(s) URL",
        f"line 7: credit_code: unified social credit code '{wrong_check(code(5))}' fails its "
        "check character (GB 32100-2015): a character was probably mistyped",
    ]  # the quoted address spans lines 5-6, so the last row is line 7
    assert (report.rows, report.created, report.bad_rows) == (5, 2, 3)
    got = entries(sessions)
    assert set(got) == {code(1), code(4)}
    assert got[code(1)].licences == ["食品经营许可证JY1", "出版物经营许可证"]
    assert got[code(4)].address == "浙江省\n杭州市"
    with sessions() as s:
        shops = {sh.url_key: sh for sh in s.scalars(select(RegisterShop))}
        record = s.get(RegisterImport, report.import_id)
        assert record is not None and record.bad == 3 and record.finished_at is not None
        assert record.problems[0] == {
            "line": 3,
            "field": "name",
            "problem": report.problems[0].problem,
            "code": "empty",
        }
    assert shops["shop1.taobao.com"].platform == "淘宝" and shops["shop1.taobao.com"].shop_id == "1"
    assert shops["mall.jd.com/index-4.html"].shop_id == "4"


def test_xlsx_import_with_chinese_headers_and_a_bad_row(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["企业名称", "统一社会信用代码", "法定代表人", "住所", "店铺网址", "店铺ID"])
    sheet.append(
        [
            "宁波甬上服饰有限公司",
            code(10),
            "钱七",
            "宁波市海曙区",
            "https://shop10.taobao.com",
            None,
        ]
    )
    sheet.append(["宁波错码服饰有限公司", wrong_check(code(11)), "孙八", "宁波市", None, None])
    sheet.append([None, None, None, None, None, None])  # empty rows are skipped
    sheet.append(
        ["温州瓯江贸易商行", code(12), "周九", "温州市", "yangkeduo.com/mall?mall_id=77", 77]
    )
    path = tmp_path / "名录.xlsx"
    book.save(path)
    report = import_file(sessions, path, imported_by="test")
    assert [(p.line, p.field) for p in report.problems] == [(3, "credit_code")]
    assert report.created == 2
    with sessions() as s:
        shop = s.scalar(select(RegisterShop).where(RegisterShop.shop_id == "77"))
        assert shop is not None and shop.platform == "拼多多"
        assert shop.url_key == "yangkeduo.com/mall?mall_id=77"


def test_a_gb18030_csv_as_excel_saves_it_is_read(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    f = write_csv(
        tmp_path / "gbk.csv",
        f"广州羊城电子商务有限公司,{code(20)},吴十,广州市天河区,https://shop20.taobao.com,,,",
        encoding="gb18030",
    )
    report = import_file(sessions, f, imported_by="test")
    assert report.created == 1 and not report.problems
    assert entries(sessions)[code(20)].name == "广州羊城电子商务有限公司"


def test_reimport_updates_with_a_change_log_and_moves_a_shop(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    first = write_csv(
        tmp_path / "v1.csv",
        f"甲网络科技有限公司,{code(1)},张三,杭州市西湖区,https://shop1.taobao.com,,,许可证A",
        f"乙贸易有限公司,{code(2)},李四,杭州市,https://shop2.taobao.com,,,",
        f"丙贸易有限公司,{code(3)},王五,杭州市,https://shop3.taobao.com,,,",
    )
    one = import_file(sessions, first, imported_by="test")
    second = write_csv(
        tmp_path / "v2.csv",
        f"甲网络科技（杭州）有限公司,{code(1)},张三丰,杭州市西湖区,https://shop1.taobao.com,,,许可证A;许可证B",
        f"乙贸易有限公司,{code(2)},李四,杭州市,https://shop2.taobao.com,,,",
        # shop3 changed hands: now listed under 乙
        f"乙贸易有限公司,{code(2)},李四,杭州市,http://WWW.shop3.taobao.com/,,,",
    )
    two = import_file(sessions, second, imported_by="test")
    assert (two.created, two.updated, two.unchanged) == (0, 2, 0)
    with sessions() as s:
        changes = [
            (c.entry_id, c.field, c.old_value, c.new_value, c.import_id)
            for c in s.scalars(select(RegisterChange).order_by(RegisterChange.id))
        ]
    got = entries(sessions)
    a, b, c = got[code(1)].id, got[code(2)].id, got[code(3)].id
    assert changes == [
        (a, "name", "甲网络科技有限公司", "甲网络科技（杭州）有限公司", two.import_id),
        (a, "legal_representative", "张三", "张三丰", two.import_id),
        (a, "licences", "许可证A", "许可证A；许可证B", two.import_id),
        (c, "shop", "https://shop3.taobao.com", None, two.import_id),
        (b, "shop", None, "http://WWW.shop3.taobao.com/", two.import_id),
    ]
    assert got[code(1)].name_key == "甲网络科技(杭州)有限公司"
    assert got[code(1)].created_import_id == one.import_id
    assert got[code(1)].updated_import_id == two.import_id
    assert got[code(3)].updated_import_id == two.import_id  # it lost its shop
    # the same file again changes nothing and logs nothing
    three = import_file(sessions, second, imported_by="test")
    assert (three.created, three.updated, three.unchanged) == (0, 0, 2)
    with sessions() as s:
        assert len(list(s.scalars(select(RegisterChange)))) == len(changes)


def test_the_change_log_is_append_only(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    import_file(
        sessions,
        write_csv(tmp_path / "a.csv", f"甲有限公司,{code(1)},张三,杭州,,,,"),
        imported_by="t",
    )
    import_file(
        sessions,
        write_csv(tmp_path / "b.csv", f"甲有限公司,{code(1)},李四,杭州,,,,"),
        imported_by="t",
    )
    with sessions() as s, pytest.raises(Exception, match="append-only"):
        s.execute(text("UPDATE register_changes SET new_value = 'x'"))
        s.commit()


def test_one_credit_code_twice_in_a_file_must_describe_one_operator(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    f = write_csv(
        tmp_path / "dup.csv",
        f"甲有限公司,{code(1)},张三,杭州,https://shop1.taobao.com,,,",
        f"甲有限公司,{code(1)},张三,杭州,https://mall.jd.com/index-9.html,,,",  # a second shop
        f"甲有限公司,{code(1)},王五,杭州,,,,",  # contradicts line 2
    )
    report = import_file(sessions, f, imported_by="t")
    assert [str(p) for p in report.problems] == [
        f"line 4: legal_representative: differs from line 2 for the same credit code {code(1)}"
    ]
    with sessions() as s:
        assert len(list(s.scalars(select(RegisterShop)))) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "the file is empty"),
        (
            "name,credit_code\n甲,x\n".encode(),
            "lacks the column(s) legal_representative, address, shop_url",
        ),
        (b"PK\x03\x04not a workbook", "not a readable XLSX workbook"),
    ],
)
def test_a_file_that_cannot_be_read_is_an_error_and_nothing_is_recorded(
    tmp_path: Path, sessions: sessionmaker[Session], content: bytes | None, message: str
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RegisterFileError, match=re.escape(message)):
        import_file(sessions, path, imported_by="t")
    with sessions() as s:
        assert s.scalar(select(RegisterImport)) is None
