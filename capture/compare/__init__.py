"""Compare two sealed captures of a page: what changed between them, and when.

Merchants edit or remove a listing once they learn of a complaint; a court then asks what
changed. ``compare(a_path, b_path)`` reads two WACZ packages and returns a
:class:`Comparison`: the visible text lines added and removed, the fields that changed
(price, product name, shop, HTTP status, final URL...: old and new value), the images
added or removed (by the SHA-256 of their bytes), and the visual diff of the screenshots
(aligned, changed regions, share of changed pixels).

A pure function of the two files: it knows nothing of cases, keys or storage (the sealed,
signed report is made by ``evidence_service.sealing.comparison``), and it does not verify
the packages' seals (the verifier does; the report states both). See
:mod:`capture.compare.package` for where each fact is read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fields import read_fields
from .package import ImageRef, PackageContent, PackageError, read_package
from .visual import Region, VisualDiff, visual_diff

__all__ = [
    "COMPARISON_TYPE",
    "Comparison",
    "FieldChange",
    "ImageRef",
    "PackageContent",
    "PackageError",
    "Region",
    "TextLine",
    "VisualDiff",
    "compare",
    "compare_contents",
]

COMPARISON_TYPE = "evidence-comparison"
#: At most this many diff lines are kept (a page rewritten from top to bottom).
MAX_DIFF_LINES = 2000


@dataclass(frozen=True)
class TextLine:
    """One line of the text diff: ``op`` is "=", "-" (only in A) or "+" (only in B)."""

    op: str
    text: str


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Comparison:
    a: PackageContent
    b: PackageContent
    #: The whole diff in page order, unchanged lines included (for showing in context).
    text_diff: tuple[TextLine, ...]
    added_lines: tuple[str, ...]
    removed_lines: tuple[str, ...]
    fields_a: dict[str, str]
    fields_b: dict[str, str]
    changed_fields: tuple[FieldChange, ...]
    images_added: tuple[ImageRef, ...]
    images_removed: tuple[ImageRef, ...]
    images_kept: int
    #: None when a package has no screenshot.
    visual: VisualDiff | None
    #: B no longer shows the page of A: an HTTP error, or a redirect to another address.
    page_gone: bool

    def summary(self) -> dict[str, Any]:
        """The comparison as JSON-able facts (what ``--json`` prints and the report embeds);
        the highlighted screenshots are left out."""

        def package(p: PackageContent) -> dict[str, Any]:
            return {
                "file": p.name,
                "sha256": p.sha256,
                "size": p.size,
                "capture_id": p.capture_id,
                "requested_url": p.requested_url,
                "final_url": p.final_url,
                "http_status": p.http_status,
                "title": p.title,
                "capture_started": p.capture_started,
                "manifest_sha256": p.manifest_sha256,
                "trusted_time": p.trusted_time,
                "tsa": p.tsa,
                "tsa_serial": p.tsa_serial,
                "text_source": p.text_source,
                "text_lines": len(p.text_lines),
                "images": len(p.images),
            }

        def image(ref: ImageRef) -> dict[str, Any]:
            return {"sha256": ref.sha256, "urls": list(ref.urls), "content_type": ref.content_type}

        visual: dict[str, Any] | None = None
        if self.visual is not None:
            v = self.visual
            visual = {
                "changed_pixel_share": round(v.share, 6),
                "changed_pixels": v.changed_pixels,
                "total_pixels": v.total_pixels,
                "size_a": list(v.size_a),
                "size_b": list(v.size_b),
                "regions_a": [[r.x, r.y, r.width, r.height] for r in v.regions_a],
                "regions_b": [[r.x, r.y, r.width, r.height] for r in v.regions_b],
            }
        return {
            "type": COMPARISON_TYPE,
            "version": 1,
            "a": package(self.a),
            "b": package(self.b),
            "page_gone": self.page_gone,
            "text": {"added": list(self.added_lines), "removed": list(self.removed_lines)},
            "fields": {
                "a": dict(sorted(self.fields_a.items())),
                "b": dict(sorted(self.fields_b.items())),
                "changed": [
                    {"field": c.name, "old": c.old, "new": c.new} for c in self.changed_fields
                ],
            },
            "images": {
                "added": [image(r) for r in self.images_added],
                "removed": [image(r) for r in self.images_removed],
                "kept": self.images_kept,
            },
            "visual": visual,
        }


def _page_fields(p: PackageContent) -> dict[str, str]:
    fields = read_fields(p.main_html, p.text_lines)
    if p.http_status is not None:
        fields["http_status"] = str(p.http_status)
    if p.final_url:
        fields["final_url"] = p.final_url
    if p.title:
        fields["title"] = p.title
    return fields


def _text_diff(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[TextLine, ...]:
    out: list[TextLine] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [TextLine("=", line) for line in a[i1:i2]]
            continue
        out += [TextLine("-", line) for line in a[i1:i2]]
        out += [TextLine("+", line) for line in b[j1:j2]]
    return tuple(out[:MAX_DIFF_LINES])


def compare_contents(a: PackageContent, b: PackageContent) -> Comparison:
    """Compare two packages already read (:func:`capture.compare.package.read_package`)."""
    diff = _text_diff(a.text_lines, b.text_lines)
    fields_a, fields_b = _page_fields(a), _page_fields(b)
    changed = tuple(
        FieldChange(name, fields_a.get(name), fields_b.get(name))
        for name in sorted(set(fields_a) | set(fields_b))
        if fields_a.get(name) != fields_b.get(name)
    )
    hashes_a = {r.sha256: r for r in a.images}
    hashes_b = {r.sha256: r for r in b.images}
    visual = None
    if a.screenshot and b.screenshot:
        visual = visual_diff(a.screenshot, b.screenshot)
    gone = (b.http_status is not None and b.http_status >= 400) or (
        bool(a.final_url and b.final_url) and b.final_url != a.final_url
    )
    return Comparison(
        a=a,
        b=b,
        text_diff=diff,
        added_lines=tuple(line.text for line in diff if line.op == "+"),
        removed_lines=tuple(line.text for line in diff if line.op == "-"),
        fields_a=fields_a,
        fields_b=fields_b,
        changed_fields=changed,
        images_added=tuple(r for sha, r in sorted(hashes_b.items()) if sha not in hashes_a),
        images_removed=tuple(r for sha, r in sorted(hashes_a.items()) if sha not in hashes_b),
        images_kept=len(set(hashes_a) & set(hashes_b)),
        visual=visual,
        page_gone=gone,
    )


def compare(a_path: Path | str, b_path: Path | str) -> Comparison:
    """Compare the sealed packages at ``a_path`` (earlier) and ``b_path`` (later).

    Raises :class:`PackageError` (a ``ValueError``) naming the file that cannot be read."""
    a, b = read_package(a_path), read_package(b_path)
    try:
        return compare_contents(a, b)
    except ValueError as exc:  # an unreadable screenshot
        raise PackageError(str(exc)) from None
