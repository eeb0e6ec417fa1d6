"""The operator a shop page shows: rules (operator.toml) applied to page text, HTML turned into
lines, and the reader that finds the page in a sealed package's WARC and names the record."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.register.conftest import code, wrong_check
from workflow.register import extract_operator, html_lines

LICENCE_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>某某旗舰店</title>
<script>var x = "企业名称：假的公司";</script><style>.a{{}}</style></head><body>
<div class="nav">首页 · 店铺名称很好</div>
<div class="licence"><h3>营业执照信息</h3>
<dl><dt>企业名称</dt><dd>深圳市某某网络科技有限公司</dd>
<dt>统一社会信用代码</dt><dd>{code(1)}</dd></dl>
<p>法定代表人：张三 住所：深圳市南山区科技园1号</p>
<p>食品经营许可证：JY14403050000001</p></div></body></html>"""


def test_operator_fields_are_read_from_text_lines() -> None:
    lines = [
        "店铺首页",
        f"经营者名称：杭州好物电子商务有限公司 统一社会信用代码：{code(3).lower()}",
        "负责人: 李四",
    ]
    info = extract_operator(lines)
    assert info.company_name == "杭州好物电子商务有限公司"
    assert info.credit_code == code(3) and info.credit_code_valid is True
    assert info.legal_representative == "李四"
    assert [(f.field, f.label, f.line) for f in info.found] == [
        ("company_name", "经营者名称", 2),
        ("credit_code", "统一社会信用代码", 2),
        ("legal_representative", "负责人", 3),
    ]


def test_a_shown_code_with_a_wrong_check_character_is_flagged() -> None:
    info = extract_operator(["企业名称：某公司", f"信用代码：{wrong_check(code(3))}"])
    assert info.credit_code == wrong_check(code(3)) and info.credit_code_valid is False


def test_a_page_without_operator_information_gives_nothing() -> None:
    info = extract_operator(html_lines("<html><body><p>店铺名称很好 欢迎光临</p></body></html>"))
    assert info.empty and info.found == []


def test_the_licence_section_of_an_html_page() -> None:
    lines = html_lines(LICENCE_PAGE.encode())
    assert "假的公司" not in " ".join(lines)  # scripts are not text
    info = extract_operator(lines)
    # the value on the line after its label (a dt/dd table)
    assert info.company_name == "深圳市某某网络科技有限公司"
    assert info.credit_code == code(1) and info.credit_code_valid
    assert info.legal_representative == "张三"  # cut at the next label on the line
    assert info.address == "深圳市南山区科技园1号"
    assert info.licence_number == "JY14403050000001"
    assert info.licence_text[0] == "营业执照信息"
    assert "深圳市某某网络科技有限公司" in info.licence_text


def test_a_gbk_page_is_read_with_its_declared_charset() -> None:
    body = "<html><body><p>企业名称：宁波甬上服饰有限公司</p></body></html>".encode("gbk")
    assert extract_operator(html_lines(body, "gbk")).company_name == "宁波甬上服饰有限公司"


def sealed_like_package(path: Path, pages: list[tuple[str, str, bytes]]) -> tuple[Path, list[int]]:
    """A WACZ-shaped ZIP whose ``archive/data.warc.gz`` holds one response record per page
    (uri, content type, body), and the records' offsets."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    offsets = []
    for uri, kind, body in pages:
        offsets.append(buf.tell())
        headers = StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            uri, "response", payload=io.BytesIO(body), http_headers=headers
        )
        writer.write_record(record)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.warc.gz", buf.getvalue())
        zf.writestr("datapackage.json", "{}")
    return path, offsets
