"""Checks of a comparison report (比对报告): a PDF sealed like an evidence certificate, with
``comparison.json`` attached, citing two packages by SHA-256.

The PDF's own signature is checked as for any PDF (``pdf.signature``...). On top of that:

``comparison.content``   the attached comparison.json parses and cites two packages (A, B) by
                         SHA-256
``comparison.packages``  the packages given (``evidence verify REPORT --package A --package B``)
                         are exactly the ones cited: a given file whose SHA-256 the report does
                         not cite FAILS (HASH_FAILURE, naming the file and both cited hashes); a
                         cited package not given is INDETERMINATE SIGNED_DATA_NOT_FOUND. Not
                         counted when no package is given at all (the report alone is still a
                         signed statement; the check says how to complete it).
``comparison.package.a`` / ``.b``  each given package verified in full (the same checks as
                         ``evidence verify A.wacz``), its indication carried over
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from .model import Check, Report, Status, Sub, Text

__all__ = ["ATTACHMENT", "COMPARISON_TYPE", "CitedPackage", "comparison_checks"]

ATTACHMENT = "comparison.json"
COMPARISON_TYPE = "evidence-comparison"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 4 * 1024 * 1024
_TITLE = Text("比对报告内容", "Comparison report content")
_PACKAGES = Text("所引用的证据包", "Packages the report cites")


@dataclass(frozen=True)
class CitedPackage:
    """A package given with the report: its name and how to open it (a fresh stream each
    time; the caller's opener, closed by us)."""

    name: str
    open: Callable[[], BinaryIO]


#: Verifies one nested package: (stream, size, name) -> Report (the engine's verify_stream).
NestedVerify = Callable[[BinaryIO, int, str], Report]


def _hash(package: CitedPackage) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with package.open() as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _nested_check(letter: str, name: str, report: Report) -> Check:
    indication, sub, deciding = report.decided
    status = {
        "TOTAL-PASSED": Status.PASSED,
        "TOTAL-FAILED": Status.FAILED,
        "INDETERMINATE": Status.INDETERMINATE,
    }[indication.value]
    line = report.indication_line()
    if status is Status.PASSED:
        reason = Text(
            f"{name}：核验通过（{line}，{len(report.checks)} 项检查）。",
            f"{name}: {line} ({len(report.checks)} checks).",
        )
        sub = None
    elif deciding is not None:
        reason = Text(
            f"{name}：{line}——{deciding.title.zh}：{deciding.reason.zh}",
            f"{name}: {line} -- {deciding.title.en}: {deciding.reason.en}",
        )
    else:
        reason = Text(f"{name}：{line}。", f"{name}: {line}.")
    return Check(
        f"comparison.package.{letter.lower()}",
        Text(f"证据包 {letter} 的核验", f"Verification of package {letter}"),
        status,
        reason,
        sub,
        facts={"file": name, "verdict": report.verdict()},
    )


def comparison_checks(
    raw: bytes,
    packages: Sequence[CitedPackage],
    nested: NestedVerify,
) -> tuple[list[Check], dict[str, Any]]:
    """The checks of a report whose ``comparison.json`` is ``raw``."""
    try:
        facts = json.loads(raw)
    except ValueError:
        facts = None
    cited: dict[str, str] = {}
    if isinstance(facts, dict) and facts.get("type") == COMPARISON_TYPE:
        for letter in ("a", "b"):
            part = facts.get(letter)
            sha = part.get("sha256") if isinstance(part, dict) else None
            if isinstance(sha, str) and _HEX64.fullmatch(sha):
                cited[letter.upper()] = sha
    if len(cited) != 2 or not isinstance(facts, dict):
        return [
            Check(
                "comparison.content",
                _TITLE,
                Status.FAILED,
                Text(
                    "comparison.json 无效：它不是列明证据包 A 和 B 的 SHA-256 的比对报告。",
                    "comparison.json is invalid: it is not a comparison report naming the "
                    "SHA-256 of packages A and B.",
                ),
                Sub.FORMAT_FAILURE,
            )
        ], {}
    checks = [
        Check(
            "comparison.content",
            _TITLE,
            Status.PASSED,
            Text(
                f"比对报告引用证据包 A（sha256 {cited['A']}）与 B（sha256 {cited['B']}）。",
                f"The report compares package A (sha256 {cited['A']}) with package B "
                f"(sha256 {cited['B']}).",
            ),
            facts={"cited": cited},
        )
    ]
    out_facts: dict[str, Any] = {
        "comparison": {"cited": cited, "report_id": facts.get("report_id")}
    }
    if not packages:
        checks.append(
            Check(
                "comparison.packages",
                _PACKAGES,
                Status.INDETERMINATE,
                Text(
                    "未提供证据包：请用 --package A.wacz --package B.wacz 指定两份证据包，以核对"
                    "它们就是本报告所比对的证据包。",
                    "No package given: give both with --package A.wacz --package B.wacz to check "
                    "that they are the packages this report compares.",
                ),
                Sub.SIGNED_DATA_NOT_FOUND,
                counts=False,
            )
        )
        return checks, out_facts
    found: dict[str, CitedPackage] = {}
    wrong: list[tuple[str, str]] = []
    for package in packages:
        sha, _size = _hash(package)
        match = next((k for k, v in cited.items() if v == sha), None)
        if match is None:
            wrong.append((package.name, sha))
        else:
            found.setdefault(match, package)
    if wrong:
        names = "; ".join(f"{name} (sha256 {sha})" for name, sha in wrong)
        checks.append(
            Check(
                "comparison.packages",
                _PACKAGES,
                Status.FAILED,
                Text(
                    f"所提供的证据包不是本报告所比对的：{names}。报告引用的是 A（sha256 "
                    f"{cited['A']}）和 B（sha256 {cited['B']}）。",
                    f"A package given is not one this report compares: {names}. The report "
                    f"cites A (sha256 {cited['A']}) and B (sha256 {cited['B']}).",
                ),
                Sub.HASH_FAILURE,
                facts={"given": [{"file": n, "sha256": s} for n, s in wrong]},
            )
        )
    missing = [letter for letter in ("A", "B") if letter not in found]
    if missing and not wrong:
        which = ", ".join(f"{m}（sha256 {cited[m]}）" for m in missing)
        which_en = ", ".join(f"{m} (sha256 {cited[m]})" for m in missing)
        checks.append(
            Check(
                "comparison.packages",
                _PACKAGES,
                Status.INDETERMINATE,
                Text(
                    f"缺少报告所引用的证据包 {which}：请用 --package 一并提供。",
                    f"The report's package {which_en} was not given: add it with --package.",
                ),
                Sub.SIGNED_DATA_NOT_FOUND,
            )
        )
    elif not missing and not wrong:
        checks.append(
            Check(
                "comparison.packages",
                _PACKAGES,
                Status.PASSED,
                Text(
                    f"所提供的证据包正是报告所比对的：A = {found['A'].name}，B = {found['B'].name}"
                    "（SHA-256 一致）。",
                    f"The packages given are the ones the report compares: A = {found['A'].name}, "
                    f"B = {found['B'].name} (SHA-256 match).",
                ),
            )
        )
    for letter in ("A", "B"):
        given = found.get(letter)
        if given is None:
            continue
        with given.open() as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(0)
            report = nested(fh, size, given.name)
        checks.append(_nested_check(letter, given.name, report))
    return checks, out_facts
