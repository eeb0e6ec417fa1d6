"""The case process as a table: which actions leave a state, for whom, under which guards.

The table is data (``process.toml``) so that legal staff can read and correct it and the
diagram in ``docs/case-process.md`` is drawn from the same rows the code obeys. It is checked
when first used: a state, action, role, procedure, guard or document that is not declared is
an error naming the line of the ``[[transition]]`` (or ``[[state]]``...) that uses it, so a typo
can never become a transition nobody can take or a guard that silently passes.

Nothing here stores anything: the caller keeps the case's state and facts, asks
:func:`available` what may be done (to draw buttons with the reasons for the greyed-out ones)
and calls :func:`take`, which returns the :class:`Transition` to record (new state, documents
to generate) or raises :class:`TransitionRefused` with every reason at once.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .guards import GUARDS, CaseFacts, Refusal

__all__ = [
    "DEFINITION",
    "Action",
    "Named",
    "Option",
    "ProcedureMismatch",
    "Process",
    "ProcessDefinitionError",
    "ProcessError",
    "Rule",
    "State",
    "Transition",
    "TransitionRefused",
    "UnknownAction",
    "UnknownName",
    "UnknownState",
    "available",
    "default_process",
    "load",
    "parse",
    "take",
]

#: The table the service runs on.
DEFINITION = Path(__file__).with_name("process.toml")
STEPS = range(1, 15)


class ProcessError(Exception):
    """Base of the errors of the case process."""


class ProcessDefinitionError(ProcessError):
    """The process table is wrong; ``problems`` lists each one with its line."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {source}:{p}" for p in self.problems)
        super().__init__(f"the case process table {source} is invalid:\n{lines}")


class UnknownName(ProcessError):
    """A state, role or procedure passed in is not in the table."""


class UnknownState(UnknownName):
    """No such state."""


class UnknownAction(ProcessError):
    """The action does not leave this state (in this procedure)."""

    def __init__(
        self, state: str, action: str, procedure: str, known: Sequence[str], terminal: bool
    ) -> None:
        self.state = state
        self.action = action
        self.procedure = procedure
        self.known = tuple(known)
        if known:
            listed = ", ".join(known)
        else:
            listed = "none, the state is terminal" if terminal else f"none in {procedure}"
        super().__init__(
            f"no action {action!r} from state {state!r} in the {procedure} procedure; "
            f"actions from there: {listed}"
        )


class ProcedureMismatch(ProcessError):
    """The facts say one procedure and the caller another."""


class TransitionRefused(ProcessError):
    """The action exists but may not be taken now; ``reasons`` says every why."""

    def __init__(self, state: str, action: str, reasons: Sequence[Refusal]) -> None:
        self.state = state
        self.action = action
        self.reasons = tuple(reasons)
        why = "; ".join(r.en for r in self.reasons)
        super().__init__(f"{action!r} from {state!r} refused: {why}")

    @property
    def guards(self) -> frozenset[str]:
        """The names of the rules that refused (``role`` for a role not allowed)."""
        return frozenset(r.guard for r in self.reasons)


@dataclass(frozen=True)
class Named:
    """A role or procedure with its names in both languages."""

    id: str
    zh: str
    en: str


@dataclass(frozen=True)
class State:
    id: str
    zh: str
    en: str
    #: The step of the reference (1 线索登记 ... 14 结案).
    step: int
    terminal: bool = False


@dataclass(frozen=True)
class Action:
    id: str
    zh: str
    en: str


@dataclass(frozen=True)
class Rule:
    """One row of the table: ``action`` leads from ``source`` to ``target``."""

    source: str
    action: str
    target: str
    roles: tuple[str, ...]
    procedures: tuple[str, ...]
    guards: tuple[str, ...]
    documents: tuple[str, ...]
    step: int
    #: Line of its ``[[transition]]`` header in the table, for messages.
    line: int = 0

    def describe(self) -> str:
        return f"{self.source} --{self.action}--> {self.target}"


@dataclass(frozen=True)
class Option:
    """An action leaving the current state, as offered to one role."""

    action: str
    zh: str
    en: str
    target: str
    allowed: bool
    reasons: tuple[Refusal, ...]
    documents: tuple[str, ...]


@dataclass(frozen=True)
class Transition:
    """A transition taken: what to record and which documents to generate."""

    source: str
    action: str
    target: str
    role: str
    procedure: str
    documents: tuple[str, ...]
    step: int


@dataclass(frozen=True)
class Process:
    start: str
    roles: Mapping[str, Named]
    procedures: Mapping[str, Named]
    documents: tuple[str, ...]
    states: Mapping[str, State]
    actions: Mapping[str, Action]
    rules: tuple[Rule, ...]

    def rules_from(self, state: str, procedure: str | None = None) -> list[Rule]:
        """The rows leaving ``state`` (in ``procedure``, or in any), in table order."""
        self._state(state)
        return [
            r
            for r in self.rules
            if r.source == state and (procedure is None or procedure in r.procedures)
        ]

    def available(self, state: str, role: str, procedure: str, facts: CaseFacts) -> list[Option]:
        """Every action leaving ``state`` in ``procedure``, each allowed or refused with all
        its reasons. A role that may not take an action is told so and nothing more (its
        guards are not evaluated for it)."""
        self._check_call(role, procedure, facts)
        options = []
        for rule in self.rules_from(state, procedure):
            reasons = self._refusals(rule, role, facts)
            action = self.actions[rule.action]
            options.append(
                Option(
                    rule.action,
                    action.zh,
                    action.en,
                    rule.target,
                    not reasons,
                    reasons,
                    rule.documents,
                )
            )
        return options

    def take(
        self, state: str, action: str, role: str, procedure: str, facts: CaseFacts
    ) -> Transition:
        """Take ``action`` or raise :class:`UnknownAction` / :class:`TransitionRefused`."""
        self._check_call(role, procedure, facts)
        rules = self.rules_from(state, procedure)
        rule = next((r for r in rules if r.action == action), None)
        if rule is None:
            raise UnknownAction(
                state,
                action,
                procedure,
                [r.action for r in rules],
                self.states[state].terminal,
            )
        reasons = self._refusals(rule, role, facts)
        if reasons:
            raise TransitionRefused(state, action, reasons)
        return Transition(
            rule.source, rule.action, rule.target, role, procedure, rule.documents, rule.step
        )

    def _refusals(self, rule: Rule, role: str, facts: CaseFacts) -> tuple[Refusal, ...]:
        if role not in rule.roles:
            who = self.roles[role]
            action = self.actions[rule.action]
            allowed_zh = "、".join(self.roles[r].zh for r in rule.roles)
            allowed_en = ", ".join(self.roles[r].en for r in rule.roles)
            return (
                Refusal(
                    "role",
                    f"{who.zh}无权执行“{action.zh}”（可由{allowed_zh}执行）",
                    f"the {who.en} role may not {action.en} (allowed: {allowed_en})",
                ),
            )
        found = (GUARDS[name](facts) for name in rule.guards)
        return tuple(r for r in found if r is not None)

    def _state(self, state: str) -> State:
        try:
            return self.states[state]
        except KeyError:
            raise UnknownState(
                f"no state {state!r} in the case process; states: {', '.join(self.states)}"
            ) from None

    def _check_call(self, role: str, procedure: str, facts: CaseFacts) -> None:
        if role not in self.roles:
            raise UnknownName(f"no role {role!r}; roles: {', '.join(self.roles)}")
        if procedure not in self.procedures:
            raise UnknownName(
                f"no procedure {procedure!r}; procedures: {', '.join(self.procedures)}"
            )
        if facts.procedure is not None and facts.procedure != procedure:
            raise ProcedureMismatch(
                f"the facts are of a {facts.procedure} case but the {procedure} procedure "
                "was asked for; pass the case's procedure"
            )


# -- loading -------------------------------------------------------------------------------------

_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # table -> (required keys, optional keys)
    "role": ({"id", "zh", "en"}, set()),
    "procedure": ({"id", "zh", "en"}, set()),
    "state": ({"id", "zh", "en", "step"}, {"terminal"}),
    "action": ({"id", "zh", "en"}, set()),
    "transition": (
        {"from", "action", "to", "roles", "procedures"},
        {"guards", "documents", "step"},
    ),
}
_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*(\w+)[ \t]*\]\]", re.MULTILINE)


def _header_lines(text: str) -> dict[str, list[int]]:
    """Line number of each ``[[kind]]`` header, in order (tomllib keeps no positions)."""
    lines: dict[str, list[int]] = {}
    for m in _HEADER.finditer(text):
        lines.setdefault(m.group(1), []).append(text.count("\n", 0, m.start()) + 1)
    return lines


class _Checker:
    def __init__(self, text: str) -> None:
        self.problems: list[str] = []
        self.lines = _header_lines(text)

    def where(self, kind: str, index: int) -> str:
        lines = self.lines.get(kind, [])
        line = lines[index] if index < len(lines) else 0
        return f"{line}: [[{kind}]] #{index + 1}"

    def line_of(self, kind: str, index: int) -> int:
        lines = self.lines.get(kind, [])
        return lines[index] if index < len(lines) else 0

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, kind: str, index: int, row: Any) -> bool:
        where = self.where(kind, index)
        if not isinstance(row, dict):
            self.fail(where, "must be a table")
            return False
        required, optional = _KEYS[kind]
        missing = sorted(required - row.keys())
        unknown = sorted(row.keys() - required - optional)
        if missing:
            self.fail(where, f"missing {', '.join(missing)}")
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            self.fail(where, f"unknown key {', '.join(unknown)} (allowed: {allowed})")
        for key in required | optional:
            if key not in row:
                continue
            value = row[key]
            if key in ("roles", "procedures", "guards", "documents"):
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                if not ok:
                    self.fail(where, f"{key} must be a list of names")
                    return False
            elif key == "step":
                if not isinstance(value, int) or isinstance(value, bool) or value not in STEPS:
                    self.fail(where, f"step must be a number from 1 to 14, not {value!r}")
                    return False
            elif key == "terminal":
                if not isinstance(value, bool):
                    self.fail(where, "terminal must be true or false")
                    return False
            elif not isinstance(value, str) or not value.strip():
                self.fail(where, f"{key} must be a non-empty string")
                return False
        return not missing

    def named(self, data: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
        rows = data.get(kind, [])
        if not isinstance(rows, list):
            self.fail(f"0: [[{kind}]]", "must be an array of tables")
            return {}
        out: dict[str, dict[str, Any]] = {}
        for i, row in enumerate(rows):
            if not self.keys(kind, i, row):
                continue
            if row["id"] in out:
                self.fail(self.where(kind, i), f"duplicate {kind} {row['id']!r}")
            out[row["id"]] = row
        if not out:
            self.fail(f"0: [[{kind}]]", f"no {kind} declared")
        return out


def parse(text: str, source: str = "process.toml") -> Process:
    """Build a :class:`Process` from the table's text; every problem is reported at once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProcessDefinitionError(source, [f"not valid TOML: {exc}"]) from exc
    check = _Checker(text)
    head = data.get("process")
    if not isinstance(head, dict):
        head = {}
        check.fail("0: [process]", "missing the [process] table (start, documents)")
    roles = check.named(data, "role")
    procedures = check.named(data, "procedure")
    states = check.named(data, "state")
    actions = check.named(data, "action")
    documents = head.get("documents", [])
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        check.fail("0: [process]", "documents must be a list of template names")
        documents = []
    start = head.get("start")
    if start not in states:
        check.fail("0: [process]", f"start {start!r} is not a declared state")
    elif states[start].get("terminal", False):
        check.fail("0: [process]", f"start {start!r} is a terminal state")

    rules: list[Rule] = []
    seen: dict[tuple[str, str, str], int] = {}
    rows = data.get("transition", [])
    if not isinstance(rows, list):
        check.fail("0: [[transition]]", "must be an array of tables")
        rows = []
    for i, row in enumerate(rows):
        if not check.keys("transition", i, row):
            continue
        label = f"{row['from']} --{row['action']}--> {row['to']}"
        where = f"{check.where('transition', i)} ({label})"
        vocab: list[tuple[str, Sequence[str], Mapping[str, Any] | Sequence[str]]] = [
            ("state", [row["from"], row["to"]], states),
            ("action", [row["action"]], actions),
            ("role", row["roles"], roles),
            ("procedure", row["procedures"], procedures),
            ("guard", row.get("guards", []), GUARDS),
            ("document", row.get("documents", []), documents),
        ]
        for what, names, known in vocab:
            for name in names:
                if name not in known:
                    listed = ", ".join(sorted(known))
                    check.fail(where, f"unknown {what} {name!r} (known: {listed})")
        for what in ("roles", "procedures"):
            if not row[what]:
                check.fail(where, f"{what} must not be empty")
        if row["from"] in states and states[row["from"]].get("terminal", False):
            check.fail(where, f"{row['from']!r} is terminal: nothing may leave it")
        for procedure in row["procedures"]:
            key = (row["from"], row["action"], procedure)
            if key in seen:
                check.fail(
                    where,
                    f"{row['action']!r} from {row['from']!r} in {procedure} is already "
                    f"defined at line {seen[key]}",
                )
            seen[key] = check.line_of("transition", i)
        target = states.get(row["to"], {})
        rules.append(
            Rule(
                row["from"],
                row["action"],
                row["to"],
                tuple(row["roles"]),
                tuple(row["procedures"]),
                tuple(row.get("guards", [])),
                tuple(row.get("documents", [])),
                row.get("step", target.get("step", 0)),
                check.line_of("transition", i),
            )
        )
    # From every row, even one refused above: one mistake is reported once.
    used = {row.get("action") for row in rows if isinstance(row, dict)}
    for i, action in enumerate(actions):
        if action not in used:
            check.fail(check.where("action", i), f"action {action!r} is used by no transition")
    if check.problems:
        raise ProcessDefinitionError(source, check.problems)
    return Process(
        start=str(start),
        roles={k: Named(k, v["zh"], v["en"]) for k, v in roles.items()},
        procedures={k: Named(k, v["zh"], v["en"]) for k, v in procedures.items()},
        documents=tuple(documents),
        states={
            k: State(k, v["zh"], v["en"], v["step"], v.get("terminal", False))
            for k, v in states.items()
        },
        actions={k: Action(k, v["zh"], v["en"]) for k, v in actions.items()},
        rules=tuple(rules),
    )


def load(path: Path) -> Process:
    return parse(path.read_text(encoding="utf-8"), path.name)


@functools.cache
def default_process() -> Process:
    """The service's table, loaded and checked once, on first use."""
    return load(DEFINITION)


def available(state: str, role: str, procedure: str, facts: CaseFacts) -> list[Option]:
    """:meth:`Process.available` on the service's table."""
    return default_process().available(state, role, procedure, facts)


def take(state: str, action: str, role: str, procedure: str, facts: CaseFacts) -> Transition:
    """:meth:`Process.take` on the service's table."""
    return default_process().take(state, action, role, procedure, facts)
