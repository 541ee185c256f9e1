"""Layout of the horizontal stacked bar charts that dashboards draw as inline SVG (no JavaScript)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    total: int
    segments: list[Segment]
    note: str = ""
    text_y: float = 0.0  # baseline of the bar's label and total
    end_x: float = 0.0  # where the total is written, just after the bar


@dataclass(frozen=True)
class Chart:
    """A horizontal stacked bar chart laid out for an inline SVG (imaging/_qc_chart.html)."""

    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int
    bars: list[Bar]
    legend: list[tuple[str, str]]
    ticks: list[tuple[float, str]] = field(default_factory=list)
    axis_y: float = 0.0  # bottom of the tick lines; their labels sit below it

    @property
    def label_x(self) -> int:
        return self.label_width - 6


LABEL_CHAR_WIDTH = 7.2  # px per character of a bar label (13 px sans-serif, a little generous)


def _integer_ticks(top: int) -> tuple[int, list[int]]:
    """Distinct whole-number ticks from 0 and the axis end they imply (at least `top`, on a tick)."""
    top = max(top, 1)
    magnitude = 1
    while True:  # the smallest of 1, 2, 5, 10, 20, 50... that needs at most four steps (five ticks)
        step = next((m * magnitude for m in (1, 2, 5) if -(-top // (m * magnitude)) <= 4), 0)
        if step:
            break
        magnitude *= 10
    end = -(-top // step) * step
    return end, list(range(0, end + 1, step))


def stacked_bar_chart(rows: Sequence[tuple[str, Sequence[int]] | tuple[str, Sequence[int], str]],
                      keys: Sequence[tuple[str, str]], *, maximum: int | None = None, unit: str = "",
                      width: int = 640, label_width: int = 170) -> Chart:
    """Lay out one bar per row, its values stacked in the order of `keys` ((css key, legend label)).

    The label column widens to the longest label (never clipped), and the chart with it; the
    axis has distinct whole-number ticks ending at or above the longest bar.
    """
    bar_height, gap, top = 18, 8, 6
    longest = max([len(r[0]) for r in rows] + [0])
    label_width = max(label_width, round(longest * LABEL_CHAR_WIDTH) + 12)
    plot_width = width - 170 - 120  # room after the longest bar for its total or note
    width = label_width + plot_width + 120
    if maximum:
        top_value = maximum
        ticks_at = [0, maximum // 2, maximum] if maximum % 2 == 0 else [0, maximum]
    else:
        top_value, ticks_at = _integer_ticks(max([sum(r[1]) for r in rows] + [1]))
    bars = []
    for index, row in enumerate(rows):
        label, values = row[0], row[1]
        note = row[2] if len(row) > 2 else ""
        x, segments = float(label_width), []
        for (key, name), value in zip(keys, values, strict=True):
            w = plot_width * value / top_value if top_value else 0.0
            if value:
                segments.append(Segment(key, name, value, round(x, 1), round(w, 1)))
            x += w
        y = top + index * (bar_height + gap)
        bars.append(Bar(label, y, sum(values), segments, note, text_y=y + 13, end_x=round(x + 4, 1)))
    ticks = [(round(label_width + plot_width * v / top_value, 1), f"{v}{unit}") for v in ticks_at]
    axis_y = top + max(len(rows), 1) * (bar_height + gap)
    return Chart(width, axis_y + 14, label_width, plot_width, bar_height, bars, list(keys), ticks, axis_y)


@dataclass(frozen=True)
class ControlPoint:
    label: str
    value: float  # 0..1
    lower: float
    upper: float
    out_of_control: bool
    x: float
    y: float
    lower_y: float
    upper_y: float
    text: str  # what the point says in words (its <title> and the screen-reader list)


@dataclass(frozen=True)
class ControlChart:
    """A p-chart laid out for an inline SVG (reads/_p_chart.html): points joined by a line, the
    centre line, and each point's upper and lower control limits drawn as steps."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    centre_y: float | None
    points: list[ControlPoint]
    line: str  # polyline points of the series
    upper_line: str
    lower_line: str
    ticks: list[tuple[float, str]]

    @property
    def label_y(self) -> int:
        return self.bottom + 14


def control_chart(points: Sequence[tuple[str, float, float, float, bool]], centre: float | None, *,
                  width: int = 640, height: int = 200) -> ControlChart:
    """Lay out (label, p, lower limit, upper limit, out of control) points, all shares of 1, on a 0–100 % axis."""
    left, right, top, bottom = 44, width - 12, 8, height - 22

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * max(0.0, min(1.0, value)), 1)

    step = (right - left) / max(len(points), 1)
    laid: list[ControlPoint] = []
    upper: list[str] = []
    lower: list[str] = []
    for index, (label, p, lo, hi, out) in enumerate(points):
        x = round(left + step * (index + 0.5), 1)
        x0, x1 = round(left + step * index, 1), round(left + step * (index + 1), 1)
        upper += [f"{x0},{y(hi)}", f"{x1},{y(hi)}"]
        lower += [f"{x0},{y(lo)}", f"{x1},{y(lo)}"]
        text = (f"{label}: {p * 100:.1f} % (limits {lo * 100:.1f}–{hi * 100:.1f} %)"
                + (", out of control" if out else ""))
        laid.append(ControlPoint(label, p, lo, hi, out, x, y(p), y(lo), y(hi), text))
    ticks = [(y(f), f"{round(f * 100)} %") for f in (0, 0.5, 1)]
    return ControlChart(width, height, left, right, top, bottom, None if centre is None else y(centre), laid,
                        " ".join(f"{p.x},{p.y}" for p in laid), " ".join(upper), " ".join(lower), ticks)


# --- line and bar charts on numeric axes (sponsor dashboard) ------------------------------------------

@dataclass(frozen=True)
class Point:
    x: float
    y: float
    text: str  # what the point says in words (its <title>)


@dataclass(frozen=True)
class Series:
    key: str  # css key of its colour
    label: str
    line: str  # polyline points
    points: list[Point]


@dataclass(frozen=True)
class PlotBar:
    key: str
    label: str
    x: float
    y: float
    width: float
    height: float
    text: str


@dataclass(frozen=True)
class Plot:
    """Series (lines) and/or vertical bars laid out on numeric axes for an inline SVG (reads/_plot.html)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: list[Series] = field(default_factory=list)
    bars: list[PlotBar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    references: list[tuple[float, str]] = field(default_factory=list)  # horizontal reference lines (y, label)
    zero_y: float | None = None
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def label_y(self) -> int:
        return self.bottom + 14

    @property
    def y_label_x(self) -> int:
        return self.left - 4


def _axis(lo: float, hi: float, top: int, bottom: int) -> Callable[[float], float]:
    span = (hi - lo) or 1.0

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * (max(lo, min(hi, value)) - lo) / span, 1)

    return y


def _tick_step(span: float) -> float:
    return next((s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if span / s <= 6), 1000 * (span // 6000 + 1))


def _nice_ticks(lo: float, hi: float, unit: str) -> list[tuple[float, str]]:
    step = _tick_step(hi - lo)
    first = -(-lo // step) * step
    out: list[tuple[float, str]] = []
    value = first
    while value <= hi:
        out.append((value, f"{value:g}{unit}"))
        value += step
    return out


def trend_chart(categories: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], *,
                width: int = 640, height: int = 200) -> Plot:
    """Lines over categories (e.g. months): series are (css key, label, one count per category)."""
    left, right, top, bottom = 44, width - 12, 8, height - 22
    top_value: float = max([v for _k, _l, values in series for v in values] + [1])
    step_value = _tick_step(top_value)
    top_value = -(-top_value // step_value) * step_value  # up to a whole tick: the highest point is under one
    y = _axis(0, top_value, top, bottom)
    step = (right - left) / max(len(categories), 1)
    xs = [round(left + step * (i + 0.5), 1) for i in range(len(categories))]
    laid = []
    for key, label, values in series:
        points = [Point(x, y(v), f"{label}, {c}: {v}") for x, c, v in zip(xs, categories, values, strict=True)]
        laid.append(Series(key, label, " ".join(f"{p.x},{p.y}" for p in points), points))
    every = max(1, -(-len(categories) // 8))  # at most about 8 labels under the axis
    x_ticks = [(x, c) for i, (x, c) in enumerate(zip(xs, categories, strict=True)) if i % every == 0]
    y_ticks = [(y(v), label) for v, label in _nice_ticks(0, top_value, "")]
    return Plot(width, height, left, right, top, bottom, series=laid, y_ticks=y_ticks, x_ticks=x_ticks,
                legend=[(k, label) for k, label, _v in series])


def _pct_range(values: Sequence[float], references: Sequence[float]) -> tuple[float, float]:
    lo = min([*values, *references, 0.0])
    hi = max([*values, *references, 0.0])
    return float(10 * ((lo - 10) // 10)), float(10 * -((-hi - 10) // 10))


def waterfall_chart(bars: Sequence[tuple[str, str, float]], *, references: Sequence[float] = (-30.0, 20.0),
                    legend: Sequence[tuple[str, str]] = (), width: int = 640, height: int = 240) -> Plot:
    """One vertical bar per (css key, label, % change) in the given order, from 0 %, with reference lines."""
    left, right, top, bottom = 48, width - 12, 8, height - 22
    lo, hi = _pct_range([v for _k, _l, v in bars], references)
    y = _axis(lo, hi, top, bottom)
    step = min((right - left) / max(len(bars), 1), 48.0)  # a few subjects do not make slabs
    gap = min(4.0, step / 4)
    laid = []
    for i, (key, label, value) in enumerate(bars):
        y0, y1 = y(0), y(value)
        laid.append(PlotBar(key, label, round(left + step * i + gap / 2, 1), min(y0, y1), round(step - gap, 1),
                            round(max(abs(y1 - y0), 1.0), 1), f"{label}: {value:+.1f} %"))
    return Plot(width, height, left, right, top, bottom, bars=laid,
                y_ticks=[(y(v), label) for v, label in _nice_ticks(lo, hi, " %")],
                references=[(y(r), f"{r:+g} %") for r in references], zero_y=y(0), legend=list(legend))


def spider_chart(series: Sequence[tuple[str, str, Sequence[tuple[float, float]]]], *,
                 references: Sequence[float] = (-30.0, 20.0), legend: Sequence[tuple[str, str]] = (),
                 x_unit: str = "", width: int = 640, height: int = 260) -> Plot:
    """Lines of (x, % change) points per (css key, label, points), on a numeric x axis from 0."""
    left, right, top, bottom = 48, width - 12, 8, height - 22
    lo, hi = _pct_range([p for _k, _l, pts in series for _x, p in pts], references)
    y = _axis(lo, hi, top, bottom)
    x_max = max([x for _k, _l, pts in series for x, _p in pts] + [1.0])

    def x(value: float) -> float:
        return round(left + (right - left) * value / x_max, 1)

    laid = []
    for key, label, pts in series:
        points = [Point(x(a), y(b), f"{label}, {a:g}{x_unit}: {b:+.1f} %") for a, b in pts]
        laid.append(Series(key, label, " ".join(f"{p.x},{p.y}" for p in points), points))
    return Plot(width, height, left, right, top, bottom, series=laid,
                y_ticks=[(y(v), label) for v, label in _nice_ticks(lo, hi, " %")],
                x_ticks=[(x(v), label) for v, label in _nice_ticks(0, x_max, x_unit)],
                references=[(y(r), f"{r:+g} %") for r in references], zero_y=y(0), legend=list(legend))
