"""Reading a register file (CSV or XLSX) into checked rows, streaming.

A register file comes from another system or from a spreadsheet someone kept by hand, so a
bad row must not stop the import: every row is checked on its own and a bad one is reported
by its line and field (``line 7: credit_code: ... fails its check character``) while the rest
are imported. Only a file that cannot be read at all (missing, not CSV/XLSX, no header, a
required column missing) is an error (:class:`RegisterFileError`)."""

from __future__ import annotations

import codecs
import csv
import functools
import io
import tomllib
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from certs.subjects import SubjectError, check_credit_code
from workflow.register.errors import RegisterFileError, RulesError
from workflow.register.urls import shop_key

__all__ = ["COLUMNS_FILE", "Problem", "RowIn", "read_rows"]

COLUMNS_FILE = Path(__file__).with_name("columns.toml")
_LIMITS = {"name": 200, "legal_representative": 100, "platform": 100, "shop_id": 100}
#: How many bytes of a CSV file decide its encoding (UTF-8, else GB 18030 as Excel saves it).
_SNIFF = 1 << 16


@dataclass(frozen=True)
class Problem:
    """A bad row: its line in the file (the header is line 1), the field, what is wrong."""

    line: int
    field: str
    problem: str
    #: What kind of problem (``empty``, ``too_long``, ``invalid``, ``differs``), for the UI's words.
    code: str = "invalid"

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


@dataclass(frozen=True)
class RowIn:
    """One checked row: an entry and, if the row names one, its shop."""

    line: int
    name: str
    credit_code: str
    legal_representative: str | None
    address: str | None
    licences: tuple[str, ...]
    shop_url: str | None = None
    url_key: str | None = None
    platform: str | None = None
    shop_id: str | None = None


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    needs_value: tuple[str, ...]
    separators: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)  # header key -> field


def _header_key(text: Any) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).lower()


@functools.cache
def columns() -> Columns:
    try:
        data = tomllib.loads(COLUMNS_FILE.read_text(encoding="utf-8"))
        aliases = {_header_key(a): f for f, names in data["aliases"].items() for a in names}
        return Columns(
            tuple(data["required"]),
            tuple(data["needs_value"]),
            tuple(data["licence_separators"]),
            aliases,
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise RulesError(f"{COLUMNS_FILE.name} is wrong: {exc!r}") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def _map_header(header: list[Any], source: str) -> dict[int, str]:
    cols = columns()
    mapping: dict[int, str] = {}
    for i, text in enumerate(header):
        fld = cols.aliases.get(_header_key(text))
        if fld is not None and fld not in mapping.values():
            mapping[i] = fld
    missing = [f for f in cols.required if f not in mapping.values()]
    if missing:
        raise RegisterFileError(
            f"{source}: the header row (line 1) lacks the column(s) {', '.join(missing)}; "
            f"it has {', '.join(_cell(h) for h in header if _cell(h)) or 'nothing'}"
        )
    return mapping


def _split(value: str) -> tuple[str, ...]:
    parts = [value]
    for sep in columns().separators:
        parts = [p for part in parts for p in part.split(sep)]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def check_row(line: int, values: dict[str, str]) -> RowIn | list[Problem]:
    """One row's values (by field) checked: a :class:`RowIn`, or every problem it has."""
    problems = [
        Problem(line, f, "is empty; the register needs it", "empty")
        for f in columns().needs_value
        if not values.get(f)
    ]
    for f, limit in _LIMITS.items():
        if len(values.get(f, "")) > limit:
            problems.append(
                Problem(line, f, f"has {len(values[f])} characters, at most {limit}", "too_long")
            )
    code = values.get("credit_code", "")
    if code:
        try:
            code = check_credit_code(code)
        except SubjectError as exc:
            problems.append(Problem(line, "credit_code", str(exc)))
    key = None
    url = values.get("shop_url") or None
    if url:
        try:
            key = shop_key(url)
        except ValueError as exc:
            problems.append(Problem(line, "shop_url", str(exc)))
    if problems:
        return problems
    return RowIn(
        line=line,
        name=" ".join(values["name"].split()),
        credit_code=code,
        legal_representative=values.get("legal_representative") or None,
        address=values.get("address") or None,
        licences=_split(values.get("licences", "")),
        shop_url=url,
        url_key=key.key if key else None,
        platform=values.get("platform") or (key.platform if key else None),
        shop_id=values.get("shop_id") or (key.shop_id if key else None),
    )


def _rows(records: Iterator[tuple[int, list[Any]]], source: str) -> Iterator[RowIn | Problem]:
    first = next(records, None)
    if first is None:
        raise RegisterFileError(f"{source}: the file is empty; it needs a header row")
    mapping = _map_header(first[1], source)
    for line, record in records:
        cells = [_cell(v) for v in record]
        if not any(cells):
            continue
        values = {f: cells[i] if i < len(cells) else "" for i, f in mapping.items()}
        checked = check_row(line, values)
        if isinstance(checked, RowIn):
            yield checked
        else:
            yield from checked


def _csv_records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF)
    encoding = "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        encoding = "gb18030"
    sample = head.decode(encoding, errors="ignore")
    try:
        dialect: Any = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    with path.open(encoding=encoding, newline="", errors="strict") as text:
        reader = csv.reader(text, dialect)
        start = 1
        try:
            for record in reader:
                yield start, record
                start = reader.line_num + 1
        except (UnicodeDecodeError, csv.Error) as exc:
            raise RegisterFileError(
                f"{path.name}: cannot read line {start} ({exc}); save the file as UTF-8 CSV"
            ) from None


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    with path.open("rb") as fh:  # a file object: the name's suffix does not matter
        try:
            book = load_workbook(fh, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise RegisterFileError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
        try:
            sheet = book.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
                yield number, list(row)
        finally:
            book.close()


def read_rows(path: Path) -> Iterator[RowIn | Problem]:
    """The file's rows, checked, one at a time (a million-row file is never all in memory).
    The kind is told by the file's bytes (an XLSX is a ZIP), not only by its name."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except FileNotFoundError:
        raise RegisterFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise RegisterFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if magic.startswith(b"PK\x03\x04"):
        return _rows(_xlsx_records(path), path.name)
    if path.suffix.lower() in (".xls", ".xlsx", ".xlsm"):
        raise RegisterFileError(f"{path.name}: not an XLSX workbook; save it as .xlsx or CSV")
    return _rows(_csv_records(path), path.name)


def read_text_rows(text: str, source: str = "text") -> Iterator[RowIn | Problem]:
    """Rows from CSV text (tests, small pastes)."""
    reader = csv.reader(io.StringIO(text))

    def records() -> Iterator[tuple[int, list[Any]]]:
        start = 1
        for record in reader:
            yield start, record
            start = reader.line_num + 1

    return _rows(records(), source)
