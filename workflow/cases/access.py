"""Who may see and do what: the one authorisation table (``access.toml``).

One table instead of checks scattered over pages and endpoints, so that "a merchant sees only
its own cases" is written once and tested as a matrix. Every role lists the verbs it may use
and the scope each is limited to; whatever is not listed is refused (deny by default), and a
subject whose unit or party is unknown is refused too rather than guessed.

The web layer asks :func:`can` with the role of the person, the verb and a :class:`Subject`
(who asks, and which case) and gets a :class:`Decision`, truthy when allowed. For verbs that
list things (``case_list``, ``queue``) the decision carries the scope to filter the query by.
Which *action* a role may take in which state is the process table's business
(:mod:`workflow.cases.process`); ``act`` here only says in whose cases.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFINITION",
    "SCOPES",
    "AccessDefinitionError",
    "AccessError",
    "AccessTable",
    "Decision",
    "Subject",
    "UnknownAccessName",
    "Verb",
    "can",
    "default_table",
    "load",
    "parse",
]

DEFINITION = Path(__file__).with_name("access.toml")
#: The scopes the code knows how to check; the table may use no other.
SCOPES = ("any", "own_unit", "own_case", "own_complaint", "published", "addressed")


class AccessError(Exception):
    """Base of the errors of the authorisation table."""


class AccessDefinitionError(AccessError):
    """The table is wrong; each problem names its line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {source}:{p}" for p in problems)
        super().__init__(f"the authorisation table {source} is invalid:\n{lines}")


class UnknownAccessName(AccessError):
    """A role or verb passed to :func:`can` is not in the table (a programming error, not a
    refusal: refusing silently would hide a typo behind a 404)."""


@dataclass(frozen=True)
class Subject:
    """Who asks and about what.

    ``actor_unit`` is the unit an officer, reviewer or head works for; ``actor_party`` the
    merchant's id (unified social credit code) or the complainant's id. ``case_unit``,
    ``case_party`` and ``complainant`` describe the case asked about, ``published`` whether its
    decision is on the publicity page. Leave the case fields empty for filter verbs.
    """

    actor_unit: str | None = None
    actor_party: str | None = None
    case_unit: str | None = None
    case_party: str | None = None
    complainant: str | None = None
    published: bool = False
    #: The platform a request of the case was sent to (its portal account id).
    addressee: str | None = None


@dataclass(frozen=True)
class Verb:
    id: str
    zh: str
    en: str
    #: Not about one case: answered with the scope to filter by.
    filter: bool = False


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`can`; ``scope`` is what the role was granted (``None`` if
    nothing), which for filter verbs is what the caller filters by."""

    allowed: bool
    role: str
    verb: str
    scope: str | None
    zh: str
    en: str

    def __bool__(self) -> bool:
        return self.allowed


def _in_scope(scope: str, s: Subject) -> bool:
    if scope == "any":
        return True
    if scope == "own_unit":
        return s.actor_unit is not None and s.actor_unit == s.case_unit
    if scope == "own_case":
        return s.actor_party is not None and s.actor_party == s.case_party
    if scope == "own_complaint":
        return s.actor_party is not None and s.actor_party == s.complainant
    if scope == "published":
        return s.published
    if scope == "addressed":
        return s.actor_party is not None and s.actor_party == s.addressee
    raise AssertionError(f"unchecked scope {scope!r}")  # parse() admits only SCOPES


def _can_filter(scope: str, s: Subject) -> bool:
    """A filter verb needs what its scope filters by."""
    if scope == "own_unit":
        return s.actor_unit is not None
    if scope in ("own_case", "own_complaint", "addressed"):
        return s.actor_party is not None
    return True


@dataclass(frozen=True)
class AccessTable:
    roles: Mapping[str, tuple[str, str]]  # id -> (zh, en)
    verbs: Mapping[str, Verb]
    scopes: Mapping[str, tuple[str, str]]
    grants: Mapping[str, Mapping[str, str]]  # role -> verb -> scope

    def can(self, role: str, verb: str, subject: Subject | None = None) -> Decision:
        if role not in self.roles:
            raise UnknownAccessName(f"no role {role!r}; roles: {', '.join(self.roles)}")
        if verb not in self.verbs:
            raise UnknownAccessName(f"no verb {verb!r}; verbs: {', '.join(self.verbs)}")
        s = subject or Subject()
        v = self.verbs[verb]
        role_zh, role_en = self.roles[role]
        scope = self.grants[role].get(verb)
        if scope is None:
            return Decision(
                False,
                role,
                verb,
                None,
                f"{role_zh}无权使用“{v.zh}”",
                f"the {role_en} role may not use the {v.en}",
            )
        scope_zh, scope_en = self.scopes[scope]
        ok = _can_filter(scope, s) if v.filter else _in_scope(scope, s)
        if ok:
            return Decision(True, role, verb, scope, f"允许：{scope_zh}", f"allowed: {scope_en}")
        return Decision(
            False,
            role,
            verb,
            scope,
            f"{role_zh}的“{v.zh}”仅限{scope_zh}",
            f"the {v.en} of the {role_en} role is limited to {scope_en}",
        )


def _line(text: str, header: str) -> int:
    m = re.search(r"^[ \t]*\[[ \t]*" + re.escape(header) + r"[ \t]*\]", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else 0


def _names(data: Any, table: str, text: str, problems: list[str]) -> dict[str, tuple[str, str]]:
    rows = data.get(table)
    if not isinstance(rows, dict) or not rows:
        problems.append(f"0: [{table}] is missing or empty")
        return {}
    out = {}
    for key, row in rows.items():
        if not isinstance(row, dict) or not all(
            isinstance(row.get(lang), str) and row[lang].strip() for lang in ("zh", "en")
        ):
            problems.append(f"{_line(text, table)}: [{table}] {key}: needs zh and en names")
            continue
        out[key] = (row["zh"], row["en"])
    return out


def parse(text: str, source: str = "access.toml") -> AccessTable:
    """Build the table from its text; every problem is reported at once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessDefinitionError(source, [f"not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    scopes = _names(data, "scope", text, problems)
    for name in scopes:
        if name not in SCOPES:
            problems.append(
                f"{_line(text, 'scope')}: [scope] {name}: the code checks no such scope "
                f"(known: {', '.join(SCOPES)})"
            )
    verbs: dict[str, Verb] = {}
    for key, (zh, en) in _names(data, "verb", text, problems).items():
        flag = data["verb"][key].get("filter", False)
        if not isinstance(flag, bool):
            problems.append(f"{_line(text, 'verb')}: [verb] {key}: filter must be true or false")
        verbs[key] = Verb(key, zh, en, bool(flag))
    roles: dict[str, tuple[str, str]] = {}
    grants: dict[str, dict[str, str]] = {}
    role_rows = data.get("role")
    if not isinstance(role_rows, dict) or not role_rows:
        problems.append("0: [role.*] no role declared")
        role_rows = {}
    for role, row in role_rows.items():
        where = f"{_line(text, f'role.{role}')}: [role.{role}]"
        if not isinstance(row, dict):
            problems.append(f"{where}: must be a table")
            continue
        unknown = sorted(row.keys() - {"zh", "en", "grants"})
        if unknown:
            problems.append(f"{where}: unknown key {', '.join(unknown)} (allowed: zh, en, grants)")
        if not all(isinstance(row.get(k), str) and row[k].strip() for k in ("zh", "en")):
            problems.append(f"{where}: needs zh and en names")
        roles[role] = (str(row.get("zh", role)), str(row.get("en", role)))
        table = row.get("grants", {})
        gwhere = f"{_line(text, f'role.{role}.grants')}: [role.{role}.grants]"
        if not isinstance(table, dict):
            problems.append(f"{gwhere}: must be a table of verb = scope")
            table = {}
        grants[role] = {}
        for verb, scope in table.items():
            if verb not in verbs:
                problems.append(f"{gwhere}: unknown verb {verb!r} (known: {', '.join(verbs)})")
            elif scope not in scopes:
                problems.append(
                    f"{gwhere}: {verb} = {scope!r}: unknown scope (known: {', '.join(scopes)})"
                )
            else:
                grants[role][verb] = scope
    if problems:
        raise AccessDefinitionError(source, problems)
    return AccessTable(roles, verbs, scopes, grants)


def load(path: Path) -> AccessTable:
    return parse(path.read_text(encoding="utf-8"), path.name)


@functools.cache
def default_table() -> AccessTable:
    """The service's table, loaded and checked once, on first use."""
    return load(DEFINITION)


def can(role: str, verb: str, subject: Subject | None = None) -> Decision:
    """May ``role`` use ``verb`` on ``subject``? Truthy :class:`Decision` when allowed."""
    return default_table().can(role, verb, subject)
