"""The comparison report's page layout: ``comparison.json`` facts + the two highlighted
screenshots -> PDF/A-3b bytes, drawn with the evidence certificate's typesetter and writer
(:mod:`evidence_service.sealing.certificate_layout`, :mod:`evidence_service.sealing.pdf`).

Sections: the two packages (capture, addresses, HTTP status, trusted time and TSA, package and
manifest SHA-256, what the verifier found), the summary, the changed fields (old -> new), the
text lines removed and added, the images removed and added (by SHA-256), and the screenshots
side by side with the changed regions highlighted. Every value shown comes from ``facts``
(attached as ``comparison.json``); the page only presents them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evidence_service.sealing.certificate_layout import (
    BODY,
    BORDER,
    CONTENT_W,
    GREY,
    HASH,
    MARGIN_BOTTOM,
    MARGIN_SIDE,
    MM,
    NOTE,
    OK,
    PAGE_H,
    URL,
    WARN,
    Flow,
    Style,
    Typesetter,
    certificate_face,
    closing_statement,
    page_footers,
    row_cells,
    srgb_profile,
    title_header,
)
from evidence_service.sealing.pdf.truetype import TrueTypeFace
from evidence_service.sealing.pdf.writer import JpegImage, PdfDocument

__all__ = ["REPORT_TITLE", "render_comparison_pdf"]

REPORT_TITLE = "电子数据比对报告"
REPORT_TITLE_EN = "Comparison of two sealed captures"
#: At most this many text lines of each kind are printed (all are in comparison.json).
MAX_PRINTED_LINES = 300
REMOVED = Style(8.6, (0.66, 0.0, 0.0), anywhere=True)
ADDED = Style(8.6, (0.0, 0.42, 0.1), anywhere=True)
STATEMENT = (
    "本报告由 {service} 根据两份已封存的证据包自动生成，并以服务电子签章签名（PAdES）。"
    "报告所载事实以嵌入的 comparison.json 为准；可用 evidence verify 报告 --package A "
    "--package B 离线核验本报告及其所引用的两份证据包。\nThis report was generated "
    "automatically by {service} from two sealed evidence packages and is signed with the "
    "service's electronic seal (PAdES). Its facts are those of the embedded comparison.json; "
    "`evidence verify REPORT --package A --package B` checks it, and that the two packages "
    "given are the ones it cites, offline."
)
SHOT_NOTE = (
    "红色：A 中已消失或改变的区域；绿色：B 中新增或改变的区域（两图按内容逐行对齐后比较）。\n"
    "Red: regions of A gone or changed; green: regions of B new or changed (the two are "
    "aligned row by row on their content before comparing)."
)
_FIELD_NAMES = {
    "price": ("价格", "Price"),
    "original_price": ("原价", "Original price"),
    "product_name": ("商品名称", "Product name"),
    "shop": ("店铺", "Shop"),
    "credit_code": ("统一社会信用代码", "Credit code"),
    "availability": ("库存", "Availability"),
    "http_status": ("HTTP 状态", "HTTP status"),
    "final_url": ("最终网址", "Final URL"),
    "title": ("页面标题", "Page title"),
}
_VERDICTS = {
    "TOTAL-PASSED": ("核验通过", OK),
    "TOTAL-FAILED": ("核验失败", WARN),
    "INDETERMINATE": ("无法确定", WARN),
}


def _header(flow: Flow, f: dict[str, Any]) -> None:
    title_header(
        flow,
        REPORT_TITLE,
        REPORT_TITLE_EN,
        "报告编号 Report no.",
        str(f["report_id"]),
        f"出具方 Issued by: {f['service']}",
        f"出具时间 Issued at: {f['issued_at']}",
    )


def _package(flow: Flow, letter: str, zh: str, en: str, p: dict[str, Any]) -> None:
    ts = flow.ts
    verdict = p.get("verification") or {}
    indication = str(verdict.get("indication") or "")
    word, style = _VERDICTS.get(indication, ("未核验", WARN))
    sub = f" {verdict['sub_indication']}" if verdict.get("sub_indication") else ""
    flow.heading(f"证据包 {letter}（{zh}）", f"Package {letter} ({en})")
    tsa = f"{p.get('tsa') or '—'} · 序列号 serial {p.get('tsa_serial') or '—'}"
    flow.table(
        [
            row_cells(ts, "取证编号", "Capture id", [(str(p.get("capture_id") or "—"), HASH)]),
            row_cells(ts, "请求网址", "Requested URL", [(str(p.get("requested_url") or "—"), URL)]),
            row_cells(ts, "最终网址", "Final URL", [(str(p.get("final_url") or "—"), URL)]),
            row_cells(
                ts,
                "页面标题 / HTTP 状态",
                "Page title / HTTP status",
                [(f"{p.get('title') or '—'}  /  {p.get('http_status') or '—'}", BODY)],
            ),
            row_cells(
                ts,
                "可信时间",
                "Trusted time (RFC 3161)",
                [(str(p.get("trusted_time") or "—"), BODY)],
                [(tsa, NOTE)],
            ),
            row_cells(ts, "证据包 SHA-256", "Package SHA-256", [(str(p.get("sha256")), HASH)]),
            row_cells(
                ts,
                "取证清单 SHA-256",
                "Manifest SHA-256",
                [(str(p.get("manifest_sha256") or "—"), HASH)],
            ),
            row_cells(
                ts,
                "离线核验",
                "Verified (offline verifier)",
                [(f"{word} {indication}{sub}", style)],
            ),
        ]
    )


def _summary(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    text, fields, images = f["text"], f["fields"], f["images"]
    visual = f.get("visual")
    share = (
        f"{visual['changed_pixel_share'] * 100:.2f} %（{visual['changed_pixels']} / "
        f"{visual['total_pixels']} 像素 pixels）"
        if visual
        else "— 无截图 no screenshot"
    )
    gone: list[tuple[str, Style]] = (
        [("是：B 中页面已不存在或被重定向 yes: the page is gone or redirected in B", WARN)]
        if f.get("page_gone")
        else [("否 no", BODY)]
    )
    flow.heading("比对结果摘要", "Summary")
    flow.table(
        [
            row_cells(ts, "页面消失", "Page gone in B", gone),
            row_cells(
                ts,
                "文本行",
                "Text lines",
                [(f"删除 removed {len(text['removed'])} · 新增 added {len(text['added'])}", BODY)],
            ),
            row_cells(ts, "字段变化", "Changed fields", [(str(len(fields["changed"])), BODY)]),
            row_cells(
                ts,
                "图片（按哈希）",
                "Images (by hash)",
                [
                    (
                        f"删除 removed {len(images['removed'])} · 新增 added "
                        f"{len(images['added'])} · 未变 unchanged {images['kept']}",
                        BODY,
                    )
                ],
            ),
            row_cells(ts, "截图变化像素占比", "Changed pixels (screenshots)", [(share, BODY)]),
        ]
    )


def _fields(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    changed = f["fields"]["changed"]
    flow.heading("字段变化", "Changed fields (A -> B)")
    if not changed:
        flow.paragraph([("无变化 no field changed", BODY)])
        return
    rows = []
    for c in changed:
        zh, en = _FIELD_NAMES.get(c["field"], (c["field"], c["field"]))
        rows.append(
            row_cells(
                ts,
                zh,
                en,
                [("A: ", BODY), (str(c["old"] if c["old"] is not None else "—"), REMOVED)],
                [("B: ", BODY), (str(c["new"] if c["new"] is not None else "—"), ADDED)],
            )
        )
    flow.table(rows)


def _lines(flow: Flow, f: dict[str, Any]) -> None:
    text = f["text"]
    flow.heading("文本变化", "Visible text: lines removed (-) and added (+)")
    if not text["removed"] and not text["added"]:
        flow.paragraph([("无变化 no line changed", BODY)])
        return
    for sign, lines, style in (("- ", text["removed"], REMOVED), ("+ ", text["added"], ADDED)):
        for line in lines[:MAX_PRINTED_LINES]:
            flow.paragraph([(sign + str(line), style)], space_before=0.4 * MM)
        if len(lines) > MAX_PRINTED_LINES:
            more = len(lines) - MAX_PRINTED_LINES
            flow.paragraph([(f"…另有 {more} 行 {more} more lines in comparison.json", NOTE)])
    source = f["a"].get("text_source")
    flow.paragraph(
        [
            (
                "文本取自取证时浏览器排版的页面（files/page.pdf 的文字层，非 OCR）"
                " / text as the browser laid the page out (the text layer of files/page.pdf, "
                f"not OCR); source: {source}",
                NOTE,
            )
        ],
        space_before=1.5 * MM,
        strut=NOTE,
    )


def _images(flow: Flow, f: dict[str, Any]) -> None:
    ts = flow.ts
    images = f["images"]
    flow.heading("图片变化（按 SHA-256）", "Images removed and added (by SHA-256 of their bytes)")
    if not images["removed"] and not images["added"]:
        flow.paragraph([("无变化 no image changed", BODY)])
        return
    rows = []
    for zh, en, style, refs in (
        ("删除", "removed", REMOVED, images["removed"]),
        ("新增", "added", ADDED, images["added"]),
    ):
        for ref in refs:
            rows.append(
                row_cells(
                    ts,
                    zh,
                    en,
                    [(f"sha256:{ref['sha256']}", Style(7.4, style.color, anywhere=True))],
                    [(", ".join(ref["urls"]), Style(7.4, GREY, anywhere=True))],
                )
            )
    flow.table(rows)


def _screenshots(flow: Flow, shots: tuple[tuple[int, JpegImage] | None, ...]) -> None:
    ts = flow.ts
    flow.new_page()
    flow.heading("截图比对", "Screenshots side by side, changed regions highlighted", first=True)
    gap = 6 * MM
    col_w = (CONTENT_W - gap) / 2
    note = ts.lines([(SHOT_NOTE, NOTE)], CONTENT_W, strut=NOTE)
    room = PAGE_H - MARGIN_BOTTOM - flow.y - 8 * MM - sum(line.height for line in note)
    top = flow.y + 5 * MM
    for n, (shot, label) in enumerate(zip(shots, ("A", "B"), strict=True)):
        x = MARGIN_SIDE + n * (col_w + gap)
        flow.draw_lines(ts.lines([(f"证据包 Package {label}", BODY)], col_w), x, flow.y)
        if shot is None:
            flow.draw_lines(ts.lines([("无截图 no screenshot", NOTE)], col_w), x, top)
            continue
        index, image = shot
        w = col_w
        h = w * image.height / max(image.width, 1)
        if h > room:
            h = room
            w = h * image.width / max(image.height, 1)
        flow.page.image(index, x, top, w, h)
        flow.page.rect(x, top, w, h, stroke=BORDER, line_width=0.3)
    flow.y = top + room + 2 * MM
    flow.draw_lines(note, MARGIN_SIDE, flow.y)
    flow.y += sum(line.height for line in note)


def _footer(flow: Flow, f: dict[str, Any]) -> None:
    page_footers(flow, f"{f['service']} · {REPORT_TITLE} {f['report_id']}")


def render_comparison_pdf(
    facts: dict[str, Any],
    *,
    shots: tuple[JpegImage | None, JpegImage | None],
    attachment: bytes,
    face: TrueTypeFace | None = None,
) -> bytes:
    """The unsigned report (PDF/A-3b) with ``attachment`` as ``comparison.json``."""
    face = face or certificate_face()
    try:
        issued = datetime.fromisoformat(str(facts["issued_at"]).replace("Z", "+00:00"))
    except ValueError:
        issued = datetime.now(UTC)
    doc = PdfDocument(
        face=face,
        title=f"{REPORT_TITLE} / {REPORT_TITLE_EN} {facts['report_id']}",
        author=str(facts["service"]),
        subject=str(facts["a"].get("final_url") or ""),
        created=issued,
        icc_profile=srgb_profile(),
    )
    placed = tuple(None if s is None else (doc.add_image(s), s) for s in shots)
    flow = Flow(Typesetter(face))
    _header(flow, facts)
    _package(flow, "A", "较早", "earlier", facts["a"])
    _package(flow, "B", "较晚", "later", facts["b"])
    _summary(flow, facts)
    _fields(flow, facts)
    _lines(flow, facts)
    _images(flow, facts)
    _screenshots(flow, placed)
    closing_statement(flow, STATEMENT.format(service=facts["service"]))
    _footer(flow, facts)
    doc.pages = flow.pages
    doc.attach(
        "comparison.json",
        attachment,
        mime="application/json",
        description="Facts stated by this comparison report (machine-readable)",
    )
    return doc.write()
