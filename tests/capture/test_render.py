"""What the snapshot shows: real CJK glyphs, the JS-filled price, the full page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tests.capture.conftest import EngineRunner
from tests.fixtures.site import PRICE_TEXT, FixtureSite

pytestmark = pytest.mark.chromium


def _glyphs(engine: EngineRunner, url: str, workdir: Path) -> tuple[int, int, int]:
    """(ink in box a, ink in box b, pixels that differ between the boxes) of /cjk."""
    result = engine.capture(url, workdir)
    with Image.open(result.screenshot_path) as shot:
        a = shot.crop((40, 40, 160, 160)).convert("L")
        b = shot.crop((240, 40, 360, 160)).convert("L")
    ink_a = sum(a.histogram()[:128])
    ink_b = sum(b.histogram()[:128])
    changed = sum(ImageChops.difference(a, b).histogram()[65:])
    return ink_a, ink_b, changed


def test_chinese_glyphs_are_rendered_not_tofu(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    """商 and 品 are drawn in two identical 120x120 boxes (see /cjk). With a CJK font they are
    different shapes; without one both are the same missing-glyph box."""
    ink_a, ink_b, changed = _glyphs(engine, fixture_site.url("/cjk"), tmp_path)
    assert ink_a > 300 and ink_b > 300, "no glyph drawn at all"
    assert changed > 800, f"the two characters look alike ({changed} px differ): tofu?"


def test_tofu_control(engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path) -> None:
    """Control for the test above: two private-use characters no font has are drawn as the
    same missing-glyph box, and the comparison does see them as alike."""
    _, _, changed = _glyphs(engine, fixture_site.url("/cjk?a=%EE%80%80&b=%EE%80%81"), tmp_path)
    assert changed < 100


def test_screenshot_is_full_page_and_pdf_has_the_text(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    result = engine.capture(fixture_site.url("/listing"), tmp_path)
    with Image.open(result.screenshot_path) as shot:
        assert shot.width == 1280
        assert shot.height > 4000  # the listing has a 4000 px spacer before the lazy image
    assert result.pdf_path.read_bytes().startswith(b"%PDF-")
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils (pdftotext) is required"
    text = subprocess.run(
        [pdftotext, str(result.pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "无线蓝牙耳机" in text
    assert PRICE_TEXT in text  # written into the DOM by JavaScript before the snapshot


def test_progress_states(engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path) -> None:
    states: list[str] = []
    engine.capture(fixture_site.url("/latin1"), tmp_path, on_progress=states.append)
    assert states == ["loading", "scrolling", "snapshot", "writing"]
