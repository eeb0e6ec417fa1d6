"""The unit's figures as drawings: the geometry of server-side SVG charts (a line for the
months, bars, stacked bars for shares), rendered by ``templates/_stats_charts.html``.

Drawn on the server so that the dashboard works without a JavaScript framework and prints as
it looks. Like the deadline chart of the case page (``case_views.deadline_chart``) the
numbers are computed here and the template only places them. No meaning is carried by colour
alone: every bar and point has its number written beside it, the two lines differ in dash and
marker shape, the stacked segments in fill pattern, and each chart has a legend in words and
a table of the same figures under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Bar",
    "BarChart",
    "LineChart",
    "LinePoint",
    "LineSeries",
    "Segment",
    "StackChart",
    "StackRow",
    "bar_chart",
    "fit",
    "line_chart",
    "nice_max",
    "stack_chart",
]

WIDTH = 960


def nice_max(value: float) -> int:
    """The axis end above ``value``: 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    """Counts as they are, averages and shares with their one decimal (as in the tables)."""
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _text_width(text: str, size: float = 14) -> float:
    """About how wide ``text`` is drawn: CJK characters are square, others about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.58 for ch in text)


def fit(text: str, width: float, size: float = 14) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels (the table has it whole)."""
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


# -- horizontal bars ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: float
    #: the value is not known (e.g. no case in the step): no bar, a dash
    empty: bool = False


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    x0: int
    bars: list[Bar]
    desc: str


_BAR_ROW, _BAR_TOP, _LABEL_W = 34, 12, 300


def bar_chart(items: Sequence[tuple[str, int | float | None]], unit: str = "") -> BarChart | None:
    """One bar per (label, value); None when there is nothing to draw."""
    if not items:
        return None
    top = nice_max(max((v or 0) for _, v in items))
    room = WIDTH - _LABEL_W - 90
    bars = []
    for i, (label, value) in enumerate(items):
        text = "—" if value is None else f"{_number(value)}{unit}"
        bars.append(
            Bar(
                label=fit(label, _LABEL_W - 16),
                value_text=text,
                y=_BAR_TOP + i * _BAR_ROW,
                width=round(room * (value or 0) / top, 1),
                empty=value is None,
            )
        )
    desc = "; ".join(f"{b.label}: {b.value_text}" for b in bars)
    return BarChart(WIDTH, _BAR_TOP + len(bars) * _BAR_ROW + 8, _LABEL_W, bars, desc)


# -- stacked bars (shares) -------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    kind: str  # css class and pattern: the legend names it
    label: str
    value: int
    x: float
    width: float
    #: the count is written inside when the segment is wide enough, else only in the table
    show_text: bool


@dataclass(frozen=True)
class StackRow:
    label: str
    y: int
    segments: list[Segment]
    total_text: str


@dataclass(frozen=True)
class StackChart:
    id: str  # prefix of the fill patterns' ids (unique on the page)
    width: int
    height: int
    x0: int
    x1: int
    legend: list[tuple[str, str, float]]  # (kind, label, x)
    rows: list[StackRow]
    desc: str


_STACK_ROW, _STACK_TOP = 40, 44


def stack_chart(
    chart_id: str,
    kinds: Sequence[tuple[str, str]],
    rows: Sequence[tuple[str, Sequence[int], str]],
) -> StackChart | None:
    """One full-width bar per row, split in the shares of ``kinds`` ((kind, label) each);
    ``rows`` are (label, counts in the order of kinds, text after the bar)."""
    if not rows:
        return None
    x0, x1 = _LABEL_W, WIDTH - 130
    out = []
    for i, (label, counts, total_text) in enumerate(rows):
        total = sum(counts)
        x = float(x0)
        segments = []
        for (kind, kind_label), n in zip(kinds, counts, strict=True):
            w = round((x1 - x0) * n / total, 1) if total else 0.0
            segments.append(Segment(kind, kind_label, n, round(x, 1), w, n > 0 and w >= 28))
            x += w
        out.append(StackRow(fit(label, x0 - 16), _STACK_TOP + i * _STACK_ROW, segments, total_text))
    desc = "; ".join(
        f"{r.label}: "
        + ", ".join(f"{s.label} {s.value}" for s in r.segments)
        + f" ({r.total_text})"
        for r in out
    )
    legend, lx = [], float(x0)
    for kind, kind_label in kinds:
        legend.append((kind, kind_label, round(lx, 1)))
        lx += 24 + _text_width(kind_label, 13) + 28
    return StackChart(
        chart_id, WIDTH, _STACK_TOP + len(out) * _STACK_ROW + 4, x0, x1, legend, out, desc
    )


# -- a line per series over the months -------------------------------------------------------


@dataclass(frozen=True)
class LinePoint:
    x: float
    y: float
    value: int


@dataclass(frozen=True)
class LineSeries:
    key: str  # css class: dash and marker shape
    label: str
    points: list[LinePoint]

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(self.points))


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    x0: int
    x1: int
    y0: int  # the baseline (value 0)
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    series: list[LineSeries]
    desc: str
    #: write each point's value beside it (off when the months are too many to read)
    point_labels: bool


def line_chart(
    labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]]
) -> LineChart:
    """``series``: (key, label, one value per label)."""
    x0, x1, top, y0 = 56, WIDTH - 24, 30, 250
    top_value = nice_max(max((v for _, _, values in series for v in values), default=0))
    n = len(labels)

    def x(i: int) -> float:
        return round(x0 + (x1 - x0) * (i + 0.5) / n, 1)

    def y(v: float) -> float:
        return round(y0 - (y0 - top) * v / top_value, 1)

    quarters = [top_value * k / 4 for k in range(5)]
    ticks = [(y(v), str(int(v)) if v == int(v) else f"{v:g}") for v in quarters]
    every = max(1, (n + 11) // 12)  # at most about twelve month labels
    x_labels = [(x(i), label) for i, label in enumerate(labels) if i % every == 0]
    drawn = [
        LineSeries(key, label, [LinePoint(x(i), y(v), v) for i, v in enumerate(values)])
        for key, label, values in series
    ]
    desc = "; ".join(
        f"{m}: " + ", ".join(f"{s.label} {s.points[i].value}" for s in drawn)
        for i, m in enumerate(labels)
    )
    return LineChart(WIDTH, y0 + 40, x0, x1, y0, ticks, x_labels, drawn, desc, n <= 18)
