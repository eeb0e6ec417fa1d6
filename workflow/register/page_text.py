"""The visible text of an HTML page as lines, the way a reader sees it: block elements
(``div``, ``p``, ``tr``, ``dt``/``dd``, ``li``, ``br``...) end a line, scripts and styles are
not text. The operator rules (``operator.py``) read labels and values from these lines."""

from __future__ import annotations

import contextlib
import re

import lxml.html
from lxml import etree

__all__ = ["html_lines"]

_BLOCKS = frozenset(
    (
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
        "th", "thead", "tr", "ul",
    )
)  # fmt: skip
_SKIP = frozenset(("script", "style", "noscript", "template", "head"))


def _walk(el: etree._Element, out: list[str]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag.lower() in _SKIP:
        if el.tail:
            out.append(el.tail)
        return
    block = tag.lower() in _BLOCKS
    if block:
        out.append("\n")
    if el.text and isinstance(el.tag, str):
        out.append(el.text)
    for child in el:
        _walk(child, out)
    if block:
        out.append("\n")
    if el.tail:
        out.append(el.tail)


def html_lines(body: bytes | str, charset: str | None = None) -> list[str]:
    """The page's non-empty text lines, white space collapsed. ``charset``: from the
    response's Content-Type (else the page's own ``<meta charset>``)."""
    if isinstance(body, bytes) and charset:
        with contextlib.suppress(LookupError):
            body = body.decode(charset, errors="replace")
    if isinstance(body, str):
        body = re.sub(r"^\s*<\?xml[^>]*>", "", body)  # lxml refuses a str with a declaration
    if not body:
        return []
    try:
        root = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    parts: list[str] = []
    _walk(root, parts)
    lines = ("".join(parts)).split("\n")
    return [" ".join(line.split()) for line in lines if line.strip()]
