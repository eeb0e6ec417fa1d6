"""The UI's catalogue (evidence_service/web/messages.toml): every message in both languages, and
every key a template or page asks for exists (a missing key would show the key itself)."""

from __future__ import annotations

import re
from pathlib import Path

from evidence_service.web.i18n import LANGS, MESSAGES, translate

WEB = Path(__file__).resolve().parents[2] / "evidence_service" / "web"
USED = re.compile(r"""\bt\(\s*['"]([a-z][a-z0-9_.]*)['"]\s*\)""")


def test_every_message_has_both_languages() -> None:
    missing = [
        (key, lang) for key, entry in MESSAGES.items() for lang in LANGS if not entry.get(lang)
    ]
    assert missing == []
    assert translate("en", "app.name") == "Evidence Service"
    assert translate("zh", "app.name") == "电子证据固定服务"


def test_every_key_the_pages_use_exists() -> None:
    used: dict[str, str] = {}
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        for key in USED.findall(path.read_text(encoding="utf-8")):
            used.setdefault(key, str(path.relative_to(WEB)))
    assert len(used) > 100  # the pattern finds the pages' keys
    unknown = {key: where for key, where in used.items() if key not in MESSAGES}
    assert unknown == {}


def test_every_case_event_beside_the_process_has_a_name() -> None:
    """The timeline names an event that is no step of process.toml (staffing, a document
    added, notes given, a payment received, ...) by ``cases.event.<action>``: each one the
    workflow appends has it, or the timeline would show the key."""
    from evidence_service.sealing import monitor
    from evidence_service.sealing.case_archive import ARCHIVE_EVENT
    from workflow import publicity
    from workflow.cases import process, service
    from workflow.payments import PAYMENT_EVENTS

    root = WEB.parents[1] / "workflow"
    appended = set(
        re.findall(
            r'_append_event\(\s*ctx,\s*session,\s*case,\s*who,\s*"([a-z_]+)"',
            (root / "cases" / "service.py").read_text(encoding="utf-8"),
        )
    )
    assert {"assign", "add_document", "link_party"} <= appended  # the pattern finds them
    named = (
        appended
        | set(PAYMENT_EVENTS)
        | set(monitor.EVENTS)
        | {service.GIVE_NOTES, service.PARTY_SIGNED, publicity.TAKE_DOWN, ARCHIVE_EVENT}
    )
    steps = set(process.default_process().actions)
    unnamed = sorted(a for a in named - steps if f"cases.event.{a}" not in MESSAGES)
    assert unnamed == []
