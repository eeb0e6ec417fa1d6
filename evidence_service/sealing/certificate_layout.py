"""The evidence certificate's page layout: ``certificate.json`` facts -> PDF/A-3b bytes.

A fixed layout drawn directly (see :mod:`evidence_service.sealing.pdf.writer` for why not HTML): A4,
bilingual labels (Chinese first, English beneath in grey), the same sections and wording the
certificate always had -- what was captured, trusted time, capture environment and checks
beside the screenshot thumbnail, file hashes, transparency-log entry, the verification box
with its QR code, the statement -- and a footer with the service, certificate number and
"第 n / N 页 Page n of N" on every page. Long values wrap (URLs and hashes anywhere, Chinese
between characters, other text at spaces); a table row that does not fit goes to the next
page, one taller than a page is split across pages.

Every value shown comes from ``facts`` (``certificate.json``, which is attached): the page
only presents them.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence_service.sealing.pdf.truetype import FontError, TrueTypeFace, load_face
from evidence_service.sealing.pdf.writer import Color, JpegImage, Page, PdfDocument

__all__ = ["FONT_FAMILY", "certificate_face", "render_certificate_pdf", "srgb_profile"]

FONT_FAMILY = "WenQuanYi Zen Hei"
#: Where Debian's fonts-wqy-zenhei puts it (face 0 of the collection); else fontconfig is asked.
FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT_INDEX = 0

MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
MARGIN_TOP, MARGIN_SIDE, MARGIN_BOTTOM = 14 * MM, 14 * MM, 16 * MM
CONTENT_W = PAGE_W - 2 * MARGIN_SIDE
PAD_X, PAD_Y = 1.4 * MM, 0.8 * MM


def _hex(value: str) -> Color:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return (int(value[0:2], 16) / 255, int(value[2:4], 16) / 255, int(value[4:6], 16) / 255)


INK, GREY, DARK_GREY = _hex("#111"), _hex("#555"), _hex("#333")
BLUE, NAVY, BAR = _hex("#23476e"), _hex("#0b2e59"), _hex("#e9eef5")
TH_BG, BORDER = _hex("#f4f6f8"), _hex("#9aa")
OK_GREEN, WARN_RED = _hex("#0a5a1a"), _hex("#a00")

#: Vertical metrics of the face in em (hhea ascent 986, descent 304 of 1024 units).
_ASCENT, _DESCENT = 986 / 1024, 304 / 1024


@dataclass(frozen=True)
class Style:
    size: float
    color: Color = INK
    #: Break anywhere when a word does not fit (URLs, hashes, paths).
    anywhere: bool = False
    spacing: float = 0.0
    leading: float = 1.32


BODY = Style(8.6)
NOTE = Style(7.4, GREY)
EN_LABEL = Style(7.4, GREY)
HASH = Style(7.4, INK, anywhere=True)
NOTE_HASH = Style(7.4, GREY, anywhere=True)
URL = Style(8.6, anywhere=True)
STRONG = Style(10.5, NAVY)
OK = Style(8.6, OK_GREEN)
WARN = Style(8.6, WARN_RED, anywhere=True)

#: Fixed wording (as the HTML template of the first certificates had it).
VERIFY_NOTE = (
    "扫描二维码或访问上述地址，可查看取证的公开信息、文件哈希和日志包含证明；"
    "证据包（.wacz）可离线核验：时间戳 openssl ts -verify，签名与哈希按 "
    "docs/evidence-package.md。\nScan or open the link for the capture's public facts, file "
    "hashes and log inclusion proof. The evidence package (.wacz) verifies offline with the "
    "service's trust bundle."
)
STATEMENT = (
    "本证书由 {service} 自动生成并以服务电子签章签名（PAdES），"
    "证书所载事实以嵌入的 certificate.json 为准。\nThis certificate was generated "
    "automatically by {service} and is signed with the service's electronic seal (PAdES); the "
    "facts it states are those of the embedded certificate.json."
)
TRUSTED_NOTE = (
    "北京时间 Beijing time: {beijing} · 证明取证清单（含全部文件哈希）在此时间之前已经存在 / "
    "proves the capture manifest (with every file hash) existed at this time"
)
TITLE_EN = "Electronic Evidence Capture Certificate"
THUMB_NOTE = (
    "页面截图（缩略，顶部）\nScreenshot thumbnail (top of page); full image: files/screenshot.png"
)
PROXY_ENV_NOTE = (
    "环境变量中配置了代理（浏览器未使用）proxy variables were set (not used by the browser)"
)
LOCAL_NOTE = (
    "{offset} · 本机时钟时间仅供参考，以可信时间为准 / local times are informative; the "
    "trusted time is authoritative"
)

Span = tuple[str, Style]
Para = Sequence[Span]


# -- line breaking -----------------------------------------------------------------------------

#: May not start a line (closing punctuation) / may not end one (opening punctuation).
_NO_START = set("，。、；：？！）」』】》〉”’．,.;:?!)]}%·…—")
_NO_END = set("（「『【《〈“‘([{")


_CJK = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff"
#: A line break, a space, one CJK character (a break may come before and after it), or a run
#: of anything else (a word: Latin text breaks only at spaces, or anywhere when too long).
_TOKENS = re.compile(f"\n| |[{_CJK}]|[^\n {_CJK}]+")


class _Widths(dict[str, int]):
    """Advance widths in 1/1000 em by character, looked up in the face once each."""

    def __init__(self, face: TrueTypeFace) -> None:
        super().__init__()
        self.face = face

    def __missing__(self, char: str) -> int:
        width = self[char] = self.face.width(char)
        return width


@dataclass
class _Piece:
    text: str
    style: Style
    width: float
    space: bool = False
    newline: bool = False


@dataclass
class Line:
    runs: list[tuple[float, str, Style]]  # x offset, text, style
    width: float
    above: float  # baseline distance from the line's top
    height: float


class Typesetter:
    """Measures and breaks text in one face (widths as the PDF's /W array states them)."""

    def __init__(self, face: TrueTypeFace) -> None:
        self.face = face
        self._em = _Widths(face)

    def width(self, text: str, style: Style) -> float:
        em = self._em
        return sum(map(em.__getitem__, text)) * style.size / 1000 + style.spacing * len(text)

    def _pieces(self, para: Para) -> list[_Piece]:
        """Unbreakable pieces: words, single CJK characters (punctuation glued to the side
        it belongs to), spaces and forced line breaks."""
        pieces: list[_Piece] = []
        for text, style in para:
            opening = ""  # opening punctuation waiting for what follows it
            for token in _TOKENS.findall(text.replace("\r", "").replace("\t", " ")):
                if token == "\n":
                    pieces.append(_Piece("", style, 0.0, newline=True))
                elif token == " ":
                    pieces.append(_Piece(" ", style, self.width(" ", style), space=True))
                elif token in _NO_END:
                    opening += token
                elif (
                    token in _NO_START
                    and not opening
                    and pieces
                    and not pieces[-1].space
                    and not pieces[-1].newline
                    and pieces[-1].style == style
                ):
                    last = pieces[-1]
                    last.text += token
                    last.width += self.width(token, style)
                else:
                    chunk = opening + token
                    opening = ""
                    pieces.append(_Piece(chunk, style, self.width(chunk, style)))
            if opening:
                pieces.append(_Piece(opening, style, self.width(opening, style)))
        return pieces

    def lines(self, para: Para, width: float, strut: Style | None = BODY) -> list[Line]:
        """``para`` broken into lines at most ``width`` points wide; each line at least as
        tall as a line of ``strut`` (as CSS makes lines of a smaller font in a table cell)."""
        out: list[Line] = []
        current: list[_Piece] = []
        x = 0.0
        default_style = para[0][1] if para else BODY

        def flush() -> None:
            nonlocal current, x
            while current and current[-1].space:
                x -= current.pop().width
            out.append(self._line(current or [_Piece("", default_style, 0.0)], strut))
            current, x = [], 0.0

        queue = list(reversed(self._pieces(para)))
        while queue:
            piece = queue.pop()
            if piece.newline:
                flush()
                continue
            if piece.space:
                if current:
                    current.append(piece)
                    x += piece.width
                continue
            if x + piece.width <= width + 0.01:
                current.append(piece)
                x += piece.width
                continue
            if piece.style.anywhere or piece.width > width:
                head, tail = self._split(piece, width - x)
                if head is None:  # not even one character fits after what is there
                    flush()
                    queue.append(piece)
                    continue
                current.append(head)
                x += head.width
                flush()
                if tail is not None:
                    queue.append(tail)
                continue
            flush()
            queue.append(piece)
        if current or not out:
            flush()
        return out

    def _split(self, piece: _Piece, room: float) -> tuple[_Piece | None, _Piece | None]:
        used = 0.0
        for i, c in enumerate(piece.text):
            w = self.width(c, piece.style)
            if used + w > room + 0.01:
                if i == 0:
                    return None, piece
                head, tail = piece.text[:i], piece.text[i:]
                return (
                    _Piece(head, piece.style, used),
                    _Piece(tail, piece.style, piece.width - used),
                )
            used += w
        return piece, None

    def _line(self, pieces: list[_Piece], strut: Style | None) -> Line:
        runs: list[tuple[float, str, Style]] = []
        x = 0.0
        above = below = 0.0
        for s in [strut] if strut is not None else []:
            half = s.size * (s.leading - _ASCENT - _DESCENT) / 2
            above, below = half + _ASCENT * s.size, half + _DESCENT * s.size
        for p in pieces:
            s = p.style
            half = s.size * (s.leading - _ASCENT - _DESCENT) / 2
            above = max(above, half + _ASCENT * s.size)
            below = max(below, half + _DESCENT * s.size)
            if runs and runs[-1][2] == s and p.text:
                runs[-1] = (runs[-1][0], runs[-1][1] + p.text, s)
            elif p.text:
                runs.append((x, p.text, s))
            x += p.width
        return Line(runs, x, above, above + below)


# -- blocks and the page flow ------------------------------------------------------------------


@dataclass
class Cell:
    lines: list[Line]
    background: Color | None = None

    @property
    def height(self) -> float:
        return sum(line.height for line in self.lines) + 2 * PAD_Y


class Flow:
    """Pages with a cursor ``y``; starts a new page when what comes next does not fit."""

    def __init__(self, ts: Typesetter) -> None:
        self.ts = ts
        self.pages: list[Page] = []
        self.y = 0.0
        self.new_page()

    @property
    def bottom(self) -> float:
        return PAGE_H - MARGIN_BOTTOM

    @property
    def page(self) -> Page:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append(Page(PAGE_W, PAGE_H))
        self.y = MARGIN_TOP

    def at_top(self) -> bool:
        return self.y <= MARGIN_TOP + 0.01

    def ensure(self, height: float) -> None:
        if self.y + height > self.bottom and not self.at_top():
            self.new_page()

    def draw_lines(
        self, lines: Sequence[Line], x: float, y: float, align: str = "left", width: float = 0.0
    ) -> float:
        for line in lines:
            shift = width - line.width if align == "right" else 0.0
            for dx, text, style in line.runs:
                self.page.text(
                    x + shift + dx, y + line.above, style.size, style.color, text, style.spacing
                )
            y += line.height
        return y

    def paragraph(
        self,
        para: Para,
        *,
        x: float = MARGIN_SIDE,
        width: float = CONTENT_W,
        space_before: float = 0.0,
        strut: Style | None = BODY,
    ) -> None:
        self.y += space_before
        for line in self.ts.lines(para, width, strut):
            self.ensure(line.height)
            self.draw_lines([line], x, self.y)
            self.y += line.height

    def heading(
        self,
        zh: str,
        en: str,
        *,
        x: float = MARGIN_SIDE,
        width: float = CONTENT_W,
        first: bool = False,
    ) -> None:
        lines = self.ts.lines(
            [(zh + " ", Style(10.5)), (en, Style(8.6, _hex("#444")))],
            width - 1.2 * MM - 3 * MM,
            strut=Style(10.5),
        )
        height = sum(line.height for line in lines) + 1.2 * MM
        self.y += 0 if first else 4 * MM
        self.ensure(height + 12 * MM)  # never a heading alone at the foot of a page
        page = self.page
        page.rect(x, self.y, width, height, fill=BAR)
        page.rect(x, self.y, 1.2 * MM, height, fill=BLUE)
        self.draw_lines(lines, x + 1.2 * MM + 1.5 * MM, self.y + 0.6 * MM)
        self.y += height + 1 * MM

    def table(
        self,
        rows: Sequence[tuple[Cell, Cell]],
        *,
        x: float = MARGIN_SIDE,
        width: float = CONTENT_W,
        first: float = 0.3,
    ) -> None:
        """Two-column rows (first column ``first`` of the width), bordered like the HTML had."""
        w1 = width * first
        for left, right in rows:
            self._row(left, right, x, w1, width - w1)

    def _row(self, left: Cell, right: Cell, x: float, w1: float, w2: float) -> None:
        left_lines, right_lines = list(left.lines), list(right.lines)
        while True:
            height = max(_height(left_lines), _height(right_lines)) + 2 * PAD_Y
            if self.y + height > self.bottom and not self.at_top():
                room = self.bottom - self.y - 2 * PAD_Y
                if room < 3 * BODY.size or (height <= self.bottom - MARGIN_TOP):
                    self.new_page()
                    continue
            room = self.bottom - self.y - 2 * PAD_Y
            l_now, l_rest = _take(left_lines, room)
            r_now, r_rest = _take(right_lines, room)
            height = max(_height(l_now), _height(r_now)) + 2 * PAD_Y
            page = self.page
            if left.background is not None:
                page.rect(x, self.y, w1, height, fill=left.background)
            if right.background is not None:
                page.rect(x + w1, self.y, w2, height, fill=right.background)
            page.rect(x, self.y, w1, height, stroke=BORDER, line_width=0.3)
            page.rect(x + w1, self.y, w2, height, stroke=BORDER, line_width=0.3)
            self.draw_lines(l_now, x + PAD_X, self.y + PAD_Y)
            self.draw_lines(r_now, x + w1 + PAD_X, self.y + PAD_Y)
            self.y += height
            if not l_rest and not r_rest:
                return
            left_lines, right_lines = l_rest, r_rest
            self.new_page()


def _height(lines: Sequence[Line]) -> float:
    return sum(line.height for line in lines)


def _take(lines: list[Line], room: float) -> tuple[list[Line], list[Line]]:
    used = 0.0
    for i, line in enumerate(lines):
        if used + line.height > room + 0.01:
            return lines[: max(i, 1)], lines[max(i, 1) :]
        used += line.height
    return lines, []


# -- the certificate -----------------------------------------------------------------------------


def label_cell(ts: Typesetter, zh: str, en: str, width: float) -> Cell:
    """A bilingual label: the Chinese above, the English in grey below."""
    return Cell(ts.lines([(zh + "\n", BODY), (en, EN_LABEL)], width - 2 * PAD_X), TH_BG)


def value_cell(ts: Typesetter, width: float, *paras: Para) -> Cell:
    """A value cell of one or more paragraphs (an empty one is left out)."""
    lines: list[Line] = []
    for para in paras:
        if para:
            lines += ts.lines(para, width - 2 * PAD_X)
    return Cell(lines)


def row_cells(
    ts: Typesetter, zh: str, en: str, *paras: Para, width: float = CONTENT_W
) -> tuple[Cell, Cell]:
    """A bilingual label cell (30 %) and a value cell of one or more paragraphs."""
    return label_cell(ts, zh, en, width * 0.3), value_cell(ts, width * 0.7, *paras)


def title_header(
    flow: Flow, title_zh: str, title_en: str, number_label: str, number: str, *lines: str
) -> None:
    """The title on the left; the document's number, issuer and ``lines`` on the right (the
    head of the certificate and of the comparison report)."""
    ts = flow.ts
    id_w = 80 * MM
    id_style = Style(7.6, DARK_GREY, anywhere=True)
    id_lines = ts.lines(
        [
            (number_label + "\n", id_style),
            (number + ("\n" if lines else ""), Style(7.4, DARK_GREY, anywhere=True)),
            ("\n".join(lines), id_style),
        ],
        id_w,
        strut=id_style,
    )
    id_bottom = flow.draw_lines(id_lines, PAGE_W - MARGIN_SIDE - id_w, MARGIN_TOP, "right", id_w)
    title_w = CONTENT_W - id_w
    title = ts.lines([(title_zh, Style(17, spacing=1.0))], title_w, strut=None)
    title += ts.lines([(title_en, Style(10, DARK_GREY))], title_w, strut=None)
    flow.y = max(id_bottom, flow.draw_lines(title, MARGIN_SIDE, MARGIN_TOP))


def closing_statement(flow: Flow, text: str) -> None:
    """The issuer's statement under the last section."""
    statement = Style(7.6, DARK_GREY)
    flow.paragraph([(text, statement)], space_before=3 * MM, strut=statement)


def page_footers(flow: Flow, left: str) -> None:
    """``left`` and "page n of N" at the foot of every page (drawn once all pages exist)."""
    ts = flow.ts
    small = Style(7, GREY)
    total = len(flow.pages)
    for n, page in enumerate(flow.pages, 1):
        baseline = PAGE_H - MARGIN_BOTTOM + 8 * MM
        page.text(MARGIN_SIDE, baseline, small.size, small.color, left)
        right = f"第 {n} / {total} 页  Page {n} of {total}"
        page.text(
            PAGE_W - MARGIN_SIDE - ts.width(right, small), baseline, small.size, small.color, right
        )


def _fmt(value: Any, fmt: str) -> str:
    try:
        return fmt % float(value)
    except (TypeError, ValueError):
        return "—"


def _layout(
    flow: Flow,
    f: dict[str, Any],
    thumbnail: JpegImage | None,
    thumb_index: int,
    qr: Sequence[Sequence[bool]],
) -> None:
    _header(flow, f)
    _captured(flow, f)
    _trusted_time(flow, f)
    _environment(flow, f, thumbnail, thumb_index)
    _hashes(flow, f)
    _log(flow, f)
    _verify_box(flow, f, qr)
    closing_statement(flow, STATEMENT.format(service=f["service"]))


def _header(flow: Flow, f: dict[str, Any]) -> None:
    title_header(
        flow,
        "电子数据取证证书",
        TITLE_EN,
        "证书编号 Certificate no.",
        str(f["capture_id"]),
        f"出具方 Issued by: {f['service']}",
    )


def _captured(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    target = f["target"]
    outcome: list[Para]
    if target.get("outcome") == "complete":
        outcome = [[("完整 complete", OK)]]
    else:
        limits = ", ".join(str(x) for x in target.get("limits_hit") or [])
        outcome = [[(f"不完整（触发限制）partial, limits hit: {limits}", WARN)]]
    if target.get("authenticated"):
        names = ", ".join(str(x) for x in target.get("cookie_names") or []) or "—"
        text = f"登录状态取证 authenticated capture (cookie names: {names}; values not recorded)"
        outcome.append([(text, BODY)])
    title = f"{target.get('title') or '—'}  /  {target.get('http_status')}"
    flow.heading("取证对象", "What was captured")
    flow.table(
        [
            row_cells(ts, "请求网址", "Requested URL", [(str(target.get("requested_url")), URL)]),
            row_cells(
                ts, "最终网址", "Final URL (after redirects)", [(str(target.get("final_url")), URL)]
            ),
            row_cells(ts, "页面标题 / HTTP 状态", "Page title / HTTP status", [(title, BODY)]),
            row_cells(ts, "取证结果", "Outcome", *outcome),
        ]
    )


def _trusted_time(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    tt = f["trusted_time"]
    clock = f["local_clock"]
    if clock.get("clock_measured"):
        offset = (
            "本机时钟与时间戳机构偏差 local clock offset to the TSA: "
            f"{_fmt(clock.get('clock_offset_seconds'), '%+.3f')} s "
            f"(± {_fmt(clock.get('clock_uncertainty_seconds'), '%.3f')} s)"
        )
    else:
        offset = "本机时钟偏差未测量 clock offset not measured"
    rows = [
        row_cells(
            ts,
            "可信时间（UTC）",
            "Trusted time, UTC",
            [(str(tt["gen_time_display"]), STRONG)],
            [(TRUSTED_NOTE.format(beijing=tt["gen_time_beijing"]), NOTE)],
        ),
        row_cells(
            ts,
            "时间戳机构",
            "Time-stamp authority",
            [(str(tt["tsa"]), BODY)],
            [(f"策略 policy {tt['policy']}", NOTE_HASH)],
        ),
        row_cells(
            ts,
            "时间戳序列号",
            "Token serial number",
            [(f"{tt['serial']} (hex {tt['serial_hex']})", HASH)],
            [(f"文件 file: {tt['token_file']}", NOTE)],
        ),
    ]
    for i, extra in enumerate(f.get("additional_timestamps") or []):
        rows.append(
            row_cells(
                ts,
                f"其他时间戳 {i + 2}",
                "Further time-stamp",
                [(f"{extra['gen_time_display']} · {extra['tsa']}", BODY)],
                [(f"serial {extra['serial']} · {extra['token_file']}", NOTE_HASH)],
            )
        )
    started, ended = clock["capture_started_display"], clock["capture_ended_display"]
    rows.append(
        row_cells(
            ts,
            "取证起止（本机时钟）",
            "Capture start – end (local clock)",
            [(f"{started} – {ended}", BODY)],
            [(LOCAL_NOTE.format(offset=offset), NOTE)],
        )
    )
    flow.heading("可信时间", "Trusted time (RFC 3161 time-stamp of the capture manifest)")
    flow.table(rows)


def _environment(
    flow: Flow, f: dict[str, Any], thumbnail: JpegImage | None, thumb_index: int
) -> None:
    """The environment checks in a column beside the screenshot thumbnail (when there is one)."""
    ts = flow.ts
    env = f["environment"]
    x, width = MARGIN_SIDE, CONTENT_W
    thumb_w, thumb_h = 60 * MM, 0.0
    note: list[Line] = []
    if thumbnail is not None:
        thumb_h = thumb_w * thumbnail.height / max(thumbnail.width, 1)
        note = ts.lines([(THUMB_NOTE, NOTE)], thumb_w, strut=NOTE)
        x, width = MARGIN_SIDE + 64 * MM, CONTENT_W - 64 * MM

    def row(zh: str, en: str, *paras: Para) -> tuple[Cell, Cell]:
        return row_cells(ts, zh, en, *paras, width=width)

    rows = [
        row(
            "浏览器环境",
            "Browser profile",
            [("全新、隔离的浏览器环境 fresh isolated profile", OK)]
            if env.get("clean_profile")
            else [("未确认 not confirmed", WARN)],
            [(str(env.get("browser") or ""), NOTE)],
        ),
        row(
            "代理",
            "Proxy",
            [("使用了代理 a proxy was used", WARN)]
            if env.get("proxy_used")
            else [("未使用代理 no proxy (direct connection)", OK)],
            [(PROXY_ENV_NOTE, NOTE)] if env.get("proxy_in_environment") else [],
        ),
        row(
            "DNS 服务器", "DNS resolvers", [(", ".join(env.get("nameservers") or []) or "—", BODY)]
        ),
    ]
    for h in env.get("hosts") or []:
        dns = ", ".join(h.get("dns_addresses") or []) or "—"
        literal = " (IP 地址 literal)" if h.get("ip_literal") else ""
        entries: Span = (
            ("; ".join(h["hosts_entries"]), WARN)
            if h.get("hosts_entries")
            else ("无条目 no entry", OK)
        )
        rows.append(
            row(
                str(h.get("host")),
                "DNS answer / hosts file / local address",
                [(f"DNS: {dns}{literal}", BODY)],
                [("hosts 文件 file: ", BODY), entries],
                [(f"本机出口地址 outgoing address: {h.get('outgoing_address') or '—'}", BODY)],
            )
        )
    server = f["server"]
    where = f"IP {server.get('ip') or '—'}" + (f":{server['port']}" if server.get("port") else "")
    server_paras: list[Para] = [[(f"{where} · {server.get('protocol') or ''}", BODY)]]
    tls = server.get("tls")
    if tls:
        server_paras += [
            [(f"TLS 证书 certificate: {tls.get('subject')}", BODY)],
            [(f"签发者 issuer: {tls.get('issuer')}", NOTE)],
            [(f"SHA-256 {tls.get('sha256')}", NOTE_HASH)],
        ]
    else:
        server_paras.append([("未使用 TLS / no TLS (plain HTTP)", NOTE)])
    rows.append(row("服务器", "Server", *server_paras))

    flow.y += 4 * MM
    side = thumb_h + _height(note) + 2 * MM
    flow.ensure(max(side, 10 * MM + rows[0][0].height))
    top, page_count = flow.y, len(flow.pages)
    if thumbnail is not None:
        flow.page.image(thumb_index, MARGIN_SIDE, top + 1 * MM, thumb_w, thumb_h)
        flow.page.rect(
            MARGIN_SIDE, top + 1 * MM, thumb_w, thumb_h, stroke=_hex("#888"), line_width=0.3
        )
        flow.draw_lines(note, MARGIN_SIDE, top + 1 * MM + thumb_h + 1 * MM)
    flow.heading(
        "取证环境与清洁性检查", "Capture environment and checks", x=x, width=width, first=True
    )
    flow.table(rows, x=x, width=width)
    if len(flow.pages) == page_count:
        flow.y = max(flow.y, top + 1 * MM + side)


def _hashes(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    col1, col2 = CONTENT_W * 0.3, CONTENT_W * 0.7
    path_style = Style(8.6, anywhere=True)
    rows = [
        (
            value_cell(ts, col1, [(str(path), path_style)]),
            value_cell(ts, col2, [(str(digest), HASH)]),
        )
        for path, digest in (f.get("files") or {}).items()
    ]
    manifest = f["manifest"]
    rows.append(
        (
            value_cell(
                ts,
                col1,
                [(str(manifest["path"]), path_style)],
                [("取证清单 manifest (日志条目 log leaf input)", NOTE)],
            ),
            value_cell(ts, col2, [(f"sha256:{manifest['sha256']}", HASH)]),
        )
    )
    flow.heading("文件完整性（SHA-256）", "File hashes (SHA-256) as listed in the capture manifest")
    flow.table(rows)


def _log(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    entry = f["transparency_log"]
    flow.heading("透明日志", "Transparency log entry (RFC 9162)")
    flow.table(
        [
            row_cells(ts, "日志标识", "Log id", [(str(entry.get("log_id")), HASH)]),
            row_cells(ts, "条目序号", "Leaf index", [(str(entry.get("leaf_index")), BODY)]),
            row_cells(ts, "叶哈希", "Leaf hash", [(str(entry.get("leaf_hash")), HASH)]),
            row_cells(ts, "日志地址", "Log URL", [(str(entry.get("log_url")), URL)]),
        ]
    )


def _verify_box(flow: Flow, f: dict[str, Any], qr: Sequence[Sequence[bool]]) -> None:
    """QR code and link, kept together on one page."""
    ts = flow.ts
    pad, qr_size = 2 * MM, 30 * MM
    text_w = CONTENT_W - 2 * pad - qr_size - 4 * MM
    lines = ts.lines([("在线核验 Verify online", STRONG)], text_w, strut=None)
    lines += ts.lines([(str(f["verify_url"]), URL)], text_w)
    lines += ts.lines([(VERIFY_NOTE, NOTE)], text_w, strut=NOTE)
    box_h = max(qr_size, _height(lines)) + 2 * pad
    flow.y += 2 * MM
    flow.ensure(box_h)
    top = flow.y
    flow.page.rect(MARGIN_SIDE, top, CONTENT_W, box_h, stroke=BLUE, line_width=0.5)
    _draw_qr(flow.page, qr, MARGIN_SIDE + pad, top + pad, qr_size)
    flow.draw_lines(lines, MARGIN_SIDE + pad + qr_size + 4 * MM, top + pad)
    flow.y = top + box_h


def _draw_qr(page: Page, matrix: Sequence[Sequence[bool]], x: float, y: float, size: float) -> None:
    if not matrix:
        return
    cell = size / len(matrix)
    squares = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                squares.append((x + start * cell, y + r * cell, (c - start) * cell, cell))
            else:
                c += 1
    page.squares(squares, (0.0, 0.0, 0.0))


def _footer(flow: Flow, f: dict[str, Any]) -> None:
    page_footers(flow, f"{f['service']} · {f['capture_id']}")


@functools.lru_cache(maxsize=1)
def _font_location() -> tuple[Path, int]:
    if FONT_FILE.is_file():
        return FONT_FILE, FONT_INDEX
    exe = shutil.which("fc-match")
    if exe is not None:
        proc = subprocess.run(
            [exe, "-f", "%{file}|%{index}", FONT_FAMILY], capture_output=True, text=True, timeout=10
        )
        path, _, index = proc.stdout.strip().partition("|")
        if proc.returncode == 0 and "wqy" in Path(path).name.lower() and Path(path).is_file():
            return Path(path), int(index or 0)
    raise FontError(
        f"the CJK font {FONT_FAMILY!r} is not installed (Debian: apt-get install "
        "fonts-wqy-zenhei); the evidence certificate cannot show Chinese without it"
    )


def certificate_face() -> TrueTypeFace:
    """The certificate's face, read once per process."""
    path, index = _font_location()
    return load_face(path, index)


_ICC: bytes | None = None
_ICC_LOCK = threading.Lock()


def srgb_profile() -> bytes:
    """An sRGB ICC profile for the PDF/A output intent (LittleCMS's built-in, via Pillow)."""
    global _ICC
    with _ICC_LOCK:
        if _ICC is None:
            from PIL import ImageCms

            _ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        return _ICC


def render_certificate_pdf(
    facts: dict[str, Any],
    *,
    thumbnail: JpegImage | None,
    qr: Sequence[Sequence[bool]],
    attachment: bytes,
    face: TrueTypeFace | None = None,
) -> bytes:
    """The unsigned certificate (PDF/A-3b) with ``attachment`` as ``certificate.json``."""
    face = face or certificate_face()
    issued = _issued(facts)
    doc = PdfDocument(
        face=face,
        title=f"电子数据取证证书 / Evidence Capture Certificate {facts['capture_id']}",
        author=str(facts["service"]),
        subject=str((facts.get("target") or {}).get("final_url") or ""),
        created=issued,
        icc_profile=srgb_profile(),
    )
    thumb_index = doc.add_image(thumbnail) if thumbnail is not None else -1
    flow = Flow(Typesetter(face))
    _layout(flow, facts, thumbnail, thumb_index, qr)
    _footer(flow, facts)
    doc.pages = flow.pages
    doc.attach(
        "certificate.json",
        attachment,
        mime="application/json",
        description="Facts stated by this certificate (machine-readable)",
    )
    return doc.write()


def _issued(facts: dict[str, Any]) -> datetime:
    text = facts.get("issued_at")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)
