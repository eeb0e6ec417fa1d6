"""``capture.compare.compare`` on real sealed captures of the fixture shop: an edit between
two captures (price changed, a claim removed, an image swapped) and a page that disappeared
(404, redirect to the shop front)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from capture.compare import PackageError, compare
from tests.compare.conftest import ShopCaptures

#: Real captures (four sealed in the shared fixture) on a shared machine take minutes.
pytestmark = [pytest.mark.chromium, pytest.mark.slow, pytest.mark.timeout(900)]


def test_edit_between_captures(shop_captures: ShopCaptures) -> None:
    p = shop_captures.packages
    c = compare(p["original"], p["edited"])
    summary = c.summary()
    assert c.a.sha256 != c.b.sha256
    assert c.a.trusted_time and c.b.trusted_time and c.a.trusted_time < c.b.trusted_time
    assert c.a.text_source == "page.pdf"
    removed = " ".join(c.removed_lines)
    added = " ".join(c.added_lines)
    assert "全网最低价" in removed and "全网最低价" not in added
    assert "¥199.00" in removed and "¥259.00" in added
    assert not c.page_gone
    changed = {f.name: (f.old, f.new) for f in c.changed_fields}
    assert changed["price"] == ("199.00 CNY", "259.00 CNY")
    assert "product_name" not in changed and c.fields_a["shop"] == "测试旗舰店"
    # the product image was swapped: one image hash gone, another new, by their bytes
    assert [r.urls[0].rsplit("/", 1)[1] for r in c.images_removed] == ["item-a.png"]
    assert [r.urls[0].rsplit("/", 1)[1] for r in c.images_added] == ["item-b.png"]
    assert c.images_kept == 0  # the fixture page has no other image
    v = c.visual
    assert v is not None
    assert 0.0 < v.share < 0.5, v.share  # the edit changes part of the page, not all of it
    assert v.regions_a and v.regions_b
    # the swapped image is where a region says (the product image is near the top left)
    top = min(v.regions_b, key=lambda r: r.y)
    assert top.y < 300
    highlighted = Image.open(io.BytesIO(v.highlighted_b))
    assert highlighted.size == v.size_b
    assert summary["fields"]["changed"][0]["field"] in {"price", "title"}
    assert summary["visual"]["changed_pixel_share"] == round(v.share, 6)


def test_same_page_twice_is_no_change(shop_captures: ShopCaptures) -> None:
    p = shop_captures.packages
    c = compare(p["original"], p["original"])
    assert c.added_lines == () and c.removed_lines == () and c.changed_fields == ()
    assert c.images_added == () and c.images_removed == ()
    assert c.visual is not None and c.visual.share == 0.0 and c.visual.regions_b == ()


def test_page_gone_404(shop_captures: ShopCaptures) -> None:
    p = shop_captures.packages
    c = compare(p["original"], p["gone"])
    assert c.page_gone
    changed = {f.name: (f.old, f.new) for f in c.changed_fields}
    assert changed["http_status"] == ("200", "404")
    assert changed["price"] == ("199.00 CNY", None)
    assert "全网最低价" in " ".join(c.removed_lines)
    assert any("已下架" in line for line in c.added_lines)
    assert len(c.images_removed) == 1 and c.images_added == ()


def test_page_redirected_to_shop_front(shop_captures: ShopCaptures) -> None:
    p = shop_captures.packages
    c = compare(p["original"], p["redirect"])
    assert c.page_gone
    changed = {f.name: (f.old, f.new) for f in c.changed_fields}
    assert changed["final_url"][0] == shop_captures.url
    assert str(changed["final_url"][1]).endswith("/shop/")
    assert "http_status" not in changed  # the shop front answers 200
    assert any("欢迎光临" in line for line in c.added_lines)


def test_not_a_package(tmp_path: Path, shop_captures: ShopCaptures) -> None:
    bad = tmp_path / "x.wacz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PackageError, match=r"x\.wacz is not a WACZ package"):
        compare(bad, shop_captures.packages["original"])
    empty = tmp_path / "empty.wacz"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(PackageError, match=r"neither files/manifest\.json nor datapackage\.json"):
        compare(shop_captures.packages["original"], empty)
