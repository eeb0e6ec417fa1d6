"""What a change after signing that pyHanko cannot classify does to the document.

pyHanko's difference analysis whitelists the incremental updates it understands (DSS and
document time-stamps, new signatures, form filling) and calls everything else "may be
illegitimate" (``ModificationLevel.OTHER``). That is *unclassified*, not *proved altered*:
the EU DSS library, for one, rewrites every VRI entry of a PAdES document each time it extends
it, which pyHanko cannot tell from tampering. A court needs the difference, so this module
judges such a change by its effect, as the EU DSS validator does:

* it renders the signed revision and the final file (pypdfium2, forms and annotations drawn,
  as a reader sees them) and compares the page count and every pixel of every page;
* it compares the embedded files (they show on no page, and the evidence certificate's
  ``certificate.json`` is one);
* it lists the objects pyHanko could not classify, revision by revision, with pyHanko's reason.

A page added or removed, a changed pixel or a changed attachment is a proven alteration; no
difference means the signed content is what a reader sees today. Widgets of signature fields
signed *after* the signature being judged are hidden on both sides: their appearance belongs to
a later signature, which pyHanko classifies and which the report judges on its own.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChangeReview", "ChangeReviewer", "PageDifference"]

#: Beyond this many pages a rendering comparison is not attempted (the change stays unjudged).
MAX_VISUAL_PAGES = 100
#: Pages are rendered at 72 dpi, or smaller when a page would exceed this many pixels.
MAX_PAGE_PIXELS = 4_000_000
#: Revisions after the signed one that are analysed for the list of unclassified objects.
MAX_REVISIONS = 64
MAX_LISTED_OBJECTS = 200
#: Difference images kept per signature (the report shows them; the rest are only listed).
MAX_IMAGES = 4
IMAGE_BOX = (1200, 560)

# pdfium is not thread-safe; the verifier may run in several threads of one web process.
_PDFIUM_LOCK = threading.Lock()


@dataclass
class PageDifference:
    """One page that differs. ``page`` counts from 1; ``kind`` is "added" (only in the final
    file), "removed" (only in the signed revision) or "changed" (pixels differ)."""

    page: int
    kind: str
    changed_pixels: int = 0
    #: Bounding box of the changed pixels (left, top, right, bottom), 72 dpi page pixels.
    box: tuple[int, int, int, int] | None = None
    #: PNG: signed revision | final file | changes in red (or the added/removed page alone).
    image_png: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "kind": self.kind,
            "changed_pixels": self.changed_pixels,
            "box": list(self.box) if self.box else None,
            "difference_png": base64.b64encode(self.image_png).decode() if self.image_png else None,
        }


@dataclass
class ChangeReview:
    """The judgement of one signature's unclassified changes.

    ``verdict``: "invisible" (integrity holds), "visible" (pages added, removed or changed),
    "attachments" (embedded files changed) or "not-judged" (``problem`` says why)."""

    verdict: str
    pages_signed: int | None = None
    pages_final: int | None = None
    differences: list[PageDifference] = field(default_factory=list)
    attachments_changed: list[str] = field(default_factory=list)
    #: Per revision that pyHanko could not classify: its reason and the objects written there.
    unclassified: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None

    @property
    def object_count(self) -> int:
        return sum(len(r["objects"]) for r in self.unclassified)

    def pages(self, kind: str) -> list[int]:
        return [d.page for d in self.differences if d.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "pages_signed": self.pages_signed,
            "pages_final": self.pages_final,
            "added_pages": self.pages("added"),
            "removed_pages": self.pages("removed"),
            "changed_pages": self.pages("changed"),
            "differences": [d.to_dict() for d in self.differences],
            "attachments_changed": self.attachments_changed,
            "unclassified": self.unclassified,
            "problem": self.problem,
        }


class _NotRendered(Exception):
    pass


class ChangeReviewer:
    """Reviews the unclassified changes of the signatures of one file. Pages are rendered
    and compared two at a time (a hundred rendered pages would take a hundred megabytes)."""

    def __init__(self, data: bytes, reader: Any) -> None:
        self.data = data
        self.reader = reader

    def review(self, emb: Any, later_fields: Iterable[str]) -> ChangeReview:
        """Judge what happened to the document after ``emb`` (an ``EmbeddedPdfSignature``)
        signed it. ``later_fields``: names of the signature fields signed after it."""
        hidden = frozenset(later_fields)
        end = _signed_end(emb)
        review = ChangeReview("invisible", unclassified=self._unclassified(emb))
        try:
            signed_files = _embedded_file_digests(_reader_of(self.data[:end]))
            final_files = _embedded_file_digests(self.reader)
        except Exception as exc:  # a damaged name tree: nothing can be said about attachments
            return _not_judged(review, f"embedded files unreadable: {_exc(exc)}")
        review.attachments_changed = sorted(
            name
            for name in signed_files.keys() | final_files.keys()
            if signed_files.get(name) != final_files.get(name)
        )
        try:
            review.differences = _compare_documents(self.data[:end], self.data, hidden, review)
        except _NotRendered as exc:
            if review.pages_signed is not None and review.pages_final is not None:
                _count_differences(review)
            if review.differences:
                review.verdict = "visible"
                return review
            return _not_judged(review, str(exc))
        if review.differences:
            review.verdict = "visible"
        elif review.attachments_changed:
            review.verdict = "attachments"
        return review

    def _unclassified(self, emb: Any) -> list[dict[str, Any]]:
        """The revisions after the signed one that pyHanko's default policy rejects, each
        with pyHanko's reason and the objects it writes (a best effort: never raises)."""
        try:
            return list(_unclassified_revisions(self.reader, emb))
        except Exception as exc:
            return [{"revision": None, "why": _exc(exc), "objects": []}]


def _not_judged(review: ChangeReview, problem: str) -> ChangeReview:
    review.verdict = "not-judged"
    review.problem = problem[:300]
    return review


def _exc(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _signed_end(emb: Any) -> int:
    byte_range = emb.byte_range
    return int(byte_range[2]) + int(byte_range[3])


def _reader_of(data: bytes) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(data), strict=False)


def _count_differences(review: ChangeReview) -> None:
    signed, final = review.pages_signed or 0, review.pages_final or 0
    review.differences = [PageDifference(p, "added") for p in range(signed + 1, final + 1)]
    review.differences += [PageDifference(p, "removed") for p in range(final + 1, signed + 1)]


# -- what pyHanko could not classify -----------------------------------------------------------


def _unclassified_revisions(reader: Any, emb: Any) -> Iterator[dict[str, Any]]:
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, SuspiciousModification

    base_revision = emb.signed_revision
    base = reader.get_historical_resolver(base_revision)
    total = reader.xrefs.total_revisions
    listed = 0
    for revision in range(base_revision + 1, min(total, base_revision + 1 + MAX_REVISIONS)):
        new = reader.get_historical_resolver(revision)
        try:
            DEFAULT_DIFF_POLICY.apply(
                base, new, field_mdp_spec=emb.fieldmdp, doc_mdp=emb.docmdp_level
            )
            continue
        except SuspiciousModification as exc:
            why = str(exc)
        objects: list[dict[str, str]] = []
        for ref in sorted(new.explicit_refs_in_revision(), key=lambda r: (r.idnum, r.generation)):
            if listed >= MAX_LISTED_OBJECTS:
                break
            listed += 1
            existed = reader.xrefs.get_historical_ref(ref, base_revision) is not None
            objects.append(
                {
                    "object": f"{ref.idnum} {ref.generation}",
                    "action": "replaced" if existed else "added",
                    "what": _describe(new, ref, reader),
                }
            )
        for ref in sorted(new.refs_freed_in_revision(), key=lambda r: (r.idnum, r.generation)):
            freed = {"object": f"{ref.idnum} {ref.generation}", "action": "freed", "what": ""}
            objects.append(freed)
        yield {"revision": revision, "why": why[:600], "objects": objects}


def _describe(resolver: Any, ref: Any, reader: Any) -> str:
    """A short, human description of an object: "dictionary /Type /DSS", "stream", ..."""
    from pyhanko.pdf_utils import generic

    try:
        obj = resolver(ref)
    except Exception:
        return "unreadable"
    if isinstance(obj, generic.StreamObject):
        kind = "stream"
    elif isinstance(obj, generic.DictionaryObject):
        kind = "dictionary"
    elif isinstance(obj, generic.ArrayObject):
        return f"array ({len(obj)} items)"
    else:
        return type(obj).__name__
    if getattr(reader, "root_ref", None) == ref:
        kind = "document catalog " + kind
    marks = [f"{k} {obj[k]}" for k in ("/Type", "/Subtype", "/FT") if k in obj]
    if marks:
        return f"{kind} " + ", ".join(str(m) for m in marks)[:200]
    keys = sorted(str(k) for k in obj)
    return f"{kind} (keys {', '.join(keys[:8])}{', ...' if len(keys) > 8 else ''})"


# -- embedded files --------------------------------------------------------------------------


def _embedded_file_digests(reader: Any) -> dict[str, str]:
    """name -> SHA-256 of each file in the EmbeddedFiles name tree (``"unreadable"`` when its
    stream cannot be decoded)."""
    out: dict[str, str] = {}
    try:
        tree = _deref(_deref(reader.root["/Names"])["/EmbeddedFiles"])
    except (KeyError, TypeError, AttributeError):
        return out
    stack, seen = [tree], 0
    while stack and seen < 10_000:
        seen += 1
        node = _deref(stack.pop())
        stack.extend(_deref(node.get("/Kids")) or [])
        pairs = list(_deref(node.get("/Names")) or [])
        for i in range(0, len(pairs) - 1, 2):
            name = str(_deref(pairs[i]))
            try:
                ef = _deref(_deref(pairs[i + 1])["/EF"])
                stream = _deref(ef.get("/UF") or ef.get("/F"))
                out[name] = hashlib.sha256(bytes(stream.data)).hexdigest()
            except Exception:
                out[name] = "unreadable"
    return out


def _deref(obj: Any) -> Any:
    return obj.get_object() if hasattr(obj, "get_object") else obj


# -- rendering ------------------------------------------------------------------------------


def _compare_documents(
    signed_data: bytes, final_data: bytes, hidden: frozenset[str], review: ChangeReview
) -> list[PageDifference]:
    """Open both revisions in pdfium, set ``review.pages_signed``/``pages_final``, then render
    and compare page by page. Raises :class:`_NotRendered` when a revision cannot be rendered
    or has more than :data:`MAX_VISUAL_PAGES` pages (the counts are set first if known)."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        docs: list[Any] = []
        try:
            for data in (signed_data, final_data):
                try:
                    docs.append(pdfium.PdfDocument(data))
                except Exception as exc:
                    raise _NotRendered(f"cannot be rendered: {_exc(exc)}") from exc
            signed, final = docs
            review.pages_signed, review.pages_final = len(signed), len(final)
            if max(len(signed), len(final)) > MAX_VISUAL_PAGES:
                raise _NotRendered(f"more than {MAX_VISUAL_PAGES} pages: not compared page by page")
            for doc in docs:
                doc.init_forms()
            return list(_compare(signed, final, hidden))
        except _NotRendered:
            raise
        except Exception as exc:
            raise _NotRendered(f"cannot be rendered: {_exc(exc)}") from exc
        finally:
            for doc in docs:
                doc.close()


def _render_page(pdf: Any, index: int, hidden: frozenset[str]) -> Any:
    """Page ``index`` as a PIL image, drawn as a reader shows it (annotations and form
    fields), with the widgets of the signature fields in ``hidden`` left out."""
    page = pdf[index]
    try:
        if hidden:
            _hide_signature_widgets(pdf, page, hidden)
        width, height = page.get_size()
        scale = min(1.0, math.sqrt(MAX_PAGE_PIXELS / max(width * height, 1.0)))
        bitmap = page.render(scale=scale, may_draw_forms=True, draw_annots=True)
        return bitmap.to_pil().convert("RGB")
    finally:
        page.close()


def _hide_signature_widgets(pdf: Any, page: Any, names: frozenset[str]) -> None:
    """Set the Hidden flag on the page's widgets of the signature fields named ``names``
    (in pdfium's memory only: the form filler draws from its own widget list, so removing
    the annotation would not do)."""
    import ctypes

    import pypdfium2.raw as raw

    form = pdf.formenv.raw if pdf.formenv else None
    if form is None:
        return
    for index in range(raw.FPDFPage_GetAnnotCount(page.raw)):
        annot = raw.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            if raw.FPDFAnnot_GetSubtype(annot) != raw.FPDF_ANNOT_WIDGET:
                continue
            if raw.FPDFAnnot_GetFormFieldType(form, annot) != raw.FPDF_FORMFIELD_SIGNATURE:
                continue
            size = raw.FPDFAnnot_GetFormFieldName(form, annot, None, 0)
            buffer = (ctypes.c_ushort * max(size // 2, 1))()
            raw.FPDFAnnot_GetFormFieldName(form, annot, buffer, size)
            name = bytes(buffer).decode("utf-16-le", "replace").rstrip("\x00")
            if name in names:
                flags = raw.FPDFAnnot_GetFlags(annot)
                raw.FPDFAnnot_SetFlags(annot, flags | raw.FPDF_ANNOT_FLAG_HIDDEN)
        finally:
            raw.FPDFPage_CloseAnnot(annot)


def _compare(signed: Any, final: Any, hidden: frozenset[str]) -> Iterator[PageDifference]:
    from PIL import ImageChops

    images = 0
    for index in range(max(len(signed), len(final))):
        number = index + 1
        if index >= len(signed) or index >= len(final):
            kind = "added" if index >= len(signed) else "removed"
            image = None
            if images < MAX_IMAGES:
                page = _render_page(final if kind == "added" else signed, index, hidden)
                image = _png(_thumbnail([page]))
                images += 1
            yield PageDifference(number, kind, image_png=image)
            continue
        before = _render_page(signed, index, hidden)
        after = _render_page(final, index, hidden)
        if before.size != after.size:
            image = _png(_thumbnail([before, after])) if images < MAX_IMAGES else None
            images += image is not None
            yield PageDifference(number, "changed", before.width * before.height, None, image)
            continue
        mask = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v else 0)
        box = mask.getbbox()
        if box is None:
            continue
        changed = mask.histogram()[255]
        image = _png(_difference_panel(before, after, mask, box)) if images < MAX_IMAGES else None
        images += image is not None
        left, top, right, bottom = box
        yield PageDifference(number, "changed", changed, (left, top, right, bottom), image)


def _difference_panel(before: Any, after: Any, mask: Any, box: tuple[int, int, int, int]) -> Any:
    """signed | final | the final page faded with the changed pixels in red and boxed."""
    from PIL import Image, ImageDraw

    faded = after.convert("L").point(lambda v: 160 + v * 95 // 255).convert("RGB")
    marked = Image.composite(Image.new("RGB", after.size, (220, 0, 0)), faded, mask)
    left, top, right, bottom = box
    ImageDraw.Draw(marked).rectangle(
        (max(left - 6, 0), max(top - 6, 0), right + 6, bottom + 6), outline=(220, 0, 0), width=3
    )
    return _thumbnail([before, after, marked])


def _thumbnail(pages: list[Any]) -> Any:
    from PIL import Image, ImageDraw

    gap = 12
    width = sum(p.width for p in pages) + gap * (len(pages) - 1)
    height = max(p.height for p in pages)
    panel = Image.new("RGB", (width, height), (255, 255, 255))
    x = 0
    draw = ImageDraw.Draw(panel)
    for p in pages:
        panel.paste(p, (x, 0))
        draw.rectangle((x, 0, x + p.width - 1, p.height - 1), outline=(120, 120, 120))
        x += p.width + gap
    panel.thumbnail(IMAGE_BOX)
    return panel


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
