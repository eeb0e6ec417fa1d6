"""WARCs and WACZ packages of the fixture order pages, written with warcio the way a capture
writes them (WARC 1.1, gzip per record, a warcinfo record, request and response records and
other resources beside the page), and a sealed capture holding one, for the case tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from capture.wacz import WARC_PATH
from evidence_service.services import Services
from storage.models import Capture
from tests.fixtures.order_pages import order_page

#: Where each fixture page is said to come from (hosts pick the platform layouts).
URLS = {
    "taobao": "https://buyertrade.taobao.com/trade/detail/trade_order_detail.htm?biz_order_id=1",
    "jd": "https://details.jd.com/normal/item.action?orderid=280012345678",
    "plain": "https://shop.example.cn/snapshot/42",
    "jsonld": "https://outdoor.example.com/orders/SO-77812",
    "microdata": "https://tea.example.cn/o/8890",
}


def write_warc(pages: dict[str, str], *, noise: bool = True) -> bytes:
    """A WARC with each named fixture page served at the given URL (request + response),
    with a stylesheet and an image response around them when ``noise``."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True, warc_version="1.1")
    w.write_record(w.create_warcinfo_record("data.warc.gz", {"software": "tests/orders"}))

    def exchange(url: str, ctype: str, body: bytes) -> None:
        headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", ctype), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        resp = w.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=headers
        )
        w.write_record(resp)
        req_headers = StatusAndHeaders(
            "GET / HTTP/1.1", [("Host", "x")], protocol="HTTP/1.1", is_http_request=True
        )
        req = w.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=req_headers,
            warc_headers_dict={"WARC-Concurrent-To": resp.rec_headers["WARC-Record-ID"]},
        )
        w.write_record(req)

    if noise:
        exchange("https://static.example.cn/style.css", "text/css", b"body{color:#333}\n" * 40)
    for name, url in pages.items():
        page = order_page(name)
        exchange(url, page.content_type, page.body)
        if noise:
            exchange(url + "#img", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 300)
    return buf.getvalue()


def write_wacz(path: Path, warc: bytes) -> Path:
    """A package with the WARC where WACZ keeps it (stored, as ours are)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo(WARC_PATH), warc, compress_type=zipfile.ZIP_STORED)
        z.writestr("datapackage.json", "{}")
    return path


def stored_capture(services: Services, tmp: Path, pages: dict[str, str], by: int) -> Capture:
    """A capture in state ``stored`` whose package (holding the pages) is in the store."""
    package = write_wacz(tmp / "package.wacz", write_warc(pages))
    obj = services.store.put_file(package, content_type="application/wacz+zip")
    with services.session() as session:
        cap = Capture(
            requested_url=next(iter(pages.values())),
            status="stored",
            created_by_id=by,
            package_key=obj.key,
            package_sha256=obj.sha256,
            package_size=obj.size,
        )
        session.add(cap)
        session.flush()
        session.expunge(cap)
    return cap
