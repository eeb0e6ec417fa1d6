"""Data -> HTML (Jinja2) -> PDF/A-3b (``signing.pdf_render``) with the data attached and the
signature slots in place.

Why this shape:

* The PDF is rendered from the *validated* model only (:func:`~.types.validate_data` first),
  so a document never shows data its schema did not accept.
* The data travels inside the PDF as ``document.json`` (canonical JSON, AFRelationship
  ``Data``): a machine reads exactly what a person reads, and the signatures cover it.
* Signature slots: the template draws each slot as a box with a known id
  (``sigslot-<name>``); WeasyPrint writes every id as a named destination, which gives the
  page and the top-left corner of the box in PDF points. An empty signature field of the
  box's size is then added there (see ``types`` for why the fields exist before signing).
* Chinese is the authoritative text; ``english=True`` adds English labels, the English
  boilerplate and the ``translations`` given in the data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from pydantic import BaseModel

from signing.pdf_render import Attachment, render_pdf

from .types import DocumentType, document_type, validate_data

__all__ = [
    "ATTACHMENT_NAME",
    "SLOT_HEIGHT_MM",
    "SLOT_WIDTH_MM",
    "RenderedDocument",
    "render_document",
    "render_html",
    "rmb_upper",
]

ATTACHMENT_NAME = "document.json"
DOCUMENT_JSON_TYPE = "administrative-document"
SLOT_WIDTH_MM = 52
SLOT_HEIGHT_MM = 26
_PT_PER_MM = 72 / 25.4
BEIJING = dt.timezone(dt.timedelta(hours=8), "UTC+8")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class RenderedDocument:
    path: Path
    sha256: str
    template: str
    #: The validated data as JSON values (what ``document.json`` holds under ``data``).
    data: dict[str, Any]


# -- formatting helpers (template globals) ---------------------------------------------------

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _four(group: int) -> str:
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        digit = group // 10**pos % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _UNITS[pos]
    return out


def rmb_upper(amount: Decimal | int | str) -> str:
    """The amount in Chinese financial numerals (大写), e.g. 100500 -> 壹拾万零伍佰元整."""
    cents = int((Decimal(amount) * 100).quantize(Decimal(1)))
    if cents < 0:
        raise ValueError("a negative amount has no 大写 form")
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    text = ""
    if yuan:
        groups = []
        while yuan:
            groups.append(yuan % 10000)
            yuan //= 10000
        pending_zero = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                pending_zero = bool(text)
                continue
            if text and (group < 1000 or pending_zero):
                text += "零"
            text += _four(group) + _GROUPS[index]
            pending_zero = False
        text += "元"
    if not jiao and not fen:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return text


def _cn_date(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _cn_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    local = value.astimezone(BEIJING)
    return f"{_cn_date(local.date())} {local:%H:%M:%S}（北京时间）"


def _utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(value: Decimal) -> str:
    return f"人民币 {value:,.2f} 元（{rmb_upper(value)}）"


def _cite(citation: Any) -> str:
    return str(citation.cite())


def _paragraphs(text: str) -> Markup:
    return Markup("".join(f"<p>{escape(p)}</p>" for p in text.splitlines() if p.strip()))


class _Context:
    """Helpers the templates call, bound to one document and language setting."""

    def __init__(self, model: BaseModel, english: bool) -> None:
        self.model = model
        self.english = english
        self.translations: Mapping[str, str] = getattr(model, "translations", {}) or {}

    def label(self, zh: str, en: str) -> Markup:
        if not self.english:
            return escape(zh)
        return escape(zh) + Markup(' <span class="en">') + escape(en) + Markup("</span>")

    def block(self, zh: str, en: str) -> Markup:
        """A sentence of boilerplate: Chinese, then its English rendering below it."""
        out = Markup("<p>") + escape(zh) + Markup("</p>")
        if self.english:
            out += Markup('<p class="en-text">') + escape(en) + Markup("</p>")
        return out

    def text(self, path: str) -> Markup:
        from .schemas import _lookup

        value = _lookup(self.model, path)
        if not isinstance(value, str):
            return Markup("")
        out = _paragraphs(value)
        translation = self.translations.get(path)
        if self.english and translation:
            out += Markup('<div class="en-text">') + _paragraphs(translation) + Markup("</div>")
        return out


def render_html(
    template: str, data: Mapping[str, Any] | BaseModel, *, english: bool = False
) -> str:
    """The document as HTML (what the PDF is rendered from; also a preview)."""
    doc_type = document_type(template)
    model = validate_data(template, data)
    return _html(doc_type, model, english)


def _html(doc_type: DocumentType, model: BaseModel, english: bool) -> str:
    ctx = _Context(model, english)
    return _env.get_template(doc_type.template).render(
        doc=model,
        type=doc_type,
        english=english,
        slots=doc_type.slots,
        slot_width_mm=SLOT_WIDTH_MM,
        slot_height_mm=SLOT_HEIGHT_MM,
        L=ctx.label,
        B=ctx.block,
        text=ctx.text,
        cite=_cite,
        cn_date=_cn_date,
        cn_datetime=_cn_datetime,
        utc=_utc,
        money=_money,
        rmb_upper=rmb_upper,
    )


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_json(doc_type: DocumentType, model: BaseModel, english: bool) -> bytes:
    return _canonical(
        {
            "type": DOCUMENT_JSON_TYPE,
            "version": 1,
            "template": doc_type.key,
            "title_zh": doc_type.title_zh,
            "title_en": doc_type.title_en,
            "english": english,
            "data": model.model_dump(mode="json"),
        }
    )


def render_document(
    template: str,
    data: Mapping[str, Any] | BaseModel,
    output: Path,
    *,
    english: bool = False,
) -> RenderedDocument:
    """Validate ``data``, render ``template`` to PDF/A-3b at ``output`` (written atomically)
    with ``document.json`` attached and empty signature fields in the template's slots.

    Raises :class:`~.types.DocumentDataError` before anything is rendered when the data is
    wrong, :class:`~.types.UnknownTemplateError` for an unknown template and
    ``signing.pdf_render.RenderError`` when WeasyPrint fails.
    """
    doc_type = document_type(template)
    model = validate_data(template, data)
    html = _html(doc_type, model, english)
    pdf = render_pdf(
        html,
        attachments=[
            Attachment(
                ATTACHMENT_NAME,
                document_json(doc_type, model, english),
                description=f"{doc_type.title_zh} / {doc_type.title_en}: structured data",
                relationship="Data",
            )
        ],
    )
    pdf = add_signature_slots(pdf, doc_type)
    output = Path(output)
    atomic_write(output, pdf)
    return RenderedDocument(
        path=output,
        sha256=hashlib.sha256(pdf).hexdigest(),
        template=template,
        data=model.model_dump(mode="json"),
    )


# -- signature slots ---------------------------------------------------------------------------


def _page_refs(reader: Any) -> list[int]:
    """Object numbers of the pages, in order (walking the page tree)."""
    out: list[int] = []

    def walk(node: Any) -> None:
        kids = node.get("/Kids")
        if kids is None:
            return
        for i in range(len(kids)):
            ref = kids.raw_get(i)
            kid = ref.get_object()
            if kid.get("/Type") == "/Pages":
                walk(kid)
            else:
                out.append(ref.idnum)

    walk(reader.root["/Pages"])
    return out


def _destinations(reader: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    try:
        tree = reader.root["/Names"]["/Dests"]
    except KeyError:
        return found
    stack = [tree]
    while stack:
        node = stack.pop()
        if "/Kids" in node:
            stack.extend(node["/Kids"])
        names = node.get("/Names")
        if names is None:
            continue
        for i in range(0, len(names) - 1, 2):
            found[str(names[i])] = names[i + 1]
    return found


def slot_boxes(pdf: bytes) -> dict[str, tuple[int, tuple[int, int, int, int]]]:
    """``{slot name: (page index, (x1, y1, x2, y2))}`` from the ``sigslot-*`` anchors."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    pages = _page_refs(reader)
    width = SLOT_WIDTH_MM * _PT_PER_MM
    height = SLOT_HEIGHT_MM * _PT_PER_MM
    out: dict[str, tuple[int, tuple[int, int, int, int]]] = {}
    for name, dest in _destinations(reader).items():
        if not name.startswith("sigslot-"):
            continue
        page = pages.index(dest.raw_get(0).idnum)
        left, top = float(dest[2]), float(dest[3])
        box = (round(left), round(top - height), round(left + width), round(top))
        out[name.removeprefix("sigslot-")] = (page, box)
    return out


def add_signature_slots(pdf: bytes, doc_type: DocumentType) -> bytes:
    """Empty visible signature fields where the template drew the slots."""
    if not doc_type.slots:
        return pdf
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    boxes = slot_boxes(pdf)
    missing = [s.name for s in doc_type.slots if s.name not in boxes]
    if missing:
        raise RuntimeError(
            f"template {doc_type.template} draws no signature slot for {', '.join(missing)}"
        )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for slot in doc_type.slots:
        page, box = boxes[slot.name]
        append_signature_field(
            writer, SigFieldSpec(sig_field_name=slot.name, on_page=page, box=box)
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a unique temporary file in the same folder and a
    rename: readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
