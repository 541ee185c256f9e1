"""Layout of the horizontal stacked bar charts that dashboards draw as inline SVG (no JavaScript)."""
from __future__ import annotations

from collections.abc import Sequence
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


def stacked_bar_chart(rows: Sequence[tuple[str, Sequence[int]] | tuple[str, Sequence[int], str]],
                      keys: Sequence[tuple[str, str]], *, maximum: int | None = None, unit: str = "",
                      width: int = 640, label_width: int = 170) -> Chart:
    """Lay out one bar per row, its values stacked in the order of `keys` ((css key, legend label))."""
    bar_height, gap, top = 18, 8, 6
    plot_width = width - label_width - 120  # room after the longest bar for its total or note
    top_value = maximum or max([sum(r[1]) for r in rows] + [1])
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
    ticks = [(round(label_width + plot_width * f, 1), f"{round(top_value * f)}{unit}") for f in (0, 0.5, 1)]
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
