"""The register over HTTP and on the command line, and the party panel on the case page:
``/register`` (search, import form and its report) linked from the case list, the API
(``GET /api/register/lookup``, ``POST /api/register/import``, who may use them), the
``register`` panel (register entry, the operator read from a capture's sealed WARC with the
record as source, earlier cases, first violation), and ``evidence merchants``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.cli import main as cli_main
from evidence_service.sealing.capture_operator import operator_of_package
from evidence_service.security import hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import ApiToken, Capture, Case, CaseEvidence, Unit, User
from tests.portal.conftest import OFFICER_PASSWORD, add_officer, csrf_of
from tests.register.conftest import HEADER, code, write_csv, wrong_check
from tests.register.test_operator import LICENCE_PAGE, sealed_like_package
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.service import Actor, PartyIn
from workflow.register import import_file

SHOP = "https://shop101.taobao.com/"


@dataclass
class World:
    services: Services
    app: Any
    unit: int
    officer_id: int
    token: str
    admin_token: str
    data_dir: Path


def _token(services: Services, username: str) -> str:
    token = new_api_token()
    with services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        session.add(
            ApiToken(user_id=user.id, name="t", token_hash=hash_token(token), revoked=False)
        )
    return token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("register") / "data"
    services = Services(make_settings(data_dir))
    initialize(services)
    with services.session() as session:
        unit = session.scalars(select(Unit.id)).one()
    officer = add_officer(services, "wang", unit)
    import_file(
        services.sessions,
        write_csv(
            data_dir / "seed.csv",
            f"深圳市某某网络科技有限公司,{code(1)},张三,深圳市南山区,{SHOP},,,食品经营许可证",
            f"杭州好物电子商务有限公司,{code(3)},李四,杭州市,https://mall.jd.com/index-3.html,,,",
        ),
        imported_by="seed",
    )
    yield World(
        services,
        create_app(services=services),
        unit,
        int(officer.id) if hasattr(officer, "id") else _user_id(services, "wang"),
        _token(services, "wang"),
        _token(services, "admin"),
        data_dir,
    )
    services.close()


def _user_id(services: Services, username: str) -> int:
    with services.session() as session:
        return int(session.scalars(select(User.id).where(User.username == username)).one())


def login(w: World, lang: str = "zh") -> TestClient:
    client = TestClient(w.app, headers={"Accept-Language": lang, "Accept": "text/html"})
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "wang", "password": OFFICER_PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def api(w: World, token: str | None = None) -> TestClient:
    headers = {"Authorization": f"Bearer {token or w.token}"} if token != "" else {}
    return TestClient(w.app, headers=headers)


# -- the API ----------------------------------------------------------------------------------


def test_api_lookup_by_url_and_who_may_use_it(world: World) -> None:
    r = api(world).get("/api/register/lookup", params={"q": "http://www.shop101.taobao.com?spm=1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "url" and body["shop"]["key"] == "shop101.taobao.com"
    (match,) = body["matches"]
    assert match["credit_code"] == code(1) and match["matched_by"] == "shop_url"
    assert match["record"]["first_violation"] is True and match["record"]["cases"] == []
    assert api(world, "").get("/api/register/lookup", params={"q": "x"}).status_code == 401
    refused = api(world, world.admin_token).get("/api/register/lookup", params={"q": "x"})
    assert refused.status_code == 403  # administrators manage accounts, not the register
    assert "merchant register" in refused.json()["detail"]["message"]


def test_api_import_reports_bad_rows_and_a_file_it_cannot_read(world: World) -> None:
    csv = "\n".join(
        [
            HEADER,
            f"宁波甬上服饰有限公司,{code(30)},钱七,宁波市,https://shop30.taobao.com,,,",
            f"宁波错码服饰有限公司,{wrong_check(code(31))},孙八,宁波市,,,,",
        ]
    )
    r = api(world).post(
        "/api/register/import", files={"file": ("名录.csv", csv.encode(), "text/csv")}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["bad_rows"], report["file_name"]) == (1, 1, "名录.csv")
    assert report["problems"][0]["line"] == 3 and report["problems"][0]["field"] == "credit_code"
    bad = api(world).post("/api/register/import", files={"file": ("x.csv", b"name\n", "text/csv")})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "unreadable_file"
    assert "lacks the column(s)" in bad.json()["detail"]["message"]


# -- the page ---------------------------------------------------------------------------------


def test_the_register_page_searches_and_imports_and_is_linked_from_the_case_list(
    world: World,
) -> None:
    client = login(world)
    assert 'href="/register"' in client.get("/cases").text
    page = client.get("/register", params={"q": "某某网络"})
    assert page.status_code == 200
    assert "深圳市某某网络科技有限公司" in page.text and code(1) in page.text
    assert "名称（包含）" in page.text and 'data-first="yes"' in page.text
    none = client.get("/register", params={"q": wrong_check(code(1))})
    assert "校验位不正确" in none.text and 'id="register-none"' in none.text
    english = login(world, "en").get("/register", params={"q": "好物"})
    assert "Merchant register" in english.text and "name (contains)" in english.text
    csv = f"{HEADER}\n温州瓯江贸易商行,{code(40)},周九,温州市,,,,\n,{code(41)},x,y,,,,\n"
    r = client.post(
        "/register/import",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("wz.csv", csv.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    report = r.text.split('id="register-report"')[1]
    assert "新增 1" in report and "有误行 1" in report
    assert re.search(r"<td>3</td><td><code>name</code></td><td>此项为空", report)
    no_file = client.post("/register/import", data={"csrf": csrf_of(page.text)})
    assert no_file.status_code == 422 and "请选择要导入的文件" in no_file.text


# -- the case page's panel --------------------------------------------------------------------


def _stored_capture(world: World, package: Path, url: str) -> Capture:
    stored = world.services.store.put_file(package, content_type="application/wacz+zip")
    with world.services.session() as session:
        cap = Capture(
            requested_url=url,
            final_url=url,
            status="stored",
            outcome="complete",
            package_key=stored.key,
            package_sha256=stored.sha256,
            created_by_id=world.officer_id,
        )
        session.add(cap)
        session.flush()
        session.expunge(cap)
    return cap


def test_the_operator_is_read_from_the_sealed_warc_naming_the_record(
    world: World, tmp_path: Path
) -> None:
    url = "https://shop777.taobao.com/"
    package, offsets = sealed_like_package(
        tmp_path / "p.wacz",
        [
            ("https://shop777.taobao.com/style.css", "text/css", b"body{}"),
            ("https://shop777.taobao.com/ad.html", "text/html", "<p>广告</p>".encode()),
            (url, "text/html; charset=utf-8", LICENCE_PAGE.encode()),
        ],
    )
    cap = _stored_capture(world, package, url)
    found = operator_of_package(world.services, cap)
    assert found is not None
    assert found.capture_id == cap.id and found.target_uri == url
    assert found.offset == offsets[2] and found.record_id.startswith("<urn:uuid:")
    assert found.info.company_name == "深圳市某某网络科技有限公司"
    assert found.as_json()["warc_path"] == "archive/data.warc.gz"


def test_the_panel_shows_the_register_match_the_page_operator_and_earlier_cases(
    world: World, tmp_path: Path
) -> None:
    from evidence_service.sealing.case_file import case_context

    ctx = case_context(world.services)
    wang = Actor(f"user:{world.officer_id}", "王五", "officer", world.unit)
    earlier = service.open_case(
        ctx, wang, unit_id=world.unit, title="去年的虚假宣传", summary="s",
        parties=[PartyIn("深圳市某某网络科技有限公司", credit_code=code(1))],
    )  # fmt: skip
    with world.services.session() as session:
        old = session.get(Case, earlier)
        assert old is not None
        old.received_at = datetime(2025, 3, 1, tzinfo=UTC)
        old.facts = {"decided_penalty": {"kind": "fine", "amount_fen": 300_000}}
    case_id = service.open_case(
        ctx, wang, unit_id=world.unit, title="店铺未亮照", summary="s",
        parties=[PartyIn("某网店（名称未知）", shop_url="http://www.shop101.taobao.com/?spm=9")],
        shop_url=SHOP,
    )  # fmt: skip
    package, _ = sealed_like_package(
        tmp_path / "p.wacz", [(SHOP, "text/html", LICENCE_PAGE.encode())]
    )
    cap = _stored_capture(world, package, SHOP)
    service.add_evidence(
        ctx, wang, case_id, kind="capture", file_name="p.wacz", sha256=cap.package_sha256 or "",
        capture_id=cap.id,
    )  # fmt: skip
    page = login(world).get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    panel = page.text.split('id="panel-register"')[1].split("</section>")[0]
    assert "某网店（名称未知）" in panel
    assert "深圳市某某网络科技有限公司" in panel and code(1) in panel  # found by the shop URL
    assert "店铺网址" in panel  # how
    assert f'href="/captures/{cap.id}"' in panel and "<urn:uuid:" in panel.replace("&lt;", "<")
    assert f'href="/cases/{earlier}"' in panel and "3,000.00 元" in panel
    assert 'data-first="no"' in panel
    with world.services.session() as session:
        evidence = session.scalar(select(CaseEvidence).where(CaseEvidence.case_id == case_id))
        assert evidence is not None and evidence.capture_id == cap.id


# -- the command line -------------------------------------------------------------------------


def _cli(world: World, *args: str) -> Any:
    env = {
        "EVIDENCE_DATA_DIR": str(world.data_dir),
        "EVIDENCE_KEY_PASSPHRASE": "test passphrase",
        "EVIDENCE_CAPTURE_ALLOW_PRIVATE": "true",
    }
    return CliRunner().invoke(cli_main, list(args), env=env, catch_exceptions=False)


def test_cli_import_and_lookup(world: World, tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "cli.csv",
        f"成都蓉城茶业有限公司,{code(50)},吴十,成都市,https://shop50.taobao.com,,,",
        f"成都错码茶业有限公司,{wrong_check(code(51))},郑一,成都市,,,,",
        f"成都坏链接茶业有限公司,{code(52)},郑二,成都市,not a url,,,",
    )
    r = _cli(world, "merchants", "import", str(f))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("line 3: credit_code: ")
    assert lines[1] == "line 4: shop_url: 'not a url' has no host name"
    assert re.match(r"import \d+: 3 rows, 1 created, 0 updated, 0 unchanged, 2 bad", lines[2])
    r = _cli(world, "merchants", "lookup", "蓉城茶业", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [m["credit_code"] for m in out["matches"]] == [code(50)]
    r = _cli(world, "merchants", "lookup", "https://shop50.taobao.com/?utm_source=x")
    assert (
        r.exit_code == 0
        and "成都蓉城茶业有限公司" in r.output
        and "first violation: yes" in r.output
    )
    r = _cli(world, "merchants", "lookup", "完全不存在的名称")
    assert r.exit_code == 1 and "no register entry matches" in r.output


def test_cli_refuses_a_missing_or_unreadable_file(world: World, tmp_path: Path) -> None:
    r = _cli(world, "merchants", "import", str(tmp_path / "missing.csv"))
    assert r.exit_code == 2 and "no such file" in r.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    r = _cli(world, "merchants", "import", str(bad))
    assert r.exit_code == 2 and "not an XLSX workbook" in r.output
