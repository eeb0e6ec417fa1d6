"""Simple CSS selectors turned into XPath 1.0, for the order-page rules (order_layouts.toml).

Why our own: lxml's CSS support needs ``cssselect``, which the service does not ship, and
the rules only need the plain part of CSS: ``tag``, ``#id``, ``.class``, ``[attr]``,
``[attr="value"]`` (or ``'value'``), and the descendant (space) and child (``>``)
combinators. Anything else is refused with the selector named, so a rule that cannot work is
found when the rules are loaded, not on a case."""

from __future__ import annotations

import re

__all__ = ["CssSelectorError", "css_to_xpath"]

_TOKEN = re.compile(
    r"""(?:
        (?P<child>>)
      | (?P<tag>[A-Za-z][A-Za-z0-9-]*|\*)
      | \#(?P<id>[A-Za-z0-9_-]+)
      | \.(?P<cls>[A-Za-z0-9_-]+)
      | \[(?P<attr>[A-Za-z_:][A-Za-z0-9_:.-]*)
          (?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_-]+)))?\s*\]
    )""",
    re.VERBOSE,
)


class CssSelectorError(ValueError):
    """A selector outside the supported subset (the message names it and what is allowed)."""


def _literal(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    parts = value.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


def css_to_xpath(selector: str) -> str:
    """The XPath of ``selector`` (elements anywhere in the document)."""
    out = ""
    axis = "//"
    step_tag: str | None = None
    preds: list[str] = []
    pos = 0
    text = selector.strip()
    if not text:
        raise CssSelectorError("empty CSS selector")

    def close_step() -> None:
        nonlocal out, step_tag, preds
        if step_tag is None and not preds:
            return
        out += axis + (step_tag or "*") + "".join(f"[{p}]" for p in preds)
        step_tag, preds = None, []

    while pos < len(text):
        rest = text[pos:]
        spaced = len(rest) - len(rest.lstrip())
        m = _TOKEN.match(text, pos + spaced)
        if m is None:
            raise CssSelectorError(
                f"CSS selector {selector!r}: cannot read {rest.strip()!r} (supported: tag, #id, "
                '.class, [attr], [attr="v"], descendant and > combinators); use xpath instead'
            )
        if spaced and not m.group("child") and (step_tag is not None or preds):
            close_step()
            axis = "//"
        pos = m.end()
        if m.group("child"):
            close_step()
            axis = "/"
        elif m.group("tag"):
            if step_tag is not None or preds:
                raise CssSelectorError(f"CSS selector {selector!r}: a tag must start a step")
            step_tag = m.group("tag")
        elif m.group("id"):
            preds.append(f"@id={_literal(m.group('id'))}")
        elif m.group("cls"):
            preds.append(
                "contains(concat(' ', normalize-space(@class), ' '), "
                f"{_literal(' ' + m.group('cls') + ' ')})"
            )
        else:
            given = (m.group("dq"), m.group("sq"), m.group("bare"))
            value = next((v for v in given if v is not None), None)
            name = m.group("attr")
            preds.append(f"@{name}" if value is None else f"@{name}={_literal(value)}")
    close_step()
    if not out:
        raise CssSelectorError(f"CSS selector {selector!r} selects nothing")
    return out
